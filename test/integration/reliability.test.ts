/// <reference types="mocha" />
/**
 * Reliability in a real extension host: the event loop stays responsive while the realistic case
 * is computed; concurrent, cancelled and overtaken computations never show a stale or mixed
 * result; files replaced or deleted during a run and a panel closed during a run end cleanly.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { CornerNetInspectorApi } from '../../src/extension';
import type { LossReport } from '../../src/cornernet/model/report';
import { execFileSync } from 'node:child_process';
import { encodeNpy } from '../../src/tensor/npy';
import { encodeNpz } from '../../src/tensor/npz';
import { readTensorFile } from '../../src/tensor/tensorFile';
import { sleep, ws } from './support';

const COMMAND = 'cornernet.computeLoss';
let api: CornerNetInspectorApi;
const compute = (dir: string) => vscode.commands.executeCommand(COMMAND, vscode.Uri.file(dir)) as Thenable<LossReport | undefined>;

/**
 * The realistic case (129 MB, 17 files), written once per run by a separate process: generating
 * it here would leave ~1 GB of garbage in the extension host, whose collection would then be
 * measured as the extension's blocking.
 */
function realistic(name = 'realistic-rel'): string {
  const dir = path.join(ws(), name);
  if (!fs.existsSync(path.join(dir, 'tl_heat.npy'))) {
    const repo = process.env.HARNESS_REPO;
    assert.ok(repo, 'HARNESS_REPO is set by the runner');
    execFileSync(process.execPath, [path.join(repo, 'out', 'gen-sample.js'), dir, '--realistic'], { stdio: 'ignore' });
  }
  return dir;
}

before(async () => {
  api = await vscode.extensions.getExtension<CornerNetInspectorApi>('cornernet-inspector.cornernet-inspector')!.activate();
});

/**
 * The extension's longest hold of the event loop: a CPU profile of the extension host (sampled
 * every 0.5 ms) over the window, cut into busy periods at the '(idle)' samples (the loop waiting
 * for events). In each busy period, the time of the samples with the extension's code
 * (dist/extension.js, and dist/surfaces.js where every surface lives) on the stack is the
 * extension's share; the largest share is the figure.
 * Samples of '(program)' and '(garbage collector)' (native code the profiler cannot walk: a loop
 * around Date.now() or a big typed-array copy made by our code shows up as '(program)') are
 * credited to the extension when the JavaScript next to them in the same period, before or after,
 * is the extension's.
 */
