/**
 * The one place where foreign exceptions become TensorReadErrors: a ByteSource supplied by a caller
 * may throw anything, and allocations may fail with RangeError even below the configured limits.
 * Readers must surface only TensorReadError, always naming the file.
 */
import { TensorReadError } from './errors';
import { describeIoError, type ByteSource } from './source';

export function asTensorError(e: unknown, file: string, what: string): TensorReadError {
  if (e instanceof TensorReadError) return e;
  if (e instanceof RangeError) {
    // "Array buffer allocation failed", "Invalid typed array length": out of memory, not a bug in the file.
    return new TensorReadError('too-large', file, `not enough memory for ${what} (${e.message})`);
  }
  return new TensorReadError('io', file, `${what}: ${describeIoError(e)}`);
}

/** src.read with foreign errors wrapped. The result may be shared: do not mutate it. */
export async function readBytes(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  try {
    return await src.read(offset, length);
  } catch (e) {
    throw asTensorError(e, src.name, `reading ${length} bytes at ${offset}`);
  }
}

/** src.readOwned with foreign errors wrapped. The caller owns the result. */
export async function readOwnedBytes(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  try {
    return await src.readOwned(offset, length);
  } catch (e) {
    throw asTensorError(e, src.name, `reading ${length} bytes at ${offset}`);
  }
}

/** Run a synchronous decoding step, wrapping allocation failures and other foreign errors. */
export function guarded<T>(file: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asTensorError(e, file, what);
  }
}
