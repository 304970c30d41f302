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
