/**
 * The focal loss straight from the files: the heatmaps (97% of a batch's bytes) are never held in
 * memory. Each thread reads a chunk of planes of the targets and of every stack's logits with
 * positioned reads into two small buffers it reuses, scans the targets and runs the focal kernel on
 * them, then reads the next chunk.
 *
 * Why: a fresh 129 MB buffer costs ~33,000 page faults, which on a VM take longer than the copy
 * itself (np.load avoids them with huge pages, which Node cannot ask for); reads into a buffer that
 * stays in the cache copy ~126 MB from the page cache in ~10 ms. The CLI takes this path when the
 * four heatmaps are plain .npy files (C order, little-endian float32 or float64), and so does the
 * extension's worker, which then reads one image at a time for the panels (imageView.ts). Float32
 * chunks are read straight into the SIMD kernel's memory (no copy beyond the read).
 *
 * The kernel, the chunking and the order of the sums are those of the in-memory path
 * (parallel.ts), so the report is the same, bit for bit (a unit test holds it to that).
 */
import * as fs from 'node:fs';
import { TensorReadError } from '../../tensor/errors';
import type { FocalSums, TargetScan } from './focal';
import type { ClampBounds } from '../model/pixel';
import { fromRaw } from './focal';
import type { RawFocalSums } from './focalKernel';
import type { RoleUse } from '../model/arrays';
import { CORNERS, type Corner } from '../model/roles';

/** Where the data of one [B,C,H,W] heatmap starts in a file. */
export interface HeatLocation {
  path: string;
  /** How messages name it: the file, and the stack when the file holds several. */
  label: string;
  /** Byte offset of the first element. */
  offset: number;
  float64: boolean;
}

/** One corner type: its targets and each stack's logits. */
export interface StreamJob {
  gt: HeatLocation;
  logits: HeatLocation[];
  bounds: ClampBounds[];
}

export interface StreamPlan {
  /** tl, br. */
  jobs: StreamJob[];
  /** The uses whose arrays stay on disk (loadInputs skips them). */
  onDisk: Set<RoleUse>;
  /** Heatmap bytes the pass reads. */
  bytes: number;
}

/** A chunk of planes of one corner type. */
export interface StreamChunk {
  job: number;
  planeStart: number;
  planeEnd: number;
}

/** What one chunk gives: the targets' scan, their positives, and each stack's sums. */
export interface StreamChunkResult {
  scan: TargetScan & { firstNearOneValue?: number; firstAboveOneValue?: number };
  /** Flat indices of the targets' exact 1s, or null when there are too many to list. */
  positiveIndices: Float64Array | null;
  /** Per stack; topIndices are flat indices in the heatmap, topLogits/topTargets their values. */
  stacks: (RawFocalSums & { topLogits: Float64Array; topTargets: Float64Array })[];
  readMs: number;
}

/** Per-thread state of runStreamChunk: open files and the two buffers it reuses. */
export interface StreamState {
  fds: Map<string, number>;
  gt?: ArrayBuffer;
  logits?: ArrayBuffer;
  /** Room for the positives' indices of a chunk. */
  positives?: Float64Array;
}

/**
 * One chunk, on whatever thread claims it. Self-contained (it refers to nothing outside its body
 * but its arguments and globals) so that worker threads build it from its source text, like the
 * kernel (parallel.ts). Read failures throw an Error whose `file` names the file.
 */
