// Bundles everything with esbuild: the extension and CLI for Node (dist/, shipped), and the unit
// tests, benchmark and generators (out/, never shipped).
// Usage: node scripts/build.mjs [--production] [--only dist|out]
import * as esbuild from 'esbuild';
import { readdirSync, existsSync, rmSync, readFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import asc from 'assemblyscript/asc';

const production = process.argv.includes('--production');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined;

// The focal kernel's SIMD loop: AssemblyScript compiled to WebAssembly (a devDependency, so the
// build is reproducible from npm ci), embedded in the bundles as bytes through `focal-simd-wasm`.
const wasmOut = 'out-wasm/focalSimd.wasm';
mkdirSync('out-wasm', { recursive: true });
{
  const { error, stderr } = await asc.main([
    'src/cornernet/focal/wasm/focalSimd.as.ts',
    '-O3', '--noAssert', '--enable', 'simd', '--runtime', 'stub',
    '--initialMemory', '24', '--maximumMemory', '24',
    '-o', wasmOut,
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build: AssemblyScript failed: ${error.message}`);
    process.exit(1);
  }
}
const focalSimdWasm = {
  name: 'focal-simd-wasm',
  setup(build) {
    build.onResolve({ filter: /^focal-simd-wasm$/ }, () => ({ path: resolve(wasmOut) }));
    build.onLoad({ filter: /focalSimd\.wasm$/ }, () => ({ contents: readFileSync(wasmOut), loader: 'binary' }));
  },
};

const nodeCommon = {
  plugins: [focalSimdWasm],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  minify: production,
  logLevel: 'warning',
  external: ['vscode'],
  define: { __VERSION__: JSON.stringify(pkg.version) },
};

function listTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTests(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

const jobs = [];
if (only !== 'out') {
  rmSync('dist', { recursive: true, force: true });
  jobs.push(
    esbuild.build({ ...nodeCommon, entryPoints: { extension: 'src/extension.ts' }, outdir: 'dist', banner: { js: 'globalThis.__cnT0 = performance.now();' } }),
    // The surfaces: loaded by extension.js on first use, never at activation (src/surfaces.ts).
    esbuild.build({ ...nodeCommon, entryPoints: { surfaces: 'src/surfaces.ts' }, outdir: 'dist' }),
    esbuild.build({ ...nodeCommon, entryPoints: { worker: 'src/worker/lossWorker.ts' }, outdir: 'dist' }),
    // Timelines of run folders and A/B comparisons (src/timelinePanel.ts, src/comparePanel.ts).
    esbuild.build({ ...nodeCommon, entryPoints: { runWorker: 'src/worker/runWorker.ts' }, outdir: 'dist' }),
    esbuild.build({
      bundle: true,
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      sourcemap: production ? false : 'linked',
      sourcesContent: false,
      minify: production,
      logLevel: 'warning',
      entryPoints: {
        panel: 'webview/panel/main.ts',
        viewer: 'webview/viewer/main.ts',
        sidebar: 'webview/sidebar/main.ts',
        // These two import their CSS (uPlot's and their own): esbuild writes timeline.css, compare.css.
        timeline: 'webview/timeline/main.ts',
        compare: 'webview/compare/main.ts',
      },
      outdir: 'dist/webview',
    }),
    esbuild.build({
      ...nodeCommon,
      entryPoints: { cli: 'src/cli.ts' },
      outdir: 'dist',
      banner: { js: '#!/usr/bin/env node' },
    }),
  );
}
if (only !== 'dist') {
  rmSync('out', { recursive: true, force: true });
  const tests = listTests('test/unit');
  if (tests.length) {
    jobs.push(
      esbuild.build({
        ...nodeCommon,
        sourcemap: 'inline',
        entryPoints: tests,
        outbase: 'test',
        outdir: 'out/test',
      }),
    );
  }
  // Integration suites run inside the extension host: `vscode` stays external, mocha is bundled.
  const integration = listTests('test/integration');
  if (integration.length) {
    jobs.push(
      esbuild.build({
        ...nodeCommon,
        sourcemap: 'inline',
        entryPoints: [...integration, 'test/integration/index.ts'],
        outbase: 'test',
        outdir: 'out/test',
        // mocha's parallel mode (require.resolve of its worker files) is never used in the
        // extension host; without this every build prints two warnings about it
        logOverride: { 'require-resolve-not-external': 'silent' },
      }),
    );
  }
  const tools = ['scripts/bench.ts', 'scripts/gen-sample.ts', 'scripts/fuzz.ts'].filter((f) => existsSync(f));
  if (tools.length) {
    jobs.push(esbuild.build({ ...nodeCommon, entryPoints: tools, outdir: 'out' }));
  }
}
await Promise.all(jobs);
