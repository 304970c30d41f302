/**
 * From what the user pointed at (folders, .npy/.npz/.safetensors files, a manifest, `--role`
 * overrides) to headers and role candidates. Reads headers only.
 */
import * as path from 'node:path';
import { CLASSES_FILE, parseClassList } from '../model/classNames';
import { isTensorReadError, TensorReadError } from '../../tensor/errors';
import type { ReadLimits } from '../../tensor/limits';
import { describeIoError, fileKind, inputFs, openFileSource } from '../../tensor/source';
import { listArrays, tensorFormatOf } from '../../tensor/tensorFile';
import type { TensorFormat } from '../../tensor/tensor';
import { InputError } from '../model/errors';
import { CONVENTION_NAMES, parseConventionName, type ConventionName } from '../model/conventions';
import { allDenseRoleNames, isDenseRoleName } from './conventionRoles';
import { applyOverrides } from './resolve';
import { MASK_SYNTHESES, parseMaskSynthesis, sameRef, type ArrayRef, type Candidate, type MaskSynthesis, type RoleOverride } from '../model/arrays';
import { OUTPUT_ROLES, TARGET_ROLES, parseRoleName, positionalIndex, roleNameProblem, type Role } from '../model/roles';

export const MANIFEST_NAME = 'cornernet.json';
/** A manifest is a few lines of JSON; anything larger is refused unread. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** `--role NAME=PATH[:KEY]`, or one entry of a manifest. */
export interface RoleAssignmentSpec {
  /** A role name or alias, optionally with a stack suffix: `tl_heat`, `tl_tag_map_1`, `mask`. */
  name: string;
  path: string;
  key?: string;
}

export interface InputSpec {
  /** Files and folders. Folders are scanned (not recursively) for tensor files and a manifest. */
  paths: string[];
  roles?: RoleAssignmentSpec[];
  /** No gt_mask file: synthesize it (`--mask all|from-indices`, the picker's choices). */
  mask?: MaskSynthesis;
}

export interface Discovery {
  arrays: ArrayRef[];
  candidates: Candidate[];
  /** Files in folders that could not be read (explicitly named files raise instead). */
  skipped: { file: string; reason: string }[];
  manifests: string[];
  /** Loss weights from a manifest, if it sets any, by the names written there (checked against
   * the convention once it is known). */
  weights?: Record<string, number>;
  /** Every role assignment (manifest, `--role`) by the name written, for any convention. */
  assignments: RoleAssignment[];
  /** `"convention"` of a manifest. */
  convention?: { name: ConventionName; file: string };
  /** Class names by index: a manifest's `"classes"`, else a `classes.txt` beside the data. */
  classes?: string[];
  /** The file that named them. */
  classesFrom?: string;
  /** `"step"` of a manifest: the training step this batch was dumped at. */
  step?: number;
  /** `"heatIsProbability"` of a manifest: the logit heatmap was saved as probabilities. */
  heatIsProbability?: boolean;
  /** gt_mask synthesized (the spec's `mask`, else a manifest's `"mask"`), and who asked. */
  mask?: { how: MaskSynthesis; from: string };
}

/** A role assigned by the user, before a convention interprets its name. */
export interface RoleAssignment {
  name: string;
  ref: ArrayRef;
  stack?: number;
  origin: 'manifest' | 'override';
  /** Where it was written, for messages: `cornernet.json: roles.tl_heat`, `--role tl_heat`. */
  where: string;
}

/**
 * Split `PATH[:KEY]`: the key part only when the path before it names an archive, so that Windows
 * drive letters and colons in ordinary file names survive.
 */
export function splitPathKey(spec: string): { path: string; key?: string } {
  const i = spec.lastIndexOf(':');
  if (i > 0) {
    const p = spec.slice(0, i);
    const fmt = tensorFormatOf(p);
    if (fmt === 'npz' || fmt === 'safetensors') return { path: p, key: spec.slice(i + 1) };
  }
  return { path: spec };
}

/** `NAME=PATH[:KEY]` as given to `--role`. */
export function parseRoleArg(arg: string): RoleAssignmentSpec {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) throw new InputError('--role', `expected NAME=PATH[:KEY], got "${arg}"`);
  const name = arg.slice(0, eq).trim();
  return { name, ...splitPathKey(arg.slice(eq + 1).trim()) };
}

/** CornerNet's role for an assigned name, or undefined (a name of another convention's roles). */
function cornernetRoleOf(name: string): { role: Role; stack?: number } | undefined {
  const parsed = parseRoleName(name);
  return parsed ? { role: parsed.role, stack: parsed.stack } : undefined;
}

/**
 * A name that is a role of no convention is refused before its file is looked at: a typo must not
 * read as a missing file.
 */
