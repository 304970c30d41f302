/**
 * Worker entry (dist/worker.js): computes the loss on files and keeps the inputs to serve the
 * slices the panels ask for. One computation per worker; the host terminates it to cancel.
 */
import { parentPort } from 'node:worker_threads';
import { RoleResolutionError, isInputError } from '../cornernet/errors';
import type { LossInputs } from '../cornernet/batch';
import { computeLossWithInputs } from '../cornernet/run';
import { classThumbnails, countPositives, heatSlice } from '../cornernet/slices';
import { isTensorReadError } from '../tensor/errors';
import type { SerializedError, WorkerRequest, WorkerResponse } from './protocol';

const port = parentPort;
if (!port) throw new Error('lossWorker must run in a worker thread');

let inputs: LossInputs | undefined;
let positives: { tl: number; br: number } | undefined;

const send = (msg: WorkerResponse, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: WorkerRequest) => {
  handle(msg).catch((e) => send({ type: 'error', id: msg.id, error: serializeError(e) }));
});

async function handle(msg: WorkerRequest): Promise<void> {
  switch (msg.type) {
    case 'compute': {
      const r = await computeLossWithInputs(msg.spec, {
        ...msg.options,
        onProgress: (fraction, stage) => send({ type: 'progress', id: msg.id, fraction, stage }),
      });
      inputs = r.inputs;
      positives = { tl: countPositives(inputs.gtHeat.tl), br: countPositives(inputs.gtHeat.br) };
      send({ type: 'report', id: msg.id, report: r.report });
      return;
    }
    case 'slice': {
      const s = heatSlice(requireInputs(), msg.corner, msg.stack, msg.image, msg.class, msg.topK, positives![msg.corner]);
      send({ type: 'slice', id: msg.id, slice: s }, [s.logit.buffer, s.prob.buffer, s.target.buffer, s.loss.buffer] as ArrayBuffer[]);
      return;
    }
    case 'thumbnails': {
      const t = classThumbnails(requireInputs(), msg.stack, msg.image, msg.maxSide);
      send({ type: 'thumbnails', id: msg.id, thumbnails: t }, [t.data.buffer as ArrayBuffer]);
      return;
    }
  }
}

function requireInputs(): LossInputs {
  if (!inputs) throw new Error('no computation in this worker yet');
  return inputs;
}

function serializeError(e: unknown): SerializedError {
  if (e instanceof RoleResolutionError) return { kind: 'roles', message: e.message, subject: e.subject, problems: e.problems };
  if (isInputError(e)) return { kind: 'input', message: e.message, subject: e.subject };
  if (isTensorReadError(e)) return { kind: 'read', message: e.message, subject: e.member ? `${e.file}:${e.member}` : e.file };
  const err = e as Error;
  return { kind: 'internal', message: err?.message ?? String(e), stack: err?.stack };
}
