/** The side view's messages (the "CornerNet" activity bar view), both directions, validated. */

export { SIDEBAR_VIEW_ID } from '../ids';

export interface SidebarRun {
  id: number;
  label: string;
  time: string;
  total: number | null;
  warnings: number;
}

export interface SidebarTensor {
  role: string;
  file: string;
  /** Workspace-relative, for display. */
  label: string;
  key?: string;
  /** From a notebook kernel: the variable (`outs[3]`); nothing to open in the tensor viewer. */
  variable?: string;
  shape: number[];
  dtype: string;
  form?: string;
  purpose: string;
  nonFinite: number | null;
}

export interface SidebarState {
  latest?: {
    runId: number;
    label: string;
    total: number | null;
    /** The convention's label (CornerNet, mmdetection CornerHead, CenterNet...). */
    convention: string;
    /** Terms that add up to the total, by the convention's names. */
    terms: [string, number | null][];
    warnings: { code: string; message: string }[];
  };
  runs: SidebarRun[];
  /** The run shown in the results panel: its tensors are listed. */
  currentRunId?: number;
  tensors: SidebarTensor[];
}

export type ToSidebar = { type: 'state'; state: SidebarState };

export type FromSidebar =
  | { type: 'ready' }
  | { type: 'compute' }
  | { type: 'openRun'; id: number }
  | { type: 'openTensor'; file: string; key?: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseFromSidebar(v: unknown): FromSidebar | undefined {
  if (!isObj(v) || typeof v.type !== 'string') return undefined;
  switch (v.type) {
    case 'ready':
    case 'compute':
      return { type: v.type };
    case 'openRun':
      return typeof v.id === 'number' && Number.isInteger(v.id) && v.id >= 0 ? { type: 'openRun', id: v.id } : undefined;
    case 'openTensor':
      return typeof v.file === 'string' && v.file.length <= 4096 && (v.key === undefined || (typeof v.key === 'string' && v.key.length <= 4096))
        ? { type: 'openTensor', file: v.file, ...(v.key !== undefined ? { key: v.key as string } : {}) }
        : undefined;
    default:
      return undefined;
  }
}

export function parseToSidebar(v: unknown): ToSidebar | undefined {
  return isObj(v) && v.type === 'state' && isObj(v.state) && Array.isArray(v.state.runs) && Array.isArray(v.state.tensors) ? (v as unknown as ToSidebar) : undefined;
}
