/**
 * Reads the arrays a Resolution uses (each file opened once) and assembles the engine's inputs:
 * per-stack views, gathered tags and offsets (gathering maps where needed), validated indices.
 */
import type { DType } from '../../tensor/dtype';
import type { ReadLimits } from '../../tensor/limits';
import { openFileSource } from '../../tensor/source';
import { readArray } from '../../tensor/tensorFile';
import { toFloat64, toFloatArray, type Tensor } from '../../tensor/tensor';
import { gatherMap, type FloatArray, type HeatStack, type LossInputs } from '../model/batch';
import { InputError } from '../model/errors';
import { checkObjectLimits } from '../model/limits';
import { refLabel, type Dims, type MaskSynthesis, type Resolution, type RoleUse } from '../model/arrays';
import { CORNERS, type Corner, type Role } from '../model/roles';
import type { LossWarning } from '../model/warnings';
import { countNonFiniteValues } from '../focal/nonFinite';
import { gatherFromFile, type MapPlan } from './mapStream';

export interface LoadedInputs {
  inputs: LossInputs;
  warnings: LossWarning[];
  /** Reading and checking (NaN/Inf) the arrays. */
  readMs: number;
  /** Building the loss inputs from them (gathering tags and offsets from maps): part of computing. */
  assembleMs: number;
  /** NaN/Inf count of each array used (keyed by its label), for the side view and badges. */
  nonFinite: Map<string, number>;
}

export interface LoadOptions {
  limits?: Partial<ReadLimits>;
  /** Checked between files; throw from it to cancel. */
  onProgress?: (fraction: number, file: string) => void;
  /** Read array data into SharedArrayBuffers (for computeLossThreaded's worker threads). */
  shared?: boolean;
  /** Files read at once (default 4: the libuv thread pool's size). */
  concurrency?: number;
  /**
   * Uses whose arrays stay on disk (a StreamPlan's heatmaps): not read; they get empty arrays and
   * the inputs are marked `heatOnDisk`.
   */
  onDisk?: ReadonlySet<RoleUse>;
  /**
   * Map uses (tags, offsets) gathered from their files a plane at a time (mapStream.ts) instead of
   * read whole: the inputs then have the gathered values but not the maps.
   */
  mapsOnDisk?: MapPlan;
}