function checkRoleName(name: string, where: string): void {
  if (cornernetRoleOf(name) || isDenseRoleName(name)) return;
  throw new InputError(where, `${unknownCornernetRole(name)}; mmdetection and CenterNet roles: ${allDenseRoleNames().join(', ')}`);
}

/** The CornerNet roles, for the message about a name that is none of them. */
export function unknownCornernetRole(name: string): string {
  return `unknown role "${name}" (roles: ${[...OUTPUT_ROLES, ...TARGET_ROLES].join(', ')}; outputs may end in _<stack>)`;
}

export async function discoverInputs(spec: InputSpec, limits?: Partial<ReadLimits>): Promise<Discovery> {
  if (spec.paths.length === 0 && !spec.roles?.length) throw new InputError('inputs', 'no input files or folders given');
  const arrays: ArrayRef[] = [];
  const candidates: Candidate[] = [];
  const skipped: Discovery['skipped'] = [];
  const manifests: string[] = [];
  const overrides: RoleOverride[] = [];
  const assignments: RoleAssignment[] = [];
  const seenFiles = new Set<string>();
  let weights: Record<string, number> | undefined;
  let convention: Discovery['convention'];
  let classes: string[] | undefined;
  let classesFrom: string | undefined;
  let classesTxt: { names: string[]; file: string } | undefined;
  let step: number | undefined;
  let heatIsProbability: boolean | undefined;
  let mask: Discovery['mask'];
  if (spec.mask !== undefined) {
    if (!parseMaskSynthesis(spec.mask)) throw new InputError('--mask', `expected ${MASK_SYNTHESES.join(' or ')}, got ${JSON.stringify(spec.mask)}`);
    mask = { how: spec.mask, from: '--mask' };
  }

  /** Headers of one file; adds its arrays and name-based candidates. */
  const addFile = async (file: string, explicit: boolean): Promise<ArrayRef[]> => {
    const id = path.resolve(file);
    if (seenFiles.has(id)) return arrays.filter((a) => path.resolve(a.file) === id);
    const format = tensorFormatOf(file);
    if (!format) throw new InputError(file, 'not a .npy, .npz or .safetensors file');
    const badName = format === 'npy' ? roleNameProblem(path.basename(file).replace(/\.npy$/i, '')) : undefined;
    if (badName) throw new InputError(file, badName);
    let refs: ArrayRef[];
    try {
      refs = await headersOf(file, format, limits);
    } catch (e) {
      // A broken file whose name says it is an input must stop the run with its own error; other
      // files in a folder (notes.npy, an unrelated archive) are skipped with a warning.
      const named = format === 'npy' && parseRoleName(path.basename(file).replace(/\.npy$/i, ''));
      if (!explicit && !named && isTensorReadError(e)) {
        skipped.push({ file, reason: e.problem + (e.member ? ` (member ${e.member})` : '') });
        return [];
      }
      throw e;
    }
    seenFiles.add(id);
    arrays.push(...refs);
    candidates.push(...candidatesOf(file, format, refs));
    return refs;
  };

  const findRef = async (file: string, key: string | undefined, where: string): Promise<ArrayRef> => {
    const refs = await addFile(file, true);
    const fmt = tensorFormatOf(file);
    if (fmt === 'npy') {
      if (key !== undefined) throw new InputError(where, `${file} is a .npy file: it has no key "${key}"`);
      return refs[0]!;
    }
    if (key === undefined) {
      if (refs.length === 1) return refs[0]!;
      throw new InputError(where, `${file} holds ${refs.length} arrays: name one as ${file}:KEY (keys: ${refs.map((r) => r.key).join(', ')})`);
    }
    const ref = refs.find((r) => r.key === key);
    if (!ref) throw new InputError(where, `${file} has no array "${key}" (keys: ${refs.map((r) => r.key).join(', ')})`);
    return ref;
  };

  for (const p of spec.paths) {
    let st;
    try {
      st = await inputFs.stat(p);
    } catch {
      throw new InputError(p, 'no such file or folder');
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = (await inputFs.readdir(p)).sort();
      } catch (e) {
        throw new InputError(p, `cannot list the folder: ${(e as Error).message}`);
      }
      for (const name of names) {
        const full = path.join(p, name);
        if (name.toLowerCase() === MANIFEST_NAME) {
          const m = await readManifest(full);
          manifests.push(full);
          if (m.weights) weights = { ...weights, ...m.weights };
          if (m.convention) convention = { name: m.convention, file: full };
          if (m.classes) {
            classes = m.classes;
            classesFrom = full;
          }
          if (m.step !== undefined) step = m.step;
          if (m.heatIsProbability !== undefined) heatIsProbability = m.heatIsProbability;
          if (m.mask !== undefined && spec.mask === undefined) mask = { how: m.mask, from: full };
          for (const a of m.roles) {
            const where = `${full}: roles.${a.name}`;
            checkRoleName(a.name, where);
            // Relative paths are the folder's; an absolute one stays as written.
            const ref = await findRef(path.resolve(p, a.path), a.key, where);
            assignments.push({ name: a.name, ref, ...(a.stack !== undefined ? { stack: a.stack } : {}), origin: 'manifest', where });
            const cn = cornernetRoleOf(a.name);
            if (cn) overrides.push({ role: cn.role, stack: a.stack ?? cn.stack, ref, origin: 'manifest' });
          }
          continue;
        }
        if (name.toLowerCase() === CLASSES_FILE) {
          // Names for the views only: a file that cannot be read is skipped, and said so.
          try {
            classesTxt = { names: parseClassList(await inputFs.readText(full, MAX_MANIFEST_BYTES)), file: full };
          } catch (e) {
            skipped.push({ file: full, reason: `class names not read: ${e instanceof InputError ? e.problem : (e as Error).message}` });
          }
          continue;
        }
        const format = tensorFormatOf(name);
        if (!format) continue;
        // A name that says it is an input must be one: its problem stops the run, named. Other
        // tensor-named entries that are not readable files are skipped with a warning.
        const stem = name.replace(/\.(npy|npz|safetensors)$/i, '');
        const named = format === 'npy' && parseRoleName(stem) !== undefined;
        let kind: string | undefined;
        try {
          const entry = await inputFs.stat(full);
          if (!entry.isFile()) kind = `not a regular file: it is ${fileKind(entry)}`;
        } catch (e) {
          kind = describeIoError(e);
        }
        if (kind !== undefined) {
          if (named) throw new InputError(full, kind);
          skipped.push({ file: full, reason: kind });
          continue;
        }
        await addFile(full, false);
      }
    } else {
      await addFile(p, true);
    }
  }

  for (const a of spec.roles ?? []) {
    const where = `--role ${a.name}`;
    checkRoleName(a.name, where);
    const ref = await findRef(a.path, a.key, where);
    assignments.push({ name: a.name, ref, origin: 'override', where });
    const cn = cornernetRoleOf(a.name);
    if (cn) overrides.push({ role: cn.role, stack: cn.stack, ref, origin: 'override' });
  }

  // The same array may be reached twice (a folder and a file in it): keep the first.
  const unique = arrays.filter((a, i) => arrays.findIndex((b) => sameRef(a, b)) === i);
  return {
    arrays: unique,
    candidates: applyOverrides(candidates, overrides),
    skipped,
    manifests,
    assignments,
    ...(weights ? { weights } : {}),
    ...(convention ? { convention } : {}),
    ...(classes ? { classes, ...(classesFrom ? { classesFrom } : {}) } : classesTxt?.names.length ? { classes: classesTxt.names, classesFrom: classesTxt.file } : {}),
    ...(step !== undefined ? { step } : {}),
    ...(heatIsProbability !== undefined ? { heatIsProbability } : {}),
    ...(mask ? { mask } : {}),
  };
}

