import type { DType, TensorData } from './dtype';

export type TensorFormat = 'npy' | 'npz' | 'safetensors';

/** What a header says about an array, read without touching its data. */
export interface TensorHeader {
  /** Element type as stored (float16 stays 'float16' here even though data is widened). */
  dtype: DType;
  shape: number[];
  /** Product of the shape (1 for a 0-d array). */
  size: number;
  /** True when the stored data is in Fortran (column-major) order; readers return C order. */
  fortranOrder: boolean;
  /** Byte order of the stored data; 'none' for 1-byte types. */
  byteOrder: 'little' | 'big' | 'none';
  /** The type as written in the file: an npy descr such as '>f4', or a safetensors code such as 'BF16'. */
  storedType: string;
  /** Bytes of array data as stored (size * item size). */
  dataBytes: number;
  format: TensorFormat;
  /** npy format version, for npy files and npz members. */
  npyVersion?: [number, number];
}

/** An array in memory: C order, native endianness, elements widened as described in TensorData. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  size: number;
  data: TensorData;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** All elements as float64 (a copy unless the data already is a Float64Array). */
export function toFloat64(t: Tensor): Float64Array {
  if (t.data instanceof Float64Array) return t.data;
  const out = new Float64Array(t.size);
  const d = t.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < out.length; i++) out[i] = Number(d[i]!);
  } else {
    out.set(d);
  }
  return out;
}

/** Float data for numeric kernels: float32/float64 as they are, everything else widened to float64. */
export function toFloatArray(t: Tensor): Float32Array | Float64Array {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  return toFloat64(t);
}
