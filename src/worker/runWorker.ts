/**
 * The run worker (dist/runWorker.js): timelines of run folders and A/B comparisons, off the
 * extension host's thread. One batch is computed at a time; a timeline keeps one small point per
 * batch, a comparison its two batches (heatmaps stay on disk, read an image at a time).
 */
import { parentPort } from 'node:worker_threads';
import { batchStamp, describeFailure, listBatches, timelinePoint } from '../cornernet/timeline';
import { AbSide, abPlane, computeSides, diffSides } from '../cornernet/abCompare';
import { computeLossFromFiles } from '../cornernet/run';
import type { RunRequest, RunResponse, ScannedBatch } from './runProtocol';

const port = parentPort!;
const send = (m: RunResponse, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** Per batch input: the stamp it was computed at and what came of it. */
const computed = new Map<string, { signature: string; batch: ScannedBatch }>();
let sides: [AbSide, AbSide] | undefined;

async function scan(msg: Extract<RunRequest, { type: 'scan' }>): Promise<void> {
  const entries = await listBatches([msg.folder]);
  const out: ScannedBatch[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const stamp = await batchStamp(e);
    const age = Date.now() - stamp.newestMs;
    const base = { input: e.input, paths: e.paths, step: e.step };
    let batch: ScannedBatch;
    const before = computed.get(e.input);
    if (before && before.signature === stamp.signature && before.batch.status !== 'waiting') batch = before.batch;
    else if (age < msg.settleMs) batch = { ...base, status: 'waiting', reason: 'its files are still changing' };
    else {
      try {
        const report = await computeLossFromFiles({ paths: e.paths }, { ...msg.options, topPixels: 0 });
        batch = { ...base, status: 'ok', point: timelinePoint(e.input, e.step, report) };
      } catch (err) {
        const failure = describeFailure(err);
        // A batch whose files are recent may be half-written: not an error yet.
        batch = age < msg.graceMs && !failure.internal ? { ...base, status: 'waiting', reason: `incomplete so far (${failure.message})` } : { ...base, status: 'error', failure };
      }
      // The stamp again: files that changed during the computation make it stale.
      const after = await batchStamp(e);
      if (after.signature !== stamp.signature) batch = { ...base, status: 'waiting', reason: 'its files changed while it was read' };
      computed.set(e.input, { signature: stamp.signature, batch });
    }
    out.push(batch);
    send({ type: 'batch', id: msg.id, batch, index: i, count: entries.length });
  }
  for (const k of [...computed.keys()]) if (!entries.some((e) => e.input === k)) computed.delete(k);
  send({ type: 'scanned', id: msg.id, batches: out });
}

async function handle(msg: RunRequest): Promise<void> {
  switch (msg.type) {
    case 'exit':
      for (const s of sides ?? []) s.close();
      port.close();
      process.exit(0);
      return;
    case 'scan':
      return scan(msg);
    case 'abOpen': {
      for (const s of sides ?? []) s.close();
      sides = undefined;
      sides = await computeSides(msg.a, msg.b, msg.options);
      send({ type: 'ab', id: msg.id, a: sides[0].report, b: sides[1].report, diff: diffSides(sides[0], sides[1]) });
      return;
    }
    case 'abPlane': {
      if (!sides) throw new Error('no comparison in this worker yet');
      const p = abPlane(sides[0], sides[1], msg.corner, msg.stack, msg.image, msg.class);
      const buffers = [p.a.prob, p.a.loss, p.a.target, p.b.prob, p.b.loss, p.b.target, p.diff].map((x) => x.buffer as ArrayBuffer);
      send({ type: 'abPlane', id: msg.id, plane: p }, buffers);
      return;
    }
  }
}

// One request at a time, in order: a scan and a plane never interleave.
let queue = Promise.resolve();
port.on('message', (msg: RunRequest) => {
  queue = queue.then(() =>
    handle(msg).catch((e) => {
      const failure = describeFailure(e);
      send({ type: 'error', id: msg.id, failure: failure.internal ? { ...failure, details: [(e as Error)?.stack ?? ''] } : failure });
    }),
  );
});
