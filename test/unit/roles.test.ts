/** Role inference from names, positions and shapes (headers only, no files). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoleName, normalizeName } from '../../src/cornernet/model/roles';
import { candidatesOf, parseRoleArg, splitPathKey } from '../../src/cornernet/inputs/discover';
import { applyOverrides, rankCandidates, resolveRoles } from '../../src/cornernet/inputs/resolve';
import { type ArrayRef, type Candidate } from '../../src/cornernet/model/arrays';
import type { DType } from '../../src/tensor/dtype';

function ref(file: string, shape: number[], dtype: DType = 'float32', key?: string): ArrayRef {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    file,
    ...(key !== undefined ? { key } : {}),
    format: key === undefined ? 'npy' : 'npz',
    header: { dtype, shape, size, fortranOrder: false, byteOrder: 'little', storedType: '<f4', dataBytes: size * 4, format: 'npy' },
  };
}

const S = 2, B = 2, C = 3, H = 16, W = 20, K = 8;

/** A complete folder: name -> shape/dtype, as .npy files. */
function folder(entries: Record<string, [number[], DType?]>): { arrays: ArrayRef[]; candidates: Candidate[] } {
  const arrays = Object.entries(entries).map(([n, [shape, dt]]) => ref(`d/${n}.npy`, shape, dt ?? 'float32'));
  return { arrays, candidates: arrays.flatMap((a) => candidatesOf(a.file, 'npy', [a])) };
}

const TARGETS: Record<string, [number[], DType?]> = {
  gt_tl_heat: [[B, C, H, W]],
  gt_br_heat: [[B, C, H, W]],
  gt_mask: [[B, K], 'uint8'],
  gt_tl_regr: [[B, K, 2]],
  gt_br_regr: [[B, K, 2]],
};
const HEATS: Record<string, [number[], DType?]> = { tl_heat: [[S, B, C, H, W]], br_heat: [[S, B, C, H, W]] };
const GATHERED: Record<string, [number[], DType?]> = {
  tl_tag: [[S, B, K, 1]],
  br_tag: [[S, B, K, 1]],
  tl_regr: [[S, B, K, 2]],
  br_regr: [[S, B, K, 2]],
};
const MAPS: Record<string, [number[], DType?]> = {
  tl_tag_map: [[S, B, 1, H, W]],
  br_tag_map: [[S, B, 1, H, W]],
  tl_regr_map: [[S, B, 2, H, W]],
  br_regr_map: [[S, B, 2, H, W]],
};
const INDS: Record<string, [number[], DType?]> = { tl_ind: [[B, K], 'int64'], br_ind: [[B, K], 'int64'] };

function resolve(entries: Record<string, [number[], DType?]>) {
  const f = folder(entries);
  return resolveRoles(f.candidates, f.arrays);
}

