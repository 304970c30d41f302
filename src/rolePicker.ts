/**
 * Asks the user which array plays a role, only when inference cannot tell (a role missing, or two
 * arrays claiming it): one QuickPick step per role with a step counter, roles taken from the files
 * next to selected files first, arrays of the wrong shape or dtype not offered, a missing mask
 * asked as such. The caller offers to remember the answers in the folder's cornernet.json.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InputError } from './cornernet/model/errors';
import type { InputSpec, RoleAssignmentSpec } from './cornernet/inputs/discover';
import { rankCandidates } from './cornernet/inputs/resolve';
import { refLabel, type ArrayRef, type MaskSynthesis, type RoleProblem } from './cornernet/model/arrays';
import type { ConventionName } from './cornernet/model/conventions';
import {
  canDeriveMask,
  choicesForRole,
  derivedMaskCount,
  folderArrays,
  folderOfFiles,
  settleState,
  siblingFills,
  unclaimedInputs,
  withMask,
  type Settling,
  type SiblingFill,
} from './cornernet/inputs/rolePicking';
import { log } from './log';
import { ROLE_DESCRIPTIONS, type Role } from './cornernet/model/roles';
import type { LossReport } from './cornernet/model/report';
import type { ReadLimits } from './tensor/limits';

/** QuickPick text renders no markup, but `$(name)` becomes an icon: names are data, escape it. */
export function quickPickText(s: string): string {
  return s.replace(/\$\(/g, '\\$(');
}

export interface SettledRoles {
  spec: InputSpec;
  /** The arrays the loss will read (CornerNet's or a dense convention's resolution). */
  resolution: { uses: { ref: ArrayRef }[] };
  convention: ConventionName;
  /** Roles the user chose in a picker (to offer remembering them). */
  picked: RoleAssignmentSpec[];
  /** The user chose to synthesize gt_mask (also offered for remembering). */
  mask?: MaskSynthesis;
  /** Roles taken from the files next to the selected ones, by folder (already said in a notification). */
  filled: SiblingFill[];
}

/** What the role pickers showed (integration tests read it through the API). */
export interface PickerRecord {
  title: string;
  step?: number;
  totalSteps?: number;
  placeholder: string;
  items: string[];
  /** Separator labels, in order. */
  sections: string[];
}
const pickerRecords: PickerRecord[] = [];
export function rolePickerLog(): PickerRecord[] {
  return pickerRecords.slice();
}

type Conventions = { convention?: ConventionName; settingConvention?: ConventionName };

interface StepItem extends vscode.QuickPickItem {
  ref?: ArrayRef;
  mask?: MaskSynthesis;
  fill?: SiblingFill;
  /** "Choose each role myself" (no folder fill). */
  none?: true;
}

/**
 * One QuickPick step with a counter ("2/5" in the title bar) and a Back button after the first
 * step. Resolves with the accepted item, 'back', or undefined when dismissed.
 */
export function stepPick<T extends vscode.QuickPickItem>(opts: { title: string; placeholder: string; step?: number; totalSteps?: number; items: T[]; back: boolean }): Promise<T | 'back' | undefined> {
  const qp = vscode.window.createQuickPick<T>();
  qp.title = opts.title;
  qp.placeholder = opts.placeholder;
  if (opts.step !== undefined) qp.step = opts.step;
  if (opts.totalSteps !== undefined) qp.totalSteps = opts.totalSteps;
  qp.items = opts.items;
  qp.ignoreFocusOut = true;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  if (opts.back) qp.buttons = [vscode.QuickInputButtons.Back];
  pickerRecords.push({
    title: opts.title,
    ...(opts.step !== undefined ? { step: opts.step } : {}),
    ...(opts.totalSteps !== undefined ? { totalSteps: opts.totalSteps } : {}),
    placeholder: opts.placeholder,
    items: opts.items.filter((i) => i.kind !== vscode.QuickPickItemKind.Separator).map((i) => i.label),
    sections: opts.items.filter((i) => i.kind === vscode.QuickPickItemKind.Separator).map((i) => i.label),
  });
  if (pickerRecords.length > 50) pickerRecords.shift();
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: T | 'back' | undefined) => {
      if (done) return;
      done = true;
      resolve(v);
      qp.dispose();
    };
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0] ?? qp.activeItems[0];
      if (item) finish(item);
    });
    qp.onDidTriggerButton((b) => {
      if (b === vscode.QuickInputButtons.Back) finish('back');
    });
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (v: number) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Size and modification time of files, read once per picker session. */
class FileFacts {
  private readonly cache = new Map<string, Promise<{ size: number; mtimeMs: number } | undefined>>();
  get(file: string) {
    let p = this.cache.get(file);
    if (!p) {
      p = fsp.stat(file).then((st) => ({ size: st.size, mtimeMs: st.mtimeMs }), () => undefined);
      this.cache.set(file, p);
    }
    return p;
  }
}

