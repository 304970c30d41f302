/**
 * What the inspection snippet found in the kernel, validated (it is data from another process),
 * and the choices offered from it: `outs` + `targets` as passed to CornerNet's `AELoss(outs,
 * targets)`, or a variable per role. A choice becomes a transfer plan whose roles are checked with
 * the core's resolver on the reported shapes before a byte is sent.
 */
import type { DType } from '../tensor/dtype';
import type { TensorHeader } from '../tensor/tensor';
import { formatShape } from '../tensor/tensor';
import { resolveRoles } from '../cornernet/inputs/resolve';
import { type ArrayRef, type Candidate, type RoleProblem } from '../cornernet/model/arrays';
import { conventionOfRoleNames, denseRoleOf, resolveDenseRoles, sideOfName } from '../cornernet/inputs/conventionRoles';
import { OUTPUT_ROLES, TARGET_ROLES, parseRoleName, type Role } from '../cornernet/model/roles';
import { KernelError } from './kernel';
import { INSPECT_LIMITS, pathLabel, type ExportItem, type VariablePath } from './snippets';

export interface TensorDesc {
  kind: 'ndarray' | 'tensor';
  shape: number[];
  dtype: string;
  bytes: number;
  device?: string;
  grad?: boolean;
}
export interface ListDesc {
  kind: 'list' | 'tuple';
  length: number;
  items: ValueDesc[];
}
export interface DictDesc {
  kind: 'dict';
  length: number;
  keys: string[];
  items: ValueDesc[];
}
export interface OtherDesc {
  kind: 'other';
  type: string;
}
export type ValueDesc = TensorDesc | ListDesc | DictDesc | OtherDesc;

export interface KernelVariable {
  name: string;
  value: ValueDesc;
}

export interface Inspection {
  python: string;
  numpy: string | null;
  torch: string | null;
  variables: KernelVariable[];
  /** Other variables (name and type), to say why a name the user expected is not offered. */
  others: { name: string; type: string }[];
}

// The snippet opens two levels of lists (CornerNet-Lite's lists of stacks): deeper is not its reply.
const LIMIT = { depth: 2, items: 1000, dims: 32, name: INSPECT_LIMITS.nameLength };

function fail(what: string): never {
  throw new KernelError('protocol', `the kernel's inspection reply is malformed: ${what}`);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > LIMIT.name) fail(what);
  return v;
}

function count(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(what);
  return v;
}

function parseValue(v: unknown, depth: number): ValueDesc {
  if (depth > LIMIT.depth || typeof v !== 'object' || v === null) fail('a value description');
  const o = v as Record<string, unknown>;
  switch (o.kind) {
    case 'ndarray':
    case 'tensor': {
      if (!Array.isArray(o.shape) || o.shape.length > LIMIT.dims) fail('a shape');
      const d: TensorDesc = {
        kind: o.kind,
        shape: o.shape.map((x) => count(x, 'a dimension')),
        dtype: str(o.dtype, 'a dtype'),
        bytes: count(o.bytes, 'a size'),
      };
      if (o.device !== undefined) d.device = str(o.device, 'a device');
      if (o.grad !== undefined) d.grad = o.grad === true;
      return d;
    }
    case 'list':
    case 'tuple': {
      if (!Array.isArray(o.items) || o.items.length > LIMIT.items) fail('list items');
      return { kind: o.kind, length: count(o.length, 'a length'), items: o.items.map((x) => parseValue(x, depth + 1)) };
    }
    case 'dict': {
      if (!Array.isArray(o.items) || !Array.isArray(o.keys) || o.items.length !== o.keys.length || o.items.length > LIMIT.items) fail('dict items');
      return {
        kind: 'dict',
        length: count(o.length, 'a length'),
        keys: o.keys.map((k) => str(k, 'a key')),
        items: o.items.map((x) => parseValue(x, depth + 1)),
      };
    }
    case 'other':
      return { kind: 'other', type: str(o.type, 'a type name') };
    default:
      fail(`kind ${JSON.stringify(o.kind)}`);
  }
}

export function parseInspection(v: unknown): Inspection {
  if (typeof v !== 'object' || v === null) fail('not an object');
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.variables) || o.variables.length > LIMIT.items) fail('variables');
  const others = Array.isArray(o.others) ? o.others.slice(0, LIMIT.items) : [];
  return {
    python: typeof o.python === 'string' ? o.python : '?',
    numpy: typeof o.numpy === 'string' ? o.numpy : null,
    torch: typeof o.torch === 'string' ? o.torch : null,
    variables: o.variables.map((x) => {
      const r = x as Record<string, unknown>;
      return { name: str(r?.name, 'a variable name'), value: parseValue(x, 0) };
    }),
    others: others.map((x) => ({ name: str((x as { name?: unknown })?.name, 'a name'), type: str((x as { type?: unknown })?.type, 'a type') })),
  };
}

