/**
 * Tags and offsets gathered straight from map files (the CLI): the embedding and offset maps
 * ([S,] B, ch, H, W, a few MB) are read a plane at a time into one buffer that is reused, and only
 * the values at the indices are kept. On a VM, the pages of a fresh buffer cost more than the copy
 * (see stream.ts); the extension reads the maps whole, because its panel draws them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { TensorReadError } from '../../tensor/errors';
import type { ReadLimits } from '../../tensor/limits';
import { readNpyHeader } from '../../tensor/npy';
import { openFileSource, readFullySync } from '../../tensor/source';
import { countNonFiniteValues } from '../focal/nonFinite';
import { refLabel, type Resolution, type RoleUse } from '../model/arrays';

/** Map uses (a tag or offset role as a map, for the loss or for a check) that can be read this way. */
export interface MapPlan {
  /** Each use and the byte offset of its data. */
  uses: Map<RoleUse, number>;
}

const MAP_ROLES = new Set(['tl_tag', 'br_tag', 'tl_regr', 'br_regr']);

/**
 * The map uses of a resolution that are plain .npy files (C order, little-endian float32 or
 * float64): the others are read whole as before. Reads each one's header again for the data offset.
 */
export async function planStreamedMaps(resolution: Resolution, limits?: Partial<ReadLimits>): Promise<MapPlan> {
  const uses = new Map<RoleUse, number>();
  if (!resolution.dims || os.endianness() !== 'LE') return { uses };
  for (const u of resolution.uses) {
    const h = u.ref.header;
    if (!MAP_ROLES.has(u.role) || (u.form !== 'map' && u.purpose !== 'check')) continue;
    if (u.ref.format !== 'npy' || (h.dtype !== 'float32' && h.dtype !== 'float64') || h.fortranOrder || h.byteOrder === 'big') continue;
    const src = await openFileSource(u.ref.file);
    try {
      const info = await readNpyHeader(src, limits);
      const same = info.dtype === h.dtype && !info.fortranOrder && info.byteOrder !== 'big' && info.shape.length === h.shape.length && info.shape.every((d, i) => d === h.shape[i]);
      if (!same) throw new TensorReadError('truncated', u.ref.file, 'the file changed while it was being read; run again');
      uses.set(u, info.dataOffset);
    } finally {
      await src.close();
    }
  }
  return { uses };
}

/**
 * The values of a map use at the indices, per stack of the use: [B * K * ch] each, as gatherMap
 * gives them from the whole map (out[(b K + k) ch + c] = map[b, c, ind[b K + k]]), and the map's
 * NaN/Inf count. `ind` must be valid (in [0, H W)); reads fail with a TensorReadError naming the file.
 */
export function gatherFromFile(
  u: RoleUse,
  dataOffset: number,
  ind: Float64Array,
  dims: { B: number; H: number; W: number; K: number },
  buffer: { bytes?: ArrayBuffer },
): { gathered: Float64Array[]; nonFinite: number } {
  const { B, K } = dims;
  const HW = dims.H * dims.W;
  const float64 = u.ref.header.dtype === 'float64';
  const size = float64 ? 8 : 4;
  const shape = u.ref.header.shape;
  const ch = u.stackAxis ? shape[2]! : shape[1]!;
  const planeBytes = HW * size;
  if (!buffer.bytes || buffer.bytes.byteLength < planeBytes) buffer.bytes = new ArrayBuffer(planeBytes);
  const bytes = new Uint8Array(buffer.bytes, 0, planeBytes);
  const plane = float64 ? new Float64Array(buffer.bytes, 0, HW) : new Float32Array(buffer.bytes, 0, HW);
  const gathered: Float64Array[] = [];
  let nonFinite = 0;
  let fd: number | undefined;
  try {
    fd = fs.openSync(u.ref.file, 'r');
    for (let i = 0; i < u.stacks.length; i++) {
      const out = new Float64Array(B * K * ch);
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < ch; c++) {
          const position = dataOffset + (((i * B + b) * ch + c) * HW) * size;
          const done = readFullySync(fd, bytes, position);
          if (done < planeBytes) throw new TensorReadError('truncated', refLabel(u.ref), `the file changed while it was being read (got ${done} of ${planeBytes} bytes at ${position}); run again`);
          nonFinite += countNonFiniteValues(plane);
          for (let k = 0; k < K; k++) out[(b * K + k) * ch + c] = plane[ind[b * K + k]!]!;
        }
      }
      gathered.push(out);
    }
  } catch (e) {
    if (e instanceof TensorReadError) throw e;
    throw new TensorReadError('io', refLabel(u.ref), e instanceof Error ? e.message : String(e));
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return { gathered, nonFinite };
}
