/**
 * The roles a tensor can play in CornerNet's loss, and how a file stem or archive key names one.
 * Pure string logic: shapes and dtypes settle the rest in `resolve.ts`.
 */

export type Corner = 'tl' | 'br';
export const CORNERS: readonly Corner[] = ['tl', 'br'];

/** Network outputs, in AELoss order (`outs[0::6]` .. `outs[5::6]`). */
export const OUTPUT_ROLES = ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr'] as const;
/** Targets, in AELoss order; the last two only in CornerNet-Lite (`targets[5:7]`). */
export const TARGET_ROLES = ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr', 'tl_ind', 'br_ind'] as const;

export type OutputRole = (typeof OUTPUT_ROLES)[number];
export type TargetRole = (typeof TARGET_ROLES)[number];
export type Role = OutputRole | TargetRole;
export const ALL_ROLES: readonly Role[] = [...OUTPUT_ROLES, ...TARGET_ROLES];

export function isOutputRole(r: Role): r is OutputRole {
  return (OUTPUT_ROLES as readonly string[]).includes(r);
}

/** What a role's array looks like, for messages and QuickPicks. */
export const ROLE_DESCRIPTIONS: Readonly<Record<Role, string>> = {
  tl_heat: 'top-left heatmap logits [S,B,C,H,W] or [B,C,H,W]',
  br_heat: 'bottom-right heatmap logits [S,B,C,H,W] or [B,C,H,W]',
  tl_tag: 'top-left embeddings: map [S,B,1,H,W] or gathered [S,B,K,1]',
  br_tag: 'bottom-right embeddings: map [S,B,1,H,W] or gathered [S,B,K,1]',
  tl_regr: 'top-left offsets: map [S,B,2,H,W] or gathered [S,B,K,2]',
  br_regr: 'bottom-right offsets: map [S,B,2,H,W] or gathered [S,B,K,2]',
  gt_tl_heat: 'top-left target heatmap [B,C,H,W]',
  gt_br_heat: 'bottom-right target heatmap [B,C,H,W]',
  gt_mask: 'object-slot mask [B,K] (uint8)',
  gt_tl_regr: 'top-left target offsets [B,K,2]',
  gt_br_regr: 'bottom-right target offsets [B,K,2]',
  tl_ind: 'top-left corner indices y*W+x [B,K]',
  br_ind: 'bottom-right corner indices y*W+x [B,K]',
};

function cornerAliases(corner: Corner): Map<string, Role> {
  const m = new Map<string, Role>();
  const c = corner;
  const add = (role: Role, names: string[]) => names.forEach((n) => m.set(n, role));
  add(`${c}_heat`, [`${c}_heat`, `${c}_heats`, `${c}_heatmap`, `${c}_hm`]);
  const tagNames = [`${c}_tag`, `${c}_tags`, `${c}_emb`, `${c}_embs`, `${c}_embedding`, `${c}_embeddings`];
  add(`${c}_tag`, [...tagNames, ...tagNames.map((n) => `${n}_map`)]);
  const regrNames = [`${c}_regr`, `${c}_regrs`, `${c}_off`, `${c}_offs`, `${c}_offset`, `${c}_offsets`];
  add(`${c}_regr`, [...regrNames, ...regrNames.map((n) => `${n}_map`)]);
  // CornerNet's sampler calls the target heatmaps `tl_heatmaps` (plural): a target, not an output.
  add(`gt_${c}_heat`, [`gt_${c}_heat`, `gt_${c}_heats`, `gt_${c}_heatmap`, `gt_${c}_heatmaps`, `gt_${c}_hm`, `${c}_heatmaps`]);
  add(`gt_${c}_regr`, regrNames.map((n) => `gt_${n}`));
  add(`${c}_ind`, [`${c}_ind`, `${c}_inds`, `gt_${c}_ind`, `gt_${c}_inds`, `${c}_index`, `${c}_indices`]);
  return m;
}

const ALIASES: ReadonlyMap<string, Role> = new Map<string, Role>([
  ...cornerAliases('tl'),
  ...cornerAliases('br'),
  ...['gt_mask', 'gt_masks', 'mask', 'masks', 'tag_mask', 'tag_masks', 'gt_tag_mask', 'gt_tag_masks'].map(
    (n): [string, Role] => [n, 'gt_mask'],
  ),
]);

export interface ParsedName {
  role: Role;
  /** Stack index from a `<stem>_<k>` suffix (outputs only). */
  stack?: number;
  /** The name says `_map` (a hint only: the shape decides the form). */
  mapHint: boolean;
}

/** The names that fill `role`, canonical first (for messages). */
export function aliasesOf(role: Role): string[] {
  return [...ALIASES].filter(([, r]) => r === role).map(([n]) => n);
}

/** Lower case, `-` and spaces to `_`, last path component only (npz keys may look like paths). */
export function normalizeName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, '_');
}

/**
 * The role a file stem or key names, if any: `tl_heat`, `TL-Heat`, `tl_heatmap_1` (stack 1),
 * `tl_tag_map`, `tag_masks`, `gt_br_offsets`... Unknown names give undefined.
 */
export function parseRoleName(name: string): ParsedName | undefined {
  const n = normalizeName(name);
  const direct = ALIASES.get(n);
  if (direct) return { role: direct, mapHint: n.endsWith('_map') };
  const m = /^(.*)_(\d{1,3})$/.exec(n);
  if (m) {
    const role = ALIASES.get(m[1]!);
    if (role && isOutputRole(role)) {
      return { role, stack: Number(m[2]), mapHint: m[1]!.endsWith('_map') };
    }
  }
  return undefined;
}

/** The most stacks a per-stack file name may number (`tl_heat_0` .. `tl_heat_999`). */
export const MAX_STACK_SUFFIX = 999;

/**
 * Why a name that looks like a role's cannot be one (`tl_heat_99999999999999999999`: a stack
 * suffix beyond MAX_STACK_SUFFIX), so that it is refused by name instead of silently ignored.
 */
export function roleNameProblem(name: string): string | undefined {
  const m = /^(.*)_(\d+)$/.exec(normalizeName(name));
  if (!m || m[2]!.length <= 3) return undefined;
  const role = ALIASES.get(m[1]!);
  if (!role || !isOutputRole(role)) return undefined;
  return `stack suffix _${m[2]!.length > 12 ? m[2]!.slice(0, 12) + '...' : m[2]} of ${role} is out of range (stacks are numbered 0..${MAX_STACK_SUFFIX})`;
}

/** `tl_tag` -> `tl_ind`: CornerNet's sampler names the index arrays `tl_tags`/`br_tags`. */
export function indexRoleForTag(role: Role): Role | undefined {
  if (role === 'tl_tag') return 'tl_ind';
  if (role === 'br_tag') return 'br_ind';
  return undefined;
}

/** Positional npz keys written by `np.savez(f, *outs)` / `np.savez(f, *targets)`. */
export function positionalIndex(key: string): number | undefined {
  const m = /^arr_(\d+)$/.exec(key);
  return m ? Number(m[1]) : undefined;
}