/** dtypes the core reads; bfloat16 arrives as float32. */
const SENDABLE = new Set<string>(['float16', 'bfloat16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool']);

export function isTensor(d: ValueDesc | undefined): d is TensorDesc {
  return d !== undefined && (d.kind === 'ndarray' || d.kind === 'tensor');
}

export function isSendable(d: TensorDesc): boolean {
  return SENDABLE.has(d.dtype);
}

/** `(2, 80, 128, 128) float32 · torch cuda:0, grad` */
export function describeTensor(d: TensorDesc): string {
  const where = d.kind === 'tensor' ? ` · torch ${d.device ?? ''}${d.grad ? ', grad' : ''}` : '';
  return `${formatShape(d.shape)} ${d.dtype}${where}`;
}

/** Every tensor in the namespace with the path to it (lists, tuples and dicts opened). */
export function tensorLeaves(ins: Inspection): { path: VariablePath; desc: TensorDesc }[] {
  const out: { path: VariablePath; desc: TensorDesc }[] = [];
  const walk = (path: VariablePath, d: ValueDesc) => {
    if (isTensor(d)) out.push({ path, desc: d });
    else if (d.kind === 'list' || d.kind === 'tuple') d.items.forEach((x, i) => walk([...path, i], x));
    else if (d.kind === 'dict') d.items.forEach((x, i) => walk([...path, d.keys[i]!], x));
  };
  for (const v of ins.variables) walk([v.name], v.value);
  return out;
}

/** One array to send, the role (with stack) it fills and how the user knows it. */
export interface PlannedArray extends ExportItem {
  /** A CornerNet role, or a role of mmdetection's or CenterNet's layouts (`hm`, `topleft_heatmap`). */
  role: string;
  stackIndex?: number;
  label: string;
  desc: TensorDesc;
}

export interface TransferPlan {
  /** What the QuickPick showed: `outs + targets (AELoss)`, `variables per role`. */
  title: string;
  arrays: PlannedArray[];
}

/** The role name as the core parses it: `tl_heat_1` for stack 1 of one stack per array. */
export function roleName(a: Pick<PlannedArray, 'role' | 'stackIndex'>): string {
  return a.stackIndex === undefined ? a.role : `${a.role}_${a.stackIndex}`;
}

function listOfTensors(d: ValueDesc): d is ListDesc {
  return (d.kind === 'list' || d.kind === 'tuple') && d.length === d.items.length && d.length > 0 && d.items.every(isTensor);
}

/** CornerNet's flat `outs` (6 per stack) or CornerNet-Lite's six lists of stacks; undefined otherwise. */
export function outsLayout(d: ValueDesc): { kind: 'flat' | 'lite'; stacks: number; heat: TensorDesc } | undefined {
  if (listOfTensors(d) && d.length % 6 === 0) return { kind: 'flat', stacks: d.length / 6, heat: d.items[0] as TensorDesc };
  if ((d.kind === 'list' || d.kind === 'tuple') && d.length === 6 && d.items.length === 6 && d.items.every(listOfTensors)) {
    const lists = d.items as ListDesc[];
    const S = lists[0]!.length;
    if (lists.every((l) => l.length === S)) return { kind: 'lite', stacks: S, heat: lists[0]!.items[0] as TensorDesc };
  }
  return undefined;
}

/** `targets`: 5 arrays (CornerNet) or 7 (CornerNet-Lite, with the index arrays). */
export function targetsLayout(d: ValueDesc): { count: 5 | 7; heat: TensorDesc } | undefined {
  if (listOfTensors(d) && (d.length === 5 || d.length === 7)) return { count: d.length as 5 | 7, heat: d.items[0] as TensorDesc };
  return undefined;
}

