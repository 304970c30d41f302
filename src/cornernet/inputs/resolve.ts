/**
 * Which array plays which role: from names (file stems, npz keys), AELoss positions, a manifest or
 * explicit overrides, settled by shapes and dtypes. Pure: works on headers only, reads nothing, so
 * the extension can ask the user about missing or ambiguous roles before any data is loaded.
 */
import { isFloatDType, isIntegerDType } from '../../tensor/dtype';
import { formatShape } from '../../tensor/tensor';
import {
  ALL_ROLES,
  CORNERS,
  aliasesOf,
  indexRoleForTag,
  isOutputRole,
  parseRoleName,
  type Corner,
  type Role,
} from '../model/roles';
import {
  refLabel,
  sameRef,
  type ArrayRef,
  type Candidate,
  type Form,
  type MaskSynthesis,
  type Resolution,
  type RoleOverride,
  type RoleProblem,
  type RoleProblemKind,
  type RoleUse,
} from '../model/arrays';

/**
 * Overrides win over inference: a role named by an override takes only the overridden arrays,
 * CLI overrides win over the manifest, and an array used by an override claims no other role.
 */
export function applyOverrides(inferred: Candidate[], overrides: RoleOverride[]): Candidate[] {
  const cliRoles = new Set(overrides.filter((o) => o.origin === 'override').map((o) => o.role));
  const effective = overrides.filter((o) => o.origin === 'override' || !cliRoles.has(o.role));
  const roles = new Set(effective.map((o) => o.role));
  const kept = inferred.filter((c) => !roles.has(c.role) && !effective.some((o) => sameRef(o.ref, c.ref)));
  return [
    ...kept,
    ...effective.map((o): Candidate => ({ ref: o.ref, role: o.role, stack: o.stack, origin: o.origin })),
  ];
}

const eqShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

interface StackFit {
  stackAxis: boolean;
  /** Stacks in the array: the axis length, or 1. */
  count: number;
}

/** Does `shape` equal one of `inners`, optionally behind a leading stack axis? */
function fitStacked(shape: readonly number[], inners: readonly (readonly number[])[]): StackFit | undefined {
  for (const inner of inners) {
    if (eqShape(shape, inner)) return { stackAxis: false, count: 1 };
  }
  for (const inner of inners) {
    if (shape.length === inner.length + 1 && shape[0]! >= 1 && eqShape(shape.slice(1), inner)) {
      return { stackAxis: true, count: shape[0]! };
    }
  }
  return undefined;
}

const list = (refs: ArrayRef[]) => refs.map(refLabel).join(', ');
const describe = (ref: ArrayRef) => `${refLabel(ref)} ${formatShape(ref.header.shape)} ${ref.header.dtype}`;

export interface ResolveOptions {
  /** gt_mask synthesized instead of read: a gt_mask array, if any, is not used. */
  mask?: MaskSynthesis;
}