describe('role names', () => {
  it('normalises case, dashes, spaces and paths', () => {
    assert.equal(normalizeName('TL-Heat'), 'tl_heat');
    assert.equal(normalizeName('outs/tl heat'), 'tl_heat');
  });
  it('knows the aliases of every role', () => {
    const cases: [string, string, number?][] = [
      ['tl_heat', 'tl_heat'], ['tl_heats', 'tl_heat'], ['tl_heatmap', 'tl_heat'], ['TL_HM', 'tl_heat'],
      ['br-heat', 'br_heat'], ['tl_tags', 'tl_tag'], ['tl_emb', 'tl_tag'], ['tl_embs', 'tl_tag'], ['tl_embedding', 'tl_tag'],
      ['tl_tag_map', 'tl_tag'], ['br_emb_map', 'br_tag'], ['tl_regrs', 'tl_regr'], ['tl_off', 'tl_regr'], ['tl_offs', 'tl_regr'],
      ['tl_offset', 'tl_regr'], ['tl_offsets', 'tl_regr'], ['br_regr_map', 'br_regr'],
      ['gt_tl_heat', 'gt_tl_heat'], ['tl_heatmaps', 'gt_tl_heat'], ['gt_br_heatmap', 'gt_br_heat'],
      ['gt_mask', 'gt_mask'], ['mask', 'gt_mask'], ['tag_mask', 'gt_mask'], ['Tag-Masks', 'gt_mask'],
      ['gt_tl_regr', 'gt_tl_regr'], ['gt_tl_off', 'gt_tl_regr'], ['gt_br_offset', 'gt_br_regr'], ['gt_br_offsets', 'gt_br_regr'],
      ['tl_ind', 'tl_ind'], ['tl_inds', 'tl_ind'], ['gt_tl_ind', 'tl_ind'], ['gt_br_inds', 'br_ind'],
      ['tl_heat_0', 'tl_heat', 0], ['tl_heat_1', 'tl_heat', 1], ['br_tag_map_1', 'br_tag', 1], ['tl_offsets_2', 'tl_regr', 2],
    ];
    for (const [name, role, stack] of cases) {
      const p = parseRoleName(name);
      assert.equal(p?.role, role, name);
      assert.equal(p?.stack, stack, `${name} stack`);
    }
  });
  it('ignores unknown names and stack suffixes on targets', () => {
    for (const n of ['expected', 'arr_0', 'gt_mask_1', 'gt_tl_heat_0', 'heat', 'tl', 'notes']) assert.equal(parseRoleName(n), undefined, n);
  });
  it('splits PATH:KEY only for archives', () => {
    assert.deepEqual(splitPathKey('a/outs.npz:tl_heat'), { path: 'a/outs.npz', key: 'tl_heat' });
    assert.deepEqual(splitPathKey('m.safetensors:x'), { path: 'm.safetensors', key: 'x' });
    assert.deepEqual(splitPathKey('C:\\data\\tl.npy'), { path: 'C:\\data\\tl.npy' });
    assert.deepEqual(parseRoleArg('mask=folder/m.npy'), { name: 'mask', path: 'folder/m.npy' });
    assert.throws(() => parseRoleArg('tl_heat'), /NAME=PATH/);
  });
});

