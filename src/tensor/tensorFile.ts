/**
 * Format-agnostic entry points: the rest of the project reads tensors only through these, so that
 * the CLI, the extension host and tests share one set of checks and limits.
 */
import { TensorReadError } from './errors';
import type { Tensor, TensorFormat, TensorHeader } from './tensor';
import { openFileSource, type ByteSource } from './source';
import { resolveLimits, type ReadLimits } from './limits';
import { readNpy, readNpyHeader } from './npy';
import { listNpz, readNpzMember, readNpzMemberHeader } from './npz';
import { listSafetensors, readSafetensorsTensor } from './safetensors';

export { DEFAULT_LIMITS, resolveLimits, type ReadLimits } from './limits';
export type { TensorFormat } from './tensor';

/** The format a path's extension names (case-insensitive; works on URI strings too). */
export function tensorFormatOf(path: string): TensorFormat | undefined {
  const m = /\.(npy|npz|safetensors)$/i.exec(path.replace(/[?#].*$/, ''));
  return m ? (m[1]!.toLowerCase() as TensorFormat) : undefined;
}

export interface ArrayListing {
  /** Absent for a .npy (one array); the npz key or safetensors name otherwise. */
  key?: string;
  header: TensorHeader;
}

/** Every array's header, without reading array data (npz: each member's header, read cheaply). */
export async function listArrays(
  src: ByteSource,
  format: TensorFormat,
  limits?: Partial<ReadLimits>,
): Promise<ArrayListing[]> {
  const lim = resolveLimits(limits);
  switch (format) {
    case 'npy':
      return [{ header: stripNpyDetails(await readNpyHeader(src, lim)) }];
    case 'npz': {
      const out: ArrayListing[] = [];
      for (const m of await listNpz(src, lim)) {
        if (!m.isArray) continue; // listed by listNpz for inspection; not an array
        out.push({ key: m.key, header: stripNpyDetails(await readNpzMemberHeader(src, m, lim)) });
      }
      return out;
    }
    case 'safetensors':
      return listSafetensors(src, lim);
  }
}

/** A plain TensorHeader (no npy-only offsets), so listings look the same for every format. */
function stripNpyDetails(h: TensorHeader & { dataOffset?: number; trailingBytes?: number }): TensorHeader {
  const { dataOffset: _o, trailingBytes: _t, ...header } = h;
  return header;
}

/** One array. `key` is required for npz and safetensors and must be absent (or ignored) for npy. */
export async function readArray(
  src: ByteSource,
  format: TensorFormat,
  key: string | undefined,
  limits?: Partial<ReadLimits>,
): Promise<Tensor> {
  const lim = resolveLimits(limits);
  if (format === 'npy') return readNpy(src, lim);
  if (key === undefined) {
    const what = format === 'npz' ? 'an npz member' : 'a safetensors tensor';
    throw new TensorReadError('missing-member', src.name, `which array? name ${what} to read`);
  }
  return format === 'npz' ? readNpzMember(src, key, lim) : readSafetensorsTensor(src, key, lim);
}

function formatOrThrow(path: string): TensorFormat {
  const f = tensorFormatOf(path);
  if (!f) throw new TensorReadError('unsupported-format', path, 'not a .npy, .npz or .safetensors file');
  return f;
}

async function withFile<T>(path: string, fn: (src: ByteSource, format: TensorFormat) => Promise<T>): Promise<T> {
  const format = formatOrThrow(path);
  const src = await openFileSource(path);
  try {
    return await fn(src, format);
  } finally {
    await src.close();
  }
}

/** Open, read one array, close. */
export function readTensorFile(path: string, key?: string, limits?: Partial<ReadLimits>): Promise<Tensor> {
  return withFile(path, (src, format) => readArray(src, format, key, limits));
}

/** Open, list every array's header, close. */
export function readTensorHeaders(path: string, limits?: Partial<ReadLimits>): Promise<ArrayListing[]> {
  return withFile(path, (src, format) => listArrays(src, format, limits));
}
