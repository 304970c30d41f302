/** The loss worker (dist/worker.js) through LossSession: results, slices, cancellation, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { LossRunError, LossSession, type CancelToken } from '../../src/lossSession';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { FIXTURES } from './helpers';
import { WorkerClient } from '../../src/workerClient';
import { fractionReporter } from '../../src/progress';

const WORKER = path.join(process.cwd(), 'dist', 'worker.js');

function token(): CancelToken & { cancel(): void } {
  const listeners = new Set<() => void>();
  let cancelled = false;
  return {
    get isCancellationRequested() {
      return cancelled;
    },
    onCancellationRequested(l) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
    cancel() {
      cancelled = true;
      listeners.forEach((l) => l());
    },
  };
}

describe('LossSession', () => {
  it('computes the same report as the core, serves slices, then is disposed', async () => {
    const spec = { paths: [path.join(FIXTURES, 'p02_two_stacks')] };
    const progress: number[] = [];
    const s = await LossSession.start(WORKER, spec, {}, undefined, (f) => progress.push(f));
    const direct = await computeLossFromFiles(spec);
    assert.equal(s.report.total, direct.total);
    assert.deepEqual(s.report.perStack, direct.perStack);
    assert.ok(progress.length > 2 && progress.at(-1) === 1);
    const slice = await s.slice('br', 1, 1, 2);
    assert.equal(slice.width, 24);
    assert.equal(slice.loss.length, 20 * 24);
    const t = await s.thumbnails(0, 0);
    assert.equal(t.classes.length, 4);
    s.dispose();
    assert.equal(s.alive, false);
    await assert.rejects(s.slice('tl', 0, 0, 0), (e: LossRunError) => e.kind === 'cancelled');
  });

  it('bad input comes back as a typed error naming the file', async () => {
    await assert.rejects(
      LossSession.start(WORKER, { paths: [path.join(FIXTURES, 'p01_basic', 'expected.json')] }, {}),
      (e: LossRunError) => e.kind === 'input' && /expected\.json: not a \.npy/.test(e.message),
    );
    await assert.rejects(
      LossSession.start(WORKER, { paths: [path.join(FIXTURES, 'p01_basic', 'tl_heat.npy')] }, {}),
      (e: LossRunError) => e.kind === 'roles' && (e.problems?.length ?? 0) > 3,
    );
  });

  it('a spare worker (warmed up ahead) gives the same report and views; kept and prefetched views equal fresh ones', async () => {
    const spec = { paths: [path.join(FIXTURES, 'p02_two_stacks')] };
    try {
      WorkerClient.disposeSpare();
      const cold = await LossSession.start(WORKER, spec, { findings: 'later' });
      WorkerClient.prestart(WORKER);
      await new Promise((r) => setTimeout(r, 1500));
      const warm = await LossSession.start(WORKER, spec, { findings: 'later' });
      try {
        assert.deepEqual({ ...warm.report, timings: null }, { ...cold.report, timings: null });
        const { batch, classes } = warm.report.sizes;
        // Twice: computed, then kept (or prefetched); images out of order (planes read alone).
        for (let round = 0; round < 2; round++) {
          for (const image of [1, 0, batch - 1]) {
            for (let s = 0; s < warm.report.nstack; s++) {
              assert.deepEqual(await warm.thumbnails(s, image), await cold.thumbnails(s, image), `thumbnails ${s} ${image}`);
              for (const cls of [0, classes - 1]) {
                for (const corner of ['tl', 'br'] as const) {
                  assert.deepEqual(await warm.slice(corner, s, image, cls), await cold.slice(corner, s, image, cls), `slice ${corner} ${s} ${image} ${cls}`);
                }
              }
            }
            const opts = { K: 100, aeThreshold: 0.5, numDets: 1000, kernel: 3 };
            assert.deepEqual(await warm.decode(warm.report.nstack - 1, image, opts, 0.5), await cold.decode(cold.report.nstack - 1, image, opts, 0.5), `decode ${image}`);
          }
        }
      } finally {
        warm.dispose();
        cold.dispose();
      }
    } finally {
      WorkerClient.disposeSpare();
    }
  });

  it('progress reaches the notification at most every 100 ms, and the end always', () => {
    const reports: { increment?: number }[] = [];
    let now = 0;
    const report = fractionReporter({ report: (r) => reports.push(r) }, () => now);
    for (let i = 0; i <= 100; i++) {
      now = i * 10;
      report(i / 100, 'x');
    }
    assert.equal(reports.length, 11);
    assert.ok(Math.abs(reports.reduce((a, r) => a + (r.increment ?? 0), 0) - 100) < 1e-9);
  });

  it('cancelling terminates the worker', async () => {
    const t = token();
    const run = LossSession.start(WORKER, { paths: [path.join(FIXTURES, 'p09_k128')] }, {}, t);
    t.cancel();
    await assert.rejects(run, (e: LossRunError) => e.kind === 'cancelled');
    const pre = token();
    pre.cancel();
    await assert.rejects(LossSession.start(WORKER, { paths: [path.join(FIXTURES, 'p01_basic')] }, {}, pre), (e: LossRunError) => e.kind === 'cancelled');
  });
});
