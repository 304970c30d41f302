/**
 * The diagnosis: a healthy batch has no finding; each fault planted in an otherwise healthy batch
 * gives its code, and only that one (CornerNet, from files, streamed and whole); the other
 * conventions' fixtures with their planted faults, and without.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles, computeLossWithInputs } from '../../src/cornernet/run';
import { gaussianRadiusOriginal } from '../../src/cornernet/diagnose/findings';
import type { Finding } from '../../src/cornernet/model/findings';
import { encodeNpy } from '../../src/tensor/npy';
import type { Tensor } from '../../src/tensor/tensor';
import { drawGaussian, makeSyntheticBatch, type SyntheticBatch } from '../support/synthetic';

const CONV = path.join(process.cwd(), 'test', 'fixtures', 'conventions');
const CORNERNET = path.join(process.cwd(), 'test', 'fixtures', 'cornernet');
const CLI = path.join(process.cwd(), 'dist', 'cli.js');
const SPEC = { S: 2, B: 2, C: 4, H: 64, W: 64, K: 16, objectsPerImage: [4, 3], seed: 511, logitMean: -4.2, logitStd: 0.9 };

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-findings-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const STEMS: Record<string, string> = {
  tl_heat: 'tl_heat', br_heat: 'br_heat', tl_tag_map: 'tl_tag', br_tag_map: 'br_tag', tl_regr_map: 'tl_regr', br_regr_map: 'br_regr',
  gt_tl_heat: 'gt_tl_heat', gt_br_heat: 'gt_br_heat', gt_mask: 'gt_mask', gt_tl_regr: 'gt_tl_regr', gt_br_regr: 'gt_br_regr', tl_ind: 'tl_ind', br_ind: 'br_ind',
};

function write(name: string, batch: SyntheticBatch): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  for (const [array, stem] of Object.entries(STEMS)) writeFileSync(path.join(dir, `${stem}.npy`), encodeNpy(batch.arrays[array]!));
  return dir;
}

const f32 = (t: Tensor) => t.data as Float32Array;
const codes = (fs: Finding[] | undefined) => (fs ?? []).map((f) => f.code);

/** A healthy batch, planted with one fault; the findings from both file paths (streamed and whole) agree. */
async function planted(name: string, plant: (b: SyntheticBatch) => void): Promise<Finding[]> {
  const b = makeSyntheticBatch(SPEC);
  plant(b);
  const dir = write(name, b);
  const streamed = await computeLossFromFiles({ paths: [dir] });
  const whole = (await computeLossWithInputs({ paths: [dir] })).report;
  assert.deepEqual(codes(streamed.findings), codes(whole.findings), `${name}: streamed and whole arrays find the same`);
  return streamed.findings ?? [];
}

function only(fs: Finding[], code: string): Finding {
  assert.deepEqual(codes(fs), [code], `exactly ${code}: ${fs.map((f) => `${f.code} (${f.title})`).join('; ')}`);
  const f = fs[0]!;
  assert.ok(f.title.length > 10 && f.advice.length > 20 && Array.isArray(f.evidence.where));
  return f;
}

