/**
 * The compiled SIMD part of the focal kernel (src/cornernet/wasm/focalSimd.as.ts, built into the
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

let counter: { ex: Record<string, (...a: number[]) => number>; X: Float32Array } | null | undefined;

/**
 * NaN and +-Inf among float32 values, by the SIMD module (copied into its memory a chunk at a time),
 * or undefined without WebAssembly SIMD.
 */
export function countNonFiniteSimd(a: Float32Array): number | undefined {
  if (counter === undefined) {
    const module = focalSimdModule();
    try {
      const ex = new WebAssembly.Instance(module!, {}).exports as Record<string, (...a: number[]) => number> & { memory: WebAssembly.Memory };
      counter = { ex, X: new Float32Array(ex.memory.buffer, ex.xPtr!(), ex.capacity!()) };
    } catch {
      counter = null;
    }
  }
  if (counter === null) return undefined;
  const { ex, X } = counter;
  let n = 0;
  for (let s = 0; s < a.length; s += X.length) {
    const part = a.subarray(s, s + X.length);
    X.set(part);
    n += ex.countNonFinite!(X.byteOffset, part.length);
  }
  return n;
}
