/**
 * "Compute CornerNet Loss from Notebook" (cornernet.computeLossFromNotebook): inspects the
 * notebook's kernel, offers `outs` + `targets` (as AELoss takes them) or a variable per role,
 * pulls the arrays into a private folder (files for a local kernel, base64 for a remote one) and
 * shows the loss in the results panel with the variables as its inputs. Also "Insert Export Cell"
 * (the way without kernel access) and re-running a notebook run from the panel.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LossRunner } from './computeCommand';
import type { LossReport } from './cornernet/model/report';
import { quickPickText } from './rolePicker';
import { ALL_ROLES, ROLE_DESCRIPTIONS, parseRoleName, type Role } from './cornernet/model/roles';
import { isDenseRoleName } from './cornernet/inputs/conventionRoles';
import { JupyterKernelSource, notebookName, type KernelSource } from './jupyterKernels';
import { KernelRuns, type KernelPlace } from './kernelFlow';
import { KernelError, isKernelError, type NotebookKernel } from './notebook/kernel';
import { EXPORT_DONE_FILE, exportCellCode, pathLabel, type VariablePath } from './notebook/snippets';
import type { TransferMode } from './notebook/transfer';
import {
  centernetPairs,
  describeTensor,
  pairChoices,
  planCenternet,
  planOutsTargets,
  planPerRole,
  roleFromName,
  tensorLeaves,
  type Inspection,
  type TransferPlan,
} from './notebook/variables';
import { isNotebookChoice, type NotebookChoice, type RunSpec } from './protocol/panel';

import { EXPORT_CELL_COMMAND, NOTEBOOK_COMMAND } from './ids';
export { EXPORT_CELL_COMMAND, NOTEBOOK_COMMAND };

/** Arguments when run from code (tests, the panel's Recompute). */
export interface NotebookComputeArgs {
  notebook?: vscode.Uri | string;
  choice?: NotebookChoice;
  transfer?: TransferMode;
}

export class NotebookLossCommand implements vscode.Disposable {
  /** Where kernels come from: the Jupyter extension, or the tests' real ipykernel. */
  kernels: KernelSource = new JupyterKernelSource();
  /** Inspections and transfers under way (shared flow, src/kernelFlow.ts). */
  readonly runs: KernelRuns;
  private readonly watchers = new Set<vscode.Disposable>();

  constructor(private readonly runner: LossRunner) {
    this.runs = new KernelRuns(runner);
    runner.notebookRerun = (spec, how) => this.rerun(spec, how);
  }

  /** The last transfer, for the tests and the log: mode, bytes, milliseconds. */
  get lastTransfer(): { mode: string; bytes: number; ms: number } | undefined {
    return this.runs.lastTransfer;
  }

  /** The command: `(uri | {notebookEditor} | NotebookComputeArgs)`, or the active notebook. */
  async command(arg?: unknown): Promise<LossReport | undefined> {
    const args = (arg && typeof arg === 'object' && !(arg instanceof vscode.Uri) && ('choice' in arg || 'transfer' in arg || 'notebook' in arg) ? arg : {}) as NotebookComputeArgs;
    const notebook = await findNotebook(args.notebook ?? arg);
    if (!notebook) {
      this.runner.fail(new KernelError('no-kernel', 'open a Jupyter notebook first: the loss is computed from the variables of its kernel'));
      return undefined;
    }
    if (args.choice !== undefined && !isNotebookChoice(args.choice)) {
      this.runner.fail(new KernelError('protocol', 'the notebook choice passed to the command is malformed'));
      return undefined;
    }
    return this.computeFrom(notebook, args.choice, args.transfer);
  }

  private async computeFrom(notebook: vscode.NotebookDocument, given: NotebookChoice | undefined, transfer?: TransferMode): Promise<LossReport | undefined> {
    const name = notebookName(notebook);
    const place: KernelPlace = {
      name,
      holder: `the kernel of ${name}`,
      file: notebook.uri.scheme === 'file' ? notebook.uri.fsPath : notebook.uri.toString(),
      runner: 'kernel',
    };
    try {
      const kernel = await this.kernelFor(notebook);
      return await this.runs.compute({
        kernel,
        place,
        pick: (ins) => pickChoice(ins, name),
        plan: planFromChoice,
        ...(given ? { choice: given } : {}),
        spec: (choice) => ({ paths: [], roles: [], notebook: { uri: notebook.uri.toString(), choice } }),
        ...(transfer ? { transfer } : {}),
      });
    } catch (e) {
      this.failWithActions(e, notebook);
      return undefined;
    }
  }

