/**
 * The streamed focal pass (stream.ts): the heatmaps read chunk by chunk from the files by every
 * thread, never whole. Its report must be the in-memory path's, bit for bit, whatever the data
 * holds (NaN, saturated logits, near-one and above-one targets, per-stack files), and a file that
 * changes under it must fail with an error naming it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { discoverInputs } from '../../src/cornernet/inputs/discover';
import { resolveRoles } from '../../src/cornernet/inputs/resolve';

import { FocalWorkers } from '../../src/cornernet/focal/parallel';
import { planStreamedHeat } from '../../src/cornernet/inputs/heatPlan';
import { makeSyntheticBatch } from '../support/synthetic';
import type { LossReport } from '../../src/cornernet/model/report';
import { encodeNpy } from '../../src/tensor/npy';
import { TensorReadError } from '../../src/tensor/errors';
import type { Tensor } from '../../src/tensor/tensor';
import { FIXTURES, fixtureCases } from './helpers';

const tmp: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'cornernet-stream-'));
  tmp.push(d);
  return d;
}
after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A report without its timings (which differ from run to run). */
const comparable = (r: LossReport) => ({ ...r, timings: null });

function writeArrays(dir: string, arrays: Record<string, Tensor>): void {
  for (const [name, t] of Object.entries(arrays)) writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(t));
}

/** Threads from this many pass pixels on, in these tests (the default is for real sizes). */
const MIN_THREADED = 1 << 21;

/** A batch large enough for worker threads (MIN_THREADED), with every unusual value the pass must report. */
function largeBatch(seed: number): Record<string, Tensor> {
  const { arrays } = makeSyntheticBatch({ S: 2, B: 2, C: 16, H: 128, W: 128, K: 8, objectsPerImage: [3, 2], seed, logitMean: -3, logitStd: 2.5 });
  const tl = arrays.tl_heat!.data as Float32Array;
  const br = arrays.br_heat!.data as Float32Array;
  const gt = arrays.gt_tl_heat!.data as Float32Array;
  const N = tl.length / 2;
  tl[12345] = NaN;
  tl[N + 777] = Infinity; // stack 1
  br[99] = -Infinity;
  for (let i = 0; i < 500; i++) br[3 * N / 4 + i * 7] = 30; // saturated, late in the heatmap
  gt[40000] = 0.9995; // near one: a negative that looks like a peak
  gt[N / 2 + 17] = 1.5; // above one: ignored
  gt[N - 3] = NaN;
  return arrays;
}

