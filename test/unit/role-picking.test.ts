/**
 * Role picking (issue 15): a synthesized gt_mask ('all' = every slot valid, 'from-indices' = the
 * slots with a non-zero tl_ind or br_ind) gives exactly the numbers of the equivalent mask file and
 * says so in a warning; --mask and a manifest's "mask"; the picker's core: shape/dtype fit per
 * role (an index array is never a mask), roles filled from the files next to selected files, a
 * complete batch folder.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { encodeNpy, decodeNpy } from '../../src/tensor/npy';
import { synthesizeMask } from '../../src/cornernet/inputs/load';
import { choicesForRole, derivedMaskCount, isCompleteBatch, roleFit, settleState, siblingFills, withMask } from '../../src/cornernet/inputs/rolePicking';
import { rememberRoles } from '../../src/cornernet/inputs/manifest';
import { readManifest } from '../../src/cornernet/inputs/discover';
import type { ArrayRef } from '../../src/cornernet/model/arrays';
import type { DType } from '../../src/tensor/dtype';
import type { LossReport } from '../../src/cornernet/model/report';

const SAMPLE = path.join(process.cwd(), 'sample');
const P01 = path.join(process.cwd(), 'test', 'fixtures', 'cornernet', 'p01_basic');
const CLI = path.join(process.cwd(), 'dist', 'cli.js');
let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-roles-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of `src` without some files, with others written. */
function variant(name: string, src: string, drop: string[], write: Record<string, Uint8Array | string> = {}): string {
  const dir = path.join(tmp, name);
  cpSync(src, dir, { recursive: true });
  for (const f of drop) rmSync(path.join(dir, f), { force: true });
  for (const [f, data] of Object.entries(write)) writeFileSync(path.join(dir, f), data);
  return dir;
}

const load = (file: string) => decodeNpy(new Uint8Array(readFileSync(file)), file);

function sameNumbers(a: LossReport, b: LossReport): void {
  assert.equal(a.total, b.total, 'total');
  assert.deepEqual(a.unweighted, b.unweighted);
  assert.deepEqual(a.perStack, b.perStack);
  assert.deepEqual(a.perImage, b.perImage);
}

function ref(file: string, shape: number[], dtype: DType = 'float32'): ArrayRef {
  const size = shape.reduce((x, y) => x * y, 1);
  return { file, format: 'npy', header: { dtype, shape, size, fortranOrder: false, byteOrder: 'little', storedType: '<f4', dataBytes: size * 4, format: 'npy' } };
}

