/**
 * Just enough of the zip format for .npz files, written against APPNOTE.TXT 6.3: the central
 * directory (with ZIP64 records and extra fields, which np.savez uses: it opens every member with
 * force_zip64=True), local header validation, stored and deflated members, CRC-32 verification.
 * Directory listing never touches member data; member reads allocate exactly the declared size.
 */
import { inflateRawSync } from 'node:zlib';
import { Inflate } from 'fflate';
import { TensorReadError } from './errors';
import type { ByteSource } from './source';
import { resolveLimits, type ReadLimits } from './limits';
import { crc32 } from './crc32';
import { asTensorError, readBytes, readOwnedBytes } from './guard';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

// A central directory is ~60 bytes per member; this bound only stops a corrupt size field from
// making us read gigabytes before maxMembers could be checked.
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

// DEFLATE cannot expand more than 1032:1 (258-byte matches coded in 2 bits); a declared size
// beyond that is a lie we can detect before allocating for it.
const MAX_DEFLATE_RATIO = 1032;

const METHOD_NAMES: Readonly<Record<number, string>> = {
  1: 'shrink',
  6: 'implode',
  9: 'deflate64',
  12: 'bzip2',
  14: 'lzma',
  93: 'zstandard',
  95: 'xz',
  98: 'ppmd',
  99: 'AES encryption',
};

export interface ZipEntry {
  /** Decoded member name (UTF-8 when flagged, else code page 437, as Python's zipfile does). */
  fileName: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Where member data must end: the start of the central directory. */
  dataEnd: number;
}

const CP437_HIGH =
  '\xc7\xfc\xe9\xe2\xe4\xe0\xe5\xe7\xea\xeb\xe8\xef\xee\xec\xc4\xc5\xc9\xe6\xc6\xf4\xf6\xf2\xfb\xf9\xff\xd6\xdc\xa2\xa3\xa5\u20a7\u0192\xe1\xed\xf3\xfa\xf1\xd1\xaa\xba\xbf\u2310\xac\xbd\xbc\xa1\xab\xbb\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510\u2514\u2534\u252c\u251c\u2500\u253c\u255e\u255f\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u2567\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580\u03b1\xdf\u0393\u03c0\u03a3\u03c3\xb5\u03c4\u03a6\u0398\u03a9\u03b4\u221e\u03c6\u03b5\u2229\u2261\xb1\u2265\u2264\u2320\u2321\xf7\u2248\xb0\u2219\xb7\u221a\u207f\xb2\u25a0\xa0';

function decodeName(bytes: Uint8Array, utf8: boolean, file: string): string {
  if (utf8) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new TensorReadError('bad-header', file, 'a zip member name flagged as UTF-8 is not valid UTF-8');
    }
  }
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80]!;
  return s;
}

function zipError(file: string, problem: string, member?: string): TensorReadError {
  return new TensorReadError('bad-header', file, problem, member);
}

/** Little-endian field reader over a byte range, bounds-checked by the DataView itself. */
class Fields {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(at: number): number {
    return this.dv.getUint16(at, true);
  }
  u32(at: number): number {
    return this.dv.getUint32(at, true);
  }
  /** u64 as a number; undefined if above 2^53 (no real archive is that large). */
  u64(at: number): number | undefined {
    const lo = this.dv.getUint32(at, true);
    const hi = this.dv.getUint32(at + 4, true);
    return hi > 0x1fffff ? undefined : hi * 0x100000000 + lo;
  }
}

interface EndRecord {
  entries: number;
  cdOffset: number;
  cdSize: number;
  /** Start of the end records (zip64 or classic): the central directory must end before it. */
  endStart: number;
}

async function startsWithLocalHeader(src: ByteSource): Promise<boolean> {
  if (src.size < 4) return false;
  const b = await readBytes(src, 0, 4);
  return new Fields(b).u32(0) === SIG_LOCAL;
}

/**
 * Find the end-of-central-directory record: it ends the file, possibly followed by a comment of up
 * to 64 KiB, so (unless it is right at the end) it is searched backwards in the last 64 KiB + 22 bytes. A candidate whose comment
 * length ends exactly at the end of the file wins over one that merely fits (a signature can occur
 * by chance inside a comment).
 */
