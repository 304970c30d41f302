/**
 * The conventions end to end, from files: every number of every fixture of mmdet CornerHead,
 * CenterNet and mmdet CenterNetHead through discovery, detection (and forcing), role resolution,
 * loading and the report; from the fixture folders, from one .npz, from loose files renamed and
 * per stack; float64 inputs against the float64 blocks; the CLI contract (`convention`, `total`,
 * `terms`, `--compare-conventions`) against cornernet_as_mmdet.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { compareConventions } from '../../src/cornernet/compare';
import type { LossReport } from '../../src/cornernet/model/report';
import type { ConventionName } from '../../src/cornernet/model/conventions';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { listNpz, readNpzMember } from '../../src/tensor/npz';
import { openFileSource } from '../../src/tensor/source';
import { encodeNpy } from '../../src/tensor/npy';
import { encodeNpz } from '../../src/tensor/npz';
import type { Tensor } from '../../src/tensor/tensor';
import { assertClose } from './helpers';

const CONV = path.join(process.cwd(), 'test', 'fixtures', 'conventions');
const CORNERNET = path.join(process.cwd(), 'test', 'fixtures', 'cornernet');
const CLI = path.join(process.cwd(), 'dist', 'cli.js');

const cases = (folder: string) => readdirSync(path.join(CONV, folder)).filter((n) => !n.includes('.')).sort();
const expected = (folder: string, c: string) => JSON.parse(readFileSync(path.join(CONV, folder, c, 'expected.json'), 'utf8'));
const floor = (k: string) => (k === 'total' || k === 'loss' ? 2e-5 : 1e-6);

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-conv-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every term of a block against the report (float32: rtol 1e-5 with floors; float64: 1e-9). */
function checkMmdetCornernet(r: LossReport, block: any, label: string, rtol: number): void {
  const f = (k: string) => (rtol < 1e-6 ? 1e-12 : floor(k));
  assert.equal(r.convention, 'mmdet-cornernet', label);
  assertClose(r.total, block.total, rtol, f('total'), `${label} total`);
  for (const [k, v] of Object.entries(block.loss_dict_sums)) assertClose(r.terms[k], v as number, rtol, f(k), `${label} terms.${k}`);
  assert.deepEqual(Object.keys(r.terms), block.loss_dict_order, `${label} term order`);
  const levels = (r.detail as any).levels;
  assert.equal(levels.length, block.levels.length);
  block.levels.forEach((l: any, i: number) => {
    for (const [k, v] of Object.entries(l)) assertClose(levels[i][k], v as number, rtol, f(k), `${label} levels[${i}].${k}`);
    assertClose(r.perStack[i]!.focalTl, l.det_tl, rtol, f('det_tl'), `${label} perStack[${i}].focalTl`);
    assertClose(r.perStack[i]!.regrBr, l.off_br, rtol, f('off_br'), `${label} perStack[${i}].regrBr`);
  });
}

function checkCenternet(r: LossReport, block: any, label: string, rtol: number): void {
  const f = (k: string) => (rtol < 1e-6 ? 1e-12 : floor(k));
  assert.equal(r.convention, 'centernet', label);
  assertClose(r.total, block.loss, rtol, f('loss'), `${label} total`);
  for (const k of ['hm_loss', 'wh_loss', 'off_loss', 'loss']) assertClose(r.terms[k], block[k], rtol, f(k), `${label} terms.${k}`);
  const stacks = (r.detail as any).stacks;
  block.per_stack.forEach((s: any, i: number) => {
    for (const k of ['hm', 'wh', 'off']) assertClose(stacks[i][k], s[k], rtol, f(k), `${label} per_stack[${i}].${k}`);
  });
}

function checkMmdetCenternet(r: LossReport, block: any, label: string, rtol: number): void {
  const f = (k: string) => (rtol < 1e-6 ? 1e-12 : floor(k));
  assert.equal(r.convention, 'mmdet-centernet', label);
  assertClose(r.total, block.loss, rtol, f('loss'), `${label} total`);
  for (const k of ['loss_center_heatmap', 'loss_wh', 'loss_offset', 'loss']) assertClose(r.terms[k], block[k], rtol, f(k), `${label} terms.${k}`);
}

