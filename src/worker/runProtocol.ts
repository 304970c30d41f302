/**
 * Messages between the extension host and its run worker (dist/runWorker.js): the timeline of a
 * run folder (scanned again whenever its files change) and an A/B comparison, whose two batches
 * the worker keeps to serve planes. Separate from the loss worker, whose one batch serves the
 * results panel.
 */
import type { AbPlane } from '../cornernet/abCompare';
import type { AbDiff } from '../cornernet/model/abDiff';
import type { RunFailure, TimelinePoint } from '../cornernet/timeline';
import type { LossReport } from '../cornernet/model/report';
import type { ComputeOptions } from './protocol';
import type { Corner } from '../cornernet/model/roles';

/** A batch of a scanned run: computed, failed, or still being written (not read yet). */
export type ScannedBatch = { input: string; paths: string[]; step: number | null } & (
  | { status: 'ok'; point: TimelinePoint }
  | { status: 'error'; failure: RunFailure }
  | { status: 'waiting'; reason: string }
);

export type RunRequest =
  /**
   * The batches of a run folder, in step order: a batch whose files changed less than `settleMs`
   * ago is `waiting`; one that fails while its files are younger than `graceMs` too (a writer that
   * pauses between files); the others computed (only those whose files changed since the last scan).
   */
  | { type: 'scan'; id: number; folder: string; options: ComputeOptions; settleMs: number; graceMs: number }
  | { type: 'abOpen'; id: number; a: string; b: string; options: ComputeOptions }
  | { type: 'abPlane'; id: number; corner: Corner; stack: number; image: number; class: number }
  | { type: 'exit'; id: number };

export type RunResponse =
  | { type: 'batch'; id: number; batch: ScannedBatch; index: number; count: number }
  | { type: 'scanned'; id: number; batches: ScannedBatch[] }
  | { type: 'ab'; id: number; a: LossReport; b: LossReport; diff: AbDiff }
  | { type: 'abPlane'; id: number; plane: AbPlane }
  | { type: 'error'; id: number; failure: RunFailure };
