/**
 * cornernet-loss [--json] [--role NAME=PATH[:KEY]]... [--pull-weight W] [--push-weight W]
 *                [--regr-weight W] [--top N] [--exact] [--threads N] [--no-stream] [--debug] INPUT...
 *
 * Exit 0 on success (warnings included), 2 on bad input (`error: <file or role>: <problem>`),
 * 1 on an internal fault.
 */
import { parseMaskSynthesis, type MaskSynthesis } from './cornernet/model/arrays';
import { InputError, isInputError, RoleResolutionError } from './cornernet/model/errors';
import { COCO80, parseClassList, type ClassNames } from './cornernet/model/classNames';
import { formatReport } from './cornernet/views/format';
import { MAX_MANIFEST_BYTES, parseRoleArg, type RoleAssignmentSpec } from './cornernet/inputs/discover';
import { CONVENTION_NAMES, parseConventionName, type ConventionName } from './cornernet/model/conventions';
import { compareConventions } from './cornernet/compare';
import { computeLossFromFiles } from './cornernet/run';
import { describeFailure, eachReport, formatTimelineTable, listBatches, type BatchEntry, type RunFailure, type TimelineRow } from './cornernet/timeline';
import { compareBatches, formatAbResult } from './cornernet/abCompare';
import { isTensorReadError } from './tensor/errors';
import { inputFs, useBlockingReads } from './tensor/source';
import { MAX_THREADS, MAX_TOP_PIXELS } from './cornernet/model/limits';

const USAGE = `usage: cornernet-loss [--json] [--convention NAME] [--compare-conventions] [--role NAME=PATH[:KEY]]... [--mask all|from-indices] [--<term>-weight W]... INPUT...
       cornernet-loss --each [--json] [--settle MS] RUN_OR_BATCH...
       cornernet-loss --compare [--json] A B

Computes a CornerNet-style detector's training loss on network outputs and targets stored as .npy,
.npz or .safetensors, exactly as the upstream PyTorch code does, and explains where it comes from.
Conventions: cornernet (the original AELoss: corner focal loss, embedding pull/push, offset
smooth-L1, per stack), mmdet-cornernet (mmdetection's CornerHead), centernet (xingyizhou/CenterNet
ctdet), mmdet-centernet (mmdetection's CenterNetHead); chosen from the array names.

INPUT                  folders (scanned for tensor files and cornernet.json) and tensor files
--json                 print one JSON object (the LossReport) instead of the table
--convention NAME      cornernet, mmdet-cornernet, centernet or mmdet-centernet (default: from the
                       names; a folder's cornernet.json may say "convention")
--findings             print the findings (what looks wrong with the batch: code, evidence,
                       advice) first; --json always has them under "findings"
--no-findings          skip the diagnosis (one more pass over the heatmaps) and the gradient norms
--no-ablation          skip the ground-truth ablation (the last stack decoded with each head's
                       target swapped in: which head limits detection; "ablation" in --json;
                       one batch only, not with --each or --compare)
--classes FILE|coco80  class names by index for the report (a file, one name per line, or COCO's
                       80); by default a cornernet.json's "classes" or a classes.txt in the folder
--heat-is-probability  the heatmap outputs hold probabilities (saved after CenterNet's in-place
                       _sigmoid): turn them back into logits before the loss
--compare-conventions  also score the batch under the other codebase of its kind (CornerNet <->
                       mmdet CornerHead, CenterNet <-> mmdet CenterNetHead), gaps explained per term
--role NAME=PATH[:KEY] use this array for a role (CornerNet: tl_heat, br_heat, tl_tag, br_tag,
                       tl_regr, br_regr, gt_tl_heat, gt_br_heat, gt_mask, gt_tl_regr, gt_br_regr,
                       tl_ind, br_ind; mmdet, CenterNet: their upstream names, see the README;
                       outputs may end in _<stack>); KEY names an npz/safetensors member
--mask all|from-indices
                       no gt_mask saved: synthesize it, every slot valid (all) or the slots
                       whose tl_ind or br_ind is non-zero (from-indices); the report warns
                       (synthetic-mask); one batch only (a cornernet.json may say "mask")
--<term>-weight W      a weight by the convention's names: cornernet --pull-weight 0.1,
                       --push-weight 0.1, --regr-weight 1; mmdet-cornernet --det-weight 1,
                       --pull-weight 0.1, --push-weight 0.1, --off-weight 1; centernet --hm-weight 1,
                       --wh-weight 0.1, --off-weight 1; mmdet-centernet --heatmap-weight 1,
                       --wh-weight 0.1, --offset-weight 1
--top N                report the N pixels with the largest focal loss (default 20)
--exact                pure float64 constants instead of the original's float32 ones
--threads N            threads for the focal loss (default: the machine's, also for 0; 1: none);
                       below 2^25 heatmap pixels (all stacks and corners) one thread is used
--no-stream            read the heatmaps whole before computing (as the extension does) instead
                       of chunk by chunk during the focal pass; same numbers, more memory
--each                 one report per batch, in step order: RUN_OR_BATCH is a run folder (its
                       subfolders, or .npz/.safetensors files grouped by the step number in their
                       names, are the batches; the step is the trailing integer of a folder's name
                       or "step" in its cornernet.json) or a batch; with --json, JSON Lines (the
                       report keys plus "input" and "step"; a failed batch: {"input","step","error"});
                       batches are read one at a time, each once its files have stopped changing
--settle MS            with --each: a batch is read once its files have not changed for MS
                       milliseconds (default 1000)
--compare A B          two batches (two checkpoints on the same targets, or the same step of two
                       runs): both reports and the differences (total, terms, per stack, image,
                       class, the planes and objects that changed most, per-pixel differences when
                       the targets are identical); with --json {"a","b","diff"}
--debug                show stack traces
--help, --version`;