describe('resolution from shapes', () => {
  it('a full fixture-like folder: gathered used, maps checked', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...GATHERED, ...MAPS, ...INDS });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.dims, { S, B, C, H, W, K });
    const tag = r.uses.filter((u) => u.role === 'tl_tag');
    assert.deepEqual(tag.map((u) => [u.form, u.purpose]).sort(), [['gathered', 'loss'], ['map', 'check']]);
    assert.equal(r.uses.find((u) => u.role === 'tl_ind')?.purpose, 'check');
  });
  it('maps + indices: maps feed the loss, indices are required', () => {
    const ok = resolve({ ...TARGETS, ...HEATS, ...MAPS, ...INDS });
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.uses.find((u) => u.role === 'tl_ind')?.purpose, 'loss');
    const missing = resolve({ ...TARGETS, ...HEATS, ...MAPS });
    assert.deepEqual(missing.problems.map((p) => [p.kind, p.role]).sort(), [['missing', 'br_ind'], ['missing', 'tl_ind']]);
  });
  it('gathered values without maps need no indices', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...GATHERED });
    assert.deepEqual(r.problems, []);
  });
  it('maps without a stack axis when S = 1, gathered as [B,K]', () => {
    const r = resolve({
      ...TARGETS,
      tl_heat: [[B, C, H, W]],
      br_heat: [[B, C, H, W]],
      tl_tag: [[B, K]],
      br_tag: [[B, 1, H, W]],
      tl_regr: [[B, K, 2]],
      br_regr: [[B, 2, H, W]],
      ...INDS,
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.dims?.S, 1);
    assert.equal(r.uses.find((u) => u.role === 'br_tag')?.form, 'map');
    assert.equal(r.uses.find((u) => u.role === 'tl_tag')?.form, 'gathered');
  });
  it('per-stack files <stem>_<k>', () => {
    const r = resolve({
      ...TARGETS,
      tl_heat_0: [[B, C, H, W]], tl_heat_1: [[B, C, H, W]],
      br_heat_0: [[B, C, H, W]], br_heat_1: [[B, C, H, W]],
      tl_tag_0: [[B, K, 1]], tl_tag_1: [[B, K, 1]], br_tag: [[S, B, K, 1]],
      tl_regr: [[S, B, K, 2]], br_regr: [[S, B, K, 2]],
    });
    assert.deepEqual(r.problems, []);
    assert.equal(r.dims?.S, 2);
    assert.deepEqual(r.uses.filter((u) => u.role === 'tl_tag').map((u) => u.stacks), [[0], [1]]);
  });
  it('integer tl_tags/br_tags are the sampler indices', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...MAPS, tl_tags: [[B, K], 'int64'], br_tags: [[B, K], 'int32'] });
    assert.deepEqual(r.problems, []);
    const u = r.uses.find((x) => x.role === 'tl_ind');
    assert.equal(u?.ref.file, 'd/tl_tags.npy');
    assert.match(u?.note ?? '', /indices/);
  });
  it('ambiguous: two arrays for one role, or whole + per-stack', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...GATHERED, tl_hm: [[S, B, C, H, W]] });
    const p = r.problems.find((x) => x.role === 'tl_heat');
    assert.equal(p?.kind, 'ambiguous');
    assert.deepEqual(p?.candidates.map((c) => c.file).sort(), ['d/tl_heat.npy', 'd/tl_hm.npy']);
    const r2 = resolve({ ...TARGETS, ...HEATS, ...GATHERED, mask: [[B, K], 'uint8'] });
    assert.equal(r2.problems[0]?.kind, 'ambiguous');
    assert.equal(r2.problems[0]?.role, 'gt_mask');
  });
  it('missing roles are reported together, with candidates', () => {
    const r = resolve({ ...HEATS, ...GATHERED, gt_tl_heat: [[B, C, H, W]], weird: [[B, C, H, W]] });
    const missing = r.problems.filter((p) => p.kind === 'missing').map((p) => p.role).sort();
    assert.deepEqual(missing, ['gt_br_heat', 'gt_br_regr', 'gt_mask', 'gt_tl_regr']);
    const heat = r.problems.find((p) => p.role === 'gt_br_heat')!;
    assert.ok(heat.candidates.some((c) => c.file === 'd/weird.npy'));
    assert.equal(r.dims, undefined);
  });
  it('inconsistent shapes name the role, the file and the expected shape', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...GATHERED, tl_tag: [[S, B, K, 3]] });
    const p = r.problems.find((x) => x.role === 'tl_tag')!;
    assert.equal(p.kind, 'inconsistent');
    assert.match(p.subject, /tl_tag \(d\/tl_tag\.npy\)/);
    assert.match(p.message, /\[2, 2, 8, 3\]/);
    const r2 = resolve({ ...TARGETS, ...HEATS, ...GATHERED, br_heat: [[3, B, C, H, W]] });
    assert.match(r2.problems.find((x) => x.role === 'br_heat')!.message, /3 stack\(s\) but the heatmaps have 2/);
    const r3 = resolve({ ...TARGETS, ...HEATS, ...GATHERED, gt_br_heat: [[B, C, H, W + 1]] });
    assert.equal(r3.problems[0]?.role, 'gt_br_heat');
    const r4 = resolve({ ...TARGETS, ...HEATS, ...MAPS, tl_ind: [[B, K], 'float32'], br_ind: [[B, K], 'int64'] });
    assert.match(r4.problems.find((x) => x.role === 'tl_ind')!.message, /integers/);
  });
  it('unused arrays are listed with a reason', () => {
    const r = resolve({ ...TARGETS, ...HEATS, ...GATHERED, ...MAPS, notes: [[3]] });
    assert.deepEqual(r.problems, []);
    const unused = r.unused.map((u) => [u.ref.file, u.reason]);
    assert.ok(unused.some(([f, why]) => f === 'd/notes.npy' && /no role/.test(why)));
    assert.ok(unused.some(([f, why]) => f === 'd/tl_tag_map.npy' && /no tl_ind/.test(why)));
  });
  it('overrides replace inference for their role', () => {
    const f = folder({ ...TARGETS, ...HEATS, ...GATHERED, tl_hm: [[S, B, C, H, W]] });
    const chosen = f.arrays.find((a) => a.file === 'd/tl_hm.npy')!;
    const cands = applyOverrides(f.candidates, [{ role: 'tl_heat', ref: chosen, origin: 'override' }]);
    const r = resolveRoles(cands, f.arrays);
    assert.deepEqual(r.problems, []);
    assert.equal(r.uses.find((u) => u.role === 'tl_heat')?.ref.file, 'd/tl_hm.npy');
    assert.equal(r.uses.find((u) => u.role === 'tl_heat')?.origin, 'override');
  });
});

