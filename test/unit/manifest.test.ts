/** Role choices remembered in cornernet.json settle the next run (CLI and extension alike). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { manifestFolder, rememberRoles } from '../../src/cornernet/inputs/manifest';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { RoleResolutionError } from '../../src/cornernet/model/errors';
import { FIXTURES } from './helpers';

describe('cornernet.json', () => {
  it('remembered choices resolve an ambiguity and keep what the file had', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'cn-manifest-'));
    try {
      cpSync(path.join(FIXTURES, 'p01_basic'), d, { recursive: true });
      copyFileSync(path.join(d, 'tl_heat.npy'), path.join(d, 'tl_hm.npy'));
      await assert.rejects(computeLossFromFiles({ paths: [d] }), RoleResolutionError);
      writeFileSync(path.join(d, 'cornernet.json'), JSON.stringify({ weights: { pull: 0.1 } }));
      assert.equal(await manifestFolder({ paths: [d] }), d);
      assert.equal(await manifestFolder({ paths: [path.join(d, 'tl_hm.npy'), path.join(d, 'br_heat.npy')] }), d);
      assert.equal(await manifestFolder({ paths: [d, FIXTURES] }), undefined);
      const file = await rememberRoles(d, [{ name: 'tl_heat', path: path.join(d, 'tl_hm.npy') }]);
      const json = JSON.parse(readFileSync(file, 'utf8'));
      assert.deepEqual(json, { weights: { pull: 0.1 }, roles: { tl_heat: 'tl_hm.npy' } });
      const r = await computeLossFromFiles({ paths: [d] });
      const tl = r.inputs.roles.find((u) => u.role === 'tl_heat')!;
      assert.equal(path.basename(tl.file), 'tl_hm.npy');
      assert.equal(tl.origin, 'manifest');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('npz members are written as file:key', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'cn-manifest-'));
    try {
      const file = await rememberRoles(d, [{ name: 'gt_mask', path: path.join(d, 'sub', 't.npz'), key: 'arr_2' }]);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).roles, { gt_mask: 'sub/t.npz:arr_2' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
