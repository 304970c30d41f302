/**
 * NumPy .npz archives: a zip of .npy members, `key.npy` per array (np.savez / np.savez_compressed).
 * Listing reads only the central directory; a member's header costs its local header plus the
 * first few hundred bytes (inflated incrementally for compressed members).
 */
import { zipSync, type Zippable } from 'fflate';
import { TensorReadError } from './errors';
import type { DType, TensorData } from './dtype';
import type { Tensor } from './tensor';
import type { ByteSource } from './source';
import { resolveLimits, type ReadLimits } from './limits';
import { NPY_MAGIC, checkNpyTrailingBytes, decodeNpy, encodeNpy, readNpyHeaderFromPrefix, type NpyHeaderInfo } from './npy';
import {
  METHOD_DEFLATED,
  METHOD_STORED,
  readZipDirectory,
  readZipEntry,
  zipEntryDataOffset,
  zipEntryPrefixReader,
  type ZipEntry,
} from './zip';
import { readBytes } from './guard';

export interface NpzMember {
  /** The name np.load uses: the member name without its trailing '.npy'. */
  key: string;
  /** The member's name inside the zip. */
  fileName: string;
  method: 'stored' | 'deflated';
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  localHeaderOffset: number;
  /** False for members that are not .npy files (listed, but not arrays). */
  isArray: boolean;
}

// Directory details (where the member's data must end) that callers need not see; members built
// by hand fall back to the file size.
const entryOf = new WeakMap<NpzMember, ZipEntry>();

function toZipEntry(m: NpzMember, fileSize: number): ZipEntry {
  return (
    entryOf.get(m) ?? {
      fileName: m.fileName,
      method: m.method === 'stored' ? METHOD_STORED : METHOD_DEFLATED,
      flags: 0,
      crc32: m.crc32,
      compressedSize: m.compressedSize,
      uncompressedSize: m.uncompressedSize,
      localHeaderOffset: m.localHeaderOffset,
      dataEnd: fileSize,
    }
  );
}

/** Key as np.load exposes it (NpzFile.files): '.npy' stripped, other names unchanged. */
function keyOf(fileName: string): string {
  return fileName.endsWith('.npy') ? fileName.slice(0, -4) : fileName;
}

/** All members, from the central directory alone (no member data is read). */
export async function listNpz(src: ByteSource, limits?: Partial<ReadLimits>): Promise<NpzMember[]> {
  const entries = await readZipDirectory(src, limits);
  const byKey = new Map<string, string>();
  return entries.map((e) => {
    const key = keyOf(e.fileName);
    const other = byKey.get(key);
    if (other !== undefined) {
      // 'a' and 'a.npy' would both be np.load's key 'a'; refuse rather than guess which is meant.
      throw new TensorReadError('bad-header', src.name, `members '${other}' and '${e.fileName}' both have the key '${key}'`);
    }
    byKey.set(key, e.fileName);
    const m: NpzMember = {
      key,
      fileName: e.fileName,
      method: e.method === METHOD_STORED ? 'stored' : 'deflated',
      compressedSize: e.compressedSize,
      uncompressedSize: e.uncompressedSize,
      crc32: e.crc32,
      localHeaderOffset: e.localHeaderOffset,
      isArray: e.fileName.endsWith('.npy'),
    };
    entryOf.set(m, e);
    return m;
  });
}

/** Run `fn`, locating any TensorReadError inside `member`. */
async function inMember<T>(src: ByteSource, member: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TensorReadError) throw e.withMember(src.name, member);
    throw e;
  }
}

function requireArray(src: ByteSource, m: NpzMember): void {
  if (!m.isArray) {
    throw new TensorReadError('unsupported-format', src.name, 'member is not a .npy array', m.fileName);
  }
}

/**
 * The member's npy header: its local header plus the first bytes of its content. For deflated
 * members, trailing bytes after the array data are only checked by a full read (readNpzMember),
 * since checking them here would mean inflating everything.
 */
export async function readNpzMemberHeader(
  src: ByteSource,
  member: NpzMember,
  limits?: Partial<ReadLimits>,
): Promise<NpyHeaderInfo> {
  return inMember(src, member.fileName, async () => {
    requireArray(src, member);
    const entry = toZipEntry(member, src.size);
    const dataOffset = await zipEntryDataOffset(src, entry);
    const prefix = zipEntryPrefixReader(src, entry, dataOffset);
    const info = await readNpyHeaderFromPrefix(prefix, member.uncompressedSize, src.name, limits);
    if (info.trailingBytes > 0 && member.method === 'stored') {
      const end = dataOffset + info.dataOffset + info.dataBytes;
      checkNpyTrailingBytes(info, src.name, await readBytes(src, end, Math.min(info.trailingBytes, NPY_MAGIC.length)));
    }
    return { ...info, format: 'npz' };
  });
}

function findMember(src: ByteSource, members: NpzMember[], key: string): NpzMember {
  const m = members.find((x) => x.key === key) ?? members.find((x) => x.fileName === key);
  if (m) return m;
  const keys = members.filter((x) => x.isArray).map((x) => x.key);
  const shown = keys.length > 10 ? `${keys.slice(0, 10).join(', ')}, ...` : keys.join(', ');
  throw new TensorReadError('missing-member', src.name, `no array named '${key}' (available: ${shown || 'none'})`);
}

/** One member as a Tensor. Stored members are read as one exact range and viewed without copying. */
export async function readNpzMember(src: ByteSource, key: string, limits?: Partial<ReadLimits>): Promise<Tensor> {
  const lim = resolveLimits(limits);
  const members = await listNpz(src, lim);
  const member = findMember(src, members, key);
  return inMember(src, member.fileName, async () => {
    requireArray(src, member);
    // The member is a whole .npy: refuse it before allocating if even its data could not fit.
    if (member.uncompressedSize > lim.maxArrayBytes + lim.maxHeaderBytes + 12) {
      throw new TensorReadError(
        'too-large',
        src.name,
        `member of ${member.uncompressedSize} bytes exceeds the array limit of ${lim.maxArrayBytes} bytes`,
      );
    }
    const entry = toZipEntry(member, src.size);
    const bytes = await readZipEntry(src, entry, await zipEntryDataOffset(src, entry));
    return decodeNpy(bytes, src.name, lim);
  });
}

// ---------------------------------------------------------------------------------------------
// Writer (tests, sample generation)

export interface EncodeNpzOptions {
  /** Deflate members (np.savez_compressed); default false (np.savez). */
  compress?: boolean;
}

/** An .npz numpy loads; members are `${key}.npy`. Uses fflate's zip writer (no ZIP64 records). */
export function encodeNpz(
  entries: { key: string; tensor: { dtype: DType; shape: readonly number[]; data: TensorData } }[],
  opts: EncodeNpzOptions = {},
): Uint8Array {
  const files: Zippable = {};
  for (const { key, tensor } of entries) {
    const name = `${key}.npy`;
    if (Object.prototype.hasOwnProperty.call(files, name)) throw new Error(`encodeNpz: duplicate key '${key}'`);
    files[name] = [encodeNpy(tensor), { level: opts.compress ? 6 : 0 }];
  }
  // A fixed timestamp (the zip epoch, as np.savez writes) keeps the output deterministic.
  return zipSync(files, { mtime: new Date(1980, 0, 1, 0, 0, 0) });
}
