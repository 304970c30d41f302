/**
 * NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0/3.0), a header
 * that is a Python dict literal (latin1 for 1.0/2.0, UTF-8 for 3.0), then the raw array data.
 * Everything a header declares is validated against the limits and the file size before any data
 * is read or allocated.
 */
import { TensorReadError } from './errors';
import { ITEM_SIZE, floatArrayToHalf, type DType, type TensorData } from './dtype';
import { formatShape, type Tensor, type TensorHeader } from './tensor';
import type { ByteSource } from './source';
import { resolveLimits, type ReadLimits } from './limits';
import { PyLiteralError, parsePyLiteral, pyRepr, type PyValue } from './pyliteral';
import { alignedFor, byteSwapInPlace, bytesOf, fortranToC, typedView } from './layout';
import { guarded, readBytes, readOwnedBytes } from './guard';

export const NPY_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);

/** Enough bytes to know any version's header length. */
export const NPY_PREAMBLE_BYTES = 12;

export interface NpyHeaderInfo extends TensorHeader {
  /** Byte offset of the array data from the start of the npy bytes (preamble + header). */
  dataOffset: number;
  /**
   * Bytes after the array data. Non-zero only when another .npy follows (np.save called repeatedly
   * on one file handle); any other excess is refused, see checkNpyTrailingBytes. (Exception: a
   * header-only read of a deflated npz member cannot look past the data cheaply; the full read checks.)
   */
  trailingBytes: number;
}

export interface ParseNpyHeaderOptions {
  /**
   * Size of the whole file when `bytes` is only a prefix of it (at least the preamble and header).
   * Defaults to bytes.length. With a prefix, the trailing-bytes check is left to the caller.
   */
  fileSize?: number;
  limits?: Partial<ReadLimits>;
}

export interface NpyPreamble {
  version: [number, number];
  /** Offset of the header dict text. */
  headerStart: number;
  /** Offset of the array data: headerStart + declared header length. */
  dataOffset: number;
}

