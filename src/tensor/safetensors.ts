/**
 * safetensors: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping tensor names
 * to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data section that follows
 * the header), plus an optional "__metadata__" map of strings. Data is little-endian, C order.
 * https://github.com/huggingface/safetensors#format
 */
import { TensorReadError } from './errors';
import { ITEM_SIZE, type DType, type TensorData } from './dtype';
import { formatShape, type Tensor, type TensorHeader } from './tensor';
import type { ByteSource } from './source';
import { resolveLimits, type ReadLimits } from './limits';
import { alignedFor, bytesOf, typedView } from './layout';
import { guarded, readBytes, readOwnedBytes } from './guard';

const DTYPES: Readonly<Record<string, DType>> = {
  F16: 'float16',
  BF16: 'bfloat16',
  F32: 'float32',
  F64: 'float64',
  I8: 'int8',
  I16: 'int16',
  I32: 'int32',
  I64: 'int64',
  U8: 'uint8',
  U16: 'uint16',
  U32: 'uint32',
  U64: 'uint64',
  BOOL: 'bool',
};

/** Types the format defines that we refuse (named so the message can say "not supported" vs "unknown"). */
const KNOWN_UNSUPPORTED = new Set(['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'C64']);

export interface SafetensorsEntry {
  key: string;
  header: TensorHeader;
  /** Absolute byte range of the tensor's data in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string> | undefined;
  /** Absolute offset of the data section (8 + N). */
  dataStart: number;
}

function bad(file: string, problem: string, key?: string): TensorReadError {
  return new TensorReadError('bad-header', file, problem, key);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

async function readHeaderJson(src: ByteSource, maxHeaderBytes: number): Promise<{ json: unknown; dataStart: number }> {
  const file = src.name;
  if (src.size < 8) {
    throw new TensorReadError('truncated', file, `file is truncated: ${src.size} bytes, too short for a safetensors header length`);
  }
  const lenBytes = await readBytes(src, 0, 8);
  const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 0x100000000 + lo; // exact below 2^53; above that it is > size anyway
  if (n > src.size - 8) {
    throw new TensorReadError(
      'truncated',
      file,
      `header length ${hi > 0x1fffff ? `${BigInt(hi) * 0x100000000n + BigInt(lo)}` : n} exceeds the ${src.size - 8} bytes ` +
        'after it (truncated, or not a safetensors file)',
    );
  }
  if (n > maxHeaderBytes) {
    throw new TensorReadError('too-large', file, `safetensors header of ${n} bytes exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  const raw = await readBytes(src, 8, n);
  if (raw[0] !== 0x7b) {
    throw new TensorReadError('bad-magic', file, "not a safetensors file (the header does not start with '{')");
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw bad(file, 'header is not valid UTF-8');
  }
  try {
    return { json: JSON.parse(text) as unknown, dataStart: 8 + n };
  } catch (e) {
    throw bad(file, `header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parseMetadata(v: unknown, file: string): Record<string, string> {
  if (!isRecord(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw bad(file, '__metadata__ must be an object of strings');
  }
  return v as Record<string, string>;
}

function parseDType(v: unknown, file: string, key: string): DType {
  if (typeof v !== 'string') throw bad(file, 'dtype must be a string', key);
  const d = DTYPES[v];
  if (d) return d;
  throw new TensorReadError(
    'unsupported-dtype',
    file,
    KNOWN_UNSUPPORTED.has(v) ? `dtype ${v} is not supported` : `unknown dtype '${v.slice(0, 40)}'`,
    key,
  );
}

function parseEntry(key: string, v: unknown, dataStart: number, dataSize: number, file: string): SafetensorsEntry {
  if (!isRecord(v)) throw bad(file, 'tensor entry must be an object', key);
  const dtype = parseDType(v['dtype'], file, key);
  const shape = v['shape'];
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(file, 'shape must be an array of non-negative integers', key);
  }
  const offsets = v['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad(file, 'data_offsets must be [begin, end] with non-negative integers', key);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(file, `data_offsets [${begin}, ${end}] end before they begin`, key);
  let size = 1;
  for (const d of shape as number[]) {
    if (d !== 0 && size > Number.MAX_SAFE_INTEGER / d) {
      throw new TensorReadError('too-large', file, `shape ${formatShape(shape)} has too many elements`, key);
    }
    size *= d;
  }
  const itemSize = ITEM_SIZE[dtype];
  if (end - begin !== size * itemSize) {
    throw new TensorReadError(
      'size-mismatch',
      file,
      `data_offsets cover ${end - begin} bytes but shape ${formatShape(shape)} ${dtype} needs ${size * itemSize}`,
      key,
    );
  }
  if (end > dataSize) {
    throw new TensorReadError(
      'truncated',
      file,
      `tensor data ends at byte ${dataStart + end} but the file has ${dataStart + dataSize} bytes`,
      key,
    );
  }
  const header: TensorHeader = {
    dtype,
    shape: shape.slice() as number[],
    size,
    fortranOrder: false,
    byteOrder: itemSize === 1 ? 'none' : 'little',
    storedType: v['dtype'] as string,
    dataBytes: end - begin,
    format: 'safetensors',
  };
  return { key, header, begin: dataStart + begin, end: dataStart + end };
}

/** Two tensors sharing bytes would make one silently alias the other. */
function checkOverlaps(entries: SafetensorsEntry[], file: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) throw bad(file, `data of '${cur.key}' overlaps the data of '${prev.key}'`, cur.key);
  }
}

/** The validated header (all entries, ordered by data offset), reading only the first 8 + N bytes. */
export async function readSafetensorsHeader(src: ByteSource, limits?: Partial<ReadLimits>): Promise<SafetensorsHeader> {
  const file = src.name;
  const { json, dataStart } = await readHeaderJson(src, resolveLimits(limits).maxHeaderBytes);
  if (!isRecord(json)) throw bad(file, 'header must be a JSON object');
  const dataSize = src.size - dataStart;
  let metadata: Record<string, string> | undefined;
  const entries: SafetensorsEntry[] = [];
  for (const [key, v] of Object.entries(json)) {
    if (key === '__metadata__') metadata = parseMetadata(v, file);
    else entries.push(parseEntry(key, v, dataStart, dataSize, file));
  }
  checkOverlaps(entries, file);
  // File order (by offset), not JSON property order: JS objects move integer-like keys first.
  // The sort is stable, so empty tensors sharing an offset keep their header order.
  entries.sort((a, b) => a.begin - b.begin);
  return { entries, metadata, dataStart };
}

export async function listSafetensors(
  src: ByteSource,
  limits?: Partial<ReadLimits>,
): Promise<{ key: string; header: TensorHeader }[]> {
  const h = await readSafetensorsHeader(src, limits);
  return h.entries.map(({ key, header }) => ({ key, header }));
}

/** One tensor: its exact byte range read once and viewed (bf16/f16 widened to float32). */
export async function readSafetensorsTensor(src: ByteSource, key: string, limits?: Partial<ReadLimits>): Promise<Tensor> {
  const lim = resolveLimits(limits);
  const h = await readSafetensorsHeader(src, lim);
  const entry = h.entries.find((e) => e.key === key);
  if (!entry) {
    const keys = h.entries.map((e) => e.key);
    const shown = keys.length > 10 ? `${keys.slice(0, 10).join(', ')}, ...` : keys.join(', ');
    throw new TensorReadError('missing-member', src.name, `no tensor named '${key}' (available: ${shown || 'none'})`);
  }
  const { header } = entry;
  if (header.dataBytes > lim.maxArrayBytes) {
    throw new TensorReadError(
      'too-large',
      src.name,
      `tensor needs ${header.dataBytes} bytes, above the limit of ${lim.maxArrayBytes} bytes`,
      key,
    );
  }
  const bytes = await readOwnedBytes(src, entry.begin, header.dataBytes);
  return guarded(src.name, `decoding tensor '${key}'`, () => ({
    dtype: header.dtype,
    shape: header.shape.slice(),
    size: header.size,
    data: typedView(header.dtype, alignedFor(bytes, ITEM_SIZE[header.dtype])),
  }));
}

// ---------------------------------------------------------------------------------------------
// Writer (tests)

const CODE_OF: Readonly<Record<DType, string>> = Object.fromEntries(
  Object.entries(DTYPES).map(([code, d]) => [d, code]),
) as Record<DType, string>;

/**
 * A safetensors file from raw little-endian element bytes (bf16/f16 as their 16-bit patterns, so
 * a test states exactly what is stored). Header padded with spaces to a multiple of 8, as the
 * reference implementation does.
 */
export function encodeSafetensors(
  tensors: { key: string; dtype: DType; shape: readonly number[]; data: TensorData | Uint16Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = bytesOf(t.data).byteLength;
    header[t.key] = { dtype: CODE_OF[t.dtype], shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((new TextEncoder().encode(json).length) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + offset);
  new DataView(out.buffer).setUint32(0, jsonBytes.length, true);
  out.set(jsonBytes, 8);
  let p = 8 + jsonBytes.length;
  for (const t of tensors) {
    const b = bytesOf(t.data);
    out.set(b, p);
    p += b.length;
  }
  return out;
}