function longestExtensionStretch(profile: { nodes: any[]; samples: number[]; timeDeltas: number[] }): { ms: number; where: string } {
  const byId = new Map<number, any>(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ours = new Map<number, string | undefined>();
  const oursOf = (id: number): string | undefined => {
    if (!ours.has(id)) {
      let hit: string | undefined;
      for (let x: number | undefined = id; x !== undefined && !hit; x = parent.get(x)) {
        const f = byId.get(x).callFrame;
        if (/dist\/(?:extension|surfaces)\.js$/.test(f.url)) hit = `${f.functionName || '(anonymous)'}:${f.lineNumber}`;
      }
      ours.set(id, hit);
    }
    return ours.get(id);
  };
  const leaf = (id: number) => {
    const f = byId.get(id).callFrame;
    return `${f.functionName || '(anonymous)'}@${f.url.split('/').pop()}:${f.lineNumber}`;
  };
  const name = (id: number) => byId.get(id).callFrame.functionName as string;
  const native = new Set(['(program)', '(garbage collector)']);
  // Each sample: ours (with where), 'other' JavaScript, 'native', or 'idle'.
  const kind = profile.samples.map((id) => (name(id) === '(idle)' ? 'idle' : native.has(name(id)) ? 'native' : oursOf(id) ? 'ours' : 'other'));
  // Native stretches take the owner of the JavaScript next to them (before or after) in the same busy period.
  const credited = kind.map((k, i) => {
    if (k !== 'native') return k === 'ours';
    for (let j = i - 1; j >= 0 && kind[j] !== 'idle'; j--) if (kind[j] !== 'native') return kind[j] === 'ours' || creditAfter(i);
    return creditAfter(i);
  });
  function creditAfter(i: number): boolean {
    for (let j = i + 1; j < kind.length && kind[j] !== 'idle'; j++) if (kind[j] !== 'native') return kind[j] === 'ours';
    return false;
  }
  let best = { ms: 0, where: '' };
  let run = 0;
  let where = '';
  let leaves = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (kind[i] === 'idle') {
      run = 0;
      where = '';
      leaves = new Map();
      return;
    }
    if (!credited[i]) return;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    run += dt;
    where ||= oursOf(id) ?? '';
    leaves.set(leaf(id), (leaves.get(leaf(id)) ?? 0) + dt);
    if (run > best.ms) {
      const top = [...leaves.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(0)} ms`);
      best = { ms: run, where: `${where}; mostly ${top.join(', ')}` };
    }
  });
  return best;
}

describe('responsiveness', () => {
  it('the extension never holds the extension host event loop for more than 50 ms while the realistic case is computed and shown', async function () {
    this.timeout(120000);
    const dir = realistic();
    await compute(path.join(ws(), 'p01_basic')); // warm: the first run also loads the webview
    await sleep(500);
    const inspector = await import('node:inspector');
    const session = new inspector.Session();
    session.connect();
    const post = (m: string, p?: object) => new Promise<any>((res, rej) => session.post(m, p ?? {}, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 500 });
    await post('Profiler.start');
    await sleep(100);
    // Also reported, not asserted: how late a 5 ms timer fired overall (which counts VS Code's own
    // work, e.g. code-server compressing websocket frames, and the thread waiting for a CPU on this
    // 2-core machine that also runs code-server, chromium and the computation).
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const r = await compute(dir);
    await api.waitForRender(60000, (x) => x.metrics.total === r?.total);
    h.disable();
    const { profile } = await post('Profiler.stop');
    session.disconnect();
    const ours = longestExtensionStretch(profile);
    console.log(`    while computing and drawing the realistic case: the extension's longest run ${ours.ms.toFixed(1)} ms (in ${ours.where}); event loop delay max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, mean ${(h.mean / 1e6).toFixed(1)} ms`);
    const repo = process.env.HARNESS_REPO;
    if (repo) {
      fs.mkdirSync(path.join(repo, 'test-results'), { recursive: true });
      fs.writeFileSync(path.join(repo, 'test-results', 'event-loop.json'), JSON.stringify({ extensionLongestMs: ours.ms, where: ours.where, delayMaxMs: h.max / 1e6, delayP99Ms: h.percentile(99) / 1e6, delayMeanMs: h.mean / 1e6 }));
    }
    assert.ok(r, 'computed');
    assert.ok(ours.ms < 50, `the extension held the event loop for ${ours.ms.toFixed(1)} ms in ${ours.where}`);
  });
});

describe('concurrency', () => {
  it('two computations at once: both return their own report, the panel shows the later one', async () => {
    const a = path.join(ws(), 'p01_basic');
    const b = path.join(ws(), 'p02_two_stacks');
    const [ra, rb] = await Promise.all([compute(realistic()), compute(b)]);
    assert.ok(ra && rb);
    assert.equal(rb.nstack, 2);
    assert.equal(ra.sizes.classes, 80);
    // The realistic run started first but finished last: the panel keeps the later-started one.
    assert.equal(api.currentReport()?.total, rb.total, 'no stale result in the panel');
    const render = await api.waitForRender(30000, (x) => x.metrics.total === rb.total);
    assert.equal(render.metrics.total, rb.total);
    assert.ok(await compute(a));
  });

  it('three started, one cancelled mid-way: the other two complete, nothing is mixed', async () => {
    const dir = realistic();
    const p1 = compute(path.join(ws(), 'p01_basic'));
    const slow = compute(dir);
    const p4 = compute(path.join(ws(), 'p04_one_object'));
    // Cancel the realistic one once its worker runs (the others run on).
    for (let i = 0; i < 500 && !api.runningPaths().some((p) => p.includes(dir)); i++) await sleep(10);
    assert.equal(api.cancelRunning(dir), 1);
    const [r1, rs, r4] = await Promise.all([p1, slow, p4]);
    assert.equal(rs, undefined, 'the cancelled run returns nothing');
    assert.ok(r1 && r4);
    assert.equal(r1.sizes.classes, 3);
    assert.equal(r4.sizes.classes, 2);
    assert.ok([r1.total, r4.total].includes(api.currentReport()?.total ?? NaN));
    assert.equal(api.runningCount, 0);
  });
});

