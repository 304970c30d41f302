/**
 * "Compute CornerNet Loss" (cornernet.computeLoss): from the explorer (clicked item and the
 * multi-selection), the palette (an open dialog) or code (returns the LossReport). Roles are
 * settled from headers on the host (asking only when needed); the computation runs in a worker
 * under a cancellable progress notification; the results panel shows it.
 */
import { CONVENTION_NAMES, parseConventionName, type ConventionName } from './cornernet/model/conventions';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import * as vscode from 'vscode';
import { isInputError } from './cornernet/model/errors';
import type { InputSpec, RoleAssignmentSpec } from './cornernet/inputs/discover';
import type { MaskSynthesis } from './cornernet/model/arrays';
import { isCompleteBatch } from './cornernet/inputs/rolePicking';
import { COMPARE_COMMAND } from './ids';
import type { LossReport } from './cornernet/model/report';
import { log } from './log';
import { fractionReporter } from './progress';
import { LossRunError, LossSession } from './lossSession';
import type { RunSpec } from './protocol/panel';
import { ResultsPanel, type PanelHost } from './resultsPanel';
import { manifestFolder, rememberRoles } from './cornernet/inputs/manifest';
import { changeRoles, settleRoles, stepPick } from './rolePicker';
import * as settings from './settings';
import { isTensorReadError } from './tensor/errors';
import { isKernelError } from './notebook/kernel';
import { tensorFormatOf } from './tensor/tensorFile';
import { RunTrace } from './perfTrace';

export { COMPUTE_COMMAND } from './ids';

/** Arguments accepted when the command is run from code. */
export interface ComputeArgs {
  paths?: (string | vscode.Uri)[];
  roles?: RoleAssignmentSpec[];
  /** By the convention's names: pull, push, regr (CornerNet); det, off (mmdet); hm, wh... */
  weights?: Record<string, number>;
  /** Score under this convention instead of the detected one. */
  convention?: ConventionName;
}

export interface LastError {
  kind: string;
  message: string;
  subject?: string;
}

/**
 * Inputs that are not the user's files (arrays pulled from a notebook kernel into a private
 * folder): roles are given, no question is asked, the report is relabelled before it is shown,
 * and `done` runs once the worker holds the arrays.
 */
export interface ComputeOrigin {
  label: string;
  spec: RunSpec;
  relabel(report: LossReport): LossReport;
  done(): Promise<void>;
}

export interface ComputedEvent {
  report: LossReport;
  spec: RunSpec;
  label: string;
  /** When the computation started (ms since epoch): file changes before it are already in it. */
  startedAt: number;
}

