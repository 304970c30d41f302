import * as os from 'node:os';
import * as vscode from 'vscode';
import { parseConventionName, type ConventionName } from './cornernet/model/conventions';
import type { Colormap } from './protocol/panel';
import type { ReadLimits } from './tensor/limits';
import { pythonDebugTypesFrom } from './ids';
import { COCO80, MAX_CLASS_NAMES, MAX_CLASS_NAME_LENGTH, type ClassNames } from './cornernet/model/classNames';

/**
 * Loss weights the user set (in any scope). Unset ones are left out, so that a folder's
 * cornernet.json, then CornerNet's 0.1 / 0.1 / 1, apply.
 */
export function lossWeights(): Record<string, number> {
  const c = vscode.workspace.getConfiguration('cornernet.loss');
  const out: Record<string, number> = {};
  // Any convention's weights by name (det, off, hm, wh, heatmap, offset...); names the batch's
  // convention does not have are left out rather than refused (the setting spans conventions).
  const i = c.inspect<Record<string, unknown>>('weights');
  const all = { ...(i?.globalValue ?? {}), ...(i?.workspaceValue ?? {}), ...(i?.workspaceFolderValue ?? {}) };
  for (const [k, v] of Object.entries(all)) if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && /^[a-z_]+$/.test(k)) out[k] = v;
  for (const [key, name] of [['pull', 'pullWeight'], ['push', 'pushWeight'], ['regr', 'regrWeight']] as const) {
    const i = c.inspect<number>(name);
    const v = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

/** `cornernet.convention`: a convention to use when a folder's manifest names none; `auto`: detect. */
export function convention(): ConventionName | undefined {
  const v = vscode.workspace.getConfiguration('cornernet').get<string>('convention', 'auto');
  return v === 'auto' ? undefined : parseConventionName(v);
}

/**
 * `cornernet.classNames`: `coco80`, or a list of names by class index; `none` (the default):
 * only the data's own names (a cornernet.json's "classes", a classes.txt).
 */
export function classNames(): ClassNames | undefined {
  const v = vscode.workspace.getConfiguration('cornernet').get<unknown>('classNames', 'none');
  if (typeof v === 'string' && v.toLowerCase() === 'coco80') return { names: [...COCO80], from: 'setting cornernet.classNames (coco80)' };
  if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'string')) {
    return { names: v.slice(0, MAX_CLASS_NAMES).map((x: string) => x.slice(0, MAX_CLASS_NAME_LENGTH)), from: 'setting cornernet.classNames' };
  }
  return undefined;
}

export function maxFileBytes(): number {
  return vscode.workspace.getConfiguration('cornernet').get('maxFileSizeMB', 512) * 1024 * 1024;
}

export function colormap(): Colormap {
  const v = vscode.workspace.getConfiguration('cornernet').get<string>('colormap', 'viridis');
  return v === 'magma' || v === 'gray' ? v : 'viridis';
}

/**
 * Threads for the loss: the setting, or by default one less than the machine's cores, so that
 * the extension host and the window keep a core while a large batch is computed.
 */
export function lossThreads(): number {
  const v = vscode.workspace.getConfiguration('cornernet').get<number>('threads', 0);
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores - 1);
}

/** How arrays leave a notebook kernel: 'auto' (files when the kernel sees this machine's temp folder, else base64). */
export function notebookTransfer(): 'auto' | 'file' | 'base64' {
  const v = vscode.workspace.getConfiguration('cornernet.notebook').get<string>('transfer', 'auto');
  return v === 'file' || v === 'base64' ? v : 'auto';
}

export function notebookMaxTransferBytes(): number {
  const v = vscode.workspace.getConfiguration('cornernet.notebook').get<number>('maxTransferMB', 4096);
  return (typeof v === 'number' && v > 0 ? v : 4096) * 1024 * 1024;
}

/**
 * Reader limits for everything the extension reads. Archive limits come from the settings (a user
 * with a legitimately huge .npz raises them); arrays may be far larger than cornernet.maxFileSizeMB,
 * which only asks before reading.
 */
export function readLimits(): Partial<ReadLimits> {
  const c = vscode.workspace.getConfiguration('cornernet.archive');
  const members = c.get<number>('maxMembers', 10000);
  const gb = c.get<number>('maxUncompressedGB', 16);
  return {
    maxArrayBytes: Math.max(maxFileBytes() * 64, 8 * 1024 ** 3),
    ...(Number.isInteger(members) && members > 0 ? { maxMembers: members } : {}),
    ...(typeof gb === 'number' && gb > 0 ? { maxTotalUncompressedBytes: gb * 1024 ** 3 } : {}),
  };
}

/** Debug types treated as Python (debugpy) sessions. */
export function pythonDebugTypes(): string[] {
  return pythonDebugTypesFrom(vscode.workspace.getConfiguration('cornernet.debug').get<unknown>('pythonTypes'));
}

/** Compute again by itself when the session of the shown result stops at a breakpoint again. */
export function debugRecomputeOnStop(): boolean {
  return vscode.workspace.getConfiguration('cornernet.debug').get<boolean>('recomputeOnStop', false) === true;
}
