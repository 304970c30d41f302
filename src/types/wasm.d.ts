// The WebAssembly API the focal kernel uses (TypeScript's lib has it only with the DOM types).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports: Record<string, never>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
}

// The focal kernel's SIMD part, compiled from src/cornernet/focal/wasm/focalSimd.as.ts by scripts/build.mjs.
declare module 'focal-simd-wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