describe('AELoss-positional npz', () => {
  const npz = (n: number, shapeOf: (i: number) => number[]) =>
    Array.from({ length: n }, (_, i) => ref('o.npz', shapeOf(i), 'float32', `arr_${i}`));
  it('5 or 7 arrays are targets', () => {
    const c5 = candidatesOf('t.npz', 'npz', npz(5, () => [1]));
    assert.deepEqual(c5.map((c) => c.role), ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']);
    const c7 = candidatesOf('t.npz', 'npz', npz(7, () => [1]));
    assert.deepEqual(c7.slice(5).map((c) => c.role), ['tl_ind', 'br_ind']);
  });
  it('6 per stack are outputs in AELoss order', () => {
    const c = candidatesOf('o.npz', 'npz', npz(12, () => [1]));
    assert.deepEqual(c.slice(0, 6).map((x) => x.role), ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr']);
    assert.deepEqual(c.map((x) => x.stack), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    const six = candidatesOf('o.npz', 'npz', npz(6, () => [1]));
    assert.ok(six.every((x) => x.stack === undefined));
  });
  it('other counts or gaps give no candidates', () => {
    assert.deepEqual(candidatesOf('o.npz', 'npz', npz(4, () => [1])), []);
    const gap = npz(5, () => [1]);
    gap[4] = ref('o.npz', [1], 'float32', 'arr_9');
    assert.deepEqual(candidatesOf('o.npz', 'npz', gap), []);
  });
});

describe('candidates offered for a role', () => {
  it('an unnamed array of the right rank comes before arrays named for other roles', () => {
    const arrays = [
      ref('d/gt_tl_heat.npy', [B, C, H, W]),
      ref('d/br_heat.npy', [S, B, C, H, W]),
      ref('d/tl_regr_map.npy', [B, 2, H, W]),
      ref('d/logits_a.npy', [S, B, C, H, W]),
      ref('d/gt_mask.npy', [B, K], 'uint8'),
    ];
    const ranked = rankCandidates('tl_heat', arrays).map((r) => r.file);
    assert.equal(ranked[0], 'd/logits_a.npy');
    assert.ok(!ranked.includes('d/gt_mask.npy'), 'a 2-d mask is no heatmap');
    // An array named for the role itself comes first of all (tl_hm is an alias of tl_heat).
    assert.equal(rankCandidates('tl_heat', [...arrays, ref('d/tl_hm.npy', [S, B, C, H, W])])[0]!.file, 'd/tl_hm.npy');
    // And for a target role, the output named for another role is not the first guess.
    assert.equal(rankCandidates('gt_tl_heat', [ref('d/tl_heat.npy', [S, B, C, H, W]), ref('d/gt_tl_heat.npy', [B, C, H, W])])[0]!.file, 'd/gt_tl_heat.npy');
  });

  it('after a swap, the freed array comes before arrays other roles still claim', () => {
    const maps: Record<string, [number[], DType?]> = { tl_tag_map: [[S, B, 1, H, W]], br_tag_map: [[S, B, 1, H, W]], br_regr_map: [[S, B, 2, H, W]] };
    const { arrays, candidates } = folder({ ...TARGETS, ...HEATS, ...GATHERED, ...maps });
    const brHeat = arrays.find((a) => a.file === 'd/br_heat.npy')!;
    // "Change roles...": br_heat.npy now plays tl_heat, so br_heat has no array of its own.
    const swapped = applyOverrides(candidates, [{ role: 'tl_heat', ref: brHeat, origin: 'override' }]);
    const problem = resolveRoles(swapped, arrays).problems.find((p) => p.role === 'br_heat');
    assert.ok(problem, 'br_heat is asked for');
    const offered = problem.candidates.map((r) => r.file);
    assert.deepEqual(offered.slice(0, 2), ['d/br_heat.npy', 'd/tl_heat.npy'], offered.join(', '));
    // gt_br_heat.npy has the right rank and a br name, but gt_br_heat still claims it.
    assert.ok(offered.indexOf('d/gt_br_heat.npy') > offered.indexOf('d/tl_heat.npy'));
  });
});