async function arrayItem(ref: ArrayRef, facts: FileFacts, note?: string): Promise<StepItem> {
  const st = await facts.get(ref.file);
  const size = st ? (ref.key !== undefined ? `${formatBytes(ref.header.dataBytes)} in a ${formatBytes(st.size)} file` : formatBytes(st.size)) : 'size unknown';
  return {
    label: quickPickText(ref.key !== undefined ? `${path.basename(ref.file)}:${ref.key}` : path.basename(ref.file)),
    description: `[${ref.header.shape.join(', ')}] ${ref.header.dtype} · ${size}${st ? ` · modified ${formatTime(st.mtimeMs)}` : ''}${note ? ` · ${note}` : ''}`,
    detail: quickPickText(vscode.workspace.asRelativePath(ref.file)),
    ref,
  };
}

const separator = (label: string): StepItem => ({ label, kind: vscode.QuickPickItemKind.Separator });

/** The spec with the choices made so far. */
function applyChoices(base: InputSpec, fill: SiblingFill | undefined, choices: Choice[]): InputSpec {
  let spec: InputSpec = { ...base, roles: [...(base.roles ?? []), ...(fill?.roles ?? [])] };
  for (const c of choices) {
    if (c.kind === 'mask') spec = withMask(spec, c.mask);
    else if (c.kind === 'array') spec = { ...spec, roles: [...(spec.roles ?? []).filter((r) => r.name !== c.assign.name), c.assign] };
  }
  return spec;
}

type Choice =
  | { kind: 'fill'; role: string; fill?: SiblingFill }
  | { kind: 'array'; role: string; assign: RoleAssignmentSpec }
  | { kind: 'mask'; role: string; mask: MaskSynthesis };

/**
 * Resolves roles from headers. Roles missing from selected files are first taken from the tensor
 * files next to them (one folder: automatically, and said so; several: "Take the rest from folder
 * X"); each role still missing or ambiguous is then one QuickPick step (step n of the roles left,
 * Back to change the previous answer), listing only arrays whose shape and dtype fit, with size
 * and modification time. A missing gt_mask is asked as such: "All slots valid", "Derive from the
 * indices", or a mask array, never an index array. Inconsistent inputs throw (a picker cannot fix
 * a wrong shape). Undefined: the user cancelled.
 */