  /** The kernel, refusing in an untrusted workspace before anything is asked of it. */
  async kernelFor(notebook: vscode.NotebookDocument): Promise<NotebookKernel> {
    if (!vscode.workspace.isTrusted) {
      throw new KernelError('untrusted', 'this workspace is not trusted, so no code is run in notebook kernels. Trust it (Manage Workspace Trust), or insert a cell that exports the arrays and run it yourself.');
    }
    return this.kernels.getKernel(notebook);
  }

  /** The panel's Recompute on a notebook run: the same choice, pulled again from the kernel. */
  private async rerun(spec: RunSpec, how: 'again' | 'changeRoles' | 'restore'): Promise<LossReport | undefined> {
    const nb = spec.notebook!;
    const notebook = await findNotebook(nb.uri);
    if (!notebook) {
      if (how !== 'restore') this.runner.fail(new KernelError('no-kernel', `the notebook ${vscode.Uri.parse(nb.uri).path} is not open: open it (its kernel holds the arrays) and recompute`));
      return undefined;
    }
    return this.computeFrom(notebook, how === 'changeRoles' ? undefined : nb.choice);
  }

  get runningCount(): number {
    return this.runs.runningCount;
  }

  /** Cancels the inspections and transfers under way (as their notifications' Cancel does). */
  cancelRunning(): number {
    return this.runs.cancelRunning();
  }

  private failWithActions(e: unknown, notebook: vscode.NotebookDocument): void {
    const insert = { title: 'Insert Export Cell', run: () => vscode.commands.executeCommand(EXPORT_CELL_COMMAND, notebook.uri) };
    let actions: { title: string; run: () => unknown }[] = [];
    if (isKernelError(e)) {
      switch (e.kind) {
        case 'no-jupyter':
          actions = [insert, { title: 'Install Jupyter', run: () => vscode.commands.executeCommand('workbench.extensions.search', '@id:ms-toolsai.jupyter') }];
          break;
        case 'access':
          actions = [{ title: 'Manage Access', run: () => vscode.commands.executeCommand('jupyter.manageAccessToKernels') }, insert];
          break;
        case 'untrusted':
          actions = [{ title: 'Manage Workspace Trust', run: () => vscode.commands.executeCommand('workbench.trust.manage') }, insert];
          break;
        case 'no-kernel':
          actions = [insert];
          break;
      }
    }
    this.runner.fail(e, undefined, Date.now(), actions);
  }

