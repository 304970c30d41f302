/**
 * The three extra conventions (mmdet CornerNet, CenterNet, mmdet CenterNet) against every number
 * of their fixtures (values computed by the upstream code), float32 and float64 blocks; the
 * CornerNet fixtures scored by mmdet after mapping; the mappings' round trips; the warnings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { readTensorFile } from '../../src/tensor/tensorFile';
import type { Tensor } from '../../src/tensor/tensor';
import type { FloatArray, Precision } from '../../src/cornernet/loss/dense';
import { computeMmdetCornernet, type MmdetCornernetInputs, type MmdetCornernetResult } from '../../src/cornernet/loss/mmdetCornernet';
import { computeCenternet, type CenternetInputs, type CenternetResult } from '../../src/cornernet/loss/centernet';
import { computeMmdetCenternet, type MmdetCenternetInputs, type MmdetCenternetResult } from '../../src/cornernet/loss/mmdetCenternet';
import {
  cornernetToMmdetCornernet,
  mmdetCornernetToCornernet,
  centernetToMmdetCenternet,
  mmdetCenternetToCenternet,
  type CornernetBatch,
} from '../../src/cornernet/loss/mapping';
import { clampedFocalSums, type ClampedFocalFn } from '../../src/cornernet/loss/dense';
import { assertClose } from './helpers';

const ROOT = path.join(process.cwd(), 'test', 'fixtures');
const CONV = path.join(ROOT, 'conventions');

function cases(conv: string): string[] {
  const dir = path.join(CONV, conv);
  return readdirSync(dir)
    .filter((n) => statSync(path.join(dir, n)).isDirectory())
    .sort();
}
function json(file: string): any {
  return JSON.parse(readFileSync(file, 'utf8'));
}

let checked = 0;
/** Worst relative difference seen per block (reported at the end: how far inside the tolerance). */
const worst: Record<Precision, { rel: number; what: string }> = { float32: { rel: 0, what: '' }, float64: { rel: 0, what: '' } };
/** One fixture number: float32 block rtol 1e-5 (floors 1e-6 terms, 2e-5 totals and push), float64 rtol 1e-9. */
function check(actual: number, expected: number, block: Precision, term: string, what: string): void {
  const total = term === 'total' || term === 'loss' || term.startsWith('push');
  const rtol = block === 'float32' ? 1e-5 : 1e-9;
  const floor = block === 'float32' ? (total ? 2e-5 : 1e-6) : 1e-12;
  assertClose(actual, expected, rtol, floor, what);
  const rel = expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
  if (rel > worst[block].rel) worst[block] = { rel, what };
  checked++;
}

const read = (file: string, key?: string) => readTensorFile(file, key);
/** Float data in the block's precision: float16/float32 data as read (exact widening), or upcast to float64. */
function floats(t: Tensor, precision: Precision): FloatArray {
  if (precision === 'float64') return Float64Array.from(t.data as Float32Array | Float64Array);
  assert.ok(t.data instanceof Float32Array, `expected float32 data, got ${t.dtype}`);
  return t.data;
}
/** The leading stack/level axis as per-stack views. */
function split(a: FloatArray, S: number): FloatArray[] {
  const n = a.length / S;
  return Array.from({ length: S }, (_, s) => a.subarray(s * n, (s + 1) * n));
}

// ---------------------------------------------------------------------------------------------
// mmdet CornerNet

async function loadMmdetCornernet(dir: string, precision: Precision): Promise<MmdetCornernetInputs> {
  const t = async (n: string) => read(path.join(dir, `${n}.npy`));
  const heat = await t('tl_heats');
  const [S, B, C, H, W] = heat.shape as [number, number, number, number, number];
  const corners = await t('corner_embedding');
  const fl = async (n: string) => floats(await t(n), precision);
  return {
    dims: { levels: S, B, C, H, W, K: corners.shape[1]! },
    tlHeats: split(floats(heat, precision), S),
    brHeats: split(await fl('br_heats'), S),
    tlEmbs: split(await fl('tl_embs'), S),
    brEmbs: split(await fl('br_embs'), S),
    tlOffs: split(await fl('tl_offs'), S),
    brOffs: split(await fl('br_offs'), S),
    topleftHeatmap: await fl('topleft_heatmap'),
    bottomrightHeatmap: await fl('bottomright_heatmap'),
    topleftOffset: await fl('topleft_offset'),
    bottomrightOffset: await fl('bottomright_offset'),
    corners: corners.data as BigInt64Array,
    precision,
  };
}

