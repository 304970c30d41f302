/**
 * What the role picker needs besides resolution, without any UI: which arrays fit a role by shape
 * and dtype (and why the others do not), which roles the tensor files next to the selected files
 * can fill by their names, and whether a folder is a complete batch on its own. Reads headers only.
 */
import * as path from 'node:path';
import { isFloatDType, isIntegerDType } from '../../tensor/dtype';
import type { ReadLimits } from '../../tensor/limits';
import { inputFs } from '../../tensor/source';
import { formatShape } from '../../tensor/tensor';
import { tensorFormatOf } from '../../tensor/tensorFile';
import { refLabel, sameRef, type ArrayRef, type Candidate, type MaskSynthesis, type RoleProblem } from '../model/arrays';
import type { ConventionName } from '../model/conventions';
import { ALL_ROLES, CORNERS, indexRoleForTag, type Corner, type Role } from '../model/roles';
import { openFileSource } from '../../tensor/source';
import { readArray } from '../../tensor/tensorFile';
import { toFloat64 } from '../../tensor/tensor';
import { synthesizeMask } from './load';
import { resolveDenseRoles } from './conventionRoles';
import { discoverInputs, type Discovery, type InputSpec, type RoleAssignmentSpec } from './discover';
import { resolveRoles } from './resolve';
import { chooseConvention } from '../run';

/** Sizes known so far (from the arrays already settled); undefined: not known yet. */
export interface PartialDims {
  S?: number;
  B?: number;
  C?: number;
  H?: number;
  W?: number;
  K?: number;
}

export interface Settling {
  discovery: Discovery;
  convention: ConventionName;
  problems: RoleProblem[];
  /** Arrays in use, by role (CornerNet's roles or a dense convention's). */
  uses: { role: string; ref: ArrayRef }[];
  dims: PartialDims;
}

/** Discovery and resolution of a spec, problems included (nothing thrown for them). */
export async function settleState(
  spec: InputSpec,
  limits?: Partial<ReadLimits>,
  conventions: { convention?: ConventionName; settingConvention?: ConventionName } = {},
): Promise<Settling> {
  const discovery = await discoverInputs(spec, limits);
  const convention = chooseConvention(discovery, conventions).name;
  if (convention === 'cornernet') {
    const r = resolveRoles(discovery.candidates, discovery.arrays, discovery.mask ? { mask: discovery.mask.how } : {});
    return { discovery, convention, problems: r.problems, uses: r.uses, dims: knownDims(r.uses) };
  }
  const r = resolveDenseRoles(convention, discovery.arrays, discovery.assignments);
  return { discovery, convention, problems: r.problems, uses: r.uses, dims: {} };
}

/** B, C, H, W, K and S from the arrays a (possibly partial) resolution uses. */
export function knownDims(uses: readonly { role: string; ref: ArrayRef; stacks?: number[]; stackAxis?: boolean }[]): PartialDims {
  const d: PartialDims = {};
  const shape = (role: string) => uses.find((u) => u.role === role)?.ref.header.shape;
  for (const role of ['gt_tl_heat', 'gt_br_heat']) {
    const s = shape(role);
    if (s?.length === 4 && d.B === undefined) [d.B, d.C, d.H, d.W] = s;
  }
  for (const role of ['tl_heat', 'br_heat']) {
    const us = uses.filter((u) => u.role === role);
    if (!us.length) continue;
    const s = us[0]!.ref.header.shape;
    if (d.B === undefined && s.length >= 4) [d.B, d.C, d.H, d.W] = s.slice(-4);
    d.S ??= us.reduce((a, u) => a + (u.stacks?.length ?? 1), 0);
  }
  for (const role of ['gt_mask', 'tl_ind', 'br_ind', 'gt_tl_regr', 'gt_br_regr']) {
    const s = shape(role);
    if (s && s.length >= 2 && d.K === undefined) {
      d.B ??= s[0];
      d.K = s[1];
    }
  }
  return d;
}

