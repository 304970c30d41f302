import * as vscode from 'vscode';
import type { LossWeights } from './cornernet/report';
import type { Colormap } from './protocol/panel';

/**
 * Loss weights the user set (in any scope). Unset ones are left out, so that a folder's
 * cornernet.json, then CornerNet's 0.1 / 0.1 / 1, apply.
 */
export function lossWeights(): Partial<LossWeights> {
  const c = vscode.workspace.getConfiguration('cornernet.loss');
  const out: Partial<LossWeights> = {};
  for (const [key, name] of [['pull', 'pullWeight'], ['push', 'pushWeight'], ['regr', 'regrWeight']] as const) {
    const i = c.inspect<number>(name);
    const v = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

export function maxFileBytes(): number {
  return vscode.workspace.getConfiguration('cornernet').get('maxFileSizeMB', 512) * 1024 * 1024;
}

export function colormap(): Colormap {
  const v = vscode.workspace.getConfiguration('cornernet').get<string>('colormap', 'viridis');
  return v === 'magma' || v === 'gray' ? v : 'viridis';
}
