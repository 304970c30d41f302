/**
 * Worker entry (dist/worker.js): computes the loss on files and keeps the inputs to serve the
 * slices the panels ask for. One computation per worker; the host terminates it to cancel.
 */
import { parentPort } from 'node:worker_threads';
import { RoleResolutionError, isInputError } from '../cornernet/model/errors';
import type { LossInputs } from '../cornernet/model/batch';
import { ablationOf, computeLossForViews, type Diagnosis } from '../cornernet/run';
import { ImageHeatReader } from '../cornernet/views/imageView';
import { classThumbnails, countPositives, heatSlice, quantizeThumbnails } from '../cornernet/views/slices';
import { decodeAndMatch } from '../cornernet/views/matching';
import { ctdetDecodeAndMatch } from '../cornernet/views/ctdetDecode';
import { isTensorReadError } from '../tensor/errors';
import { histogram, tensorStats } from '../tensor/stats';
import { nextNonEmptyPlane, planeOf } from '../tensor/planes';
import { openFileSource } from '../tensor/source';
import { listArrays, readArray, tensorFormatOf } from '../tensor/tensorFile';
import type { Tensor } from '../tensor/tensor';
import type { ComputeOptions, SerializedError, WorkerRequest, WorkerResponse } from './protocol';
import type { InputSpec } from '../cornernet/inputs/discover';
import type { LossReport } from '../cornernet/model/report';
import { compareConventions } from '../cornernet/compare';

const port = parentPort;
if (!port) throw new Error('lossWorker must run in a worker thread');

let inputs: LossInputs | undefined;
/** When the heatmaps stayed on disk: reads one image's at a time for the panels. */
let reader: ImageHeatReader | undefined;
/** The array a tensor viewer shows (one viewer per worker). */
let tensor: Tensor | undefined;
let positives: { tl: number; br: number } | undefined;
/** The last computation, for a comparison of conventions on demand. */
let last: { spec: InputSpec; options: ComputeOptions; report: LossReport } | undefined;
/** The diagnosis of the last computation, when it was left for later. */
let diagnoseLast: (() => Diagnosis) | undefined;
let diagnosed: Diagnosis | undefined;

const send = (msg: WorkerResponse, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: WorkerRequest) => {
  handle(msg).catch((e) => send({ type: 'error', id: msg.id, error: serializeError(e) }));
});

