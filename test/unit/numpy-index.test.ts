/**
 * "Copy numpy index": the expression, evaluated by Python's numpy on the fixture files, reads the
 * same value as the panel's pixel (the report's role, its stack position in a stacked array, the
 * npz member by key, a path with quotes).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossWithInputs } from '../../src/cornernet/run';
import { numpyIndex } from '../../src/cornernet/views/numpyIndex';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { FIXTURES } from './helpers';

function python(expr: string): number {
  const out = execFileSync('python3', ['-c', `import numpy as np\nprint(repr(float(${expr})))`], { encoding: 'utf8' });
  return Number(out.trim());
}

async function check(inputs: string, role: string, stack: number, image: number, cls: number, y: number, x: number): Promise<string> {
  const { report } = await computeLossWithInputs({ paths: [inputs] });
  const u = report.inputs.roles.find((r) => r.role === role && r.purpose === 'loss' && (r.stacks.includes(stack) || !r.stacks.length));
  assert.ok(u, `${role} stack ${stack} in the report`);
  const expr = numpyIndex(u, stack, image, cls, y, x);
  const t = await readTensorFile(u.file, u.key);
  const [B, C, H, W] = t.shape.slice(-4) as [number, number, number, number];
  const s = t.shape.length === 5 ? u.stacks.indexOf(stack) : 0;
  const want = Number(t.data[(((s * B + image) * C + cls) * H + y) * W + x]);
  assert.equal(python(expr), want, expr);
  return expr;
}

describe('numpy index of a heatmap pixel', () => {
  it('a stacked .npy: the stack index comes first', async () => {
    const expr = await check(path.join(FIXTURES, 'p02_two_stacks'), 'tl_heat', 1, 1, 0, 3, 5);
    assert.match(expr, /^np\.load\('.*tl_heat\.npy'\)\[1, 1, 0, 3, 5\]$/);
  });

  it('the target of an npz case, by its member key', async () => {
    const expr = await check(path.join(FIXTURES, 'p02_two_stacks.npz'), 'gt_br_heat', 0, 0, 1, 2, 4);
    assert.match(expr, /\['gt_br_heat'\]\[0, 1, 2, 4\]$/);
  });

  it('quotes in the path stay a valid Python string', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "it's \\ here-"));
    fs.cpSync(path.join(FIXTURES, 'p01_basic'), dir, { recursive: true });
    await check(dir, 'br_heat', 0, 0, 0, 1, 1);
  });
});
