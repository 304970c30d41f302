/** The `cornernet-loss` contract: output forms, exit codes, error lines, overrides. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, cpSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES, assertClose, readExpected } from './helpers';
import { encodeNpy } from '../../src/tensor/npy';
import { readTensorFile } from '../../src/tensor/tensorFile';

const CLI = path.join(process.cwd(), 'dist', 'cli.js');

function cli(args: string[], cwd = process.cwd()) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/** Bad input: exit 2, one or more `error: <subject>: <problem>` lines, no stack trace. */
function assertBadInput(r: ReturnType<typeof cli>, mention: RegExp) {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, /^error: /);
  assert.match(r.stderr, mention);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout, '');
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'cn-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function copyCase(name: string, as: string): string {
  const d = path.join(tmp, as);
  cpSync(path.join(FIXTURES, name), d, { recursive: true });
  return d;
}

describe('cornernet-loss', () => {
  it('--json prints exactly one JSON object with the contract fields', () => {
    const r = cli(['--json', path.join(FIXTURES, 'p02_two_stacks')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    const j = JSON.parse(r.stdout);
    const exp = readExpected('p02_two_stacks');
    assertClose(j.total, exp.float32.total, 1e-5, 2e-5, 'total');
    for (const k of ['focal', 'pull', 'push', 'regr']) {
      assert.equal(typeof j.unweighted[k], 'number');
      assert.equal(typeof j.weighted[k], 'number');
    }
    assert.deepEqual(j.weights, { pull: 0.1, push: 0.1, regr: 1 });
    assert.equal(j.nstack, 2);
    assert.equal(j.perStack.length, 2);
    for (const k of ['focalTl', 'focalBr', 'pull', 'push', 'regrTl', 'regrBr']) assert.equal(typeof j.perStack[1][k], 'number');
    assert.equal(j.perImage.length, 2);
    assert.ok(Array.isArray(j.warnings));
    assert.equal(typeof j.timings.readMs, 'number');
    assert.equal(typeof j.timings.computeMs, 'number');
  });

  it('streams the heatmaps of .npy folders by default; --no-stream reads them whole, same report', () => {
    const dir = path.join(FIXTURES, 'p07_saturated');
    const streamed = cli(['--json', '--threads', '2', dir]);
    const whole = cli(['--json', '--no-stream', dir]);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(whole.code, 0, whole.stderr);
    const a = JSON.parse(streamed.stdout);
    const b = JSON.parse(whole.stdout);
    assert.equal(typeof a.timings.heatmapReadMs, 'number');
    assert.equal(b.timings.heatmapReadMs, undefined);
    assert.deepEqual({ ...a, timings: null }, { ...b, timings: null });
    assert.match(cli([dir]).stdout, /heatmaps read during it: [\d.]+ ms/);
  });

  it('prints a readable table without --json, warnings included, exit 0', () => {
    const r = cli([path.join(FIXTURES, 'p04_one_object')]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /total\s+14\.0732/);
    assert.match(r.stdout, /\[single-object-push\]/);
    assert.match(r.stdout, /stack\s+focal tl/);
  });

  it('weights flags', () => {
    const exp = readExpected('p01_basic');
    const r = cli(['--json', '--pull-weight', '1', '--push-weight=1', '--regr-weight', '2', path.join(FIXTURES, 'p01_basic')]);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.weights, { pull: 1, push: 1, regr: 2 });
    const u = exp.float32.unweighted;
    assertClose(j.total, u.focal + u.pull + u.push + 2 * u.regr, 1e-5, 2e-5, 'reweighted total');
  });

  it('npz input and NAME=PATH:KEY overrides', () => {
    const npz = path.join(FIXTURES, 'p02_two_stacks.npz');
    const exp = readExpected('p02_two_stacks');
    const ok = cli(['--json', npz]);
    assert.equal(ok.code, 0, ok.stderr);
    assertClose(JSON.parse(ok.stdout).total, exp.float32.total, 1e-5, 2e-5, 'npz total');
    // Swap tl and br heat by override: the total changes, the roles say "override".
    const swapped = cli(['--json', npz, '--role', `tl_heat=${npz}:br_heat`, '--role', `br_heat=${npz}:tl_heat`]);
    assert.equal(swapped.code, 0, swapped.stderr);
    const j = JSON.parse(swapped.stdout);
    assert.notEqual(j.total, exp.float32.total);
    assert.equal(j.inputs.roles.find((u: any) => u.role === 'tl_heat').key, 'br_heat');
    assert.equal(j.inputs.roles.find((u: any) => u.role === 'tl_heat').origin, 'override');
  });

  it('a manifest (cornernet.json) settles an ambiguous role', () => {
    const d = copyCase('p01_basic', 'manifest');
    cpSync(path.join(d, 'tl_heat.npy'), path.join(d, 'tl_hm.npy'));
    const amb = cli(['--json', d]);
    assertBadInput(amb, /tl_heat: 2 arrays claim tl_heat: .*tl_heat\.npy, .*tl_hm\.npy/);
    writeFileSync(path.join(d, 'cornernet.json'), JSON.stringify({ roles: { tl_heat: 'tl_hm.npy' } }));
    const r = cli(['--json', d]);
    assert.equal(r.code, 0, r.stderr);
    assertClose(JSON.parse(r.stdout).total, readExpected('p01_basic').float32.total, 1e-5, 2e-5, 'total');
    writeFileSync(path.join(d, 'cornernet.json'), '{"roles": {"tl_heat": 3}}');
    assertBadInput(cli([d]), /cornernet\.json: roles\.tl_heat must be/);
  });

  it('bad input: exit 2 with error: <file or role>: <problem>', () => {
    assertBadInput(cli([path.join(tmp, 'nope')]), /nope: no such file or folder/);
    assertBadInput(cli(['--frobnicate', FIXTURES]), /unknown option --frobnicate/);
    assertBadInput(cli([]), /no INPUT/);
    assertBadInput(cli(['--pull-weight', 'x', FIXTURES]), /--pull-weight expects/);
    assertBadInput(cli(['--role', 'nonsense=a.npy', FIXTURES]), /unknown role "nonsense"/);
    const notTensor = path.join(tmp, 'notes.txt');
    writeFileSync(notTensor, 'hello');
    assertBadInput(cli([notTensor]), /notes\.txt: not a \.npy, \.npz or \.safetensors file/);
  });

  it('a missing role names the role', () => {
    const d = copyCase('p01_basic', 'missing');
    rmSync(path.join(d, 'gt_mask.npy'));
    assertBadInput(cli([d]), /^error: gt_mask: no array found/m);
  });

  it('a truncated or corrupt role file names the file', () => {
    const d = copyCase('p01_basic', 'truncated');
    const f = path.join(d, 'tl_heat.npy');
    writeFileSync(f, readFileSync(f).subarray(0, 1000));
    assertBadInput(cli([d]), /tl_heat\.npy: .*truncated/);
    writeFileSync(f, 'PK not numpy at all');
    assertBadInput(cli([d]), /tl_heat\.npy: /);
  });

  it('an unrelated broken file in a folder is skipped with a warning', () => {
    const d = copyCase('p01_basic', 'skipped');
    writeFileSync(path.join(d, 'notes.npz'), 'garbage');
    const r = cli(['--json', d]);
    assert.equal(r.code, 0, r.stderr);
    const w = JSON.parse(r.stdout).warnings.find((x: any) => x.code === 'skipped-file');
    assert.match(w.message, /notes\.npz was skipped/);
  });

  it('indices outside [0, H*W) are an error naming the role and file', async () => {
    const d = copyCase('p01_basic', 'badind');
    rmSync(path.join(d, 'tl_tag.npy'));
    rmSync(path.join(d, 'tl_regr.npy'));
    const ind = await readTensorFile(path.join(d, 'tl_ind.npy'));
    (ind.data as BigInt64Array)[3] = 256n;
    writeFileSync(path.join(d, 'tl_ind.npy'), encodeNpy(ind));
    assertBadInput(cli([d]), /tl_ind \(.*tl_ind\.npy\): index 256 at image 0, slot 3 is outside \[0, 256\)/);
  });

  it('gathered values that differ from the maps at the indices: gather-mismatch, gathered used', async () => {
    const d = copyCase('p01_basic', 'mismatch');
    const tag = await readTensorFile(path.join(d, 'tl_tag.npy'));
    (tag.data as Float32Array)[9] += 0.25;
    writeFileSync(path.join(d, 'tl_tag.npy'), encodeNpy(tag));
    const r = cli(['--json', d]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const w = j.warnings.find((x: any) => x.code === 'gather-mismatch');
    assert.ok(w, 'warning raised');
    assert.match(w.message, /tl_tag: the gathered values \(.*tl_tag\.npy\) differ from the map \(.*tl_tag_map\.npy\) gathered at tl_ind in 1 of 16 values \(first at stack 0, image 1, slot 1/);
    assert.deepEqual(w.files.map((f: string) => path.basename(f)).sort(), ['tl_tag.npy', 'tl_tag_map.npy']);
    // The gathered (changed) values feed the loss: pull differs from the fixture.
    assert.notEqual(j.unweighted.pull, readExpected('p01_basic').float32.unweighted.pull);
  });

  it('shapes that disagree name both sides', () => {
    const d = copyCase('p01_basic', 'shapes');
    writeFileSync(path.join(d, 'gt_br_heat.npy'), encodeNpy({ dtype: 'float32', shape: [2, 3, 16, 15], data: new Float32Array(2 * 3 * 16 * 15) }));
    assertBadInput(cli([d]), /gt_br_heat .*\[2, 3, 16, 15\] differs from gt_tl_heat \[2, 3, 16, 16\]/);
  });

  it('a header claiming an absurd shape fails fast without allocating it', () => {
    const d = copyCase('p01_basic', 'huge');
    const small = encodeNpy({ dtype: 'float32', shape: [1, 2, 3, 16, 16], data: new Float32Array(1536) });
    const text = new TextDecoder('latin1').decode(small);
    const forged = text.replace("'shape': (1, 2, 3, 16, 16), }", "'shape': (100000, 200000, 3000, 16, 16), }");
    assert.notEqual(forged, text);
    writeFileSync(path.join(d, 'tl_heat.npy'), Buffer.from(forged, 'latin1'));
    const r = cli([d]);
    assertBadInput(r, /tl_heat\.npy: /);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  });

  it('pickled object arrays are refused, never loaded', () => {
    const d = copyCase('p01_basic', 'pickle');
    const header = "{'descr': '|O', 'fortran_order': False, 'shape': (2, 8), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = header + ' '.repeat(pad) + '\n';
    const bytes = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, h.length & 0xff, h.length >> 8]), Buffer.from(h, 'latin1'), Buffer.from('\x80\x04cos\nsystem\n')]);
    writeFileSync(path.join(d, 'gt_mask.npy'), bytes);
    assertBadInput(cli([d]), /gt_mask\.npy: .*(pickle|object)/i);
  });

  it('--debug adds the stack trace', () => {
    const r = cli(['--debug', path.join(tmp, 'nope')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at /);
  });

  it('--help and --version exit 0', () => {
    assert.equal(cli(['--help']).code, 0);
    assert.match(cli(['--version']).stdout, /^cornernet-loss \d+\.\d+\.\d+/);
  });

  it('folder of per-stack files (<stem>_<k>)', async () => {
    const src = path.join(FIXTURES, 'p02_two_stacks');
    const d = path.join(tmp, 'perstack');
    mkdirSync(d);
    for (const f of ['gt_tl_heat', 'gt_br_heat', 'gt_mask', 'gt_tl_regr', 'gt_br_regr']) cpSync(path.join(src, `${f}.npy`), path.join(d, `${f}.npy`));
    for (const f of ['tl_heat', 'br_heat', 'tl_tag', 'br_tag', 'tl_regr', 'br_regr']) {
      const t = await readTensorFile(path.join(src, `${f}.npy`));
      const inner = t.shape.slice(1);
      const n = inner.reduce((a, b) => a * b, 1);
      for (let s = 0; s < 2; s++) {
        writeFileSync(path.join(d, `${f}_${s}.npy`), encodeNpy({ dtype: t.dtype, shape: inner, data: (t.data as Float32Array).slice(s * n, (s + 1) * n) }));
      }
    }
    const r = cli(['--json', d]);
    assert.equal(r.code, 0, r.stderr);
    assertClose(JSON.parse(r.stdout).total, readExpected('p02_two_stacks').float32.total, 1e-5, 2e-5, 'total');
  });
});