describe('synthesized gt_mask', () => {
  it("'all slots valid' equals an all-ones uint8 mask file, and is not the saved (padded) mask", async () => {
    const m = load(path.join(SAMPLE, 'gt_mask.npy'));
    const ones = encodeNpy({ dtype: 'uint8', shape: m.shape, data: new Uint8Array(m.size).fill(1) });
    const noMask = variant('nomask-all', SAMPLE, ['gt_mask.npy']);
    const withOnes = variant('ones', SAMPLE, [], { 'gt_mask.npy': ones });
    const synth = await computeLossFromFiles({ paths: [noMask], mask: 'all' });
    const file = await computeLossFromFiles({ paths: [withOnes] });
    sameNumbers(synth, file);
    const saved = await computeLossFromFiles({ paths: [SAMPLE] });
    assert.notEqual(synth.unweighted.pull, saved.unweighted.pull, 'padding slots count as objects');
    const w = synth.warnings.find((x) => x.code === 'synthetic-mask');
    assert.ok(w, 'a synthetic-mask warning');
    assert.match(w.message, /all 2×16 slots valid \(32 objects\)/);
    assert.ok(!file.warnings.some((x) => x.code === 'synthetic-mask'));
    assert.ok(!synth.inputs.roles.some((r) => r.role === 'gt_mask'), 'no file is reported as the mask');
  });

  it("'derive from the indices' equals a mask file of (tl_ind != 0) | (br_ind != 0)", async () => {
    const tl = load(path.join(SAMPLE, 'tl_ind.npy'));
    const br = load(path.join(SAMPLE, 'br_ind.npy'));
    const derived = new Uint8Array(tl.size);
    for (let i = 0; i < tl.size; i++) derived[i] = Number(tl.data[i]) !== 0 || Number(br.data[i]) !== 0 ? 1 : 0;
    // Make the mask differ from the sample's (one more object in image 0: slot 5 with indices),
    // so that the comparison is not the sample's mask by luck.
    const tlData = Array.from(tl.data as ArrayLike<bigint | number>, Number);
    tlData[5] = 0;
    const brData = Array.from(br.data as ArrayLike<bigint | number>, Number);
    brData[5] = 77;
    derived[5] = 1;
    const enc = (v: number[]) => encodeNpy({ dtype: 'int64', shape: tl.shape, data: BigInt64Array.from(v.map((x) => BigInt(x))) });
    const noMask = variant('nomask-ind', SAMPLE, ['gt_mask.npy'], { 'tl_ind.npy': enc(tlData), 'br_ind.npy': enc(brData) });
    const withFile = variant('derived', SAMPLE, [], { 'tl_ind.npy': enc(tlData), 'br_ind.npy': enc(brData), 'gt_mask.npy': encodeNpy({ dtype: 'uint8', shape: tl.shape, data: derived }) });
    const synth = await computeLossFromFiles({ paths: [noMask], mask: 'from-indices' });
    const file = await computeLossFromFiles({ paths: [withFile] });
    sameNumbers(synth, file);
    const all = await computeLossFromFiles({ paths: [noMask], mask: 'all' });
    assert.notEqual(all.total, synth.total);
    const w = synth.warnings.find((x) => x.code === 'synthetic-mask')!;
    assert.match(w.message, /tl_ind or br_ind is non-zero \(8 of 32 slots\)/);
  });

  it('synthesizeMask: an object whose top-left corner is pixel 0 still counts (br_ind is non-zero)', () => {
    const r = synthesizeMask('from-indices', 1, 3, { tl: Float64Array.from([0, 5, 0]), br: Float64Array.from([9, 7, 0]) });
    assert.deepEqual([...r.mask], [1, 1, 0]);
    assert.deepEqual([...synthesizeMask('all', 1, 3, {}).mask], [1, 1, 1]);
    assert.throws(() => synthesizeMask('from-indices', 1, 3, {}), /needs tl_ind or br_ind/);
  });

  it('without a mask choice a missing gt_mask is an error naming it; a mask file is ignored (and said) when the mask is synthesized', async () => {
    const noMask = variant('nomask-err', SAMPLE, ['gt_mask.npy']);
    await assert.rejects(computeLossFromFiles({ paths: [noMask] }), /gt_mask/);
    const r = await computeLossFromFiles({ paths: [SAMPLE], mask: 'all' });
    const unused = r.inputs.unused.find((u) => path.basename(u.file) === 'gt_mask.npy');
    assert.ok(unused, 'the mask file is listed as unused');
    assert.match(unused.reason, /synthesized \(all slots valid\)/);
  });

  it("'from-indices' without index arrays is refused, naming what is missing", async () => {
    // p01: gathered tags and offsets, so indices are optional; without them nothing to derive from.
    const dir = variant('noind', P01, ['gt_mask.npy', 'tl_ind.npy', 'br_ind.npy', 'tl_tag_map.npy', 'br_tag_map.npy', 'tl_regr_map.npy', 'br_regr_map.npy']);
    await assert.rejects(computeLossFromFiles({ paths: [dir], mask: 'from-indices' }), /needs tl_ind or br_ind/);
    const all = await computeLossFromFiles({ paths: [dir], mask: 'all' });
    assert.ok(Number.isFinite(all.total));
  });

  it('a bad mask value is refused by name (spec and manifest); a manifest\'s "mask" is used', async () => {
    await assert.rejects(computeLossFromFiles({ paths: [SAMPLE], mask: 'some' as never }), /--mask: expected all or from-indices/);
    const bad = variant('badmanifest', SAMPLE, ['gt_mask.npy'], { 'cornernet.json': JSON.stringify({ mask: 'ones' }) });
    await assert.rejects(computeLossFromFiles({ paths: [bad] }), (e: Error) => e.message.includes('cornernet.json') && e.message.includes('"mask" must be'));
    const good = variant('goodmanifest', SAMPLE, ['gt_mask.npy'], { 'cornernet.json': JSON.stringify({ mask: 'from-indices' }) });
    const r = await computeLossFromFiles({ paths: [good] });
    const saved = await computeLossFromFiles({ paths: [SAMPLE] });
    sameNumbers(r, saved); // the sample's mask is exactly its indices' non-zero slots
    assert.ok(r.warnings.some((w) => w.code === 'synthetic-mask'));
  });

  it('a dense convention refuses a synthesized mask', async () => {
    await assert.rejects(computeLossFromFiles({ paths: [SAMPLE], mask: 'all' }, { convention: 'mmdet-cornernet' }), /synthesized mask/);
  });

  it('rememberRoles writes "mask" and drops a gt_mask role; readManifest reads it back', async () => {
    const d = path.join(tmp, 'remember');
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'cornernet.json'), JSON.stringify({ roles: { gt_mask: 'x.npy', tl_heat: 'a.npy' } }));
    const file = await rememberRoles(d, [], 'all');
    const m = await readManifest(file);
    assert.equal(m.mask, 'all');
    assert.deepEqual(m.roles.map((r) => r.name), ['tl_heat']);
  });

  it('the CLI takes --mask, warns, and refuses a bad value and --each', () => {
    const noMask = variant('nomask-cli', SAMPLE, ['gt_mask.npy']);
    const ok = spawnSync(process.execPath, [CLI, '--json', '--no-findings', '--no-ablation', '--mask', 'all', noMask], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const r = JSON.parse(ok.stdout) as LossReport;
    assert.ok(r.warnings.some((w) => w.code === 'synthetic-mask'));
    const missing = spawnSync(process.execPath, [CLI, noMask], { encoding: 'utf8' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /gt_mask/);
    const bad = spawnSync(process.execPath, [CLI, '--mask', 'ones', noMask], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--mask expects all or from-indices, got "ones"/);
    const each = spawnSync(process.execPath, [CLI, '--each', '--mask', 'all', noMask], { encoding: 'utf8' });
    assert.equal(each.status, 2);
    assert.match(each.stderr, /--mask is for one batch/);
  });
});