async function headersOf(file: string, format: TensorFormat, limits?: Partial<ReadLimits>): Promise<ArrayRef[]> {
  const src = await openFileSource(file);
  try {
    const entries = await listArrays(src, format, limits);
    return entries.map((e) => ({ file, format, header: e.header, ...(e.key !== undefined ? { key: e.key } : {}) }));
  } finally {
    await src.close();
  }
}

/**
 * Name-based candidates, or positional ones for an npz written as `np.savez(f, *outs)` (6 arrays
 * per stack, AELoss order) or `np.savez(f, *targets)` (5 arrays, or 7 with CornerNet-Lite's indices).
 */
export function candidatesOf(file: string, format: TensorFormat, refs: ArrayRef[]): Candidate[] {
  if (format === 'npy') {
    const parsed = parseRoleName(path.basename(file).replace(/\.npy$/i, ''));
    return parsed ? [{ ref: refs[0]!, role: parsed.role, stack: parsed.stack, origin: 'name' }] : [];
  }
  const positions = refs.map((r) => (r.key === undefined ? undefined : positionalIndex(r.key)));
  if (refs.length > 0 && positions.every((p) => p !== undefined)) {
    const n = refs.length;
    const contiguous = [...positions].sort((a, b) => a! - b!).every((p, i) => p === i);
    if (contiguous) {
      if (n === 5 || n === 7) {
        return refs.map((ref, i) => ({ ref, role: TARGET_ROLES[positions[i]!]!, origin: 'position' as const }));
      }
      if (n % 6 === 0) {
        // Six arrays: one per role, each holding every stack (CornerNet-Lite's lists saved whole,
        // or a single stack). Twelve or more: CornerNet's flat list, stride 6 per stack.
        return refs.map((ref, i) => {
          const pos = positions[i]!;
          return { ref, role: OUTPUT_ROLES[pos % 6]!, origin: 'position' as const, ...(n > 6 ? { stack: Math.floor(pos / 6) } : {}) };
        });
      }
    }
    return [];
  }
  const out: Candidate[] = [];
  for (const ref of refs) {
    const parsed = ref.key === undefined ? undefined : parseRoleName(ref.key);
    if (parsed) out.push({ ref, role: parsed.role, stack: parsed.stack, origin: 'name' });
  }
  return out;
}

