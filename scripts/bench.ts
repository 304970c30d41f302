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
 * Huge pages: on Linux with transparent huge pages in `madvise` mode (Debian's default), a fresh
 * 128 MB buffer costs ~31,000 page faults, which on a VM can take longer than the copy itself.
 * numpy asks for huge pages on large arrays; Node cannot madvise, but glibc's malloc does it
 * when started with GLIBC_TUNABLES=glibc.malloc.hugetlb=1. The bench re-runs itself with that
 * setting (unless --no-hugepages) and reports the CLI both ways.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
