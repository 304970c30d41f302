/**
 * `npm run bench [-- --json] [--runs N] [--torch-runs N] [--cli-runs N] [--threads N] [--no-torch]
 * [--no-kernel] [--keep DIR] [--session-only]`
 *
 * The realistic case of cornernet-loss.md (S=2, B=4, C=80, 128x128, K=128; generated
 * deterministically and written as the 17 .npy files of a fixture folder to a temporary folder),
 * then, in one run:
 * - ours, in this process, N runs after 2 warm-ups, with the thread count given (default: the
 *   machine's): the CLI's job (`computeLossFromFiles`: headers and the small arrays read first, the
 *   heatmaps streamed through the focal pass), the extension worker's (`computeLossForViews`: the
 *   same with the maps read whole, then the first panel data: one image's heatmaps read back, the
 *   two slices of its worst plane and the 80-class thumbnails) and whole arrays
 *   (`computeLossWithInputs`: every array read first, the path of notebook arrays and --no-stream);
 * - the reference scalar kernel (`referenceFocalSums`, the plain per-pixel loop): the compute time
 *   the machine gets without PyTorch and without the fast kernel;
 * - the CLI (`node dist/cli.js --json DIR`, spawned, a fresh process each run): its own timings and
 *   its peak RSS, streamed (the default) and with --no-stream;
 * - the original, side by side: scripts/baseline_torch.py under /usr/bin/python3 (Debian's
 *   python3-torch and python3-numpy), which times AELoss.forward and np.load of the same files;
 *   skipped with "torch not available" when it cannot be imported. Its total must equal ours to
 *   1e-5 (relative).
 * - the notebook transfer (unless --no-kernel): a real ipykernel (jupyter_client, Debian's
 *   python3-ipykernel) holding the case as CornerNet's `outs`/`targets` lists (torch tensors), pulled
 *   as files (a local kernel) and as base64 chunks (the remote path), time to files on disk and
 *   the loss of the pulled arrays;
 * - the extension's path, host side (first; alone with --session-only): a LossSession on
 *   dist/worker.js as "Compute CornerNet Loss" starts it, to its report; the first planes the panel
 *   asks; a class switch and an image switch; the diagnosis and the ablation after them;
 * - the panel and extension-host figures of the last `npm test` (test-results/*.json: activation,
 *   the longest run on the extension host's event loop, panel paint and hover times), when present.
 *
 * Reading, when streamed: `readMs` covers the headers and the small arrays; the heatmaps' 126 MB
 * are read inside the focal pass (`heatmapReadMs`, per thread, is part of `computeMs`). Both are
 * printed, and so is their sum against np.load.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { referenceFocalSums, type FocalSums } from '../src/cornernet/focal/focal';
import { discoverInputs } from '../src/cornernet/inputs/discover';
import { loadInputs } from '../src/cornernet/inputs/load';
import { MIN_THREADED_PIXELS, computeLoss } from '../src/cornernet/loss/cornernet';
import { boundsFor } from '../src/cornernet/model/pixel';
import { resolveThreadCount } from '../src/cornernet/focal/parallel';
import { resolveRoles } from '../src/cornernet/inputs/resolve';
import { CORNERS, type Corner } from '../src/cornernet/model/roles';
import { computeLossForViews, computeLossFromFiles, computeLossWithInputs } from '../src/cornernet/run';
import { ImageHeatReader } from '../src/cornernet/views/imageView';
import { classThumbnails, countPositives, heatSlice, worstPlane } from '../src/cornernet/views/slices';
import type { LossInputs } from '../src/cornernet/model/batch';
import { REALISTIC_SPEC, makeSyntheticBatch } from '../test/support/synthetic';
import { encodeNpy } from '../src/tensor/npy';
import { encodeNpz } from '../src/tensor/npz';
import { centernetToMmdetCenternet, cornernetToMmdetCornernet } from '../src/cornernet/loss/mapping';
import { resolveDenseRoles } from '../src/cornernet/inputs/conventionRoles';
import { loadDenseInputs } from '../src/cornernet/inputs/denseLoad';
import { KernelError } from '../src/notebook/kernel';
import { inspectKernel, pullInputs } from '../src/notebook/pull';
import { pairChoices, planOutsTargets } from '../src/notebook/variables';
import { JupyterClientKernel, kernelPython } from '../test/support/jupyterClientKernel';
import { LossSession } from '../src/lossSession';
import { WorkerClient } from '../src/workerClient';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const json = flag('--json');
const runs = option('--runs', 9);
const torchRuns = option('--torch-runs', 5);
const cliRuns = option('--cli-runs', 3);
const threads = resolveThreadCount(option('--threads', 0));
const keepIdx = args.indexOf('--keep');
const keepDir = keepIdx >= 0 ? args[keepIdx + 1] : undefined;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const stats = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), runs: xs.length });
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? a / b : null);

interface CliRun {
  readMs: number;
  computeMs: number;
  heatmapReadMs: number;
  /** The findings' scan and the ground-truth ablation (absent: skipped). */
  diagnoseMs: number;
  ablationMs: number;
  wallMs: number;
  maxRssMB: number;
  total: number | null;
}

interface NotebookBench {
  file: ReturnType<typeof stats>;
  base64: ReturnType<typeof stats>;
  bytes: number;
  totalsEqual: boolean;
  kernelStartMs: number;
}

