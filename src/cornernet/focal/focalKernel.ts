/**
 * The fast focal-loss kernel: per-plane sums of `_neg_loss` over a range of (image, class) planes,
 * with the clamp statistics and the largest per-pixel losses.
 *
 * Float32 logits and targets with the WebAssembly SIMD module (focalSimd.as.ts, what runs in Node
 * 20 and VS Code): the module takes the common pixel (a negative whose logit is in [tlo, min(thi,
 * 0)), ~99% of a trained network's) four at a time in float32 arithmetic, ~2.5 ns per pixel, to
 * ~1e-6 relative per pixel at worst and ~1e-8 on the sums of realistic planes (the fixtures ask
 * 1e-5; torch's own float32 total of the realistic case is 5e-8 from the float64 reference). It
 * lists every other pixel, which `otherPixel` below computes exactly as on the table path, and the
 * losses above the top-K heap's threshold. Its float64 plane sums are the same for any steps of 8
 * pixels a plane is cut into, so threaded, streamed and whole-array passes give the same bits.
 * Without the module (or for float64 inputs) the JavaScript paths below run.
 *
 * Same values as the plain loop (`referenceFocalSums` in focal.ts), which evaluates
 * `p = fround(1 / (1 + Math.exp(-x)))`, clamps p and takes `Math.log` of p or 1 - p for every pixel
 * (~30 ns per pixel). Two paths:
 *
 * Float32 inputs (`round32`, what training uses): a table path for negatives (gt < 1). Per cell of
 * 1/64 in x from -9.25 to 9.25 the table holds cubics in the cell (Chebyshev interpolants) of the
 * sigmoid p(x) (below 0; from 0 on, of 1 - p(x)) and of L(x) = -log(1 - p(x)) = log(1 + e^x), all to
 * 1.95e-11 relative. The loss is a function of the *float32-rounded* p, `-log(1 - pr) pr^2`, which
 * the rounding moves by up to 1.8e-7 relative (and by far more near the upper bound), so the kernel
 * reproduces the rounding rather than interpolating the loss:
 *   pr = fround(p), checked to be the rounding of the exact sigmoid: the interpolated p is within
 *        1.95e-11 relative, so fround(p (1 - 5e-11)) === fround(p (1 + 5e-11)) proves it; the ~0.1%
 *        of pixels closer to a rounding midpoint take the exact path;
 *   loss = pr^2 L(pr) (1 - gt)^4 with L(pr) = L(x) + e + e^2 / 2, e = (pr - p) / (1 - p), the move
 *        of L from p to pr (|e| < 3e-4; the next term is < 1e-12 relative). Below 0, where |e| <
 *        1.2e-7, L(x) + (pr - p) (1 + p + p^2 + p^3) instead, without the division.
 * A table pixel's loss is the reference's to 2e-11 relative for logits below -2 and from 0 on, 3.5e-10
 * in [-2, -1), 2.7e-9 at worst just below 0 (the truncated 1 / (1 - p)); plane sums of realistic
 * heatmaps to ~1e-10. The common pixel (a logit in [tlo, 0), ~99% of a trained network's) stays in
 * one tight loop; the others go through `otherPixel`: the upper half of the table, the clamped
 * logits, which get the bounds as constants (the reference's products, bit for bit), and the exact
 * path (`exactPixel`, the reference's own expression) for positives (gt == 1), targets above 1 or
 * NaN, NaN logits and near-midpoint pixels. tlo and thi are found at creation by bisection on the
 * reference's expression: tlo is the smallest x with fround(sigmoid(x)) >= lo, thi the smallest with
 * fround(sigmoid(x)) > hi (-9.2102404 and 9.2103725 for the float32 bounds), so logits below tlo
 * (-Infinity included) are exactly those the reference clamps to lo and those from thi up exactly
 * those it clamps to hi, and the clamp counts are the reference's.
 * In V8 (Node 20) this is ~8.5 ns per realistic pixel (logits ~N(-4.6, 1)) against ~15.5 ns for the
 * exact path below, and faster than it as well on heatmaps of mostly saturated or positive logits.
 *
 * Float64 inputs: the exact path of before, per block of pixels:
 * 1. logits -> clamped probabilities. `exp(-x)` is computed from a 64-entry-per-octave table of
 *    2^(j/64) and a degree-5 polynomial (relative error ~1e-16, like Math.exp), then
 *    `p = 1 / (1 + e)`, then clamped. Logits beyond +-9.5 are past the clamp (sigmoid(-9.5) =
 *    7.5e-5 < 1e-4, sigmoid(9.5) = 0.999925 > 0.9999), so they get the bound values directly, exactly
 *    as the reference gets them; NaN stays NaN.
 * 2. probabilities + targets -> sums. For the common case p < 1/8, `-log(1 - p) = 2 atanh(s)` with
 *    `s = p / (2 - p) <= 1/15`, six terms of the odd series (truncation < 1e-15 relative): one
 *    division instead of a `Math.log` call. Larger p, positives (`-log(p) (1 - p)^2`) and everything
 *    unusual take `Math.log` as the reference does. A logit exactly at logit(1e-4) or logit(1 - 1e-4)
 *    may be counted as clamped where the reference's Math.exp lands one ulp on the other side (the
 *    loss is the same).
 *
 * V8 notes (measured): the table path is one loop per block of 2048 pixels whose rare cases all
 * leave through one call (`exactPixel`); constants reach the loops as raw doubles (a Float64Array)
 * rather than as tagged arguments; and the kernel runs once at creation on a small input that takes
 * every branch, so that the optimizing compiler sees complete type feedback (a branch first taken
 * after optimization deoptimizes the loop, which then often stays in slower on-stack-replacement
 * code for the rest of the process). Measured no faster: splitting the block into a values loop and
 * a sums loop (as the exact path does), deriving p from a quartic of L (5 loads instead of 8, but a
 * longer dependency chain), deferring the rare calls to after the loop, an exact 1 / (1 - p) (a
 * division). Interpolating the loss itself without reproducing the rounding (one cubic) would take
 * ~5.3 ns per pixel but be up to 1.8e-7 off per pixel.
 *
 * `createFocalKernel` is self-contained (it refers to nothing outside its own body but globals), so
 * worker threads can build the same kernel from its source text (see parallel.ts).
 */