export async function loadInputs(resolution: Resolution, options: LoadOptions = {}): Promise<LoadedInputs> {
  const dims = resolution.dims;
  if (!dims) throw new InputError('inputs', 'roles are not resolved');
  const t0 = performance.now();
  const tensors = new Map<RoleUse, Tensor>();
  const byFile = new Map<string, RoleUse[]>();
  const onDisk = options.onDisk ?? new Set<RoleUse>();
  const mapsOnDisk = options.mapsOnDisk?.uses ?? new Map<RoleUse, number>();
  for (const u of resolution.uses) {
    if (mapsOnDisk.has(u)) continue;
    if (onDisk.has(u)) {
      const h = u.ref.header;
      tensors.set(u, { dtype: h.dtype, shape: h.shape, size: h.size, data: h.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0) });
      continue;
    }
    const list = byFile.get(u.ref.file) ?? [];
    list.push(u);
    byFile.set(u.ref.file, list);
  }
  // Several files at once: positioned reads run on the libuv thread pool, so copying (and the
  // kernel's page faults on fresh buffers) proceeds on several cores; largest files first.
  let done = 0;
  const order = [...byFile.keys()];
  const queue = [...byFile].sort((a, b) => fileBytes(b[1]) - fileBytes(a[1]));
  const readFile = async ([file, uses]: [string, RoleUse[]]) => {
    options.onProgress?.(done++ / byFile.size, file);
    const src = await openFileSource(file, file, { shared: options.shared === true });
    try {
      // Two roles may share one array (unusual, but a manifest can say so): read it once.
      const cache = new Map<string | undefined, Tensor>();
      for (const u of uses) {
        let t = cache.get(u.ref.key);
        if (!t) {
          t = await readArray(src, u.ref.format, u.ref.key, options.limits);
          cache.set(u.ref.key, t);
        }
        checkHeaderAgrees(u, t);
        tensors.set(u, t);
      }
    } finally {
      await src.close();
    }
  };
  const errors = new Map<string, unknown>();
  const lane = async () => {
    for (let next = queue.shift(); next && errors.size === 0; next = queue.shift()) {
      try {
        await readFile(next);
      } catch (e) {
        errors.set(next[0], e); // the other lanes stop after their current file
      }
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? 4, queue.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  // Of several failures, the one of the file listed first (what a sequential read reports).
  const failed = order.find((f) => errors.has(f));
  if (failed !== undefined) throw errors.get(failed);
  // The check of what was read belongs to reading; gathering from maps (assemble) to the loss.
  const nonFinite = new Map<string, number>();
  for (const [u, t] of tensors) {
    if (onDisk.has(u) || mapsOnDisk.has(u)) continue; // counted by the focal pass, or while gathering
    const label = refLabel(u.ref);
    if (!nonFinite.has(label)) nonFinite.set(label, t.data instanceof Float32Array || t.data instanceof Float64Array ? countNonFiniteValues(t.data) : 0);
  }
  // Maps gathered from their files, once the indices are read (invalid indices: assemble says so).
  const gatheredOnDisk = new Map<RoleUse, Float64Array[]>();
  if (mapsOnDisk.size) {
    const buffer: { bytes?: ArrayBuffer } = {};
    for (const [u, dataOffset] of mapsOnDisk) {
      const corner = u.role.startsWith('tl_') ? 'tl' : 'br';
      const indUse = resolution.uses.find((x) => x.role === `${corner}_ind`);
      const ind = indUse && tensors.get(indUse) ? toFloat64(tensors.get(indUse)!) : undefined;
      const HW = dims.H * dims.W;
      if (!ind || ind.some((v) => !(v >= 0 && v < HW) || !Number.isInteger(v))) continue;
      const r = gatherFromFile(u, dataOffset, ind, dims, buffer);
      gatheredOnDisk.set(u, r.gathered);
      const label = refLabel(u.ref);
      nonFinite.set(label, (nonFinite.get(label) ?? 0) + r.nonFinite);
    }
  }
  const readMs = performance.now() - t0;
  const { inputs, warnings } = assemble(dims, resolution.uses, tensors, gatheredOnDisk, resolution.syntheticMask);
  if (onDisk.size) inputs.heatOnDisk = true;
  const assembleMs = performance.now() - t0 - readMs;
  return { inputs, warnings, readMs, assembleMs, nonFinite };
}

/** Bytes of array data a file's uses will read (to read the largest files first). */
function fileBytes(uses: RoleUse[]): number {
  return uses.reduce((a, u) => a + u.ref.header.dataBytes, 0);
}

/** A file replaced between the header read and the data read must not be mixed up. */
function checkHeaderAgrees(u: RoleUse, t: Tensor): void {
  const h = u.ref.header;
  if (h.dtype !== t.dtype || h.shape.length !== t.shape.length || h.shape.some((d, i) => d !== t.shape[i])) {
    throw new InputError(refLabel(u.ref), 'the file changed while it was being read; run again');
  }
}

/**
 * Builds LossInputs from tensors already in memory (files, or a notebook kernel's variables),
 * following the uses of a Resolution.
 */
export function assemble(
  dims: Dims,
  uses: RoleUse[],
  tensors: Map<RoleUse, Tensor>,
  gatheredOnDisk: ReadonlyMap<RoleUse, Float64Array[]> = new Map(),
  syntheticMask?: MaskSynthesis,
): { inputs: LossInputs; warnings: LossWarning[] } {
  const { S, B, C, H, W, K } = dims;
  const HW = H * W;
  const warnings: LossWarning[] = [];
  const used = (role: Role, purpose: 'loss' | 'check' = 'loss') => uses.filter((u) => u.role === role && u.purpose === purpose);
  const tensorOf = (u: RoleUse) => tensors.get(u)!;
  const one = (role: Role) => {
    const u = used(role)[0] ?? used(role, 'check')[0];
    if (!u) throw new InputError(role, 'no array for this role');
    return { u, t: tensorOf(u) };
  };

  /** Per-stack slices [inner] of a role's arrays (a stack axis or one array per stack). */
  const stacksOf = (us: RoleUse[], inner: number): { data: FloatArray; dtype: DType; use: RoleUse }[] => {
    const out: { data: FloatArray; dtype: DType; use: RoleUse }[] = new Array(S);
    for (const u of us) {
      const t = tensorOf(u);
      const data = toFloatArray(t);
      u.stacks.forEach((s, i) => {
        out[s] = { data: data.subarray(i * inner, (i + 1) * inner), dtype: t.dtype, use: u };
      });
    }
    return out;
  };

  /** Per-stack values gathered from the files of these uses (all of them), or undefined. */
  const diskStacks = (us: RoleUse[]): Float64Array[] | undefined => {
    if (!us.length || !us.every((u) => gatheredOnDisk.has(u))) return undefined;
    const out: Float64Array[] = new Array(S);
    for (const u of us) u.stacks.forEach((s, i) => (out[s] = gatheredOnDisk.get(u)![i]!));
    return out;
  };

  const ind: Partial<Record<Corner, Float64Array>> = {};
  for (const corner of CORNERS) {
    const u = uses.find((x) => x.role === `${corner}_ind`);
    if (!u) continue;
    const values = toFloat64(tensorOf(u));
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!(v >= 0 && v < HW) || !Number.isInteger(v)) {
        throw new InputError(
          `${corner}_ind (${refLabel(u.ref)})`,
          `index ${v} at image ${Math.floor(i / K)}, slot ${i % K} is outside [0, ${HW}) (H*W = ${H}*${W}); the original's gather would fail`,
        );
      }
    }
    ind[corner] = values;
  }

  const heat = {} as Record<Corner, HeatStack[]>;
  const gtHeat = {} as Record<Corner, FloatArray>;
  const tag = {} as Record<Corner, Float64Array[]>;
  const regr = {} as Record<Corner, Float64Array[]>;
  const gtRegr = {} as Record<Corner, Float64Array>;
  const tagMap: Partial<Record<Corner, FloatArray[]>> = {};
  const regrMap: Partial<Record<Corner, FloatArray[]>> = {};

  for (const corner of CORNERS) {
    heat[corner] = stacksOf(used(`${corner}_heat`), B * C * HW).map((s) => ({ logits: s.data, dtype: s.dtype }));
    gtHeat[corner] = toFloatArray(one(`gt_${corner}_heat`).t);
    gtRegr[corner] = toFloat64(one(`gt_${corner}_regr`).t);

    for (const kind of ['tag', 'regr'] as const) {
      const role = `${corner}_${kind}` as Role;
      const ch = kind === 'tag' ? 1 : 2;
      const lossUses = used(role);
      const checkUses = used(role, 'check');
      const form = lossUses[0]?.form;
      let gathered: Float64Array[];
      let maps: { data: FloatArray; use: RoleUse }[] | undefined;
      if (form === 'map') {
        const fromDisk = diskStacks(lossUses);
        if (fromDisk) gathered = fromDisk;
        else {
          maps = stacksOf(lossUses, B * ch * HW);
          gathered = maps.map((m) => gatherMap(m.data, ind[corner]!, B, ch, HW, K));
        }
      } else {
        gathered = stacksOf(lossUses, B * K * ch).map((s) => Float64Array.from(s.data));
        if (checkUses.length) {
          let fromMaps = diskStacks(checkUses);
          if (!fromMaps) {
            maps = stacksOf(checkUses, B * ch * HW);
            fromMaps = maps.map((m) => gatherMap(m.data, ind[corner]!, B, ch, HW, K));
          }
          const mismatch = compareGathered(fromMaps, gathered, K, ch);
          if (mismatch) {
            warnings.push({
              code: 'gather-mismatch',
              message: `${role}: the gathered values (${refLabel(lossUses[0]!.ref)}) differ from the map (${refLabel(checkUses[0]!.ref)}) gathered at ${corner}_ind in ${mismatch.count} of ${S * B * K * ch} values (first at stack ${mismatch.stack}, image ${mismatch.b}, slot ${mismatch.k}: ${mismatch.gathered} vs ${mismatch.fromMap}). The gathered values are used.`,
              roles: [role, `${corner}_ind`],
              files: [lossUses[0]!.ref.file, checkUses[0]!.ref.file],
            });
          }
        }
      }
      (kind === 'tag' ? tag : regr)[corner] = gathered;
      if (maps) (kind === 'tag' ? tagMap : regrMap)[corner] = maps.map((m) => m.data);
    }
  }

  let maskT: Pick<Tensor, 'dtype'>;
  let mask: Float64Array;
  if (syntheticMask) {
    const synth = synthesizeMask(syntheticMask, B, K, ind);
    mask = synth.mask;
    maskT = { dtype: 'uint8' };
    warnings.push({ code: 'synthetic-mask', message: synth.message, roles: ['gt_mask', ...synth.roles] });
    checkObjectLimits(mask, dims.B, dims.K, `gt_mask (${syntheticMask === 'all' ? 'all slots valid' : 'from the indices'})`);
  } else {
    maskT = one('gt_mask').t;
    mask = toFloat64(maskT as Tensor);
    checkObjectLimits(mask, dims.B, dims.K, refLabel(one('gt_mask').u.ref));
  }
  return {
    inputs: {
      dims,
      heat,
      tag,
      regr,
      gtHeat,
      mask,
      maskDType: maskT.dtype,
      gtRegr,
      ...(Object.keys(ind).length ? { ind } : {}),
      ...(Object.keys(tagMap).length ? { tagMap } : {}),
      ...(Object.keys(regrMap).length ? { regrMap } : {}),
    },
    warnings,
  };
}

