/**
 * Writing role choices into a folder's cornernet.json (the manifest `inputs.ts` reads), so that a
 * choice made once in a picker holds for the next run, in the extension and the CLI alike.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_NAME, type InputSpec, type RoleAssignmentSpec } from './inputs';

/** The folder whose cornernet.json would hold choices for these inputs, if there is exactly one. */
export async function manifestFolder(spec: InputSpec): Promise<string | undefined> {
  const dirs = new Set<string>();
  for (const p of spec.paths) {
    const st = await fsp.stat(p).catch(() => undefined);
    dirs.add(st?.isDirectory() ? path.resolve(p) : path.dirname(path.resolve(p)));
  }
  return dirs.size === 1 ? [...dirs][0] : undefined;
}

/** Merges choices into `<folder>/cornernet.json`, keeping what is there. */
export async function rememberRoles(folder: string, choices: RoleAssignmentSpec[]): Promise<string> {
  const file = path.join(folder, MANIFEST_NAME);
  let json: { roles?: Record<string, unknown>; [k: string]: unknown } = {};
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch {
    json = {};
  }
  const roles: Record<string, unknown> = typeof json.roles === 'object' && json.roles !== null ? { ...json.roles } : {};
  for (const c of choices) {
    const rel = path.relative(folder, c.path).split(path.sep).join('/');
    roles[c.name] = c.key !== undefined ? `${rel}:${c.key}` : rel;
  }
  await fsp.writeFile(file, JSON.stringify({ ...json, roles }, null, 2) + '\n');
  return file;
}
