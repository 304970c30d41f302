/**
 * Roles of the dense conventions (mmdetection's CornerHead and CenterNetHead, xingyizhou's
 * CenterNet): which array names fill which role, which convention a folder's names point at, and
 * the resolution of roles by names and shapes. Headers only: nothing is read here.
 *
 * The original CornerNet's roles have their own, older resolver (resolve.ts): gathered values,
 * maps, AELoss-positional archives and CornerNet-Lite's lists.
 */
import * as path from 'node:path';
import { isFloatDType, isIntegerDType } from '../../tensor/dtype';
import { formatShape } from '../../tensor/tensor';
import { refLabel, type ArrayRef, type RoleProblem, type RoleProblemKind } from '../model/arrays';
import { CONVENTIONS, type ConventionChoice, type ConventionName } from '../model/conventions';
import { normalizeName, parseRoleName } from '../model/roles';

type DenseConvention = Exclude<ConventionName, 'cornernet'>;

/** Sizes a shape is checked against: batch B, classes C, map H x W, slots K, stacks S. */
type Axis = 'B' | 'C' | 'H' | 'W' | 'K' | 2 | 1 | 4 | 'E';

export interface DenseRoleSpec {
  role: string;
  side: 'output' | 'target';
  /** Normalised names (file stems, archive keys, `<side>_<key>`) that name this role. */
  names: readonly string[];
  /** The shape without the stack axis. 'E': embedding channels (any). */
  inner: readonly Axis[];
  /** Outputs: one per stack or level, as a leading axis or `_k` files/keys. */
  stacked: boolean;
  /** Integer indices rather than float values. */
  integer?: boolean;
  /** Absent is fine (the loss does not need it). */
  optional?: boolean;
  description: string;
}

const o = (role: string, names: string[], inner: Axis[], description: string): DenseRoleSpec => ({ role, side: 'output', names: [role, ...names], inner, stacked: true, description });
const t = (role: string, names: string[], inner: Axis[], description: string, extra: Partial<DenseRoleSpec> = {}): DenseRoleSpec => ({
  role,
  side: 'target',
  names: [role, ...names],
  inner,
  stacked: false,
  description,
  ...extra,
});

