/**
 * The loss timeline panel's messages (a run folder's batches over steps), both directions,
 * validated on arrival. The per-step numbers are a few hundred per batch: plain JSON.
 */
import type { ConventionName } from '../cornernet/model/conventions';

export type Num = number | null;

/** One step as the chart and the table show it. */
export interface TimelineBatchView {
  /** Folder name, or the files of one step. */
  label: string;
  step: number | null;
  status: 'ok' | 'error' | 'waiting';
  /** ok: the numbers. */
  convention?: ConventionName;
  total?: Num;
  terms?: Record<string, Num>;
  perStack?: Num[];
  perImage?: Num[];
  perClass?: Num[];
  nonFinite?: boolean;
  warnings?: string[];
  /** error: the message; waiting: why it is not read yet. */
  message?: string;
}

export interface TimelineState {
  folder: string;
  batches: TimelineBatchView[];
  /** The watcher is on: new steps appear as they are written. */
  watching: boolean;
  /** A scan is under way (done of count batches). */
  scanning?: { done: number; count: number };
  /** The folder itself could not be listed. */
  error?: string;
}

export type SeriesView = 'terms' | 'stacks' | 'classes' | 'images';
export const SERIES_VIEWS: readonly SeriesView[] = ['terms', 'stacks', 'classes', 'images'];

export type ToTimeline = { type: 'state'; state: TimelineState };

/** What the webview drew, for tests: series names, marked steps, and where each step is on the plot. */
export interface TimelineRendered {
  view: SeriesView;
  series: string[];
  steps: number;
  spikes: number[];
  firstNonFinite: number | null;
  errors: number;
  waiting: number;
}

export type FromTimeline =
  | { type: 'ready' }
  /** Open the batch at this index of `batches` in the results panel. */
  | { type: 'open'; index: number }
  | { type: 'rendered'; rendered: TimelineRendered };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1e7;
const numList = (v: unknown) => Array.isArray(v) && v.length <= 1e5 && v.every((x) => typeof x === 'number');

export function parseFromTimeline(v: unknown): FromTimeline | undefined {
  if (!isObj(v) || typeof v.type !== 'string') return undefined;
  switch (v.type) {
    case 'ready':
      return { type: 'ready' };
    case 'open':
      return isIndex(v.index) ? { type: 'open', index: v.index } : undefined;
    case 'rendered': {
      const r = v.rendered;
      if (!isObj(r) || !SERIES_VIEWS.includes(r.view as SeriesView) || !Array.isArray(r.series) || !r.series.every((s) => typeof s === 'string')) return undefined;
      if (!isIndex(r.steps) || !numList(r.spikes) || !(r.firstNonFinite === null || typeof r.firstNonFinite === 'number') || !isIndex(r.errors) || !isIndex(r.waiting)) return undefined;
      return { type: 'rendered', rendered: r as unknown as TimelineRendered };
    }
    default:
      return undefined;
  }
}

export function parseToTimeline(v: unknown): ToTimeline | undefined {
  if (!isObj(v) || v.type !== 'state' || !isObj(v.state)) return undefined;
  const s = v.state;
  if (typeof s.folder !== 'string' || !Array.isArray(s.batches) || typeof s.watching !== 'boolean') return undefined;
  const ok = s.batches.every((b) => isObj(b) && typeof b.label === 'string' && (b.step === null || typeof b.step === 'number') && ['ok', 'error', 'waiting'].includes(b.status as string));
  return ok ? (v as unknown as ToTimeline) : undefined;
}
