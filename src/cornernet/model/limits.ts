/**
 * What the engine refuses rather than grinds through: each limit is far above real use and below
 * what would hold a CLI or the extension's worker for minutes or exhaust its memory. The README's
 * bad-input section lists them; an input beyond one is an InputError naming it.
 */
import { InputError } from './errors';

/** Threads of the focal pass. Each worker costs ~13 MB and a start-up; beyond a few, nothing is gained. */
export const MAX_THREADS = 64;

/** Pixels listed in `topPixels` (each is kept in a heap and reported). */
export const MAX_TOP_PIXELS = 10_000;

/**
 * Objects (valid slots) in one image. Push compares every pair of objects, so its cost grows as
 * the square: 4096 objects are 16.7 M pairs per stack (~50 ms). CornerNet's sampler stops at 128;
 * the original's K x K push mask would need B*K*K bytes.
 */
export const MAX_OBJECTS_PER_IMAGE = 4096;

/**
 * Object slots K. Padding slots cost nothing in the intended loss, but the original's semantics of
 * a non-0/1 mask pair slots with padding, which costs objects x K per image.
 */
export const MAX_SLOTS = 65_536;

/** Refuses masks beyond MAX_SLOTS or MAX_OBJECTS_PER_IMAGE, before any pair is compared. */
export function checkObjectLimits(mask: Float64Array, B: number, K: number, where = 'gt_mask'): void {
  if (K > MAX_SLOTS) {
    throw new InputError(where, `${K} object slots per image; at most ${MAX_SLOTS} are accepted (CornerNet uses 128)`);
  }
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let k = 0; k < K; k++) if (mask[b * K + k] !== 0) n++;
    if (n > MAX_OBJECTS_PER_IMAGE) {
      throw new InputError(
        where,
        `image ${b} has ${n} objects; at most ${MAX_OBJECTS_PER_IMAGE} per image are accepted (the push term compares every pair: ${n} objects are ${(n * n).toExponential(1)} pairs; CornerNet's sampler stops at 128)`,
      );
    }
  }
}