const CHECK: Record<string, (r: LossReport, block: any, label: string, rtol: number) => void> = {
  mmdet_cornernet: checkMmdetCornernet,
  centernet: checkCenternet,
  mmdet_centernet: checkMmdetCenternet,
};
const NAME: Record<string, ConventionName> = { mmdet_cornernet: 'mmdet-cornernet', centernet: 'centernet', mmdet_centernet: 'mmdet-centernet' };

/** Every array of a fixture folder, by file stem (npy) or `<archive stem>:<key>` (npz). */
async function arraysOf(dir: string): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const f of readdirSync(dir).sort()) {
    const full = path.join(dir, f);
    if (f.endsWith('.npy')) out.set(f.slice(0, -4), await readTensorFile(full));
    else if (f.endsWith('.npz')) {
      const src = await openFileSource(full);
      try {
        for (const m of await listNpz(src)) out.set(`${f.slice(0, -4)}:${m.key}`, await readNpzMember(src, m.key));
      } finally {
        await src.close();
      }
    }
  }
  return out;
}

function toFloat64(t: Tensor): Tensor {
  if (t.dtype !== 'float32' && t.dtype !== 'float16') return t;
  return { dtype: 'float64', shape: t.shape, size: t.size, data: Float64Array.from(t.data as Float32Array) };
}

for (const folder of ['mmdet_cornernet', 'centernet', 'mmdet_centernet']) {
  describe(`${folder}: every fixture number from files`, () => {
    for (const c of cases(folder)) {
      it(`${c}: auto-detected from the folder, and forced`, async () => {
        const exp = expected(folder, c);
        const dir = path.join(CONV, folder, c);
        const auto = await computeLossFromFiles({ paths: [dir] });
        CHECK[folder]!(auto, exp.float32, `${c} auto`, 1e-5);
        assert.equal(auto.conventionChoice?.how, 'detected');
        const forced = await computeLossFromFiles({ paths: [dir] }, { convention: NAME[folder]! });
        CHECK[folder]!(forced, exp.float32, `${c} forced`, 1e-5);
        assert.equal(forced.conventionChoice?.how, 'option');
      });

      it(`${c}: float64 inputs against the float64 block`, async () => {
        const exp = expected(folder, c);
        const dir = path.join(tmp, folder, `${c}-f64`);
        mkdirSync(dir, { recursive: true });
        const arrays = await arraysOf(path.join(CONV, folder, c));
        // Outputs float64 (targets upcast too, as the fixtures' float64 block does).
        const archives = new Map<string, { key: string; tensor: Tensor }[]>();
        for (const [name, t] of arrays) {
          const [file, key] = name.split(':');
          if (key === undefined) writeFileSync(path.join(dir, `${file}.npy`), encodeNpy(toFloat64(t)));
          else archives.set(file!, [...(archives.get(file!) ?? []), { key, tensor: toFloat64(t) }]);
        }
        for (const [file, entries] of archives) writeFileSync(path.join(dir, `${file}.npz`), encodeNpz(entries));
        const r = await computeLossFromFiles({ paths: [dir] });
        assert.equal(r.precision, 'float64');
        CHECK[folder]!(r, exp.float64, `${c} float64`, 1e-9);
      });
    }
  });
}