export function resolveRoles(candidatesIn: Candidate[], allArrays: ArrayRef[], options: ResolveOptions = {}): Resolution {
  const problems: RoleProblem[] = [];
  const uses: RoleUse[] = [];
  const unusedReasons = new Map<string, string>();

  // CornerNet's sampler calls the corner indices `tl_tags`: an integer "tag" is an index array.
  const candidates = candidatesIn.map((c): Candidate => {
    const idx = indexRoleForTag(c.role);
    if (idx && c.origin === 'name' && isIntegerDType(c.ref.header.dtype)) {
      return { ...c, role: idx, stack: undefined, note: `integer ${c.ref.key ?? 'array'} read as ${idx} (CornerNet's sampler calls the indices tl_tags/br_tags)` };
    }
    return c;
  });
  const of = (role: Role) => candidates.filter((c) => c.role === role);
  const assigned = new Set<Candidate>();
  const claims = new Map<string, Role>(candidates.map((c) => [refLabel(c.ref), c.role]));

  const problem = (kind: RoleProblemKind, role: Role, message: string, involved: ArrayRef[] = [], pool?: ArrayRef[]) => {
    const subject = involved.length ? `${role} (${list(involved)})` : role;
    problems.push({ kind, role, subject, message, candidates: pool ?? rankCandidates(role, allArrays, claims) });
  };

  /** Exactly one array for a stackless target role, or a problem. */
  const single = (role: Role): Candidate | undefined => {
    const cs = of(role);
    if (cs.length === 0) {
      problem('missing', role, `no array found for ${role} (${roleHint(role)})`);
      return undefined;
    }
    if (cs.length > 1) {
      problem(
        'ambiguous',
        role,
        `${cs.length} arrays claim ${role}: ${list(cs.map((c) => c.ref))}; choose one (--role ${role}=PATH[:KEY] or cornernet.json)`,
        [],
        cs.map((c) => c.ref),
      );
      return undefined;
    }
    return cs[0];
  };

  // 1. Sizes from the targets: B, C, H, W from the heatmaps, K from the mask.
  const gtTl = single('gt_tl_heat');
  const gtBr = single('gt_br_heat');
  let bchw: number[] | undefined;
  for (const g of [gtTl, gtBr]) {
    if (!g) continue;
    const s = g.ref.header.shape;
    if (s.length !== 4) {
      problem('inconsistent', g.role, `expected a [B,C,H,W] heatmap, got shape ${formatShape(s)}`, [g.ref]);
      continue;
    }
    if (!isFloatDType(g.ref.header.dtype) && !isIntegerDType(g.ref.header.dtype)) {
      problem('inconsistent', g.role, `expected a float heatmap, got ${g.ref.header.dtype}`, [g.ref]);
      continue;
    }
    if (!bchw) bchw = s;
    else if (!eqShape(bchw, s)) {
      problem('inconsistent', g.role, `shape ${formatShape(s)} differs from gt_tl_heat ${formatShape(bchw)}`, [g.ref]);
    }
    uses.push(stackless(g));
    assigned.add(g);
  }
  if (!bchw) {
    // No usable target heatmap: take the sizes from an output heatmap so that the other roles can
    // still be checked and every problem reported at once.
    const h = [...of('tl_heat'), ...of('br_heat')].find((c) => c.ref.header.shape.length >= 4);
    if (h) bchw = h.ref.header.shape.slice(-4);
  }
  const [B, C, H, W] = bchw ?? [NaN, NaN, NaN, NaN];

  let K = NaN;
  let mask: Candidate | undefined;
  if (options.mask) {
    for (const c of of('gt_mask')) {
      assigned.add(c);
      unusedReasons.set(refLabel(c.ref), `not used: gt_mask is synthesized (${options.mask === 'all' ? 'all slots valid' : 'from the indices'})`);
    }
  } else mask = single('gt_mask');
  if (mask) {
    const s = mask.ref.header.shape;
    const dt = mask.ref.header.dtype;
    if (s.length !== 2 || (bchw && s[0] !== B)) {
      problem('inconsistent', 'gt_mask', `expected [B,K] = [${B}, K], got ${formatShape(s)}`, [mask.ref]);
    } else {
      K = s[1]!;
      uses.push(stackless(mask));
      assigned.add(mask);
      if (!(dt === 'bool' || isIntegerDType(dt) || isFloatDType(dt))) {
        problem('inconsistent', 'gt_mask', `unsupported mask dtype ${dt}`, [mask.ref]);
      }
    }
  }

  if (Number.isNaN(K)) {
    // No usable mask: take K from the offset targets or the indices, so that the other roles are
    // still checked and only real problems are reported (not "expected [2, NaN, 2]").
    const k = [...of('gt_tl_regr'), ...of('gt_br_regr'), ...of('tl_ind'), ...of('br_ind')]
      .map((c) => c.ref.header.shape)
      .find((sh) => sh.length >= 2 && (!bchw || sh[0] === B));
    if (k) K = k[1]!;
  }

  // 2. Output heatmaps give S.
  let S: number | undefined;
  for (const role of ['tl_heat', 'br_heat'] as const) {
    const cs = of(role);
    if (cs.length === 0) {
      problem('missing', role, `no array found for ${role} (${roleHint(role)})`);
      continue;
    }
    const r = stackGroup(role, cs, [[B, C, H, W]], S);
    if (r) {
      S ??= r.count;
      r.uses.forEach((u) => uses.push(u));
      cs.forEach((c) => assigned.add(c));
    }
  }

  // 3. Tags and offsets: map or gathered, told apart by shape.
  const forms = new Map<string, { map?: RoleUse[]; gathered?: RoleUse[] }>();
  for (const corner of CORNERS) {
    for (const kind of ['tag', 'regr'] as const) {
      const role = `${corner}_${kind}` as Role;
      const ch = kind === 'tag' ? 1 : 2;
      const mapInner = [[B, ch, H, W]];
      const gatheredInner = kind === 'tag' ? [[B, K, 1], [B, K]] : [[B, K, 2]];
      const cs = of(role);
      const byForm: Record<Form, Candidate[]> = { map: [], gathered: [] };
      for (const c of cs) {
        const s = c.ref.header.shape;
        const asMap = fitStacked(s, mapInner);
        const asGathered = fitStacked(s, gatheredInner);
        if (asMap && asGathered) byForm[c.ref.key?.endsWith('_map') || c.ref.file.includes('_map') ? 'map' : 'gathered'].push(c);
        else if (asMap) byForm.map.push(c);
        else if (asGathered) byForm.gathered.push(c);
        else {
          problem(
            'inconsistent',
            role,
            `shape ${formatShape(s)} fits neither a map [S,B,${ch},H,W] = [${S ?? 'S'}, ${B}, ${ch}, ${H}, ${W}] nor gathered values [S,B,K,${ch}] = [${S ?? 'S'}, ${B}, ${K}, ${ch}] (B, H, W from the heatmaps, K from gt_mask)`,
            [c.ref],
          );
          assigned.add(c);
        }
        if (!isFloatDType(c.ref.header.dtype)) {
          problem('inconsistent', role, `expected float values, got ${c.ref.header.dtype}`, [c.ref]);
        }
      }
      const entry: { map?: RoleUse[]; gathered?: RoleUse[] } = {};
      for (const form of ['gathered', 'map'] as const) {
        if (!byForm[form].length) continue;
        const r = stackGroup(role, byForm[form], form === 'map' ? mapInner : gatheredInner, S);
        byForm[form].forEach((c) => assigned.add(c));
        if (r) entry[form] = r.uses.map((u) => ({ ...u, form }));
      }
      forms.set(role, entry);
      if (!cs.length) problem('missing', role, `no array found for ${role} (${roleHint(role)})`);
    }
  }

  // 4. Offset targets and indices.
  for (const corner of CORNERS) {
    const role = `gt_${corner}_regr` as Role;
    const g = single(role);
    if (g) {
      const s = g.ref.header.shape;
      if (!eqShape(s, [B, K, 2])) problem('inconsistent', role, `expected [B,K,2] = [${B}, ${K}, 2], got ${formatShape(s)}`, [g.ref]);
      else {
        uses.push(stackless(g));
        assigned.add(g);
      }
    }
  }
  const needIndex = (corner: Corner) =>
    ['tag', 'regr'].some((k) => {
      const f = forms.get(`${corner}_${k}`);
      return f && !f.gathered && f.map;
    });
  const haveIndex = new Map<Corner, boolean>();
  for (const corner of CORNERS) {
    const role = `${corner}_ind` as Role;
    const cs = of(role);
    haveIndex.set(corner, false);
    if (cs.length === 0) {
      if (needIndex(corner)) {
        const maps = ['tag', 'regr']
          .map((k) => forms.get(`${corner}_${k}`)?.map?.[0]?.ref)
          .filter((r): r is ArrayRef => !!r);
        problem('missing', role, `${list(maps)} ${maps.length > 1 ? 'are maps' : 'is a map'}: gathering needs the corner indices ${role} [B,K]`, []);
      }
      continue;
    }
    if (cs.length > 1) {
      problem('ambiguous', role, `${cs.length} arrays claim ${role}: ${list(cs.map((c) => c.ref))}`, [], cs.map((c) => c.ref));
      continue;
    }
    const c = cs[0]!;
    const s = c.ref.header.shape;
    if (!eqShape(s, [B, K])) problem('inconsistent', role, `expected [B,K] = [${B}, ${K}], got ${formatShape(s)}`, [c.ref]);
    else if (!isIntegerDType(c.ref.header.dtype)) problem('inconsistent', role, `indices must be integers, got ${c.ref.header.dtype}`, [c.ref]);
    else {
      uses.push({ ...stackless(c), purpose: needIndex(corner) ? 'loss' : 'check' });
      haveIndex.set(corner, true);
    }
    assigned.add(c);
  }

  if (options.mask === 'from-indices' && !haveIndex.get('tl') && !haveIndex.get('br')) {
    problem('missing', 'gt_mask', 'deriving gt_mask from the indices needs tl_ind or br_ind [B,K]; none was found (choose "all slots valid" or a mask array)');
  }
  if (options.mask && Number.isNaN(K) && !problems.length) {
    problem('missing', 'gt_mask', 'gt_mask is synthesized, but no array gives the number of object slots K (gt_tl_regr, gt_br_regr, tl_ind, br_ind)');
  }

  // 5. Gathered values feed the loss; maps besides them are checked against them (when indices exist).
  for (const [role, f] of forms) {
    const corner = role.slice(0, 2) as Corner;
    if (f.gathered) {
      f.gathered.forEach((u) => uses.push(u));
      if (f.map) {
        if (haveIndex.get(corner)) f.map.forEach((u) => uses.push({ ...u, purpose: 'check' }));
        else f.map.forEach((u) => unusedReasons.set(refLabel(u.ref), `${role} map not checked against the gathered values: no ${corner}_ind`));
      }
    } else if (f.map) {
      f.map.forEach((u) => uses.push(u));
    }
  }

  for (const c of candidates) {
    if (!assigned.has(c) && !uses.some((u) => sameRef(u.ref, c.ref))) {
      unusedReasons.set(refLabel(c.ref), `not used as ${c.role}`);
    }
  }
  const usedLabels = new Set(uses.map((u) => refLabel(u.ref)));
  const unused = allArrays
    .filter((r) => !usedLabels.has(refLabel(r)))
    .map((ref) => ({ ref, reason: unusedReasons.get(refLabel(ref)) ?? 'name matches no role' }));

  const dims =
    problems.length === 0 && S !== undefined && Number.isFinite(B) && Number.isFinite(K)
      ? { S, B: B!, C: C!, H: H!, W: W!, K }
      : undefined;
  return { dims, uses, unused, problems: dedupeProblems(problems), ...(options.mask ? { syntheticMask: options.mask } : {}) };

  /**
   * Arrays of one role (and one form) must cover the stacks exactly once: one array holding all
   * stacks (leading axis S, or no axis when S = 1), or one array per stack (`_k` names).
   */
  function stackGroup(
    role: Role,
    cs: Candidate[],
    inners: number[][],
    expectS: number | undefined,
  ): { count: number; uses: RoleUse[] } | undefined {
    const whole = cs.filter((c) => c.stack === undefined);
    const perStack = cs.filter((c) => c.stack !== undefined);
    if (whole.length > 1 || (whole.length && perStack.length)) {
      problem('ambiguous', role, `${cs.length} arrays claim ${role}: ${list(cs.map((c) => c.ref))}; choose one (--role ${role}=PATH[:KEY] or cornernet.json)`, [], cs.map((c) => c.ref));
      return undefined;
    }
    const expect = inners.map((i) => formatShape(i)).join(' or ');
    if (whole.length === 1) {
      const c = whole[0]!;
      const fit = fitStacked(c.ref.header.shape, inners);
      if (!fit) {
        problem('inconsistent', role, `expected ${expect} with an optional leading stack axis, got ${formatShape(c.ref.header.shape)}`, [c.ref]);
        return undefined;
      }
      if (expectS !== undefined && fit.count !== expectS) {
        problem('inconsistent', role, `has ${fit.count} stack(s) but the heatmaps have ${expectS}`, [c.ref]);
        return undefined;
      }
      return { count: fit.count, uses: [{ ...base(c), stacks: range(fit.count), stackAxis: fit.stackAxis }] };
    }
    const seen = new Map<number, Candidate>();
    for (const c of perStack) {
      const dup = seen.get(c.stack!);
      if (dup) {
        problem('ambiguous', role, `two arrays claim stack ${c.stack} of ${role}: ${refLabel(dup.ref)}, ${refLabel(c.ref)}`, [], [dup.ref, c.ref]);
        return undefined;
      }
      seen.set(c.stack!, c);
    }
    const ordered = [...perStack].sort((a, b) => a.stack! - b.stack!);
    // Per-stack files must be numbered 0, 1, ..., S-1: a gap (`_0`, `_2`) means a stack is missing
    // or misnamed, and renumbering it silently would pair stack 2's outputs with stack 1's targets.
    const gap = ordered.findIndex((c, i) => c.stack !== i);
    if (gap >= 0) {
      problem(
        'inconsistent',
        role,
        `per-stack arrays must be numbered 0..${ordered.length - 1}, got ${ordered.map((c) => `_${c.stack}`).join(', ')}: stack ${gap} is missing`,
        ordered.map((c) => c.ref),
      );
      return undefined;
    }
    const out: RoleUse[] = [];
    for (const [i, c] of ordered.entries()) {
      const fit = fitStacked(c.ref.header.shape, inners);
      if (!fit || fit.count !== 1) {
        problem('inconsistent', role, `stack ${c.stack}: expected ${expect}, got ${formatShape(c.ref.header.shape)}`, [c.ref]);
        return undefined;
      }
      out.push({ ...base(c), stacks: [i], stackAxis: fit.stackAxis });
    }
    if (expectS !== undefined && out.length !== expectS) {
      problem('inconsistent', role, `has ${out.length} stack(s) (${ordered.map((c) => c.stack).join(', ')}) but the heatmaps have ${expectS}`, ordered.map((c) => c.ref));
      return undefined;
    }
    return { count: out.length, uses: out };
  }
}