async function findEocd(src: ByteSource): Promise<number> {
  // Fast path: archives without a comment (np.savez's) end with the record itself, so a header
  // read need not fetch 64 KiB.
  if (src.size >= EOCD_BYTES) {
    const last = new Fields(await readBytes(src, src.size - EOCD_BYTES, EOCD_BYTES));
    if (last.u32(0) === SIG_EOCD && last.u16(20) === 0) return src.size - EOCD_BYTES;
  }
  const tailStart = Math.max(0, src.size - (MAX_COMMENT + EOCD_BYTES));
  const tail = await readBytes(src, tailStart, src.size - tailStart);
  const f = new Fields(tail);
  let loose = -1;
  for (let i = tail.length - EOCD_BYTES; i >= 0; i--) {
    if (tail[i] !== 0x50 || f.u32(i) !== SIG_EOCD) continue;
    const end = i + EOCD_BYTES + f.u16(i + 20);
    if (end === tail.length) return tailStart + i;
    if (end < tail.length && loose < 0) loose = tailStart + i;
  }
  if (loose >= 0) return loose;
  if (await startsWithLocalHeader(src)) {
    throw new TensorReadError('truncated', src.name, 'zip archive is truncated: its end-of-central-directory record is missing');
  }
  throw new TensorReadError('bad-magic', src.name, 'not a zip archive (.npz): no end-of-central-directory record');
}

async function readEndRecord(src: ByteSource): Promise<EndRecord> {
  const file = src.name;
  const eocdPos = await findEocd(src);
  const e = new Fields(await readBytes(src, eocdPos, EOCD_BYTES));
  const disk = e.u16(4);
  const cdDisk = e.u16(6);
  let entriesHere = e.u16(8);
  let entries = e.u16(10);
  let cdSize = e.u32(12);
  let cdOffset = e.u32(16);
  let endStart = eocdPos;

  const locPos = eocdPos - ZIP64_LOCATOR_BYTES;
  const loc = locPos >= 0 ? new Fields(await readBytes(src, locPos, ZIP64_LOCATOR_BYTES)) : undefined;
  if (loc && loc.u32(0) === SIG_ZIP64_LOCATOR) {
    const recPos = loc.u64(8);
    if (recPos === undefined || recPos + ZIP64_EOCD_BYTES > locPos) {
      throw zipError(file, 'ZIP64 end-of-central-directory locator points outside the archive');
    }
    const r = new Fields(await readBytes(src, recPos, ZIP64_EOCD_BYTES));
    if (r.u32(0) !== SIG_ZIP64_EOCD) throw zipError(file, 'ZIP64 end-of-central-directory record is missing');
    const here = r.u64(24);
    const total = r.u64(32);
    const size = r.u64(40);
    const offset = r.u64(48);
    if (here === undefined || total === undefined || size === undefined || offset === undefined) {
      throw zipError(file, 'ZIP64 end-of-central-directory record has impossible sizes');
    }
    if (r.u32(16) !== 0 || r.u32(20) !== 0 || loc.u32(4) !== 0) {
      throw new TensorReadError('unsupported-format', file, 'multi-disk (split) zip archives are not supported');
    }
    [entriesHere, entries, cdSize, cdOffset, endStart] = [here, total, size, offset, recPos];
  } else if (disk !== 0 || cdDisk !== 0) {
    throw new TensorReadError('unsupported-format', file, 'multi-disk (split) zip archives are not supported');
  }
  if (entriesHere !== entries) {
    throw new TensorReadError('unsupported-format', file, 'multi-disk (split) zip archives are not supported');
  }
  if (cdOffset + cdSize > endStart) {
    throw zipError(file, `central directory (${cdSize} bytes at ${cdOffset}) lies outside the archive`);
  }
  return { entries, cdOffset, cdSize, endStart };
}

/**
 * Values that did not fit 32 bits are 0xffffffff in the fixed fields and follow in the ZIP64 extra
 * field, in this order, only those that overflowed (central directory), or always both sizes
 * (local header).
 */
interface Zip64Wanted {
  uncompressed: boolean;
  compressed: boolean;
  offset: boolean;
}

