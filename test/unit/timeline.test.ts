/**
 * A run's dumps as a timeline (`--each`) and A/B (`--compare`): the lines of a run of dumps in step
 * order (a missing file, a NaN step, a batch written during the run, a manifest's step, .npz
 * pairs), compare of a batch with itself and of two fixtures of every convention, per-pixel
 * differences, the listing and settling rules, and the CLI's peak memory over many realistic steps.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync, readdirSync, utimesSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES, assertClose, readExpected } from './helpers';
import { decodeNpy, encodeNpy } from '../../src/tensor/npy';
import { encodeNpz } from '../../src/tensor/npz';
import { readTensorFile } from '../../src/tensor/tensorFile';
import type { Tensor } from '../../src/tensor/tensor';
import { findSpikes, firstNonFinite } from '../../src/cornernet/model/series';
import { batchStamp, listBatches, stepOfFileName, stepOfFolderName, waitUntilSettled } from '../../src/cornernet/timeline';
import { compareBatches } from '../../src/cornernet/abCompare';
import { makeSyntheticBatch, REALISTIC_SPEC } from '../support/synthetic';

const CLI = path.join(process.cwd(), 'dist', 'cli.js');
const CONV = path.join(process.cwd(), 'test', 'fixtures', 'conventions');

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-timeline-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], timeout = 60000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout, maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI, not blocking this process (so that the test can write files while it runs). */
function cliAsync(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const p01 = () => readExpected('p01_basic').float32.total as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('--each: a run of dumps', () => {
  it('gives one line per batch in step order: reports, a missing file, a NaN step, a manifest step, a batch written during the run', async () => {
    const run = path.join(tmp, 'run1');
    mkdirSync(run);
    // Written in an order unlike the steps; names sort unlike the steps too (9 < 10 < 100).
    cpSync(path.join(FIXTURES, 'p01_basic'), path.join(run, 'step_100'), { recursive: true });
    cpSync(path.join(FIXTURES, 'p04_one_object'), path.join(run, 'step_9'), { recursive: true });
    // A missing file: no tl_heat.
    cpSync(path.join(FIXTURES, 'p01_basic'), path.join(run, 'step_300'), { recursive: true });
    rmSync(path.join(run, 'step_300', 'tl_heat.npy'));
    // A NaN step: one logit NaN.
    cpSync(path.join(FIXTURES, 'p01_basic'), path.join(run, 'step_400'), { recursive: true });
    const heat = decodeNpy(readFileSync(path.join(run, 'step_400', 'tl_heat.npy')), 'tl_heat.npy');
    (heat.data as Float32Array)[17] = NaN;
    writeFileSync(path.join(run, 'step_400', 'tl_heat.npy'), encodeNpy(heat));
    // A folder named without a step whose manifest says 250.
    cpSync(path.join(FIXTURES, 'p02_two_stacks'), path.join(run, 'latest'), { recursive: true });
    writeFileSync(path.join(run, 'latest', 'cornernet.json'), JSON.stringify({ step: 250 }));
    // Step 50 is being written while the run goes (the second batch: the run reaches it before the
    // writer is done): half its files now, the rest during the run.
    const src = path.join(FIXTURES, 'p01_basic');
    const files = readdirSync(src).filter((f) => f.endsWith('.npy')).sort();
    const partial = path.join(run, 'step_50');
    mkdirSync(partial);
    for (const f of files.slice(0, 6)) copyFileSync(path.join(src, f), path.join(partial, f));
    // Everything but step 500 is old: no waiting for those.
    const old = (Date.now() - 60000) / 1000;
    for (const d of ['step_100', 'step_9', 'step_300', 'step_400', 'latest']) {
      for (const f of readdirSync(path.join(run, d))) utimesSync(path.join(run, d, f), old, old);
      utimesSync(path.join(run, d), old, old);
    }

    const started = Date.now();
    const pending = cliAsync(['--each', '--json', '--settle', '700', run]);
    // The rest of step 500 in three pieces, 300 ms apart (less than the settle time).
    const rest = files.slice(6);
    for (let i = 0; i < 3; i++) {
      await sleep(300);
      for (const f of rest.slice(i * 4, i === 2 ? undefined : (i + 1) * 4)) copyFileSync(path.join(src, f), path.join(partial, f));
    }
    const doneWriting = Date.now();
    const r = await pending;
    assert.equal(r.code, 2, `exit 2 when a batch failed; stderr: ${r.stderr}`);
    const out = lines(r.stdout);
    assert.deepEqual(
      out.map((l) => l.step),
      [9, 50, 100, 250, 300, 400],
      'step order',
    );
    assert.deepEqual(
      out.map((l) => path.basename(l.input)),
      ['step_9', 'step_50', 'step_100', 'latest', 'step_300', 'step_400'],
    );
    assertClose(out[0].total, readExpected('p04_one_object').float32.total, 1e-5, 2e-5, 'step 9 total');
    // The batch written during the run: read once complete, never an error.
    assert.equal(out[1].error, undefined, `step 50 must not fail: ${out[1].error}`);
    assertClose(out[1].total, p01(), 1e-5, 2e-5, 'step 50 total');
    assertClose(out[2].total, p01(), 1e-5, 2e-5, 'step 100 total');
    assertClose(out[3].total, readExpected('p02_two_stacks').float32.total, 1e-5, 2e-5, 'step 250 total');
    // The usual report keys, plus input and step.
    for (const k of ['convention', 'terms', 'perStack', 'perImage', 'perClass', 'warnings', 'timings']) assert.ok(k in out[2], k);
    // The missing file: its own error line, naming the role; the others go on.
    assert.deepEqual(Object.keys(out[4]).sort(), ['error', 'input', 'step']);
    assert.match(out[4].error, /tl_heat/);
    assert.match(r.stderr, /error: .*step_300: .*tl_heat/);
    // The NaN step: a report whose total is null (not finite), with the non-finite warning.
    assert.equal(out[5].total, null);
    assert.ok(out[5].warnings.some((w: { code: string }) => w.code === 'non-finite'));
    assert.ok(Date.now() - started >= doneWriting - started, 'the run ended after the last write');
  });

  it('text mode: a report per batch and the closing table with the first non-finite step', () => {
    const run = path.join(tmp, 'run-text');
    mkdirSync(run);
    cpSync(path.join(FIXTURES, 'p01_basic'), path.join(run, 'step_1'), { recursive: true });
    cpSync(path.join(FIXTURES, 'p01_basic'), path.join(run, 'step_2'), { recursive: true });
    const heat = decodeNpy(readFileSync(path.join(run, 'step_2', 'br_heat.npy')), 'br_heat.npy');
    (heat.data as Float32Array).fill(NaN, 0, 4);
    writeFileSync(path.join(run, 'step_2', 'br_heat.npy'), encodeNpy(heat));
    const r = cli(['--each', '--settle', '0', run]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /== step 1: .*step_1 ==\nCornerNet loss/);
    assert.match(r.stdout, /== step 2: .*step_2 ==/);
    assert.match(r.stdout, /Timeline: 2 batch\(es\), 0 failed/);
    assert.match(r.stdout, /first non-finite total: step 2/);
  });

  it('.npz pairs in one folder are batches by the step number in their names; explicit batches too', async () => {
    const run = path.join(tmp, 'run-npz');
    mkdirSync(run);
    const caseDir = path.join(FIXTURES, 'p02_two_stacks');
    // The fixture's arrays as np.savez(f, *outs) + np.savez(f, *targets) would write them.
    const t = (n: string) => readTensorFile(path.join(caseDir, `${n}.npy`));
    const stacks = 2;
    const outs: { key: string; tensor: Tensor }[] = [];
    for (let s = 0; s < stacks; s++) {
      for (const role of ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr']) {
        const whole = await t(role);
        const per = whole.size / stacks;
        const tensor: Tensor = { dtype: whole.dtype, shape: whole.shape.slice(1), size: per, data: (whole.data as Float32Array).slice(s * per, (s + 1) * per) };
        outs.push({ key: `arr_${outs.length}`, tensor });
      }
    }
    const targets: { key: string; tensor: Tensor }[] = [];
    for (const n of ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']) targets.push({ key: `arr_${targets.length}`, tensor: await t(n) });
    for (const step of [20, 3]) {
      writeFileSync(path.join(run, `step_${step}_outs.npz`), encodeNpz(outs));
      writeFileSync(path.join(run, `step_${step}_targets.npz`), encodeNpz(targets));
    }
    const batches = await listBatches([run]);
    assert.deepEqual(batches.map((b) => b.step), [3, 20]);
    assert.deepEqual(batches[0]!.paths.map((p) => path.basename(p)), ['step_3_outs.npz', 'step_3_targets.npz']);
    const r = cli(['--each', '--json', '--settle', '0', run]);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 2);
    for (const l of out) assertClose(l.total, readExpected('p02_two_stacks').float32.total, 1e-5, 2e-5, `npz step ${l.step}`);
    // An explicit list of batches: each as it is, in step order.
    const ex = cli(['--each', '--json', '--settle', '0', path.join(FIXTURES, 'p02_two_stacks'), path.join(FIXTURES, 'p01_basic')]);
    assert.equal(ex.code, 0, ex.stderr);
    const exl = lines(ex.stdout);
    // No step in either name's end ("p02_two_stacks", "p01_basic"): given order kept by name.
    assert.deepEqual(exl.map((l) => path.basename(l.input)), ['p01_basic', 'p02_two_stacks']);
    assert.deepEqual(exl.map((l) => l.step), [null, null]);
  });

  it('every convention: a run of mmdet, CenterNet and mmdet CenterNet dumps', () => {
    for (const [folder, key] of [
      ['mmdet_cornernet', 'total'],
      ['centernet', 'loss'],
      ['mmdet_centernet', 'loss'],
    ] as const) {
      const run = path.join(tmp, `run-${folder}`);
      mkdirSync(run);
      const cases = readdirSync(path.join(CONV, folder)).filter((n) => !n.includes('.')).sort().slice(0, 3);
      cases.forEach((c, i) => cpSync(path.join(CONV, folder, c), path.join(run, `it_${(i + 1) * 1000}`), { recursive: true }));
      const r = cli(['--each', '--json', '--settle', '0', run]);
      assert.equal(r.code, 0, `${folder}: ${r.stderr}`);
      const out = lines(r.stdout);
      assert.deepEqual(out.map((l) => l.step), [1000, 2000, 3000]);
      out.forEach((l, i) => {
        const exp = JSON.parse(readFileSync(path.join(CONV, folder, cases[i]!, 'expected.json'), 'utf8'));
        assert.equal(l.convention, exp.convention.replace('_', '-'));
        assertClose(l.total, exp.float32[key], 1e-5, 2e-5, `${folder} ${cases[i]} total`);
      });
    }
  });

  it('bad input: no batches, a path that does not exist, --each with --role', () => {
    const empty = path.join(tmp, 'empty-run');
    mkdirSync(path.join(empty, 'notes'), { recursive: true });
    writeFileSync(path.join(empty, 'notes', 'readme.txt'), 'x');
    let r = cli(['--each', '--json', '--settle', '0', empty]);
    // A subfolder with no tensor file is a batch whose computation says what is missing.
    assert.equal(r.code, 2);
    assert.match(lines(r.stdout)[0].error, /no|missing|role/i);
    r = cli(['--each', path.join(tmp, 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: .*nope: no such file or folder/);
    r = cli(['--each', '--role', `tl_heat=${path.join(FIXTURES, 'p01_basic', 'tl_heat.npy')}`, FIXTURES]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--role .* does not go with --each/);
    r = cli(['--compare', path.join(FIXTURES, 'p01_basic')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--compare expects two batches A B, got 1/);
  });
});

describe('listing and settling', () => {
  it('step numbers from names', () => {
    assert.equal(stepOfFolderName('step_000100'), 100);
    assert.equal(stepOfFolderName('iter-7'), 7);
    assert.equal(stepOfFolderName('latest'), undefined);
    assert.equal(stepOfFileName('step_000100_outs.npz'), 100);
    assert.equal(stepOfFileName('outs_42.safetensors'), 42);
    assert.equal(stepOfFileName('targets.npz'), undefined);
  });

  it('a batch is not read while its files change; it is once they stop', async () => {
    const d = path.join(tmp, 'settle', 'step_1');
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'a.npy'), 'x');
    const [entry] = await listBatches([path.dirname(d)]);
    let clock = (await batchStamp(entry!)).newestMs + 100;
    let writes = 0;
    const result = await waitUntilSettled(entry!, {
      settleMs: 1000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
        // The writer goes on for a while: every sleep sees a new write until the fifth.
        if (writes < 5) {
          writes++;
          writeFileSync(path.join(d, 'a.npy'), 'x'.repeat(writes + 1));
          const t = clock / 1000;
          utimesSync(path.join(d, 'a.npy'), t, t);
        }
      },
    });
    assert.equal(writes, 5);
    assert.equal(result.timedOut, false);
    assert.ok(clock - result.newestMs >= 1000, 'settled: nothing changed for the settle time');
    assert.match(result.signature, /a\.npy:6:/);
  });

  it('spikes and the first non-finite point', () => {
    assert.deepEqual(findSpikes([5, 4.8, 4.6, 4.5, 9.0, 4.3, 4.2]), [4]);
    assert.deepEqual(findSpikes([5, 4.8, 4.6, 4.5, 4.4, 4.3]), []);
    assert.deepEqual(findSpikes([1, 2]), []);
    assert.equal(firstNonFinite([{ total: 1 }, { total: 2, nonFinite: true }, { total: null }]), 1);
    assert.equal(firstNonFinite([{ total: 1 }]), -1);
  });
});

describe('--compare A B', () => {
  it('a batch with itself: zero differences everywhere, per-pixel included', async () => {
    const a = path.join(FIXTURES, 'p02_two_stacks');
    const r = cli(['--compare', '--json', a, a]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['a', 'b', 'diff']);
    assertClose(j.a.total, readExpected('p02_two_stacks').float32.total, 1e-5, 2e-5, 'a.total');
    assert.equal(j.a.total, j.b.total);
    assert.equal(j.diff.total, 0);
    for (const [k, v] of Object.entries(j.diff.terms)) assert.equal(v, 0, `terms.${k}`);
    assert.deepEqual(Object.keys(j.diff.terms), Object.keys(j.a.terms));
    for (const s of j.diff.perStack) for (const k of ['total', 'focal', 'pull', 'push', 'regr']) assert.equal(s[k].diff, 0, `stack ${s.stack} ${k}`);
    for (const i of j.diff.perImage) assert.equal(i.total.diff, 0);
    for (const c of j.diff.perClass) assert.equal(c.focal.diff, 0);
    assert.equal(j.diff.planes.length, 2 * 2 * 2 * 4, 'every plane of 2 stacks x 2 corners x 2 images x 4 classes');
    for (const p of j.diff.planes) assert.equal(p.diff, 0);
    for (const o of j.diff.objects) {
      assert.equal(o.embedding, 0);
      assert.equal(o.offset, 0);
    }
    assert.equal(j.diff.pixels.targetsIdentical, true);
    assert.equal(j.diff.pixels.changed, 0);
    assert.equal(j.diff.pixels.pixels, 2 * 2 * 2 * 4 * 20 * 24);
  });

  it('two fixtures: each side has its fixture numbers, diff = b - a', async () => {
    const r = cli(['--compare', '--json', path.join(FIXTURES, 'p01_basic'), path.join(FIXTURES, 'p02_two_stacks')]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const ea = readExpected('p01_basic').float32;
    const eb = readExpected('p02_two_stacks').float32;
    assertClose(j.a.total, ea.total, 1e-5, 2e-5, 'a.total');
    assertClose(j.b.total, eb.total, 1e-5, 2e-5, 'b.total');
    assertClose(j.diff.total, eb.total - ea.total, 1e-5, 4e-5, 'diff.total');
    for (const k of Object.keys(j.diff.terms)) assert.equal(j.diff.terms[k], j.b.terms[k] - j.a.terms[k], k);
    assert.equal(j.diff.pixels.targetsIdentical, false);
    assert.match(j.diff.pixels.reason, /shapes differ/);
  });

  for (const [folder, key, c1, c2] of [
    ['mmdet_cornernet', 'total', 'c01_basic', 'c02_two_levels_border'],
    ['centernet', 'loss', 'c01_basic', 'c03_one_object_and_empty'],
    ['mmdet_centernet', 'loss', 'c01_basic', 'c04_saturated_shared_center'],
  ] as const) {
    it(`${folder}: two fixtures, each side's numbers; with itself, zeros`, async () => {
      const A = path.join(CONV, folder, c1);
      const B = path.join(CONV, folder, c2);
      const ea = JSON.parse(readFileSync(path.join(A, 'expected.json'), 'utf8')).float32;
      const eb = JSON.parse(readFileSync(path.join(B, 'expected.json'), 'utf8')).float32;
      const r = await compareBatches(A, B);
      assertClose(r.a.total, ea[key], 1e-5, 2e-5, `${c1} total`);
      assertClose(r.b.total, eb[key], 1e-5, 2e-5, `${c2} total`);
      assert.equal(r.diff.total, r.b.total! - r.a.total!);
      for (const k of Object.keys(r.a.terms)) assert.equal(r.diff.terms[k], r.b.terms[k]! - r.a.terms[k]!, k);
      const self = await compareBatches(A, A);
      assert.equal(self.diff.total, 0);
      assert.ok(Object.values(self.diff.terms).every((v) => v === 0));
      assert.equal(self.diff.pixels.targetsIdentical, true);
      assert.equal(self.diff.pixels.changed, 0);
      assert.ok(self.diff.planes.length > 0 && self.diff.planes.every((p) => p.diff === 0));
      if (folder !== 'mmdet_cornernet') assert.ok(self.diff.planes.every((p) => p.corner === 'center'));
    });
  }

  it('same targets, one changed logit: the per-pixel differences find that pixel and its plane first', async () => {
    const a = path.join(FIXTURES, 'p01_basic');
    const b = path.join(tmp, 'p01-changed');
    cpSync(a, b, { recursive: true });
    const heat = decodeNpy(readFileSync(path.join(b, 'br_heat.npy')), 'br_heat.npy');
    // [S=1, B=2, C=3, 16, 16]: image 1, class 2, y 5, x 7.
    const i = ((1 * 3 + 2) * 16 + 5) * 16 + 7;
    (heat.data as Float32Array)[i] = 4;
    writeFileSync(path.join(b, 'br_heat.npy'), encodeNpy(heat));
    const r = await compareBatches(a, b);
    assert.ok(r.diff.total! > 0);
    assert.equal(r.diff.pixels.targetsIdentical, true);
    assert.equal(r.diff.pixels.changed, 1);
    assert.deepEqual(
      { ...r.diff.pixels.top![0]!, a: undefined, b: undefined, diff: undefined },
      { stack: 0, corner: 'br', image: 1, class: 2, x: 7, y: 5, a: undefined, b: undefined, diff: undefined },
    );
    const p = r.diff.planes[0]!;
    assert.deepEqual([p.stack, p.corner, p.image, p.class], [0, 'br', 1, 2]);
    assert.ok(r.diff.planes.slice(1).every((q) => q.diff === 0));
    assertClose(p.diff, r.diff.pixels.top![0]!.diff!, 1e-6, 1e-9, 'the plane changed by its pixel');
    assertClose(r.diff.perClass[2]!.focal.diff, r.b.perClass[2]!.focal! - r.a.perClass[2]!.focal!, 1e-12, 1e-12, 'per class');
  });

  it('different targets: no per-pixel differences, the reason said; objects sorted by change', async () => {
    const a = path.join(FIXTURES, 'p01_basic');
    const b = path.join(tmp, 'p01-target');
    cpSync(a, b, { recursive: true });
    const gt = decodeNpy(readFileSync(path.join(b, 'gt_tl_heat.npy')), 'gt_tl_heat.npy');
    (gt.data as Float32Array)[3] = 0.5;
    writeFileSync(path.join(b, 'gt_tl_heat.npy'), encodeNpy(gt));
    const tag = decodeNpy(readFileSync(path.join(b, 'tl_tag.npy')), 'tl_tag.npy');
    (tag.data as Float32Array)[1] += 2; // image 0, slot 1
    writeFileSync(path.join(b, 'tl_tag.npy'), encodeNpy(tag));
    const r = await compareBatches(a, b);
    assert.equal(r.diff.pixels.targetsIdentical, false);
    assert.match(r.diff.pixels.reason!, /tl target heatmaps differ \(class 0, x 3, y 0/);
    const o = r.diff.objects[0]!;
    assert.deepEqual([o.stack, o.image, o.slot], [0, 0, 1]);
    assertClose(o.embedding, 2, 1e-6, 1e-6, 'embedding change');
  });

  it('different conventions: a clear error naming both', () => {
    const r = cli(['--compare', path.join(FIXTURES, 'p01_basic'), path.join(CONV, 'centernet', 'c01_basic')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: .*p01_basic vs .*c01_basic: the two batches are scored under different conventions: A is cornernet .*, B is centernet/);
    assert.equal(r.stdout, '');
  });
});

describe('--each memory', () => {
  it('peak RSS over 60 realistic steps stays that of 20 (one batch at a time)', async () => {
    const batch = path.join(tmp, 'realistic');
    mkdirSync(batch);
    const b = makeSyntheticBatch(REALISTIC_SPEC);
    for (const [name, t] of Object.entries(b.arrays)) writeFileSync(path.join(batch, `${name}.npy`), encodeNpy(t));
    const run = (n: number) => {
      const dir = path.join(tmp, `realistic-run-${n}`);
      mkdirSync(dir);
      // The same 129 MB batch behind every step (symbolic links): the disk holds it once.
      for (let s = 1; s <= n; s++) symlinkSync(batch, path.join(dir, `step_${String(s * 100).padStart(6, '0')}`));
      return dir;
    };
    const hook = path.join(tmp, 'rss-hook.js');
    writeFileSync(hook, "process.on('exit', () => process.stderr.write(`maxrss-kb ${process.resourceUsage().maxRSS}\\n`));\n");
    const measure = (dir: string, n: number) => {
      const r = spawnSync(process.execPath, ['--require', hook, CLI, '--each', '--json', '--settle', '0', dir], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300000 });
      assert.equal(r.status, 0, r.stderr);
      const out = lines(r.stdout);
      assert.equal(out.length, n);
      assert.ok(out.every((l) => l.total === out[0].total && typeof l.total === 'number'));
      return Number(/maxrss-kb (\d+)/.exec(r.stderr)![1]) / 1024;
    };
    // The heap settles after ~20 steps (V8 grows its spaces, then reuses them): from there on the
    // peak must not grow with the steps.
    const short = measure(run(20), 20);
    const long = measure(run(60), 60);
    const batchMB = readdirSync(batch).reduce((a, f) => a + readFileSync(path.join(batch, f)).length, 0) / 2 ** 20;
    console.log(`# --each peak RSS: 20 steps ${short.toFixed(0)} MB, 60 steps ${long.toFixed(0)} MB (one batch ${batchMB.toFixed(0)} MB)`);
    assert.ok(long <= short + 20, `60 steps ${long.toFixed(0)} MB vs 20 steps ${short.toFixed(0)} MB: memory grows with the steps`);
    // Streamed, not even one batch is held whole: well below one batch plus the runtime's ~60 MB.
    assert.ok(long < batchMB + 30, `60 steps ${long.toFixed(0)} MB: one batch is ${batchMB.toFixed(0)} MB`);
  });
});
