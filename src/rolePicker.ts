/**
 * Asks the user which array plays a role, only when inference cannot tell (a role missing, or two
 * arrays claiming it), and offers to remember the answer in the folder's cornernet.json.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError } from './cornernet/model/errors';
import { discoverInputs, type InputSpec, type RoleAssignmentSpec } from './cornernet/inputs/discover';
import { resolveRoles } from './cornernet/inputs/resolve';
import { refLabel, type ArrayRef, type RoleProblem } from './cornernet/model/arrays';
import type { ConventionName } from './cornernet/model/conventions';
import { resolveDenseRoles } from './cornernet/inputs/conventionRoles';
import { chooseConvention } from './cornernet/run';
import { ROLE_DESCRIPTIONS, type Role } from './cornernet/model/roles';
import type { LossReport } from './cornernet/model/report';
import type { ReadLimits } from './tensor/limits';

interface ArrayItem extends vscode.QuickPickItem {
  ref: ArrayRef;
}

/** QuickPick text renders no markup, but `$(name)` becomes an icon: names are data, escape it. */
export function quickPickText(s: string): string {
  return s.replace(/\$\(/g, '\\$(');
}

function itemFor(ref: ArrayRef, current?: boolean): ArrayItem {
  const rel = vscode.workspace.asRelativePath(ref.file);
  return {
    label: quickPickText(ref.key !== undefined ? `${path.basename(ref.file)}:${ref.key}` : path.basename(ref.file)),
    description: `[${ref.header.shape.join(', ')}] ${ref.header.dtype}${current ? ' (current)' : ''}`,
    detail: quickPickText(rel),
    ref,
  };
}

/** One QuickPick: which array is `role`? Undefined when the user dismisses it. */
export async function pickArrayForRole(role: Role, candidates: ArrayRef[], reason: string, current?: ArrayRef): Promise<ArrayRef | undefined> {
  const items = candidates.map((c) => itemFor(c, current !== undefined && refLabel(c) === refLabel(current)));
  const picked = await vscode.window.showQuickPick(items, {
    title: `CornerNet: which array is ${role}?`,
    placeHolder: `${reason} — ${ROLE_DESCRIPTIONS[role]}`,
    matchOnDescription: true,
    matchOnDetail: true,
    ignoreFocusOut: true,
  });
  return picked?.ref;
}

export interface SettledRoles {
  spec: InputSpec;
  /** The arrays the loss will read (CornerNet's or a dense convention's resolution). */
  resolution: { uses: { ref: ArrayRef }[] };
  convention: ConventionName;
  /** Roles the user chose in a picker (to offer remembering them). */
  picked: RoleAssignmentSpec[];
}

/**
 * Resolves roles from headers; for each missing or ambiguous role asks the user. Inconsistent
 * inputs throw (a picker cannot fix a wrong shape). Undefined: the user cancelled.
 */
export async function settleRoles(
  spec: InputSpec,
  limits?: Partial<ReadLimits>,
  conventions: { convention?: ConventionName; settingConvention?: ConventionName } = {},
): Promise<SettledRoles | undefined> {
  const picked: RoleAssignmentSpec[] = [];
  let current = spec;
  for (let round = 0; round < 20; round++) {
    const discovery = await discoverInputs(current, limits);
    const convention = chooseConvention(discovery, conventions).name;
    const resolution: { problems: RoleProblem[]; uses: { ref: ArrayRef }[] } =
      convention === 'cornernet' ? resolveRoles(discovery.candidates, discovery.arrays) : resolveDenseRoles(convention, discovery.arrays, discovery.assignments);
    const askable = resolution.problems.filter((p) => p.kind !== 'inconsistent' && p.candidates.length > 0);
    if (!resolution.problems.length) return { spec: current, resolution, picked, convention };
    if (!askable.length) {
      const p = resolution.problems[0]!;
      throw new InputError(p.subject, p.message);
    }
    const p = askable[0]!;
    const ref = await pickArrayForRole(p.role, p.candidates, p.kind === 'missing' ? `no array is named like ${p.role}` : 'several arrays claim it');
    if (!ref) return undefined;
    const choice: RoleAssignmentSpec = { name: p.role, path: ref.file, ...(ref.key !== undefined ? { key: ref.key } : {}) };
    picked.push(choice);
    current = { ...current, roles: [...(current.roles ?? []).filter((r) => r.name !== p.role), choice] };
  }
  throw new InputError('roles', 'could not settle the roles');
}

/** "Change roles...": pick a role, then its array, from the arrays of the current inputs. */
export async function changeRoles(spec: InputSpec, report: LossReport | undefined, limits?: Partial<ReadLimits>): Promise<InputSpec | undefined> {
  const discovery = await discoverInputs({ paths: spec.paths }, limits);
  const used = new Map((report?.inputs.roles ?? []).filter((u) => u.purpose === 'loss').map((u) => [u.role, u]));
  const roleItems = Object.keys(ROLE_DESCRIPTIONS).map((role) => {
    const u = used.get(role);
    return {
      label: role,
      description: u ? quickPickText(refLabel(u)) : '(not set)',
      detail: ROLE_DESCRIPTIONS[role as Role],
      role: role as Role,
    };
  });
  const role = await vscode.window.showQuickPick(roleItems, { title: 'CornerNet: change which role?', ignoreFocusOut: true });
  if (!role) return undefined;
  const u = used.get(role.role);
  const current = u ? discovery.arrays.find((a) => a.file === u.file && a.key === u.key) : undefined;
  const ref = await pickArrayForRole(role.role, discovery.arrays, 'choose from the inputs', current);
  if (!ref) return undefined;
  const choice = { name: role.role, path: ref.file, ...(ref.key !== undefined ? { key: ref.key } : {}) };
  return { ...spec, roles: [...(spec.roles ?? []).filter((r) => r.name !== role.role), choice] };
}