function readZip64Extra(
  extra: Uint8Array,
  want: Zip64Wanted,
  file: string,
  member: string,
): { uncompressed?: number; compressed?: number; offset?: number } {
  const f = new Fields(extra);
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = f.u16(p);
    const len = f.u16(p + 2);
    if (p + 4 + len > extra.length) break; // some writers pad the extra area; not our field
    if (id === ZIP64_EXTRA_ID) {
      const out: { uncompressed?: number; compressed?: number; offset?: number } = {};
      let q = p + 4;
      const take = (): number => {
        if (q + 8 > p + 4 + len) throw zipError(file, 'ZIP64 extra field is too short', member);
        const v = f.u64(q);
        q += 8;
        if (v === undefined) throw new TensorReadError('too-large', file, 'ZIP64 size or offset above 2^53', member);
        return v;
      };
      if (want.uncompressed) out.uncompressed = take();
      if (want.compressed) out.compressed = take();
      if (want.offset) out.offset = take();
      return out;
    }
    p += 4 + len;
  }
  throw zipError(file, 'a size or offset is 0xffffffff but there is no ZIP64 extra field', member);
}

function describeMethod(method: number): string {
  const name = METHOD_NAMES[method];
  return name ? `${method} (${name})` : String(method);
}

/** One central directory record at `p`; returns the entry and the offset of the next record. */
function parseCentralRecord(
  cd: Fields,
  p: number,
  dir: EndRecord,
  file: string,
): { entry: ZipEntry; next: number } {
  if (p + CENTRAL_BYTES > cd.bytes.length || cd.u32(p) !== SIG_CENTRAL) {
    throw zipError(file, `central directory is damaged (no member record at offset ${dir.cdOffset + p})`);
  }
  const flags = cd.u16(p + 8);
  const method = cd.u16(p + 10);
  const crc = cd.u32(p + 16);
  let compressedSize = cd.u32(p + 20);
  let uncompressedSize = cd.u32(p + 24);
  const nameLen = cd.u16(p + 28);
  const extraLen = cd.u16(p + 30);
  const commentLen = cd.u16(p + 32);
  const diskStart = cd.u16(p + 34);
  let localHeaderOffset = cd.u32(p + 42);
  const next = p + CENTRAL_BYTES + nameLen + extraLen + commentLen;
  if (next > cd.bytes.length) throw zipError(file, 'central directory is damaged (a record overruns it)');
  const nameBytes = cd.bytes.subarray(p + CENTRAL_BYTES, p + CENTRAL_BYTES + nameLen);
  const fileName = decodeName(nameBytes, (flags & FLAG_UTF8) !== 0, file);

  const want: Zip64Wanted = {
    uncompressed: uncompressedSize === 0xffffffff,
    compressed: compressedSize === 0xffffffff,
    offset: localHeaderOffset === 0xffffffff,
  };
  if (want.uncompressed || want.compressed || want.offset) {
    const extra = cd.bytes.subarray(p + CENTRAL_BYTES + nameLen, p + CENTRAL_BYTES + nameLen + extraLen);
    const z = readZip64Extra(extra, want, file, fileName);
    uncompressedSize = z.uncompressed ?? uncompressedSize;
    compressedSize = z.compressed ?? compressedSize;
    localHeaderOffset = z.offset ?? localHeaderOffset;
  }
  const entry: ZipEntry = {
    fileName,
    method,
    flags,
    crc32: crc,
    compressedSize,
    uncompressedSize,
    localHeaderOffset,
    dataEnd: dir.cdOffset,
  };
  checkEntry(entry, diskStart !== 0 && diskStart !== 0xffff, file);
  return { entry, next };
}

/** What can be refused from the directory alone. */
function checkEntry(e: ZipEntry, otherDisk: boolean, file: string): void {
  const m = e.fileName;
  if (e.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) || e.method === 99) {
    throw new TensorReadError('unsupported-format', file, 'member is encrypted', m);
  }
  if (e.method !== METHOD_STORED && e.method !== METHOD_DEFLATED) {
    throw new TensorReadError(
      'unsupported-format',
      file,
      `compression method ${describeMethod(e.method)} is not supported (only stored and deflate)`,
      m,
    );
  }
  if (otherDisk) throw new TensorReadError('unsupported-format', file, 'member lives on another disk of a split archive', m);
  if (e.method === METHOD_STORED && e.compressedSize !== e.uncompressedSize) {
    throw zipError(file, `stored member has compressed size ${e.compressedSize} but size ${e.uncompressedSize}`, m);
  }
  if (e.localHeaderOffset + LOCAL_BYTES + e.compressedSize > e.dataEnd) {
    throw zipError(file, `member data (${e.compressedSize} bytes at ${e.localHeaderOffset}) lies outside the archive`, m);
  }
}

