/**
 * "Compute CornerNet Loss from Debug Session" (cornernet.computeLossFromDebugSession: the debug
 * toolbar, the palette, the Variables view) and "Open in Tensor Viewer" on a tensor in the Variables
 * view (cornernet.openDebugVariable). The notebook command's inspection, choices and transfer
 * (src/kernelFlow.ts, src/notebookCommand.ts) run in the selected stack frame of a paused Python
 * session, through the session's own DAP `evaluate` requests (src/notebook/dapKernel.ts): any
 * adapter built on debugpy. When the session of the shown result stops again, the panel offers to
 * compute again there, or does it by itself (cornernet.debug.recomputeOnStop).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossRunner } from './computeCommand';
import type { LossReport } from './cornernet/model/report';
import { KernelRuns, type KernelPlace } from './kernelFlow';
import { log } from './log';
import { DebugFrameKernel, parseIndexPath } from './notebook/dapKernel';
import { KernelError, isKernelError } from './notebook/kernel';
import { inspectKernel } from './notebook/pull';
import type { VariablePath } from './notebook/snippets';
import { transferArrays, type TransferMode, type TransferResult } from './notebook/transfer';
import { isTensor } from './notebook/variables';
import { pickChoice, planFromChoice } from './notebookCommand';
import { ResultsPanel } from './resultsPanel';
import { isNotebookChoice, type NotebookChoice, type RunSpec } from './protocol/panel';
import * as settings from './settings';
import type { KernelVariableViewer } from './variableViewer';

export { DEBUG_COMMAND, OPEN_DEBUG_VARIABLE_COMMAND } from './ids';

/** Arguments when run from code (tests). */
export interface DebugComputeArgs {
  choice?: NotebookChoice;
  transfer?: TransferMode;
}

/** What the Variables view passes to its context-menu commands (VS Code's IVariablesContext). */
interface VariablesViewContext {
  sessionId?: unknown;
  variable: { name?: unknown; evaluateName?: unknown; type?: unknown };
}

/** The frame the commands work in. */
interface PausedFrame {
  session: vscode.DebugSession;
  threadId: number;
  frameId: number;
  /** `ae_loss() at train.py:45` */
  label: string;
  /** The frame's script, which the report names as the inputs' file. */
  file: string;
}

/** A variable the user pointed at: a path from a frame name, or an expression offered under its own text. */
interface Pointed {
  path: VariablePath;
  alias?: [string, string];
}

/** Stop reasons after which "compute again" may run by itself (not steps or pauses). */
const BREAKPOINT_REASONS = new Set(['breakpoint', 'function breakpoint', 'data breakpoint', 'instruction breakpoint']);
/** Requests after which the session runs (the offer to compute again no longer holds). */
const RESUMING_REQUESTS = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'restartFrame']);

export class DebugLossCommand implements vscode.Disposable {
  /** Inspections and transfers under way (shared flow with the notebook command). */
  readonly runs: KernelRuns;
  private readonly ended = new Set<string>();

  constructor(
    private readonly runner: LossRunner,
    private readonly viewer: KernelVariableViewer,
  ) {
    this.runs = new KernelRuns(runner);
    runner.debugRerun = (spec, how) => this.rerun(spec, how);
  }

  /** The last transfer, for the tests and the log. */
  get lastTransfer(): { mode: string; bytes: number; ms: number } | undefined {
    return this.runs.lastTransfer;
  }

  /** The command: nothing (toolbar, palette), a Variables-view context, or DebugComputeArgs. */
  async command(arg?: unknown): Promise<LossReport | undefined> {
    const context = variablesContext(arg);
    const args = (!context && arg && typeof arg === 'object' ? arg : {}) as DebugComputeArgs;
    if (args.choice !== undefined && !isNotebookChoice(args.choice)) {
      this.runner.fail(new KernelError('protocol', 'the choice passed to the command is malformed'));
      return undefined;
    }
    try {
      const frame = await this.pausedFrame();
      const pointed = context ? pointedVariable(context) : undefined;
      return await this.computeIn(frame, {
        ...(args.choice ? { choice: args.choice } : {}),
        ...(args.transfer ? { transfer: args.transfer } : {}),
        aliases: pointed?.alias ? [pointed.alias] : [],
        preferred: pointed ? [pointed.path[0]] : [],
      });
    } catch (e) {
      this.failWithActions(e);
      return undefined;
    }
  }