// A type only: the kernel's code refers to nothing outside createFocalKernel (see the end of the notes).
import type { TargetScan } from './focal';

/** Sums of a range of planes, as plain data (it crosses thread boundaries). */
export interface RawFocalSums {
  /** Sum over positives of -log(p) (1-p)^2, per plane of the range. */
  pos: Float64Array;
  /** Sum over negatives of -log(1-p) p^2 (1-gt)^4, per plane of the range. */
  neg: Float64Array;
  clampedLow: number;
  clampedHigh: number;
  clampedPositives: number;
  nonFinite: number;
  /** Up to k largest per-pixel losses and their flat indices in the heatmap (unordered). */
  topValues: Float64Array;
  topIndices: Float64Array;
}

export interface FocalKernel {
  /**
   * Planes [planeStart, planeEnd) of a heatmap of planes of HW pixels. `lo`/`hi` are the clamp
   * bounds; `round32` rounds the sigmoid to float32 first (torch on float32 tensors).
   */
  sums(
    logits: Float32Array | Float64Array,
    gt: Float32Array | Float64Array,
    planeStart: number,
    planeEnd: number,
    HW: number,
    lo: number,
    hi: number,
    round32: boolean,
    topK: number,
  ): RawFocalSums;
  /** Views in the SIMD module's memory for inputs the caller writes itself (see the kernel). */
  inputs(n: number): { x: Float32Array; g: Float32Array } | undefined;
  /** scanTargets through the SIMD module, or undefined (no module, float64, too large). */
  scan(gt: Float32Array | Float64Array, planes: number, HW: number, positiveIndices?: Float64Array): TargetScan | undefined;
}


/** The constants the kernel's loops spell out as literals (checked by a unit test). */
export const KERNEL_CONSTANTS = {
  // Exact path (float64 inputs).
  XLIM: 9.5,
  TO_STEPS: 64 / Math.LN2,
  STEP_HI: Math.fround(Math.LN2 / 64),
  STEP_LO: Math.LN2 / 64 - Math.fround(Math.LN2 / 64),
  OFFSET: 14 * 64,
  SERIES_MAX: 0.125,
  // Table path (float32 inputs): cells of 1/64 in x from -9.25 to 9.25; ZERO_CELL is the first cell
  // from 0, so 64 x + ZERO_CELL truncates to x's cell and 64 x + CENTRE_OFFSET - cell is the position
  // in the cell, in [-1/2, 1/2].
  CELLS_PER_UNIT: 64,
  ZERO_CELL: 9.25 * 64,
  CENTRE_OFFSET: 9.25 * 64 - 0.5,
  /** fround(p (1 +- 5e-11)): the tabulated sigmoid is within 1.95e-11 relative of the exact one. */
  GUARD_UP: 1 + 5e-11,
  GUARD_DOWN: 1 - 5e-11,
};

