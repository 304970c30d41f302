/**
 * The focal loss on several threads: the heatmap passes (corner types x stacks) are cut into
 * chunks of planes (images x classes), and the main thread and a few worker threads claim chunks
 * from a shared counter until none is left. Each chunk is computed by the same kernel
 * (focalKernel.ts) whatever thread runs it, and every plane lies in one chunk, so the results are
 * the same as on one thread, bit for bit.
 *
 * Two kinds of pass: `heatmapSums` on arrays in memory, which workers read in place (they must
 * live in SharedArrayBuffers: loadInputs allocates them so when asked, see LoadOptions.shared;
 * arrays that do not are computed on the main thread), and `streamedSums`, where every thread
 * reads its chunks from the files itself (stream.ts). Workers are built from the kernel's source
 * text (no worker file to locate next to the bundle), and start while the caller reads the files;
 * a worker that is not up yet when the work runs out simply gets none.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FloatArray } from '../model/batch';
import { MAX_THREADS } from '../model/limits';
import { fromRaw, scanTargets, type FocalSums } from './focal';
import type { ClampBounds } from '../model/pixel';
import { createFocalKernel, type FocalKernel, type RawFocalSums } from './focalKernel';
import { focalSimdModule } from './focalSimd';
import {
  closeStreamState,
  mergeStreamed,
  runStreamChunk,
  streamReadError,
  type StreamChunkResult,
  type StreamedFocal,
  type StreamJob,
  type StreamPlan,
  type StreamState,
} from './stream';

/** Threads the machine offers (the default thread count of the CLI and the extension's worker). */
export function defaultThreadCount(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n);
}

/** A thread count option: undefined or 0 means the machine's default; at least 1. */
export function resolveThreadCount(threads: number | undefined): number {
  if (threads === undefined || threads === 0 || !Number.isFinite(threads)) return defaultThreadCount();
  return Math.min(MAX_THREADS, Math.max(1, Math.floor(threads)));
}

/** One heatmap pass: logits of one stack and the targets of its corner type. */
export interface HeatmapJob {
  logits: FloatArray;
  gt: FloatArray;
  bounds: ClampBounds;
}

interface Chunk {
  job: number;
  planeStart: number;
  planeEnd: number;
}

interface WorkMessage {
  run: number;
  kind: 'arrays' | 'stream';
  jobs: HeatmapJob[] | StreamJob[];
  chunks: Chunk[];
  HW: number;
  topK: number;
  /** [0]: next chunk to claim. */
  counter: Int32Array;
  worker: number;
}

type ResultMessage =
  | { run: number; chunk: number; sums: RawFocalSums }
  | { run: number; chunk: number; stream: StreamChunkResult }
  | { run: number; error: string; file?: string; message?: string };

/** Pixels per chunk: small enough to balance two threads, large enough to make messages rare. */
const CHUNK_PIXELS = 1 << 16;

function isShared(a: FloatArray): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** Buffers of a streamed chunk's result, moved rather than copied to the main thread. */
function streamTransfers(r: StreamChunkResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [r.scan.planePositives.buffer as ArrayBuffer];
  if (r.positiveIndices) out.push(r.positiveIndices.buffer as ArrayBuffer);
  for (const st of r.stacks) out.push(...[st.pos, st.neg, st.topValues, st.topIndices, st.topLogits, st.topTargets].map((a) => a.buffer as ArrayBuffer));
  return out;
}

/**
 * Warm-up for a fresh kernel: V8 first runs its JavaScript (the table path, and around the SIMD
 * module the candidate and rare-pixel loops) in the interpreter, tens of times slower, until a few
 * hundred thousand pixels have gone through, which would otherwise be the first chunks of the pass. Returns a step (one plane of a synthetic heatmap through the kernel and the target
 * scan) that returns false once the warm-up is done; workers run the steps when they start, while
 * the main thread reads headers. (Warming the main thread's kernel up in the gaps between its I/O
 * callbacks was measured slower: it delays the reads more than it saves.) Self-contained, like the
 * kernel.
 */
