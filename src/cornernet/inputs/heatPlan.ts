/**
 * Whether the heatmaps of a resolution can be streamed through the focal pass (focal/stream.ts)
 * straight from their files, and where each one's data starts.
 */
import * as os from 'node:os';
import { TensorReadError } from '../../tensor/errors';
import type { ReadLimits } from '../../tensor/limits';
import { readNpyHeader } from '../../tensor/npy';
import { openFileSource } from '../../tensor/source';
import type { ClampBounds } from '../model/pixel';
import type { HeatLocation, StreamJob, StreamPlan } from '../focal/stream';
import { boundsFor } from '../model/pixel';
import { refLabel, type Resolution, type RoleUse } from '../model/arrays';
import { CORNERS, type Role } from '../model/roles';

const HEAT_ROLES: ReadonlySet<Role> = new Set<Role>(['tl_heat', 'br_heat', 'gt_tl_heat', 'gt_br_heat']);

/**
 * A plan to stream the heatmaps of a resolution, or the reason it cannot (npz members, Fortran
 * order, big-endian or non-float data, heatmaps also used for a check): then the caller reads
 * them whole. Reads each heatmap file's header again for the data offset, and checks it still
 * matches the header inference saw.
 */
export async function planStreamedHeat(resolution: Resolution, limits?: Partial<ReadLimits>): Promise<StreamPlan | string> {
  const dims = resolution.dims;
  if (!dims) return 'roles are not resolved';
  if (os.endianness() !== 'LE') return 'big-endian machine';
  const { B, C, H, W } = dims;
  const planeElems = B * C * H * W;
  const uses = resolution.uses.filter((u) => HEAT_ROLES.has(u.role));
  for (const u of uses) {
    const h = u.ref.header;
    if (u.purpose !== 'loss') return `${refLabel(u.ref)} is also used for a check`;
    if (u.ref.format !== 'npy') return `${refLabel(u.ref)} is not a .npy file`;
    if (h.dtype !== 'float32' && h.dtype !== 'float64') return `${refLabel(u.ref)} is ${h.dtype}`;
    if (h.fortranOrder) return `${refLabel(u.ref)} is in Fortran order`;
    if (h.byteOrder === 'big') return `${refLabel(u.ref)} is big-endian`;
  }
  const located = new Map<RoleUse, number>();
  for (const u of uses) {
    const src = await openFileSource(u.ref.file);
    try {
      const info = await readNpyHeader(src, limits);
      const h = u.ref.header;
      const same = info.dtype === h.dtype && !info.fortranOrder && info.byteOrder !== 'big' && info.shape.length === h.shape.length && info.shape.every((d, i) => d === h.shape[i]);
      if (!same) {
        throw new TensorReadError('truncated', u.ref.file, 'the file changed while it was being read; run again');
      }
      located.set(u, info.dataOffset);
    } finally {
      await src.close();
    }
  }
  const at = (u: RoleUse, index: number, several: boolean): HeatLocation => {
    const float64 = u.ref.header.dtype === 'float64';
    return {
      path: u.ref.file,
      label: several ? `${u.ref.file} (stack ${index})` : u.ref.file,
      offset: located.get(u)! + index * planeElems * (float64 ? 8 : 4),
      float64,
    };
  };
  const jobs: StreamJob[] = [];
  let bytes = 0;
  for (const corner of CORNERS) {
    const gtUse = uses.find((u) => u.role === `gt_${corner}_heat`);
    const logitUses = uses.filter((u) => u.role === `${corner}_heat`);
    if (!gtUse || !logitUses.length) return `no ${gtUse ? '' : 'gt_'}${corner}_heat array`;
    const logits: HeatLocation[] = new Array(dims.S);
    const bounds: ClampBounds[] = new Array(dims.S);
    for (const u of logitUses) {
      u.stacks.forEach((s, i) => {
        logits[s] = at(u, i, u.stacks.length > 1);
        bounds[s] = boundsFor(u.ref.header.dtype);
      });
    }
    for (let s = 0; s < dims.S; s++) if (!logits[s]) return `stack ${s} of ${corner}_heat has no array`;
    const gt = at(gtUse, 0, false);
    jobs.push({ gt, logits, bounds });
    bytes += planeElems * ((gt.float64 ? 8 : 4) + logits.reduce((a, l) => a + (l.float64 ? 8 : 4), 0));
  }
  return { jobs, onDisk: new Set(uses), bytes };
}