interface Manifest {
  roles: (RoleAssignmentSpec & { stack?: number })[];
  weights?: Record<string, number>;
  convention?: ConventionName;
  classes?: string[];
  step?: number;
  heatIsProbability?: boolean;
  mask?: MaskSynthesis;
}

/**
 * `cornernet.json`: `{"roles": {"tl_heat": "outs.npz:tl", "tl_heat_1": "b.npy", "br_heat": ["s0.npy", "s1.npy"]},
 * "weights": {"pull": 0.1, "push": 0.1, "regr": 1}}`, paths relative to the folder.
 */
export async function readManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await inputFs.readText(file, MAX_MANIFEST_BYTES);
  } catch (e) {
    throw new InputError(file, `cannot read the manifest: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(file, 'expected a JSON object');
  const obj = json as Record<string, unknown>;
  const roles: Manifest['roles'] = [];
  if (obj.roles !== undefined) {
    if (typeof obj.roles !== 'object' || obj.roles === null || Array.isArray(obj.roles)) {
      throw new InputError(file, '"roles" must be an object of role -> "file[:key]"');
    }
    for (const [name, value] of Object.entries(obj.roles as Record<string, unknown>)) {
      const values = Array.isArray(value) ? value : [value];
      if (!values.length || !values.every((v) => typeof v === 'string' && v.length > 0)) {
        throw new InputError(file, `roles.${name} must be "file[:key]" or a list of them (one per stack)`);
      }
      values.forEach((v, i) =>
        roles.push({ name, ...splitPathKey(v as string), ...(Array.isArray(value) ? { stack: i } : {}) }),
      );
    }
  }
  // Weight names depend on the convention (pull/push/regr, det/off, hm/wh...): checked once it is known.
  let weights: Record<string, number> | undefined;
  if (obj.weights !== undefined) {
    if (typeof obj.weights !== 'object' || obj.weights === null || Array.isArray(obj.weights)) throw new InputError(file, '"weights" must be an object');
    weights = {};
    for (const [k, v] of Object.entries(obj.weights as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InputError(file, `weights.${k} must be a non-negative number`);
      weights[k] = v;
    }
  }
  let convention: ConventionName | undefined;
  if (obj.convention !== undefined) {
    convention = typeof obj.convention === 'string' ? parseConventionName(obj.convention) : undefined;
    if (!convention) throw new InputError(file, `"convention" must be one of ${CONVENTION_NAMES.join(', ')}, got ${JSON.stringify(obj.convention)}`);
  }
  let classes: string[] | undefined;
  if (obj.classes !== undefined) {
    if (!Array.isArray(obj.classes) || !obj.classes.every((c) => typeof c === 'string') || obj.classes.length > 100_000) {
      throw new InputError(file, '"classes" must be a list of class names (strings), by class index');
    }
    classes = obj.classes as string[];
  }
  let step: number | undefined;
  if (obj.step !== undefined) {
    if (typeof obj.step !== 'number' || !Number.isSafeInteger(obj.step) || obj.step < 0) throw new InputError(file, '"step" must be a non-negative integer');
    step = obj.step;
  }
  let heatIsProbability: boolean | undefined;
  if (obj.heatIsProbability !== undefined) {
    if (typeof obj.heatIsProbability !== 'boolean') throw new InputError(file, '"heatIsProbability" must be true or false');
    heatIsProbability = obj.heatIsProbability;
  }
  let mask: MaskSynthesis | undefined;
  if (obj.mask !== undefined) {
    mask = parseMaskSynthesis(obj.mask);
    if (!mask) throw new InputError(file, `"mask" must be ${MASK_SYNTHESES.map((m) => JSON.stringify(m)).join(' or ')} (gt_mask synthesized), got ${JSON.stringify(obj.mask)}`);
  }
  const KEYS = ['roles', 'weights', 'convention', 'classes', 'step', 'heatIsProbability', 'mask', '$schema', 'comment'];
  for (const k of Object.keys(obj)) {
    if (!KEYS.includes(k)) throw new InputError(file, `unknown key "${k}" (${KEYS.slice(0, 5).join(', ')})`);
  }
  return { roles, ...(weights ? { weights } : {}), ...(convention ? { convention } : {}), ...(classes ? { classes } : {}), ...(step !== undefined ? { step } : {}), ...(heatIsProbability !== undefined ? { heatIsProbability } : {}), ...(mask ? { mask } : {}) };
}

export { TensorReadError };
