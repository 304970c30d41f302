/**
 * The tensor viewer as the default editor of .npy, .npz and .safetensors files: the setting
 * `cornernet.tensorViewer.default` writes (true) or removes (false) the entries of
 * `workbench.editorAssociations` that name the viewer, at the level the setting was set (user or
 * workspace). The first time a tensor file opens (in VS Code's binary page or in the viewer) while
 * the setting is off, a prompt offers "Make default", "Not now", "Never"; any answer is kept in
 * globalState and the prompt never shows again (closing it without an answer asks again in the
 * next window). Part of the activation bundle: only `vscode` and ids.
 */
import * as vscode from 'vscode';
import { isTensorFileName, VIEWER_VIEW_TYPE } from './ids';

export const DEFAULT_SETTING = 'tensorViewer.default';
export const PROMPT_STATE_KEY = 'cornernet.defaultEditorPrompt';
export const TENSOR_PATTERNS = ['*.npy', '*.npz', '*.safetensors'] as const;

export const PROMPT_MESSAGE = 'Open .npy, .npz and .safetensors files in the CornerNet Tensor Viewer by default (instead of the binary page)?';
export const PROMPT_ACTIONS = { make: 'Make default', later: 'Not now', never: 'Never' } as const;

type Assoc = Record<string, string>;

/** The associations with ours added (on) or removed (off); undefined when nothing changes. */
export function withAssociations(current: Assoc | undefined, on: boolean): Assoc | undefined {
  const next: Assoc = { ...(current ?? {}) };
  let changed = false;
  for (const p of TENSOR_PATTERNS) {
    if (on && next[p] !== VIEWER_VIEW_TYPE) {
      next[p] = VIEWER_VIEW_TYPE;
      changed = true;
    } else if (!on && next[p] === VIEWER_VIEW_TYPE) {
      delete next[p];
      changed = true;
    }
  }
  return changed ? next : undefined;
}

export class DefaultEditor implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private promptedThisWindow = false;
  /** The last prompt's answer (tests). */
  lastAnswer: string | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`cornernet.${DEFAULT_SETTING}`)) void this.sync(true);
      }),
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const t of [...e.opened, ...e.changed]) this.maybePrompt(t);
      }),
    );
    // A user who turned it on and whose associations went missing gets them back; an off setting
    // leaves the associations alone (they may be the user's own).
    if (this.enabled) void this.sync(false);
    for (const g of vscode.window.tabGroups.all) for (const t of g.tabs) this.maybePrompt(t);
  }

  get enabled(): boolean {
    return vscode.workspace.getConfiguration('cornernet').get<boolean>(DEFAULT_SETTING, false) === true;
  }

  /** Writes the associations for the setting's value (removes ours when off and `removeWhenOff`). */
  async sync(removeWhenOff: boolean): Promise<void> {
    const on = this.enabled;
    if (!on && !removeWhenOff) return;
    const setting = vscode.workspace.getConfiguration('cornernet').inspect<boolean>(DEFAULT_SETTING);
    const wb = vscode.workspace.getConfiguration('workbench');
    const assoc = wb.inspect<Assoc>('editorAssociations');
    const targets: [vscode.ConfigurationTarget, Assoc | undefined][] = on
      ? [setting?.workspaceValue !== undefined && vscode.workspace.workspaceFolders ? [vscode.ConfigurationTarget.Workspace, assoc?.workspaceValue] : [vscode.ConfigurationTarget.Global, assoc?.globalValue]]
      : [
          [vscode.ConfigurationTarget.Global, assoc?.globalValue],
          ...(vscode.workspace.workspaceFolders ? [[vscode.ConfigurationTarget.Workspace, assoc?.workspaceValue] as [vscode.ConfigurationTarget, Assoc | undefined]] : []),
        ];
    for (const [target, current] of targets) {
      const next = withAssociations(current, on);
      if (next) await wb.update('editorAssociations', Object.keys(next).length ? next : undefined, target);
    }
  }

  private maybePrompt(tab: vscode.Tab): void {
    const input = tab.input;
    const uri =
      input instanceof vscode.TabInputText ? input.uri : input instanceof vscode.TabInputCustom && input.viewType === VIEWER_VIEW_TYPE ? input.uri : undefined;
    if (!uri || !isTensorFileName(uri.path)) return;
    if (this.promptedThisWindow || this.enabled || this.context.globalState.get(PROMPT_STATE_KEY) !== undefined) return;
    this.promptedThisWindow = true;
    void this.prompt();
  }

  private async prompt(): Promise<void> {
    const answer = await vscode.window.showInformationMessage(PROMPT_MESSAGE, PROMPT_ACTIONS.make, PROMPT_ACTIONS.later, PROMPT_ACTIONS.never);
    this.lastAnswer = answer;
    if (answer === undefined) return;
    await this.context.globalState.update(PROMPT_STATE_KEY, { answer, at: Date.now() });
    if (answer === PROMPT_ACTIONS.make) await vscode.workspace.getConfiguration('cornernet').update(DEFAULT_SETTING, true, vscode.ConfigurationTarget.Global);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