export class LossRunner implements PanelHost {
  readonly extensionUri: vscode.Uri;
  lastError: LastError | undefined;
  private readonly computed = new vscode.EventEmitter<ComputedEvent>();
  /** A result was shown in the panel. */
  readonly onDidCompute = this.computed.event;
  private readonly failed = new vscode.EventEmitter<{ error: LastError; spec: RunSpec; startedAt: number }>();
  /** A computation failed on bad input or a fault (not on cancellation). */
  readonly onDidFail = this.failed.event;
  private started = 0;
  private shown = 0;
  /** Cancellation sources of the computations under way (their progress Cancel fires them too). */
  private readonly running = new Map<vscode.CancellationTokenSource, string[]>();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.extensionUri = context.extensionUri;
  }

  /** The command handler: `(clicked, selected[])` from the explorer, a Uri[], ComputeArgs, or nothing. */
  async command(a?: unknown, b?: unknown): Promise<LossReport | undefined> {
    const trace = new RunTrace();
    const args = await this.specFromArgs(a, b);
    if (!args) return undefined;
    trace.mark('args');
    if (args.fromUser && args.spec.paths.length === 2 && !args.spec.roles.length) {
      const how = await this.offerComparison(args.spec.paths as [string, string]);
      if (how === 'cancel') return undefined;
      if (how === 'compare') {
        await vscode.commands.executeCommand(COMPARE_COMMAND, vscode.Uri.file(args.spec.paths[0]!), args.spec.paths.map((p) => vscode.Uri.file(p)));
        return undefined;
      }
    }
    return this.compute(args.spec, 'interactive', args.weights, [], undefined, trace);
  }

  /**
   * Two folders selected that are each a complete batch: the user most likely wants them compared,
   * not merged into one input (whose roles would all clash). Asks; 'merge' when not both complete.
   */
  private async offerComparison([a, b]: [string, string]): Promise<'compare' | 'merge' | 'cancel'> {
    const folder = async (p: string) => (await fsp.stat(p).catch(() => undefined))?.isDirectory() === true;
    if (!(await folder(a)) || !(await folder(b))) return 'merge';
    const conv = settingConvention();
    const [ca, cb] = await Promise.all([isCompleteBatch(a, this.limits(), conv), isCompleteBatch(b, this.limits(), conv)]);
    if (!ca || !cb) return 'merge';
    const rel = (p: string) => vscode.workspace.asRelativePath(p);
    const items: (vscode.QuickPickItem & { how: 'compare' | 'merge' })[] = [
      { label: 'Compare the two batches', description: `A = ${rel(a)}, B = ${rel(b)}`, detail: 'Compare Loss of Two Batches: A, B − A and B side by side', how: 'compare' },
      { label: 'Merge them as one input', description: 'one batch from the arrays of both folders', detail: 'every role would be claimed twice and asked for', how: 'merge' },
    ];
    const picked = await stepPick({
      title: 'CornerNet: two complete batches selected',
      placeholder: `${rel(a)} and ${rel(b)} each hold a whole batch (Escape cancels)`,
      items,
      back: false,
    });
    const how = picked && picked !== 'back' ? picked.how : 'cancel';
    log().info(`two complete batches selected: ${how}`);
    return how;
  }

  /** Runs a notebook run again (set by the notebook command): its arrays live in a kernel. */
  notebookRerun: ((spec: RunSpec, how: 'again' | 'changeRoles' | 'restore') => Promise<LossReport | undefined>) | undefined;

  /** Runs a debug-session run again (set by the debug command): its arrays live in a paused frame. */
  debugRerun: ((spec: RunSpec, how: 'again' | 'changeRoles' | 'restore') => Promise<LossReport | undefined>) | undefined;

  /** PanelHost: the panel's "Recompute" / "Change roles..." and restoring after a reload. */
  async recompute(spec: RunSpec, how: 'again' | 'changeRoles' | 'restore'): Promise<LossReport | undefined> {
    if (spec.notebook) return this.notebookRerun?.(spec, how);
    if (spec.debug) return this.debugRerun?.(spec, how);
    if (how === 'changeRoles') {
      const changed = await changeRoles(spec, ResultsPanel.current?.currentReport, this.limits()).catch((e) => {
        this.fail(e);
        return undefined;
      });
      if (!changed) return undefined;
      const chosen = (changed.roles ?? []).filter((r) => !spec.roles.some((o) => o.name === r.name && o.path === r.path && o.key === r.key));
      return this.compute(toRunSpec(changed), 'roles-given', undefined, chosen);
    }
    return this.compute(spec, how === 'restore' ? 'quiet' : 'roles-given');
  }

  private async specFromArgs(a: unknown, b: unknown): Promise<{ spec: RunSpec; weights?: Record<string, number>; fromUser?: boolean } | undefined> {
    const toPath = (u: string | vscode.Uri): string | undefined => {
      // Command links (hovers) pass URIs as strings.
      if (typeof u === 'string') return /^[a-z][\w+.-]+:\/\//i.test(u) ? toPath(vscode.Uri.parse(u)) : u;
      return u.scheme === 'file' || u.scheme === 'vscode-remote' ? u.fsPath : undefined;
    };
    let items: (string | vscode.Uri)[] | undefined;
    let roles: RoleAssignmentSpec[] = [];
    let weights: Record<string, number> | undefined;
    let convention: ConventionName | undefined;
    let fromUser = false;
    if (Array.isArray(b) && b.length && b.every((x) => x instanceof vscode.Uri)) {
      // An explorer selection may hold other files too (expected.json next to the arrays): keep
      // folders and tensor files, say what was left out.
      const all = b as vscode.Uri[];
      fromUser = true;
      items = [];
      for (const u of all) {
        const st = await vscode.workspace.fs.stat(u).then((x) => x, () => undefined);
        if (st?.type === vscode.FileType.Directory || tensorFormatOf(u.path)) items.push(u);
        else log().info(`ignored ${vscode.workspace.asRelativePath(u)}: not a tensor file or folder`);
      }
      if (!items.length) {
        this.fail(new LossRunError('input', 'the selection holds no .npy, .npz or .safetensors file or folder'));
        return undefined;
      }
    }
    else if (a instanceof vscode.Uri || (typeof a === 'string' && a.length > 0)) items = [a as vscode.Uri | string];
    else if (Array.isArray(a)) items = a as (string | vscode.Uri)[];
    else if (a && typeof a === 'object' && ('paths' in a || 'roles' in a)) {
      const args = a as ComputeArgs;
      items = args.paths ?? [];
      roles = args.roles ?? [];
      weights = args.weights;
      if (args.convention !== undefined) {
        const c = parseConventionName(String(args.convention));
        if (!c) {
          this.fail(new LossRunError('input', `unknown convention ${String(args.convention)} (${CONVENTION_NAMES.join(', ')})`));
          return undefined;
        }
        convention = c;
      }
    }
    if (!items) {
      const picked = await vscode.window.showOpenDialog({
        title: 'Compute CornerNet Loss: choose tensor files or a folder',
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: true,
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        filters: { 'Tensors': ['npy', 'npz', 'safetensors'] },
        openLabel: 'Compute Loss',
      });
      if (!picked?.length) return undefined;
      items = picked;
      fromUser = true;
    }
    const paths: string[] = [];
    for (const item of items) {
      const p = toPath(item);
      if (!p) {
        this.fail(new LossRunError('input', `${String(item)}: only files on this machine can be read`));
        return undefined;
      }
      paths.push(p);
    }
    return { spec: { paths, roles, ...(convention ? { convention } : {}) }, weights, fromUser };
  }

  private limits() {
    return settings.readLimits();
  }

  /**
   * Settles roles ('interactive': ask in QuickPicks; 'roles-given' too; 'quiet': no questions,
   * no notification), runs the worker under progress and shows the result. Undefined on failure
   * or cancellation (the panel keeps its previous result).
   */
  async compute(
    spec: RunSpec,
    mode: 'interactive' | 'roles-given' | 'quiet',
    weightArgs?: Record<string, number>,
    chosen: RoleAssignmentSpec[] = [],
    origin?: ComputeOrigin,
    trace = new RunTrace(mode === 'quiet' ? 'restore' : 'compute'),
  ): Promise<LossReport | undefined> {
    const seq = ++this.started;
    const startedAt = Date.now();
    const weights = { ...weightArgs };
    const settingWeights = settings.lossWeights();
    try {
      let inputSpec: InputSpec = { paths: spec.paths, roles: spec.roles, ...(spec.mask ? { mask: spec.mask } : {}) };
      let picked: RoleAssignmentSpec[] = [];
      let pickedMask: MaskSynthesis | undefined;
      if (mode !== 'quiet' && !origin) {
        const settled = await settleRoles(inputSpec, this.limits(), { ...(spec.convention ? { convention: spec.convention } : {}), ...settingConvention() });
        if (!settled) {
          log().info('computation cancelled while choosing roles');
          return undefined;
        }
        inputSpec = settled.spec;
        picked = [...chosen, ...settled.picked];
        pickedMask = settled.mask;
        trace.mark('roles');
        if (!(await this.confirmLargeFiles(settled.resolution.uses.map((u) => u.ref.file)))) return undefined;
        trace.mark('sizes');
      }
      const label = origin?.label ?? inputsLabel(inputSpec.paths);
      log().info(`computing the loss of ${label}`);
      // The panel's page loads while the worker computes.
      ResultsPanel.prepare(this);
      trace.mark('panel created');
      const session = await vscode.window.withProgress(
        {
          location: mode === 'quiet' ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification,
          title: `CornerNet loss of ${label}`,
          cancellable: mode !== 'quiet',
        },
        async (progress, token) => {
          const cts = new vscode.CancellationTokenSource();
          const sub = token.onCancellationRequested(() => cts.cancel());
          this.running.set(cts, origin ? [origin.label] : inputSpec.paths);
          trace.mark('progress');
          try {
            return await LossSession.start(
              this.context.asAbsolutePath(path.join('dist', 'worker.js')),
              inputSpec,
              // A private folder (origin) is removed once the worker has the arrays: read them whole.
              {
                weights,
                settingWeights,
                // The total first; the diagnosis follows (the panel asks for it once shown).
                findings: 'later',
                limits: this.limits(),
                threads: settings.lossThreads(),
                ...(spec.convention ? { convention: spec.convention } : {}),
                ...(spec.heatIsProbability ? { heatIsProbability: true } : {}),
                ...settingConvention(),
                ...(settings.classNames() ? { settingClassNames: settings.classNames() } : {}),
                ...(origin ? { stream: false } : {}),
              },
              cts.token,
              fractionReporter(progress),
            );
          } finally {
            this.running.delete(cts);
            sub.dispose();
            cts.dispose();
            // The worker holds the arrays now (or failed): the private folder can go.
            await origin?.done();
          }
        },
      );
      trace.mark('report');
      if (origin) session.relabel(origin.relabel);
      const r = session.report;
      log().info(`${r.convention}: total ${r.total} (${Object.entries(r.terms).map(([k, v]) => `${k} ${v}`).join(', ')}); read ${r.timings.readMs.toFixed(0)} ms, compute ${r.timings.computeMs.toFixed(0)} ms; ${r.warnings.length} warning(s)`);
      for (const w of r.warnings) log().warn(`[${w.code}] ${w.message}`);
      this.lastError = undefined;
      if (seq < this.shown) {
        // A later computation already finished: never replace a newer result with an older one.
        log().info('a newer result is already shown; this one is only returned');
        session.dispose();
        return r;
      }
      this.shown = seq;
      const runSpec = origin
        ? origin.spec
        : { ...toRunSpec(inputSpec), ...(spec.convention ? { convention: spec.convention } : {}), ...(spec.heatIsProbability ? { heatIsProbability: true } : {}) };
      ResultsPanel.show(this, session, runSpec, label, trace, `worker: read ${r.timings.readMs.toFixed(0)}, compute ${r.timings.computeMs.toFixed(0)}`);
      // A quiet run re-creates a result already listed (restore after a reload, a past run).
      if (mode !== 'quiet') this.computed.fire({ report: r, spec: runSpec, label, startedAt });
      if (picked.length || pickedMask) void this.offerToRemember(inputSpec, picked, pickedMask);
      return r;
    } catch (e) {
      await origin?.done();
      if (this.started === seq) ResultsPanel.abandon();
      this.fail(e, origin ? undefined : spec, startedAt);
      return undefined;
    }
  }

  private async confirmLargeFiles(files: string[]): Promise<boolean> {
    const cap = settings.maxFileBytes();
    const big: string[] = [];
    for (const f of new Set(files)) {
      const st = await fsp.stat(f).catch(() => undefined);
      if (st && st.size > cap) big.push(`${path.basename(f)} (${(st.size / 1024 ** 2).toFixed(0)} MB)`);
    }
    if (!big.length) return true;
    const answer = await vscode.window.showWarningMessage(
      `${big.join(', ')} ${big.length > 1 ? 'are' : 'is'} larger than cornernet.maxFileSizeMB (${(cap / 1024 ** 2).toFixed(0)} MB). Read anyway?`,
      { modal: true },
      'Read Anyway',
    );
    return answer === 'Read Anyway';
  }

  private async offerToRemember(spec: InputSpec, picked: RoleAssignmentSpec[], mask?: MaskSynthesis): Promise<void> {
    const folder = await manifestFolder(spec);
    if (!folder) return;
    const what = [...picked.map((p) => p.name), ...(mask ? [`gt_mask = ${mask === 'all' ? 'all slots valid' : 'from the indices'}`] : [])];
    const answer = await vscode.window.showInformationMessage(
      `Remember the chosen role${what.length > 1 ? 's' : ''} (${what.join(', ')}) in ${vscode.workspace.asRelativePath(path.join(folder, 'cornernet.json'))}?`,
      'Remember',
      'Not Now',
    );
    if (answer !== 'Remember') return;
    try {
      const file = await rememberRoles(folder, picked, mask);
      log().info(`roles written to ${file}`);
    } catch (e) {
      this.fail(new LossRunError('input', `cannot write cornernet.json: ${(e as Error).message}`));
    }
  }

  /** Reports a failure as the command does (notification, log, lastError); also for the notebook command. */
  fail(e: unknown, spec?: RunSpec, startedAt = Date.now(), actions: { title: string; run: () => unknown }[] = []): void {
    if ((e instanceof LossRunError || isKernelError(e)) && e.kind === 'cancelled') {
      log().info('computation cancelled');
      this.lastError = { kind: 'cancelled', message: 'cancelled' };
      return;
    }
    let kind = 'internal';
    let message = (e as Error)?.message ?? String(e);
    let subject: string | undefined;
    if (e instanceof LossRunError) {
      kind = e.kind;
      subject = e.subject;
    } else if (isInputError(e)) {
      kind = 'input';
      subject = e.subject;
    } else if (isTensorReadError(e)) {
      kind = 'read';
      subject = e.file;
    } else if (isKernelError(e)) {
      kind = e.kind;
      subject = e.variable;
    }
    this.lastError = { kind, message, subject };
    if (spec) this.failed.fire({ error: this.lastError, spec, startedAt });
    if (kind === 'internal' || kind === 'crashed') {
      log().error(`internal error: ${message}\n${(e as Error)?.stack ?? ''}`);
      message = `internal error: ${message} (details in the CornerNet Inspector log)`;
    } else {
      log().error(message);
    }
    const titles = [...actions.map((a) => a.title), 'Show Log'];
    void vscode.window.showErrorMessage(`CornerNet Inspector: ${message}`, ...titles).then((a) => {
      if (a === 'Show Log') log().show();
      else actions.find((x) => x.title === a)?.run();
    });
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Cancels the computations under way (those reading `path`, when given), as their progress notifications' Cancel does. */
  cancelRunning(path?: string): number {
    let n = 0;
    for (const [cts, paths] of [...this.running]) {
      if (path !== undefined && !paths.some((p) => p.includes(path))) continue;
      cts.cancel();
      n++;
    }
    return n;
  }

  /** Paths of the computations under way (tests). */
  runningPaths(): string[][] {
    return [...this.running.values()];
  }

  dispose(): void {
    this.cancelRunning();
    this.computed.dispose();
    this.failed.dispose();
  }
}

/** The cornernet.convention setting, as ComputeOptions take it (`auto`: nothing). */
function settingConvention(): { settingConvention?: ConventionName } {
  const c = settings.convention();
  return c ? { settingConvention: c } : {};
}

function toRunSpec(spec: InputSpec): RunSpec {
  return {
    paths: spec.paths,
    roles: (spec.roles ?? []).map((r) => ({ name: r.name, path: r.path, ...(r.key !== undefined ? { key: r.key } : {}) })),
    ...(spec.mask ? { mask: spec.mask } : {}),
  };
}

function inputsLabel(paths: string[]): string {
  const rel = paths.map((p) => vscode.workspace.asRelativePath(p));
  return rel.length <= 3 ? rel.join(', ') : `${rel.slice(0, 3).join(', ')} and ${rel.length - 3} more`;
}