export async function settleRoles(spec: InputSpec, limits?: Partial<ReadLimits>, conventions: Conventions = {}): Promise<SettledRoles | undefined> {
  const facts = new FileFacts();
  let state = await settleState(spec, limits, conventions);
  if (!state.problems.length) return { spec, resolution: { uses: state.uses }, picked: [], convention: state.convention, filled: [] };

  // 1. The files next to the selected ones.
  const fills = await siblingFills(spec, limits, conventions);
  let autoFill: SiblingFill | undefined;
  if (fills.length === 1) {
    autoFill = fills[0]!;
    const msg = `Took ${autoFill.filled.join(', ')} from the files next to the selection in ${vscode.workspace.asRelativePath(autoFill.folder)}: ${autoFill.roles.map((r) => refLabel({ file: path.basename(r.path), key: r.key })).join(', ')}`;
    log().info(msg);
    void vscode.window.showInformationMessage(`CornerNet: ${msg}`);
  }
  // Arrays a picker may offer: the inputs, and the tensor files next to selected files.
  const pool: ArrayRef[] = [];
  for (const folder of await folderOfFiles(spec.paths)) {
    const d = await folderArrays(folder, limits);
    if (d) pool.push(...d.arrays);
  }

  const choices: Choice[] = [];
  for (let round = 0; round < 60; round++) {
    const fillChoice = choices.find((c): c is Extract<Choice, { kind: 'fill' }> => c.kind === 'fill');
    const current = applyChoices(spec, autoFill ?? fillChoice?.fill, choices);
    state = await settleState(current, limits, conventions);
    // Missing or ambiguous roles are asked (CornerNet's from every array that fits, the files next
    // to the selection included); a role nothing fits fails in its step, with the reasons.
    const askable = state.problems.filter((p) => p.kind !== 'inconsistent' && (p.candidates.length > 0 || state.convention === 'cornernet'));
    if (!state.problems.length) {
      const mask = [...choices].reverse().find((c): c is Extract<Choice, { kind: 'mask' }> => c.kind === 'mask')?.mask;
      return {
        spec: current,
        resolution: { uses: state.uses },
        picked: choices.filter((c): c is Extract<Choice, { kind: 'array' }> => c.kind === 'array').map((c) => c.assign),
        convention: state.convention,
        ...(mask ? { mask } : {}),
        filled: autoFill ? [autoFill] : fillChoice?.fill ? [fillChoice.fill] : [],
      };
    }
    if (!askable.length) {
      const p = state.problems[0]!;
      throw new InputError(p.subject, p.message);
    }
    const roles = [...new Set(askable.map((p) => p.role as string))];
    const askFill = !autoFill && fills.length > 1 && !fillChoice;
    const step = choices.length + 1;
    const totalSteps = choices.length + roles.length + (askFill ? 1 : 0);
    const back = choices.length > 0;
    let picked: StepItem | 'back' | undefined;
    let choiceOf: (item: StepItem) => Choice;
    if (askFill) {
      const items: StepItem[] = fills.map((f) => ({
        label: quickPickText(`Take the rest from folder ${vscode.workspace.asRelativePath(f.folder)}`),
        description: `fills ${f.filled.join(', ')}`,
        detail: quickPickText(f.roles.map((r) => refLabel({ file: path.basename(r.path), key: r.key })).join(', ')),
        fill: f,
      }));
      items.push({ label: 'Choose each missing role myself', description: `${roles.length} role${roles.length > 1 ? 's' : ''}: ${roles.join(', ')}`, none: true });
      picked = await stepPick({
        title: 'CornerNet: roles missing from the selection',
        placeholder: `The selected files lack ${roles.join(', ')}; the folders next to them have them`,
        step,
        totalSteps,
        items,
        back,
      });
      choiceOf = (item) => ({ kind: 'fill', role: '(folder)', ...(item.fill ? { fill: item.fill } : {}) });
    } else {
      const p = askable.find((x) => x.role === roles[0])!;
      const ask = await roleStep(p, state, pool, facts, limits);
      picked = await stepPick({ ...ask, step, totalSteps, back });
      choiceOf = (item) =>
        item.mask
          ? { kind: 'mask', role: p.role, mask: item.mask }
          : { kind: 'array', role: p.role, assign: { name: p.role, path: item.ref!.file, ...(item.ref!.key !== undefined ? { key: item.ref!.key } : {}) } };
    }
    if (picked === undefined) return undefined;
    if (picked === 'back') {
      choices.pop();
      continue;
    }
    const c = choiceOf(picked);
    log().info(`role step ${step}/${totalSteps}: ${c.kind === 'array' ? `${c.role} = ${refLabel({ file: c.assign.path, key: c.assign.key })}` : c.kind === 'mask' ? `gt_mask synthesized (${c.mask})` : c.fill ? `took ${c.fill.filled.join(', ')} from ${c.fill.folder}` : 'no folder fill'}`);
    choices.push(c);
  }
  throw new InputError('roles', 'could not settle the roles');
}

