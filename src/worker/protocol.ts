/**
 * Messages between the extension host and its loss worker (worker_threads). The worker keeps the
 * tensors of one computation and answers slice requests, so the host's main thread never touches
 * large arrays.
 */
import type { InputSpec } from '../cornernet/inputs';
import type { LossReport, LossWeights } from '../cornernet/report';
import type { RoleProblem } from '../cornernet/resolve';
import type { Corner } from '../cornernet/roles';
import type { HeatSlice, Thumbnails } from '../cornernet/slices';
import type { ReadLimits } from '../tensor/limits';

export interface ComputeOptions {
  weights?: Partial<LossWeights>;
  limits?: Partial<ReadLimits>;
  topPixels?: number;
}

export type WorkerRequest =
  | { type: 'compute'; id: number; spec: InputSpec; options: ComputeOptions }
  | { type: 'slice'; id: number; corner: Corner; stack: number; image: number; class: number; topK: number }
  | { type: 'thumbnails'; id: number; stack: number; image: number; maxSide: number };

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
  | { type: 'slice'; id: number; slice: HeatSlice }
  | { type: 'thumbnails'; id: number; thumbnails: Thumbnails }
  | { type: 'error'; id: number; error: SerializedError };