describe('streamed focal pass', () => {
  let large: string;
  before(() => {
    large = tempDir();
    writeArrays(large, largeBatch(11));
  });

  it('gives the in-memory report, bit for bit, on one thread and on several', async () => {
    const whole = await computeLossFromFiles({ paths: [large] }, { stream: false, threads: 1, topPixels: 9 });
    for (const threads of [1, 2, 3]) {
      const streamed = await computeLossFromFiles({ paths: [large] }, { threads, topPixels: 9, minThreadedPixels: MIN_THREADED });
      assert.equal(typeof streamed.timings.heatmapReadMs, 'number', 'the heatmaps were streamed');
      assert.deepEqual(comparable(streamed), comparable(whole), `threads ${threads}`);
    }
    // What the pass saw is in the report: non-finite counts per file, the near-one and above-one values.
    const nonFinite = Object.fromEntries(whole.inputs.roles.filter((r) => r.nonFinite).map((r) => [r.role, r.nonFinite]));
    assert.deepEqual(nonFinite, { tl_heat: 2, br_heat: 1, gt_tl_heat: 1 });
    const codes = whole.warnings.map((w) => w.code);
    for (const code of ['near-one-peak', 'gt-above-one', 'non-finite', 'saturated-logits']) assert.ok(codes.includes(code as never), `${code} in ${codes.join(', ')}`);
    assert.match(whole.warnings.find((w) => w.code === 'near-one-peak')!.message, /first 0\.999499977/);
    assert.match(whole.warnings.find((w) => w.code === 'gt-above-one')!.message, /first 1\.50* at/);
  });

  it('every fixture: the streamed report is the in-memory one', async () => {
    for (const c of fixtureCases()) {
      const dir = path.join(FIXTURES, c);
      const whole = await computeLossFromFiles({ paths: [dir] }, { stream: false });
      const streamed = await computeLossFromFiles({ paths: [dir] }, {});
      assert.deepEqual(comparable(streamed), comparable(whole), c);
    }
  });

  it('per-stack files (tl_heat_0.npy, tl_heat_1.npy) and float64 heatmaps stream too', async () => {
    const arrays = largeBatch(12);
    const dir = tempDir();
    const split: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(arrays)) {
      if (name === 'tl_heat' || name === 'br_heat') {
        const inner = t.size / 2;
        for (let s = 0; s < 2; s++) {
          const data = (t.data as Float32Array).slice(s * inner, (s + 1) * inner);
          split[`${name}_${s}`] = name === 'br_heat'
            ? { dtype: 'float64', shape: t.shape.slice(1), size: inner, data: Float64Array.from(data) }
            : { dtype: 'float32', shape: t.shape.slice(1), size: inner, data };
        }
      } else split[name] = t;
    }
    writeArrays(dir, split);
    const whole = await computeLossFromFiles({ paths: [dir] }, { stream: false, threads: 1 });
    const streamed = await computeLossFromFiles({ paths: [dir] }, { threads: 2, minThreadedPixels: MIN_THREADED });
    assert.equal(typeof streamed.timings.heatmapReadMs, 'number');
    assert.deepEqual(comparable(streamed), comparable(whole));
    assert.equal(whole.precision, 'float32', 'mixed stacks: float32 and float64 bounds per stack');
  });

  it('maps are gathered from their files a plane at a time: the report of whole maps (maps only, per-stack float64, NaN, a mismatch)', async () => {
    const { arrays } = makeSyntheticBatch({ S: 2, B: 2, C: 4, H: 32, W: 24, K: 6, objectsPerImage: [3, 2], seed: 17 });
    // Maps only: the loss gathers them (one per-stack pair in float64, one with a NaN the report counts).
    const mapsOnly = tempDir();
    const only: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(arrays)) {
      if (['tl_tag', 'br_tag', 'tl_regr', 'br_regr'].includes(name)) continue;
      if (name === 'br_regr_map') {
        const inner = t.size / 2;
        for (let s = 0; s < 2; s++) {
          const data = Float64Array.from((t.data as Float32Array).subarray(s * inner, (s + 1) * inner));
          only[`br_regr_map_${s}`] = { dtype: 'float64', shape: t.shape.slice(1), size: inner, data };
        }
      } else only[name] = t;
    }
    const tagMap = only.tl_tag_map!;
    const withNaN = { ...tagMap, data: Float32Array.from(tagMap.data as Float32Array) };
    (withNaN.data as Float32Array)[5] = NaN; // not at an index: counted, not used
    only.tl_tag_map = withNaN;
    writeArrays(mapsOnly, only);
    // Maps besides gathered values that differ from them in one place: the check's warning.
    const both = tempDir();
    const tlTag = arrays.tl_tag!;
    const changed = { ...tlTag, data: Float32Array.from(tlTag.data as Float32Array) };
    (changed.data as Float32Array)[3] += 0.5;
    writeArrays(both, { ...arrays, tl_tag: changed });
    for (const dir of [mapsOnly, both]) {
      const whole = await computeLossFromFiles({ paths: [dir] }, { stream: false, threads: 1 });
      const streamed = await computeLossFromFiles({ paths: [dir] }, { threads: 1 });
      assert.equal(typeof streamed.timings.heatmapReadMs, 'number', 'streamed');
      assert.deepEqual(comparable(streamed), comparable(whole), dir === both ? 'maps and gathered values' : 'maps only');
    }
    const onlyReport = await computeLossFromFiles({ paths: [mapsOnly] }, { threads: 1 });
    assert.equal(onlyReport.inputs.roles.find((r) => r.file.endsWith('tl_tag_map.npy'))?.nonFinite, 1);
    const bothReport = await computeLossFromFiles({ paths: [both] }, { threads: 1 });
    assert.ok(bothReport.warnings.some((w) => w.code === 'gather-mismatch' && /1 of/.test(w.message)), 'the mismatch is reported');
    // An index outside the maps: the same error as from whole maps, naming the index file.
    const bad = tempDir();
    const ind = arrays.tl_ind!;
    const badInd = { ...ind, data: (ind.data as BigInt64Array | Int32Array).slice() };
    (badInd.data as BigInt64Array)[2] = typeof (badInd.data as BigInt64Array)[2] === 'bigint' ? 100000n : (100000 as never);
    writeArrays(bad, { ...only, tl_ind: badInd });
    await assert.rejects(computeLossFromFiles({ paths: [bad] }, { threads: 1 }), /tl_ind.*outside \[0, 768\)/);
  });

  it('heatmaps it cannot stream (Fortran order) are read whole: the report of the same values in C order', async () => {
    const { arrays } = makeSyntheticBatch({ S: 2, B: 2, C: 16, H: 128, W: 128, K: 8, objectsPerImage: [3, 2], seed: 13, logitMean: -3, logitStd: 2.5 });
    const cOrder = tempDir();
    writeArrays(cOrder, arrays);
    const dir = tempDir();
    writeArrays(dir, arrays);
    const gt = arrays.gt_br_heat!;
    // The same values stored in Fortran order: numpy's layout, read back in C order.
    const [B, C, H, W] = gt.shape as [number, number, number, number];
    const fortran = new Float32Array(gt.size);
    const src = gt.data as Float32Array;
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      fortran[b + B * (c + C * (y + H * x))] = src[((b * C + c) * H + y) * W + x]!;
    }
    const bytes = encodeNpy({ ...gt, data: fortran });
    const text = Buffer.from(bytes.subarray(0, 128)).toString('latin1').replace("'fortran_order': False", "'fortran_order': True ");
    Buffer.from(text, 'latin1').copy(bytes, 0);
    writeFileSync(path.join(dir, 'gt_br_heat.npy'), bytes);
    const discovery = await discoverInputs({ paths: [dir] });
    const plan = await planStreamedHeat(resolveRoles(discovery.candidates, discovery.arrays));
    assert.match(String(plan), /gt_br_heat\.npy is in Fortran order/);
    const fallback = await computeLossFromFiles({ paths: [dir] }, { threads: 2, minThreadedPixels: MIN_THREADED });
    assert.equal(fallback.timings.heatmapReadMs, undefined, 'read whole');
    const streamed = await computeLossFromFiles({ paths: [cOrder] }, { threads: 2, minThreadedPixels: MIN_THREADED });
    assert.equal(typeof streamed.timings.heatmapReadMs, 'number');
    const numbers = (r: LossReport) => ({ total: r.total, unweighted: r.unweighted, perStack: r.perStack, topPixels: r.topPixels, objects: r.objects });
    assert.ok(Number.isFinite(streamed.total));
    assert.deepEqual(numbers(fallback), numbers(streamed));
  });

  it('a heatmap file cut short during the pass fails with a read error naming it, on every thread', async () => {
    const dir = tempDir();
    for (const f of readdirSync(large)) copyFileSync(path.join(large, f), path.join(dir, f));
    const discovery = await discoverInputs({ paths: [dir] });
    const resolution = resolveRoles(discovery.candidates, discovery.arrays);
    const plan = await planStreamedHeat(resolution);
    assert.ok(typeof plan !== 'string');
    const { B, C, H, W, S } = resolution.dims!;
    assert.ok(2 * S * B * C * H * W >= MIN_THREADED);
    truncateSync(path.join(dir, 'br_heat.npy'), 1000); // br is the second job: both threads get there
    const workers = FocalWorkers.start(1, { warm: true });
    try {
      await assert.rejects(workers.streamedSums(plan, B * C, H * W, 5), (e: unknown) => {
        assert.ok(e instanceof TensorReadError, String(e));
        assert.equal(e.kind, 'truncated');
        assert.match(e.message, /br_heat\.npy/);
        assert.match(e.message, /changed while it was being read/);
        return true;
      });
      // Fixed, the same workers compute again.
      copyFileSync(path.join(large, 'br_heat.npy'), path.join(dir, 'br_heat.npy'));
      const r = await workers.streamedSums(plan, B * C, H * W, 5);
      r.values.close();
      assert.equal(r.focalSums.br.length, S);
    } finally {
      await workers.close();
    }
  });

  it('cancelling (a throw from onProgress) stops the pass', async () => {
    let calls = 0;
    await assert.rejects(
      computeLossFromFiles({ paths: [large] }, {
        threads: 2,
        minThreadedPixels: MIN_THREADED,
        onProgress: (_f, stage) => {
          if (stage.startsWith('focal')) {
            calls++;
            throw new Error('cancelled by the user');
          }
        },
      }),
      /cancelled by the user/,
    );
    assert.equal(calls, 1);
  });
});