/**
 * gt_mask [B,K] (0/1) when none was saved: every slot ('all'), or the slots where tl_ind or br_ind
 * is non-zero ('from-indices': CornerNet's sampler leaves both zero past the last object; an
 * object whose top-left corner is pixel 0 still has a non-zero br_ind).
 */
export function synthesizeMask(
  how: MaskSynthesis,
  B: number,
  K: number,
  ind: Partial<Record<Corner, Float64Array>>,
): { mask: Float64Array; message: string; roles: string[] } {
  const mask = new Float64Array(B * K);
  if (how === 'all') {
    mask.fill(1);
    return { mask, roles: [], message: `gt_mask was not read but synthesized: all ${B}×${K} slots valid (${B * K} objects). Padding slots, if the batch has any, count as objects.` };
  }
  const corners = CORNERS.filter((c) => ind[c]);
  if (!corners.length) throw new InputError('gt_mask', 'deriving the mask from the indices needs tl_ind or br_ind');
  for (const c of corners) {
    const v = ind[c]!;
    for (let i = 0; i < mask.length; i++) if (v[i] !== 0) mask[i] = 1;
  }
  let n = 0;
  for (const m of mask) n += m;
  const names = corners.map((c) => `${c}_ind`);
  return {
    mask,
    roles: names,
    message: `gt_mask was not read but synthesized from the indices: a slot is valid where ${names.join(' or ')} is non-zero (${n} of ${B * K} slots). An object whose corners are both at pixel 0 would be missed.`,
  };
}

function compareGathered(fromMaps: Float64Array[], gathered: Float64Array[], K: number, ch: number) {
  let count = 0;
  let first: { stack: number; b: number; k: number; gathered: number; fromMap: number } | undefined;
  fromMaps.forEach((fromMap, s) => {
    const g = gathered[s]!;
    for (let i = 0; i < g.length; i++) {
      const a = g[i]!;
      const b = fromMap[i]!;
      // Exact for values gathered by the original; NaN equals NaN here.
      if (a !== b && !(a !== a && b !== b)) {
        count++;
        first ??= { stack: s, b: Math.floor(i / (K * ch)), k: Math.floor(i / ch) % K, gathered: a, fromMap: b };
      }
    }
  });
  return count ? { count, ...first! } : undefined;
}