type Fit = { ok: true } | { ok: false; reason: string };

const dim = (v: number | undefined, name: string) => (v === undefined ? name : String(v));

/** Does `shape` match one of `patterns` (numbers or an unknown size)? */
function matchesAny(shape: readonly number[], patterns: (number | undefined)[][]): boolean {
  return patterns.some((p) => p.length === shape.length && p.every((v, i) => v === undefined || v === shape[i]));
}

/**
 * Whether an array can play a CornerNet role, by its shape and dtype against the sizes known so
 * far (the rules of resolve.ts, stricter for the mask: bool or integer, as the sampler writes it).
 */
export function roleFit(role: Role, ref: ArrayRef, dims: PartialDims): Fit {
  const { S, B, C, H, W, K } = dims;
  const s = ref.header.shape;
  const dt = ref.header.dtype;
  const want = (patterns: (number | undefined)[][], shown: string, dtypeOk: boolean, dtypeWant: string): Fit => {
    if (!matchesAny(s, patterns)) return { ok: false, reason: `expected ${shown}, got ${formatShape(s)}` };
    if (!dtypeOk) return { ok: false, reason: `expected ${dtypeWant}, got ${dt}` };
    return { ok: true };
  };
  const b = dim(B, 'B');
  const k = dim(K, 'K');
  const hw = `${dim(H, 'H')}, ${dim(W, 'W')}`;
  switch (role) {
    case 'tl_heat':
    case 'br_heat':
      return want([[B, C, H, W], [S, B, C, H, W]], `[${b}, ${dim(C, 'C')}, ${hw}] or [${dim(S, 'S')}, ${b}, ${dim(C, 'C')}, ${hw}]`, isFloatDType(dt), 'float logits');
    case 'gt_tl_heat':
    case 'gt_br_heat':
      return want([[B, C, H, W]], `[${b}, ${dim(C, 'C')}, ${hw}]`, isFloatDType(dt) || isIntegerDType(dt), 'a float heatmap');
    case 'tl_tag':
    case 'br_tag':
      return want(
        [[B, 1, H, W], [S, B, 1, H, W], [B, K, 1], [B, K], [S, B, K, 1], [S, B, K]],
        `a map [${dim(S, 'S')}, ${b}, 1, ${hw}] or gathered [${dim(S, 'S')}, ${b}, ${k}, 1]`,
        isFloatDType(dt),
        'float embeddings',
      );
    case 'tl_regr':
    case 'br_regr':
      return want([[B, 2, H, W], [S, B, 2, H, W], [B, K, 2], [S, B, K, 2]], `a map [${dim(S, 'S')}, ${b}, 2, ${hw}] or gathered [${dim(S, 'S')}, ${b}, ${k}, 2]`, isFloatDType(dt), 'float offsets');
    case 'gt_tl_regr':
    case 'gt_br_regr':
      return want([[B, K, 2]], `[${b}, ${k}, 2]`, isFloatDType(dt), 'float offsets');
    case 'gt_mask':
      return want([[B, K]], `[${b}, ${k}]`, dt === 'bool' || isIntegerDType(dt), 'a bool or integer (uint8) mask');
    case 'tl_ind':
    case 'br_ind':
      return want([[B, K]], `[${b}, ${k}]`, isIntegerDType(dt), 'integer indices');
  }
}

export interface RoleChoices {
  /** Arrays that fit the role and play no other role, best first. */
  compatible: ArrayRef[];
  /** Arrays that fit but already play another role (never offered for gt_mask: that is the index trap). */
  usedElsewhere: { ref: ArrayRef; role: string }[];
  /** Arrays that do not fit, with the reason. */
  incompatible: { ref: ArrayRef; reason: string }[];
}