export const DENSE_ROLES: Readonly<Record<DenseConvention, readonly DenseRoleSpec[]>> = {
  'mmdet-cornernet': [
    o('tl_heats', ['tl_heat', 'tl_heatmap', 'pred_tl_heats'], ['B', 'C', 'H', 'W'], 'top-left heatmap logits per level [L,B,C,H,W]'),
    o('br_heats', ['br_heat', 'br_heatmap', 'pred_br_heats'], ['B', 'C', 'H', 'W'], 'bottom-right heatmap logits per level'),
    // CornerNet's names for the same maps too (tl_tag, tl_regr): a notebook plan names roles so.
    o('tl_embs', ['tl_emb', 'tl_embedding', 'tl_embeddings', 'tl_tag', 'tl_tag_map'], ['B', 'E', 'H', 'W'], 'top-left embedding maps [L,B,1,H,W]'),
    o('br_embs', ['br_emb', 'br_embedding', 'br_embeddings', 'br_tag', 'br_tag_map'], ['B', 'E', 'H', 'W'], 'bottom-right embedding maps'),
    o('tl_offs', ['tl_off', 'tl_offset', 'tl_offsets', 'tl_regr', 'tl_regr_map'], ['B', 2, 'H', 'W'], 'top-left offset maps [L,B,2,H,W] (x, y)'),
    o('br_offs', ['br_off', 'br_offset', 'br_offsets', 'br_regr', 'br_regr_map'], ['B', 2, 'H', 'W'], 'bottom-right offset maps'),
    t('topleft_heatmap', ['gt_topleft_heatmap'], ['B', 'C', 'H', 'W'], 'CornerHead.get_targets top-left gaussians [B,C,H,W]'),
    t('bottomright_heatmap', ['gt_bottomright_heatmap'], ['B', 'C', 'H', 'W'], 'bottom-right gaussians [B,C,H,W]'),
    t('topleft_offset', ['gt_topleft_offset'], ['B', 2, 'H', 'W'], 'dense top-left offset targets [B,2,H,W]'),
    t('bottomright_offset', ['gt_bottomright_offset'], ['B', 2, 'H', 'W'], 'dense bottom-right offset targets [B,2,H,W]'),
    t('corner_embedding', ['corner_embeddings', 'gt_corner_embedding'], ['B', 'K', 2, 2], 'per object [[tl_y, tl_x], [br_y, br_x]] [B,K,2,2], -1 rows as padding', { integer: true }),
  ],
  centernet: [
    o('hm', ['pred_hm', 'output_hm', 'out_hm', 'hm_pred'], ['B', 'C', 'H', 'W'], "output['hm']: center heatmap logits [S,B,C,H,W]"),
    o('wh', ['pred_wh', 'output_wh', 'out_wh', 'wh_pred'], ['B', 2, 'H', 'W'], "output['wh']: size maps (w, h)"),
    o('reg', ['pred_reg', 'output_reg', 'out_reg', 'reg_pred'], ['B', 2, 'H', 'W'], "output['reg']: center offset maps (x, y)"),
    t('gt_hm', ['batch_hm', 'target_hm', 'hm_gt', 'hm_target'], ['B', 'C', 'H', 'W'], "batch['hm']: center gaussians [B,C,H,W]"),
    t('reg_mask', ['gt_reg_mask', 'batch_reg_mask', 'target_reg_mask'], ['B', 'K'], "batch['reg_mask']: 1 = slot used [B,K]"),
    t('ind', ['gt_ind', 'batch_ind', 'target_ind', 'inds', 'gt_inds'], ['B', 'K'], "batch['ind']: center index y*W+x [B,K]", { integer: true }),
    t('gt_wh', ['batch_wh', 'target_wh', 'wh_gt', 'wh_target'], ['B', 'K', 2], "batch['wh']: target sizes [B,K,2]"),
    t('gt_reg', ['batch_reg', 'target_reg', 'reg_gt', 'reg_target'], ['B', 'K', 2], "batch['reg']: target offsets [B,K,2]"),
  ],
  'mmdet-centernet': [
    o('center_heatmap_pred', ['center_heatmap_preds'], ['B', 'C', 'H', 'W'], 'center heatmap PROBABILITIES [B,C,H,W] (the head applies sigmoid in forward)'),
    o('wh_pred', ['wh_preds'], ['B', 2, 'H', 'W'], 'size maps (w, h)'),
    o('offset_pred', ['offset_preds'], ['B', 2, 'H', 'W'], 'offset maps (x, y)'),
    t('center_heatmap_target', [], ['B', 'C', 'H', 'W'], 'CenterNetHead.get_targets gaussians [B,C,H,W]'),
    t('wh_target', [], ['B', 2, 'H', 'W'], 'dense size targets [B,2,H,W]'),
    t('offset_target', [], ['B', 2, 'H', 'W'], 'dense offset targets [B,2,H,W]'),
    t('wh_offset_target_weight', [], ['B', 2, 'H', 'W'], '1 at center pixels [B,2,H,W]'),
  ],
};

/** CenterNet's optional batch keys the ctdet defaults do not use (reported as unused, with why). */
export const CENTERNET_UNUSED_KEYS: Readonly<Record<string, string>> = {
  dense_wh: "used only with --dense_wh (off in ctdet's defaults): the loss here is the default RegL1 on gathered wh",
  dense_wh_mask: 'used only with --dense_wh (off by default)',
  cat_spec_wh: 'used only with --cat_spec_wh (off by default)',
  cat_spec_mask: 'used only with --cat_spec_wh (off by default)',
  meta: 'test-time metadata, not a loss input',
};

/** Archive stems whose keys are outputs (`output.npz`) or targets (`batch.npz`). */
const OUTPUT_ARCHIVE = /^(output|outputs|out|outs|pred|preds|prediction|predictions|net_out|network_output)(_.*)?$/;
const TARGET_ARCHIVE = /^(batch|batches|target|targets|gt|gts|label|labels|ground_truth)(_.*)?$/;

/**
 * The names an array answers to: its stem or key, and for a key of an archive named like the
 * outputs or the targets also `pred_<key>` / `gt_<key>` (CenterNet's `hm` is an output in
 * `output.npz` and a target in `batch.npz`). A `_k` suffix gives a stack.
 */
export function namesOf(ref: ArrayRef): { name: string; stack?: number }[] {
  const stem = normalizeName(path.basename(ref.file).replace(/\.(npy|npz|safetensors)$/i, ''));
  const base = ref.key === undefined ? [stem] : [normalizeName(ref.key)];
  if (ref.key !== undefined) {
    if (OUTPUT_ARCHIVE.test(stem)) base.push(`pred_${normalizeName(ref.key)}`);
    else if (TARGET_ARCHIVE.test(stem)) base.push(`gt_${normalizeName(ref.key)}`);
  }
  const out: { name: string; stack?: number }[] = [];
  for (const n of base) {
    out.push({ name: n });
    const m = /^(.*)_(\d{1,3})$/.exec(n);
    if (m) out.push({ name: m[1]!, stack: Number(m[2]) });
  }
  return out;
}