describe('findings on CornerNet batches', () => {
  it('a healthy batch (the sample, built the same way) has none', async () => {
    assert.deepEqual(await planted('healthy', () => undefined), []);
    const sample = await computeLossFromFiles({ paths: [path.join(process.cwd(), 'sample')] });
    assert.deepEqual(codes(sample.findings), [], 'the bundled sample is healthy');
    assert.equal(typeof sample.timings.diagnoseMs, 'number');
  });

  it('clamp-floor-positives: positives at the floor, located, with their share of the heat loss', async () => {
    const f = only(
      await planted('floor', (b) => {
        const heat = f32(b.arrays.tl_heat!);
        const gt = f32(b.arrays.gt_tl_heat!);
        const n = gt.length;
        for (let s = 0; s < SPEC.S; s++) for (let i = 0; i < n; i++) if (gt[i] === 1) heat[s * n + i] = -20;
      }),
      'clamp-floor-positives',
    );
    assert.equal(f.evidence.count, 7, 'the 7 tl positives');
    assert.ok((f.evidence.shareOfHeat as number) > 0.2);
    assert.ok(f.evidence.where.every((w) => w.head === 'tl' && w.x !== undefined));
  });

  it('collapsed-heatmap: a stack whose heatmap sits at the floor', async () => {
    const f = only(
      await planted('collapsed', (b) => {
        const heat = f32(b.arrays.br_heat!);
        heat.fill(-12, heat.length / 2);
      }),
      'collapsed-heatmap',
    );
    assert.deepEqual(f.evidence.where, [{ stack: 1, head: 'br' }]);
  });

  it('heat-is-probability: logits saved after a sigmoid', async () => {
    only(
      await planted('probability', (b) => {
        for (const k of ['tl_heat', 'br_heat']) {
          const h = f32(b.arrays[k]!);
          for (let i = 0; i < h.length; i++) h[i] = 1 / (1 + Math.exp(-h[i]!));
        }
      }),
      'heat-is-probability',
    );
  });

  it('empty-images: an image without objects', async () => {
    const f = only(
      await planted('empty', (b) => {
        const { C, H, W, K } = SPEC;
        (b.arrays.gt_mask!.data as Uint8Array).fill(0, K);
        for (const k of ['gt_tl_heat', 'gt_br_heat']) f32(b.arrays[k]!).fill(0, C * H * W);
      }),
      'empty-images',
    );
    assert.deepEqual(f.evidence.images, [1]);
  });

  it('single-object-push: an image with one object', async () => {
    const b = makeSyntheticBatch({ ...SPEC, objectsPerImage: [4, 1] });
    const r = await computeLossFromFiles({ paths: [write('single', b)] });
    const f = only(r.findings!, 'single-object-push');
    assert.deepEqual(f.evidence.images, [1]);
    assert.ok((f.evidence.pushShare as number) > 0.5);
  });

  it('target-radius: gaussians drawn with CenterNet\'s radius (IoU 0.7, original roots) on a CornerNet batch', async () => {
    const f = only(
      await planted('radius', (b) => {
        const { C, H, W } = SPEC;
        for (const k of ['gt_tl_heat', 'gt_br_heat']) f32(b.arrays[k]!).fill(0);
        for (const o of b.objects) {
          const [x1, y1, x2, y2] = o.box;
          const r = Math.max(0, Math.floor(gaussianRadiusOriginal(Math.ceil(y2 - y1), Math.ceil(x2 - x1), 0.7)));
          for (const [k, x, y] of [['gt_tl_heat', x1, y1], ['gt_br_heat', x2, y2]] as const) {
            drawGaussian(f32(b.arrays[k]!).subarray((o.image * C + o.class) * H * W, (o.image * C + o.class + 1) * H * W), H, W, Math.trunc(x), Math.trunc(y), r);
          }
        }
      }),
      'target-radius',
    );
    assert.equal(f.evidence.best, 'original-0.7-ceil');
    assert.match(f.title, /fit CenterNet/);
  });

  it('no-peaks: targets without an exact 1', async () => {
    only(
      await planted('nopeaks', (b) => {
        for (const k of ['gt_tl_heat', 'gt_br_heat']) {
          const g = f32(b.arrays[k]!);
          for (let i = 0; i < g.length; i++) g[i] = g[i]! * 0.98;
        }
      }),
      'no-peaks',
    );
  });

  it('near-one-peak: a peak stored as 0.99999994', async () => {
    only(
      await planted('nearone', (b) => {
        const g = f32(b.arrays.gt_br_heat!);
        g[g.indexOf(1)] = 0.99999994;
      }),
      'near-one-peak',
    );
  });

  it('embedding-collapse: every object with the same tags', async () => {
    only(
      await planted('collapse', (b) => {
        for (const k of ['tl_tag_map', 'br_tag_map']) f32(b.arrays[k]!).fill(0.01);
      }),
      'embedding-collapse',
    );
  });

  it('offset-range: offset targets outside [0, 1]', async () => {
    const f = only(
      await planted('offsets', (b) => {
        const g = f32(b.arrays.gt_tl_regr!);
        g[0] = 1.7;
        g[2] = -0.4;
      }),
      'offset-range',
    );
    assert.equal(f.evidence.targets, 2);
  });

  it('shared-corner: two objects on one corner pixel', async () => {
    const f = only(
      await planted('shared', (b) => {
        const { K } = SPEC;
        const ind = b.arrays.tl_ind!.data as BigInt64Array;
        // Object 1 of image 0 moves its tl corner onto object 0's (same image).
        ind[1] = ind[0]!;
        void K;
      }),
      'shared-corner',
    );
    assert.deepEqual((f.evidence.pairs as { objects: number[] }[])[0]!.objects, [0, 1]);
  });

  it('non-finite: where the first NaN is, and the terms it reaches', async () => {
    const fs = await planted('nan', (b) => {
      f32(b.arrays.tl_heat!)[SPEC.B * SPEC.C * SPEC.H * SPEC.W + 3 * SPEC.W + 5] = NaN;
    });
    const f = fs[0]!;
    assert.equal(f.code, 'non-finite', fs.map((x) => x.code).join());
    assert.deepEqual(f.evidence.where[0], { stack: 1, image: 0, class: 0, head: 'tl', x: 5, y: 3, input: 'tl heatmap' });
    assert.ok((f.evidence.termsReached as string[]).includes('focal_loss'));
  });

  it('the CLI: --json has findings [{code, title, evidence, advice}], --findings prints them first', () => {
    const b = makeSyntheticBatch({ ...SPEC, objectsPerImage: [4, 1] });
    const dir = write('cli', b);
    const j = JSON.parse(spawnSync(process.execPath, [CLI, '--json', dir], { encoding: 'utf8' }).stdout);
    assert.equal(j.findings[0].code, 'single-object-push');
    for (const k of ['code', 'title', 'evidence', 'advice']) assert.ok(k in j.findings[0], k);
    const text = spawnSync(process.execPath, [CLI, '--findings', dir], { encoding: 'utf8' }).stdout;
    assert.match(text.split('\n').slice(0, 4).join('\n'), /findings \(1\)[\s\S]*single-object-push/);
  });
});