function warmUpSteps(
  kernel: { sums(l: Float32Array, g: Float32Array, a: number, b: number, HW: number, lo: number, hi: number, r: boolean, k: number): unknown },
  scan: (gt: Float32Array, planes: number, HW: number) => unknown,
): () => boolean {
  const HW = 1 << 14;
  const planes = 4;
  const x = new Float32Array(planes * HW);
  const g = new Float32Array(planes * HW);
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let i = 0; i < x.length; i++) {
    // Logits of a half-trained network, a few gaussian targets and peaks, some saturated pixels.
    x[i] = -4.6 + 2 * (rnd() + rnd() + rnd() - 1.5) + (rnd() < 0.01 ? 12 * rnd() : 0);
    g[i] = rnd() < 0.02 ? rnd() : 0;
    if (rnd() < 0.001) g[i] = 1;
  }
  let left = 32;
  return () => {
    const p = left % planes;
    kernel.sums(x, g, p, p + 1, HW, Math.fround(1e-4), Math.fround(1 - 1e-4), true, 20);
    scan(g.subarray(p * HW, (p + 1) * HW), 1, HW);
    return --left > 0;
  };
}

/**
 * The code a worker runs: the kernel, the streamed chunk and the target scan, each built from its
 * own source, and a claim loop.
 */
function workerSource(warm: boolean): string {
  return `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const kernel = (${createFocalKernel.toString()})(workerData.simd);
const scanTargets = (${scanTargets.toString()});
const runStreamChunk = (${runStreamChunk.toString()});
const closeStreamState = (${closeStreamState.toString()});
const streamTransfers = (${streamTransfers.toString()});
const state = { fds: new Map() };
${warm ? `{ const step = (${warmUpSteps.toString()})(kernel, scanTargets); while (step()); }` : ''}
parentPort.on('message', (m) => {
  try {
    for (;;) {
      const c = Atomics.add(m.counter, 0, 1);
      if (c >= m.chunks.length) break;
      const ch = m.chunks[c];
      const job = m.jobs[ch.job];
      if (m.kind === 'stream') {
        const stream = runStreamChunk(fs, kernel, scanTargets, state, job, ch, m.HW, m.topK);
        parentPort.postMessage({ run: m.run, chunk: c, stream }, streamTransfers(stream));
      } else {
        const sums = kernel.sums(job.logits, job.gt, ch.planeStart, ch.planeEnd, m.HW, job.bounds.lo, job.bounds.hi, job.bounds.round32, m.topK);
        parentPort.postMessage({ run: m.run, chunk: c, sums }, [sums.pos.buffer, sums.neg.buffer, sums.topValues.buffer, sums.topIndices.buffer]);
      }
    }
  } catch (e) {
    parentPort.postMessage({ run: m.run, error: String(e && e.stack || e), file: e && typeof e.file === 'string' ? e.file : undefined, message: e && e.message });
  } finally {
    closeStreamState(fs, state);
  }
});
`;
}

/** Chunks of planes of each job, in job order. */
function chunksOf(jobCount: number, planes: number, HW: number): Chunk[] {
  const perChunk = Math.max(1, Math.floor(CHUNK_PIXELS / Math.max(1, HW)));
  const chunks: Chunk[] = [];
  for (let job = 0; job < jobCount; job++) {
    for (let p = 0; p < planes; p += perChunk) chunks.push({ job, planeStart: p, planeEnd: Math.min(planes, p + perChunk) });
  }
  return chunks;
}

/**
 * Worker threads for the focal loss. `start(n)` returns at once; the workers boot in the
 * background (tens of milliseconds each), so start them before reading the inputs.
 */
export class FocalWorkers {
  private readonly workers: Worker[];
  private ownKernel: FocalKernel | undefined;
  private busy = false;
  private runs = 0;

