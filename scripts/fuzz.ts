/**
 * `npm run fuzz [-- --runs N] [--seed S]`: the readers' fuzzing at length (default 102,000 cases:
 * 17,000 per property). Prints the count, the outcome split and the time.
 */
import fc from 'fast-check';
import { fuzzProperties, type FuzzOutcome } from '../test/unit/fuzz';

async function main() {
  const args = process.argv.slice(2);
  const arg = (name: string, def: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const perProperty = arg('--runs', 17000);
  const seed = arg('--seed', Date.now() % 2 ** 31);
  const outcome: FuzzOutcome = { ok: 0, typedErrors: 0 };
  const t0 = performance.now();
  const props = fuzzProperties(outcome);
  for (const [i, p] of props.entries()) {
    await fc.assert(p, { numRuns: perProperty, seed: seed + i });
    process.stderr.write(`property ${i + 1}/${props.length} done\n`);
  }
  const s = (performance.now() - t0) / 1000;
  const total = outcome.ok + outcome.typedErrors;
  console.log(`fuzz: ${total} cases in ${s.toFixed(1)} s (${outcome.ok} read, ${outcome.typedErrors} refused with a typed error, 0 failures), seed ${seed}`);
}

main().catch((e) => {
  console.error(e?.message ?? e);
  process.exit(1);
});