export function runStreamChunk(
  fsm: { openSync(p: string, flags: string): number; readSync(fd: number, b: Uint8Array, o: number, l: number, pos: number): number },
  kernel: {
    sums(l: Float32Array | Float64Array, g: Float32Array | Float64Array, a: number, b: number, HW: number, lo: number, hi: number, r: boolean, k: number): RawFocalSums;
    inputs?(n: number): { x: Float32Array; g: Float32Array } | undefined;
    scan?(gt: Float32Array | Float64Array, planes: number, HW: number, positiveIndices?: Float64Array): TargetScan | undefined;
  },
  scanTargets: (gt: Float32Array | Float64Array, planes: number, HW: number, positiveIndices?: Float64Array) => TargetScan,
  state: StreamState,
  job: StreamJob,
  chunk: StreamChunk,
  HW: number,
  topK: number,
): StreamChunkResult {
  const MAX_POSITIVES = 1 << 16;
  const planes = chunk.planeEnd - chunk.planeStart;
  const n = planes * HW;
  const base = chunk.planeStart * HW;
  let readMs = 0;
  const read = (loc: HeatLocation, which: 'gt' | 'logits'): Float32Array | Float64Array => {
    const t0 = performance.now();
    const bytes = n * (loc.float64 ? 8 : 4);
    // float32 chunks go straight into the kernel's SIMD memory when it has room (no copy there).
    const direct = loc.float64 ? undefined : kernel.inputs?.(n);
    let buf = state[which];
    if (!direct && (!buf || buf.byteLength < bytes)) {
      buf = new ArrayBuffer(bytes);
      state[which] = buf;
    }
    const target = direct ? (which === 'gt' ? direct.g : direct.x) : undefined;
    const view = target ? new Uint8Array(target.buffer, target.byteOffset, bytes) : new Uint8Array(buf!, 0, bytes);
    let fd = state.fds.get(loc.path);
    try {
      if (fd === undefined) {
        fd = fsm.openSync(loc.path, 'r');
        state.fds.set(loc.path, fd);
      }
      const position = loc.offset + base * (loc.float64 ? 8 : 4);
      let done = 0;
      while (done < bytes) {
        const got = fsm.readSync(fd, view, done, bytes - done, position + done);
        if (got === 0) break;
        done += got;
      }
      if (done < bytes) throw new Error(`the file changed while it was being read (got ${done} of ${bytes} bytes at ${position}); run again`);
    } catch (e) {
      const err = new Error(e instanceof Error ? e.message : String(e)) as Error & { file: string; code?: string };
      err.file = loc.label;
      if (e && typeof e === 'object' && 'code' in e) err.code = String((e as { code: unknown }).code);
      throw err;
    }
    readMs += performance.now() - t0;
    if (target) return target;
    return loc.float64 ? new Float64Array(buf!, 0, n) : new Float32Array(buf!, 0, n);
  };

  const gt = read(job.gt, 'gt');
  const found = (state.positives ??= new Float64Array(MAX_POSITIVES));
  const scan: StreamChunkResult['scan'] = kernel.scan?.(gt, planes, HW, found) ?? scanTargets(gt, planes, HW, found);
  if (scan.firstNearOne !== undefined) {
    scan.firstNearOneValue = gt[scan.firstNearOne];
    scan.firstNearOne += base;
  }
  if (scan.firstAboveOne !== undefined) {
    scan.firstAboveOneValue = gt[scan.firstAboveOne];
    scan.firstAboveOne += base;
  }
  let positiveIndices: Float64Array | null = null;
  if (scan.positives <= MAX_POSITIVES) {
    positiveIndices = found.slice(0, scan.positives);
    for (let i = 0; i < positiveIndices.length; i++) positiveIndices[i] += base;
  }
  const stacks: StreamChunkResult['stacks'] = [];
  for (let s = 0; s < job.logits.length; s++) {
    const logits = read(job.logits[s]!, 'logits');
    const b = job.bounds[s]!;
    const r = kernel.sums(logits, gt, 0, planes, HW, b.lo, b.hi, b.round32, topK);
    const topLogits = new Float64Array(r.topIndices.length);
    const topTargets = new Float64Array(r.topIndices.length);
    for (let i = 0; i < r.topIndices.length; i++) {
      const j = r.topIndices[i]!;
      topLogits[i] = logits[j]!;
      topTargets[i] = gt[j]!;
      r.topIndices[i] = j + base;
    }
    stacks.push({ ...r, topLogits, topTargets });
  }
  return { scan, positiveIndices, stacks, readMs };
}

/** Closes the files a StreamState opened. */
export function closeStreamState(fsm: { closeSync(fd: number): void }, state: StreamState): void {
  for (const fd of state.fds.values()) {
    try {
      fsm.closeSync(fd);
    } catch {
      // already closed: nothing to release
    }
  }
  state.fds.clear();
}

/** An Error thrown by runStreamChunk as the TensorReadError it stands for. */
export function streamReadError(e: unknown): unknown {
  const err = e as { file?: unknown; message?: unknown; code?: unknown };
  if (!err || typeof err.file !== 'string') return e;
  const message = String(err.message ?? 'cannot read');
  return new TensorReadError(message.startsWith('the file changed') ? 'truncated' : 'io', err.file, message);
}

/** Values of single heatmap pixels, for the few places the report needs them. */
export interface HeatValues {
  gt(corner: Corner, index: number): number;
  isPositive(corner: Corner, index: number): boolean;
  logit(corner: Corner, stack: number, index: number): number;
}

/** HeatValues of arrays in memory. */
export function arrayHeatValues(heat: Record<Corner, { logits: Float32Array | Float64Array }[]>, gtHeat: Record<Corner, Float32Array | Float64Array>): HeatValues {
  return {
    gt: (corner, i) => gtHeat[corner][i]!,
    isPositive: (corner, i) => gtHeat[corner][i] === 1,
    logit: (corner, s, i) => heat[corner][s]!.logits[i]!,
  };
}

