/**
 * Worker entry (dist/worker.js): computes the loss on files and keeps the inputs to serve the
 * slices the panels ask for. One computation per worker; the host terminates it to cancel.
 */
import { parentPort } from 'node:worker_threads';
import { RoleResolutionError, isInputError } from '../cornernet/model/errors';
import type { LossInputs } from '../cornernet/model/batch';
import { ablationOf, computeLossForViews, type Diagnosis } from '../cornernet/run';
import { ImageHeatReader } from '../cornernet/views/imageView';
import { classThumbnails, countPositives, heatSlice, imagePeaks, quantizeThumbnails, worstPlane, type Peak, type QuantizedThumbnails } from '../cornernet/views/slices';
import { decodeAndMatch, type DecodeView } from '../cornernet/views/matching';
import type { DecodeOptions } from '../cornernet/views/decode';
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
import { warmUp } from './warmUp';

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
/**
 * What the panel asks again and again, kept for the computation: an image's decode peaks per corner
 * type and stack (a scan of its every class: the cost of a class switch), and its thumbnail strips.
 */
const peaksKept = new Map<string, (Peak & { class: number })[]>();
const thumbnailsKept = new Map<string, QuantizedThumbnails>();

const send = (msg: WorkerResponse, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/** The warm-up under way: every other request waits for it (they share the kernel's memory). */
let warming: Promise<unknown> | undefined;
let stopWarming = false;

port.on('message', (msg: WorkerRequest) => {
  lastRequestAt = performance.now();
  const run = () => handle(msg).catch((e) => send({ type: 'error', id: msg.id, error: serializeError(e) }));
  if (msg.type === 'warm') {
    warming = run().finally(() => (warming = undefined));
    return;
  }
  if (warming && msg.type !== 'exit') {
    stopWarming = true;
    void warming.then(run);
  }
  else void run();
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
    case 'warm': {
      const t0 = performance.now();
      const ok = await warmUp(() => stopWarming);
      send({ type: 'warm', id: msg.id, ok, ms: performance.now() - t0 });
      return;
    }
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
      peaksKept.clear();
      thumbnailsKept.clear();
      decodesKept.clear();
      diagnoseLast = r.diagnose;
      diagnosed = undefined;
      send({ type: 'report', id: msg.id, report: r.report });
      // While the panel shows the total and asks: what it asks first (the worst plane's image, the
      // last stack), then the stack's other images, a step at a time between requests.
      const worst = worstPlane(r.report);
      const stack = r.report.nstack - 1;
      const steps = imageSteps(stack, worst.image);
      prefetch(steps.slice(0, 3), [
        steps[3]!,
        ...Array.from({ length: r.inputs.dims.B }, (_, b) => b)
          .filter((b) => b !== worst.image)
          .flatMap((b) => imageSteps(stack, b)),
      ]);
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
      const peaks = peaksOf(msg.corner, msg.stack, msg.image, msg.topK);
      let s;
      if (reader && !reader.holds(msg.image)) {
        // Another image than the one read whole: its peaks are known, the plane alone is read.
        const plane = reader.planeInputs(msg.image, msg.class);
        const ours = peaks.filter((p) => p.class === msg.class).map((p) => ({ ...p, class: 0 }));
        s = heatSlice(plane, msg.corner, msg.stack, 0, 0, msg.topK, positives![msg.corner], ours);
        s.class = msg.class;
        s.peaks = s.peaks.map((p) => ({ ...p, class: msg.class }) as Peak);
      } else {
        const at = imageOf(msg.image);
        s = heatSlice(at.inputs, msg.corner, msg.stack, at.image, msg.class, msg.topK, positives![msg.corner], peaks);
      }
      s.image = msg.image;
      send({ type: 'slice', id: msg.id, slice: s }, [s.logit.buffer, s.prob.buffer, s.target.buffer, s.loss.buffer] as ArrayBuffer[]);
      return;
    }
    case 'thumbnails': {
      const kept = thumbnailsOf(msg.stack, msg.image, msg.maxSide);
      // The kept bytes stay here: a copy travels.
      const q = { ...kept, data: kept.data.slice() };
      send({ type: 'thumbnails', id: msg.id, thumbnails: q }, [q.data.buffer as ArrayBuffer]);
      firstPlanesServed();
      pump();
      return;
    }
    case 'decode': {
      const { view, background } = decodeOf(msg.stack, msg.image, msg.options, msg.minScore);
      // The kept background stays here: a copy travels.
      const copy = background.slice();
      send({ type: 'decode', id: msg.id, view, background: copy }, [copy.buffer]);
      return;
    }
    case 'tagMaps': {
      // The maps are held whole: read from the batch's (the reader keeps the image it holds).
      const i = requireInputs();
      const image = msg.image;
      if (!(Number.isInteger(image) && image >= 0 && image < i.dims.B)) throw new RangeError(`no image ${image} (B=${i.dims.B})`);
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

function peaksOf(corner: 'tl' | 'br', stack: number, image: number, topK: number): (Peak & { class: number })[] {
  const key = `${corner}:${stack}:${image}:${topK}`;
  let peaks = peaksKept.get(key);
  if (!peaks) {
    const at = imageOf(image);
    peaksKept.set(key, (peaks = imagePeaks(at.inputs, corner, stack, at.image, topK)));
  }
  return peaks;
}

function thumbnailsOf(stack: number, image: number, maxSide: number): QuantizedThumbnails {
  const key = `${stack}:${image}:${maxSide}`;
  let kept = thumbnailsKept.get(key);
  if (!kept) {
    const at = imageOf(image);
    const t = classThumbnails(at.inputs, stack, at.image, maxSide, positives);
    t.image = image;
    thumbnailsKept.set(key, (kept = quantizeThumbnails(t)));
  }
  return kept;
}

const decodesKept = new Map<string, { view: DecodeView; background: Float32Array }>();

/** An image's decode (boxes matched with the targets) and what its boxes are drawn over. */
function decodeOf(stack: number, b: number, options: DecodeOptions, minScore: number): { view: DecodeView; background: Float32Array } {
  const key = `${stack}:${b}:${options.K}:${options.kernel}:${options.aeThreshold}:${options.numDets}:${minScore}`;
  const kept = decodesKept.get(key);
  if (kept) return kept;
  const { inputs: i, image } = imageOf(b);
  // Center conventions decode as CenterNet's ctdet_decode; corner ones as CornerNet's _decode.
  const view = i.sizes ? ctdetDecodeAndMatch(i, stack, image, options, minScore) : decodeAndMatch(i, stack, image, options, minScore);
  view.image = b;
  // What the boxes are drawn over: per pixel, the best corner probability of any class.
  const { C, H, W } = i.dims;
  const background = new Float32Array(H * W);
  for (const c of i.sizes ? (['tl'] as const) : (['tl', 'br'] as const)) {
    const logits = i.heat[c][stack]!.logits;
    for (let k = 0; k < C; k++) {
      const base = (image * C + k) * H * W;
      for (let p = 0; p < H * W; p++) {
        const v = 1 / (1 + Math.exp(-logits[base + p]!));
        if (v > background[p]!) background[p] = v;
      }
    }
  }
  const out = { view, background };
  decodesKept.set(key, out);
  return out;
}

/**
 * What the panel asks for an image with its defaults: 100 peaks, 32-pixel thumbnails, the decode
 * of the last stack as the host asks it (K 100, ae threshold 0.5, 1000 detections, kernel 3, min
 * score 0.5: webview/panel/main.ts and resultsPanel.ts).
 */
function imageSteps(stack: number, image: number): (() => void)[] {
  return [
    () => void peaksOf('tl', stack, image, 100),
    () => void peaksOf('br', stack, image, 100),
    () => void thumbnailsOf(stack, image, 32),
    () => void decodeOf(stack, image, { K: 100, aeThreshold: 0.5, numDets: 1000, kernel: 3 }, 0.5),
  ];
}

/** Steps of work ahead: `soon` one per turn of the event loop, `later` only when no request came for IDLE_MS. */
let soon: (() => void)[] = [];
let later: (() => void)[] = [];
let idleTimer: ReturnType<typeof setTimeout> | undefined;
let lastRequestAt = 0;
const IDLE_MS = 150;

/**
 * Work done ahead, a step at a time, so that a request that arrives waits for one step at most:
 * `first` (what the panel asks first) at once, `rest` (the other images) while the panel asks
 * nothing. A new computation replaces both. A failed step is left to the request that needs it
 * (which reports the error).
 */
function prefetch(first: (() => void)[], rest: (() => void)[]): void {
  soon = first;
  later = rest;
  // The panel's first requests come a few hundred ms after the report: the rest waits for them
  // (a thumbnails request served) or, if none comes, a while.
  laterFrom = performance.now() + LATER_AFTER_MS;
  pump();
}

/** When the `later` steps may start (moved to now once the panel's first thumbnails are served). */
let laterFrom = 0;
const LATER_AFTER_MS = 1500;

function firstPlanesServed(): void {
  laterFrom = Math.min(laterFrom, performance.now());
}

function runStep(step: () => void): void {
  try {
    step();
  } catch {
    // left to the request that needs it
  }
}

function pump(): void {
  clearTimeout(idleTimer);
  idleTimer = undefined;
  if (soon.length) {
    setImmediate(() => {
      const step = soon.shift();
      if (step) runStep(step);
      pump();
    });
    return;
  }
  if (!later.length) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    const now = performance.now();
    if (now - lastRequestAt >= IDLE_MS && now >= laterFrom) {
      const step = later.shift();
      if (step) runStep(step);
    }
    pump();
  }, Math.max(1, Math.max(lastRequestAt + IDLE_MS, laterFrom) - performance.now()));
  idleTimer.unref?.();
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
