import * as vscode from 'vscode';
import type { LossWeights } from './cornernet/report';
import type { Colormap } from './protocol/panel';

/** The extension's settings, read fresh each time (they may change at any moment). */
export function lossWeights(): LossWeights {
  const c = vscode.workspace.getConfiguration('cornernet.loss');
  return { pull: c.get('pullWeight', 0.1), push: c.get('pushWeight', 0.1), regr: c.get('regrWeight', 1) };
}

export function maxFileBytes(): number {
  return vscode.workspace.getConfiguration('cornernet').get('maxFileSizeMB', 512) * 1024 * 1024;
}

export function colormap(): Colormap {
  const v = vscode.workspace.getConfiguration('cornernet').get<string>('colormap', 'viridis');
  return v === 'magma' || v === 'gray' ? v : 'viridis';
}
