/**
 * The gradient view and the ground-truth ablation (issue 14). Gradients: the per-pixel
 * d(loss)/d(logit) against central differences of the per-pixel loss, and the report's norm per
 * term and stack against central differences of the engine's own total (float64 inputs, exact
 * arithmetic). Ablation: AP@0.5 arithmetic, a healthy batch found whole with every target, a
 * planted fault blamed on its head, CenterNet's variants, the gathered-only case, the CLI.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ablationOf, computeLossFromFiles, computeLossWithInputs } from '../../src/cornernet/run';
import { computeLoss } from '../../src/cornernet/loss/cornernet';
import { averagePrecision } from '../../src/cornernet/views/ablation';
import { FLOAT32_BOUNDS, FLOAT64_BOUNDS, clampedSigmoid, pixelFocalGrad, pixelFocalLoss, plainBounds } from '../../src/cornernet/model/pixel';
import type { LossInputs } from '../../src/cornernet/model/batch';
import type { Corner } from '../../src/cornernet/model/roles';
import { encodeNpy } from '../../src/tensor/npy';
import type { Tensor } from '../../src/tensor/tensor';
import { makeSyntheticBatch, type SyntheticBatch } from '../support/synthetic';

const CONV = path.join(process.cwd(), 'test', 'fixtures', 'conventions');
const CORNERNET = path.join(process.cwd(), 'test', 'fixtures', 'cornernet');
const SAMPLE = path.join(process.cwd(), 'sample');
const CLI = path.join(process.cwd(), 'dist', 'cli.js');

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-grad-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const STEMS: Record<string, string> = {
  tl_heat: 'tl_heat', br_heat: 'br_heat', tl_tag_map: 'tl_tag', br_tag_map: 'br_tag', tl_regr_map: 'tl_regr', br_regr_map: 'br_regr',
  gt_tl_heat: 'gt_tl_heat', gt_br_heat: 'gt_br_heat', gt_mask: 'gt_mask', gt_tl_regr: 'gt_tl_regr', gt_br_regr: 'gt_br_regr', tl_ind: 'tl_ind', br_ind: 'br_ind',
};

function write(name: string, batch: SyntheticBatch, float64 = false): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  for (const [array, stem] of Object.entries(STEMS)) {
    const t = batch.arrays[array]!;
    const out: Tensor = float64 && t.dtype === 'float32' ? { ...t, dtype: 'float64', data: Float64Array.from(t.data as Float32Array) } : t;
    writeFileSync(path.join(dir, `${stem}.npy`), encodeNpy(out));
  }
  return dir;
}

describe('per-pixel gradient d(loss)/d(logit)', () => {
  const xs = [-9.5, -6, -3.2, -1, -0.25, 0, 0.4, 1.7, 3, 6.5, 9.1];
  const gs = [0, 0.2, 0.65, 0.97, 1];
  for (const [name, bounds] of [['original float64', FLOAT64_BOUNDS], ['original float32', FLOAT32_BOUNDS], ['mmdet (no clamp)', plainBounds('float64')]] as const) {
    it(`matches central differences of the pixel loss (${name})`, () => {
      const loss = (x: number, g: number) => pixelFocalLoss(bounds.plain ? 1 / (1 + Math.exp(-x)) : clampedSigmoid(x, { ...bounds, round32: false }), g, bounds.plain);
      let checked = 0;
      for (const x of xs) {
        for (const g of gs) {
          const grad = pixelFocalGrad(x, g, bounds);
          const h = 1e-5;
          const p = 1 / (1 + Math.exp(-x));
          if (!bounds.plain && (p <= bounds.lo || p >= bounds.hi)) {
            assert.equal(grad, 0, `x ${x}: the clamp holds p, no gradient`);
            continue;
          }
          const numeric = (loss(x + h, g) - loss(x - h, g)) / (2 * h);
          assert.ok(Math.abs(grad - numeric) <= 1e-6 + 1e-5 * Math.abs(numeric), `x ${x}, g ${g}: ${grad} vs ${numeric}`);
          checked++;
        }
      }
      assert.ok(checked >= 40, `${checked} points checked`);
    });
  }
  it('is negative at an under-predicted positive, positive at an over-predicted negative, NaN for NaN', () => {
    assert.ok(pixelFocalGrad(-2, 1, FLOAT32_BOUNDS) < 0);
    assert.ok(pixelFocalGrad(2, 0, FLOAT32_BOUNDS) > 0);
    assert.ok(Number.isNaN(pixelFocalGrad(NaN, 0, FLOAT32_BOUNDS)));
    assert.equal(pixelFocalGrad(0.5, 1.5, FLOAT32_BOUNDS), 0, 'targets above 1 are ignored by the original');
  });
});

describe('gradient norms per term and stack', () => {
  it('equal the norms of central differences of the engine\'s own terms (float64, exact)', async () => {
    const spec = { S: 2, B: 2, C: 2, H: 8, W: 8, K: 4, objectsPerImage: [2, 3], seed: 77, logitMean: -2.5, logitStd: 1.2 };
    const dir = write('tiny64', makeSyntheticBatch(spec), true);
    const { report, inputs } = await computeLossWithInputs({ paths: [dir] }, { arithmetic: 'exact' });
    assert.equal(report.precision, 'float64');
    const gradients = report.gradients!;
    const norm = (stack: number, term: string, wrt: string) => gradients.find((g) => g.stack === stack && g.term === term && g.wrt.startsWith(wrt))!.norm;
    const contribution = (i: LossInputs, t: 'focal' | 'pull' | 'push' | 'regr') => computeLoss(i, { arithmetic: 'exact' }).contribution[t]!;
    /** The norm of d(contribution[t])/d(values) over the listed indices, by central differences. */
    const numericNorm = (values: Float64Array | Float32Array | number[], indices: number[], t: 'focal' | 'pull' | 'push' | 'regr') => {
      const h = 1e-6;
      let sum = 0;
      for (const i of indices) {
        const v = values[i]!;
        values[i] = v + h;
        const up = contribution(inputs, t);
        values[i] = v - h;
        const down = contribution(inputs, t);
        values[i] = v;
        sum += ((up - down) / (2 * h)) ** 2;
      }
      return Math.sqrt(sum);
    };
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 + 1e-4 * Math.abs(b), `${what}: analytic ${a} vs numeric ${b}`);
    const { B, C, H, W, K } = inputs.dims;
    const all = Array.from({ length: B * C * H * W }, (_, i) => i);
    let nonzero = 0;
    for (let s = 0; s < spec.S; s++) {
      for (const c of ['tl', 'br'] as Corner[]) {
        const n = numericNorm(inputs.heat[c][s]!.logits, all, 'focal');
        close(norm(s, 'focal_loss', `${c} heatmap`), n, `focal, stack ${s}, ${c}`);
        if (n > 0) nonzero++;
      }
      const slots = Array.from({ length: B * K }, (_, i) => i);
      const tags = (t: 'pull' | 'push') => Math.hypot(numericNorm(inputs.tag.tl[s]!, slots, t), numericNorm(inputs.tag.br[s]!, slots, t));
      close(norm(s, 'pull_loss', 'embeddings'), tags('pull'), `pull, stack ${s}`);
      close(norm(s, 'push_loss', 'embeddings'), tags('push'), `push, stack ${s}`);
      const offsets = Array.from({ length: B * K * 2 }, (_, i) => i);
      close(norm(s, 'regr_loss', 'offsets'), Math.hypot(numericNorm(inputs.regr.tl[s]!, offsets, 'regr'), numericNorm(inputs.regr.br[s]!, offsets, 'regr')), `regr, stack ${s}`);
    }
    assert.equal(nonzero, 4, 'every heatmap carries a gradient');
  });

  it('are in every convention\'s report, by its term names', async () => {
    const cases: [string, string[]][] = [
      ['mmdet_cornernet/c01_basic', ['det_loss', 'pull_loss', 'push_loss', 'off_loss']],
      ['centernet/c01_basic', ['hm_loss', 'wh_loss', 'off_loss']],
      ['mmdet_centernet/c01_basic', ['loss_center_heatmap', 'loss_wh', 'loss_offset']],
    ];
    for (const [fixture, terms] of cases) {
      const r = await computeLossFromFiles({ paths: [path.join(CONV, fixture)] });
      const got = new Set(r.gradients!.map((g) => g.term));
      for (const t of terms) assert.ok(got.has(t), `${fixture}: a gradient norm for ${t} (${[...got].join(', ')})`);
      for (const g of r.gradients!) assert.ok(Number.isFinite(g.norm) && g.norm >= 0, `${fixture} ${g.term}: ${g.norm}`);
    }
  });
});