/** The central directory, validated: no member data is read. */
export async function readZipDirectory(src: ByteSource, limits?: Partial<ReadLimits>): Promise<ZipEntry[]> {
  const lim = resolveLimits(limits);
  const file = src.name;
  const dir = await readEndRecord(src);
  if (dir.entries > lim.maxMembers) {
    throw new TensorReadError('too-large', file, `archive has ${dir.entries} members, above the limit of ${lim.maxMembers} (in VS Code: the setting cornernet.archive.maxMembers)`);
  }
  if (dir.cdSize > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new TensorReadError('too-large', file, `central directory of ${dir.cdSize} bytes is implausibly large`);
  }
  const cd = new Fields(await readBytes(src, dir.cdOffset, dir.cdSize));
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let total = 0;
  for (let i = 0, p = 0; i < dir.entries; i++) {
    const { entry, next } = parseCentralRecord(cd, p, dir, file);
    if (names.has(entry.fileName)) throw zipError(file, 'duplicate member name', entry.fileName);
    names.add(entry.fileName);
    total += entry.uncompressedSize;
    entries.push(entry);
    p = next;
  }
  if (total > lim.maxTotalUncompressedBytes) {
    throw new TensorReadError(
      'too-large',
      file,
      `members total ${total} uncompressed bytes, above the limit of ${lim.maxTotalUncompressedBytes} (in VS Code: the setting cornernet.archive.maxUncompressedGB)`,
    );
  }
  return entries;
}

/**
 * Validate the member's local header against its directory entry and return where its data starts.
 * A disagreement means the archive was tampered with or damaged: which header would we trust?
 */
export async function zipEntryDataOffset(src: ByteSource, e: ZipEntry): Promise<number> {
  const file = src.name;
  const m = e.fileName;
  if (e.localHeaderOffset + LOCAL_BYTES > src.size) throw zipError(file, 'local header lies outside the archive', m);
  const h = new Fields(await readBytes(src, e.localHeaderOffset, LOCAL_BYTES));
  if (h.u32(0) !== SIG_LOCAL) throw zipError(file, `no local header at offset ${e.localHeaderOffset}`, m);
  const flags = h.u16(6);
  const method = h.u16(8);
  const nameLen = h.u16(26);
  const extraLen = h.u16(28);
  const dataOffset = e.localHeaderOffset + LOCAL_BYTES + nameLen + extraLen;
  if (dataOffset + e.compressedSize > e.dataEnd) {
    throw zipError(file, 'member data lies outside the archive', m);
  }
  const nameAndExtra = await readBytes(src, e.localHeaderOffset + LOCAL_BYTES, nameLen + extraLen);
  const localName = decodeName(nameAndExtra.subarray(0, nameLen), (flags & FLAG_UTF8) !== 0, file);
  const mismatch = (what: string): TensorReadError =>
    zipError(file, `local header disagrees with the central directory (${what})`, m);
  if (localName !== e.fileName) throw mismatch(`name '${localName}'`);
  if (method !== e.method) throw mismatch(`method ${method} vs ${e.method}`);
  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) throw mismatch('encryption flag');

  let crc = h.u32(14);
  let compressed = h.u32(18);
  let uncompressed = h.u32(22);
  if (compressed === 0xffffffff || uncompressed === 0xffffffff) {
    const z = readZip64Extra(nameAndExtra.subarray(nameLen), { uncompressed: true, compressed: true, offset: false }, file, m);
    compressed = z.compressed!;
    uncompressed = z.uncompressed!;
  }
  // With a data descriptor (streamed writes) the local fields may be zero; the directory is authoritative.
  const deferred = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
  const differs = (local: number, central: number): boolean => local !== central && !(deferred && local === 0);
  if (differs(crc, e.crc32)) throw mismatch('CRC-32');
  if (differs(compressed, e.compressedSize)) throw mismatch(`compressed size ${compressed} vs ${e.compressedSize}`);
  if (differs(uncompressed, e.uncompressedSize)) throw mismatch(`size ${uncompressed} vs ${e.uncompressedSize}`);
  return dataOffset;
}