  /**
   * Inserts a code cell that saves the arrays into a folder next to the notebook (outs/targets as
   * `np.savez(f, *outs)` does, other variables under their names), and computes the loss of that
   * folder once the cell has written it. Needs no kernel access: the user runs the cell.
   */
  async insertExportCell(arg?: unknown, variablesArg?: string[]): Promise<{ folder: string; code: string } | undefined> {
    const notebook = await findNotebook(arg);
    if (!notebook) {
      this.runner.fail(new KernelError('no-kernel', 'open a Jupyter notebook first'));
      return undefined;
    }
    let names = variablesArg;
    if (!names) {
      const answer = await vscode.window.showInputBox({
        title: 'CornerNet: variables to export',
        prompt: '`outs, targets` as passed to AELoss(outs, targets), or variables named for their roles (tl_heat, gt_mask, ...)',
        value: 'outs, targets',
        ignoreFocusOut: true,
        validateInput: (v) => (parseNames(v) ? undefined : 'comma-separated Python names'),
      });
      if (answer === undefined) return undefined;
      names = parseNames(answer);
    }
    if (!names?.length || !names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) {
      this.runner.fail(new KernelError('protocol', 'the variables to export must be Python names'));
      return undefined;
    }
    const base = notebook.uri.scheme === 'file' ? path.dirname(notebook.uri.fsPath) : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!base) {
      this.runner.fail(new KernelError('protocol', 'the notebook is not on disk and there is no workspace folder to export into'));
      return undefined;
    }
    const stem = path.basename(notebook.uri.path).replace(/\.[^.]+$/, '') || 'notebook';
    const folder = path.join(base, `${stem}-cornernet`);
    const pair = names.length === 2 && !names.some((n) => parseRoleName(n));
    const code = exportCellCode(folder, pair ? { outs: names[0]!, targets: names[1]! } : { arrays: names });
    const editor = vscode.window.visibleNotebookEditors.find((e) => e.notebook === notebook);
    const at = editor?.selection ? Math.min(editor.selection.end, notebook.cellCount) : notebook.cellCount;
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(at, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python')])]);
    if (!(await vscode.workspace.applyEdit(edit))) {
      this.runner.fail(new KernelError('protocol', `could not insert a cell into ${notebookName(notebook)}`));
      return undefined;
    }
    editor?.revealRange(new vscode.NotebookRange(at, at + 1), vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
    this.computeWhenWritten(folder, EXPORT_DONE_FILE);
    void vscode.window.showInformationMessage(`CornerNet Inspector: run the inserted cell; the loss of ${vscode.workspace.asRelativePath(folder)} is computed once it has been written.`);
    return { folder, code };
  }

  /**
   * One-shot: computes the folder's loss once the export cell has written its last file and the
   * file has stopped changing. Polls (a stat per second: file watchers miss folders that do not
   * exist yet, and remote or network file systems); a watcher on the notebook's folder only makes
   * the check immediate. Gives up after 30 minutes.
   */
  private computeWhenWritten(folder: string, lastFile: string): void {
    const target = path.join(folder, lastFile);
    const stamp = async () => {
      const st = await fsp.stat(target).catch(() => undefined);
      return st ? `${st.size}:${st.mtimeMs}` : undefined;
    };
    // A file from an earlier export is not this one's.
    const initial = stamp();
    let previous: string | undefined;
    const check = async () => {
      const now = await stamp();
      // np.savez writes in several steps: the same size and time twice in a row means done.
      if (now !== undefined && now === previous && now !== (await initial)) {
        stop();
        void vscode.commands.executeCommand('cornernet.computeLoss', { paths: [folder] });
        return;
      }
      previous = now;
    };
    const timer = setInterval(() => void check(), 1000);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(folder)), `${path.basename(folder)}/${lastFile}`));
    watcher.onDidCreate(() => void check());
    watcher.onDidChange(() => void check());
    const expiry = setTimeout(() => stop(), 30 * 60 * 1000);
    const stop = () => {
      clearInterval(timer);
      clearTimeout(expiry);
      watcher.dispose();
      this.watchers.delete(disposable);
    };
    const disposable = { dispose: stop };
    this.watchers.add(disposable);
  }

  dispose(): void {
    this.cancelRunning();
    for (const w of [...this.watchers]) w.dispose();
  }
}

function parseNames(v: string): string[] | undefined {
  const names = v.split(/[\s,]+/).filter(Boolean);
  return names.length && names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) ? names : undefined;
}

/** A notebook from a URI (string or Uri), the toolbar's `{notebookEditor: {notebookUri}}`, or the active one. */
export async function findNotebook(arg: unknown): Promise<vscode.NotebookDocument | undefined> {
  let uri: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) uri = arg;
  else if (typeof arg === 'string' && arg) uri = /^[a-z][\w+.-]+:/i.test(arg) && !/^[a-z]:[\\/]/i.test(arg) ? vscode.Uri.parse(arg) : vscode.Uri.file(arg);
  else if (arg && typeof arg === 'object') {
    const o = arg as { notebookEditor?: { notebookUri?: unknown }; uri?: unknown; notebookUri?: unknown };
    const u = o.notebookEditor?.notebookUri ?? o.notebookUri ?? o.uri;
    if (u instanceof vscode.Uri) uri = u;
  }
  if (!uri) return vscode.window.activeNotebookEditor?.notebook;
  const key = uri.toString();
  const open = vscode.workspace.notebookDocuments.find((n) => n.uri.toString() === key || (uri!.scheme === 'file' && n.uri.fsPath === uri!.fsPath));
  if (open) return open;
  try {
    return await vscode.workspace.openNotebookDocument(uri);
  } catch {
    return undefined;
  }
}

