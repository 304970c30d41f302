/**
 * Every number of every fixture (values computed by the original CornerNet code), from every
 * input form: the folder as it is (gathered values + maps checked), maps + indices only, gathered
 * values only, an .npz, AELoss-positional .npz files; float32 semantics against the `float32`
 * block, float64 inputs against the `float64` block, exact arithmetic against the `exact` block.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, copyFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { discoverInputs } from '../../src/cornernet/inputs/discover';
import { resolveRoles } from '../../src/cornernet/inputs/resolve';
import { loadInputs } from '../../src/cornernet/inputs/load';
import { computeLoss } from '../../src/cornernet/loss/cornernet';
import type { LossInputs } from '../../src/cornernet/model/batch';
import type { LossReport } from '../../src/cornernet/model/report';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { encodeNpz } from '../../src/tensor/npz';
import type { Tensor } from '../../src/tensor/tensor';
import { FIXTURES, assertClose, fixtureCases, float32Floor, readExpected } from './helpers';

const TERMS = ['focal', 'pull', 'push', 'regr'] as const;
const STACK_TERMS: [string, keyof LossReport['perStack'][number]][] = [
  ['focal_tl', 'focalTl'],
  ['focal_br', 'focalBr'],
  ['focal', 'focal'],
  ['pull', 'pull'],
  ['push', 'push'],
  ['regr_tl', 'regrTl'],
  ['regr_br', 'regrBr'],
  ['regr', 'regr'],
];

type Block = 'float32' | 'float64' | 'exact';

function checkBlock(r: LossReport, exp: any, block: Block, label: string): void {
  const b = exp[block];
  const rtol = block === 'float32' ? 1e-5 : 1e-9;
  const floor = (t: string) => (block === 'float32' ? float32Floor(t) : 1e-12);
  assertClose(r.total, b.total, rtol, floor('total'), `${label} total`);
  // The same value by every route the fixture records (AELoss.forward, the sum of the terms,
  // CornerNet-Lite's CornerNet_Loss); AELoss.forward is null where the original raises.
  for (const k of ['total_from_terms', 'aeloss_forward', 'lite_cornernet_loss']) {
    if (typeof b[k] === 'number') assertClose(r.total, b[k], rtol, floor('total'), `${label} ${k}`);
  }
  for (const t of TERMS) {
    assertClose(r.unweighted[t], b.unweighted[t], rtol, floor(t), `${label} unweighted.${t}`);
    assertClose(r.weighted[t], b.weighted[t], rtol, floor(t), `${label} weighted.${t}`);
    assertClose(r.contribution[t], b.contribution[t], rtol, floor(t), `${label} contribution.${t}`);
  }
  assert.equal(r.perStack.length, b.per_stack.length, `${label} stacks`);
  b.per_stack.forEach((s: any, i: number) => {
    for (const [k, ours] of STACK_TERMS) {
      assertClose(r.perStack[i]![ours] as number, s[k], rtol, floor(k), `${label} per_stack[${i}].${k}`);
    }
  });
}

function checkCommon(r: LossReport, exp: any, label: string): void {
  assert.deepEqual(r.weights, exp.weights, `${label} weights`);
  assert.equal(r.nstack, exp.sizes.nstack);
  assert.deepEqual(r.sizes, {
    batch: exp.sizes.batch,
    classes: exp.sizes.classes,
    height: exp.sizes.height,
    width: exp.sizes.width,
    maxObjects: exp.sizes.max_objects,
  });
  assert.deepEqual(r.perImage.map((i) => i.objects), exp.objects_per_image, `${label} objects per image`);
  assert.deepEqual(r.numPositives, exp.num_positives, `${label} positives`);
  // Shapes and dtypes of the arrays the fixture describes, as the roles report them.
  for (const u of r.inputs.roles) {
    const stem = (u.key ?? u.file.split('/').pop()!).replace(/\.npy$/, '');
    const a = exp.arrays[stem];
    if (!a) continue;
    assert.deepEqual(u.shape, a.shape, `${label} ${stem} shape`);
    assert.equal(u.dtype, a.dtype, `${label} ${stem} dtype`);
  }
  if (exp.float32.aeloss_error) {
    assert.ok(r.warnings.some((w) => w.code === 'batch-size-one' || w.code === 'single-slot'), `${label}: the original raises, a warning says so`);
  }
  // The parts add up to the whole.
  const sumContrib = TERMS.reduce((a, t) => a + r.contribution[t]!, 0);
  assertClose(sumContrib, r.total!, 1e-12, 1e-12, `${label} contributions sum to total`);
  const sumStacks = r.perStack.reduce((a, s) => a + s.total!, 0);
  assertClose(sumStacks, r.total!, 1e-12, 1e-12, `${label} stack shares sum to total`);
  const sumImages = r.perImage.reduce((a, s) => a + s.total!, 0);
  assertClose(sumImages, r.total!, 1e-9, 1e-12, `${label} image shares sum to total`);
}

/** Per-image pull/push of the last stack, from the fixture's float64 re-implementation. */
function checkPerImage(r: LossReport, exp: any, rtol: number, floor: number, label: string): void {
  const last = r.perStack[r.perStack.length - 1]!;
  exp.per_image_last_stack_torch64.forEach((img: any, b: number) => {
    assertClose(last.images[b]!.pull, img.pull, rtol, floor, `${label} image ${b} pull`);
    assertClose(last.images[b]!.push, img.push, rtol, Math.max(floor, rtol === 1e-9 ? 1e-12 : 2e-5), `${label} image ${b} push`);
  });
}