describe('files changing under a run', () => {
  it('a file replaced or deleted while the run reads: a clean result or a clear error, never a crash', async () => {
    const dir = path.join(ws(), 'changing');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(realistic(), dir, { recursive: true });
    const run = compute(dir);
    await sleep(30);
    // Same name, other shape: a half-read file must not be mixed into the result.
    fs.writeFileSync(path.join(dir, 'gt_tl_heat.npy'), encodeNpy({ dtype: 'float32', shape: [4, 80, 64, 64], data: new Float32Array(4 * 80 * 64 * 64) }));
    fs.rmSync(path.join(dir, 'br_tag.npy'));
    const r = await run;
    if (r) {
      assert.equal(r.sizes.height, 128, 'a result comes only from the files as they were');
    } else {
      assert.ok(api.lastError, 'an error is reported');
      assert.notEqual(api.lastError!.kind, 'internal', `a clear input error: ${api.lastError!.message}`);
      assert.match(api.lastError!.message, /gt_tl_heat|br_tag|changed|no such file|shape/);
    }
    // The folder as it is now is refused with a message naming the problem.
    assert.equal(await compute(dir), undefined);
    assert.match(api.lastError!.message, /br_tag|gt_tl_heat/);
  });

  it('closing the panel during a run: the result still arrives and is shown again', async () => {
    // The realistic run takes a few hundred ms: when the close lands only after it (the workbench
    // was slow), the scenario did not happen; try again, a few times at most.
    let during = false;
    for (let attempt = 0; attempt < 5 && !during; attempt++) {
      await compute(path.join(ws(), 'p01_basic'));
      const run = compute(realistic());
      for (let i = 0; i < 300 && api.runningCount === 0; i++) await sleep(5);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      during = api.runningCount > 0;
      const r = await run;
      assert.ok(r);
      if (during) assert.equal(api.currentReport()?.total, r.total, 'shown again');
    }
    assert.ok(during, 'the panel was closed while the run was going on');
  });
});

describe('archive limits', () => {
  it('an .npz above cornernet.archive.maxMembers is refused with the limit named; raising the setting lets it through', async () => {
    // p01_basic as an npz of 16 members (the 16 .npy files of the fixture: gathered values and maps).
    const src = path.join(ws(), 'p01_basic');
    const dir = path.join(ws(), 'limits-npz');
    fs.mkdirSync(dir, { recursive: true });
    const repo = process.env.HARNESS_REPO!;
    const members: Record<string, Awaited<ReturnType<typeof readTensorFile>>> = {};
    for (const f of fs.readdirSync(src).filter((n) => n.endsWith('.npy'))) members[f.slice(0, -4)] = await readTensorFile(path.join(src, f));
    fs.writeFileSync(path.join(dir, 'batch.npz'), encodeNpz(Object.entries(members).map(([key, tensor]) => ({ key, tensor }))));
    const n = Object.keys(members).length;
    assert.ok(repo && n > 4);
    const conf = vscode.workspace.getConfiguration('cornernet.archive');
    try {
      await conf.update('maxMembers', 4, vscode.ConfigurationTarget.Global);
      // Named explicitly (in a folder scan an unreadable archive not named like a role is skipped).
      const file = path.join(dir, 'batch.npz');
      assert.equal(await compute(file), undefined);
      assert.match(api.lastError!.message, new RegExp(`archive has ${n} members, above the limit of 4 \\(in VS Code: the setting cornernet.archive.maxMembers\\)`));
      await conf.update('maxMembers', n, vscode.ConfigurationTarget.Global);
      const r = await compute(file);
      const exp = JSON.parse(fs.readFileSync(path.join(src, 'expected.json'), 'utf8')).float32;
      assert.ok(r && r.total !== null && Math.abs(r.total - exp.total) <= 1e-5 * Math.abs(exp.total), JSON.stringify(api.lastError));
    } finally {
      await conf.update('maxMembers', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