/** Pulls the case out of a real kernel, by file and by base64, `n` times each. */
async function benchNotebook(dir: string, n: number, total: number | null): Promise<NotebookBench | { unavailable: string }> {
  const probe = spawnSync(kernelPython(), ['-c', 'import ipykernel, jupyter_client, torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { unavailable: `no ipykernel/jupyter_client/torch under ${kernelPython()} (bash scripts/setup-test-env.sh --unit)` };
  const k0 = performance.now();
  const kernel = await JupyterClientKernel.start();
  const kernelStartMs = performance.now() - k0;
  const never = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
  try {
    await kernel.run(`import numpy as np, os, torch
f = {n[:-4]: torch.from_numpy(np.load(os.path.join(${JSON.stringify(dir)}, n))) for n in os.listdir(${JSON.stringify(dir)}) if n.endswith('.npy')}
outs = [f[r][s] for s in range(f['tl_heat'].shape[0]) for r in ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr']]
targets = [f[r] for r in ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']]
del f`);
    const ins = await inspectKernel(kernel, never);
    const pair = pairChoices(ins)[0];
    if (!pair) throw new KernelError('no-variables', 'outs/targets not offered');
    const plan = planOutsTargets(pair.outs, pair.targets);
    const times: Record<'file' | 'base64', number[]> = { file: [], base64: [] };
    let bytes = 0;
    let totalsEqual = true;
    for (const mode of ['file', 'base64'] as const) {
      for (let i = 0; i < n + 1; i++) {
        const pulled = await pullInputs(kernel, plan, { notebook: 'bench', mode, maxBytes: 2 ** 32, token: never });
        try {
          if (i > 0) times[mode].push(pulled.transfer.ms);
          bytes = pulled.transfer.bytes;
          if (i === 1) {
            const { report } = await computeLossWithInputs(pulled.spec, { threads });
            totalsEqual &&= report.total === total;
          }
        } finally {
          await pulled.transfer.dispose();
        }
      }
    }
    return { file: stats(times.file), base64: stats(times.base64), bytes, totalsEqual, kernelStartMs };
  } finally {
    await kernel.shutdown();
  }
}

/**
 * The extension's path, host side, as the panel drives it: a LossSession on dist/worker.js (a
 * worker thread, as the extension starts it) with the extension's options, then what the panel
 * asks first (the worst plane's two slices and its image's 80 thumbnails, at once), then a class
 * switch (two slices) and an image switch (two slices and the strip). `runs` fresh sessions.
 */
async function benchSession(dir: string, n: number) {
  const script = path.resolve('dist/worker.js');
  const out = { coldReportMs: [] as number[], coldFirstPlanesMs: [] as number[], reportMs: [] as number[], firstPlanesMs: [] as number[], classSwitchMs: [] as number[], imageSwitchMs: [] as number[], imageSwitchSlicesMs: [] as number[], diagnosisMs: [] as number[], ablationMs: [] as number[] };
  const options = { findings: 'later' as const, threads };
  const firstPlanes = async (session: LossSession) => {
    const r = session.report;
    const w = worstPlane(r);
    const stack = r.nstack - 1;
    await Promise.all([session.slice('tl', stack, w.image, w.class), session.slice('br', stack, w.image, w.class), session.thumbnails(stack, w.image)]);
  };
  for (let i = 0; i < n; i++) {
    // A worker started at the command (none ahead): what every run paid before the spare worker.
    WorkerClient.disposeSpare();
    const c0 = performance.now();
    const cold = await LossSession.start(script, { paths: [dir] }, options);
    const c1 = performance.now();
    await firstPlanes(cold);
    out.coldReportMs.push(c1 - c0);
    out.coldFirstPlanesMs.push(performance.now() - c1);
    cold.dispose();
    WorkerClient.disposeSpare();
    // The extension's way: the spare worker, started and warmed while the user gets to the command.
    WorkerClient.prestart(script);
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = performance.now();
    const session = await LossSession.start(script, { paths: [dir] }, options);
    const t1 = performance.now();
    try {
      const r = session.report;
      const w = worstPlane(r);
      const stack = r.nstack - 1;
      const planes = (image: number, cls: number, thumbs: boolean) =>
        Promise.all([session.slice('tl', stack, image, cls), session.slice('br', stack, image, cls), ...(thumbs ? [session.thumbnails(stack, image)] : [])]);
      await firstPlanes(session);
      const t2 = performance.now();
      const afterPlanes = (async () => {
        const d0 = performance.now();
        await session.diagnose();
        const d1 = performance.now();
        await session.ablation();
        return [d1 - d0, performance.now() - d1];
      })();
      const [dMs, aMs] = await afterPlanes;
      // The user looks for a moment (the worker prefetches the other images while nothing is asked).
      await new Promise((r) => setTimeout(r, 1000));
      const c0 = performance.now();
      await planes(w.image, (w.class + 7) % r.sizes.classes, false);
      const c1 = performance.now();
      const other = (w.image + 1) % r.sizes.batch;
      const s0 = performance.now();
      await planes(other, w.class, false);
      const s1 = performance.now();
      await session.thumbnails(stack, other);
      const s2 = performance.now();
      out.reportMs.push(t1 - t0);
      out.firstPlanesMs.push(t2 - t1);
      out.diagnosisMs.push(dMs!);
      out.ablationMs.push(aMs!);
      out.classSwitchMs.push(c1 - c0);
      out.imageSwitchSlicesMs.push(s1 - s0);
      out.imageSwitchMs.push(s2 - s0);
    } finally {
      session.dispose();
    }
  }
  WorkerClient.disposeSpare();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, stats(v)])) as Record<keyof typeof out, ReturnType<typeof stats>>;
}

/** Figures the test suites measured in a real VS Code (written to test-results/ by the last npm test). */
function lastTestFigures(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of ['activation', 'event-loop', 'panel-timings']) {
    const f = path.join(process.cwd(), 'test-results', `${name}.json`);
    if (existsSync(f)) {
      try {
        out[name] = JSON.parse(readFileSync(f, 'utf8'));
      } catch {
        // a half-written file: leave it out
      }
    }
  }
  return out;
}