interface Match {
  spec: DenseRoleSpec;
  ref: ArrayRef;
  stack?: number;
  origin: 'name' | 'manifest' | 'override';
}

function matchesOf(convention: DenseConvention, arrays: readonly ArrayRef[]): Match[] {
  const specs = DENSE_ROLES[convention];
  const out: Match[] = [];
  for (const ref of arrays) {
    const names = namesOf(ref);
    // The most specific name wins: `pred_hm` from `output.npz:hm` before the bare `hm`.
    let found: Match | undefined;
    for (const n of [...names].reverse()) {
      if (found) break;
      for (const spec of specs) {
        if (found) break;
        if (!spec.names.includes(n.name)) continue;
        if (n.stack !== undefined && !spec.stacked) continue;
        // A bare CenterNet key (`hm`, `wh`, `reg`) inside an archive that says neither side is
        // ambiguous (an output and a target share it): it matches only loose files named so.
        if (convention === 'centernet' && ref.key !== undefined && (n.name === 'hm' || n.name === 'wh' || n.name === 'reg')) {
          const stem = normalizeName(path.basename(ref.file).replace(/\.(npz|safetensors)$/i, ''));
          if (TARGET_ARCHIVE.test(stem)) continue;
        }
        found = { spec, ref, ...(n.stack !== undefined ? { stack: n.stack } : {}), origin: 'name' };
      }
    }
    if (found) out.push(found);
  }
  return out;
}

/** How strongly the names of `arrays` say each convention, and why. */
export function detectConvention(arrays: readonly ArrayRef[], hint?: { cornernetRoles: number }): ConventionChoice {
  const scores: { name: ConventionName; score: number; complete: boolean; reason: string }[] = [];
  for (const name of ['mmdet-cornernet', 'centernet', 'mmdet-centernet'] as const) {
    const matches = matchesOf(name, arrays);
    const roles = new Set(matches.map((m) => m.spec.role));
    const targets = [...roles].filter((r) => DENSE_ROLES[name].find((s) => s.role === r)!.side === 'target');
    const required = DENSE_ROLES[name].filter((s) => !s.optional);
    const complete = required.every((s) => roles.has(s.role));
    // Targets are what tells the codebases apart (mmdet's outputs share CornerNet's names).
    scores.push({ name, score: targets.length * 2 + roles.size, complete, reason: targets.length ? `target names ${targets.join(', ')}` : `output names ${[...roles].join(', ')}` });
  }
  const cornerRoles = hint?.cornernetRoles ?? 0;
  const cornernetTargets = arrays.filter((a) => {
    const r = parseRoleName(a.key ?? path.basename(a.file).replace(/\.(npy|npz|safetensors)$/i, ''))?.role;
    return r !== undefined && (r.startsWith('gt_') || r.endsWith('_ind'));
  }).length;
  scores.push({ name: 'cornernet', score: cornernetTargets * 2 + cornerRoles, complete: cornerRoles >= 7, reason: cornernetTargets ? 'CornerNet target names (gt_tl_heat, gt_mask, tl_ind...)' : 'CornerNet names' });
  scores.sort((a, b) => b.score - a.score || (a.name === 'cornernet' ? -1 : b.name === 'cornernet' ? 1 : 0));
  const best = scores[0]!;
  const chosen = best.score > 0 ? best.name : 'cornernet';
  const alternatives = scores.filter((s) => s.name !== chosen && s.complete).map((s) => s.name);
  return {
    name: chosen,
    how: best.score > 0 ? 'detected' : 'default',
    reason: best.score > 0 ? `${CONVENTIONS[chosen].label}: ${best.reason}` : 'no convention-specific names: the original CornerNet',
    alternatives,
  };
}

export interface DenseDims {
  S: number;
  B: number;
  C: number;
  H: number;
  W: number;
  /** Object slots (rows of corner_embedding, CenterNet's K); 0 when the convention has none. */
  K: number;
  /** Embedding channels (mmdet CornerNet). */
  E: number;
}