async function reportWithWeights(paths: string[], exp: any, extra: { roles?: any[] } = {}): Promise<LossReport> {
  return computeLossFromFiles({ paths, roles: extra.roles }, { weights: exp.weights });
}

/** The same inputs in float64: what the original computes on float64 tensors. */
function toFloat64Inputs(i: LossInputs): LossInputs {
  const f64 = (a: Float32Array | Float64Array) => Float64Array.from(a);
  return {
    ...i,
    heat: {
      tl: i.heat.tl.map((h) => ({ logits: f64(h.logits), dtype: 'float64' })),
      br: i.heat.br.map((h) => ({ logits: f64(h.logits), dtype: 'float64' })),
    },
    gtHeat: { tl: f64(i.gtHeat.tl), br: f64(i.gtHeat.br) },
  };
}

async function loadFixture(dir: string) {
  const d = await discoverInputs({ paths: [dir] });
  const res = resolveRoles(d.candidates, d.arrays);
  assert.deepEqual(res.problems, []);
  return loadInputs(res);
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-fixtures-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function subsetFolder(name: string, caseDir: string, keep: (file: string) => boolean): string {
  const dir = path.join(tmp, `${path.basename(caseDir)}-${name}`);
  if (!existsSync(dir)) {
    require('node:fs').mkdirSync(dir);
    for (const f of readdirSync(caseDir)) if (f.endsWith('.npy') && keep(f)) copyFileSync(path.join(caseDir, f), path.join(dir, f));
  }
  return dir;
}

const GATHERED = /^(tl|br)_(tag|regr)\.npy$/;
const MAPS = /_map\.npy$/;
const INDS = /_ind\.npy$/;

for (const name of fixtureCases()) {
  describe(`fixture ${name}`, () => {
    const dir = path.join(FIXTURES, name);
    const exp = readExpected(name);

    it('folder as given (gathered values used, maps checked): float32 block', async () => {
      const r = await reportWithWeights([dir], exp);
      checkCommon(r, exp, 'folder');
      checkBlock(r, exp, 'float32', 'folder');
      checkPerImage(r, exp, 1e-5, 1e-6, 'folder');
      assert.ok(!r.warnings.some((w) => w.code === 'gather-mismatch'), 'fixture maps agree with gathered values');
      const checked = r.inputs.roles.filter((u) => u.purpose === 'check').map((u) => u.role).sort();
      assert.deepEqual(checked, ['br_ind', 'br_regr', 'br_tag', 'tl_ind', 'tl_regr', 'tl_tag'].sort());
    });

    it('maps + indices only: float32 block', async () => {
      const sub = subsetFolder('maps', dir, (f) => !GATHERED.test(f));
      const r = await reportWithWeights([sub], exp);
      assert.ok(r.inputs.roles.filter((u) => /^(tl|br)_(tag|regr)$/.test(u.role)).every((u) => u.form === 'map'));
      checkCommon(r, exp, 'maps');
      checkBlock(r, exp, 'float32', 'maps');
    });

    it('gathered values only (no maps, no indices): float32 block', async () => {
      const sub = subsetFolder('gathered', dir, (f) => !MAPS.test(f) && !INDS.test(f));
      const r = await reportWithWeights([sub], exp);
      assert.ok(r.inputs.roles.filter((u) => /^(tl|br)_(tag|regr)$/.test(u.role)).every((u) => u.form === 'gathered'));
      checkCommon(r, exp, 'gathered');
      checkBlock(r, exp, 'float32', 'gathered');
    });

    it('float64 inputs: float64 block (1e-9) and per-image values', async () => {
      const { inputs } = await loadFixture(dir);
      const r = computeLoss(toFloat64Inputs(inputs), { weights: exp.weights });
      assert.equal(r.precision, 'float64');
      checkBlock(r, exp, 'float64', 'float64');
      checkPerImage(r, exp, 1e-9, 1e-12, 'float64');
    });

    it('exact arithmetic on float64 inputs: exact block (1e-9)', async () => {
      const { inputs } = await loadFixture(dir);
      const r = computeLoss(toFloat64Inputs(inputs), { weights: exp.exact.weights, arithmetic: 'exact' });
      checkBlock(r, exp, 'exact', 'exact');
    });

    it('AELoss-positional npz files (np.savez(f, *outs), np.savez(f, *targets))', async () => {
      const read = (f: string) => readTensorFile(path.join(dir, `${f}.npy`));
      const S = exp.sizes.nstack;
      const stackSlice = (t: Tensor, s: number): Tensor => {
        const inner = t.shape.slice(1);
        const n = inner.reduce((a, b) => a * b, 1);
        return { dtype: t.dtype, shape: inner, size: n, data: (t.data as Float32Array).slice(s * n, (s + 1) * n) };
      };
      const outsRoles = ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr'];
      const outs: Tensor[] = [];
      const whole = await Promise.all(outsRoles.map(read));
      for (let s = 0; s < S; s++) for (const t of whole) outs.push(S === 1 ? t : stackSlice(t, s));
      const targets = await Promise.all(['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr'].map(read));
      const d = path.join(tmp, `${name}-aeloss`);
      require('node:fs').mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'outs.npz'), encodeNpz(outs.map((t, i) => ({ key: `arr_${i}`, tensor: t }))));
      writeFileSync(path.join(d, 'targets.npz'), encodeNpz(targets.map((t, i) => ({ key: `arr_${i}`, tensor: t })), { compress: true }));
      const r = await reportWithWeights([d], exp);
      checkBlock(r, exp, 'float32', 'aeloss npz');
      assert.ok(r.inputs.roles.every((u) => u.origin === 'position'));
    });

    it('CornerNet-Lite lists (six arrays of full maps with a stack axis) + 7 targets', async () => {
      const read = (f: string) => readTensorFile(path.join(dir, `${f}.npy`));
      const outs = await Promise.all(['tl_heat', 'br_heat', 'tl_tag_map', 'br_tag_map', 'tl_regr_map', 'br_regr_map'].map(read));
      const targets = await Promise.all(['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr', 'tl_ind', 'br_ind'].map(read));
      const d = path.join(tmp, `${name}-lite`);
      require('node:fs').mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'outs.npz'), encodeNpz(outs.map((t, i) => ({ key: `arr_${i}`, tensor: t }))));
      writeFileSync(path.join(d, 'targets.npz'), encodeNpz(targets.map((t, i) => ({ key: `arr_${i}`, tensor: t }))));
      const r = await reportWithWeights([d], exp);
      checkBlock(r, exp, 'float32', 'lite npz');
    });
  });
}

describe('p02_two_stacks.npz (np.savez of the folder, file stems as keys)', () => {
  it('matches the folder expected values', async () => {
    const exp = readExpected('p02_two_stacks');
    const r = await reportWithWeights([path.join(FIXTURES, 'p02_two_stacks.npz')], exp);
    checkCommon(r, exp, 'npz');
    checkBlock(r, exp, 'float32', 'npz');
    assert.ok(r.inputs.roles.every((u) => u.key !== undefined));
  });
});