/** The QuickPick of one role's step: its title, placeholder and items. */
async function roleStep(p: RoleProblem, state: Settling, pool: ArrayRef[], facts: FileFacts, limits?: Partial<ReadLimits>): Promise<{ title: string; placeholder: string; items: StepItem[] }> {
  const reason = p.kind === 'missing' ? `no array is named like ${p.role}` : 'several arrays claim it';
  const inputs = [...state.discovery.arrays, ...pool];
  if (state.convention !== 'cornernet') {
    // A dense convention's roles: the resolver's candidates, as they are.
    if (!p.candidates.length) throw new InputError(p.subject, p.message);
    return {
      title: `CornerNet: which array is ${p.role}?`,
      placeholder: reason,
      items: await Promise.all(p.candidates.map((r) => arrayItem(r, facts))),
    };
  }
  const role = p.role as Role;
  // Selected arrays that play no role come first: the user chose them for something.
  const ranked = p.kind === 'ambiguous' ? p.candidates : [...unclaimedInputs(state), ...p.candidates, ...rankCandidates(role, inputs)];
  // An ambiguous role offers the arrays that claim it; a missing one every array that fits.
  const sorted = choicesForRole(role, p.kind === 'ambiguous' ? p.candidates : inputs, state, ranked);
  if (sorted.incompatible.length) {
    log().info(`not offered for ${role}: ${sorted.incompatible.map((x) => `${vscode.workspace.asRelativePath(refLabel(x.ref))} (${x.reason})`).join('; ')}`);
  }
  const d = state.dims;
  if (role === 'gt_mask' && p.kind === 'missing') {
    const BK = `${d.B ?? 'B'}×${d.K ?? 'K'}`;
    const derivable = canDeriveMask(state);
    const count = derivable ? await derivedMaskCount(state, limits) : undefined;
    const padding = count ? count.total - count.valid : 0;
    const all: StepItem = {
      label: 'All slots valid',
      description: `every one of the ${BK} object slots holds an object`,
      detail: padding
        ? `gt_mask synthesized as ones: ${padding} of these slots have both indices 0 (padding?) and would count as objects`
        : 'gt_mask synthesized as ones: right when the batch has no padding slots',
      mask: 'all',
    };
    const derive: StepItem = {
      label: 'Derive from the indices',
      description: `slots with a non-zero tl_ind or br_ind are valid${count ? `: ${count.valid} of ${count.total} slots` : ''}`,
      detail: "CornerNet's sampler leaves both indices 0 past the last object",
      mask: 'from-indices',
    };
    // The likelier answer first: padding slots (indices 0) make "all slots valid" wrong.
    const items: StepItem[] = !derivable ? [all] : count && count.valid < count.total ? [derive, all] : [all, derive];
    if (sorted.compatible.length) {
      items.push(separator(`mask arrays [${d.B ?? 'B'}, ${d.K ?? 'K'}] bool or integer`));
      for (const r of sorted.compatible) items.push(await arrayItem(r, facts));
    }
    return {
      title: 'CornerNet: gt_mask is missing',
      placeholder: `No object-slot mask [B,K] was found (looked for gt_mask, mask, tag_masks...). ${derivable ? 'Count every slot, derive it from the indices, or choose an array' : 'Count every slot or choose an array (no tl_ind/br_ind to derive it from)'}`,
      items,
    };
  }
  const items: StepItem[] = [];
  for (const r of sorted.compatible) items.push(await arrayItem(r, facts));
  if (sorted.usedElsewhere.length) {
    items.push(separator('already used as another role'));
    for (const x of sorted.usedElsewhere) items.push(await arrayItem(x.ref, facts, `now ${x.role}`));
  }
  if (!items.length) {
    const why = sorted.incompatible.slice(0, 4).map((x) => `${path.basename(refLabel(x.ref))}: ${x.reason}`).join('; ');
    throw new InputError(p.subject, `${p.message}; no array fits ${role} (${ROLE_DESCRIPTIONS[role]})${why ? `: ${why}` : ''}`);
  }
  return {
    title: `CornerNet: which array is ${role}?`,
    placeholder: `${reason} — ${ROLE_DESCRIPTIONS[role]}${sorted.incompatible.length ? ` (${sorted.incompatible.length} array${sorted.incompatible.length > 1 ? 's' : ''} of another shape or dtype not listed)` : ''}`,
    items,
  };
}