function base(c: Candidate): Omit<RoleUse, 'stacks' | 'stackAxis'> {
  return { role: c.role, ref: c.ref, purpose: 'loss', origin: c.origin, ...(c.note ? { note: c.note } : {}) };
}

function stackless(c: Candidate): RoleUse {
  return { ...base(c), stacks: [], stackAxis: false };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function dedupeProblems(ps: RoleProblem[]): RoleProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.kind}|${p.subject}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function roleHint(role: Role): string {
  const names = aliasesOf(role).filter((n) => !n.endsWith('_map'));
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', ...' : '');
  return `looked for ${shown}${isOutputRole(role) ? `, optionally _<stack>` : ''}`;
}

/**
 * Arrays that could fill `role`, plausible ones first: for a picker when inference fails.
 * `claims` (array label -> the role it plays) says which arrays are already taken: after the user
 * gives br_heat.npy to tl_heat, the freed tl_heat.npy is a better guess for br_heat than
 * gt_br_heat.npy, which gt_br_heat still claims. Without it, a name that is another role's counts
 * as taken.
 */
export function rankCandidates(role: Role, arrays: ArrayRef[], claims?: ReadonlyMap<string, Role>): ArrayRef[] {
  const score = (r: ArrayRef): number => {
    const n = r.header.shape.length;
    const dt = r.header.dtype;
    const name = (r.key ?? r.file).toLowerCase();
    let s = 0;
    if (name.includes(role.replace(/^gt_/, '').split('_')[0]!)) s += 1;
    // A name that is another role's (gt_tl_heat.npy offered for tl_heat) is a poor guess; one
    // that is this role's is a good one.
    const base = (r.key ?? r.file.split(/[\\/]/).pop()!).replace(/\.(npy|npz|safetensors)$/i, '');
    const named = parseRoleName(base);
    if (named?.role === role) s += 3;
    const claimedBy = claims ? claims.get(refLabel(r)) : named?.role;
    if (claimedBy !== undefined && claimedBy !== role) s -= 2;
    if (role.endsWith('heat')) s += n === 4 || n === 5 ? 2 : -5;
    else if (role === 'gt_mask' || role.endsWith('_ind')) s += n === 2 && (isIntegerDType(dt) || dt === 'bool') ? 2 : -5;
    else s += n >= 2 ? 1 : -5;
    return s;
  };
  return arrays
    .map((r) => ({ r, s: score(r) }))
    .filter((x) => x.s > -5)
    .sort((a, b) => b.s - a.s)
    .map((x) => x.r);
}

export { describe as describeRef, ALL_ROLES };
