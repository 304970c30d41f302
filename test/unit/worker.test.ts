/** The loss worker (dist/worker.js) through LossSession: results, slices, cancellation, errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { LossRunError, LossSession, type CancelToken } from '../../src/lossSession';
import { computeLossFromFiles } from '../../src/cornernet/run';
import { FIXTURES } from './helpers';

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