async function handle(msg: WorkerRequest): Promise<void> {
  switch (msg.type) {
    case 'exit':
      reader?.close();
      reader = undefined;
      inputs = undefined;
      tensor = undefined;
      port!.close();
      process.exit(0);
      return;
    case 'compute': {
      const r = await computeLossForViews(msg.spec, {
        ...msg.options,
        onProgress: (fraction, stage) => send({ type: 'progress', id: msg.id, fraction, stage }),
      });
      reader?.close();
      inputs = r.inputs;
      if (r.heat) {
        reader = new ImageHeatReader(r.inputs, r.heat);
        positives = r.positives;
      } else {
        reader = undefined;
        positives = { tl: countPositives(inputs.gtHeat.tl), br: countPositives(inputs.gtHeat.br) };
      }
      last = { spec: msg.spec, options: msg.options, report: r.report };
      diagnoseLast = r.diagnose;
      diagnosed = undefined;
      send({ type: 'report', id: msg.id, report: r.report });
      return;
    }
    case 'diagnose': {
      diagnosed ??= diagnoseLast?.();
      if (!diagnosed) throw new Error('no diagnosis to make: the last computation was diagnosed already or not at all');
      send({ type: 'diagnosis', id: msg.id, findings: diagnosed.findings, gradients: diagnosed.gradients, diagnoseMs: diagnosed.diagnoseMs });
      return;
    }
    case 'ablation': {
      if (!inputs) throw new Error('no computation in this worker yet');
      const t0 = performance.now();
      const ablation = ablationOf(inputs, reader);
      send({ type: 'ablation', id: msg.id, ablation, ms: performance.now() - t0 });
      return;
    }
    case 'compare': {
      if (!last) throw new Error('no computation in this worker yet');
      const copy: LossReport = { ...last.report };
      await compareConventions(copy, last.spec, last.options);
      send({ type: 'compared', id: msg.id, conventions: copy.conventions ?? {}, gaps: copy.gaps ?? [] });
      return;
    }
    case 'slice': {
      const at = imageOf(msg.image);
      const s = heatSlice(at.inputs, msg.corner, msg.stack, at.image, msg.class, msg.topK, positives![msg.corner]);
      s.image = msg.image;
      send({ type: 'slice', id: msg.id, slice: s }, [s.logit.buffer, s.prob.buffer, s.target.buffer, s.loss.buffer] as ArrayBuffer[]);
      return;
    }
    case 'thumbnails': {
      const at = imageOf(msg.image);
      const t = classThumbnails(at.inputs, msg.stack, at.image, msg.maxSide, positives);
      t.image = msg.image;
      const q = quantizeThumbnails(t);
      send({ type: 'thumbnails', id: msg.id, thumbnails: q }, [q.data.buffer as ArrayBuffer]);
      return;
    }
    case 'decode': {
      const { inputs: i, image } = imageOf(msg.image);
      // Center conventions decode as CenterNet's ctdet_decode; corner ones as CornerNet's _decode.
      const view = i.sizes ? ctdetDecodeAndMatch(i, msg.stack, image, msg.options, msg.minScore) : decodeAndMatch(i, msg.stack, image, msg.options, msg.minScore);
      view.image = msg.image;
      // What the boxes are drawn over: per pixel, the best corner probability of any class.
      const { C, H, W } = i.dims;
      const background = new Float32Array(H * W);
      for (const c of i.sizes ? (['tl'] as const) : (['tl', 'br'] as const)) {
        const logits = i.heat[c][msg.stack]!.logits;
        for (let k = 0; k < C; k++) {
          const base = (image * C + k) * H * W;
          for (let p = 0; p < H * W; p++) {
            const v = 1 / (1 + Math.exp(-logits[base + p]!));
            if (v > background[p]!) background[p] = v;
          }
        }
      }
      send({ type: 'decode', id: msg.id, view, background }, [background.buffer]);
      return;
    }
    case 'tagMaps': {
      const { inputs: i, image } = imageOf(msg.image);
      const { H, W } = i.dims;
      const plane = (c: 'tl' | 'br') => {
        const m = i.tagMap?.[c]?.[msg.stack];
        if (!m) throw new Error('the embeddings were given gathered: there is no map to show');
        return Float32Array.from(m.subarray(image * H * W, (image + 1) * H * W));
      };
      const tl = plane('tl');
      const br = plane('br');
      send({ type: 'tagMaps', id: msg.id, width: W, height: H, tl, br }, [tl.buffer, br.buffer]);
      return;
    }
    case 'fileStats': {
      const format = tensorFormatOf(msg.path);
      if (!format) throw new Error(`${msg.path}: not a tensor file`);
      const src = await openFileSource(msg.path);
      try {
        const arrays = [];
        for (const a of await listArrays(src, format, msg.limits)) {
          const t = await readArray(src, format, a.key, msg.limits);
          arrays.push({ ...(a.key !== undefined ? { key: a.key } : {}), header: a.header, stats: tensorStats(t) });
        }
        send({ type: 'fileStats', id: msg.id, arrays });
      } finally {
        await src.close();
      }
      return;
    }
    case 'openTensor': {
      const format = tensorFormatOf(msg.path);
      if (!format) throw new Error(`${msg.path}: not a tensor file`);
      const src = await openFileSource(msg.path);
      let header;
      try {
        const listing = await listArrays(src, format, msg.limits);
        const entry = msg.key === undefined ? listing[0] : listing.find((a) => a.key === msg.key);
        if (!entry) throw new Error(`${msg.path}: no array ${msg.key ?? ''}`);
        header = entry.header;
        tensor = await readArray(src, format, entry.key, msg.limits);
      } finally {
        await src.close();
      }
      send({ type: 'tensor', id: msg.id, array: { ...(msg.key !== undefined ? { key: msg.key } : {}), header, stats: tensorStats(tensor) } });
      return;
    }
    case 'plane': {
      if (!tensor) throw new Error('no array is open in this worker');
      const p = planeOf(tensor, { rowAxis: msg.rowAxis, colAxis: msg.colAxis, index: msg.index, ...(msg.maxAxis !== undefined ? { maxAxis: msg.maxAxis } : {}), sigmoid: msg.sigmoid === true });
      let lo = msg.clip?.[0] ?? Infinity;
      let hi = msg.clip?.[1] ?? -Infinity;
      if (!msg.clip) {
        for (let i = 0; i < p.data.length; i++) {
          const v = p.data[i]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        if (lo > hi) [lo, hi] = [0, 1];
        // Probabilities: the colour scale is [0, 1].
        if (msg.sigmoid) [lo, hi] = [0, 1];
      }
      const hist = histogram(p.data, msg.bins, lo, hi);
      send({ type: 'plane', id: msg.id, rows: p.rows, cols: p.cols, data: p.data, histogram: hist, lo, hi }, [p.data.buffer as ArrayBuffer, hist.buffer as ArrayBuffer]);
      return;
    }
    case 'nextPlane': {
      if (!tensor) throw new Error('no array is open in this worker');
      const found = nextNonEmptyPlane(
        tensor,
        { rowAxis: msg.rowAxis, colAxis: msg.colAxis, index: msg.index, ...(msg.maxAxis !== undefined ? { maxAxis: msg.maxAxis } : {}), sigmoid: msg.sigmoid === true },
        msg.threshold,
        msg.direction,
      );
      send({ type: 'nextPlane', id: msg.id, ...(found ? { found } : {}) });
      return;
    }
  }
}

/** The inputs to compute image b's views on, and b's index in them (0 for one image read from disk). */
function imageOf(b: number): { inputs: LossInputs; image: number } {
  const i = requireInputs();
  if (!reader) return { inputs: i, image: b };
  if (!(Number.isInteger(b) && b >= 0 && b < i.dims.B)) throw new RangeError(`no image ${b} (B=${i.dims.B})`);
  return { inputs: reader.imageInputs(b), image: 0 };
}

function requireInputs(): LossInputs {
  if (!inputs) throw new Error('no computation in this worker yet');
  return inputs;
}

function serializeError(e: unknown): SerializedError {
  if (e instanceof RoleResolutionError) return { kind: 'roles', message: e.message, subject: e.subject, problems: e.problems };
  if (isInputError(e)) return { kind: 'input', message: e.message, subject: e.subject };
  if (isTensorReadError(e)) return { kind: 'read', message: e.message, subject: e.member ? `${e.file}:${e.member}` : e.file };
  const err = e as Error;
  return { kind: 'internal', message: err?.message ?? String(e), stack: err?.stack };
}