/**
 * "Change roles...": pick a role, then its array among the arrays of the current inputs that fit
 * it (those playing another role last); for gt_mask also "All slots valid" and "Derive from the
 * indices", and never an index array.
 */
export async function changeRoles(spec: InputSpec, report: LossReport | undefined, limits?: Partial<ReadLimits>): Promise<InputSpec | undefined> {
  const state = await settleState(spec, limits, { convention: 'cornernet' });
  const used = new Map((report?.inputs.roles ?? []).filter((u) => u.purpose === 'loss').map((u) => [u.role, u]));
  const maskLabel = (m: MaskSynthesis) => (m === 'all' ? 'All slots valid' : 'Derive from the indices');
  const roleItems = Object.keys(ROLE_DESCRIPTIONS).map((role) => {
    const u = used.get(role);
    return {
      label: role,
      description: u ? quickPickText(refLabel(u)) : role === 'gt_mask' && spec.mask ? `(synthesized: ${maskLabel(spec.mask)})` : '(not set)',
      detail: ROLE_DESCRIPTIONS[role as Role],
      role: role as Role,
    };
  });
  const role = await vscode.window.showQuickPick(roleItems, { title: 'CornerNet: change which role?', ignoreFocusOut: true });
  if (!role) return undefined;
  const u = used.get(role.role);
  const isCurrent = (r: ArrayRef) => u !== undefined && r.file === u.file && r.key === u.key;
  const facts = new FileFacts();
  const sorted = choicesForRole(role.role, state.discovery.arrays, { uses: state.uses.filter((x) => x.role !== role.role), dims: state.dims });
  const items: StepItem[] = [];
  if (role.role === 'gt_mask') {
    for (const m of ['from-indices', 'all'] as const) {
      if (m === 'from-indices' && !canDeriveMask(state)) continue;
      items.push({ label: maskLabel(m), description: `gt_mask synthesized${spec.mask === m ? ' (current)' : ''}`, mask: m });
    }
    if (sorted.compatible.length) items.push(separator('mask arrays'));
  }
  for (const r of sorted.compatible) items.push(await arrayItem(r, facts, isCurrent(r) ? 'current' : undefined));
  if (sorted.usedElsewhere.length) {
    items.push(separator('already used as another role'));
    for (const x of sorted.usedElsewhere) items.push(await arrayItem(x.ref, facts, `now ${x.role}`));
  }
  if (sorted.incompatible.length) {
    log().info(`not offered for ${role.role}: ${sorted.incompatible.map((x) => `${vscode.workspace.asRelativePath(refLabel(x.ref))} (${x.reason})`).join('; ')}`);
  }
  if (!items.length) throw new InputError(role.role, `no array of the inputs fits ${role.role} (${ROLE_DESCRIPTIONS[role.role]})`);
  const picked = await stepPick({ title: `CornerNet: which array is ${role.role}?`, placeholder: `choose from the inputs — ${ROLE_DESCRIPTIONS[role.role]}`, items, back: false });
  if (!picked || picked === 'back') return undefined;
  if (picked.mask) return withMask(spec, picked.mask);
  const ref = picked.ref!;
  const choice = { name: role.role, path: ref.file, ...(ref.key !== undefined ? { key: ref.key } : {}) };
  const { mask, ...rest } = spec;
  // An array chosen for gt_mask replaces a synthesized one.
  return { ...rest, ...(mask && role.role !== 'gt_mask' ? { mask } : {}), roles: [...(spec.roles ?? []).filter((r) => r.name !== role.role), choice] };
}