/** The arrays of `pool` sorted for a picker of a CornerNet role. */
export function choicesForRole(role: Role, pool: readonly ArrayRef[], state: Pick<Settling, 'uses' | 'dims'>, ranked: readonly ArrayRef[] = []): RoleChoices {
  const out: RoleChoices = { compatible: [], usedElsewhere: [], incompatible: [] };
  const unique = pool.filter((a, i) => pool.findIndex((b) => sameRef(a, b)) === i);
  const rank = (r: ArrayRef) => {
    const i = ranked.findIndex((x) => sameRef(x, r));
    return i < 0 ? ranked.length : i;
  };
  for (const ref of [...unique].sort((a, b) => rank(a) - rank(b))) {
    const fit = roleFit(role, ref, state.dims);
    if (!fit.ok) {
      out.incompatible.push({ ref, reason: fit.reason });
      continue;
    }
    const other = state.uses.find((u) => u.role !== role && sameRef(u.ref, ref));
    if (other) {
      if (role !== 'gt_mask') out.usedElsewhere.push({ ref, role: other.role });
      else out.incompatible.push({ ref, reason: `it is ${other.role}, not a mask` });
    } else out.compatible.push(ref);
  }
  return out;
}

/** Whether a synthesized mask can be derived from the indices of this state. */
export function canDeriveMask(state: Pick<Settling, 'uses'>): boolean {
  return state.uses.some((u) => u.role === 'tl_ind' || u.role === 'br_ind');
}

/**
 * How many slots "derive from the indices" would count as objects (reads the index arrays, [B,K]
 * each), or undefined when there are none or they cannot be read.
 */
export async function derivedMaskCount(state: Pick<Settling, 'uses'>, limits?: Partial<ReadLimits>): Promise<{ valid: number; total: number } | undefined> {
  const ind: Partial<Record<Corner, Float64Array>> = {};
  let B = 0;
  let K = 0;
  for (const corner of CORNERS) {
    const u = state.uses.find((x) => x.role === `${corner}_ind`);
    if (!u || u.ref.header.shape.length !== 2) continue;
    try {
      const src = await openFileSource(u.ref.file);
      try {
        ind[corner] = toFloat64(await readArray(src, u.ref.format, u.ref.key, limits));
      } finally {
        await src.close();
      }
      [B, K] = u.ref.header.shape as [number, number];
    } catch {
      return undefined;
    }
  }
  if (!ind.tl && !ind.br) return undefined;
  if ((ind.tl && ind.tl.length !== B * K) || (ind.br && ind.br.length !== B * K)) return undefined;
  const { mask } = synthesizeMask('from-indices', B, K, ind);
  return { valid: mask.reduce((a, v) => a + v, 0), total: B * K };
}

/** The spec with the mask synthesized (and no gt_mask assignment). */
export function withMask(spec: InputSpec, how: MaskSynthesis): InputSpec {
  return { ...spec, mask: how, roles: (spec.roles ?? []).filter((r) => r.name !== 'gt_mask') };
}

/** Selected files (not folders), by folder: the folders whose other files may fill roles. */
export async function folderOfFiles(paths: readonly string[]): Promise<string[]> {
  const dirs: string[] = [];
  const given = new Set<string>();
  for (const p of paths) {
    const st = await inputFs.stat(p).catch(() => undefined);
    if (st?.isDirectory()) given.add(path.resolve(p));
  }
  for (const p of paths) {
    const st = await inputFs.stat(p).catch(() => undefined);
    if (!st || st.isDirectory()) continue;
    const d = path.dirname(path.resolve(p));
    if (!given.has(d) && !dirs.includes(d)) dirs.push(d);
  }
  return dirs;
}

/** The arrays of the tensor files in `folder` (headers; unreadable files skipped). */
export async function folderArrays(folder: string, limits?: Partial<ReadLimits>): Promise<Discovery | undefined> {
  try {
    return await discoverInputs({ paths: [folder] }, limits);
  } catch {
    return undefined;
  }
}

export interface SiblingFill {
  folder: string;
  /** Role assignments (as `--role` takes them) that fill missing roles. */
  roles: RoleAssignmentSpec[];
  /** The roles filled. */
  filled: string[];
}