/** One CLI run with its peak RSS: /usr/bin/time -v when present, else a preloaded exit hook. */
function runCli(dir: string, extra: string[]): CliRun {
  const cli = path.resolve('dist/cli.js');
  const cliArgs = [cli, '--json', '--threads', String(threads), ...extra, dir];
  const env = process.env;
  const t0 = performance.now();
  let r;
  let rssKB: number;
  if (existsSync('/usr/bin/time')) {
    r = spawnSync('/usr/bin/time', ['-v', process.execPath, ...cliArgs], { encoding: 'utf8', env, maxBuffer: 1 << 28 });
    rssKB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  } else {
    const hook = path.join(os.tmpdir(), 'cornernet-bench-rss.js');
    writeFileSync(hook, "process.on('exit', () => process.stderr.write(`maxrss-kb ${process.resourceUsage().maxRSS}\\n`));\n");
    r = spawnSync(process.execPath, ['--require', hook, ...cliArgs], { encoding: 'utf8', env, maxBuffer: 1 << 28 });
    rssKB = Number(/maxrss-kb (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  }
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`cli failed (${r.status}): ${r.stderr}`);
  const report = JSON.parse(r.stdout);
  return { readMs: report.timings.readMs, computeMs: report.timings.computeMs, heatmapReadMs: report.timings.heatmapReadMs ?? 0, diagnoseMs: report.timings.diagnoseMs ?? NaN, ablationMs: report.timings.ablationMs ?? NaN, wallMs, maxRssMB: rssKB / 1024, total: report.total };
}

/**
 * `--each` over a run of `steps` steps of the batch (symbolic links to its folder: the disk holds it
 * once), in one fresh CLI process: wall time per step, the engine's per-step times, peak RSS.
 */
function runEachCli(dir: string, steps: number) {
  const run = mkdtempSync(path.join(os.tmpdir(), 'cornernet-bench-run-'));
  try {
    for (let s = 1; s <= steps; s++) symlinkSync(dir, path.join(run, `step_${String(s * 100).padStart(6, '0')}`));
    const cliArgs = [path.resolve('dist/cli.js'), '--each', '--json', '--settle', '0', '--threads', String(threads), run];
    const t0 = performance.now();
    const timed = existsSync('/usr/bin/time');
    const hook = path.join(os.tmpdir(), 'cornernet-bench-rss.js');
    if (!timed) writeFileSync(hook, "process.on('exit', () => process.stderr.write(`maxrss-kb ${process.resourceUsage().maxRSS}\\n`));\n");
    const r = timed
      ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...cliArgs], { encoding: 'utf8', maxBuffer: 1 << 30 })
      : spawnSync(process.execPath, ['--require', hook, ...cliArgs], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const wallMs = performance.now() - t0;
    if (r.status !== 0) throw new Error(`cli --each failed (${r.status}): ${r.stderr}`);
    const rssKB = Number((timed ? /Maximum resident set size \(kbytes\): (\d+)/ : /maxrss-kb (\d+)/).exec(r.stderr ?? '')?.[1] ?? NaN);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { step: number; total: number | null; timings: { readMs: number; computeMs: number } });
    return {
      steps: lines.length,
      wallMs,
      wallPerStepMs: wallMs / lines.length,
      stepMs: stats(lines.map((l) => l.timings.readMs + l.timings.computeMs)),
      maxRssMB: rssKB / 1024,
      sameTotals: lines.every((l) => l.total === lines[0]!.total),
      inStepOrder: lines.every((l, i) => l.step === (i + 1) * 100),
    };
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
}

interface TorchResult {
  total: number;
  forwardMs: { median: number; min: number; cpuMedian: number; runs: number };
  npLoadMs: { median: number; min: number; cpuMedian: number; runs: number };
  /** The first np.load of the files in fresh processes (fresh memory, as a script pays it). */
  npFirstLoadMs: { median: number; min: number; runs: number };
  torch: string;
  threads: number;
}

/** scripts/baseline_torch.py under Debian's python, or why it could not run. */
function runTorch(dir: string): TorchResult | { unavailable: string } {
  if (flag('--no-torch')) return { unavailable: 'skipped (--no-torch)' };
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return { unavailable: 'torch not available (no /usr/bin/python3)' };
  const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return { unavailable: 'torch not available (apt-get install -y python3-torch python3-numpy)' };
  const script = path.resolve('scripts/baseline_torch.py');
  const r = spawnSync(python, [script, dir, '--runs', String(torchRuns)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { unavailable: `baseline_torch.py failed: ${(r.stderr ?? '').trim().split('\n').pop()}` };
  const firstLoads: number[] = [];
  for (let i = 0; i < Math.max(1, cliRuns); i++) {
    const f = spawnSync(python, [script, dir, '--first-load'], { encoding: 'utf8' });
    if (f.status !== 0) return { unavailable: `baseline_torch.py --first-load failed: ${(f.stderr ?? '').trim().split('\n').pop()}` };
    firstLoads.push(JSON.parse(f.stdout.trim().split('\n').pop()!).firstLoadMs);
  }
  const { median: m, min } = stats(firstLoads);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult), npFirstLoadMs: { median: m, min, runs: firstLoads.length } };
}

/**
 * The other conventions at the realistic size, built from the same synthetic batch: mmdet
 * CornerHead (its native files, through loss/mapping.ts), CenterNet (output.npz + batch.npz with
 * the tl heatmaps as centers, the tl offsets as reg and synthetic sizes) and mmdet CenterNetHead
 * (through the mapping). In process (N runs after a warm-up) and through the CLI (a fresh process).
 */
