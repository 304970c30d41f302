/**
 * Writes the bundled sample (`npm run gen:sample`): a small, deterministic CornerNet batch of
 * 2 stacks, 2 images, 4 classes, 64x64 maps, 16 object slots, saved the way a notebook user dumps
 * what they have: full output maps, corner indices and targets as .npy files.
 *
 * A healthy batch: every image holds several objects and every peak is exactly 1.0, so the
 * diagnosis finds nothing wrong (the traps of real data are in test/fixtures/, one per case).
 */
import { mkdirSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { REALISTIC_SPEC, makeSyntheticBatch } from '../test/support/synthetic';
import { encodeNpy } from '../src/tensor/npy';

const out = process.argv[2] ?? 'sample';

if (process.argv.includes('--realistic')) {
  // The realistic size of cornernet-loss.md (S=2, B=4, C=80, 128x128, K=128): the 17 arrays of a
  // fixture folder, for timing the panel on real sizes (test/ui/perf.ui.js). Not committed.
  const b = makeSyntheticBatch(REALISTIC_SPEC);
  mkdirSync(out, { recursive: true });
  for (const [name, t] of Object.entries(b.arrays)) writeFileSync(path.join(out, `${name}.npy`), encodeNpy(t));
  console.log(`wrote the realistic case to ${out}/`);
  process.exit(0);
}
const batch = makeSyntheticBatch({
  S: 2,
  B: 2,
  C: 4,
  H: 64,
  W: 64,
  K: 16,
  objectsPerImage: [4, 3],
  seed: 511,
  logitMean: -4.2,
  logitStd: 0.9,
});

const files: Record<string, string> = {
  tl_heat: 'tl_heat',
  br_heat: 'br_heat',
  tl_tag_map: 'tl_tag',
  br_tag_map: 'br_tag',
  tl_regr_map: 'tl_regr',
  br_regr_map: 'br_regr',
  gt_tl_heat: 'gt_tl_heat',
  gt_br_heat: 'gt_br_heat',
  gt_mask: 'gt_mask',
  gt_tl_regr: 'gt_tl_regr',
  gt_br_regr: 'gt_br_regr',
  tl_ind: 'tl_ind',
  br_ind: 'br_ind',
};
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith('.npy')) rmSync(path.join(out, f));
for (const [array, stem] of Object.entries(files)) {
  writeFileSync(path.join(out, `${stem}.npy`), encodeNpy(batch.arrays[array]!));
}
console.log(`wrote ${Object.keys(files).length} arrays to ${out}/ (${batch.objects.length} objects)`);
