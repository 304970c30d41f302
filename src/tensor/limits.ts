/**
 * Resource limits of the readers. Every declared size (header length, array bytes, member count,
 * uncompressed total) is compared against these BEFORE anything is allocated, so that a hostile or
 * corrupt file (a header claiming a petabyte, a zip bomb) fails fast with 'too-large' instead of
 * exhausting memory.
 */
export interface ReadLimits {
  /** Largest array (bytes of element data as stored) that will be read. */
  maxArrayBytes: number;
  /** Largest npy header dict / safetensors JSON header. */
  maxHeaderBytes: number;
  /** Largest number of members in an npz (zip) directory. */
  maxMembers: number;
  /** Largest sum of the declared uncompressed sizes of an npz's members. */
  maxTotalUncompressedBytes: number;
}

const GiB = 1024 ** 3;

export const DEFAULT_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxArrayBytes: 8 * GiB,
  maxHeaderBytes: 1024 * 1024,
  maxMembers: 10000,
  maxTotalUncompressedBytes: 16 * GiB,
});

/** Callers may override a subset; missing fields take the defaults. */
export function resolveLimits(limits?: Partial<ReadLimits>): ReadLimits {
  return limits ? { ...DEFAULT_LIMITS, ...limits } : DEFAULT_LIMITS;
}