/**
 * The plan of a choice against what the kernel has now (a variable may have gone). `holder` names
 * where the variables live in messages (a debug session's frame: src/debugCommand.ts).
 */
export function planFromChoice(ins: Inspection, choice: NotebookChoice, holder = 'the kernel'): TransferPlan {
  if (choice.kind === 'ctdet') {
    const output = ins.variables.find((v) => v.name === choice.output);
    const batch = ins.variables.find((v) => v.name === choice.batch);
    if (!output) throw new KernelError('not-array', `${choice.output}: no such variable holding tensors in ${holder}`, choice.output);
    if (!batch) throw new KernelError('not-array', `${choice.batch}: no such variable holding tensors in ${holder}`, choice.batch);
    return planCenternet(output, batch);
  }
  if (choice.kind === 'pair') {
    const outs = ins.variables.find((v) => v.name === choice.outs);
    const targets = ins.variables.find((v) => v.name === choice.targets);
    if (!outs) throw new KernelError('not-array', `${choice.outs}: no such variable holding tensors in ${holder}`, choice.outs);
    if (!targets) throw new KernelError('not-array', `${choice.targets}: no such variable holding tensors in ${holder}`, choice.targets);
    return planOutsTargets(outs, targets);
  }
  const leaves = new Map(tensorLeaves(ins).map((l) => [JSON.stringify(l.path), l]));
  return planPerRole(
    choice.arrays.map((a) => {
      const leaf = leaves.get(JSON.stringify(a.path));
      const label = pathLabel(a.path as VariablePath);
      if (!leaf) throw new KernelError('not-array', `${label} is not a numpy array or a torch tensor in ${holder}`, label);
      if (!(ALL_ROLES as readonly string[]).includes(a.role) && !isDenseRoleName(a.role)) throw new KernelError('protocol', `unknown role ${a.role}`);
      return { path: leaf.path, desc: leaf.desc, role: a.role, ...(a.stackIndex !== undefined ? { stackIndex: a.stackIndex } : {}) };
    }),
  );
}

/** Kernel names and keys are data: `$(...)` in them must not turn into icons in a QuickPick. */
const text = quickPickText;

type ChoiceItem = vscode.QuickPickItem & { choice?: NotebookChoice; perRole?: boolean };

/** How pickChoice speaks of a place that is not a notebook's kernel (a paused debug frame). */
export interface PickWording {
  /** `the frame ae_loss() at train.py:45` (default: `the kernel of <name>`). */
  holder?: string;
  /** What to do when nothing array-like is there (default: run the cells that make them). */
  emptyHint?: string;
  /** Variables the user pointed at: the choices holding them come first. */
  preferred?: string[];
}

