/**
 * A worker started ahead of need runs the extension's whole path once on a tiny batch of its own
 * (written once to a folder of the temporary directory, kept there for the next worker: a worker
 * ended mid-way could not remove it): headers and readers, the streamed focal pass and
 * its WebAssembly module, the panel's slices, peaks and thumbnails, the diagnosis and the ablation.
 * V8 then compiles those functions before the user's first batch arrives: a fresh worker computes
 * the realistic case in ~2x the time of a warm one. Nothing of it is kept.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { ablationOf, computeLossForViews } from '../cornernet/run';
import { ImageHeatReader } from '../cornernet/views/imageView';
import { classThumbnails, heatSlice, imagePeaks, quantizeThumbnails } from '../cornernet/views/slices';
import { encodeNpy } from '../tensor/npy';
import type { DType, TensorData } from '../tensor/dtype';

/** S=2, B=2, C=4, 64x64, K=16: every array of the realistic case's folder, ~1 MB. */
function writeTinyBatch(dir: string): void {
  const S = 2, B = 2, C = 4, H = 64, W = 64, K = 16;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const f32 = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
  // Each file whole or not at all (another worker may read or write the folder at the same time).
  const put = (name: string, dtype: DType, shape: number[], data: TensorData) => {
    const tmp = path.join(dir, `.${name}.${process.pid}.${threadId}.tmp`);
    fs.writeFileSync(tmp, encodeNpy({ dtype, shape, data }));
    fs.renameSync(tmp, path.join(dir, `${name}.npy`));
  };
  const heat = () => f32(S * B * C * H * W, () => -6 + 4 * rand() + (rand() < 0.01 ? 8 : 0));
  const gt = () => {
    const g = new Float32Array(B * C * H * W);
    for (let i = 0; i < g.length; i++) if (rand() < 0.02) g[i] = rand() < 0.1 ? 1 : 0.5 * rand();
    return g;
  };
  const ind = () => BigInt64Array.from({ length: B * K }, () => BigInt(Math.floor(rand() * H * W)));
  const mask = Uint8Array.from({ length: B * K }, (_, i) => (i % K < 10 ? 1 : 0));
  for (const c of ['tl', 'br']) {
    put(`${c}_heat`, 'float32', [S, B, C, H, W], heat());
    put(`gt_${c}_heat`, 'float32', [B, C, H, W], gt());
    put(`${c}_ind`, 'int64', [B, K], ind());
    put(`${c}_tag`, 'float32', [S, B, K, 1], f32(S * B * K, () => rand()));
    put(`${c}_regr`, 'float32', [S, B, K, 2], f32(S * B * K * 2, () => rand()));
    put(`gt_${c}_regr`, 'float32', [B, K, 2], f32(B * K * 2, () => rand()));
    put(`${c}_tag_map`, 'float32', [S, B, 1, H, W], f32(S * B * H * W, () => rand()));
    put(`${c}_regr_map`, 'float32', [S, B, 2, H, W], f32(S * B * 2 * H * W, () => rand()));
  }
  put('gt_mask', 'uint8', [B, K], mask);
  fs.writeFileSync(path.join(dir, COMPLETE), '');
}

const COMPLETE = 'complete';

/**
 * Runs the path once; false (and nothing else) when anything fails: warming is only a help.
 * `stop()` is asked between the steps: real work arrived, which should not wait for the rest.
 */
export async function warmUp(stop: () => boolean = () => false): Promise<boolean> {
  try {
    const dir = path.join(os.tmpdir(), `cornernet-inspector-warm-v1-${process.getuid?.() ?? 'user'}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Only a folder of our own (the temporary directory is shared).
    if (process.getuid && fs.statSync(dir).uid !== process.getuid()) return false;
    if (!fs.existsSync(path.join(dir, COMPLETE))) writeTinyBatch(dir);
    if (stop()) return false;
    const r = await computeLossForViews({ paths: [dir] }, { findings: 'later', threads: 1 });
    if (!r.heat || stop()) return false;
    const reader = new ImageHeatReader(r.inputs, r.heat);
    try {
      for (let b = 0; b < r.inputs.dims.B; b++) {
        if (stop()) return false;
        const view = reader.imageInputs(b);
        for (const corner of ['tl', 'br'] as const) {
          const peaks = imagePeaks(view, corner, 1, 0, 100);
          heatSlice(view, corner, 1, 0, b, 100, r.positives[corner], peaks);
        }
        quantizeThumbnails(classThumbnails(view, 1, 0, 32, r.positives));
      }
      if (stop()) return false;
      r.diagnose?.();
      if (stop()) return false;
      ablationOf(r.inputs, reader);
    } finally {
      reader.close();
    }
    return true;
  } catch {
    return false;
  }
}
