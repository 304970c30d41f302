/** A short fuzzing run of the readers (the long one: `npm run fuzz`). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzProperties, type FuzzOutcome } from './fuzz';

it('readers: every mutated or random input reads consistently or fails with a typed error', async () => {
  const outcome: FuzzOutcome = { ok: 0, typedErrors: 0 };
  for (const p of fuzzProperties(outcome)) await fc.assert(p, { numRuns: 400, seed: 20261129 });
  // Both outcomes must actually happen, or the generators are not exercising the readers.
  assert.ok(outcome.ok > 100, `${outcome.ok} inputs read`);
  assert.ok(outcome.typedErrors > 100, `${outcome.typedErrors} inputs refused`);
});