/** The arrays of `AELoss(outs, targets)` with their roles, as AELoss.forward indexes them. */
export function planOutsTargets(outs: KernelVariable, targets: KernelVariable): TransferPlan {
  const o = outsLayout(outs.value);
  const t = targetsLayout(targets.value);
  if (!o) throw new KernelError('not-array', `${outs.name} is not a list of 6 arrays per stack, nor six lists of stacks (CornerNet-Lite)`, outs.name);
  if (!t) throw new KernelError('not-array', `${targets.name} is not a list of 5 arrays (or 7, with CornerNet-Lite's indices)`, targets.name);
  const arrays: PlannedArray[] = [];
  const add = (path: VariablePath, desc: TensorDesc, role: Role, stackIndex?: number) =>
    arrays.push({ id: arrays.length, path, role, ...(stackIndex !== undefined ? { stackIndex } : {}), label: pathLabel(path), desc });
  const ov = outs.value as ListDesc;
  if (o.kind === 'flat') {
    ov.items.forEach((d, i) => add([outs.name, i], d as TensorDesc, OUTPUT_ROLES[i % 6]!, Math.floor(i / 6)));
  } else {
    (ov.items as ListDesc[]).forEach((list, j) => list.items.forEach((d, k) => add([outs.name, j, k], d as TensorDesc, OUTPUT_ROLES[j]!, k)));
  }
  (targets.value as ListDesc).items.forEach((d, i) => add([targets.name, i], d as TensorDesc, TARGET_ROLES[i]!));
  return { title: `${outs.name} + ${targets.name} (AELoss)`, arrays };
}

export interface PairChoice {
  outs: KernelVariable;
  targets: KernelVariable;
  /** Heatmap shapes agree (outs[0] and targets[0]). */
  consistent: boolean;
}

/** `outs`/`targets` pairs worth offering, best first: agreeing heatmap shapes, then the usual names. */
export function pairChoices(ins: Inspection): PairChoice[] {
  const outsLike = ins.variables.filter((v) => outsLayout(v.value));
  const targetsLike = ins.variables.filter((v) => targetsLayout(v.value));
  const pairs: PairChoice[] = [];
  for (const o of outsLike) {
    for (const t of targetsLike) {
      if (o === t) continue;
      const a = outsLayout(o.value)!.heat.shape;
      const b = targetsLayout(t.value)!.heat.shape;
      const consistent = a.length === b.length && a.every((x, i) => x === b[i]);
      const named = /outs?$/i.test(o.name) && /targets?$/i.test(t.name);
      if (consistent || named) pairs.push({ outs: o, targets: t, consistent });
    }
  }
  const score = (p: PairChoice) => (p.consistent ? 2 : 0) + (p.outs.name === 'outs' && p.targets.name === 'targets' ? 1 : 0);
  return pairs.sort((x, y) => score(y) - score(x));
}

/**
 * The role a value would take from its name, as the core names files: `tl_heat`, `gt_mask`,
 * `tl_heat_1`; a list named for a role (`tl_heats`) holds one stack per element.
 */
export function roleFromName(path: VariablePath): { role: string; stackIndex?: number } | undefined {
  const last = path[path.length - 1]!;
  if (typeof last === 'string') {
    const parsed = parseRoleName(last);
    if (parsed) return { role: parsed.role, ...(parsed.stack !== undefined ? { stackIndex: parsed.stack } : {}) };
    // mmdetection's and CenterNet's names: a key of `output`/`batch` (CenterNet's dicts), of a list
    // of stack dicts (`outputs[1]['hm']`), or a variable named like a role (`center_heatmap_target`).
    const container = path.slice(0, -1).filter((p): p is string => typeof p === 'string').pop();
    const stack = path.length >= 3 && typeof path[path.length - 2] === 'number' ? (path[path.length - 2] as number) : undefined;
    const dense = denseRoleOf(last, container !== undefined ? sideOfName(container) : undefined);
    if (dense) return { role: dense.role, ...(stack !== undefined ? { stackIndex: stack } : dense.stack !== undefined ? { stackIndex: dense.stack } : {}) };
    return undefined;
  }
  // An element of a list named for a role: stack `last`.
  if (path.length >= 2 && typeof path[path.length - 2] === 'string') {
    const parsed = parseRoleName(path[path.length - 2] as string);
    if (parsed && parsed.stack === undefined) return { role: parsed.role, stackIndex: last };
    const dense = denseRoleOf(path[path.length - 2] as string);
    if (dense && dense.stack === undefined) return { role: dense.role, stackIndex: last };
  }
  return undefined;
}

/**
 * CenterNet's `CtdetLoss(outputs, batch)`: `output` a dict of hm/wh/reg (or a list of them, one per
 * stack) and `batch` a dict holding hm, reg_mask, ind, wh, reg.
 */
export function centernetPairs(ins: Inspection): { output: KernelVariable; batch: KernelVariable }[] {
  const dictWith = (d: ValueDesc, keys: string[]) => d.kind === 'dict' && keys.every((k) => d.keys.includes(k) && isTensor(d.items[d.keys.indexOf(k)]));
  const isOutput = (d: ValueDesc) => dictWith(d, ['hm', 'wh', 'reg']) || ((d.kind === 'list' || d.kind === 'tuple') && d.items.length > 0 && d.items.every((x) => dictWith(x, ['hm', 'wh', 'reg'])));
  const outputs = ins.variables.filter((v) => isOutput(v.value));
  const batches = ins.variables.filter((v) => dictWith(v.value, ['hm', 'reg_mask', 'ind', 'wh', 'reg']));
  const pairs = outputs.flatMap((output) => batches.filter((b) => b !== output).map((batch) => ({ output, batch })));
  const score = (p: { output: KernelVariable; batch: KernelVariable }) => (/^outputs?$/.test(p.output.name) ? 1 : 0) + (p.batch.name === 'batch' ? 1 : 0);
  return pairs.sort((a, b) => score(b) - score(a));
}