  private computeIn(frame: PausedFrame, opts: { choice?: NotebookChoice; transfer?: TransferMode; aliases: [string, string][]; preferred: string[] }): Promise<LossReport | undefined> {
    const kernel = new DebugFrameKernel(frame.session, frame.frameId, { aliases: opts.aliases, frameLabel: frame.label });
    const place: KernelPlace = { name: frame.label, holder: `the frame ${frame.label}`, file: frame.file, runner: 'debuggee' };
    return this.runs.compute({
      kernel,
      place,
      pick: (ins) =>
        pickChoice(ins, frame.label, {
          holder: place.holder,
          emptyHint: 'step to where the outputs and targets exist, or select another frame in the Call Stack',
          preferred: opts.preferred,
        }),
      plan: (ins, choice) => planFromChoice(ins, choice, place.holder),
      ...(opts.choice ? { choice: opts.choice } : {}),
      spec: (choice): RunSpec => ({ paths: [], roles: [], debug: { sessionId: frame.session.id, choice, ...(opts.aliases.length ? { aliases: opts.aliases } : {}) } }),
      ...(opts.transfer ? { transfer: opts.transfer } : {}),
    });
  }

  /**
   * The panel's Recompute / Change roles / restore of a debug run: the same choice in the frame
   * the session is paused in now (the next breakpoint hit, typically).
   */
  private async rerun(spec: RunSpec, how: 'again' | 'changeRoles' | 'restore'): Promise<LossReport | undefined> {
    const d = spec.debug!;
    try {
      const frame = await this.pausedFrame();
      ResultsPanel.current?.offer(null);
      return await this.computeIn(frame, { ...(how === 'changeRoles' ? {} : { choice: d.choice }), aliases: d.aliases ?? [], preferred: [] });
    } catch (e) {
      // After a window reload the session is usually gone: the restored report stays, without planes.
      if (how === 'restore') {
        log().info(`the debug run's heatmaps cannot be read again: ${(e as Error).message}`);
        return undefined;
      }
      this.failWithActions(e);
      return undefined;
    }
  }

  /** "Open in Tensor Viewer" in the Variables view: the variable pulled from the frame into the tensor viewer. */
  async openVariable(arg?: unknown): Promise<string | undefined> {
    const context = variablesContext(arg);
    if (!context || typeof context.variable.name !== 'string') {
      this.runner.fail(new KernelError('protocol', 'no variable was given: use "Open in Tensor Viewer" on a tensor in the Variables view of a paused Python debug session'));
      return undefined;
    }
    let result: TransferResult | undefined;
    try {
      const frame = await this.pausedFrame();
      // Always by its expression: the inspection then describes the value itself, however deep it is.
      const expr = typeof context.variable.evaluateName === 'string' && context.variable.evaluateName ? context.variable.evaluateName : context.variable.name;
      const kernel = new DebugFrameKernel(frame.session, frame.frameId, { aliases: [[expr, expr]], frameLabel: frame.label });
      result = await this.runs.withCancel(`CornerNet: ${expr} from ${frame.label}`, true, async (token, onProgress) => {
        const ins = await inspectKernel(kernel, token, frame.label);
        const v = ins.variables.find((x) => x.name === expr);
        if (!v || !isTensor(v.value)) {
          const what = v ? `a ${v.value.kind === 'other' ? v.value.type : v.value.kind}` : `a ${String(context.variable.type ?? 'value')}`;
          throw new KernelError('not-array', `${expr} is ${what}, not a numpy array or a torch tensor: the viewer shows one array`, expr);
        }
        return transferArrays(kernel, { title: expr, arrays: [{ id: 0, path: [expr], role: 'tl_heat', label: expr, desc: v.value }] }, {
          mode: settings.notebookTransfer(),
          maxBytes: settings.notebookMaxTransferBytes(),
          token,
          onProgress,
        });
      });
      return await this.viewer.show(result, expr);
    } catch (e) {
      await result?.dispose();
      this.failWithActions(e);
      return undefined;
    }
  }