describe('other layouts of the same batches', () => {
  it('mmdet CornerHead: one .npz of the native names, auto-detected', async () => {
    for (const c of cases('mmdet_cornernet')) {
      const arrays = await arraysOf(path.join(CONV, 'mmdet_cornernet', c));
      const file = path.join(tmp, `mmdet-${c}.npz`);
      writeFileSync(file, encodeNpz([...arrays].map(([key, tensor]) => ({ key, tensor }))));
      const r = await computeLossFromFiles({ paths: [file] });
      checkMmdetCornernet(r, expected('mmdet_cornernet', c).float32, `${c} npz`, 1e-5);
    }
  });

  it('mmdet CornerHead: one file per level (tl_heats_0.npy, tl_heats_1.npy ...)', async () => {
    const c = 'c02_two_levels_border';
    const arrays = await arraysOf(path.join(CONV, 'mmdet_cornernet', c));
    const dir = path.join(tmp, 'mmdet-levels');
    mkdirSync(dir);
    for (const [name, t] of arrays) {
      if (t.shape.length === 5) {
        const per = t.size / t.shape[0]!;
        for (let l = 0; l < t.shape[0]!; l++) {
          const data = (t.data as Float32Array).slice(l * per, (l + 1) * per);
          writeFileSync(path.join(dir, `${name}_${l}.npy`), encodeNpy({ dtype: t.dtype, shape: t.shape.slice(1), data }));
        }
      } else writeFileSync(path.join(dir, `${name}.npy`), encodeNpy(t));
    }
    checkMmdetCornernet(await computeLossFromFiles({ paths: [dir] }), expected('mmdet_cornernet', c).float32, 'per-level files', 1e-5);
  });

  it('CenterNet: loose files with pred_/gt_ prefixes, and per-stack keys hm_0, hm_1 in output.npz', async () => {
    for (const c of cases('centernet')) {
      const arrays = await arraysOf(path.join(CONV, 'centernet', c));
      const loose = path.join(tmp, `ct-loose-${c}`);
      mkdirSync(loose);
      for (const [name, t] of arrays) {
        const [archive, key] = name.split(':');
        const prefix = archive === 'output' ? 'pred' : ['reg_mask', 'ind'].includes(key!) ? '' : 'gt';
        writeFileSync(path.join(loose, `${prefix ? `${prefix}_` : ''}${key}.npy`), encodeNpy(t));
      }
      checkCenternet(await computeLossFromFiles({ paths: [loose] }), expected('centernet', c).float32, `${c} loose`, 1e-5);

      const perStack = path.join(tmp, `ct-stacks-${c}`);
      mkdirSync(perStack);
      copyFileSync(path.join(CONV, 'centernet', c, 'batch.npz'), path.join(perStack, 'batch.npz'));
      const outs: { key: string; tensor: Tensor }[] = [];
      for (const [name, t] of arrays) {
        const [archive, key] = name.split(':');
        if (archive !== 'output') continue;
        const per = t.size / t.shape[0]!;
        for (let s = 0; s < t.shape[0]!; s++) outs.push({ key: `${key}_${s}`, tensor: { dtype: t.dtype, shape: t.shape.slice(1), size: per, data: (t.data as Float32Array).slice(s * per, (s + 1) * per) } });
      }
      writeFileSync(path.join(perStack, 'outputs.npz'), encodeNpz(outs));
      checkCenternet(await computeLossFromFiles({ paths: [perStack] }), expected('centernet', c).float32, `${c} per-stack keys`, 1e-5);
    }
  });

  it('a manifest "convention" forces it, and its reason is reported', async () => {
    const dir = path.join(tmp, 'manifest-convention');
    mkdirSync(dir);
    for (const f of readdirSync(path.join(CONV, 'mmdet_centernet', 'c01_basic'))) copyFileSync(path.join(CONV, 'mmdet_centernet', 'c01_basic', f), path.join(dir, f));
    writeFileSync(path.join(dir, 'cornernet.json'), JSON.stringify({ convention: 'mmdet_centernet', weights: { wh: 0.2 } }));
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.equal(r.conventionChoice?.how, 'manifest');
    assert.match(r.conventionChoice!.reason, /cornernet\.json/);
    assert.equal(r.weights.wh, 0.2);
    const exp = expected('mmdet_centernet', 'c01_basic').float32;
    assertClose(r.terms.loss_wh, exp.loss_wh * 2, 1e-5, 1e-6, 'loss_wh doubles with the weight');
  });

  it('a weight the convention does not have is bad input naming the accepted ones', async () => {
    await assert.rejects(computeLossFromFiles({ paths: [path.join(CONV, 'centernet', 'c01_basic')] }, { weights: { pull: 0.5 } }), /--pull-weight: not a weight of CenterNet.*--hm-weight, --wh-weight, --off-weight/);
  });
});

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLI contract', () => {
  it('--json prints convention, total and terms (upstream names) for every convention, auto and forced', () => {
    for (const folder of ['mmdet_cornernet', 'centernet', 'mmdet_centernet']) {
      for (const c of cases(folder)) {
        const exp = expected(folder, c).float32;
        for (const extra of [[], ['--convention', NAME[folder]!]]) {
          const r = cli(['--json', ...extra, path.join(CONV, folder, c)]);
          assert.equal(r.code, 0, r.stderr);
          const j = JSON.parse(r.stdout);
          assert.equal(j.convention, NAME[folder]);
          assertClose(j.total, exp.total ?? exp.loss, 1e-5, 2e-5, `${folder}/${c} total`);
          const terms = folder === 'mmdet_cornernet' ? exp.loss_dict_sums : Object.fromEntries(Object.entries(exp).filter(([k]) => k !== 'per_stack'));
          for (const [k, v] of Object.entries(terms)) assertClose(j.terms[k], v as number, 1e-5, floor(k), `${folder}/${c} terms.${k}`);
        }
      }
    }
  });

  it('a CornerNet batch keeps its keys and gains convention and terms', () => {
    const r = cli(['--json', path.join(CORNERNET, 'p01_basic')]);
    const j = JSON.parse(r.stdout);
    assert.equal(j.convention, 'cornernet');
    assert.deepEqual(Object.keys(j.terms), ['focal_loss', 'pull_loss', 'push_loss', 'regr_loss']);
    assert.equal(j.terms.focal_loss, j.weighted.focal);
    for (const k of ['unweighted', 'weighted', 'contribution', 'perStack', 'perImage', 'objects', 'topPixels']) assert.ok(k in j, k);
  });

  it('--compare-conventions: every CornerNet fixture scored by mmdet CornerHead as cornernet_as_mmdet says, gaps adding up', () => {
    for (const c of readdirSync(CORNERNET).filter((n) => /^p\d+_\w+$/.test(n)).sort()) {
      const exp = JSON.parse(readFileSync(path.join(CONV, 'cornernet_as_mmdet', `${c}.json`), 'utf8'));
      const r = cli(['--json', '--compare-conventions', path.join(CORNERNET, c)]);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assertClose(j.conventions.cornernet.total, exp.original_cornernet.float32_total, 1e-5, 2e-5, `${c} original`);
      const mm = j.conventions['mmdet-cornernet'];
      assertClose(mm.total, exp.mmdet.float32.total, 1e-5, 2e-5, `${c} mmdet total`);
      for (const [k, v] of Object.entries(exp.mmdet.float32.loss_dict_sums)) assertClose(mm.terms[k], v as number, 1e-5, 1e-6, `${c} mmdet ${k}`);
      let sum = 0;
      for (const g of j.gaps) {
        const parts = g.parts.reduce((a: number, p: { amount: number }) => a + p.amount, 0);
        assertClose(parts, g.gap, 1e-9, 1e-12, `${c} ${g.term}: parts add up`);
        assert.ok(g.summary.length > 20);
        sum += g.gap;
      }
      assertClose(sum, mm.total - j.total, 1e-9, 1e-9, `${c} the gaps add up to the totals' difference`);
    }
  });

  it('--compare-conventions the other way: an mmdet batch mapped from p01 scores the original total', async () => {
    // p01 through the mapping into mmdet's layout, written as mmdet's files.
    const r0 = cli(['--json', path.join(CORNERNET, 'p01_basic')]);
    const original = JSON.parse(r0.stdout).total;
    const { cornernetToMmdetCornernet } = await import('../../src/cornernet/loss/mapping');
    const read = async (n: string) => (await readTensorFile(path.join(CORNERNET, 'p01_basic', `${n}.npy`))).data as any;
    const t = await readTensorFile(path.join(CORNERNET, 'p01_basic', 'tl_heat.npy'));
    const [S, B, C, H, W] = t.shape as [number, number, number, number, number];
    const K = (await readTensorFile(path.join(CORNERNET, 'p01_basic', 'gt_mask.npy'))).shape[1]!;
    const per = (a: Float32Array, n: number) => Array.from({ length: S }, (_, s) => a.slice(s * n, (s + 1) * n));
    const mapped = cornernetToMmdetCornernet({
      dims: { stacks: S, B, C, H, W, K },
      tlHeat: per(await read('tl_heat'), B * C * H * W),
      brHeat: per(await read('br_heat'), B * C * H * W),
      tlTagMap: per(await read('tl_tag_map'), B * H * W),
      brTagMap: per(await read('br_tag_map'), B * H * W),
      tlRegrMap: per(await read('tl_regr_map'), B * 2 * H * W),
      brRegrMap: per(await read('br_regr_map'), B * 2 * H * W),
      gtTlHeat: await read('gt_tl_heat'),
      gtBrHeat: await read('gt_br_heat'),
      gtMask: await read('gt_mask'),
      tlInd: await read('tl_ind'),
      brInd: await read('br_ind'),
      gtTlRegr: await read('gt_tl_regr'),
      gtBrRegr: await read('gt_br_regr'),
      precision: 'float32',
    }).value;
    const dir = path.join(tmp, 'mmdet-from-p01');
    mkdirSync(dir);
    const f32 = (shape: number[], parts: Float32Array[] | Float32Array) => {
      const data = Array.isArray(parts) ? Float32Array.from(parts.flatMap((p) => Array.from(p))) : parts;
      return encodeNpy({ dtype: 'float32', shape, data });
    };
    writeFileSync(path.join(dir, 'tl_heats.npy'), f32([S, B, C, H, W], mapped.tlHeats as Float32Array[]));
    writeFileSync(path.join(dir, 'br_heats.npy'), f32([S, B, C, H, W], mapped.brHeats as Float32Array[]));
    writeFileSync(path.join(dir, 'tl_embs.npy'), f32([S, B, 1, H, W], mapped.tlEmbs as Float32Array[]));
    writeFileSync(path.join(dir, 'br_embs.npy'), f32([S, B, 1, H, W], mapped.brEmbs as Float32Array[]));
    writeFileSync(path.join(dir, 'tl_offs.npy'), f32([S, B, 2, H, W], mapped.tlOffs as Float32Array[]));
    writeFileSync(path.join(dir, 'br_offs.npy'), f32([S, B, 2, H, W], mapped.brOffs as Float32Array[]));
    writeFileSync(path.join(dir, 'topleft_heatmap.npy'), f32([B, C, H, W], mapped.topleftHeatmap as Float32Array));
    writeFileSync(path.join(dir, 'bottomright_heatmap.npy'), f32([B, C, H, W], mapped.bottomrightHeatmap as Float32Array));
    writeFileSync(path.join(dir, 'topleft_offset.npy'), f32([B, 2, H, W], mapped.topleftOffset as Float32Array));
    writeFileSync(path.join(dir, 'bottomright_offset.npy'), f32([B, 2, H, W], mapped.bottomrightOffset as Float32Array));
    const corners = mapped.corners as ArrayLike<number>;
    writeFileSync(path.join(dir, 'corner_embedding.npy'), encodeNpy({ dtype: 'int64', shape: [B, corners.length / (B * 4), 2, 2], data: BigInt64Array.from(Array.from(corners, (v) => BigInt(v))) }));
    const r = await computeLossFromFiles({ paths: [dir] });
    assert.equal(r.convention, 'mmdet-cornernet');
    const exp = JSON.parse(readFileSync(path.join(CONV, 'cornernet_as_mmdet', 'p01_basic.json'), 'utf8'));
    assertClose(r.total, exp.mmdet.float32.total, 1e-5, 2e-5, 'mmdet total of the mapped batch');
    await compareConventions(r, { paths: [dir] });
    assertClose(r.conventions!.cornernet!.total, original, 1e-6, 1e-6, 'the original total, back through the inverse mapping');
    const sum = r.gaps!.reduce((a, g) => a + (g.gap ?? NaN), 0);
    assertClose(sum, r.conventions!.cornernet!.total! - r.total!, 1e-9, 1e-9, 'gaps add up');
  });

  it('--compare-conventions for CenterNet: scored by mmdet CenterNetHead too', () => {
    const r = cli(['--json', '--compare-conventions', path.join(CONV, 'centernet', 'c01_basic')]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.ok(j.conventions['mmdet-centernet'].total > 0);
    assert.equal(j.gaps.length, 3);
    const sum = j.gaps.reduce((a: number, g: { gap: number }) => a + g.gap, 0);
    // CenterNet's loss is a float32 sum of its weighted terms: equal to the terms' sum within its rounding.
    assertClose(sum, j.conventions['mmdet-centernet'].total - j.total, 1e-6, 1e-6, 'gaps add up');
  });

  it('an unknown --convention is bad input', () => {
    const r = cli(['--convention', 'yolo', path.join(CORNERNET, 'p01_basic')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --convention expects one of cornernet, mmdet-cornernet, centernet, mmdet-centernet/);
  });
});