class UsageError extends Error {}

interface CliArgs {
  json: boolean;
  debug: boolean;
  exact: boolean;
  convention?: ConventionName;
  /** `--classes`: a file of names (one per line) or `coco80`; read into classNames before the run. */
  classes?: string;
  classNames?: ClassNames;
  compare: boolean;
  heatIsProbability: boolean;
  mask?: MaskSynthesis;
  findings: boolean;
  noAblation: boolean;
  noFindings: boolean;
  /** `--each`, `--compare A B`, `--settle MS`. */
  each: boolean;
  abCompare: boolean;
  settleMs?: number;
  top?: number;
  threads?: number;
  stream: boolean;
  roles: RoleAssignmentSpec[];
  weights: Record<string, number>;
  inputs: string[];
}

function parseArgs(argv: string[]): CliArgs | 'help' | 'version' {
  const a: CliArgs = { json: false, debug: false, exact: false, compare: false, heatIsProbability: false, findings: false, noFindings: false, noAblation: false, each: false, abCompare: false, stream: true, roles: [], weights: {}, inputs: [] };
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  // Plain decimal only: Number() would also take "0x10", "1e400" (Infinity) or " 3 ".
  const number = (v: string, flag: string, integer = false, max = Number.MAX_VALUE) => {
    const ok = integer ? /^\d+$/.test(v) : /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v);
    const n = Number(v);
    if (!ok || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
      throw new UsageError(`${flag} expects a non-negative ${integer ? 'integer' : 'decimal number'}, got ${quoteForMessage(v)}`);
    }
    if (n > max) throw new UsageError(`${flag} is at most ${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = () => {
      if (inline !== undefined) return inline;
      const v = value(i, arg);
      i++;
      return v;
    };
    switch (arg) {
      case '--help':
      case '-h':
        return 'help';
      case '--version':
        return 'version';
      case '--json':
        a.json = true;
        break;
      case '--debug':
        a.debug = true;
        break;
      case '--exact':
        a.exact = true;
        break;
      case '--role':
        a.roles.push(parseRoleArg(take()));
        break;
      case '--classes':
        a.classes = take();
        break;
      case '--convention': {
        const v = take();
        const c = parseConventionName(v);
        if (!c) throw new UsageError(`--convention expects one of ${CONVENTION_NAMES.join(', ')}, got ${quoteForMessage(v)}`);
        a.convention = c;
        break;
      }
      case '--compare-conventions':
        a.compare = true;
        break;
      case '--heat-is-probability':
        a.heatIsProbability = true;
        break;
      case '--mask': {
        const v = take();
        const m = parseMaskSynthesis(v);
        if (!m) throw new UsageError(`--mask expects all or from-indices, got ${quoteForMessage(v)}`);
        a.mask = m;
        break;
      }
      case '--findings':
        a.findings = true;
        break;
      case '--no-findings':
        a.noFindings = true;
        break;
      case '--no-ablation':
        a.noAblation = true;
        break;
      case '--each':
        a.each = true;
        break;
      case '--compare':
        a.abCompare = true;
        break;
      case '--settle':
        a.settleMs = number(take(), arg, true, 3_600_000);
        break;
      case '--top':
        a.top = number(take(), arg, true, MAX_TOP_PIXELS);
        break;
      case '--threads':
        a.threads = number(take(), arg, true, MAX_THREADS);
        break;
      case '--no-stream':
        a.stream = false;
        break;
      case '--':
        a.inputs.push(...argv.slice(i + 1));
        i = argv.length;
        break;
      default:
        if (/^--[a-z][a-z_-]*-weight$/.test(arg)) {
          // Checked against the convention's weights once it is known (--det-weight, --hm-weight...).
          a.weights[arg.slice(2, -'-weight'.length).replace(/-/g, '_')] = number(take(), arg);
          break;
        }
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${oneLine(arg)}`);
        a.inputs.push(argv[i]!);
    }
  }
  if (!a.inputs.length && !a.roles.length) throw new UsageError('no INPUT given');
  if (a.each && a.abCompare) throw new UsageError('--each and --compare do not go together');
  if ((a.each || a.abCompare) && a.roles.length) throw new UsageError(`--role names one batch's arrays: it does not go with ${a.each ? '--each' : '--compare'}`);
  if ((a.each || a.abCompare) && a.mask) throw new UsageError(`--mask is for one batch: it does not go with ${a.each ? '--each' : '--compare'} (a batch folder's cornernet.json may say "mask")`);
  if ((a.each || a.abCompare) && a.compare) throw new UsageError(`--compare-conventions does not go with ${a.each ? '--each' : '--compare'}`);
  if (a.abCompare && a.inputs.length !== 2) throw new UsageError(`--compare expects two batches A B, got ${a.inputs.length}`);
  if (a.settleMs !== undefined && !a.each) throw new UsageError('--settle goes with --each');
  return a;
}

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError || isInputError(e)) {
      printError(e.message);
      process.stderr.write(`${USAGE.split('\n')[0]}\n`);
      return 2;
    }
    throw e;
  }
  if (args === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (args === 'version') {
    process.stdout.write(`cornernet-loss ${VERSION}\n`);
    return 0;
  }
  // Nothing else runs in this process while it reads: blocking reads are the fast ones.
  useBlockingReads(true);
  if (args.classes !== undefined) {
    try {
      args.classNames = await readClassNames(args.classes);
    } catch (e) {
      if (!isInputError(e)) throw e;
      printError(e.message);
      return 2;
    }
  }
  if (args.each) return runEach(args);
  if (args.abCompare) return runAbCompare(args);
  try {
    const spec = { paths: args.inputs, roles: args.roles, ...(args.mask ? { mask: args.mask } : {}) };
    // The ablation is one batch's question (--each and --compare leave it out: it decodes the batch five times).
    const report = await computeLossFromFiles(spec, { ...runOptionsOf(args), ...(args.noAblation ? {} : { ablation: true }) });
    if (args.compare) await compareConventions(report, spec, { weights: args.weights, ...(args.convention ? { convention: args.convention } : {}) });
    process.stdout.write(args.json ? JSON.stringify(report) + '\n' : formatReport(report, { findingsFirst: args.findings }) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof RoleResolutionError) {
      // One `error:` line (the summary), then the details indented.
      printError(e.message.startsWith(`${e.subject}:`) ? e.message : `${e.subject}: ${e.message}`);
      if (e.problems.length > 1 || e.skipped.length) {
        for (const p of e.problems) process.stderr.write(`  ${oneLine(`${p.subject}: ${p.message}`)}\n`);
        for (const s of e.skipped) process.stderr.write(`  skipped ${oneLine(`${s.file}: ${s.reason}`)}\n`);
      }
      if (args.debug) process.stderr.write(`${e.stack}\n`);
      return 2;
    }
    if (isInputError(e) || isTensorReadError(e)) {
      printError(e.message);
      if (args.debug) process.stderr.write(`${e.stack}\n`);
      return 2;
    }
    process.stderr.write(`internal error: ${oneLine((e as Error)?.message ?? String(e))}\n`);
    if (args.debug) process.stderr.write(`${(e as Error)?.stack}\n`);
    else process.stderr.write('run with --debug for details; please report this as a bug\n');
    return 1;
  }
}