  /**
   * The selected frame of the active session, refusing (in this order) an untrusted workspace
   * before anything is sent, no session, a session that is not Python, a session that runs.
   */
  private async pausedFrame(): Promise<PausedFrame> {
    requireTrust();
    const session = vscode.debug.activeDebugSession;
    if (!session) {
      throw new KernelError('no-session', 'there is no debug session: debug your training script (Python), stop at a breakpoint where the outputs and targets exist (in the loss function, say), then run this again.');
    }
    const types = settings.pythonDebugTypes();
    if (!types.includes(session.type)) {
      throw new KernelError(
        'language',
        `the debug session "${session.name}" is of type ${session.type}, not a Python (debugpy) session: the loss is computed from the variables of a paused Python program. If this adapter is built on debugpy, add "${session.type}" to the setting cornernet.debug.pythonTypes.`,
      );
    }
    const item = vscode.debug.activeStackItem;
    if (!(item instanceof vscode.DebugStackFrame) || item.session.id !== session.id) {
      throw new KernelError('not-paused', `the debug session "${session.name}" is not paused in a frame: pause it (or stop at a breakpoint where the outputs and targets exist) and run this again.`);
    }
    return { session, threadId: item.threadId, frameId: item.frameId, ...(await describeFrame(session, item.threadId, item.frameId)) };
  }

  /** DAP messages the adapter of a Python session sent (the tracker registered in extension.ts). */
  adapterSent(session: vscode.DebugSession, message: unknown): void {
    const m = message as { type?: unknown; event?: unknown; body?: { reason?: unknown; threadId?: unknown } } | undefined;
    if (m?.type !== 'event') return;
    if (m.event === 'stopped') void this.onStopped(session, String(m.body?.reason ?? 'stopped'), typeof m.body?.threadId === 'number' ? m.body.threadId : undefined);
    else if (m.event === 'continued') this.onResumed(session);
    else if (m.event === 'terminated' || m.event === 'exited') this.onEnded(session);
  }

  /** DAP messages the adapter of a Python session is about to receive (resuming requests). */
  adapterReceives(session: vscode.DebugSession, message: unknown): void {
    const m = message as { type?: unknown; command?: unknown } | undefined;
    if (m?.type === 'request' && RESUMING_REQUESTS.has(String(m.command))) this.onResumed(session);
  }

  adapterEnded(session: vscode.DebugSession): void {
    this.onEnded(session);
  }

  /** The shown result's debug run, if `session` is its session (or its session has ended: a restart). */
  private shownRunOf(session: vscode.DebugSession): { panel: ResultsPanel; spec: RunSpec } | undefined {
    const panel = ResultsPanel.current;
    const spec = panel?.currentSpec;
    if (!panel || !spec?.debug) return undefined;
    return spec.debug.sessionId === session.id || this.ended.has(spec.debug.sessionId) ? { panel, spec } : undefined;
  }