function checkCrc(bytes: Uint8Array, e: ZipEntry, file: string): void {
  const actual = crc32(bytes);
  if (actual !== e.crc32) {
    throw new TensorReadError(
      'corrupt',
      file,
      `CRC-32 mismatch: data has ${hex32(actual)}, the archive records ${hex32(e.crc32)}`,
      e.fileName,
    );
  }
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

function checkDeclaredRatio(e: ZipEntry, file: string): void {
  if (e.method !== METHOD_DEFLATED) return;
  if (e.compressedSize === 0) throw new TensorReadError('corrupt', file, 'deflated member has no data', e.fileName);
  if (e.uncompressedSize > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
    throw new TensorReadError(
      'corrupt',
      file,
      `declared size ${e.uncompressedSize} is impossible for ${e.compressedSize} deflated bytes`,
      e.fileName,
    );
  }
}

function fflateProblem(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The member's uncompressed bytes, owned by the caller and CRC-checked. Inflated by Node's zlib
 * with `maxOutputLength` = the declared size: zlib stops at the first output chunk past it, so a
 * deflate bomb that declares 262 KB and inflates to gigabytes is refused after ~16 KB of extra
 * output, not after inflating everything (fflate's inflateSync keeps decoding into a full buffer).
 */
export async function readZipEntry(src: ByteSource, e: ZipEntry, dataOffset: number): Promise<Uint8Array> {
  const file = src.name;
  if (e.method === METHOD_STORED) {
    const bytes = await readOwnedBytes(src, dataOffset, e.compressedSize);
    checkCrc(bytes, e, file);
    return bytes;
  }
  checkDeclaredRatio(e, file);
  const compressed = await readBytes(src, dataOffset, e.compressedSize);
  let bytes: Uint8Array;
  try {
    bytes = inflateRawSync(compressed, { maxOutputLength: Math.max(1, e.uncompressedSize) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TensorReadError('corrupt', file, `inflates to more than the ${e.uncompressedSize} bytes the archive declares`, e.fileName);
    }
    if (err instanceof RangeError) throw asTensorError(err, file, `${e.uncompressedSize} bytes for a member`);
    throw new TensorReadError('corrupt', file, `deflate data is corrupt: ${fflateProblem(err)}`, e.fileName);
  }
  if (bytes.length !== e.uncompressedSize) {
    throw new TensorReadError(
      'corrupt',
      file,
      `inflates to ${bytes.length > e.uncompressedSize ? 'more than' : 'only'} ${Math.min(bytes.length, e.uncompressedSize)} bytes, ` +
        `the archive declares ${e.uncompressedSize}`,
      e.fileName,
    );
  }
  checkCrc(bytes, e, file);
  // A small Buffer can sit inside Node's shared pool at any offset; callers view these bytes as
  // typed arrays, which need their own aligned buffer.
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
}

/**
 * The first bytes of a member's uncompressed content, decompressing only as much as needed:
 * `prefix(n)` returns at least min(n, uncompressedSize) bytes. Compressed input is read in small,
 * growing chunks so a header read costs a few hundred bytes of I/O and inflation.
 */
export function zipEntryPrefixReader(
  src: ByteSource,
  e: ZipEntry,
  dataOffset: number,
): (n: number) => Promise<Uint8Array> {
  const file = src.name;
  if (e.method === METHOD_STORED) {
    return (n) => readBytes(src, dataOffset, Math.min(n, e.uncompressedSize));
  }
  checkDeclaredRatio(e, file);
  const chunks: Uint8Array[] = [];
  let have = 0;
  let consumed = 0;
  let finished = false;
  let step = 512;
  const inflater = new Inflate((chunk, final) => {
    if (chunk.length) chunks.push(chunk);
    have += chunk.length;
    if (final) finished = true;
  });
  return async (n) => {
    const want = Math.min(n, e.uncompressedSize);
    while (have < want && !finished && consumed < e.compressedSize) {
      const len = Math.min(step, e.compressedSize - consumed);
      const input = await readBytes(src, dataOffset + consumed, len);
      consumed += len;
      step = Math.min(step * 2, 16384); // bounded: 16 KiB of input inflates to at most ~16 MiB
      try {
        inflater.push(input, consumed === e.compressedSize);
      } catch (err) {
        throw new TensorReadError('corrupt', file, `deflate data is corrupt: ${fflateProblem(err)}`, e.fileName);
      }
    }
    if (have < want) {
      throw new TensorReadError('corrupt', file, `inflates to only ${have} bytes, the archive declares ${e.uncompressedSize}`, e.fileName);
    }
    if (chunks.length > 1) chunks.splice(0, chunks.length, concat(chunks, have));
    return chunks[0] ?? new Uint8Array(0);
  };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of parts) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