function startsWithMagic(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, NPY_MAGIC.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

/**
 * Magic, version and header length from the first bytes (up to NPY_PREAMBLE_BYTES; fewer only if
 * the file is that short). Refuses a header above limits.maxHeaderBytes before it is read.
 */
export function parseNpyPreamble(bytes: Uint8Array, file: string, limits?: Partial<ReadLimits>): NpyPreamble {
  if (!startsWithMagic(bytes)) {
    throw new TensorReadError('bad-magic', file, 'not an .npy file (it does not start with "\\x93NUMPY")');
  }
  if (bytes.length < 8) {
    throw new TensorReadError('truncated', file, `file is truncated: ${bytes.length} bytes, too short for an .npy preamble`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if ((major !== 1 && major !== 2 && major !== 3) || minor !== 0) {
    throw new TensorReadError(
      'unsupported-format',
      file,
      `.npy format version ${major}.${minor} is not supported (known versions: 1.0, 2.0, 3.0)`,
    );
  }
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) {
    throw new TensorReadError('truncated', file, `file is truncated: ${bytes.length} bytes, too short for an .npy preamble`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, headerStart);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const max = resolveLimits(limits).maxHeaderBytes;
  if (headerLength > max) {
    throw new TensorReadError('too-large', file, `.npy header of ${headerLength} bytes exceeds the limit of ${max} bytes`);
  }
  return { version: [major, 0], headerStart, dataOffset: headerStart + headerLength };
}

function latin1(bytes: Uint8Array): string {
  // Not TextDecoder('latin1'): per the WHATWG spec that is windows-1252, which remaps 0x80-0x9f.
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

function decodeHeaderText(bytes: Uint8Array, major: number, file: string): string {
  if (major < 3) return latin1(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new TensorReadError('bad-header', file, '.npy 3.0 header is not valid UTF-8');
  }
}

interface HeaderFields {
  descr: PyValue;
  fortranOrder: boolean;
  shape: PyValue[];
}

function malformed(file: string, why: string): TensorReadError {
  return new TensorReadError('bad-header', file, `malformed .npy header: ${why}`);
}

/** The dict must have exactly the keys numpy writes, with the right kinds of values. */
function headerFields(text: string, file: string): HeaderFields {
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (e) {
    if (e instanceof PyLiteralError) throw malformed(file, e.message);
    throw e;
  }
  if (dict.kind !== 'dict') throw malformed(file, `expected a dict, found a ${dict.kind}`);
  const seen = new Map<string, PyValue>();
  for (const [k, v] of dict.entries) {
    if (k.kind !== 'str') throw malformed(file, `dict key ${pyRepr(k)} is not a string`);
    if (k.value !== 'descr' && k.value !== 'fortran_order' && k.value !== 'shape') {
      throw malformed(file, `unexpected key '${k.value}' (expected descr, fortran_order, shape)`);
    }
    if (seen.has(k.value)) throw malformed(file, `duplicate key '${k.value}'`);
    seen.set(k.value, v);
  }
  const descr = seen.get('descr');
  const fortran = seen.get('fortran_order');
  const shape = seen.get('shape');
  if (!descr || !fortran || !shape) {
    const missing = ['descr', 'fortran_order', 'shape'].filter((k) => !seen.has(k));
    throw malformed(file, `missing key${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  if (fortran.kind !== 'bool') throw malformed(file, `fortran_order must be True or False, not ${pyRepr(fortran)}`);
  if (shape.kind !== 'tuple') throw malformed(file, `shape must be a tuple, not ${pyRepr(shape)}`);
  return { descr, fortranOrder: fortran.value, shape: shape.items };
}

interface DescrInfo {
  dtype: DType;
  byteOrder: 'little' | 'big' | 'none';
  storedType: string;
}

const NUMERIC_CODES: Readonly<Record<string, DType>> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
  '?': 'bool',
};

function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function unsupportedDescrReason(kind: string, code: string): string {
  switch (kind) {
    case 'O':
      return 'object arrays need pickle, which is never loaded';
    case 'c':
      return 'complex numbers are not supported';
    case 'S':
    case 'a':
    case 'U':
      return 'string arrays are not supported';
    case 'M':
    case 'm':
      return 'datetime/timedelta arrays are not supported';
    case 'V':
      return 'raw void (record) arrays are not supported';
    case 'f':
      return code === 'f12' || code === 'f16' ? 'long double floats are not supported' : 'unknown float size';
    default:
      return 'unknown or unsupported element type';
  }
}

/** descr -> our dtype; every type we cannot represent exactly is refused with a specific reason. */
function parseDescr(descr: PyValue, file: string): DescrInfo {
  if (descr.kind === 'list') {
    throw new TensorReadError(
      'unsupported-dtype',
      file,
      `structured dtype ${clip(pyRepr(descr))} is not supported (only plain numeric arrays)`,
    );
  }
  if (descr.kind === 'tuple') {
    throw new TensorReadError('unsupported-dtype', file, `subarray dtype ${clip(pyRepr(descr))} is not supported`);
  }
  if (descr.kind !== 'str') throw malformed(file, `descr must be a string, not ${pyRepr(descr)}`);
  const m = /^([<>|=]?)(.*)$/s.exec(descr.value)!;
  const order = m[1]!;
  const code = m[2]!;
  const dtype = NUMERIC_CODES[code];
  if (dtype === undefined) {
    throw new TensorReadError(
      'unsupported-dtype',
      file,
      `dtype '${clip(descr.value)}': ${unsupportedDescrReason(code.charAt(0), code)}`,
    );
  }
  // '|' (not applicable) and '=' (native) mean the writer's native order; every platform numpy
  // writes '|' for multi-byte types on is little-endian, and numpy itself reads them as native.
  const byteOrder = ITEM_SIZE[dtype] === 1 ? 'none' : order === '>' ? 'big' : 'little';
  return { dtype, byteOrder, storedType: descr.value };
}

interface Extent {
  shape: number[];
  size: number;
  dataBytes: number;
}

/** Shape, element count and byte count, refusing anything above the limits before allocation. */
function parseShape(items: PyValue[], dtype: DType, file: string, maxArrayBytes: number): Extent {
  const shape: number[] = [];
  for (const it of items) {
    if (it.kind !== 'int') throw malformed(file, `shape entries must be integers, found ${pyRepr(it)}`);
    if (it.value < 0n) throw malformed(file, `shape has a negative dimension ${it.value}`);
    if (it.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new TensorReadError('too-large', file, `dimension ${it.value} is too large`);
    }
    shape.push(Number(it.value));
  }
  let size = 1;
  if (!shape.includes(0)) {
    for (const d of shape) {
      if (size > Number.MAX_SAFE_INTEGER / d) {
        throw new TensorReadError('too-large', file, `shape ${formatShape(shape)} has too many elements`);
      }
      size *= d;
    }
  } else {
    size = 0;
  }
  const itemSize = ITEM_SIZE[dtype];
  if (size > maxArrayBytes / itemSize) {
    throw new TensorReadError(
      'too-large',
      file,
      `array ${formatShape(shape)} ${dtype} needs ${size * itemSize} bytes, above the limit of ${maxArrayBytes} bytes`,
    );
  }
  return { shape, size, dataBytes: size * itemSize };
}

/**
 * Parse and validate the preamble and header. `bytes` holds the file or at least its first
 * `dataOffset` bytes (see ParseNpyHeaderOptions.fileSize). Nothing is allocated for the data.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string, opts: ParseNpyHeaderOptions = {}): NpyHeaderInfo {
  const limits = resolveLimits(opts.limits);
  const fileSize = opts.fileSize ?? bytes.length;
  const pre = parseNpyPreamble(bytes.subarray(0, NPY_PREAMBLE_BYTES), file, limits);
  if (fileSize < pre.dataOffset) {
    throw new TensorReadError(
      'truncated',
      file,
      `file is truncated: the .npy header needs ${pre.dataOffset} bytes but the file has ${fileSize}`,
    );
  }
  if (bytes.length < pre.dataOffset) {
    throw new TensorReadError('truncated', file, `only ${bytes.length} of the ${pre.dataOffset} header bytes were given`);
  }
  const text = decodeHeaderText(bytes.subarray(pre.headerStart, pre.dataOffset), pre.version[0], file);
  const fields = headerFields(text, file);
  const descr = parseDescr(fields.descr, file);
  const extent = parseShape(fields.shape, descr.dtype, file, limits.maxArrayBytes);

  const end = pre.dataOffset + extent.dataBytes;
  if (fileSize < end) {
    throw new TensorReadError(
      'truncated',
      file,
      `file is truncated: array ${formatShape(extent.shape)} ${descr.dtype} needs ${extent.dataBytes} data bytes ` +
        `(${end} bytes in all) but the file has ${fileSize} bytes`,
    );
  }
  const info: NpyHeaderInfo = {
    dtype: descr.dtype,
    shape: extent.shape,
    size: extent.size,
    fortranOrder: fields.fortranOrder,
    byteOrder: descr.byteOrder,
    storedType: descr.storedType,
    dataBytes: extent.dataBytes,
    format: 'npy',
    npyVersion: pre.version,
    dataOffset: pre.dataOffset,
    trailingBytes: fileSize - end,
  };
  if (info.trailingBytes > 0 && bytes.length === fileSize) {
    checkNpyTrailingBytes(info, file, bytes.subarray(end, end + NPY_MAGIC.length));
  }
  return info;
}

/**
 * Trailing-bytes policy. np.load ignores whatever follows the data (it reads exactly `size`
 * elements), which is what makes the documented pattern of calling np.save several times on one
 * open file work. But arbitrary excess more often means the header's shape or dtype is wrong (a
 * hand-written writer, an edited header), in which case reading the prefix would silently show
 * the wrong numbers. So: another .npy following the data is accepted (we return the first array,
 * as np.load does); anything else is refused as 'size-mismatch'.
 * `next` is the first bytes after the data (up to 6).
 */
export function checkNpyTrailingBytes(info: NpyHeaderInfo, file: string, next: Uint8Array): void {
  if (info.trailingBytes === 0) return;
  if (info.trailingBytes >= NPY_MAGIC.length && next.length >= NPY_MAGIC.length && startsWithMagic(next)) return;
  throw new TensorReadError(
    'size-mismatch',
    file,
    `${info.trailingBytes} unexpected bytes after the ${info.dataBytes} data bytes of array ` +
      `${formatShape(info.shape)} ${info.dtype} (header and file size disagree)`,
  );
}

/**
 * Header from the start of some npy bytes of total length `size`, via `prefix(n)`, which returns at
 * least the first min(n, size) bytes: two small reads (preamble, then preamble + header). Shared by
 * files and npz members (stored or deflated). Trailing bytes are left to the caller.
 */
export async function readNpyHeaderFromPrefix(
  prefix: (n: number) => Promise<Uint8Array>,
  size: number,
  file: string,
  limits?: Partial<ReadLimits>,
): Promise<NpyHeaderInfo> {
  const first = await prefix(NPY_PREAMBLE_BYTES);
  const pre = parseNpyPreamble(first, file, limits);
  // Too-short files get parseNpyHeader's precise message instead of a generic range error.
  const headerBytes = pre.dataOffset <= size ? await prefix(pre.dataOffset) : first;
  return parseNpyHeader(headerBytes, file, { fileSize: size, limits: limits ?? {} });
}

/** Header only: reads the preamble, then the header (and 6 bytes past the data if any follow), never the data. */
export async function readNpyHeader(src: ByteSource, limits?: Partial<ReadLimits>): Promise<NpyHeaderInfo> {
  const info = await readNpyHeaderFromPrefix(
    (n) => readBytes(src, 0, Math.min(n, src.size)),
    src.size,
    src.name,
    limits,
  );
  if (info.trailingBytes > 0) {
    const end = info.dataOffset + info.dataBytes;
    const next = await readBytes(src, end, Math.min(info.trailingBytes, NPY_MAGIC.length));
    checkNpyTrailingBytes(info, src.name, next);
  }
  return info;
}

/**
 * Array data as stored (exactly info.dataBytes, owned by the caller) -> a Tensor in C order and
 * native endianness. A view on `data` whenever possible; see layout.ts for the conversions.
 */
export function npyDataToTensor(info: TensorHeader, data: Uint8Array, file: string): Tensor {
  return guarded(file, `decoding ${info.dataBytes} bytes of array data`, () => {
    const itemSize = ITEM_SIZE[info.dtype];
    let bytes = alignedFor(data, itemSize);
    if (info.byteOrder === 'big') byteSwapInPlace(bytes, itemSize);
    if (info.fortranOrder) bytes = fortranToC(bytes, info.shape, itemSize);
    return { dtype: info.dtype, shape: info.shape.slice(), size: info.size, data: typedView(info.dtype, bytes) };
  });
}

/** Read a whole .npy: the header, then one owned read of exactly the data range. */
export async function readNpy(src: ByteSource, limits?: Partial<ReadLimits>): Promise<Tensor> {
  const info = await readNpyHeader(src, limits);
  const data = await readOwnedBytes(src, info.dataOffset, info.dataBytes);
  return npyDataToTensor(info, data, src.name);
}

/**
 * Decode a whole .npy already in memory (e.g. an npz member). Takes ownership of `bytes`: the
 * result may be a view into them, and big-endian data is byte-swapped in place.
 */
export function decodeNpy(bytes: Uint8Array, file: string, limits?: Partial<ReadLimits>): Tensor {
  const info = parseNpyHeader(bytes, file, limits ? { limits } : {});
  return npyDataToTensor(info, bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes), file);
}

// ---------------------------------------------------------------------------------------------
// Writer

const DESCR_OF: Readonly<Record<Exclude<DType, 'bfloat16'>, string>> = {
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
  int8: '|i1',
  int16: '<i2',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  uint16: '<u2',
  uint32: '<u4',
  uint64: '<u8',
  bool: '|b1',
};

/** The typed array each dtype's data must be given in (float16: its values, as float32/float64). */
const DATA_CLASS: Readonly<Record<Exclude<DType, 'bfloat16'>, string[]>> = {
  float16: ['Float32Array', 'Float64Array'],
  float32: ['Float32Array'],
  float64: ['Float64Array'],
  int8: ['Int8Array'],
  int16: ['Int16Array'],
  int32: ['Int32Array'],
  int64: ['BigInt64Array'],
  uint8: ['Uint8Array'],
  uint16: ['Uint16Array'],
  uint32: ['Uint32Array'],
  uint64: ['BigUint64Array'],
  bool: ['Uint8Array'],
};

// Same as numpy: header padded so the data starts on a 64-byte boundary (mmap/SIMD friendly),
// plus spare room for the first axis to grow (np.lib.format.GROWTH_AXIS_MAX_DIGITS).
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;

export interface EncodeNpyOptions {
  /** Default: 1 when the header fits its u16 length, else 2 (numpy's choice). */
  version?: 1 | 2 | 3;
  /** Only C order is written. */
  fortranOrder?: false;
}

function pyTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** numpy's header text for a C-order array, growth padding included, without alignment padding. */
function headerDict(descr: string, shape: readonly number[]): string {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyTuple(shape)}, }`;
  const growth = shape.length > 0 ? GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length : 0;
  return dict + ' '.repeat(Math.max(0, growth));
}

/** Header bytes after the preamble: text, space padding to ARRAY_ALIGN, '\n' (as numpy pads). */
function paddedHeaderLength(textLength: number, version: number): number {
  const preamble = version === 1 ? 10 : 12;
  const withNewline = textLength + 1;
  return withNewline + ARRAY_ALIGN - ((preamble + withNewline) % ARRAY_ALIGN);
}

function checkEncodable(t: { dtype: DType; shape: readonly number[]; data: TensorData }): void {
  if (t.dtype === 'bfloat16') throw new Error('encodeNpy: numpy has no bfloat16 dtype');
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: invalid dimension ${d}`);
  }
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) {
    throw new Error(`encodeNpy: ${t.data.length} elements given for shape ${formatShape(t.shape)} (${size})`);
  }
  const allowed = DATA_CLASS[t.dtype];
  if (!allowed.includes(t.data.constructor.name)) {
    throw new Error(`encodeNpy: ${t.dtype} data must be a ${allowed.join(' or ')}, not ${t.data.constructor.name}`);
  }
}

/**
 * A .npy that numpy loads, byte-identical to np.save for the same C-order array and version.
 * float16 data is given as its values (Float32Array) and rounded to half, ties to even.
 */
export function encodeNpy(
  t: { dtype: DType; shape: readonly number[]; data: TensorData },
  opts: EncodeNpyOptions = {},
): Uint8Array {
  checkEncodable(t);
  const dtype = t.dtype as Exclude<DType, 'bfloat16'>;
  const header = new TextEncoder().encode(headerDict(DESCR_OF[dtype], t.shape));
  // numpy's choice when no version is given: 1.0 unless its u16 header length would overflow.
  const version = opts.version ?? (paddedHeaderLength(header.length, 1) <= 0xffff ? 1 : 2);
  const preamble = version === 1 ? 10 : 12;
  const headerLength = paddedHeaderLength(header.length, version);
  if (version === 1 && headerLength > 0xffff) throw new Error('encodeNpy: header too long for format 1.0');

  const payload =
    dtype === 'float16' ? bytesOf(floatArrayToHalf(t.data as Float32Array | Float64Array)) : bytesOf(t.data);
  const out = new Uint8Array(preamble + headerLength + payload.byteLength);
  out.set(NPY_MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, headerLength, true);
  else dv.setUint32(8, headerLength, true);
  out.set(header, preamble);
  out.fill(0x20, preamble + header.length, preamble + headerLength - 1);
  out[preamble + headerLength - 1] = 0x0a;
  out.set(payload, preamble + headerLength);
  return out;
}
