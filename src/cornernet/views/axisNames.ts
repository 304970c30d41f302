/**
 * Names of an array's axes for the tensor viewer, from the role its file stem or archive key
 * names: `tl_heat` [S,B,C,H,W] -> stack, batch, class, y, x; `gt_mask` [B,K] -> batch, object.
 * Unknown names (or shapes that fit none of the role's layouts) give `axis 0`, `axis 1`... Pure.
 */
import { DENSE_ROLES, denseRoleOf } from '../inputs/conventionRoles';
import { parseRoleName, type Role } from '../model/roles';

export interface AxisNaming {
  /** One label per axis. */
  names: string[];
  /** The role the name gives, when its layout fits the shape. */
  role?: string;
  /** The array holds heatmap logits (a sigmoid gives the probabilities). */
  logits: boolean;
}

/** A layout symbol: a named axis, or a literal size the axis must have. */
type Sym = 'B' | 'C' | 'H' | 'W' | 'K' | 'E' | 1 | 2 | 4;

const LABEL: Record<string, string> = { B: 'batch', C: 'class', H: 'y', W: 'x', K: 'object', E: 'channel', '1': 'channel', '4': 'coord' };

/** CornerNet's own roles: each role's layouts without the stack axis. */
const CORNERNET: Record<Role, { layouts: Sym[][]; stacked: boolean; pair?: string }> = {
  tl_heat: { layouts: [['B', 'C', 'H', 'W']], stacked: true },
  br_heat: { layouts: [['B', 'C', 'H', 'W']], stacked: true },
  tl_tag: { layouts: [['B', 1, 'H', 'W'], ['B', 'K', 1], ['B', 'K']], stacked: true },
  br_tag: { layouts: [['B', 1, 'H', 'W'], ['B', 'K', 1], ['B', 'K']], stacked: true },
  tl_regr: { layouts: [['B', 2, 'H', 'W'], ['B', 'K', 2]], stacked: true, pair: 'offset (x, y)' },
  br_regr: { layouts: [['B', 2, 'H', 'W'], ['B', 'K', 2]], stacked: true, pair: 'offset (x, y)' },
  gt_tl_heat: { layouts: [['B', 'C', 'H', 'W']], stacked: false },
  gt_br_heat: { layouts: [['B', 'C', 'H', 'W']], stacked: false },
  gt_mask: { layouts: [['B', 'K']], stacked: false },
  gt_tl_regr: { layouts: [['B', 'K', 2]], stacked: false, pair: 'offset (x, y)' },
  gt_br_regr: { layouts: [['B', 'K', 2]], stacked: false, pair: 'offset (x, y)' },
  tl_ind: { layouts: [['B', 'K']], stacked: false },
  br_ind: { layouts: [['B', 'K']], stacked: false },
};

/** Dense roles whose values are logits (mmdetection's CenterNet head applies the sigmoid itself). */
const DENSE_LOGITS = new Set(['tl_heats', 'br_heats', 'hm']);

function fits(layout: readonly Sym[], shape: readonly number[], offset: number): boolean {
  return layout.length + offset === shape.length && layout.every((s, i) => typeof s !== 'number' || shape[i + offset] === s);
}

function label(s: Sym, pair: string | undefined): string {
  return s === 2 && pair ? pair : s === 2 ? 'component' : LABEL[String(s)]!;
}

/** The generic names: axis 0, axis 1... */
export function plainAxisNames(nd: number): string[] {
  return Array.from({ length: nd }, (_, a) => `axis ${a}`);
}

/**
 * Axis names of an array called `name` (a file stem or an archive key; a path's last component
 * counts) with `shape`. A stacked role (network outputs) may carry a leading stack axis.
 */
export function axisNaming(name: string, shape: readonly number[]): AxisNaming {
  const nd = shape.length;
  const plain: AxisNaming = { names: plainAxisNames(nd), logits: false };
  const stem = name.replace(/\.(npy|npz|safetensors)$/i, '');
  const tryLayouts = (role: string, layouts: readonly (readonly Sym[])[], stacked: boolean, pair: string | undefined, logits: boolean, stackName: string): AxisNaming | undefined => {
    const found: { names: string[]; pinnedLast: boolean }[] = [];
    for (const l of layouts) {
      const pinnedLast = typeof l[l.length - 1] === 'number';
      if (fits(l, shape, 0)) found.push({ names: l.map((s) => label(s, pair)), pinnedLast });
      if (stacked && fits(l, shape, 1)) found.push({ names: [stackName, ...l.map((s) => label(s, pair))], pinnedLast });
    }
    // [S,B,K,2] of size [2,2,128,2] also fits a map [B,2,H,W]: a last axis of the literal size
    // (2 offsets) is likelier than a map 2 pixels wide.
    const best = found.find((f) => f.pinnedLast) ?? found[0];
    return best ? { names: best.names, role, logits } : undefined;
  };
  const parsed = parseRoleName(stem);
  if (parsed) {
    const spec = CORNERNET[parsed.role];
    const heat = parsed.role === 'tl_heat' || parsed.role === 'br_heat';
    // `tl_heat_1` is stack 1 already: no stack axis then.
    const named = tryLayouts(parsed.role, spec.layouts, spec.stacked && parsed.stack === undefined, spec.pair, heat, 'stack');
    if (named) return named;
  }
  const dense = denseRoleOf(stem);
  if (dense) {
    const spec = DENSE_ROLES[dense.convention].find((s) => s.role === dense.role);
    if (spec) {
      const pair = spec.role.includes('wh') ? 'size (w, h)' : spec.role === 'corner_embedding' ? 'corner' : 'offset (x, y)';
      const named = tryLayouts(spec.role, [spec.inner as Sym[]], spec.stacked && dense.stack === undefined, pair, DENSE_LOGITS.has(spec.role), dense.convention.startsWith('mmdet') ? 'level' : 'stack');
      if (named) return named;
    }
  }
  return plain;
}

export { offersSigmoid } from './sigmoidOffer';