/**
 * Messages name files as the user wrote them, and a file name may hold a newline or a terminal
 * escape: control characters are shown escaped, so that every message stays one line.
 */
function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function quoteForMessage(v: string): string {
  return `"${oneLine(v.length > 80 ? `${v.slice(0, 80)}...` : v)}"`;
}

function printError(message: string): void {
  process.stderr.write(`error: ${oneLine(message)}\n`);
}

/** The engine's options from the flags (one batch, each of --each, both sides of --compare). */
/** `--classes coco80` or a file of names, one per line (bounded: a names file, not a tensor). */
async function readClassNames(v: string): Promise<ClassNames> {
  if (v.toLowerCase() === 'coco80') return { names: [...COCO80], from: '--classes coco80' };
  let text: string;
  try {
    text = await inputFs.readText(v, MAX_MANIFEST_BYTES);
  } catch (e) {
    throw new InputError(v, `--classes: ${(e as Error).message}`);
  }
  const names = parseClassList(text);
  if (!names.length) throw new InputError(v, '--classes: no class names in the file (one name per line)');
  return { names, from: v };
}

function runOptionsOf(args: CliArgs) {
  return {
    ...(args.convention ? { convention: args.convention } : {}),
    ...(args.heatIsProbability ? { heatIsProbability: true } : {}),
    ...(args.classNames ? { classNames: args.classNames } : {}),
    ...(args.noFindings ? { findings: false } : {}),
    weights: args.weights,
    arithmetic: args.exact ? ('exact' as const) : ('original' as const),
    ...(args.top !== undefined ? { topPixels: args.top } : {}),
    ...(args.threads !== undefined ? { threads: args.threads } : {}),
    stream: args.stream,
  };
}