/** The QuickPick: each plausible outs/targets pair, then "a variable per role". */
export async function pickChoice(ins: Inspection, name: string, wording: PickWording = {}): Promise<NotebookChoice | undefined> {
  const holder = wording.holder ?? `the kernel of ${name}`;
  const preferred = wording.preferred ?? [];
  const leaves = tensorLeaves(ins);
  if (!leaves.length) {
    const others = ins.others.slice(0, 8).map((o) => `${o.name} (${o.type})`).join(', ');
    throw new KernelError('no-variables', `${holder} holds no numpy array or torch tensor${others ? ` (it has ${others})` : ''}: ${wording.emptyHint ?? 'run the cells that make them first'}`);
  }
  const items: ChoiceItem[] = pairChoices(ins).map((p) => {
    const plan = planOutsTargets(p.outs, p.targets);
    const stacks = new Set(plan.arrays.filter((a) => a.role === 'tl_heat').map((a) => a.stackIndex)).size;
    return {
      label: `$(symbol-array) ${text(p.outs.name)} + ${text(p.targets.name)}`,
      description: text(`AELoss(${p.outs.name}, ${p.targets.name}): ${stacks} stack${stacks > 1 ? 's' : ''}, ${plan.arrays.length} arrays`),
      detail: text(`${p.outs.name}[0] ${describeTensor(plan.arrays[0]!.desc)}${p.consistent ? '' : ` · does not match ${p.targets.name}[0]`}`),
      choice: { kind: 'pair', outs: p.outs.name, targets: p.targets.name },
    };
  });
  for (const p of centernetPairs(ins)) {
    const plan = planCenternet(p.output, p.batch);
    const stacks = plan.arrays.filter((a) => a.role === 'hm').length;
    items.push({
      label: `$(symbol-array) ${text(p.output.name)} + ${text(p.batch.name)}`,
      description: text(`CenterNet CtdetLoss(${p.output.name}, ${p.batch.name}): ${stacks} stack${stacks > 1 ? 's' : ''}, ${plan.arrays.length} arrays`),
      detail: text(`${plan.arrays[0]!.label} ${describeTensor(plan.arrays[0]!.desc)}`),
      choice: { kind: 'ctdet', output: p.output.name, batch: p.batch.name },
    });
  }
  // A variable the user pointed at (the debugger's Variables view): its choices first.
  const names = (c: NotebookChoice | undefined) => (c?.kind === 'pair' ? [c.outs, c.targets] : c?.kind === 'ctdet' ? [c.output, c.batch] : []);
  if (preferred.length) items.sort((a, b) => Number(names(b.choice).some((n) => preferred.includes(n))) - Number(names(a.choice).some((n) => preferred.includes(n))));
  if (items.length) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: '$(list-selection) A variable per role...', description: text(`${leaves.length} arrays and tensors in ${wording.holder ?? 'the kernel'}`), perRole: true });
  const picked = await vscode.window.showQuickPick(items, { title: `CornerNet: compute the loss of which variables in ${name}?`, ignoreFocusOut: true, matchOnDescription: true });
  if (!picked) return undefined;
  if (picked.choice) return picked.choice;
  return pickPerRole(ins, preferred);
}

type LeafItem = vscode.QuickPickItem & { path: VariablePath; role?: string; stackIndex?: number };

async function pickPerRole(ins: Inspection, preferred: string[] = []): Promise<NotebookChoice | undefined> {
  const all = tensorLeaves(ins);
  const leaves = [...all.filter((l) => preferred.includes(l.path[0])), ...all.filter((l) => !preferred.includes(l.path[0]))];
  const items: LeafItem[] = leaves
    .slice(0, 2000)
    .map((l) => {
      const r = roleFromName(l.path);
      return {
        label: text(pathLabel(l.path)),
        description: text(describeTensor(l.desc)),
        ...(r ? { detail: `as ${r.stackIndex === undefined ? r.role : `${r.role} (stack ${r.stackIndex})`}`, role: r.role, ...(r.stackIndex !== undefined ? { stackIndex: r.stackIndex } : {}) } : {}),
        picked: r !== undefined,
        path: l.path,
      };
    });
  const chosen = await vscode.window.showQuickPick(items, {
    title: 'CornerNet: the arrays to use (named like a role: pre-selected)',
    canPickMany: true,
    ignoreFocusOut: true,
    matchOnDescription: true,
  });
  if (!chosen?.length) return undefined;
  const arrays: { path: VariablePath; role: string; stackIndex?: number }[] = [];
  const asked: typeof arrays = [];
  for (const c of chosen) {
    if (c.role) {
      arrays.push({ path: c.path, role: c.role, ...(c.stackIndex !== undefined ? { stackIndex: c.stackIndex } : {}) });
      continue;
    }
    const r = await vscode.window.showQuickPick(
      ALL_ROLES.map((x) => ({ label: x, detail: ROLE_DESCRIPTIONS[x], role: x as Role })),
      { title: `CornerNet: role of ${pathLabel(c.path)} ${c.description ?? ''}`, ignoreFocusOut: true, matchOnDetail: true },
    );
    if (!r) return undefined;
    asked.push({ path: c.path, role: r.role });
  }
  // Several arrays given the same role here: one stack each, in the order chosen.
  for (const a of asked) {
    const same = asked.filter((b) => b.role === a.role);
    arrays.push(same.length > 1 ? { ...a, stackIndex: same.indexOf(a) } : a);
  }
  return { kind: 'roles', arrays };
}
