/**
 * The host side of the run worker (dist/runWorker.js): numbered requests, the batches of a scan
 * as they come, typed replies. One per timeline or comparison panel; disposing it ends the thread.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import * as settings from './settings';
import type { ComputeOptions } from './worker/protocol';
import type { RunRequest, RunResponse, ScannedBatch } from './worker/runProtocol';
import type { RunFailure } from './cornernet/timeline';

type Request = RunRequest extends infer R ? (R extends RunRequest ? Omit<R, 'id'> : never) : never;
type Reply<T extends RunResponse['type']> = Extract<RunResponse, { type: T }>;

/** A failed request, with the CLI's message and details. */
export class RunWorkerError extends Error {
  constructor(readonly failure: RunFailure) {
    super(failure.message);
    this.name = 'RunWorkerError';
  }
}

/** The loss options from the editor's settings (as "Compute CornerNet Loss" uses them). */
export function settingsComputeOptions(): ComputeOptions {
  const c = settings.convention();
  return { settingWeights: settings.lossWeights(), threads: settings.lossThreads(), limits: settings.readLimits(), ...(c ? { settingConvention: c } : {}) };
}

export class RunWorkerClient implements vscode.Disposable {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: RunResponse) => void; reject: (e: Error) => void; onBatch?: (b: ScannedBatch, index: number, count: number) => void }>();
  private disposed = false;

  constructor(extensionUri: vscode.Uri) {
    this.worker = new Worker(path.join(extensionUri.fsPath, 'dist', 'runWorker.js'), { stdout: false, stderr: false });
    this.worker.on('message', (msg: RunResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      if (msg.type === 'batch') {
        p.onBatch?.(msg.batch, msg.index, msg.count);
        return;
      }
      this.pending.delete(msg.id);
      if (msg.type === 'error') p.reject(new RunWorkerError(msg.failure));
      else p.resolve(msg);
    });
    const fail = (why: string) => {
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(new RunWorkerError({ message: why, details: [], internal: true }));
    };
    this.worker.on('error', (e) => fail(`the run worker failed: ${e.message}`));
    this.worker.on('exit', (code) => {
      if (!this.disposed) fail(`the run worker exited (code ${code})`);
      this.disposed = true;
    });
  }

  async request<T extends RunResponse['type']>(expect: T, msg: Request, onBatch?: (b: ScannedBatch, index: number, count: number) => void): Promise<Reply<T>> {
    if (this.disposed) throw new RunWorkerError({ message: 'the run worker was discarded', details: [], internal: true });
    const id = this.nextId++;
    const reply = await new Promise<RunResponse>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onBatch ? { onBatch } : {}) });
      this.worker.postMessage({ ...msg, id });
    });
    if (reply.type !== expect) throw new RunWorkerError({ message: `unexpected reply ${reply.type}`, details: [], internal: true });
    return reply as Reply<T>;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.pending.values()) p.reject(new RunWorkerError({ message: 'the run worker was discarded', details: [], internal: false }));
    this.pending.clear();
    void this.worker.terminate();
  }
}