export interface DenseRoleUse {
  role: string;
  ref: ArrayRef;
  /** Stacks this array provides, in order (empty for targets). */
  stacks: number[];
  /** The array has a leading stack axis. */
  stackAxis: boolean;
  origin: Match['origin'];
}

export interface DenseResolution {
  convention: DenseConvention;
  dims: DenseDims | undefined;
  uses: DenseRoleUse[];
  unused: { ref: ArrayRef; reason: string }[];
  problems: RoleProblem[];
}

export interface DenseAssignment {
  name: string;
  ref: ArrayRef;
  stack?: number;
  origin: 'manifest' | 'override';
}

/** Roles of a dense convention from names (or assignments) and shapes, every problem at once. */
export function resolveDenseRoles(convention: DenseConvention, arrays: readonly ArrayRef[], assignments: readonly DenseAssignment[] = []): DenseResolution {
  const specs = DENSE_ROLES[convention];
  const problems: RoleProblem[] = [];
  const problem = (kind: RoleProblemKind, role: string, message: string, involved: ArrayRef[] = [], pool?: ArrayRef[]) => {
    const subject = involved.length ? `${role} (${involved.map(refLabel).join(', ')})` : role;
    problems.push({ kind, role: role as RoleProblem['role'], subject, message, candidates: pool ?? rank(role) });
  };
  const rank = (role: string): ArrayRef[] => {
    const spec = specs.find((s) => s.role === role);
    const want = spec?.inner.length;
    return [...arrays].sort((a, b) => Number(b.header.shape.length === want) - Number(a.header.shape.length === want));
  };

  let matches = matchesOf(convention, arrays);
  for (const a of assignments) {
    const n = normalizeName(a.name);
    const m = /^(.*)_(\d{1,3})$/.exec(n);
    const spec = specs.find((s) => s.names.includes(n)) ?? (m ? specs.find((s) => s.stacked && s.names.includes(m[1]!)) : undefined);
    if (!spec) {
      problem('inconsistent', a.name, `unknown role for ${CONVENTIONS[convention].label} (roles: ${specs.map((s) => s.role).join(', ')}${specs.some((s) => s.stacked) ? '; outputs may end in _<stack>' : ''})`);
      continue;
    }
    const stack = a.stack ?? (m && !specs.some((s) => s.names.includes(n)) ? Number(m[2]) : undefined);
    // An assignment replaces what names inferred for that role, and its array claims nothing else.
    // (Several assignments of one role are its stacks: only what names inferred is replaced.)
    matches = matches.filter((x) => !(x.origin === 'name' && x.spec.role === spec.role) && !(x.ref.file === a.ref.file && x.ref.key === a.ref.key));
    matches.push({ spec, ref: a.ref, ...(stack !== undefined ? { stack } : {}), origin: a.origin });
  }
  const byRole = new Map<string, Match[]>();
  for (const m of matches) byRole.set(m.spec.role, [...(byRole.get(m.spec.role) ?? []), m]);

  // Sizes from the first target heatmap, else from the first output heatmap.
  const heatTarget = specs.find((s) => s.side === 'target' && s.inner.join() === 'B,C,H,W')!;
  const heatOutput = specs.find((s) => s.side === 'output' && s.inner.join() === 'B,C,H,W')!;
  let bchw: number[] | undefined;
  const gt = byRole.get(heatTarget.role);
  if (gt?.length === 1 && gt[0]!.ref.header.shape.length === 4) bchw = gt[0]!.ref.header.shape;
  if (!bchw) {
    const out = byRole.get(heatOutput.role)?.[0];
    if (out && out.ref.header.shape.length >= 4) bchw = out.ref.header.shape.slice(-4);
  }
  const dims: DenseDims = { S: NaN, B: NaN, C: NaN, H: NaN, W: NaN, K: 0, E: 1 };
  if (bchw) [dims.B, dims.C, dims.H, dims.W] = bchw as [number, number, number, number];
  const kSpec = specs.find((s) => s.inner.includes('K'));
  const kArr = kSpec ? byRole.get(kSpec.role)?.[0]?.ref.header.shape : undefined;
  if (kArr && kArr.length >= 2) dims.K = kArr[1]!;
  const eArr = byRole.get(specs.find((s) => s.inner.includes('E'))?.role ?? '')?.[0]?.ref.header.shape;

  const fits = (shape: readonly number[], inner: readonly Axis[]): boolean =>
    shape.length === inner.length &&
    inner.every((ax, i) => {
      const d = shape[i]!;
      if (ax === 'E') return d >= 1;
      if (typeof ax === 'number') return d === ax;
      const want = dims[ax];
      return Number.isNaN(want) || d === want;
    });
  const expect = (inner: readonly Axis[]) => `[${inner.map((a) => (a === 'E' ? 'E' : typeof a === 'number' ? a : Number.isNaN(dims[a]) ? a : `${a}=${dims[a]}`)).join(', ')}]`;

  const uses: DenseRoleUse[] = [];
  const used = new Set<ArrayRef>();
  // Outputs first settle S.
  for (const spec of [...specs].sort((a, b) => Number(b.side === 'output') - Number(a.side === 'output'))) {
    const ms = byRole.get(spec.role) ?? [];
    if (!ms.length) {
      if (!spec.optional) problem('missing', spec.role, `no array found for ${spec.role} (${spec.description}; looked for ${spec.names.slice(0, 5).join(', ')}${spec.stacked ? ', optionally _<stack>' : ''})`);
      continue;
    }
    for (const m of ms) used.add(m.ref);
    const dtype = ms[0]!.ref.header.dtype;
    if (spec.integer ? !isIntegerDType(dtype) : !(isFloatDType(dtype) || isIntegerDType(dtype) || dtype === 'bool')) {
      problem('inconsistent', spec.role, `expected ${spec.integer ? 'integer indices' : 'numbers'}, got ${dtype}`, [ms[0]!.ref]);
      continue;
    }
    if (!spec.stacked) {
      if (ms.length > 1) {
        problem('ambiguous', spec.role, `${ms.length} arrays claim ${spec.role}: ${ms.map((m) => refLabel(m.ref)).join(', ')}; choose one (--role ${spec.role}=PATH[:KEY] or cornernet.json)`, [], ms.map((m) => m.ref));
        continue;
      }
      const m = ms[0]!;
      if (!fits(m.ref.header.shape, spec.inner)) {
        problem('inconsistent', spec.role, `expected ${expect(spec.inner)}, got ${formatShape(m.ref.header.shape)}`, [m.ref]);
        continue;
      }
      uses.push({ role: spec.role, ref: m.ref, stacks: [], stackAxis: false, origin: m.origin });
      continue;
    }
    const whole = ms.filter((m) => m.stack === undefined);
    const perStack = ms.filter((m) => m.stack !== undefined).sort((a, b) => a.stack! - b.stack!);
    if (whole.length > 1 || (whole.length && perStack.length)) {
      problem('ambiguous', spec.role, `${ms.length} arrays claim ${spec.role}: ${ms.map((m) => refLabel(m.ref)).join(', ')}; choose one (--role ${spec.role}=PATH[:KEY] or cornernet.json)`, [], ms.map((m) => m.ref));
      continue;
    }
    if (whole.length === 1) {
      const m = whole[0]!;
      const shape = m.ref.header.shape;
      const axis = shape.length === spec.inner.length + 1;
      if (!(axis ? fits(shape.slice(1), spec.inner) : fits(shape, spec.inner))) {
        problem('inconsistent', spec.role, `expected ${expect(spec.inner)} with an optional leading stack axis, got ${formatShape(shape)}`, [m.ref]);
        continue;
      }
      const count = axis ? shape[0]! : 1;
      if (Number.isNaN(dims.S)) dims.S = count;
      else if (count !== dims.S) {
        problem('inconsistent', spec.role, `has ${count} stack(s) but ${heatOutput.role} has ${dims.S}`, [m.ref]);
        continue;
      }
      uses.push({ role: spec.role, ref: m.ref, stacks: Array.from({ length: count }, (_, i) => i), stackAxis: axis, origin: m.origin });
      continue;
    }
    const gap = perStack.findIndex((m, i) => m.stack !== i);
    if (gap >= 0) {
      problem('inconsistent', spec.role, `per-stack arrays must be numbered 0..${perStack.length - 1}, got ${perStack.map((m) => `_${m.stack}`).join(', ')}: stack ${gap} is missing`, perStack.map((m) => m.ref));
      continue;
    }
    const bad = perStack.find((m) => !fits(m.ref.header.shape, spec.inner));
    if (bad) {
      problem('inconsistent', spec.role, `stack ${bad.stack}: expected ${expect(spec.inner)}, got ${formatShape(bad.ref.header.shape)}`, [bad.ref]);
      continue;
    }
    if (Number.isNaN(dims.S)) dims.S = perStack.length;
    else if (perStack.length !== dims.S) {
      problem('inconsistent', spec.role, `has ${perStack.length} stack(s) but ${heatOutput.role} has ${dims.S}`, perStack.map((m) => m.ref));
      continue;
    }
    perStack.forEach((m, i) => uses.push({ role: spec.role, ref: m.ref, stacks: [i], stackAxis: false, origin: m.origin }));
  }
  if (eArr) dims.E = eArr[eArr.length - 3] ?? 1;
  if (convention === 'mmdet-centernet' && dims.S > 1) {
    problem('inconsistent', 'center_heatmap_pred', `mmdetection's CenterNetHead has one level only (loss_by_feat asserts it); got ${dims.S}`);
  }
  const unused = arrays
    .filter((a) => !used.has(a))
    .map((ref) => {
      const key = normalizeName(ref.key ?? '');
      const why = convention === 'centernet' ? CENTERNET_UNUSED_KEYS[key] : undefined;
      return { ref, reason: why ?? `not an input of ${CONVENTIONS[convention].label}` };
    });
  const known = [dims.S, dims.B, dims.C, dims.H, dims.W].every((d) => Number.isFinite(d));
  return { convention, dims: known && !problems.length ? dims : undefined, uses, unused, problems };
}