describe('findings on the other conventions', () => {
  it('planted faults of the fixtures: shared centers, empty images, saturation', async () => {
    const c04 = await computeLossFromFiles({ paths: [path.join(CONV, 'centernet', 'c04_saturated_shared_center')] });
    assert.ok(codes(c04.findings).includes('shared-corner'), codes(c04.findings).join());
    const c03 = await computeLossFromFiles({ paths: [path.join(CONV, 'mmdet_centernet', 'c03_one_object_and_empty')] });
    assert.deepEqual(codes(c03.findings), ['empty-images']);
    const m04 = await computeLossFromFiles({ paths: [path.join(CONV, 'mmdet_cornernet', 'c04_saturated_shared_corner')] });
    assert.ok(codes(m04.findings).includes('shared-corner'));
  });

  it('the basic fixtures of every convention have no finding', async () => {
    for (const dir of [path.join(CORNERNET, 'p01_basic'), ...['mmdet_cornernet', 'centernet', 'mmdet_centernet'].map((c) => path.join(CONV, c, 'c01_basic'))]) {
      const r = await computeLossFromFiles({ paths: [dir] });
      assert.deepEqual(codes(r.findings), [], dir);
    }
  });

  it('CenterNet: an output saved after the in-place sigmoid is heat-is-probability; mmdet CenterNetHead: a collapsed heatmap', async () => {
    const src = path.join(CONV, 'centernet', 'c01_basic');
    const dir = path.join(tmp, 'ct-prob');
    cpSync(src, dir, { recursive: true });
    const { listNpz, readNpzMember, encodeNpz } = await import('../../src/tensor/npz');
    const { openFileSource } = await import('../../src/tensor/source');
    const s = await openFileSource(path.join(dir, 'output.npz'));
    const entries = [];
    for (const m of await listNpz(s)) {
      const t = await readNpzMember(s, m.key);
      if (m.key === 'hm') {
        const d = t.data as Float32Array;
        for (let i = 0; i < d.length; i++) d[i] = 1 / (1 + Math.exp(-d[i]!));
      }
      entries.push({ key: m.key, tensor: t });
    }
    await s.close();
    writeFileSync(path.join(dir, 'output.npz'), encodeNpz(entries));
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.equal(codes(r.findings)[0], 'heat-is-probability');
    assert.ok(r.warnings.some((w) => w.code === 'heat-is-probability'));
    const fixed = await computeLossFromFiles({ paths: [dir] }, { heatIsProbability: true });
    assert.ok(!codes(fixed.findings).includes('heat-is-probability'));
    const mm = path.join(tmp, 'mm-collapsed');
    cpSync(path.join(CONV, 'mmdet_centernet', 'c01_basic'), mm, { recursive: true });
    const { readTensorFile } = await import('../../src/tensor/tensorFile');
    const t = await readTensorFile(path.join(mm, 'center_heatmap_pred.npy'));
    (t.data as Float32Array).fill(1e-5);
    writeFileSync(path.join(mm, 'center_heatmap_pred.npy'), encodeNpy(t));
    const rc = await computeLossFromFiles({ paths: [mm] });
    assert.ok(codes(rc.findings).includes('collapsed-heatmap'), codes(rc.findings).join());
  });
});