/** The merged results of a streamed pass over both corner types. */
export interface StreamedFocal {
  focalSums: Record<Corner, FocalSums[]>;
  scans: Record<Corner, TargetScan>;
  values: HeatValues & { close(): void };
  /** Time the threads spent reading, summed over threads. */
  readMs: number;
}

/**
 * Merges chunk results (in chunk order) and builds the HeatValues the report needs: top pixels and
 * positives come from the pass; anything else (the first near-one target, a class lookup when the
 * positives were too many to list) is read from the file, one element at a time.
 */
export function mergeStreamed(plan: StreamPlan, chunks: StreamChunk[], results: StreamChunkResult[], planes: number, topK: number): StreamedFocal {
  const focalSums = { tl: [], br: [] } as Record<Corner, FocalSums[]>;
  const scans = {} as Record<Corner, TargetScan>;
  const positives: Record<Corner, Set<number> | undefined> = { tl: new Set(), br: new Set() };
  const known = new Map<string, { logit: number; gt: number }>();
  const gtKnown = new Map<string, number>();
  let readMs = 0;
  CORNERS.forEach((corner, job) => {
    const mine = chunks.map((c, i) => ({ c, r: results[i]! })).filter((x) => x.c.job === job).sort((a, b) => a.c.planeStart - b.c.planeStart);
    const scan: TargetScan = { positives: 0, planePositives: new Int32Array(planes), nearOne: 0, aboveOne: 0, nonFinite: 0 };
    for (const { c, r } of mine) {
      readMs += r.readMs;
      scan.positives += r.scan.positives;
      scan.planePositives.set(r.scan.planePositives, c.planeStart);
      scan.nearOne += r.scan.nearOne;
      scan.aboveOne += r.scan.aboveOne;
      scan.nonFinite += r.scan.nonFinite;
      if (scan.firstNearOne === undefined && r.scan.firstNearOne !== undefined) {
        scan.firstNearOne = r.scan.firstNearOne;
        gtKnown.set(`${corner}:${r.scan.firstNearOne}`, r.scan.firstNearOneValue!);
      }
      if (scan.firstAboveOne === undefined && r.scan.firstAboveOne !== undefined) {
        scan.firstAboveOne = r.scan.firstAboveOne;
        gtKnown.set(`${corner}:${r.scan.firstAboveOne}`, r.scan.firstAboveOneValue!);
      }
      const set = positives[corner];
      if (set && r.positiveIndices) for (const i of r.positiveIndices) set.add(i);
      else positives[corner] = undefined;
    }
    scans[corner] = scan;
    const S = plan.jobs[job]!.logits.length;
    for (let s = 0; s < S; s++) {
      const sums = fromRaw(mine.map((x) => x.r.stacks[s]!), topK);
      focalSums[corner].push(sums);
      // The values of the stack's final top pixels, from the chunks that found them.
      const top = new Set(sums.top.indices.subarray(0, sums.top.size));
      for (const { r } of mine) {
        const st = r.stacks[s]!;
        for (let i = 0; i < st.topIndices.length; i++) {
          if (!top.has(st.topIndices[i]!)) continue;
          known.set(`${corner}:${s}:${st.topIndices[i]}`, { logit: st.topLogits[i]!, gt: st.topTargets[i]! });
          gtKnown.set(`${corner}:${st.topIndices[i]}`, st.topTargets[i]!);
        }
      }
    }
  });

  const fds = new Map<string, number>();
  const element = (loc: HeatLocation, index: number): number => {
    const size = loc.float64 ? 8 : 4;
    const buf = new Uint8Array(8);
    try {
      let fd = fds.get(loc.path);
      if (fd === undefined) {
        fd = fs.openSync(loc.path, 'r');
        fds.set(loc.path, fd);
      }
      if (fs.readSync(fd, buf, 0, size, loc.offset + index * size) !== size) throw new Error('the file changed while it was being read; run again');
    } catch (e) {
      throw streamReadError(Object.assign(new Error((e as Error).message), { file: loc.label }));
    }
    const dv = new DataView(buf.buffer);
    return loc.float64 ? dv.getFloat64(0, true) : dv.getFloat32(0, true);
  };
  const job = (corner: Corner) => plan.jobs[corner === 'tl' ? 0 : 1]!;
  return {
    focalSums,
    scans,
    readMs,
    values: {
      gt: (corner, i) => gtKnown.get(`${corner}:${i}`) ?? (positives[corner]?.has(i) ? 1 : element(job(corner).gt, i)),
      isPositive: (corner, i) => positives[corner]?.has(i) ?? element(job(corner).gt, i) === 1,
      logit: (corner, s, i) => known.get(`${corner}:${s}:${i}`)?.logit ?? element(job(corner).logits[s]!, i),
      close: () => {
        for (const fd of fds.values()) fs.closeSync(fd);
        fds.clear();
      },
    },
  };
}