async function benchConventions(batch: ReturnType<typeof makeSyntheticBatch>, root: string, n: number) {
  const { S, B, C, H, W, K } = REALISTIC_SPEC;
  const a = batch.arrays;
  const f32 = (t: { data: unknown }) => t.data as Float32Array;
  const per = (t: { data: unknown }, inner: number) => Array.from({ length: S }, (_, s) => f32(t).subarray(s * inner, (s + 1) * inner));
  const write = (dir: string, name: string, t: Parameters<typeof encodeNpy>[0]) => writeFileSync(path.join(dir, name), encodeNpy(t));
  const cat = (parts: ArrayLike<number>[]) => {
    const out = new Float32Array(parts.reduce((x, p) => x + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const HW = H * W;
  const cn = {
    dims: { stacks: S, B, C, H, W, K },
    tlHeat: per(a.tl_heat!, B * C * HW),
    brHeat: per(a.br_heat!, B * C * HW),
    tlTagMap: per(a.tl_tag_map!, B * HW),
    brTagMap: per(a.br_tag_map!, B * HW),
    tlRegrMap: per(a.tl_regr_map!, B * 2 * HW),
    brRegrMap: per(a.br_regr_map!, B * 2 * HW),
    gtTlHeat: f32(a.gt_tl_heat!),
    gtBrHeat: f32(a.gt_br_heat!),
    gtMask: a.gt_mask!.data as Uint8Array,
    tlInd: a.tl_ind!.data as BigInt64Array,
    brInd: a.br_ind!.data as BigInt64Array,
    gtTlRegr: f32(a.gt_tl_regr!),
    gtBrRegr: f32(a.gt_br_regr!),
    precision: 'float32' as const,
  };
  const dirs: Record<string, string> = {};
  // mmdet CornerHead: its own names.
  const mm = cornernetToMmdetCornernet(cn).value;
  dirs['mmdet-cornernet'] = path.join(root, 'mmdet-cornernet');
  mkdirSync(dirs['mmdet-cornernet']);
  const md = dirs['mmdet-cornernet'];
  write(md, 'tl_heats.npy', { dtype: 'float32', shape: [S, B, C, H, W], data: cat(mm.tlHeats) });
  write(md, 'br_heats.npy', { dtype: 'float32', shape: [S, B, C, H, W], data: cat(mm.brHeats) });
  write(md, 'tl_embs.npy', { dtype: 'float32', shape: [S, B, 1, H, W], data: cat(mm.tlEmbs) });
  write(md, 'br_embs.npy', { dtype: 'float32', shape: [S, B, 1, H, W], data: cat(mm.brEmbs) });
  write(md, 'tl_offs.npy', { dtype: 'float32', shape: [S, B, 2, H, W], data: cat(mm.tlOffs) });
  write(md, 'br_offs.npy', { dtype: 'float32', shape: [S, B, 2, H, W], data: cat(mm.brOffs) });
  write(md, 'topleft_heatmap.npy', { dtype: 'float32', shape: [B, C, H, W], data: mm.topleftHeatmap as Float32Array });
  write(md, 'bottomright_heatmap.npy', { dtype: 'float32', shape: [B, C, H, W], data: mm.bottomrightHeatmap as Float32Array });
  write(md, 'topleft_offset.npy', { dtype: 'float32', shape: [B, 2, H, W], data: mm.topleftOffset as Float32Array });
  write(md, 'bottomright_offset.npy', { dtype: 'float32', shape: [B, 2, H, W], data: mm.bottomrightOffset as Float32Array });
  const corners = mm.corners as ArrayLike<number>;
  write(md, 'corner_embedding.npy', { dtype: 'int64', shape: [B, corners.length / (B * 4), 2, 2], data: BigInt64Array.from(Array.from(corners, (v) => BigInt(v))) });
  // CenterNet: as np.savez('output.npz', **output) and np.savez('batch.npz', **batch) write them.
  dirs.centernet = path.join(root, 'centernet');
  mkdirSync(dirs.centernet);
  const wh = new Float32Array(B * K * 2).map((_, i) => 4 + ((i * 7919) % 29));
  const whMap = new Float32Array(S * B * 2 * HW).map((_, i) => 4 + ((i * 104729) % 31));
  writeFileSync(
    path.join(dirs.centernet, 'output.npz'),
    encodeNpz([
      { key: 'hm', tensor: { dtype: 'float32', shape: [S, B, C, H, W], data: f32(a.tl_heat!) } },
      { key: 'wh', tensor: { dtype: 'float32', shape: [S, B, 2, H, W], data: whMap } },
      { key: 'reg', tensor: { dtype: 'float32', shape: [S, B, 2, H, W], data: f32(a.tl_regr_map!) } },
    ]),
  );
  writeFileSync(
    path.join(dirs.centernet, 'batch.npz'),
    encodeNpz([
      { key: 'hm', tensor: { dtype: 'float32', shape: [B, C, H, W], data: f32(a.gt_tl_heat!) } },
      { key: 'reg_mask', tensor: { dtype: 'uint8', shape: [B, K], data: a.gt_mask!.data as Uint8Array } },
      { key: 'ind', tensor: { dtype: 'int64', shape: [B, K], data: a.tl_ind!.data as BigInt64Array } },
      { key: 'wh', tensor: { dtype: 'float32', shape: [B, K, 2], data: wh } },
      { key: 'reg', tensor: { dtype: 'float32', shape: [B, K, 2], data: f32(a.gt_tl_regr!) } },
    ]),
  );
  // mmdet CenterNetHead: one level (the last stack), probabilities.
  const ctd = await computeDenseFromDir(dirs.centernet);
  if (ctd.convention === 'centernet') {
    const m2 = centernetToMmdetCenternet(ctd.inputs).value;
    dirs['mmdet-centernet'] = path.join(root, 'mmdet-centernet');
    mkdirSync(dirs['mmdet-centernet']);
    const d2 = dirs['mmdet-centernet'];
    write(d2, 'center_heatmap_pred.npy', { dtype: 'float32', shape: [B, C, H, W], data: m2.centerHeatmapPred as Float32Array });
    write(d2, 'wh_pred.npy', { dtype: 'float32', shape: [B, 2, H, W], data: m2.whPred as Float32Array });
    write(d2, 'offset_pred.npy', { dtype: 'float32', shape: [B, 2, H, W], data: m2.offsetPred as Float32Array });
    write(d2, 'center_heatmap_target.npy', { dtype: 'float32', shape: [B, C, H, W], data: m2.centerHeatmapTarget as Float32Array });
    write(d2, 'wh_target.npy', { dtype: 'float32', shape: [B, 2, H, W], data: m2.whTarget as Float32Array });
    write(d2, 'offset_target.npy', { dtype: 'float32', shape: [B, 2, H, W], data: m2.offsetTarget as Float32Array });
    write(d2, 'wh_offset_target_weight.npy', { dtype: 'float32', shape: [B, 2, H, W], data: m2.whOffsetTargetWeight as Float32Array });
  }
  const out: Record<string, { inProcess: { readMs: ReturnType<typeof stats>; computeMs: ReturnType<typeof stats> }; cli: { computeMs: number; readMs: number; wallMs: number; maxRssMB: number }; total: number | null; heatPixels: number }> = {};
  for (const [name, dir] of Object.entries(dirs)) {
    const read: number[] = [];
    const compute: number[] = [];
    let total: number | null = null;
    for (let i = 0; i < n + 1; i++) {
      const r = await computeLossFromFiles({ paths: [dir] });
      if (r.convention !== name) throw new Error(`bench: ${dir} was read as ${r.convention}`);
      total = r.total;
      if (i >= 1) {
        read.push(r.timings.readMs);
        compute.push(r.timings.computeMs);
      }
    }
    const c = runCli(dir, []);
    const heatPixels = (name === 'mmdet-cornernet' ? 2 * S : name === 'centernet' ? S : 1) * B * C * HW;
    out[name] = { inProcess: { readMs: stats(read), computeMs: stats(compute) }, cli: { computeMs: c.computeMs, readMs: c.readMs, wallMs: c.wallMs, maxRssMB: c.maxRssMB }, total, heatPixels };
  }
  return out;
}

async function computeDenseFromDir(dir: string) {
  const discovery = await discoverInputs({ paths: [dir] });
  const resolution = resolveDenseRoles('centernet', discovery.arrays);
  return (await loadDenseInputs(resolution)).loaded;
}

async function main() {
  const log = (s: string) => !json && console.log(s);
  const t0 = performance.now();
  const batch = makeSyntheticBatch(REALISTIC_SPEC);
  const dir = keepDir ?? mkdtempSync(path.join(os.tmpdir(), 'cornernet-bench-'));
  if (keepDir) mkdirSync(keepDir, { recursive: true });
  try {
    for (const [name, t] of Object.entries(batch.arrays)) writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(t));
    const files = readdirSync(dir).filter((f) => f.endsWith('.npy'));
    const bytes = files.reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
    const { S, B, C, H, W, K } = REALISTIC_SPEC;
    log(`realistic case: S=${S} B=${B} C=${C} ${H}x${W} K=${K}, objects [${REALISTIC_SPEC.objectsPerImage.join(', ')}]`);
    log(`${files.length} .npy files, ${(bytes / 1e6).toFixed(1)} MB (generated in ${(performance.now() - t0).toFixed(0)} ms); ${os.availableParallelism()} cores, threads ${threads}`);

    // The extension's host-side path first (a cold page cache is not what it measures: the files were just written).
    const session = await benchSession(dir, Math.max(1, runs));
    const sms = (st: { median: number; min: number }) => `median ${st.median.toFixed(0)} ms, min ${st.min.toFixed(0)} ms`;
    log(`extension path, host side (LossSession on dist/worker.js, ${session.reportMs.runs} runs): the command's worker to its report ${sms(session.reportMs)} (a worker started at the command instead of the warm spare: ${sms(session.coldReportMs)}); the first planes (2 slices + 80 thumbnails) ${sms(session.firstPlanesMs)} (cold worker: ${sms(session.coldFirstPlanesMs)}); then, after a 1 s pause, class switch (2 slices) ${sms(session.classSwitchMs)}; image switch: slices ${sms(session.imageSwitchSlicesMs)}, with the strip ${sms(session.imageSwitchMs)}; the diagnosis (after the first planes) ${sms(session.diagnosisMs)}, the ablation ${sms(session.ablationMs)}`);
    if (flag('--session-only')) {
      if (json) console.log(JSON.stringify({ session }));
      return;
    }

    // Ours, in process: the CLI's job (heatmaps streamed), the extension worker's (streamed, then
    // the first panel data from disk) and whole arrays (and the same panel data from them).
    const streamed = { read: [] as number[], compute: [] as number[], heatmapRead: [] as number[] };
    const views = { read: [] as number[], compute: [] as number[], firstPanel: [] as number[] };
    const whole = { read: [] as number[], compute: [] as number[], firstPanel: [] as number[] };
    const panelData = (i: LossInputs, image: number, cls: number, stack: number, positives: Record<Corner, number>) => {
      const p0 = performance.now();
      for (const corner of CORNERS) heatSlice(i, corner, stack, image, cls, 100, positives[corner]);
      classThumbnails(i, stack, image, 32, positives);
      return performance.now() - p0;
    };
    // The same with worker threads forced (below MIN_THREADED_PIXELS the default runs one thread).
    const forced = { read: [] as number[], compute: [] as number[] };
    let total: number | null = null;
    let wholeTotal: number | null = null;
    for (let i = 0; i < runs + 2; i++) {
      const report = await computeLossFromFiles({ paths: [dir] }, { threads });
      total = report.total;
      const vr = await computeLossForViews({ paths: [dir] }, { threads });
      const worst = worstPlane(vr.report);
      let firstPanel = NaN;
      if (vr.heat) {
        const reader = new ImageHeatReader(vr.inputs, vr.heat);
        firstPanel = panelData(reader.imageInputs(worst.image), 0, worst.class, S - 1, vr.positives);
        reader.close();
      }
      const wr = await computeLossWithInputs({ paths: [dir] }, { threads });
      const w = wr.report;
      wholeTotal = w.total;
      const wholePanel = panelData(wr.inputs, worst.image, worst.class, S - 1, { tl: countPositives(wr.inputs.gtHeat.tl), br: countPositives(wr.inputs.gtHeat.br) });
      if (i >= 2) {
        views.read.push(vr.report.timings.readMs);
        views.compute.push(vr.report.timings.computeMs);
        views.firstPanel.push(firstPanel);
        whole.firstPanel.push(wholePanel);
      }
      if (threads > 1) {
        const f = await computeLossFromFiles({ paths: [dir] }, { threads, minThreadedPixels: 0 });
        if (i >= 2) {
          forced.read.push(f.timings.readMs);
          forced.compute.push(f.timings.computeMs);
        }
      }
      if (i >= 2) {
        streamed.read.push(report.timings.readMs);
        streamed.compute.push(report.timings.computeMs);
        streamed.heatmapRead.push(report.timings.heatmapReadMs ?? NaN);
        whole.read.push(w.timings.readMs);
        whole.compute.push(w.timings.computeMs);
      }
    }

    // The reference kernel: the plain loop for the four heatmap passes, then the rest of computeLoss.
    const d = await discoverInputs({ paths: [dir] });
    const { inputs } = await loadInputs(resolveRoles(d.candidates, d.arrays));
    const referenceMs: number[] = [];
    let referenceTotal: number | null = null;
    for (let i = 0; i < Math.max(1, Math.min(3, runs)) + 1; i++) {
      const r0 = performance.now();
      const sums = {} as Record<Corner, FocalSums[]>;
      for (const corner of CORNERS) {
        sums[corner] = inputs.heat[corner].map((h) =>
          referenceFocalSums(h.logits, inputs.gtHeat[corner], B * C, H * W, boundsFor(h.dtype), 20),
        );
      }
      referenceTotal = computeLoss(inputs, { focalSums: sums }).total;
      if (i >= 1) referenceMs.push(performance.now() - r0);
    }

    // The CLI, spawned (a fresh process each run: start-up and JIT warm-up included): its timings
    // and peak RSS, streamed and with --no-stream.
    const cli = (extra: string[]) => {
      const rs = Array.from({ length: Math.max(1, cliRuns) }, () => runCli(dir, extra));
      return {
        readMs: stats(rs.map((r) => r.readMs)),
        computeMs: stats(rs.map((r) => r.computeMs)),
        heatmapReadMs: stats(rs.map((r) => r.heatmapReadMs)),
        allReadMs: stats(rs.map((r) => r.readMs + r.heatmapReadMs)),
        wallMs: stats(rs.map((r) => r.wallMs)),
        diagnoseMs: stats(rs.map((r) => r.diagnoseMs)),
        ablationMs: stats(rs.map((r) => r.ablationMs)),
        maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
        total: rs[0]!.total,
      };
    };
    // The loss alone (the ablation keeps the maps: another path), then what a user of the CLI waits
    // for by default (the findings and the ablation too).
    const cliStreamed = cli(['--no-ablation']);
    const cliWhole = cli(['--no-stream', '--no-ablation']);
    const cliDefault = cli([]);
    const each = runEachCli(dir, 20);
    const conventionsDir = mkdtempSync(path.join(os.tmpdir(), 'cornernet-bench-conv-'));
    let conventions: Awaited<ReturnType<typeof benchConventions>>;
    try {
      conventions = await benchConventions(batch, conventionsDir, Math.max(1, Math.min(runs, 5)));
    } finally {
      rmSync(conventionsDir, { recursive: true, force: true });
    }

    const torch = runTorch(dir);
    const orig = 'unavailable' in torch ? undefined : torch;
    const notebook = flag('--no-kernel') ? { unavailable: '--no-kernel' } : await benchNotebook(dir, Math.max(1, cliRuns), total);
    const fromTests = lastTestFigures();

    const rssLimitMB = (1.5 * bytes) / 2 ** 20 + 100;
    const streamedAllRead = streamed.read.map((r, i) => r + streamed.heatmapRead[i]!);
    const result = {
      case: { ...REALISTIC_SPEC, files: files.length, bytes },
      node: process.version,
      cores: os.availableParallelism(),
      threads,
      runs,
      total,
      session,
      inProcess: {
        streamed: { readMs: stats(streamed.read), computeMs: stats(streamed.compute), heatmapReadMs: stats(streamed.heatmapRead), allReadMs: stats(streamedAllRead) },
        views: { readMs: stats(views.read), computeMs: stats(views.compute), firstPanelMs: stats(views.firstPanel) },
        whole: { readMs: stats(whole.read), computeMs: stats(whole.compute), firstPanelMs: stats(whole.firstPanel) },
        streamedThreadsForced: threads > 1 ? { readMs: stats(forced.read), computeMs: stats(forced.compute) } : null,
      },
      minThreadedPixels: MIN_THREADED_PIXELS,
      passPixels: 2 * REALISTIC_SPEC.S * REALISTIC_SPEC.B * REALISTIC_SPEC.C * REALISTIC_SPEC.H * REALISTIC_SPEC.W,
      reference: { computeMs: stats(referenceMs), total: referenceTotal },
      cli: { streamed: cliStreamed, whole: cliWhole, default: cliDefault },
      rss: { streamedMB: cliStreamed.maxRssMB, wholeMB: cliWhole.maxRssMB, limitMB: rssLimitMB },
      each,
      conventions,
      original: orig ?? { unavailable: (torch as { unavailable: string }).unavailable },
      notebook,
      fromTests,
      ratios: orig
        ? {
            cliComputeVsForward: ratio(cliStreamed.computeMs.median, orig.forwardMs.median),
            computeVsForward: ratio(median(streamed.compute), orig.forwardMs.median),
            computeVsForwardCpu: ratio(median(streamed.compute), orig.forwardMs.cpuMedian),
            wholeComputeVsForward: ratio(median(whole.compute), orig.forwardMs.median),
            cliReadVsNpLoad: ratio(cliStreamed.readMs.median, orig.npLoadMs.median),
            cliAllReadVsNpLoad: ratio(cliStreamed.allReadMs.median, orig.npLoadMs.median),
            readVsNpLoad: ratio(median(streamed.read), orig.npLoadMs.median),
            allReadVsNpLoad: ratio(median(streamedAllRead), orig.npLoadMs.median),
            wholeReadVsNpLoad: ratio(median(whole.read), orig.npLoadMs.median),
            cliWholeReadVsNpLoad: ratio(cliWhole.readMs.median, orig.npLoadMs.median),
            cliReadVsFirstNpLoad: ratio(cliStreamed.readMs.median, orig.npFirstLoadMs.median),
            cliAllReadVsFirstNpLoad: ratio(cliStreamed.allReadMs.median, orig.npFirstLoadMs.median),
            cliWholeReadVsFirstNpLoad: ratio(cliWhole.readMs.median, orig.npFirstLoadMs.median),
            referenceVsForward: ratio(median(referenceMs), orig.forwardMs.median),
          }
        : null,
      checks: {
        wholeEqualsStreamed: total === wholeTotal,
        // The SIMD kernel computes in float32 (~1e-8 on this total; the fixtures ask 1e-5).
        referenceEqualsOurs: total !== null && referenceTotal !== null && Math.abs(total - referenceTotal) <= 1e-7 * Math.abs(total),
        torchEqualsOurs: orig && total !== null ? Math.abs(orig.total - total) <= 1e-5 * Math.abs(total) : null,
        rssWithinLimit: cliStreamed.maxRssMB <= rssLimitMB && cliWhole.maxRssMB <= rssLimitMB,
        // --each holds one batch at a time: its peak stays near one run's, far below two batches.
        eachRssBounded: each.maxRssMB <= cliStreamed.maxRssMB + 64 && each.sameTotals && each.inStepOrder,
      },
    };

    if (json) {
      console.log(JSON.stringify(result));
    } else {
      const ms = (s: { median: number; min: number }) => `median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(1)} ms`;
      const x = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(3)}x`);
      log(`total loss ${total} (whole arrays ${wholeTotal}, reference kernel ${referenceTotal}${orig ? `, torch ${orig.total}` : ''})`);
      const ip = result.inProcess;
      const oneThread = result.passPixels < MIN_THREADED_PIXELS;
      log(`ours, in process (${runs} runs after 2 warm-ups; ${threads} thread${threads > 1 ? 's' : ''} asked, ${oneThread ? `one used: ${(result.passPixels / 1e6).toFixed(1)} M pass pixels < ${(MIN_THREADED_PIXELS / 1e6).toFixed(1)} M` : 'all used'}):`);
      log(`  CLI's job, heatmaps streamed: read (headers + small arrays) ${ms(ip.streamed.readMs)}; compute ${ms(ip.streamed.computeMs)}, of which reading the heatmaps ${ms(ip.streamed.heatmapReadMs)} per thread`);
      log(`  extension worker's job (streamed, maps whole): read ${ms(ip.views.readMs)}; compute ${ms(ip.views.computeMs)}; then the first panel data (an image's heatmaps read back, 2 slices, 80 thumbnails) ${ms(ip.views.firstPanelMs)}`);
      log(`  whole arrays (notebook arrays, --no-stream): read ${ms(ip.whole.readMs)}; compute ${ms(ip.whole.computeMs)}; the same panel data ${ms(ip.whole.firstPanelMs)}`);
      if (ip.streamedThreadsForced) log(`  CLI's job with ${threads} threads forced (fresh workers each run): read ${ms(ip.streamedThreadsForced.readMs)}; compute ${ms(ip.streamedThreadsForced.computeMs)}`);
      log(`reference scalar kernel, compute: ${ms(result.reference.computeMs)}`);
      for (const [name, c] of [
        ['streamed', cliStreamed],
        ['--no-stream', cliWhole],
      ] as const) {
        log(`cli (${name}, ${c.readMs.runs} fresh processes): read ${ms(c.readMs)}; compute ${ms(c.computeMs)}${name === 'streamed' ? ` (heatmaps read during it: ${ms(c.heatmapReadMs)})` : ''}; wall ${ms(c.wallMs)}; peak RSS ${c.maxRssMB.toFixed(0)} MB`);
      }
      log(`cli with its defaults (findings and ablation, ${cliDefault.readMs.runs} fresh processes): compute ${ms(cliDefault.computeMs)}; diagnosis (findings, gradient norms) ${ms(cliDefault.diagnoseMs)}; ablation (5 decodes of the last stack) ${ms(cliDefault.ablationMs)}; wall ${ms(cliDefault.wallMs)}; peak RSS ${cliDefault.maxRssMB.toFixed(0)} MB`);
      log(`cli --each over ${each.steps} steps of the batch (one process): wall ${(each.wallMs / 1000).toFixed(2)} s, ${each.wallPerStepMs.toFixed(0)} ms per step (read + compute per step ${ms(each.stepMs)}); peak RSS ${each.maxRssMB.toFixed(0)} MB (one run: ${cliStreamed.maxRssMB.toFixed(0)} MB): ${result.checks.eachRssBounded ? 'bounded' : 'GROWS'}`);
      log(`the other conventions at the same size (in process: read / compute medians; CLI: a fresh process), next to CornerNet's compute ${ms(ip.streamed.computeMs)}:`);
      for (const [name, c] of Object.entries(conventions)) {
        log(`  ${name.padEnd(16)} ${(c.heatPixels / 1e6).toFixed(1)} M heat pixels: read ${ms(c.inProcess.readMs)}; compute ${ms(c.inProcess.computeMs)}; CLI compute ${c.cli.computeMs.toFixed(0)} ms, wall ${c.cli.wallMs.toFixed(0)} ms, peak RSS ${c.cli.maxRssMB.toFixed(0)} MB; total ${c.total}`);
      }
      log(`peak RSS: streamed ${cliStreamed.maxRssMB.toFixed(0)} MB, whole ${cliWhole.maxRssMB.toFixed(0)} MB; limit 1.5 x input + 100 MB = ${rssLimitMB.toFixed(0)} MB: ${result.checks.rssWithinLimit ? 'ok' : 'OVER'}`);
      if (orig) {
        log(`original (torch ${orig.torch}, ${orig.threads} thread, ${orig.forwardMs.runs} runs after 2 warm-ups):`);
        log(`  AELoss.forward: ${ms(orig.forwardMs)}, CPU median ${orig.forwardMs.cpuMedian.toFixed(1)} ms`);
        log(`  np.load x ${files.length}: ${ms(orig.npLoadMs)} (repeated in one process: memory reused); first load in a fresh process (${orig.npFirstLoadMs.runs} processes): ${ms(orig.npFirstLoadMs)}`);
        const r = result.ratios!;
        log(`ratios (ours / original, medians):`);
        log(`  compute: CLI ${x(r.cliComputeVsForward)}; in process ${x(r.computeVsForward)} (vs CPU ${x(r.computeVsForwardCpu)}), whole arrays ${x(r.wholeComputeVsForward)}; reference kernel ${x(r.referenceVsForward)}`);
        log(`  read vs repeated np.load: CLI ${x(r.cliReadVsNpLoad)} (with the heatmap reads of the pass ${x(r.cliAllReadVsNpLoad)}); in process ${x(r.readVsNpLoad)} (with them ${x(r.allReadVsNpLoad)}); whole arrays ${x(r.wholeReadVsNpLoad)} (CLI --no-stream ${x(r.cliWholeReadVsNpLoad)})`);
        log(`  read vs a fresh process's first np.load: CLI ${x(r.cliReadVsFirstNpLoad)} (with the heatmap reads ${x(r.cliAllReadVsFirstNpLoad)}); CLI --no-stream ${x(r.cliWholeReadVsFirstNpLoad)}`);
        log(`torch total equals ours to 1e-5: ${result.checks.torchEqualsOurs ? 'yes' : 'NO'}`);
      } else {
        log(`original: ${result.original && 'unavailable' in result.original ? result.original.unavailable : ''}`);
      }
      log(`streamed and whole-array totals equal: ${result.checks.wholeEqualsStreamed ? 'yes' : 'NO'}`);
      log(`reference kernel total equals ours to 1e-7: ${result.checks.referenceEqualsOurs ? 'yes' : 'NO'} (relative difference ${total !== null && referenceTotal !== null ? (Math.abs(total - referenceTotal) / Math.abs(total)).toExponential(1) : '-'})`);
      if ('unavailable' in notebook) log(`notebook transfer: ${notebook.unavailable}`);
      else {
        const mbs = (st: { median: number }) => `${(notebook.bytes / 2 ** 20 / (st.median / 1000)).toFixed(0)} MB/s`;
        log(`notebook transfer (a real ipykernel, outs/targets as torch tensors, ${(notebook.bytes / 1e6).toFixed(1)} MB; kernel start ${notebook.kernelStartMs.toFixed(0)} ms):`);
        log(`  local (np.save into this machine's folder): ${ms(notebook.file)} (${mbs(notebook.file)})`);
        log(`  base64 through display outputs (the remote path): ${ms(notebook.base64)} (${mbs(notebook.base64)})`);
        log(`  the loss of the pulled arrays equals the files': ${notebook.totalsEqual ? 'yes' : 'NO'}`);
      }
      const ft = fromTests as Record<string, Record<string, unknown>>;
      if (Object.keys(ft).length) {
        log('from the last npm test (a real VS Code in code-server):');
        if (ft.activation) log(`  activation: bundle ${Number(ft.activation.loadMs).toFixed(1)} ms + activate() ${Number(ft.activation.activateMs).toFixed(1)} ms`);
        if (ft['event-loop']) log(`  longest run of the extension on the extension host's event loop: ${JSON.stringify(ft['event-loop'])}`);
        const pt = ft['panel-timings'] as Record<string, Record<string, unknown> | undefined> | undefined;
        if (pt) {
          const run = (r: Record<string, unknown> | undefined) => (r ? `total ${r.clickToTotalMs} ms, first heatmaps ${r.clickToFirstHeatmapsMs} ms, strip ${r.clickToStripMs} ms` : '-');
          const med = (k: string) => (pt[k] as { median?: number } | undefined)?.median ?? '-';
          log(`  panel, from the click (${String(pt.when ?? '')}): panel open: ${run(pt.secondRun)}; a new panel: ${run(pt.newPanelRun)}; the browser profile's first webview: ${run(pt.firstRun)}`);
          log(`  panel switches (medians): image ${med('imageSwitchMs')} ms (with its strip ${med('imageSwitchWithStripMs')} ms), class ${med('classSwitchMs')} ms; parts ${JSON.stringify(pt.switchParts ?? {})}; hover ${JSON.stringify(pt.hoverMs ?? {})}`);
          for (const h of (pt.host as unknown as string[] | undefined) ?? []) log(`  host timings of a run: ${h}`);
        }
      } else log('from the last npm test: no test-results/ (run npm test first)');
      log(`node ${process.version}`);
    }
  } finally {
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
