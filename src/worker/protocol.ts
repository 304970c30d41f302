/**
 * Messages between the extension host and its loss worker (worker_threads). The worker keeps the
 * tensors of one computation and answers slice requests, so the host's main thread never touches
 * large arrays.
 */
import type { InputSpec } from '../cornernet/inputs/discover';
import type { LossReport } from '../cornernet/model/report';
import type { Ablation } from '../cornernet/model/ablation';
import type { ClassNames } from '../cornernet/model/classNames';
import type { ConventionName } from '../cornernet/model/conventions';
import type { RoleProblem } from '../cornernet/model/arrays';
import type { Corner } from '../cornernet/model/roles';
import type { HeatSlice, QuantizedThumbnails } from '../cornernet/views/slices';
import type { DecodeOptions } from '../cornernet/views/decode';
import type { DecodeView } from '../cornernet/views/matching';
import type { ReadLimits } from '../tensor/limits';
import type { TensorStats } from '../tensor/stats';
import type { TensorHeader } from '../tensor/tensor';

export interface ComputeOptions {
  /** By the convention's names (or aliases); checked once the convention is known. */
  weights?: Record<string, number>;
  /** Weights from the editor's settings: over a manifest's; names of other conventions ignored. */
  settingWeights?: Record<string, number>;
  /** Forced convention (the panel's switcher); else the manifest's, the setting's or detection. */
  convention?: ConventionName;
  /** The logit heatmap holds probabilities: undo the sigmoid before the loss. */
  heatIsProbability?: boolean;
  /** The diagnosis now (true), never (false) or on a later `diagnose` request ('later'). */
  findings?: boolean | 'later';
  /** The cornernet.classNames setting (below the data's own names). */
  settingClassNames?: ClassNames;
  /** The cornernet.convention setting when it is not `auto`. */
  settingConvention?: ConventionName;
  /** Threads for the focal loss (1 = this worker alone). */
  threads?: number;
  limits?: Partial<ReadLimits>;
  topPixels?: number;
  /**
   * false: read the heatmaps whole and keep them (files that go away after the computation, e.g.
   * arrays pulled from a notebook kernel). Default: streamed, then read one image at a time.
   */
  stream?: boolean;
}

export type WorkerRequest =
  | { type: 'compute'; id: number; spec: InputSpec; options: ComputeOptions }
  /** A worker started ahead of need: run the path once on a tiny batch (JIT warm-up). */
  | { type: 'warm'; id: number }
  /** Leave: the thread ends by itself (no terminate() on the caller's thread). */
  | { type: 'exit'; id: number }
  | { type: 'slice'; id: number; corner: Corner; stack: number; image: number; class: number; topK: number }
  | { type: 'thumbnails'; id: number; stack: number; image: number; maxSide: number }
  | { type: 'decode'; id: number; stack: number; image: number; options: DecodeOptions; minScore: number }
  | { type: 'tagMaps'; id: number; stack: number; image: number }
  /** The last computed batch under the other conventions of its kind (`--compare-conventions`). */
  | { type: 'compare'; id: number }
  /** The diagnosis of the last computation (computed with findings: 'later'). */
  | { type: 'diagnose'; id: number }
  /** The ground-truth ablation of the last computation (which head limits detection). */
  | { type: 'ablation'; id: number }
  /** Headers and statistics of every array of a file (hovers, badges, diagnostics). */
  | { type: 'fileStats'; id: number; path: string; limits?: Partial<ReadLimits> }
  /** Loads one array of a file and keeps it for `plane` requests (tensor viewer). */
  | { type: 'openTensor'; id: number; path: string; key?: string; limits?: Partial<ReadLimits> }
  | { type: 'plane'; id: number; rowAxis: number; colAxis: number; index: number[]; bins: number; clip?: [number, number]; maxAxis?: number; sigmoid?: boolean }
  /** The next plane of the open array holding a value above `threshold` (tensor viewer). */
  | { type: 'nextPlane'; id: number; rowAxis: number; colAxis: number; index: number[]; maxAxis?: number; sigmoid?: boolean; threshold: number; direction: 1 | -1 };

export interface ArrayStats {
  key?: string;
  header: TensorHeader;
  stats: TensorStats;
}

export type ErrorKind = 'input' | 'read' | 'roles' | 'internal';

export interface SerializedError {
  kind: ErrorKind;
  message: string;
  /** File or role the problem is about. */
  subject?: string;
  problems?: RoleProblem[];
  stack?: string;
}

export type WorkerResponse =
  | { type: 'progress'; id: number; fraction: number; stage: string }
  | { type: 'report'; id: number; report: LossReport }
  | { type: 'warm'; id: number; ok: boolean; ms: number }
  | { type: 'slice'; id: number; slice: HeatSlice }
  | { type: 'thumbnails'; id: number; thumbnails: QuantizedThumbnails }
  | { type: 'decode'; id: number; view: DecodeView; background: Float32Array }
  | { type: 'tagMaps'; id: number; width: number; height: number; tl: Float32Array; br: Float32Array }
  | { type: 'compared'; id: number; conventions: NonNullable<LossReport['conventions']>; gaps: NonNullable<LossReport['gaps']> }
  | { type: 'ablation'; id: number; ablation: Ablation; ms: number }
  | { type: 'diagnosis'; id: number; findings: NonNullable<LossReport['findings']>; gradients: NonNullable<LossReport['gradients']>; diagnoseMs: number }
  | { type: 'fileStats'; id: number; arrays: ArrayStats[] }
  | { type: 'tensor'; id: number; array: ArrayStats }
  | { type: 'plane'; id: number; rows: number; cols: number; data: Float32Array; histogram: Uint32Array; lo: number; hi: number }
  | { type: 'nextPlane'; id: number; found?: { index: number[]; max: number; wrapped: boolean; visited: number } }
  | { type: 'error'; id: number; error: SerializedError };