describe('ground-truth ablation', () => {
  it('AP@0.5: all-point interpolated precision over recall', () => {
    assert.equal(averagePrecision([], 3), 0);
    assert.equal(averagePrecision([{ score: 0.9, tp: true }], 0), 0);
    // precision 1, 1/2, 2/3 -> monotone 1, 2/3, 2/3; recall 1/2 then 1.
    assert.ok(Math.abs(averagePrecision([{ score: 0.7, tp: true }, { score: 0.9, tp: true }, { score: 0.8, tp: false }], 2) - (0.5 + 0.5 * (2 / 3))) < 1e-12);
    assert.equal(averagePrecision([{ score: 0.5, tp: true }, { score: 0.4, tp: true }], 2), 1);
    assert.equal(averagePrecision([{ score: 0.5, tp: true }], 4), 0.25);
  });

  it('the healthy sample: every object found with all targets; AP in [0, 1]; nothing limits more than the heatmaps', async () => {
    const r = await computeLossFromFiles({ paths: [SAMPLE] }, { ablation: true });
    const a = r.ablation!;
    assert.equal(a.unavailable, undefined);
    assert.deepEqual(a.rows.map((x) => x.variant), ['as-is', 'target-heatmaps', 'perfect-grouping', 'target-offsets', 'all-targets']);
    assert.equal(a.stack, r.nstack - 1, 'the last stack, as the original tests');
    const objects = r.objects.filter((o) => o.stack === a.stack).length;
    for (const row of a.rows) {
      assert.equal(row.objects, objects, `${row.variant}: every object counted`);
      assert.ok(row.ap50 >= 0 && row.ap50 <= 1 && row.matched <= row.objects && row.missed.length === Math.min(20, row.objects - row.matched), row.variant);
    }
    const all = a.rows.find((x) => x.variant === 'all-targets')!;
    assert.equal(all.matched, objects);
    assert.equal(all.ap50, 1);
    assert.equal(all.detections, objects, 'every target decodes to exactly its box');
    assert.ok(typeof r.timings.ablationMs === 'number');
  });

  it('a batch with its positives at the clamp floor is limited by its heatmaps; its offsets by the offsets', async () => {
    const spec = { S: 2, B: 2, C: 4, H: 64, W: 64, K: 16, objectsPerImage: [4, 3], seed: 511, logitMean: -4.2, logitStd: 0.9 };
    // Healthy predictions made sharper (peaks at the objects), so that as-is finds most objects.
    const base = makeSyntheticBatch(spec);
    const floor = makeSyntheticBatch(spec);
    for (const c of ['tl', 'br']) {
      const gt = floor.arrays[`gt_${c}_heat`]!.data as Float32Array;
      const heat = floor.arrays[`${c}_heat`]!.data as Float32Array;
      for (let s = 0; s < spec.S; s++) for (let i = 0; i < gt.length; i++) if (gt[i] === 1) heat[s * gt.length + i] = -30;
    }
    const healthy = (await computeLossFromFiles({ paths: [write('abl-healthy', base)] }, { ablation: true })).ablation!;
    const broken = (await computeLossFromFiles({ paths: [write('abl-floor', floor)] }, { ablation: true })).ablation!;
    const ap = (a: typeof healthy, v: string) => a.rows.find((x) => x.variant === v)!.ap50;
    assert.ok(ap(broken, 'as-is') < ap(healthy, 'as-is'), `the floor costs AP: ${ap(broken, 'as-is')} < ${ap(healthy, 'as-is')}`);
    assert.equal(broken.limitingHead, 'target-heatmaps');
    // A neighbour of a floored peak may still decode to a box close enough: not every object is lost.
    const asIs = broken.rows.find((x) => x.variant === 'as-is')!;
    assert.ok(asIs.matched < asIs.objects && asIs.missed.every((m) => m.reason.length > 10), JSON.stringify(asIs.missed.slice(0, 3)));
    assert.equal(ap(broken, 'target-heatmaps'), ap(healthy, 'target-heatmaps'), 'the target heatmaps do not depend on the predictions');

    // Offsets far off (3 pixels) at every corner: only the target offsets bring the boxes back.
    const off = makeSyntheticBatch(spec);
    for (const c of ['tl', 'br']) {
      const gt = off.arrays[`gt_${c}_heat`]!.data as Float32Array;
      const heat = off.arrays[`${c}_heat`]!.data as Float32Array;
      for (let s = 0; s < spec.S; s++) for (let i = 0; i < gt.length; i++) heat[s * gt.length + i] = gt[i] === 1 ? 6 : -8;
      const regr = off.arrays[`${c}_regr_map`]!.data as Float32Array;
      regr.fill(c === 'tl' ? 3 : -3);
    }
    const offsets = (await computeLossFromFiles({ paths: [write('abl-offsets', off)] }, { ablation: true })).ablation!;
    assert.equal(offsets.limitingHead, 'target-offsets', JSON.stringify(offsets.rows.map((x) => [x.variant, x.ap50])));
  });

  it('CenterNet: the sizes instead of the grouping; every object found with all targets', async () => {
    const r = await computeLossFromFiles({ paths: [path.join(CONV, 'centernet', 'c01_basic')] }, { ablation: true });
    const a = r.ablation!;
    assert.deepEqual(a.rows.map((x) => x.variant), ['as-is', 'target-heatmaps', 'target-sizes', 'target-offsets', 'all-targets']);
    const all = a.rows.find((x) => x.variant === 'all-targets')!;
    assert.ok(all.objects > 0);
    assert.equal(all.matched, all.objects, JSON.stringify(all.missed));
    for (const row of a.rows) assert.ok(row.ap50 >= 0 && row.ap50 <= 1);
  });

  it('gathered values only: the ablation says why it is missing, the loss stands', async () => {
    const r = await computeLossFromFiles({ paths: [path.join(CORNERNET, 'p01_basic')] }, { ablation: true });
    assert.ok(Number.isFinite(r.total));
    if (r.ablation!.unavailable) assert.match(r.ablation!.unavailable, /decoding needs the embedding and offset maps/);
    else assert.ok(r.ablation!.rows.length === 5, 'p01 has its maps: a full ablation');
    // Without maps: a computed batch stripped of them.
    const { inputs } = await computeLossWithInputs({ paths: [path.join(CORNERNET, 'p01_basic')] });
    const stripped: LossInputs = { ...inputs };
    delete stripped.tagMap;
    delete stripped.regrMap;
    const a = ablationOf(stripped);
    assert.deepEqual(a.rows, []);
    assert.match(a.unavailable!, /only gathered values/);
  });

  it('CLI: "ablation" in --json and a table in the text; --no-ablation leaves it out', () => {
    const json = spawnSync('node', [CLI, '--json', SAMPLE], { encoding: 'utf8' });
    assert.equal(json.status, 0, json.stderr);
    const r = JSON.parse(json.stdout);
    assert.equal(r.ablation.rows.length, 5);
    assert.ok(Array.isArray(r.gradients) && r.gradients.length > 0);
    const text = spawnSync('node', [CLI, SAMPLE], { encoding: 'utf8' });
    assert.match(text.stdout, /ablation \(stack 1 decoded with each head's target swapped in/);
    assert.match(text.stdout, /all-targets\s+7\/7/);
    assert.match(text.stdout, /gradient norms/);
    const none = spawnSync('node', [CLI, '--json', '--no-ablation', SAMPLE], { encoding: 'utf8' });
    assert.equal(JSON.parse(none.stdout).ablation, undefined);
  });
});