describe('role picking core', () => {
  const dims = { S: 2, B: 2, C: 4, H: 64, W: 64, K: 16 };

  it('roleFit: shapes and dtypes per role, with the reason', () => {
    assert.ok(roleFit('gt_mask', ref('m.npy', [2, 16], 'uint8'), dims).ok);
    assert.ok(roleFit('gt_mask', ref('m.npy', [2, 16], 'bool'), dims).ok);
    const f = roleFit('gt_mask', ref('m.npy', [2, 16], 'float32'), dims);
    assert.ok(!f.ok && /bool or integer/.test(f.reason));
    const s = roleFit('gt_mask', ref('m.npy', [2, 16, 2], 'uint8'), dims);
    assert.ok(!s.ok && /expected \[2, 16\], got \[2, 16, 2\]/.test(s.reason));
    assert.ok(roleFit('tl_ind', ref('i.npy', [2, 16], 'int64'), dims).ok);
    assert.ok(!roleFit('tl_ind', ref('i.npy', [2, 16], 'float32'), dims).ok);
    assert.ok(roleFit('tl_heat', ref('h.npy', [2, 2, 4, 64, 64]), dims).ok);
    assert.ok(roleFit('tl_heat', ref('h.npy', [2, 4, 64, 64]), dims).ok);
    assert.ok(!roleFit('tl_heat', ref('h.npy', [2, 4, 32, 64]), dims).ok);
    assert.ok(roleFit('tl_tag', ref('t.npy', [2, 2, 1, 64, 64]), dims).ok);
    assert.ok(roleFit('tl_tag', ref('t.npy', [2, 2, 16, 1]), dims).ok);
    assert.ok(roleFit('br_regr', ref('r.npy', [2, 16, 2]), dims).ok);
    assert.ok(roleFit('gt_tl_regr', ref('r.npy', [2, 16, 2]), dims).ok);
    assert.ok(!roleFit('gt_tl_regr', ref('r.npy', [2, 16, 2], 'int32'), dims).ok);
    // Unknown sizes match any.
    assert.ok(roleFit('gt_mask', ref('m.npy', [3, 7], 'uint8'), {}).ok);
  });

  it('a missing mask never offers the index arrays (the trap), only real masks', async () => {
    const noMask = variant('pick-nomask', SAMPLE, ['gt_mask.npy'], { 'valid.npy': encodeNpy({ dtype: 'uint8', shape: [2, 16], data: new Uint8Array(32).fill(1) }) });
    const state = await settleState({ paths: [noMask] });
    assert.ok(state.problems.some((p) => p.role === 'gt_mask' && p.kind === 'missing'));
    // The resolver's ranking alone would offer the int64 [B,K] index arrays:
    const missing = state.problems.find((p) => p.role === 'gt_mask')!;
    assert.ok(missing.candidates.some((r) => path.basename(r.file) === 'tl_ind.npy'), 'the trap exists in the raw ranking');
    const c = choicesForRole('gt_mask', state.discovery.arrays, state);
    assert.deepEqual(c.compatible.map((r) => path.basename(r.file)), ['valid.npy']);
    assert.deepEqual(c.usedElsewhere, []);
    const ind = c.incompatible.find((x) => path.basename(x.ref.file) === 'tl_ind.npy');
    assert.ok(ind && /it is tl_ind, not a mask/.test(ind.reason));
    assert.ok(c.incompatible.some((x) => path.basename(x.ref.file) === 'tl_heat.npy'));
    assert.deepEqual(state.dims, { B: 2, C: 4, H: 64, W: 64, S: 2, K: 16 });
    const settled = await settleState(withMask({ paths: [noMask] }, 'all'));
    assert.deepEqual(settled.problems, []);
    // What "derive from the indices" would count, shown in the picker: the sample's 4 + 3 objects.
    assert.deepEqual(await derivedMaskCount(state), { valid: 7, total: 32 });
  });

  it('roles missing from selected files are filled from the files next to them, by name', async () => {
    const dir = variant('siblings', SAMPLE, []);
    const selected = ['tl_heat.npy', 'br_heat.npy', 'gt_mask.npy'].map((f) => path.join(dir, f));
    const fills = await siblingFills({ paths: selected });
    assert.equal(fills.length, 1);
    assert.equal(fills[0]!.folder, dir);
    assert.deepEqual(new Set(fills[0]!.filled), new Set(['tl_tag', 'br_tag', 'tl_regr', 'br_regr', 'gt_tl_heat', 'gt_br_heat', 'gt_tl_regr', 'gt_br_regr', 'tl_ind', 'br_ind']));
    const spec = { paths: selected, roles: fills[0]!.roles };
    const r = await computeLossFromFiles(spec);
    const whole = await computeLossFromFiles({ paths: [SAMPLE] });
    assert.equal(r.total, whole.total);
    // A sibling of the wrong shape is not taken: the role stays missing.
    const bad = variant('siblings-bad', SAMPLE, [], { 'tl_ind.npy': encodeNpy({ dtype: 'int64', shape: [2, 15], data: new BigInt64Array(30) }) });
    const f2 = await siblingFills({ paths: ['tl_heat.npy', 'br_heat.npy', 'gt_mask.npy'].map((f) => path.join(bad, f)) });
    assert.ok(!f2[0]!.filled.includes('tl_ind'));
    assert.ok(f2[0]!.filled.includes('br_ind'));
    // A selected file named like no role that fits a missing role was meant for it: that role is
    // asked, not filled from its namesake next to it.
    const meant = variant('siblings-meant', SAMPLE, [], {});
    cpSync(path.join(meant, 'tl_heat.npy'), path.join(meant, 'tl_heat_new.npy'));
    const f3 = await siblingFills({ paths: ['tl_heat_new.npy', 'br_heat.npy', 'gt_mask.npy'].map((f) => path.join(meant, f)) });
    assert.ok(!f3[0]!.filled.includes('tl_heat'), 'tl_heat is asked');
    assert.ok(f3[0]!.filled.includes('gt_tl_heat'));
    // Selected folders take nothing from elsewhere.
    assert.deepEqual(await siblingFills({ paths: [variant('nomask-folder', SAMPLE, ['gt_mask.npy'])] }), []);
  });

  it('isCompleteBatch: a folder that resolves every role by itself', async () => {
    assert.equal(await isCompleteBatch(SAMPLE), true);
    assert.equal(await isCompleteBatch(variant('incomplete', SAMPLE, ['gt_mask.npy'])), false);
    assert.equal(await isCompleteBatch(path.join(tmp, 'nope')), false);
  });
});