  private constructor(count: number, warm: boolean) {
    const source = workerSource(warm);
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(source, { eval: true, workerData: { simd: focalSimdModule() } });
      w.unref(); // never keeps the process alive
      return w;
    });
  }

  /**
   * `count` worker threads (0: everything runs on the calling thread). `warm`: each warms its kernel
   * up at start (see warmUpSteps): for a pass that starts as soon as the headers are read.
   */
  static start(count: number, options: { warm?: boolean } = {}): FocalWorkers {
    return new FocalWorkers(Math.max(0, Math.floor(count)), options.warm === true);
  }

  get size(): number {
    return this.workers.length;
  }

  /** The calling thread's kernel, built on first use (its tables cost a few ms: not while reading). */
  private get kernel(): FocalKernel {
    return (this.ownKernel ??= createFocalKernel(focalSimdModule()));
  }

  /**
   * Sums of every job (one heatmap pass each), in order. The calling thread computes chunks too;
   * `onChunk` is called on it between chunks (throw from it to cancel).
   */
  async heatmapSums(jobs: HeatmapJob[], planes: number, HW: number, topK: number, onChunk?: (done: number, total: number) => void): Promise<FocalSums[]> {
    const chunks = chunksOf(jobs.length, planes, HW);
    const shareable = jobs.every((j) => isShared(j.logits) && isShared(j.gt));
    const results = await this.run<RawFocalSums>('arrays', jobs, chunks, HW, topK, shareable, (ch: Chunk) => {
      const job = jobs[ch.job]!;
      return this.kernel.sums(job.logits, job.gt, ch.planeStart, ch.planeEnd, HW, job.bounds.lo, job.bounds.hi, job.bounds.round32, topK);
    }, onChunk);
    return jobs.map((_, job) => fromRaw(chunks.flatMap((ch, c) => (ch.job === job ? [results[c]!] : [])), topK));
  }

  /**
   * The focal pass of a StreamPlan: every thread reads its chunks from the files itself (see
   * stream.ts). Read failures reject with a TensorReadError naming the file.
   */
  async streamedSums(plan: StreamPlan, planes: number, HW: number, topK: number, onChunk?: (done: number, total: number) => void): Promise<StreamedFocal> {
    const chunks = chunksOf(plan.jobs.length, planes, HW);
    const state: StreamState = { fds: new Map() };
    let results: StreamChunkResult[];
    try {
      const local = (ch: Chunk) => runStreamChunk(fs, this.kernel, scanTargets, state, plan.jobs[ch.job]!, ch, HW, topK);
      results = await this.run<StreamChunkResult>('stream', plan.jobs, chunks, HW, topK, true, local, onChunk);
    } catch (e) {
      throw streamReadError(e);
    } finally {
      closeStreamState(fs, state);
    }
    return mergeStreamed(plan, chunks, results, planes, topK);
  }

  /** Chunks claimed from a shared counter by the calling thread and the workers; results in chunk order. */
  private async run<T>(
    kind: WorkMessage['kind'],
    jobs: WorkMessage['jobs'],
    chunks: Chunk[],
    HW: number,
    topK: number,
    useWorkers: boolean,
    local: (chunk: Chunk) => T,
    onChunk?: (done: number, total: number) => void,
  ): Promise<T[]> {
    if (this.busy) throw new Error('FocalWorkers: one computation at a time');
    this.busy = true;
    try {
      const results: (T | undefined)[] = new Array(chunks.length);
      const workers = useWorkers ? this.workers : [];
      const counter = new Int32Array(new SharedArrayBuffer(4));
      const run = ++this.runs;

      let failure: unknown;
      let wake: (() => void) | undefined;
      let done = 0;
      const listeners = workers.map((w) => {
        const onMessage = (m: ResultMessage) => {
          if (m.run !== run) return; // a cancelled computation's leftovers
          if ('error' in m) {
            failure ??= m.file !== undefined ? Object.assign(new Error(m.message ?? m.error), { file: m.file }) : new Error(`focal worker: ${m.error}`);
          } else results[m.chunk] = ('stream' in m ? m.stream : m.sums) as T;
          wake?.();
        };
        const onError = (e: Error) => {
          failure ??= e;
          wake?.();
        };
        w.on('message', onMessage);
        w.on('error', onError);
        return { w, onMessage, onError };
      });
      try {
        workers.forEach((w, worker) => {
          const msg: WorkMessage = { run, kind, jobs, chunks, HW, topK, counter, worker };
          w.postMessage(msg);
        });
        // The calling thread claims chunks like the workers do.
        for (;;) {
          if (failure) throw failure;
          const c = Atomics.add(counter, 0, 1);
          if (c >= chunks.length) break;
          results[c] = local(chunks[c]!);
          onChunk?.(++done, chunks.length);
        }
        // Every chunk is claimed now; those without a result are being computed by a worker.
        while (results.includes(undefined) && !failure) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        if (failure) throw failure;
      } catch (e) {
        Atomics.store(counter, 0, chunks.length); // cancelled: workers stop claiming
        throw e;
      } finally {
        for (const { w, onMessage, onError } of listeners) {
          w.off('message', onMessage);
          w.off('error', onError);
        }
      }
      return results as T[];
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
