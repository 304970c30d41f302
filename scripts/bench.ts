/**
 * `npm run bench [-- --json] [--runs N]`: the realistic case of cornernet-loss.md (S=2, B=4, C=80,
 * 128x128, K=128; generated deterministically, written as the 17 .npy files of a fixture folder to
 * a temporary folder), then median read and compute times of the engine.
 */
import { mkdtempSync, rmSync, writeFileSync, statSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { discoverInputs } from '../src/cornernet/inputs';
import { loadInputs } from '../src/cornernet/load';
import { computeLoss } from '../src/cornernet/loss';
import { resolveRoles } from '../src/cornernet/resolve';
import { REALISTIC_SPEC, makeSyntheticBatch } from '../src/cornernet/synthetic';
import { encodeNpy } from '../src/tensor/npy';

const args = process.argv.slice(2);
const json = args.includes('--json');
const runsIdx = args.indexOf('--runs');
const runs = runsIdx >= 0 ? Number(args[runsIdx + 1]) : 9;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main() {
  const log = (s: string) => !json && console.log(s);
  const t0 = performance.now();
  const batch = makeSyntheticBatch(REALISTIC_SPEC);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cornernet-bench-'));
  try {
    for (const [name, t] of Object.entries(batch.arrays)) writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(t));
    const files = readdirSync(dir);
    const bytes = files.reduce((a, f) => a + statSync(path.join(dir, f)).size, 0);
    log(`realistic case: S=${REALISTIC_SPEC.S} B=${REALISTIC_SPEC.B} C=${REALISTIC_SPEC.C} ${REALISTIC_SPEC.H}x${REALISTIC_SPEC.W} K=${REALISTIC_SPEC.K}, objects [${REALISTIC_SPEC.objectsPerImage.join(', ')}]`);
    log(`${files.length} .npy files, ${(bytes / 1e6).toFixed(1)} MB (generated in ${(performance.now() - t0).toFixed(0)} ms)`);

    const read: number[] = [];
    const compute: number[] = [];
    let total: number | null = null;
    for (let i = 0; i < runs + 2; i++) {
      const r0 = performance.now();
      const d = await discoverInputs({ paths: [dir] });
      const res = resolveRoles(d.candidates, d.arrays);
      const loaded = await loadInputs(res);
      const r1 = performance.now();
      const report = computeLoss(loaded.inputs);
      const r2 = performance.now();
      total = report.total;
      if (i >= 2) {
        read.push(r1 - r0);
        compute.push(r2 - r1);
      }
    }
    const rss = process.memoryUsage().rss;
    const result = {
      case: { ...REALISTIC_SPEC, files: files.length, bytes },
      runs,
      total,
      readMs: { median: median(read), min: Math.min(...read) },
      computeMs: { median: median(compute), min: Math.min(...compute) },
      rssMB: rss / 1e6,
      node: process.version,
    };
    if (json) console.log(JSON.stringify(result));
    else {
      log(`total loss ${total}`);
      log(`read    (17 files, headers + data): median ${result.readMs.median.toFixed(1)} ms, min ${result.readMs.min.toFixed(1)} ms`);
      log(`compute (focal, pull/push, offsets): median ${result.computeMs.median.toFixed(1)} ms, min ${result.computeMs.min.toFixed(1)} ms`);
      log(`rss ${(rss / 1e6).toFixed(0)} MB; ${runs} runs after 2 warm-ups; node ${process.version}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