/** Whether `name` (a role, optionally with `_<stack>`) is a role of a dense convention. */
export function isDenseRoleName(name: string): boolean {
  const n = normalizeName(name);
  const m = /^(.*)_(\d{1,3})$/.exec(n);
  return Object.values(DENSE_ROLES).some((specs) => specs.some((s) => s.names.includes(n) || (m !== null && s.stacked && s.names.includes(m[1]!))));
}

export function allDenseRoleNames(): string[] {
  return [...new Set(Object.values(DENSE_ROLES).flatMap((specs) => specs.map((s) => s.role)))];
}

/**
 * The convention that role names given by the user (a manifest's roles, `--role`, a notebook's
 * plan) belong to: the one whose roles hold them all, a dense one over CornerNet's when both do
 * (`tl_heats` is an alias of CornerNet's tl_heat and mmdet's own name), undefined when there are
 * none or no convention holds them all.
 */
export function conventionOfRoleNames(names: readonly string[]): ConventionName | undefined {
  if (!names.length) return undefined;
  const holds = (c: DenseConvention, name: string) => {
    const n = normalizeName(name);
    const m = /^(.*)_(\d{1,3})$/.exec(n);
    return DENSE_ROLES[c].some((s) => s.names.includes(n) || (m !== null && s.stacked && s.names.includes(m[1]!)));
  };
  const dense = (['mmdet-cornernet', 'centernet', 'mmdet-centernet'] as const).filter((c) => names.every((n) => holds(c, n)));
  const cornernet = names.every((n) => parseRoleName(n) !== undefined);
  // A name only a dense convention has decides; otherwise CornerNet's own names win.
  if (dense.length && (!cornernet || names.some((n) => parseRoleName(n) === undefined))) return dense[0];
  if (cornernet) return 'cornernet';
  return dense[0];
}

