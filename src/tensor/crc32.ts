/**
 * CRC-32 (ISO-HDLC, the zip/gzip polynomial 0xEDB88320), slicing-by-8: npz members can be
 * hundreds of megabytes and a byte-at-a-time table loop would dominate their read time.
 */

const TABLES: Int32Array[] = buildTables();

function buildTables(): Int32Array[] {
  const t0 = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c;
  }
  const tables = [t0];
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1]!;
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    tables.push(t);
  }
  return tables;
}

/** Continue a CRC over `bytes` (pass the previous result as `crc`); returns an unsigned 32-bit value. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array,
  ];
  let c = ~crc;
  const n = bytes.length;
  let i = 0;
  // Bytes until 4-aligned, then 8 bytes per step read as two little-endian words (twice as fast
  // as assembling them from bytes; the readers already require a little-endian host).
  for (; i < n && (bytes.byteOffset + i) & 3; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  const steps = i < n ? (n - i) >>> 3 : 0;
  // (No view when there is nothing to step over: a short input may end before 4-alignment.)
  const w = steps > 0 ? new Int32Array(bytes.buffer, bytes.byteOffset + i, steps * 2) : new Int32Array(0);
  for (let k = 0; k < w.length; k += 2) {
    const a = c ^ w[k]!;
    const b = w[k + 1]!;
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[b & 0xff]! ^
      t2[(b >>> 8) & 0xff]! ^
      t1[(b >>> 16) & 0xff]! ^
      t0[b >>> 24]!;
  }
  for (i += steps * 8; i < n; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
