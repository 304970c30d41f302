/**
 * One computation in its own worker thread: starts it, reports progress, cancels it by
 * terminating the worker, then keeps the worker (and its tensors) to answer slice requests until
 * disposed. The extension host's main thread only sees reports and small slices.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { InputSpec } from './cornernet/inputs';
import type { LossReport } from './cornernet/report';
import type { RoleProblem } from './cornernet/resolve';
import type { Corner } from './cornernet/roles';
import type { HeatSlice, Thumbnails } from './cornernet/slices';
import type { ComputeOptions, ErrorKind, SerializedError, WorkerRequest, WorkerResponse } from './worker/protocol';

/** A failed computation: bad input (with the file or role) or an internal fault. */
export class LossRunError extends Error {
  constructor(
    readonly kind: ErrorKind | 'cancelled' | 'crashed',
    message: string,
    readonly subject?: string,
    readonly problems?: RoleProblem[],
  ) {
    super(message);
    this.name = 'LossRunError';
  }
  static from(e: SerializedError): LossRunError {
    const err = new LossRunError(e.kind, e.message, e.subject, e.problems);
    if (e.stack) err.stack = e.stack;
    return err;
  }
}

export interface CancelToken {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void; onProgress?: (f: number, stage: string) => void };

export class LossSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;
  report!: LossReport;

  private constructor(
    private readonly worker: Worker,
    readonly spec: InputSpec,
    readonly options: ComputeOptions,
  ) {
    worker.on('message', (msg: WorkerResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'progress') {
        p.onProgress?.(msg.fraction, msg.stage);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(LossRunError.from(msg.error));
      else p.resolve(msg);
    });
    worker.on('error', (e) => this.failAll(new LossRunError('crashed', `the loss worker failed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.disposed) this.failAll(new LossRunError('crashed', `the loss worker exited (code ${code})`));
      this.disposed = true;
    });
  }

  /** Computes in a new worker. Rejects with LossRunError ('cancelled' when the token fires). */
  static async start(
    workerScript: string,
    spec: InputSpec,
    options: ComputeOptions,
    token?: CancelToken,
    onProgress?: (fraction: number, stage: string) => void,
  ): Promise<LossSession> {
    const worker = new Worker(path.resolve(workerScript), { stdout: false, stderr: false });
    const session = new LossSession(worker, spec, options);
    const sub = token?.onCancellationRequested(() => {
      session.failAll(new LossRunError('cancelled', 'cancelled'));
      session.dispose();
    });
    try {
      if (token?.isCancellationRequested) throw new LossRunError('cancelled', 'cancelled');
      const r = await session.request({ type: 'compute', id: 0, spec, options }, onProgress);
      if (r.type !== 'report') throw new LossRunError('internal', `unexpected worker reply ${r.type}`);
      session.report = r.report;
      return session;
    } catch (e) {
      session.dispose();
      throw e;
    } finally {
      sub?.dispose();
    }
  }

  get alive(): boolean {
    return !this.disposed;
  }

  async slice(corner: Corner, stack: number, image: number, cls: number, topK = 100): Promise<HeatSlice> {
    const r = await this.request({ type: 'slice', id: 0, corner, stack, image, class: cls, topK });
    if (r.type !== 'slice') throw new LossRunError('internal', `unexpected worker reply ${r.type}`);
    return r.slice;
  }

  async thumbnails(stack: number, image: number, maxSide = 32): Promise<Thumbnails> {
    const r = await this.request({ type: 'thumbnails', id: 0, stack, image, maxSide });
    if (r.type !== 'thumbnails') throw new LossRunError('internal', `unexpected worker reply ${r.type}`);
    return r.thumbnails;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.failAll(new LossRunError('cancelled', 'the computation was discarded'));
    void this.worker.terminate();
  }

  private request(msg: WorkerRequest, onProgress?: (f: number, stage: string) => void): Promise<WorkerResponse> {
    if (this.disposed) return Promise.reject(new LossRunError('cancelled', 'the computation was discarded'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...msg, id });
    });
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}
