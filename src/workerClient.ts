/**
 * A worker thread (dist/worker.js) and the requests sent to it: each request gets an id, progress
 * on the way, and a typed reply or a LossRunError. Terminating the worker rejects what is pending.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RoleProblem } from './cornernet/model/arrays';
import type { ErrorKind, SerializedError, WorkerRequest, WorkerResponse } from './worker/protocol';

/** A failed request: bad input (with the file or role), cancellation, or a fault. */
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
type Reply<T extends WorkerResponse['type']> = Extract<WorkerResponse, { type: T }>;
/** A request without its id (the client numbers them). */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

export class WorkerClient {
  /** Workers started in this process so far (activation must start none). */
  static startedCount = 0;
  /** A worker started ahead of need, warmed up, for the next computation (one at most). */
  private static spare: WorkerClient | undefined;

  /**
   * Starts the spare worker of `script` if there is none: it loads its bundle and runs the path
   * once on a tiny batch (JIT warm-up), in the background.
   */
  static prestart(script: string): void {
    const s = WorkerClient.spare;
    if (s?.alive && s.script === path.resolve(script)) return;
    s?.dispose();
    const w = (WorkerClient.spare = new WorkerClient(script));
    // An idle spare does not keep the process alive.
    w.worker.unref();
    void w.request('warm', { type: 'warm' }).catch(() => undefined);
  }

  /** The spare worker of `script` (a new one when there is none); the caller owns it. */
  static take(script: string): WorkerClient {
    const s = WorkerClient.spare;
    WorkerClient.spare = undefined;
    if (s?.alive && s.script === path.resolve(script)) {
      s.worker.ref();
      return s;
    }
    s?.dispose();
    return new WorkerClient(script);
  }

  /** Ends the spare worker (deactivation). */
  static disposeSpare(): void {
    WorkerClient.spare?.dispose();
    WorkerClient.spare = undefined;
  }

  private readonly script: string;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;
  private readonly worker: Worker;

  constructor(script: string) {
    this.script = path.resolve(script);
    this.worker = new Worker(this.script, { stdout: false, stderr: false });
    WorkerClient.startedCount++;
    this.worker.on('message', (msg: WorkerResponse) => {
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
    this.worker.on('error', (e) => this.failAll(new LossRunError('crashed', `the worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (!this.disposed) this.failAll(new LossRunError('crashed', `the worker exited (code ${code})`));
      this.disposed = true;
    });
  }

  get alive(): boolean {
    return !this.disposed;
  }

  /** Sends a request; resolves with the reply of the expected type. */
  async request<T extends WorkerResponse['type']>(expect: T, msg: Request, onProgress?: (f: number, stage: string) => void): Promise<Reply<T>> {
    if (this.disposed) throw new LossRunError('cancelled', 'the worker was discarded');
    const id = this.nextId++;
    const reply = await new Promise<WorkerResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...msg, id });
    });
    if (reply.type !== expect) throw new LossRunError('internal', `unexpected worker reply ${reply.type}`);
    return reply as Reply<T>;
  }

  /**
   * Ends the worker. An idle worker is asked to exit by itself: `terminate()` stops the thread
   * synchronously and, with a large heap, blocks the caller for tens of milliseconds (the
   * extension host's event loop). A busy worker (a computation to cancel) is terminated at once.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const busy = this.pending.size > 0;
    this.failAll(new LossRunError('cancelled', 'the worker was discarded'));
    if (busy) {
      void this.worker.terminate();
      return;
    }
    this.worker.postMessage({ type: 'exit', id: 0 });
    const fallback = setTimeout(() => void this.worker.terminate(), 10000);
    fallback.unref();
    this.worker.once('exit', () => clearTimeout(fallback));
    this.worker.unref();
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}
