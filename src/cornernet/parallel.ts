/**
 * The focal loss on several threads: the heatmap passes (corner types x stacks) are cut into
 * chunks of planes (images x classes), and the main thread and a few worker threads claim chunks
 * from a shared counter until none is left. Each chunk is computed by the same kernel
 * (focalKernel.ts) whatever thread runs it, and every plane lies in one chunk, so the results are
 * the same as on one thread, bit for bit.
 *
 * Workers read the arrays in place: they must live in SharedArrayBuffers (loadInputs allocates
 * them so when asked, see LoadOptions.shared). Arrays that do not are computed on the main thread.
 * Workers are built from the kernel's source text (no worker file to locate next to the bundle),
 * and start while the caller reads the files; a worker that is not up yet when the work runs out
 * simply gets none.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FloatArray } from './batch';
import { fromRaw, type ClampBounds, type FocalSums } from './focal';
import { createFocalKernel, type RawFocalSums } from './focalKernel';

/** Threads the machine offers (the default thread count of the CLI and the extension's worker). */
export function defaultThreadCount(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n);
}

/** A thread count option: undefined or 0 means the machine's default; at least 1. */
export function resolveThreadCount(threads: number | undefined): number {
  if (threads === undefined || threads === 0 || !Number.isFinite(threads)) return defaultThreadCount();
  return Math.max(1, Math.floor(threads));
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
  jobs: HeatmapJob[];
  chunks: Chunk[];
  HW: number;
  topK: number;
  /** [0]: next chunk to claim. */
  counter: Int32Array;
  worker: number;
}

type ResultMessage = { run: number; chunk: number; sums: RawFocalSums } | { run: number; error: string };

/** Pixels per chunk: small enough to balance two threads, large enough to make messages rare. */
const CHUNK_PIXELS = 1 << 18;

function isShared(a: FloatArray): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** The code a worker runs: the kernel, built from its own source, and a claim loop. */
function workerSource(): string {
  return `'use strict';
const { parentPort } = require('node:worker_threads');
const kernel = (${createFocalKernel.toString()})();
parentPort.on('message', (m) => {
  try {
    for (;;) {
      const c = Atomics.add(m.counter, 0, 1);
      if (c >= m.chunks.length) break;
      const ch = m.chunks[c];
      const job = m.jobs[ch.job];
      const sums = kernel.sums(job.logits, job.gt, ch.planeStart, ch.planeEnd, m.HW, job.bounds.lo, job.bounds.hi, job.bounds.round32, m.topK);
      parentPort.postMessage({ run: m.run, chunk: c, sums }, [sums.pos.buffer, sums.neg.buffer, sums.topValues.buffer, sums.topIndices.buffer]);
    }
  } catch (e) {
    parentPort.postMessage({ run: m.run, error: String(e && e.stack || e) });
  }
});
`;
}

/**
 * Worker threads for the focal loss. `start(n)` returns at once; the workers boot in the
 * background (tens of milliseconds each), so start them before reading the inputs.
 */
export class FocalWorkers {
  private readonly workers: Worker[];
  private readonly kernel = createFocalKernel();
  private busy = false;
  private runs = 0;

  private constructor(count: number) {
    const source = workerSource();
    this.workers = Array.from({ length: count }, () => {
      const w = new Worker(source, { eval: true });
      w.unref(); // never keeps the process alive
      return w;
    });
  }

  /** `count` worker threads (0: everything runs on the calling thread). */
  static start(count: number): FocalWorkers {
    return new FocalWorkers(Math.max(0, Math.floor(count)));
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Sums of every job (one heatmap pass each), in order. The calling thread computes chunks too;
   * `onChunk` is called on it between chunks (throw from it to cancel).
   */
  async heatmapSums(jobs: HeatmapJob[], planes: number, HW: number, topK: number, onChunk?: (done: number, total: number) => void): Promise<FocalSums[]> {
    if (this.busy) throw new Error('FocalWorkers: one computation at a time');
    this.busy = true;
    try {
      const perChunk = Math.max(1, Math.floor(CHUNK_PIXELS / Math.max(1, HW)));
      const chunks: Chunk[] = [];
      jobs.forEach((_, job) => {
        for (let p = 0; p < planes; p += perChunk) chunks.push({ job, planeStart: p, planeEnd: Math.min(planes, p + perChunk) });
      });
      const results: (RawFocalSums | undefined)[] = new Array(chunks.length);
      const shareable = jobs.every((j) => isShared(j.logits) && isShared(j.gt));
      const workers = shareable ? this.workers : [];
      const counter = new Int32Array(new SharedArrayBuffer(4));
      const run = ++this.runs;

      let failure: Error | undefined;
      let wake: (() => void) | undefined;
      const listeners = workers.map((w) => {
        const onMessage = (m: ResultMessage) => {
          if (m.run !== run) return; // a cancelled computation's leftovers
          if ('error' in m) failure ??= new Error(`focal worker: ${m.error}`);
          else results[m.chunk] = m.sums;
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
          const msg: WorkMessage = { run, jobs, chunks, HW, topK, counter, worker };
          w.postMessage(msg);
        });
        // The calling thread claims chunks like the workers do.
        let done = 0;
        for (;;) {
          const c = Atomics.add(counter, 0, 1);
          if (c >= chunks.length) break;
          const ch = chunks[c]!;
          const job = jobs[ch.job]!;
          results[c] = this.kernel.sums(job.logits, job.gt, ch.planeStart, ch.planeEnd, HW, job.bounds.lo, job.bounds.hi, job.bounds.round32, topK);
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
      return jobs.map((_, job) => fromRaw(chunks.flatMap((ch, c) => (ch.job === job ? [results[c]!] : [])), topK));
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