/** The arrays of CtdetLoss(outputs, batch): outputs per stack, the batch's targets. */
export function planCenternet(output: KernelVariable, batch: KernelVariable): TransferPlan {
  const arrays: PlannedArray[] = [];
  const add = (path: VariablePath, desc: TensorDesc, role: string, stackIndex?: number) =>
    arrays.push({ id: arrays.length, path, role, ...(stackIndex !== undefined ? { stackIndex } : {}), label: pathLabel(path), desc });
  const keyed = (d: DictDesc, k: string) => d.items[d.keys.indexOf(k)] as TensorDesc;
  const outs = output.value;
  if (outs.kind === 'dict') for (const k of ['hm', 'wh', 'reg']) add([output.name, k], keyed(outs, k), k);
  else if (outs.kind === 'list' || outs.kind === 'tuple') outs.items.forEach((d, s) => { for (const k of ['hm', 'wh', 'reg']) add([output.name, s, k], keyed(d as DictDesc, k), k, s); });
  const b = batch.value as DictDesc;
  for (const [k, role] of [['hm', 'gt_hm'], ['reg_mask', 'reg_mask'], ['ind', 'ind'], ['wh', 'gt_wh'], ['reg', 'gt_reg']] as const) add([batch.name, k], keyed(b, k), role);
  return { title: `${output.name} + ${batch.name} (CtdetLoss)`, arrays };
}

/** Arrays chosen one per role (the QuickPick's answer) as a plan. */
export function planPerRole(chosen: { path: VariablePath; desc: TensorDesc; role: string; stackIndex?: number }[]): TransferPlan {
  return {
    title: 'variables per role',
    arrays: chosen.map((c, id) => ({ id, path: c.path, role: c.role, ...(c.stackIndex !== undefined ? { stackIndex: c.stackIndex } : {}), label: pathLabel(c.path), desc: c.desc })),
  };
}

/** Data bytes of the array once sent: bfloat16 travels as float32, twice its size. */
export function sentBytes(d: TensorDesc): number {
  return d.dtype === 'bfloat16' ? 2 * d.bytes : d.bytes;
}

/** The header the array will have once sent. */
export function plannedHeader(d: TensorDesc): TensorHeader {
  const dtype = (d.dtype === 'bfloat16' ? 'float32' : d.dtype) as DType;
  const size = d.shape.reduce((a, b) => a * b, 1);
  return { dtype, shape: d.shape, size, fortranOrder: false, byteOrder: 'little', storedType: dtype, dataBytes: sentBytes(d), format: 'npy' };
}

/**
 * The core's role resolution on the shapes the kernel reported, so that a missing role or a
 * shape that does not fit is said before anything is sent (the messages name the variables).
 */
export function checkPlan(plan: TransferPlan): { problems: RoleProblem[] } {
  const notSendable = plan.arrays.find((a) => !isSendable(a.desc));
  if (notSendable) throw new KernelError('not-array', `${notSendable.label} has dtype ${notSendable.desc.dtype}: only bool, integer and float arrays can be sent`, notSendable.label);
  const refs: ArrayRef[] = plan.arrays.map((a) => ({ file: a.label, format: 'npy', header: plannedHeader(a.desc) }));
  // The plan's role names say whose loss it is (CornerNet's, or mmdetection's / CenterNet's names).
  const convention = conventionOfRoleNames(plan.arrays.map((a) => roleName(a)));
  if (convention && convention !== 'cornernet') {
    return resolveDenseRoles(convention, refs, plan.arrays.map((a, i) => ({ name: a.role, ref: refs[i]!, ...(a.stackIndex !== undefined ? { stack: a.stackIndex } : {}), origin: 'override' as const })));
  }
  const candidates: Candidate[] = plan.arrays.map((a, i) => ({ ref: refs[i]!, role: a.role as Role, ...(a.stackIndex !== undefined ? { stack: a.stackIndex } : {}), origin: 'override' }));
  return resolveRoles(candidates, refs);
}

/** Bytes that will travel. */
export function planBytes(plan: TransferPlan): number {
  return plan.arrays.reduce((s, a) => s + sentBytes(a.desc), 0);
}