/** stdout, waiting for it to drain: a slow reader of --each's lines must not make us hold them. */
function writeOut(text: string): Promise<void> {
  if (outputFailed) return Promise.resolve();
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

function printFailure(input: string, failure: RunFailure, debug: boolean, error: unknown): void {
  printError(`${input}: ${failure.message}`);
  for (const d of failure.details) process.stderr.write(`  ${oneLine(d)}\n`);
  if (debug) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
}

/** `--each`: one report (or error) per batch, in step order, one batch in memory at a time. */
async function runEach(args: CliArgs): Promise<number> {
  let batches: BatchEntry[];
  try {
    batches = await listBatches(args.inputs);
  } catch (e) {
    const f = describeFailure(e);
    printError(f.message);
    return f.internal ? 1 : 2;
  }
  let code = 0;
  const rows: TimelineRow[] = [];
  for await (const r of eachReport(batches, { ...runOptionsOf(args), ...(args.settleMs !== undefined ? { settleMs: args.settleMs } : {}) })) {
    if ('report' in r) {
      rows.push({ input: r.input, step: r.step, total: r.report.total, terms: r.report.terms });
      await writeOut(args.json ? JSON.stringify({ input: r.input, step: r.step, ...r.report }) + '\n' : `== ${r.step === null ? '' : `step ${r.step}: `}${r.input} ==\n${formatReport(r.report)}\n\n`);
      continue;
    }
    // 2 when a batch is bad input; 1 (a fault of ours) wins.
    code = r.failure.internal || code === 1 ? 1 : 2;
    rows.push({ input: r.input, step: r.step, error: r.failure.message });
    printFailure(r.input, r.failure, args.debug, r.error);
    const details = r.failure.details.length ? { details: r.failure.details } : {};
    await writeOut(args.json ? JSON.stringify({ input: r.input, step: r.step, error: r.failure.message, ...details }) + '\n' : `== ${r.step === null ? '' : `step ${r.step}: `}${r.input} ==\nerror: ${oneLine(r.failure.message)}\n\n`);
  }
  if (!args.json) await writeOut(formatTimelineTable(rows) + '\n');
  return code;
}

/** `--compare A B`: both reports and the differences. */
async function runAbCompare(args: CliArgs): Promise<number> {
  try {
    const result = await compareBatches(args.inputs[0]!, args.inputs[1]!, runOptionsOf(args));
    await writeOut(args.json ? JSON.stringify(result) + '\n' : formatAbResult(result, args.inputs[0]!, args.inputs[1]!) + '\n');
    return 0;
  } catch (e) {
    const f = describeFailure(e);
    printError(f.message);
    for (const d of f.details) process.stderr.write(`  ${oneLine(d)}\n`);
    if (args.debug) process.stderr.write(`${(e as Error)?.stack}\n`);
    else if (f.internal) process.stderr.write('run with --debug for details; please report this as a bug\n');
    return f.internal ? 1 : 2;
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';

// stdout may be a closed pipe (`| head`): exit quietly rather than crash. Any other failure to
// write the result (a full disk, /dev/full, a revoked file) is an error: the result is lost.
let outputFailed = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  if (outputFailed) return;
  outputFailed = true;
  process.stderr.write(`error: cannot write the result to standard output: ${oneLine(e.message)}\n`);
  process.exitCode = 1;
});

main(process.argv.slice(2)).then(
  (code) => {
    if (!outputFailed) process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`internal error: ${oneLine((e as Error)?.message ?? String(e))}\n`);
    process.exitCode = 1;
  },
);