const MMDET_CORNER_LEVEL_KEYS = ['det_tl', 'det_br', 'det', 'pull', 'push', 'pull_unweighted', 'push_unweighted', 'off_tl', 'off_br', 'off'] as const;

function checkMmdetCornernetBlock(r: MmdetCornernetResult, block: any, precision: Precision, label: string): void {
  assert.equal(r.levels.length, block.levels.length, `${label} levels`);
  block.levels.forEach((lv: any, l: number) => {
    for (const k of MMDET_CORNER_LEVEL_KEYS) {
      if (k in lv) check(r.levels[l]![k], lv[k], precision, k, `${label} levels[${l}].${k}`);
    }
    for (const k of Object.keys(lv)) assert.ok((MMDET_CORNER_LEVEL_KEYS as readonly string[]).includes(k), `${label}: unchecked level key ${k}`);
  });
  for (const [k, v] of Object.entries(block.loss_dict_sums)) check(r.terms[k as keyof typeof r.terms], v as number, precision, k, `${label} ${k}`);
  if (block.loss_dict_order) assert.deepEqual(Object.keys(r.terms), block.loss_dict_order, `${label} key order`);
  check(r.total, block.total, precision, 'total', `${label} total`);
}

for (const name of cases('mmdet_cornernet')) {
  describe(`mmdet_cornernet ${name}`, () => {
    const dir = path.join(CONV, 'mmdet_cornernet', name);
    const exp = json(path.join(dir, 'expected.json'));
    for (const precision of ['float32', 'float64'] as const) {
      it(`${precision} block`, async () => {
        const r = computeMmdetCornernet(await loadMmdetCornernet(dir, precision));
        checkMmdetCornernetBlock(r, exp[precision], precision, `${name} ${precision}`);
        assert.deepEqual(r.perImage.map((p) => p.objects), exp.objects_per_image);
        assert.deepEqual({ tl: r.positives.tl, br: r.positives.br }, exp.num_positives);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// CenterNet

async function loadCenternet(dir: string, precision: Precision): Promise<CenternetInputs> {
  const out = (k: string) => read(path.join(dir, 'output.npz'), k);
  const bat = (k: string) => read(path.join(dir, 'batch.npz'), k);
  const hm = await out('hm');
  const [S, B, C, H, W] = hm.shape as [number, number, number, number, number];
  const ind = await bat('ind');
  return {
    dims: { stacks: S, B, C, H, W, K: ind.shape[1]! },
    hm: split(floats(hm, precision), S),
    wh: split(floats(await out('wh'), precision), S),
    reg: split(floats(await out('reg'), precision), S),
    target: {
      hm: floats(await bat('hm'), precision),
      regMask: (await bat('reg_mask')).data as Uint8Array,
      ind: ind.data as BigInt64Array,
      wh: floats(await bat('wh'), precision),
      reg: floats(await bat('reg'), precision),
    },
    precision,
  };
}

function checkCenternetBlock(r: CenternetResult, block: any, precision: Precision, label: string): void {
  for (const k of ['hm_loss', 'wh_loss', 'off_loss'] as const) check(r.terms[k], block[k], precision, k, `${label} ${k}`);
  check(r.loss, block.loss, precision, 'loss', `${label} loss`);
  assert.equal(r.stacks.length, block.per_stack.length);
  block.per_stack.forEach((s: any, i: number) => {
    for (const k of ['hm', 'wh', 'off'] as const) check(r.stacks[i]![k], s[k], precision, k, `${label} per_stack[${i}].${k}`);
  });
}

for (const name of cases('centernet')) {
  describe(`centernet ${name}`, () => {
    const dir = path.join(CONV, 'centernet', name);
    const exp = json(path.join(dir, 'expected.json'));
    for (const precision of ['float32', 'float64'] as const) {
      it(`${precision} block`, async () => {
        const r = computeCenternet(await loadCenternet(dir, precision));
        checkCenternetBlock(r, exp[precision], precision, `${name} ${precision}`);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// mmdet CenterNet

async function loadMmdetCenternet(dir: string, precision: Precision): Promise<MmdetCenternetInputs> {
  const fl = async (n: string) => floats(await read(path.join(dir, `${n}.npy`)), precision);
  const pred = await read(path.join(dir, 'center_heatmap_pred.npy'));
  const [B, C, H, W] = pred.shape as [number, number, number, number];
  return {
    dims: { B, C, H, W },
    centerHeatmapPred: floats(pred, precision),
    whPred: await fl('wh_pred'),
    offsetPred: await fl('offset_pred'),
    centerHeatmapTarget: await fl('center_heatmap_target'),
    whTarget: await fl('wh_target'),
    offsetTarget: await fl('offset_target'),
    whOffsetTargetWeight: await fl('wh_offset_target_weight'),
    precision,
  };
}

function checkMmdetCenternetBlock(r: MmdetCenternetResult, block: any, precision: Precision, label: string): void {
  for (const k of ['loss_center_heatmap', 'loss_wh', 'loss_offset'] as const) check(r.terms[k], block[k], precision, k, `${label} ${k}`);
  check(r.loss, block.loss, precision, 'loss', `${label} loss`);
}

for (const name of cases('mmdet_centernet')) {
  describe(`mmdet_centernet ${name}`, () => {
    const dir = path.join(CONV, 'mmdet_centernet', name);
    const exp = json(path.join(dir, 'expected.json'));
    for (const precision of ['float32', 'float64'] as const) {
      it(`${precision} block`, async () => {
        const r = computeMmdetCenternet(await loadMmdetCenternet(dir, precision));
        checkMmdetCenternetBlock(r, exp[precision], precision, `${name} ${precision}`);
      });
    }
  });
}


// ---------------------------------------------------------------------------------------------
// CornerNet fixtures scored by mmdet's CornerHead after mapping

const CORNERNET = path.join(ROOT, 'cornernet');

async function loadCornernet(name: string, precision: Precision): Promise<{ batch: CornernetBatch; gathered: Record<string, FloatArray[]> }> {
  const dir = path.join(CORNERNET, name);
  const t = (n: string) => read(path.join(dir, `${n}.npy`));
  const heat = await t('tl_heat');
  const [S, B, C, H, W] = heat.shape as [number, number, number, number, number];
  const mask = await t('gt_mask');
  const fl = async (n: string) => floats(await t(n), precision);
  const gathered: Record<string, FloatArray[]> = {};
  for (const n of ['tl_tag', 'br_tag', 'tl_regr', 'br_regr']) gathered[n] = split(await fl(n), S);
  return {
    batch: {
      dims: { stacks: S, B, C, H, W, K: mask.shape[1]! },
      tlHeat: split(floats(heat, precision), S),
      brHeat: split(await fl('br_heat'), S),
      tlTagMap: split(await fl('tl_tag_map'), S),
      brTagMap: split(await fl('br_tag_map'), S),
      tlRegrMap: split(await fl('tl_regr_map'), S),
      brRegrMap: split(await fl('br_regr_map'), S),
      gtTlHeat: await fl('gt_tl_heat'),
      gtBrHeat: await fl('gt_br_heat'),
      gtMask: mask.data as Uint8Array,
      tlInd: (await t('tl_ind')).data as BigInt64Array,
      brInd: (await t('br_ind')).data as BigInt64Array,
      gtTlRegr: await fl('gt_tl_regr'),
      gtBrRegr: await fl('gt_br_regr'),
      precision,
    },
    gathered,
  };
}

const asMmdet = readdirSync(path.join(CONV, 'cornernet_as_mmdet'))
  .filter((f) => f.endsWith('.json'))
  .sort();

for (const file of asMmdet) {
  const exp = json(path.join(CONV, 'cornernet_as_mmdet', file));
  const name = exp.cornernet_case as string;
  describe(`cornernet_as_mmdet ${name}`, () => {
    for (const precision of ['float32', 'float64'] as const) {
      it(`mapped, mmdet ${precision} block`, async () => {
        const { batch } = await loadCornernet(name, precision);
        const { value, notes } = cornernetToMmdetCornernet(batch);
        assert.deepEqual({ levels: value.dims.levels, B: value.dims.B, C: value.dims.C, H: value.dims.H, W: value.dims.W }, {
          levels: exp.sizes.levels,
          B: exp.sizes.batch,
          C: exp.sizes.classes,
          H: exp.sizes.height,
          W: exp.sizes.width,
        });
        assert.equal(notes.filter((n) => n.code === 'shared-corner').length, exp.slots_sharing_a_corner_pixel, `${name} shared slots`);
        const r = computeMmdetCornernet(value);
        checkMmdetCornernetBlock(r, exp.mmdet[precision], precision, `${name} mmdet ${precision}`);
        if (precision === 'float64') check(r.total, exp.numpy_ref_float64_total, precision, 'total', `${name} numpy ref total`);
      });
    }

    it('round trip CornerNet -> mmdet -> CornerNet keeps indices, mask and gathered values', async () => {
      const { batch, gathered } = await loadCornernet(name, 'float32');
      const { K, B } = batch.dims;
      const mm = cornernetToMmdetCornernet(batch).value;
      const { value: back } = mmdetCornernetToCornernet(mm, { K });
      assert.deepEqual(Array.from(back.gtMask), Array.from(batch.gtMask), 'mask');
      for (let i = 0; i < B * K; i++) {
        assert.equal(back.tlInd[i], Number(batch.tlInd[i]!), `tl_ind ${i}`);
        assert.equal(back.brInd[i], Number(batch.brInd[i]!), `br_ind ${i}`);
      }
      // Gathered maps: exactly what the original's model gathered (padded slots read pixel 0 too).
      assert.deepEqual(back.tlTag.map((a) => Array.from(a)), gathered.tl_tag!.map((a) => Array.from(a)));
      assert.deepEqual(back.brTag.map((a) => Array.from(a)), gathered.br_tag!.map((a) => Array.from(a)));
      assert.deepEqual(back.tlRegr.map((a) => Array.from(a)), gathered.tl_regr!.map((a) => Array.from(a)));
      assert.deepEqual(back.brRegr.map((a) => Array.from(a)), gathered.br_regr!.map((a) => Array.from(a)));
      // gt offsets: the same where no other slot shares the pixel, else the last slot's.
      for (const [ind, gt, gtBack] of [
        [batch.tlInd, batch.gtTlRegr, back.gtTlRegr],
        [batch.brInd, batch.gtBrRegr, back.gtBrRegr],
      ] as const) {
        for (let b = 0; b < B; b++) {
          for (let k = 0; k < K; k++) {
            if (!batch.gtMask[b * K + k]) continue;
            let last = k;
            for (let j = 0; j < K; j++) if (batch.gtMask[b * K + j] && Number(ind[b * K + j]!) === Number(ind[b * K + k]!)) last = j;
            for (let c = 0; c < 2; c++) assert.equal(gtBack[(b * K + k) * 2 + c], gt[(b * K + last) * 2 + c], `image ${b} slot ${k} offset ${c}`);
          }
        }
      }
    });
  });
}

describe('mmdet CornerNet -> CornerNet -> mmdet', () => {
  for (const name of cases('mmdet_cornernet')) {
    it(`${name}: same targets, same loss`, async () => {
      const dir = path.join(CONV, 'mmdet_cornernet', name);
      const inp = await loadMmdetCornernet(dir, 'float64');
      const { value: cn } = mmdetCornernetToCornernet(inp);
      const { value: again } = cornernetToMmdetCornernet(cn);
      assert.deepEqual(Array.from(again.topleftOffset), Array.from(inp.topleftOffset));
      assert.deepEqual(Array.from(again.bottomrightOffset), Array.from(inp.bottomrightOffset));
      const direct = computeMmdetCornernet(inp);
      const viaCn = computeMmdetCornernet(again);
      assert.equal(viaCn.total, direct.total);
      assert.deepEqual(viaCn.objects.map((o) => [o.tl, o.br]), direct.objects.map((o) => [o.tl, o.br]));
      assert.equal(viaCn.objects.length, direct.objects.length);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// CenterNet <-> mmdet CenterNet

describe('CenterNet -> mmdet CenterNet -> CenterNet', () => {
  for (const name of cases('centernet')) {
    it(`${name}: slots come back (raster order; shared centers merged)`, async () => {
      const inp = await loadCenternet(path.join(CONV, 'centernet', name), 'float32');
      const { value: mm, notes } = centernetToMmdetCenternet(inp);
      const { value: back } = mmdetCenternetToCenternet(mm, { K: inp.dims.K });
      const { B, K } = inp.dims;
      const slots = (c: CenternetInputs) => {
        const out: string[] = [];
        for (let b = 0; b < B; b++) {
          const last = new Map<number, string>();
          for (let k = 0; k < K; k++) {
            if (!c.target.regMask[b * K + k]) continue;
            const ind = Number(c.target.ind[b * K + k]!);
            last.set(ind, `${b}:${ind}:${c.target.wh[(b * K + k) * 2]},${c.target.wh[(b * K + k) * 2 + 1]}:${c.target.reg[(b * K + k) * 2]},${c.target.reg[(b * K + k) * 2 + 1]}`);
          }
          out.push(...[...last.values()]);
        }
        return out.sort();
      };
      assert.deepEqual(slots(back), slots(inp));
      const shared = notes.filter((n) => n.code === 'shared-center').length;
      let used = 0;
      for (let i = 0; i < B * K; i++) used += inp.target.regMask[i]! ? 1 : 0;
      let usedBack = 0;
      for (let i = 0; i < B * K; i++) usedBack += back.target.regMask[i]! ? 1 : 0;
      assert.equal(usedBack, used - shared, 'one slot lost per shared center');
      // Logits -> probabilities -> logits: the clamped focal loss agrees (saturated pixels sit on the clamp bounds).
      const direct = computeCenternet({ ...inp, dims: { ...inp.dims, stacks: 1 }, hm: [inp.hm.at(-1)!], wh: [inp.wh.at(-1)!], reg: [inp.reg.at(-1)!] });
      const again = computeCenternet(back);
      assertClose(again.stacks[0]!.hm, direct.stacks[0]!.hm, 1e-5, 1e-6, `${name} hm after the round trip`);
    });
  }
  for (const name of cases('mmdet_centernet')) {
    it(`mmdet_centernet ${name}: mmdet -> CenterNet -> mmdet keeps the dense targets and the loss`, async () => {
      const inp = await loadMmdetCenternet(path.join(CONV, 'mmdet_centernet', name), 'float64');
      const { value: cn } = mmdetCenternetToCenternet(inp);
      const { value: again } = centernetToMmdetCenternet(cn);
      for (const k of ['whTarget', 'offsetTarget', 'whOffsetTargetWeight', 'centerHeatmapTarget'] as const) assert.deepEqual(Array.from(again[k]), Array.from(inp[k]), k);
      const a = computeMmdetCenternet(inp);
      const b = computeMmdetCenternet(again);
      assertClose(b.loss, a.loss, 1e-9, 1e-12, `${name} loss after the round trip`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Warnings where the fixtures hit the quirks of conventions.md

const codes = (w: { code: string }[]) => new Set(w.map((x) => x.code));

describe('warnings on the fixtures', () => {
  it('mmdet CornerNet', async () => {
    const run = async (name: string, precision: Precision = 'float32') =>
      codes(computeMmdetCornernet(await loadMmdetCornernet(path.join(CONV, 'mmdet_cornernet', name), precision)).warnings);
    assert.deepEqual(await run('c01_basic'), new Set());
    const c02 = await run('c02_two_levels_border');
    assert.ok(c02.has('offset-at-border') && c02.has('shared-corner'), [...c02].join());
    const c03 = await run('c03_one_object_and_empty');
    assert.ok(c03.has('empty-images') && c03.has('single-object-push'), [...c03].join());
    const c04 = await run('c04_saturated_shared_corner');
    assert.ok(c04.has('saturated-sigmoid') && c04.has('shared-corner'), [...c04].join());
    // float64 sigmoid saturates only beyond |x| ~ 36.7: no such pixel in c04 (|logit| <= 20).
    assert.ok(!(await run('c04_saturated_shared_corner', 'float64')).has('saturated-sigmoid'));
  });

  it('mmdet CornerNet: c04 shares a corner, identical pairs and the float32 saturation cost', async () => {
    const inp = await loadMmdetCornernet(path.join(CONV, 'mmdet_cornernet', 'c04_saturated_shared_corner'), 'float32');
    const r = computeMmdetCornernet(inp);
    const shared = r.warnings.filter((w) => w.code === 'shared-corner').map((w) => w.message);
    assert.ok(shared.some((m) => /objects 0, 1 share the top-left corner/.test(m)), shared.join('\n'));
    assert.ok(shared.some((m) => /objects 2, 3 share the bottom-right corner/.test(m)), shared.join('\n'));
    // float32 vs float64 differ by tens of percent here, as the fixture's blocks do.
    const r64 = computeMmdetCornernet(await loadMmdetCornernet(path.join(CONV, 'mmdet_cornernet', 'c04_saturated_shared_corner'), 'float64'));
    assert.ok(Math.abs(r.levels[0]!.det_tl / r64.levels[0]!.det_tl - 1) > 0.05);
  });

  it('CenterNet', async () => {
    const run = async (name: string) => computeCenternet(await loadCenternet(path.join(CONV, 'centernet', name), 'float32'));
    assert.deepEqual(codes((await run('c01_basic')).warnings), new Set());
    const c03 = await run('c03_one_object_and_empty');
    assert.ok(codes(c03.warnings).has('empty-images'));
    const c04 = await run('c04_saturated_shared_center');
    assert.ok(codes(c04.warnings).has('shared-center') && codes(c04.warnings).has('saturated-logits'));
    assert.deepEqual(
      c04.objects.filter((o) => o.shared).map((o) => [o.slot, o.ind]),
      [
        [0, 102],
        [1, 102],
        [2, 187],
        [3, 187],
      ],
    );
  });

  it('mmdet CenterNet', async () => {
    const run = async (name: string) => computeMmdetCenternet(await loadMmdetCenternet(path.join(CONV, 'mmdet_centernet', name), 'float32'));
    // c01 image 1: two boxes of different classes on one center pixel: 2 peaks, 1 weighted pixel.
    const c01 = await run('c01_basic');
    assert.ok(codes(c01.warnings).has('shared-center'));
    assert.equal(c01.positives, 5);
    assert.equal(c01.weightedPixels, 4);
    assert.deepEqual(c01.objects.find((o) => o.peakClasses.length > 1)?.peakClasses, [1, 2]);
    assert.ok(codes((await run('c03_one_object_and_empty')).warnings).has('empty-images'));
    const c04 = await run('c04_saturated_shared_center');
    assert.ok(codes(c04.warnings).has('saturated-sigmoid') && codes(c04.warnings).has('shared-center'));
    assert.deepEqual(codes((await run('c02_border')).warnings), new Set());
  });

  it('CornerNet batches under mmdet: no objects, shared corners', async () => {
    const run = async (name: string) => {
      const m = cornernetToMmdetCornernet((await loadCornernet(name, 'float32')).batch);
      return { r: computeMmdetCornernet(m.value), notes: m.notes };
    };
    const p05 = await run('p05_no_objects');
    for (const c of ['no-positives', 'no-offset-pixels', 'empty-images']) assert.ok(codes(p05.r.warnings).has(c), c);
    assert.equal(p05.r.divisors.det_tl, 1 + 2 ** -23);
    assert.equal(p05.r.levels[0]!.off, 0);
    const p09 = await run('p09_k128');
    assert.ok(codes(p09.r.warnings).has('shared-corner'));
    assert.ok(codes(p09.notes).has('shared-corner'));
    const p02 = await run('p02_two_stacks');
    assert.ok(codes(p02.notes).has('stacks-as-levels'));
  });
});

// ---------------------------------------------------------------------------------------------
// Parts add up; edge cases the fixtures do not cover

describe('result detail', () => {
  it('mmdet CornerNet: per-image, per-class and per-object shares add up', async () => {
    const r = computeMmdetCornernet(await loadMmdetCornernet(path.join(CONV, 'mmdet_cornernet', 'c02_two_levels_border'), 'float64'));
    assertClose(r.perImage.reduce((a, p) => a + p.total, 0), r.total, 1e-12, 1e-12, 'images sum to total');
    assertClose(r.perClass.reduce((a, p) => a + p.det, 0), r.terms.det_loss, 1e-12, 1e-12, 'classes sum to det_loss');
    for (let l = 0; l < r.levels.length; l++) {
      for (let b = 0; b < r.perImage.length; b++) {
        const objs = r.objects.filter((o) => o.image === b);
        assertClose(objs.reduce((a, o) => a + o.levels[l]!.pull, 0), r.perImage[b]!.levels[l]!.pull, 1e-12, 1e-15, `pull image ${b}`);
        assertClose(objs.reduce((a, o) => a + o.levels[l]!.push, 0), r.perImage[b]!.levels[l]!.push, 1e-12, 1e-15, `push image ${b}`);
      }
    }
    // The border box: offset target exactly 1.0 at x = W-1.
    assert.ok(r.objects.some((o) => o.br[1] === 19 && o.levels[0]!.offBr.target.includes(1)));
  });

  it('CenterNet: per-image shares add up to the terms', async () => {
    const r = computeCenternet(await loadCenternet(path.join(CONV, 'centernet', 'c02_two_stacks_border'), 'float64'));
    for (const [k, term] of [
      ['hm', 'hm_loss'],
      ['wh', 'wh_loss'],
      ['off', 'off_loss'],
    ] as const) {
      assertClose(r.perImage.reduce((a, p) => a + p[k], 0), r.terms[term], 1e-12, 1e-15, k);
    }
    assertClose(r.perImage.reduce((a, p) => a + p.total, 0), r.loss, 1e-12, 1e-15, 'total');
    assertClose(r.perClass.reduce((a, p) => a + p.hm, 0), r.terms.hm_loss, 1e-12, 1e-15, 'classes');
    assert.equal(r.objects.length, 7);
  });

  it('CenterNet: an injected focal function is used', async () => {
    const inp = await loadCenternet(path.join(CONV, 'centernet', 'c01_basic'), 'float32');
    let calls = 0;
    const focal: ClampedFocalFn = (l, g, p, hw, b) => {
      calls++;
      return clampedFocalSums(l, g, p, hw, b);
    };
    const a = computeCenternet(inp, { focal });
    assert.equal(calls, 1);
    assert.equal(a.loss, computeCenternet(inp).loss);
  });

  it('non-finite values propagate like torch, without throwing', async () => {
    const inp = await loadMmdetCornernet(path.join(CONV, 'mmdet_cornernet', 'c01_basic'), 'float64');
    // A NaN offset prediction at an unsupervised pixel: loss * weight = NaN * 0 = NaN.
    const offs = Float64Array.from(inp.tlOffs[0]!);
    offs[0] = NaN;
    const r = computeMmdetCornernet({ ...inp, tlOffs: [offs] });
    assert.ok(Number.isNaN(r.levels[0]!.off_tl) && Number.isNaN(r.total));
    assert.ok(Number.isFinite(r.levels[0]!.det));
    assert.ok(codes(r.warnings).has('non-finite'));
    // An infinite embedding in an image with objects: the diagonal 0 * (1 - |Inf - Inf|) is NaN.
    const emb = Float64Array.from(inp.tlEmbs[0]!);
    const o = r.objects[0]!;
    emb[o.tl[0] * inp.dims.W + o.tl[1]] = Infinity;
    assert.ok(Number.isNaN(computeMmdetCornernet({ ...inp, tlEmbs: [emb] }).levels[0]!.push));
    // +Inf logit: sigmoid 1 exactly (a finite 27.63 per negative), not NaN.
    const heat = Float64Array.from(inp.tlHeats[0]!);
    heat[1] = Infinity;
    assert.ok(Number.isFinite(computeMmdetCornernet({ ...inp, tlHeats: [heat] }).total));
  });

  it('mmdet: targets above 1 are negatives weighted (1 - g)^4; CenterNet ignores them', () => {
    const B = 1, C = 1, H = 1, W = 2;
    const pred = new Float64Array([0.5, 0.25]);
    const gt = new Float64Array([1, 1.5]);
    const zeros = new Float64Array(B * 2 * H * W);
    const r = computeMmdetCenternet({
      dims: { B, C, H, W },
      centerHeatmapPred: pred,
      whPred: zeros,
      offsetPred: zeros,
      centerHeatmapTarget: gt,
      whTarget: zeros,
      offsetTarget: zeros,
      whOffsetTargetWeight: zeros,
      precision: 'float64',
    });
    const expected = -Math.log(0.5 + 1e-12) * 0.25 - Math.log(1 - 0.25 + 1e-12) * 0.0625 * 0.5 ** 4;
    assertClose(r.terms.loss_center_heatmap, expected / (1 + 2 ** -23), 1e-12, 0, 'heat');
    assert.ok(codes(r.warnings).has('gt-above-one') && codes(r.warnings).has('no-weighted-pixels'));
    assert.equal(r.terms.loss_wh, 0);
    const logit = (p: number) => Math.log(p / (1 - p));
    const c = computeCenternet({
      dims: { stacks: 1, B, C, H, W, K: 1 },
      hm: [new Float64Array([logit(0.5), logit(0.25)])],
      wh: [zeros],
      reg: [zeros],
      target: { hm: gt, regMask: new Uint8Array(1), ind: new Int32Array(1), wh: new Float64Array(2), reg: new Float64Array(2) },
      precision: 'float64',
    });
    assertClose(c.terms.hm_loss, -Math.log(0.5) * 0.25, 1e-12, 0, 'CenterNet ignores gt > 1');
    assert.ok(codes(c.warnings).has('gt-above-one') && codes(c.warnings).has('empty-images'));
  });

  it('CenterNet: too many objects, out-of-range index, no positives', () => {
    const B = 1, C = 1, H = 16, W = 16, K = 200;
    const regMask = new Uint8Array(K).fill(1);
    const ind = new Int32Array(K).map((_, k) => k);
    ind[5] = H * W; // outside the map: the gather raises upstream
    const r = computeCenternet({
      dims: { stacks: 1, B, C, H, W, K },
      hm: [new Float32Array(H * W).fill(-3)],
      wh: [new Float32Array(2 * H * W)],
      reg: [new Float32Array(2 * H * W)],
      target: { hm: new Float32Array(H * W), regMask, ind, wh: new Float32Array(K * 2), reg: new Float32Array(K * 2) },
      precision: 'float32',
    });
    for (const c of ['too-many-objects', 'index-out-of-range', 'no-positives']) assert.ok(codes(r.warnings).has(c), c);
    assert.ok(Number.isNaN(r.terms.wh_loss));
    assert.ok(Number.isFinite(r.terms.hm_loss) && r.terms.hm_loss > 0);
  });

  it('divisors: the float32/float64 quirks of conventions.md', async () => {
    const { mmdetCountDivisor, mmdetFloatCountDivisor, mmdetDoubledCountDivisor, centernetRegDivisor, sigmoid32 } = await import('../../src/cornernet/loss/dense');
    assert.equal(mmdetCountDivisor(0), 1 + 2 ** -23);
    assert.equal(mmdetCountDivisor(1), 1 + 2 ** -23);
    assert.equal(mmdetCountDivisor(5), 5);
    assert.equal(mmdetFloatCountDivisor(5, 'float64'), 5 + 2 ** -23);
    assert.equal(mmdetFloatCountDivisor(5, 'float32'), 5);
    assert.equal(mmdetDoubledCountDivisor(1, 'float64'), 2 + 2 ** -23);
    assert.equal(mmdetDoubledCountDivisor(1, 'float32'), 2);
    assert.equal(mmdetDoubledCountDivisor(3, 'float64'), 6);
    assert.equal(centernetRegDivisor(0), Math.fround(1e-4));
    assert.equal(centernetRegDivisor(8), Math.fround(8 + Math.fround(1e-4)));
    assert.equal(sigmoid32(16.7), 1);
    assert.ok(sigmoid32(16.5) < 1);
  });
});

// ---------------------------------------------------------------------------------------------

function numericLeaves(v: unknown): number {
  if (typeof v === 'number') return 1;
  if (Array.isArray(v)) return v.reduce((a: number, x) => a + numericLeaves(x), 0);
  if (v && typeof v === 'object') return Object.values(v).reduce((a: number, x) => a + numericLeaves(x), 0);
  return 0;
}

it('every number of every fixture block was checked', () => {
  let expected = 0;
  for (const conv of ['mmdet_cornernet', 'centernet', 'mmdet_centernet']) {
    for (const name of cases(conv)) {
      const exp = json(path.join(CONV, conv, name, 'expected.json'));
      expected += numericLeaves(exp.float32) + numericLeaves(exp.float64);
    }
  }
  for (const file of asMmdet) {
    const exp = json(path.join(CONV, 'cornernet_as_mmdet', file));
    expected += numericLeaves(exp.mmdet.float32) + numericLeaves(exp.mmdet.float64) + 1; // + numpy_ref_float64_total
  }
  assert.equal(checked, expected);
  console.log(`fixture numbers checked: ${checked}`);
  for (const b of ['float32', 'float64'] as const) console.log(`worst relative difference, ${b} blocks: ${worst[b].rel.toExponential(2)} (${worst[b].what})`);
});
