/**
 * Arrays and the roles they play, as plain data: what discovery finds, what role resolution
 * settles, and the batch's sizes. No I/O and no logic beyond labels.
 */
import type { TensorFormat, TensorHeader } from '../../tensor/tensor';
import type { Role } from './roles';

/** One array in one file: the unit roles are assigned to. */
export interface ArrayRef {
  /** The file, as the user named it (or joined to the folder they named). */
  file: string;
  /** npz member key or safetensors tensor name; absent for .npy. */
  key?: string;
  format: TensorFormat;
  header: TensorHeader;
}

export function refLabel(ref: Pick<ArrayRef, 'file' | 'key'>): string {
  return ref.key === undefined ? ref.file : `${ref.file}:${ref.key}`;
}

export function sameRef(a: Pick<ArrayRef, 'file' | 'key'>, b: Pick<ArrayRef, 'file' | 'key'>): boolean {
  return a.file === b.file && a.key === b.key;
}

/** How a candidate came to claim its role. */
export type Origin = 'name' | 'position' | 'manifest' | 'override';

export interface Candidate {
  ref: ArrayRef;
  role: Role;
  /** Set when the array holds one stack only (`tl_heat_1`, or `arr_7` in a 12-array AELoss npz). */
  stack?: number;
  origin: Origin;
  note?: string;
}

export type Form = 'map' | 'gathered';

/** A role filled by an array, as the loss will use it. */
export interface RoleUse {
  role: Role;
  ref: ArrayRef;
  /** Stacks (0-based) this array provides, in order. */
  stacks: number[];
  /** True when the array has a leading stack axis. */
  stackAxis: boolean;
  /** Tags and offsets: a dense map or values gathered at the indices. */
  form?: Form;
  /** 'loss': feeds the loss. 'check': a map present besides gathered values, compared with them. */
  purpose: 'loss' | 'check';
  origin: Origin;
  note?: string;
}

export interface Dims {
  /** Stacks. */
  S: number;
  B: number;
  C: number;
  H: number;
  W: number;
  /** Object slots. */
  K: number;
}

export type RoleProblemKind = 'missing' | 'ambiguous' | 'inconsistent';

export interface RoleProblem {
  kind: RoleProblemKind;
  role: Role;
  /** For `error: <subject>: <message>`: the role and the files involved. */
  subject: string;
  message: string;
  /** Arrays the user could pick for this role (QuickPick), best first. */
  candidates: ArrayRef[];
}

/**
 * A mask the user chose not to read from a file (no gt_mask saved): 'all' = every slot holds an
 * object, 'from-indices' = a slot holds one where tl_ind or br_ind is non-zero (CornerNet's
 * sampler leaves the index arrays zero past the last object).
 */
export type MaskSynthesis = 'all' | 'from-indices';
export const MASK_SYNTHESES: readonly MaskSynthesis[] = ['all', 'from-indices'];

export function parseMaskSynthesis(v: unknown): MaskSynthesis | undefined {
  return (MASK_SYNTHESES as readonly unknown[]).includes(v) ? (v as MaskSynthesis) : undefined;
}

export interface Resolution {
  dims: Dims | undefined;
  /** gt_mask is synthesized, not read (no use of gt_mask then). */
  syntheticMask?: MaskSynthesis;
  uses: RoleUse[];
  /** Arrays found but not used, with the reason. */
  unused: { ref: ArrayRef; reason: string }[];
  problems: RoleProblem[];
}

/** A role fixed by the user (manifest or `--role`), replacing inference for that role. */
export interface RoleOverride {
  role: Role;
  stack?: number;
  ref: ArrayRef;
  origin: 'manifest' | 'override';
}