/**
 * The roles still missing for `spec` that the other tensor files in the folders of its selected
 * files fill by their names (or the folder's cornernet.json), one fill per folder. A fill is kept
 * only for roles it settles without a new problem (a sibling of the wrong shape is not taken).
 */
export async function siblingFills(
  spec: InputSpec,
  limits?: Partial<ReadLimits>,
  conventions: { convention?: ConventionName; settingConvention?: ConventionName } = {},
): Promise<SiblingFill[]> {
  const out: SiblingFill[] = [];
  for (const folder of await folderOfFiles(spec.paths)) {
    const found = await folderArrays(folder, limits);
    if (!found) continue;
    const roles: RoleAssignmentSpec[] = [];
    const filled: string[] = [];
    // Rounds: a role can become missing once another is filled (maps need the indices).
    for (let round = 0; round < 4; round++) {
      const current = { ...spec, roles: [...(spec.roles ?? []), ...roles] };
      const base = await settleState(current, limits, conventions).catch(() => undefined);
      if (!base || base.convention !== 'cornernet') break;
      const have = new Set(base.discovery.arrays.map((a) => refLabel(a)));
      // A selected array that plays no role yet but fits a missing one was probably meant for it
      // (tl_heat_new.npy next to tl_heat.npy): that role is asked, not filled from a sibling.
      const unclaimed = unclaimedInputs(base);
      const missing = new Set(
        base.problems
          .filter((p) => p.kind === 'missing' && !unclaimed.some((r) => ALL_ROLES.includes(p.role) && roleFit(p.role, r, base.dims).ok))
          .map((p) => p.role as string),
      );
      const byRole = new Map<string, Candidate[]>();
      for (const c of found.candidates) {
        if (have.has(refLabel(c.ref))) continue;
        // CornerNet's sampler calls the indices tl_tags: an integer "tag" is an index array.
        const idx = indexRoleForTag(c.role);
        const role = idx && isIntegerDType(c.ref.header.dtype) ? idx : c.role;
        if (!missing.has(role) || filled.includes(role)) continue;
        byRole.set(role, [...(byRole.get(role) ?? []), { ...c, role, ...(role === idx ? { stack: undefined } : {}) }]);
      }
      let added = false;
      for (const role of ALL_ROLES) {
        const cs = byRole.get(role);
        if (!cs?.length) continue;
        const assign = cs.map((c): RoleAssignmentSpec => ({ name: c.stack !== undefined ? `${role}_${c.stack}` : role, path: c.ref.file, ...(c.ref.key !== undefined ? { key: c.ref.key } : {}) }));
        const trial = await settleState({ ...spec, roles: [...(spec.roles ?? []), ...roles, ...assign] }, limits, conventions).catch(() => undefined);
        if (!trial || trial.problems.some((p) => p.role === role)) continue;
        roles.push(...assign);
        filled.push(role);
        added = true;
      }
      if (!added) break;
    }
    if (roles.length) out.push({ folder, roles, filled });
  }
  return out;
}

/** Arrays of the inputs that play no role and claim none by their name (candidates for any). */
export function unclaimedInputs(state: Pick<Settling, 'discovery' | 'uses'>): ArrayRef[] {
  return state.discovery.arrays.filter((a) => !state.uses.some((u) => sameRef(u.ref, a)) && !state.discovery.candidates.some((c) => sameRef(c.ref, a)));
}

/** A folder is a complete batch when it resolves every role by itself (any convention). */
export async function isCompleteBatch(folder: string, limits?: Partial<ReadLimits>, conventions: { settingConvention?: ConventionName } = {}): Promise<boolean> {
  try {
    const st = await inputFs.stat(folder);
    if (!st.isDirectory() && !tensorFormatOf(folder)) return false;
    const s = await settleState({ paths: [folder] }, limits, conventions);
    return s.problems.length === 0;
  } catch {
    return false;
  }
}
