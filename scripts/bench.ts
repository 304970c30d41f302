/**
 * `npm run bench [-- --json] [--runs N] [--torch-runs N] [--cli-runs N] [--threads N] [--no-torch]
 * [--no-hugepages] [--keep DIR]`
 *
 * The realistic case of cornernet-loss.md (S=2, B=4, C=80, 128x128, K=128; generated
 * deterministically and written as the 17 .npy files of a fixture folder to a temporary folder),
 * then, in one run:
 * - ours, in this process: median and min of the read (headers + data) and compute times of the
 *   whole job (`computeLossWithInputs`, what the CLI and the extension's worker run), N runs after
 *   2 warm-ups, with the thread count given (default: the machine's);
 * - the reference scalar kernel (`referenceFocalSums`, the plain per-pixel loop): the compute time
 *   the machine gets without PyTorch and without the fast kernel;
 * - the CLI (`node dist/cli.js --json DIR`, spawned): its own timings and its peak RSS, with and
 *   without transparent huge pages (see below);
 * - the original, side by side: scripts/baseline_torch.py under /usr/bin/python3 (Debian's
 *   python3-torch and python3-numpy), which times AELoss.forward and np.load of the same files;
 *   skipped with "torch not available" when it cannot be imported. Its total must equal ours to
 *   1e-5 (relative).
 *
 * - the notebook transfer (unless --no-kernel): a real ipykernel (jupyter_client, Debian's
 *   python3-ipykernel) holding the case as CornerNet's `outs`/`targets` lists (torch tensors), pulled
 *   as files (a local kernel) and as base64 chunks (the remote path), time to files on disk and
 *   the loss of the pulled arrays;
 * - the panel and extension-host figures of the last `npm test` (test-results/*.json: activation,
 *   the longest run on the extension host's event loop, panel paint and hover times), when present.
 *
 * Huge pages: on Linux with transparent huge pages in `madvise` mode (Debian's default), a fresh
 * 128 MB buffer costs ~31,000 page faults, which on a VM can take longer than the copy itself.
 * numpy asks for huge pages on large arrays; Node cannot madvise, but glibc's malloc does it
 * when started with GLIBC_TUNABLES=glibc.malloc.hugetlb=1. The bench re-runs itself with that
 * setting (unless --no-hugepages) and reports the CLI both ways.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { referenceFocalSums, type FocalSums } from '../src/cornernet/focal';
import { discoverInputs } from '../src/cornernet/inputs';
import { loadInputs } from '../src/cornernet/load';
import { boundsFor, computeLoss } from '../src/cornernet/loss';
import { resolveThreadCount } from '../src/cornernet/parallel';
import { resolveRoles } from '../src/cornernet/resolve';
import { CORNERS, type Corner } from '../src/cornernet/roles';
import { computeLossWithInputs } from '../src/cornernet/run';
import { REALISTIC_SPEC, makeSyntheticBatch } from '../src/cornernet/synthetic';
import { encodeNpy } from '../src/tensor/npy';
import { KernelError } from '../src/notebook/kernel';
import { inspectKernel, pullInputs } from '../src/notebook/pull';
import { pairChoices, planOutsTargets } from '../src/notebook/variables';
import { JupyterClientKernel, kernelPython } from '../test/support/jupyterClientKernel';

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

const HUGEPAGES = 'glibc.malloc.hugetlb=1';
const hugePagesOn = (env: NodeJS.ProcessEnv) => (env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.hugetlb=1');
const withHugePages = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  ...env,
  GLIBC_TUNABLES: env.GLIBC_TUNABLES ? `${env.GLIBC_TUNABLES}:${HUGEPAGES}` : HUGEPAGES,
});
const withoutHugePages = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const rest = (env.GLIBC_TUNABLES ?? '')
    .split(':')
    .filter((t) => t && !t.startsWith('glibc.malloc.hugetlb'))
    .join(':');
  const out = { ...env };
  if (rest) out.GLIBC_TUNABLES = rest;
  else delete out.GLIBC_TUNABLES;
  return out;
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const stats = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), runs: xs.length });
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? a / b : null);

interface CliRun {
  readMs: number;
  computeMs: number;
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
  if (probe.status !== 0) return { unavailable: `no ipykernel/jupyter_client/torch under ${kernelPython()} (bash scripts/setup-python-kernel.sh)` };
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
function runCli(dir: string, env: NodeJS.ProcessEnv): CliRun {
  const cli = path.resolve('dist/cli.js');
  const cliArgs = [cli, '--json', '--threads', String(threads), dir];
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
  return { readMs: report.timings.readMs, computeMs: report.timings.computeMs, wallMs, maxRssMB: rssKB / 1024, total: report.total };
}

interface TorchResult {
  total: number;
  forwardMs: { median: number; min: number; cpuMedian: number; runs: number };
  npLoadMs: { median: number; min: number; cpuMedian: number; runs: number };
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
  // The original runs in the environment the bench was started in: not with the huge-page
  // setting this bench adds for itself (torch's allocations would get it too).
  const env = process.env.CORNERNET_BENCH_ADDED_HUGEPAGES ? withoutHugePages(process.env) : process.env;
  const r = spawnSync(python, [script, dir, '--runs', String(torchRuns)], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) return { unavailable: `baseline_torch.py failed: ${(r.stderr ?? '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
}

async function main() {
  if (process.platform === 'linux' && !flag('--no-hugepages') && !hugePagesOn(process.env)) {
    // glibc reads its tunables at start-up only: run again with huge pages for large buffers.
    const env = { ...withHugePages(process.env), CORNERNET_BENCH_ADDED_HUGEPAGES: '1' };
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { stdio: 'inherit', env });
    process.exit(r.status ?? 1);
  }
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
    log(`${files.length} .npy files, ${(bytes / 1e6).toFixed(1)} MB (generated in ${(performance.now() - t0).toFixed(0)} ms); ${os.availableParallelism()} cores, threads ${threads}; huge pages ${hugePagesOn(process.env) ? 'on' : 'off'}`);

    // Ours, in process: the whole job as the CLI runs it.
    const read: number[] = [];
    const compute: number[] = [];
    let total: number | null = null;
    for (let i = 0; i < runs + 2; i++) {
      const { report } = await computeLossWithInputs({ paths: [dir] }, { threads });
      total = report.total;
      if (i >= 2) {
        read.push(report.timings.readMs);
        compute.push(report.timings.computeMs);
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

    // The CLI, spawned: its timings and peak RSS, with and without huge pages.
    const cli = (env: NodeJS.ProcessEnv) => {
      const rs = Array.from({ length: Math.max(1, cliRuns) }, () => runCli(dir, env));
      return {
        readMs: stats(rs.map((r) => r.readMs)),
        computeMs: stats(rs.map((r) => r.computeMs)),
        wallMs: stats(rs.map((r) => r.wallMs)),
        maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
        total: rs[0]!.total,
      };
    };
    const cliHuge = process.platform === 'linux' ? cli(withHugePages(process.env)) : undefined;
    const cliPlain = cli(withoutHugePages(process.env));

    const torch = runTorch(dir);
    const orig = 'unavailable' in torch ? undefined : torch;
    const notebook = flag('--no-kernel') ? { unavailable: '--no-kernel' } : await benchNotebook(dir, Math.max(1, cliRuns), total);
    const fromTests = lastTestFigures();

    const rssLimitMB = (1.5 * bytes) / 2 ** 20 + 100;
    const result = {
      case: { ...REALISTIC_SPEC, files: files.length, bytes },
      node: process.version,
      cores: os.availableParallelism(),
      threads,
      hugePages: hugePagesOn(process.env),
      runs,
      total,
      readMs: stats(read),
      computeMs: stats(compute),
      reference: { computeMs: stats(referenceMs), total: referenceTotal },
      cli: { hugePages: cliHuge ?? null, plain: cliPlain },
      rss: { peakMB: Math.max(cliPlain.maxRssMB, cliHuge?.maxRssMB ?? 0), limitMB: rssLimitMB },
      original: orig ?? { unavailable: (torch as { unavailable: string }).unavailable },
      notebook,
      fromTests,
      ratios: orig
        ? {
            computeVsForward: ratio(median(compute), orig.forwardMs.median),
            computeVsForwardCpu: ratio(median(compute), orig.forwardMs.cpuMedian),
            cliComputeVsForward: ratio((cliHuge ?? cliPlain).computeMs.median, orig.forwardMs.median),
            readVsNpLoad: ratio(median(read), orig.npLoadMs.median),
            cliReadVsNpLoad: ratio((cliHuge ?? cliPlain).readMs.median, orig.npLoadMs.median),
            cliPlainReadVsNpLoad: ratio(cliPlain.readMs.median, orig.npLoadMs.median),
            referenceVsForward: ratio(median(referenceMs), orig.forwardMs.median),
          }
        : null,
      checks: {
        referenceEqualsOurs: total !== null && referenceTotal !== null && Math.abs(total - referenceTotal) <= 1e-9 * Math.abs(total),
        torchEqualsOurs: orig && total !== null ? Math.abs(orig.total - total) <= 1e-5 * Math.abs(total) : null,
        rssWithinLimit: Math.max(cliPlain.maxRssMB, cliHuge?.maxRssMB ?? 0) <= rssLimitMB,
      },
    };

    if (json) {
      console.log(JSON.stringify(result));
    } else {
      const ms = (s: { median: number; min: number }) => `median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(1)} ms`;
      const x = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(3)}x`);
      log(`total loss ${total} (reference kernel ${referenceTotal}${orig ? `, torch ${orig.total}` : ''})`);
      log(`ours, in process (${runs} runs after 2 warm-ups, ${threads} thread${threads > 1 ? 's' : ''}):`);
      log(`  read    (17 files, headers + data): ${ms(result.readMs)}`);
      log(`  compute (focal, pull/push, offsets): ${ms(result.computeMs)}`);
      log(`reference scalar kernel, compute: ${ms(result.reference.computeMs)}`);
      for (const [name, c] of [
        ['huge pages', cliHuge],
        ['4K pages', cliPlain],
      ] as const) {
        if (!c) continue;
        log(`cli (${name}, ${c.readMs.runs} runs): read ${ms(c.readMs)}; compute ${ms(c.computeMs)}; wall ${ms(c.wallMs)}; peak RSS ${c.maxRssMB.toFixed(0)} MB`);
      }
      log(`peak RSS ${result.rss.peakMB.toFixed(0)} MB, limit 1.5 x input + 100 MB = ${rssLimitMB.toFixed(0)} MB: ${result.checks.rssWithinLimit ? 'ok' : 'OVER'}`);
      if (orig) {
        log(`original (torch ${orig.torch}, ${orig.threads} thread, ${orig.forwardMs.runs} runs after 2 warm-ups):`);
        log(`  AELoss.forward: ${ms(orig.forwardMs)}, CPU median ${orig.forwardMs.cpuMedian.toFixed(1)} ms`);
        log(`  np.load x ${files.length}: ${ms(orig.npLoadMs)}`);
        const r = result.ratios!;
        log(`ratios (ours / original, medians): compute ${x(r.computeVsForward)} (vs CPU ${x(r.computeVsForwardCpu)}; CLI ${x(r.cliComputeVsForward)}; reference kernel ${x(r.referenceVsForward)})`);
        log(`  read ${x(r.readVsNpLoad)} (CLI with huge pages ${x(r.cliReadVsNpLoad)}, CLI 4K pages ${x(r.cliPlainReadVsNpLoad)})`);
        log(`torch total equals ours to 1e-5: ${result.checks.torchEqualsOurs ? 'yes' : 'NO'}`);
      } else {
        log(`original: ${result.original && 'unavailable' in result.original ? result.original.unavailable : ''}`);
      }
      log(`reference kernel total equals ours to 1e-9: ${result.checks.referenceEqualsOurs ? 'yes' : 'NO'}`);
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
        if (ft['panel-timings']) log(`  panel: ${JSON.stringify(ft['panel-timings'])}`);
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