/** Whether an archive's or a dict variable's name says its keys are outputs or targets. */
export function sideOfName(name: string): 'output' | 'target' | undefined {
  const n = normalizeName(name);
  return OUTPUT_ARCHIVE.test(n) ? 'output' : TARGET_ARCHIVE.test(n) ? 'target' : undefined;
}

/**
 * The dense role a name gives (`hm`, `center_heatmap_target`, `tl_heats_1`), with `side` read from
 * a container's name: CenterNet's `hm` under `batch` is the target `gt_hm`.
 */
export function denseRoleOf(name: string, side?: 'output' | 'target'): { convention: DenseConvention; role: string; stack?: number } | undefined {
  const n = normalizeName(name);
  const tries = side === 'target' ? [`gt_${n}`, n] : side === 'output' ? [`pred_${n}`, n] : [n];
  for (const t of tries) {
    const m = /^(.*)_(\d{1,3})$/.exec(t);
    for (const c of ['centernet', 'mmdet-centernet', 'mmdet-cornernet'] as const) {
      for (const spec of DENSE_ROLES[c]) {
        if (side === 'target' && spec.side === 'output' && t === n && spec.names.includes(`gt_${n}`)) continue;
        if (spec.names.includes(t)) return { convention: c, role: spec.role };
        if (m && spec.stacked && spec.names.includes(m[1]!)) return { convention: c, role: spec.role, stack: Number(m[2]) };
      }
    }
  }
  return undefined;
}