  private async onStopped(session: vscode.DebugSession, reason: string, threadId: number | undefined): Promise<void> {
    const run = this.shownRunOf(session);
    if (!run) return;
    // The stopped thread's top frame: where it stopped (what VS Code selects once it has the stack).
    let top: DapFrame | undefined;
    if (threadId !== undefined) {
      try {
        top = ((await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 })) as { stackFrames?: DapFrame[] }).stackFrames?.[0];
      } catch {
        // no location: the offer still holds
      }
    }
    const where = top ? ` at ${frameLabel(top)}` : '';
    if (ResultsPanel.current !== run.panel || run.panel.currentSpec !== run.spec) return;
    const auto = settings.debugRecomputeOnStop() && BREAKPOINT_REASONS.has(reason) && this.runs.runningCount === 0 && top !== undefined && threadId !== undefined;
    if (!auto) {
      run.panel.offer(`"${session.name}" stopped again (${reason})${where}. This result is from an earlier stop.`);
      return;
    }
    log().info(`${session.name} stopped again (${reason})${where}: computing again (cornernet.debug.recomputeOnStop)`);
    const d = run.spec.debug!;
    const frame: PausedFrame = { session, threadId: threadId!, frameId: top!.id, label: frameLabel(top!), file: frameFile(top!, session) };
    try {
      requireTrust();
      await this.computeIn(frame, { choice: d.choice, aliases: d.aliases ?? [], preferred: [] });
    } catch (e) {
      this.failWithActions(e);
    }
  }

  private onResumed(session: vscode.DebugSession): void {
    const run = this.shownRunOf(session);
    if (run?.panel.currentOffer) run.panel.offer(null);
  }

  private onEnded(session: vscode.DebugSession): void {
    const run = this.shownRunOf(session);
    this.ended.add(session.id);
    if (run?.panel.currentOffer) run.panel.offer(null);
  }

  get runningCount(): number {
    return this.runs.runningCount;
  }

  cancelRunning(): number {
    return this.runs.cancelRunning();
  }

  private failWithActions(e: unknown): void {
    let actions: { title: string; run: () => unknown }[] = [];
    if (isKernelError(e)) {
      switch (e.kind) {
        case 'untrusted':
          actions = [{ title: 'Manage Workspace Trust', run: () => vscode.commands.executeCommand('workbench.trust.manage') }];
          break;
        case 'no-session':
          actions = [{ title: 'Start Debugging', run: () => vscode.commands.executeCommand('workbench.action.debug.start') }];
          break;
        case 'language':
          actions = [{ title: 'Open Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'cornernet.debug.pythonTypes') }];
          break;
        case 'not-paused':
          actions = [{ title: 'Pause', run: () => vscode.commands.executeCommand('workbench.action.debug.pause') }];
          break;
      }
    }
    this.runner.fail(e, undefined, Date.now(), actions);
  }

  dispose(): void {
    this.cancelRunning();
  }
}

/** Nothing is evaluated in a debuggee of an untrusted workspace. */
function requireTrust(): void {
  if (!vscode.workspace.isTrusted) {
    throw new KernelError('untrusted', 'this workspace is not trusted, so no code is run in a debuggee. Trust it (Manage Workspace Trust) to compute the loss from a debug session.');
  }
}

function variablesContext(arg: unknown): VariablesViewContext | undefined {
  const v = (arg as { variable?: unknown } | undefined)?.variable;
  return arg && typeof arg === 'object' && v && typeof v === 'object' ? (arg as VariablesViewContext) : undefined;
}

/**
 * The variable a Variables-view context names: a frame name (`outs`) or an index path from one
 * (`outs[0]`, `batch['hm']`) as such; anything else (`self.outs`) by its expression, evaluated in
 * the frame and offered under its own text.
 */
function pointedVariable(context: VariablesViewContext): Pointed | undefined {
  const name = typeof context.variable.name === 'string' ? context.variable.name : undefined;
  const expr = typeof context.variable.evaluateName === 'string' && context.variable.evaluateName ? context.variable.evaluateName : name;
  if (!expr) return undefined;
  const p = parseIndexPath(expr);
  if (p) return { path: p };
  return { path: [expr], alias: [expr, expr] };
}

interface DapFrame {
  id: number;
  name?: string;
  line?: number;
  source?: { path?: string; name?: string };
}

function frameLabel(f: DapFrame): string {
  const file = f.source?.path ? path.posix.basename(f.source.path.replace(/\\/g, '/')) : (f.source?.name ?? '');
  return `${f.name ?? 'frame'}()${file ? ` at ${file}${f.line ? `:${f.line}` : ''}` : ''}`;
}

/** The frame's name and place, asked of the adapter (which also shows that the thread is paused). */
async function describeFrame(session: vscode.DebugSession, threadId: number, frameId: number): Promise<{ label: string; file: string }> {
  let frames: DapFrame[] | undefined;
  try {
    frames = ((await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 200 })) as { stackFrames?: DapFrame[] }).stackFrames;
  } catch (e) {
    throw new KernelError('not-paused', `the debug session "${session.name}" did not give the stack of the selected thread (${(e as Error).message}): is it still paused? Pause it and run this again.`);
  }
  const f = frames?.find((x) => x.id === frameId);
  if (!f) throw new KernelError('not-paused', `the selected frame is no longer on the stack of "${session.name}": select a frame in the Call Stack (or stop at a breakpoint) and run this again.`);
  return { label: frameLabel(f), file: frameFile(f, session) };
}

/** The frame's script as a path (VS Code hands remote paths to extensions as vscode-remote URIs). */
function frameFile(f: DapFrame, session: vscode.DebugSession): string {
  const p = f.source?.path;
  if (!p) return session.name;
  return /^[a-z][\w+.-]+:\/\//i.test(p) ? vscode.Uri.parse(p).fsPath : p;
}
