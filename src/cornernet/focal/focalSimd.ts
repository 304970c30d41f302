/**
 * The compiled SIMD part of the focal kernel (src/cornernet/focal/wasm/focalSimd.as.ts, built into the
 * bundle by scripts/build.mjs), compiled once per thread and handed to createFocalKernel; worker
 * threads receive the compiled module itself.
 */
import focalSimdWasm from 'focal-simd-wasm';

let compiled: WebAssembly.Module | null | undefined;

/**
 * The module, or undefined where this runtime has no WebAssembly SIMD (the kernel then runs its
 * JavaScript table path, same values to ~1e-9).
 */
export function focalSimdModule(): WebAssembly.Module | undefined {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(focalSimdWasm);
    } catch {
      compiled = null;
    }
  }
  return compiled ?? undefined;
}

/** This thread's instance for the helpers below (the kernels have their own). */
let helper: { ex: Record<string, (...a: number[]) => number>; X: Float32Array; G: Float32Array; O: Float32Array; rare: Int32Array } | null | undefined;

function helperInstance() {
  if (helper === undefined) {
    const module = focalSimdModule();
    try {
      const ex = new WebAssembly.Instance(module!, {}).exports as Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory };
      const buf = ex.memory.buffer;
      const cap = ex.capacity!();
      helper = {
        ex,
        X: new Float32Array(buf, ex.xPtr!(), cap),
        G: new Float32Array(buf, ex.gPtr!(), cap),
        // The candidates' value region holds the output (pixelLosses lists no candidates).
        O: new Float32Array(buf, ex.candValuePtr!(), cap),
        rare: new Int32Array(buf, ex.rarePtr!(), cap),
      };
    } catch {
      helper = null;
    }
  }
  return helper ?? undefined;
}

/**
 * NaN and +-Inf among float32 values, by the SIMD module (copied into its memory a chunk at a time),
 * or undefined without WebAssembly SIMD.
 */
export function countNonFiniteSimd(a: Float32Array): number | undefined {
  const h = helperInstance();
  if (!h) return undefined;
  let n = 0;
  for (let s = 0; s < a.length; s += h.X.length) {
    const part = a.subarray(s, s + h.X.length);
    h.X.set(part);
    n += h.ex.countNonFinite!(h.X.byteOffset, part.length);
  }
  return n;
}

/**
 * Per-pixel focal losses of float32 logits and targets with the float32 clamp bounds, into `out`:
 * the common pixels (negatives with a logit in [-9.2, 0)) by the SIMD module, to ~1e-6 relative,
 * the others by `exact` (the reference expression). False without WebAssembly SIMD.
 */
export function pixelLossesSimd(logits: Float32Array, gt: Float32Array, out: Float32Array, exact: (x: number, g: number) => number): boolean {
  const h = helperInstance();
  if (!h) return false;
  const n = logits.length;
  for (let s = 0; s < n; s += h.X.length) {
    const m = Math.min(h.X.length, n - s);
    h.X.set(logits.subarray(s, s + m));
    h.G.set(gt.subarray(s, s + m));
    // From -9.2 (above logit(1e-4) = -9.2103: nothing below is clamped-or-not ambiguous) to 0.
    h.ex.pixelLosses!(h.X.byteOffset, h.G.byteOffset, h.O.byteOffset, m, -9.2, 0);
    out.set(h.O.subarray(0, m), s);
    const others = h.ex.rareCount!();
    for (let r = 0; r < others; r++) {
      const i = s + h.rare[r]!;
      out[i] = exact(logits[i]!, gt[i]!);
    }
  }
  return true;
}