export function createFocalKernel(simd?: WebAssembly.Module): FocalKernel {
  // ---- SIMD path (float32 logits and targets, with the compiled module of focalSimd.as.ts) ----
  // The module's negSums takes the common pixel (a negative whose logit is in [tlo, min(thi, 0)))
  // four at a time in float32 arithmetic, to ~1e-6 relative per pixel at worst (~1e-8 on plane sums
  // of realistic heatmaps), and lists every other pixel, which otherPixel computes as on the table
  // path (clamped logits, positives, the upper half, NaN), and the losses above the heap threshold.
  interface Simd {
    ex: Record<string, (...a: number[]) => number>;
    negSums(xp: number, gp: number, n: number, a: number, b: number, threshold: number): void;
    planeStart(): void;
    planeSum(): number;
    rareCount(): number;
    candCount(): number;
    cap: number;
    memory: ArrayBuffer;
    X: Float32Array;
    G: Float32Array;
    rare: Int32Array;
    candIndex: Int32Array;
    candValue: Float32Array;
  }
  let SIMD: Simd | undefined;
  if (simd !== undefined) {
    try {
      const ex = new WebAssembly.Instance(simd, {}).exports as Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory };
      const buf = ex.memory.buffer;
      const cap = ex.capacity!();
      SIMD = {
        ex,
        negSums: ex.negSums!,
        planeStart: ex.planeStart!,
        planeSum: ex.planeSum!,
        rareCount: ex.rareCount!,
        candCount: ex.candCount!,
        cap,
        memory: buf,
        X: new Float32Array(buf, ex.xPtr!(), cap),
        G: new Float32Array(buf, ex.gPtr!(), cap),
        rare: new Int32Array(buf, ex.rarePtr!(), cap),
        candIndex: new Int32Array(buf, ex.candIndexPtr!(), cap),
        candValue: new Float32Array(buf, ex.candValuePtr!(), cap),
      };
    } catch {
      SIMD = undefined; // no WebAssembly SIMD here: the table path
    }
  }
  // Neighbouring float32 values of a double, for the module's float32 bounds: x >= up32(t) is x >= t
  // and x > down32(t) is x > t for every float32 x.
  const F32 = new Float32Array(1);
  const I32 = new Int32Array(F32.buffer);
  const up32 = (d: number): number => {
    const f = Math.fround(d);
    if (!(f < d)) return f; // exact, rounded up, infinite or NaN
    F32[0] = f;
    if (f > 0) I32[0]!++;
    else if (f < 0) I32[0]!--;
    else return 1.401298464324817e-45;
    return F32[0]!;
  };
  const down32 = (d: number): number => -up32(-d);

  // ---- Exact path (float64 inputs) ----
  // exp(y) = 2^(k/64) * exp(r), k = round(y * 64 / ln 2), |r| <= ln 2 / 128; ln 2 / 64 is split in
  // a 24-bit head (k * head is exact) and a tail. k is rounded by adding and subtracting 1.5 * 2^52.
  // |x| >= 9.5 is past the clamp bounds for float32 and float64 alike, so |k| <= 878 < OFFSET.
  const OFFSET = 14 * 64;
  const POW2 = new Float64Array(2 * OFFSET + 1);
  for (let j = 0; j < POW2.length; j++) POW2[j] = Math.pow(2, (j - OFFSET) / 64);
  const BLOCK = 2048;
  const probs = new Float64Array(BLOCK);

  // ---- Table path (float32 inputs) ----
  // Cell j covers x in [-9.25 + j / 64, -9.25 + (j + 1) / 64]; w = 64 (x - centre) is in [-1/2, 1/2].
  // TABLE[8 j .. 8 j + 3]: cubic in w of p(x) = 1 / (1 + e^-x) for the cells below 0, of 1 - p(x) for
  // those above; TABLE[8 j + 4 .. 8 j + 7]: cubic of L(x) = -log(1 - p(x)) = log(1 + e^x). Each
  // interpolates its function f at the 4 Chebyshev nodes of the cell, so its error is at most
  // max|f^(4)| (1/128)^4 / 192 <= 1.95e-11 f (|f^(4)| <= f for all three).
  const CELLS = 1184;
  const TABLE = new Float64Array(CELLS * 8);
  {
    // The nodes are +-a and +-b; the even part c0 + c2 w^2 and the odd part c1 w + c3 w^3 of the
    // cubic through the 4 values each follow from 2 equations.
    const a = 0.5 * Math.cos(Math.PI / 8);
    const b = 0.5 * Math.cos((3 * Math.PI) / 8);
    const d = a * a - b * b;
    const fit = (at: number, ya: number, yma: number, yb: number, ymb: number): void => {
      const ea = (ya + yma) / 2;
      const eb = (yb + ymb) / 2;
      const oa = (ya - yma) / (2 * a);
      const ob = (yb - ymb) / (2 * b);
      const c2 = (ea - eb) / d;
      const c3 = (oa - ob) / d;
      TABLE[at] = ea - c2 * a * a;
      TABLE[at + 1] = oa - c3 * a * a;
      TABLE[at + 2] = c2;
      TABLE[at + 3] = c3;
    };
    // Below 0: p = e^x / (1 + e^x) and L = log1p(e^x); from 0: q = 1 - p = e^-x / (1 + e^-x) and
    // L = x + log1p(e^-x).
    const e = new Float64Array(4);
    const x = new Float64Array(4);
    for (let j = 0; j < CELLS; j++) {
      const centre = -9.25 + (j + 0.5) / 64;
      const s = centre < 0 ? 1 : -1;
      x[0] = centre + a / 64;
      x[1] = centre - a / 64;
      x[2] = centre + b / 64;
      x[3] = centre - b / 64;
      for (let k = 0; k < 4; k++) e[k] = Math.exp(s * x[k]!);
      fit(8 * j, e[0]! / (1 + e[0]!), e[1]! / (1 + e[1]!), e[2]! / (1 + e[2]!), e[3]! / (1 + e[3]!));
      if (s > 0) fit(8 * j + 4, Math.log1p(e[0]!), Math.log1p(e[1]!), Math.log1p(e[2]!), Math.log1p(e[3]!));
      else fit(8 * j + 4, x[0]! + Math.log1p(e[0]!), x[1]! + Math.log1p(e[1]!), x[2]! + Math.log1p(e[2]!), x[3]! + Math.log1p(e[3]!));
    }
  }
  // Per clamp bounds: [the lower half's range [max(tlo, -9.25), min(thi, 0)), lo, hi, tlo, thi,
  // -log(1 - lo), -log(1 - hi), -log(lo), -log(hi), a negative's loss at lo, at hi, the upper half's
  // range [max(tlo, 0), min(thi, 9.25))]. tlo is the smallest x with fround(sigmoid(x)) >= lo, thi the
  // smallest x with fround(sigmoid(x)) > hi, of the reference's own expression (bisection on
  // doubles): logits below tlo are exactly those the reference clamps to lo, logits from thi up those
  // it clamps to hi. A threshold no logit reaches is NaN (compares false), one all reach -Infinity.
  const CFG = new Float64Array(14);
  let cfgLo = NaN;
  let cfgHi = NaN;
  function setBounds(lo: number, hi: number): void {
    if (lo === cfgLo && hi === cfgHi) return;
    const P = (x: number) => Math.fround(1 / (1 + Math.exp(-x)));
    const smallest = (pred: (x: number) => boolean): number => {
      let a = -1000;
      let b = 1000;
      if (pred(a)) return -Infinity;
      if (!pred(b)) return NaN; // never: no logit compares below or from it
      for (;;) {
        const m = a + (b - a) / 2;
        if (m === a || m === b) return b;
        if (pred(m)) b = m;
        else a = m;
      }
    };
    const tlo = smallest((x) => P(x) >= lo);
    const thi = smallest((x) => P(x) > hi);
    CFG[0] = Math.max(tlo, -9.25);
    CFG[1] = thi === thi ? Math.min(thi, 0) : 0;
    CFG[2] = lo;
    CFG[3] = hi;
    CFG[4] = tlo;
    CFG[5] = thi;
    CFG[6] = -Math.log(1 - lo);
    CFG[7] = -Math.log(1 - hi);
    CFG[8] = -Math.log(lo);
    CFG[9] = -Math.log(hi);
    CFG[10] = CFG[6] * lo * lo; // the negative's loss at lo, as the reference multiplies it
    CFG[11] = CFG[7] * hi * hi;
    CFG[12] = Math.max(tlo, 0);
    CFG[13] = thi === thi ? Math.min(thi, 9.25) : 9.25;
    cfgLo = lo;
    cfgHi = hi;
  }

  /**
   * Pixels [start, end) of a float32 heatmap: adds the negatives of the table's lower half (logits in
   * [tlo, 0)) to st[1] and hands every other pixel to otherPixel. Returns the heap threshold.
   */
  function tableBlock(
    logits: Float32Array | Float64Array,
    gt: Float32Array | Float64Array,
    start: number,
    end: number,
    T: Float64Array,
    cfg: Float64Array,
    st: Float64Array,
    heap: Heap,
    threshold: number,
  ): number {
    const A = cfg[0]!;
    const B = cfg[1]!;
    let Q = 0;
    for (let i = start; i < end; i++) {
      const x = logits[i]!;
      const g = gt[i]!;
      let v = -1; // stays negative: otherPixel
      if (x >= A && x < B) {
        // Literals: CELLS_PER_UNIT, ZERO_CELL, CENTRE_OFFSET, GUARD_UP, GUARD_DOWN (KERNEL_CONSTANTS).
        const x64 = x * 64;
        const j = (x64 + 592) | 0;
        const w = x64 + 591.5 - j;
        const c = j << 3;
        const w2 = w * w;
        const p = T[c]! + w * T[c | 1]! + w2 * (T[c | 2]! + w * T[c | 3]!);
        const pr = Math.fround(p * 1.00000000005);
        if (pr === Math.fround(p * 0.99999999995)) {
          // pr is the float32 rounding of the exact sigmoid: move L from p to pr.
          const L = T[c | 4]! + w * T[c | 5]! + w2 * (T[c | 6]! + w * T[c | 7]!);
          if (g < 1) {
            const q = 1 - g; // 1 for the common gt = 0
            const q2 = q * q;
            v = pr * pr * (L + (pr - p) * (1 + p * (1 + p * (1 + p)))) * q2 * q2;
          } // else a positive, or in neither set
        }
      }
      if (v >= 0) {
        Q += v;
        if (v > threshold) threshold = pushHeap(heap, v, i);
      } else threshold = otherPixel(logits, gt, i, T, cfg, st, heap, threshold);
    }
    st[1] += Q;
    return threshold;
  }

  /**
   * Pixels [start, end) of a float32 heatmap through the SIMD module, in chunks of its capacity:
   * the common pixels' sum to st[1], the candidates into the heap, every other pixel through
   * otherPixel. Returns the heap threshold.
   */
  function simdBlock(
    logits: Float32Array,
    gt: Float32Array,
    start: number,
    end: number,
    W: Simd,
    cfg: Float64Array,
    st: Float64Array,
    heap: Heap,
    threshold: number,
  ): number {
    // [a, b) = [tlo, min(thi, 0)) as float32 bounds; below -16 the float32 p^2 would underflow.
    const a = Math.max(up32(cfg[4]!), -16);
    const b = up32(cfg[1]!);
    // Arrays already in the module's memory (see `inputs`) are read in place, others copied in.
    const xIn = logits.buffer === W.memory;
    const gIn = gt.buffer === W.memory;
    // The plane in steps of multiples of 8 pixels from its start (the module's float64 sum is the
    // same for any such steps, so every path, threaded, streamed or whole, gives the same bits).
    // While the heap is not full every loss is a candidate: the steps start small, then grow.
    W.planeStart();
    let step = threshold === -Infinity ? 64 : 4096;
    for (let s = start; s < end; ) {
      const n = Math.min(step, end - s);
      let xp = W.X.byteOffset;
      let gp = W.G.byteOffset;
      if (xIn) xp = logits.byteOffset + 4 * s;
      else W.X.set(logits.subarray(s, s + n));
      if (gIn) gp = gt.byteOffset + 4 * s;
      else W.G.set(gt.subarray(s, s + n));
      W.negSums(xp, gp, n, a, b, down32(threshold));
      const candidates = W.candCount();
      for (let c = 0; c < candidates; c++) {
        const v = W.candValue[c]!;
        if (v > threshold) threshold = pushHeap(heap, v, s + W.candIndex[c]!);
      }
      const others = W.rareCount();
      for (let r = 0; r < others; r++) threshold = otherPixel(logits, gt, s + W.rare[r]!, TABLE, CFG, st, heap, threshold);
      s += n;
      step = Math.min(4096, step * 4);
    }
    st[1] += W.planeSum();
    return threshold;
  }

  /**
   * A float32 pixel the loop above leaves: a negative with a logit in [0, thi) (the table's upper
   * half, which holds 1 - p) or a clamped one (constants), else exactPixel. Adds to st (as
   * exactPixel), returns the heap threshold.
   */
  function otherPixel(
    logits: Float32Array | Float64Array,
    gt: Float32Array | Float64Array,
    i: number,
    T: Float64Array,
    cfg: Float64Array,
    st: Float64Array,
    heap: Heap,
    threshold: number,
  ): number {
    const x = logits[i]!;
    const g = gt[i]!;
    let v = -1;
    if (g < 1) {
      const q = 1 - g;
      const q2 = q * q;
      if (x >= cfg[12]! && x < cfg[13]!) {
        const x64 = x * 64;
        const j = (x64 + 592) | 0;
        const w = x64 + 591.5 - j;
        const c = j << 3;
        const w2 = w * w;
        const y = T[c]! + w * T[c | 1]! + w2 * (T[c | 2]! + w * T[c | 3]!); // 1 - p
        const p = 1 - y;
        const pr = Math.fround(p * 1.00000000005);
        if (pr === Math.fround(p * 0.99999999995)) {
          const L = T[c | 4]! + w * T[c | 5]! + w2 * (T[c | 6]! + w * T[c | 7]!);
          const e = (pr - p) / y; // L(pr) - L(p) = -log(1 - e) to second order
          v = pr * pr * (L + e * (1 + 0.5 * e)) * q2 * q2;
        }
      } else if (x < cfg[4]!) {
        v = cfg[10]! * q2 * q2;
        st[2]++;
        if (x === -Infinity) st[4]++;
      } else if (x >= cfg[5]!) {
        v = cfg[11]! * q2 * q2;
        st[3]++;
        if (x === Infinity) st[4]++;
      }
    }
    if (v < 0) return exactPixel(logits, gt, i, cfg, st, heap, threshold);
    st[1] += v;
    if (v > threshold) threshold = pushHeap(heap, v, i);
    return threshold;
  }

  /**
   * One pixel of a float32 heatmap as the reference computes it (with the bounds and their logs as
   * constants beyond the thresholds): adds to st[0] (positives) or st[1] (negatives), counts in
   * st[2] (clamped low), st[3] (clamped high), st[4] (non-finite logits), st[5] (positives at lo).
   */
  function exactPixel(
    logits: Float32Array | Float64Array,
    gt: Float32Array | Float64Array,
    i: number,
    cfg: Float64Array,
    st: Float64Array,
    heap: Heap,
    threshold: number,
  ): number {
    const x = logits[i]!;
    const g = gt[i]!;
    const lo = cfg[2]!;
    const hi = cfg[3]!;
    if (x - x !== 0) st[4]++;
    let p: number;
    let bound = 0; // 1: p = lo, 2: p = hi, by the thresholds
    if (x < cfg[4]!) {
      p = lo;
      bound = 1;
      st[2]++;
    } else if (x >= cfg[5]!) {
      p = hi;
      bound = 2;
      st[3]++;
    } else {
      p = Math.fround(1 / (1 + Math.exp(-x))); // NaN stays NaN
      if (p < lo) {
        p = lo;
        st[2]++;
      } else if (p > hi) {
        p = hi;
        st[3]++;
      }
    }
    let v: number;
    if (g === 1) {
      const q = 1 - p;
      v = (bound === 1 ? cfg[8]! : bound === 2 ? cfg[9]! : -Math.log(p)) * q * q;
      st[0] += v;
      if (p === lo) st[5]++;
    } else if (g < 1) {
      const w = 1 - g;
      const w2 = w * w;
      v = (bound === 1 ? cfg[6]! : bound === 2 ? cfg[7]! : -Math.log(1 - p)) * p * p * w2 * w2;
      st[1] += v;
    } else return threshold; // above 1 or NaN: in neither set
    if (v > threshold) threshold = pushHeap(heap, v, i);
    return threshold;
  }

  /** Clamped probabilities of logits[start, start + n) into probs[0, n). */
  function probabilities(
    logits: Float32Array | Float64Array,
    start: number,
    n: number,
    lo: number,
    hi: number,
    round32: boolean,
    pow2: Float64Array,
    out: Float64Array,
    tally: Float64Array,
  ): void {
    let low = 0;
    let high = 0;
    let nonFinite = 0;
    for (let j = 0; j < n; j++) {
      const x = logits[start + j]!;
      let p: number;
      // Constants as literals (closure constants would be loaded from the context in the loop):
      // XLIM, 64 / ln 2, the rounding constant, STEP_HI, STEP_LO, OFFSET (see KERNEL_CONSTANTS).
      if (x > -9.5 && x < 9.5) {
        const y = -x;
        const k = y * 92.33248261689366 + 6755399441055744 - 6755399441055744;
        const r = y - k * 0.010830424726009369 - k * -2.976022379919119e-11;
        const r2 = r * r;
        const e = pow2[(k + 896) | 0]! * (1 + r + r2 * (0.5 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120)));
        p = 1 / (1 + e);
        if (round32) p = Math.fround(p);
        if (p < lo) {
          p = lo;
          low++;
        } else if (p > hi) {
          p = hi;
          high++;
        }
      } else if (x <= -9.5) {
        if (x === -Infinity) nonFinite++;
        p = lo;
        low++;
      } else if (x >= 9.5) {
        if (x === Infinity) nonFinite++;
        p = hi;
        high++;
      } else {
        nonFinite++; // NaN: stays NaN, as clamp leaves it
        p = x;
      }
      out[j] = p;
    }
    tally[0] += low;
    tally[1] += high;
    tally[2] += nonFinite;
  }

  /**
   * Sums of one block: adds to sums[0] (positives) and sums[1] (negatives), counts clamped
   * positives in tally[3], and pushes losses above the heap's threshold. Returns the threshold.
   */
  function block(
    gt: Float32Array | Float64Array,
    start: number,
    n: number,
    lo: number,
    probs: Float64Array,
    sums: Float64Array,
    tally: Float64Array,
    heap: Heap,
    threshold: number,
  ): number {
    let P = 0;
    let Q = 0;
    let positivesAtLo = 0;
    for (let j = 0; j < n; j++) {
      const g = gt[start + j]!;
      const p = probs[j]!;
      // The series for every pixel, then one rarely taken branch: in V8 this is much faster than
      // branching on the set first (measured), since nearly every pixel is a background negative.
      // The series runs on 1 - (1 - p): the reference (and torch) take the log of the rounded
      // 1 - p, which matters for float64 p (for float32 p, 1 - p is exact and this is p).
      const pe = 1 - (1 - p);
      const s = pe / (2 - pe);
      const s2 = s * s;
      let L = s * (2 + s2 * (2 / 3 + s2 * (2 / 5 + s2 * (2 / 7 + s2 * (2 / 9 + s2 * (2 / 11))))));
      let v = L * p * p;
      if (g !== 0 || !(p < 0.125)) {
        if (g < 1) {
          if (!(p < 0.125)) L = -Math.log(1 - p);
          const w = 1 - g;
          const w2 = w * w;
          v = L * p * p * w2 * w2;
        } else if (g === 1) {
          const q = 1 - p;
          v = -Math.log(p) * q * q;
          P += v;
          if (p === lo) positivesAtLo++;
          if (v > threshold) threshold = pushHeap(heap, v, start + j);
          continue;
        } else continue; // above 1 or NaN: in neither set
      }
      Q += v;
      if (v > threshold) threshold = pushHeap(heap, v, start + j);
    }
    sums[0] += P;
    sums[1] += Q;
    tally[3] += positivesAtLo;
    return threshold;
  }

  interface Heap {
    values: Float64Array;
    indices: Float64Array;
    size: number;
  }

  /** Min-heap of the k largest values (the algorithm of TopK in focal.ts); returns its threshold. */
  function pushHeap(h: Heap, v: number, index: number): number {
    const vs = h.values;
    const is = h.indices;
    const k = vs.length;
    if (k === 0) return -Infinity;
    if (h.size < k) {
      let i = h.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (vs[parent]! <= v) break;
        vs[i] = vs[parent]!;
        is[i] = is[parent]!;
        i = parent;
      }
      vs[i] = v;
      is[i] = index;
      return h.size === k ? vs[0]! : -Infinity;
    }
    let i = 0;
    const n = h.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && vs[r]! < vs[l]! ? r : l;
      if (vs[c]! >= v) break;
      vs[i] = vs[c]!;
      is[i] = is[c]!;
      i = c;
    }
    vs[i] = v;
    is[i] = index;
    return vs[0]!;
  }

  function sums(
    logits: Float32Array | Float64Array,
    gt: Float32Array | Float64Array,
    planeStart: number,
    planeEnd: number,
    HW: number,
    lo: number,
    hi: number,
    round32: boolean,
    topK: number,
  ): RawFocalSums {
    const planes = planeEnd - planeStart;
    const pos = new Float64Array(planes);
    const neg = new Float64Array(planes);
    // The plane's positive and negative sums, then clampedLow, clampedHigh, nonFinite, clampedPositives.
    const st = new Float64Array(6);
    const tally = st.subarray(2);
    const k = Math.max(0, Math.floor(topK));
    const heap: Heap = { values: new Float64Array(k), indices: new Float64Array(k), size: 0 };
    let threshold = k === 0 ? Infinity : -Infinity; // nothing to keep: never push
    if (round32) setBounds(lo, hi);
    const simdNow = round32 && SIMD !== undefined && logits instanceof Float32Array && gt instanceof Float32Array;
    for (let plane = planeStart; plane < planeEnd; plane++) {
      st[0] = 0;
      st[1] = 0;
      const end = (plane + 1) * HW;
      for (let start = plane * HW; start < end; start += BLOCK) {
        const stop = Math.min(end, start + BLOCK);
        if (simdNow) {
          threshold = simdBlock(logits as Float32Array, gt as Float32Array, start, end, SIMD!, CFG, st, heap, threshold);
          break; // the whole plane, in the module's chunks
        }
        if (round32) threshold = tableBlock(logits, gt, start, stop, TABLE, CFG, st, heap, threshold);
        else {
          probabilities(logits, start, stop - start, lo, hi, false, POW2, probs, tally);
          threshold = block(gt, start, stop - start, lo, probs, st, tally, heap, threshold);
        }
      }
      pos[plane - planeStart] = st[0]!;
      neg[plane - planeStart] = st[1]!;
    }
    return {
      pos,
      neg,
      clampedLow: st[2]!,
      clampedHigh: st[3]!,
      clampedPositives: st[5]!,
      nonFinite: st[4]!,
      topValues: heap.values.slice(0, heap.size),
      topIndices: heap.indices.slice(0, heap.size),
    };
  }

  // Every branch once before any real input, so that the loops are optimized with complete type
  // feedback (see the notes at the top): float32 and float64 inputs, heaps of 0, 3 and 20 entries;
  // first table-path pixels of growing loss (the heap fills, then replaces its root), then every kind
  // of logit against every kind of target.
  {
    const specialX = [NaN, Infinity, -Infinity, -20, 20, 0.5, 5, -12, -9.5, -9.21, -1.5, 9.3, -4, -0.001];
    const specialG = [1, 0, 0.25, 2, NaN, -0.5];
    const n = 48 + specialX.length * specialG.length;
    for (const f32 of [true, false]) {
      const x = f32 ? new Float32Array(n) : new Float64Array(n);
      const g = f32 ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < 48; i++) {
        x[i] = -8 + i / 8;
        g[i] = i % 3 === 0 ? 0.25 : 0;
      }
      for (let i = 48; i < n; i++) {
        x[i] = specialX[(i - 48) % specialX.length]!;
        g[i] = specialG[Math.floor((i - 48) / specialX.length)]!;
      }
      const lo = f32 ? Math.fround(1e-4) : 1e-4;
      const hi = f32 ? Math.fround(1 - 1e-4) : 1 - 1e-4;
      for (const k of [0, 3, 20]) sums(x, g, 0, 2, n / 2, lo, hi, f32, k);
    }
  }

  /**
   * Views of n float32 values in the SIMD module's memory, for logits and targets that the caller
   * fills itself (the streamed pass reads its chunks into them): sums reads them in place. Undefined
   * without SIMD or beyond its capacity. The views are reused by the next call.
   */
  function inputs(n: number): { x: Float32Array; g: Float32Array } | undefined {
    if (SIMD === undefined || n > SIMD.cap) return undefined;
    return { x: SIMD.X.subarray(0, n), g: SIMD.G.subarray(0, n) };
  }

  /**
   * scanTargets (focal.ts) through the SIMD module, for float32 targets of at most its capacity
   * (read in place when they are in its memory, see `inputs`); undefined otherwise.
   */
  function scan(gt: Float32Array | Float64Array, planes: number, HW: number, positiveIndices?: Float64Array) {
    const W = SIMD;
    const n = planes * HW;
    if (W === undefined || !(gt instanceof Float32Array) || n > W.cap || gt.length < n) return undefined;
    let gp = W.G.byteOffset;
    if (gt.buffer === W.memory) gp = gt.byteOffset;
    else W.G.set(gt.subarray(0, n));
    const room = positiveIndices ? Math.min(positiveIndices.length, W.cap) : 0;
    const ex = W.ex;
    const positives = ex.scanTargets!(gp, planes, HW, room);
    if (room) positiveIndices!.set(W.rare.subarray(0, Math.min(room, positives)));
    const firstNearOne = ex.scanFirstNearOne!();
    const firstAboveOne = ex.scanFirstAboveOne!();
    return {
      positives,
      planePositives: W.candIndex.slice(0, planes),
      nearOne: ex.scanNearOne!(),
      firstNearOne: firstNearOne < 0 ? undefined : firstNearOne,
      aboveOne: ex.scanAboveOne!(),
      firstAboveOne: firstAboveOne < 0 ? undefined : firstAboveOne,
      nonFinite: ex.scanNonFinite!(),
    };
  }

  return { sums, inputs, scan };
}
