/**
 * Writing role choices into a folder's cornernet.json (the manifest `inputs.ts` reads), so that a
 * choice made once in a picker holds for the next run, in the extension and the CLI alike.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { inputFs } from '../../tensor/source';
import type { MaskSynthesis } from '../model/arrays';
import { InputError } from '../model/errors';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, type InputSpec, type RoleAssignmentSpec } from './discover';

/** The folder whose cornernet.json would hold choices for these inputs, if there is exactly one. */
export async function manifestFolder(spec: InputSpec): Promise<string | undefined> {
  const dirs = new Set<string>();
  for (const p of spec.paths) {
    const st = await fsp.stat(p).catch(() => undefined);
    dirs.add(st?.isDirectory() ? path.resolve(p) : path.dirname(path.resolve(p)));
  }
  return dirs.size === 1 ? [...dirs][0] : undefined;
}

/** Merges choices (and a synthesized mask's "mask") into `<folder>/cornernet.json`, keeping what is there. */
export async function rememberRoles(folder: string, choices: RoleAssignmentSpec[], mask?: MaskSynthesis): Promise<string> {
  const file = path.join(folder, MANIFEST_NAME);
  let json: { roles?: Record<string, unknown>; [k: string]: unknown } = {};
  const exists = await fsp.lstat(file).then(() => true, () => false);
  if (exists) {
    // Never overwrite what cannot be read back: a manifest that is a FIFO, a device, too large or
    // not JSON stays as it is, and the choice is not remembered.
    let text: string;
    try {
      text = await inputFs.readText(file, MAX_MANIFEST_BYTES);
    } catch (e) {
      throw new InputError(file, `cannot read the manifest: ${(e as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
      json = parsed as typeof json;
    } catch (e) {
      throw new InputError(file, `not valid JSON, left unchanged: ${(e as Error).message}`);
    }
  }
  const roles: Record<string, unknown> = typeof json.roles === 'object' && json.roles !== null ? { ...json.roles } : {};
  for (const c of choices) {
    const rel = path.relative(folder, c.path).split(path.sep).join('/');
    roles[c.name] = c.key !== undefined ? `${rel}:${c.key}` : rel;
  }
  if (mask) delete roles.gt_mask;
  await fsp.writeFile(file, JSON.stringify({ ...json, roles, ...(mask ? { mask } : {}) }, null, 2) + '\n');
  return file;
}
