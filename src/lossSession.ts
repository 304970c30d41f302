/**
 * One computation in its own worker: starts it, reports progress, cancels it by terminating the
 * worker, then keeps the worker (and its tensors) to answer the panels' requests until disposed.
 * The extension host's main thread only sees reports and small slices.
 */
import type { InputSpec } from './cornernet/inputs/discover';
import type { LossReport } from './cornernet/model/report';
import type { Corner } from './cornernet/model/roles';
import type { HeatSlice, QuantizedThumbnails } from './cornernet/views/slices';
import type { DecodeOptions } from './cornernet/views/decode';
import type { DecodeView } from './cornernet/views/matching';
import type { ComputeOptions } from './worker/protocol';
import { LossRunError, WorkerClient, type CancelToken } from './workerClient';

export { LossRunError, type CancelToken } from './workerClient';

/** After a report, when the next computation's worker starts (and warms up) at the latest. */
const SPARE_DELAY_MS = 8000;

export class LossSession {
  private constructor(
    private readonly client: WorkerClient,
    readonly spec: InputSpec,
    private currentReport: LossReport,
    private readonly workerScript: string,
  ) {}

  /** Starts the next computation's worker now (the work of this one is done: diagnosis, ablation). */
  prepareNext(): void {
    WorkerClient.prestart(this.workerScript);
  }

  get report(): LossReport {
    return this.currentReport;
  }

  /** The report as the user should read it (notebook runs name variables, not transfer files). */
  relabel(f: (r: LossReport) => LossReport): void {
    this.currentReport = f(this.currentReport);
  }

  /**
   * Computes in the spare worker (started and warmed ahead by `WorkerClient.prestart`) or a new one;
   * a new spare is started a moment after the report (the next computation's). Rejects with
   * LossRunError ('cancelled' when the token fires).
   */
  static async start(
    workerScript: string,
    spec: InputSpec,
    options: ComputeOptions,
    token?: CancelToken,
    onProgress?: (fraction: number, stage: string) => void,
  ): Promise<LossSession> {
    const client = WorkerClient.take(workerScript);
    const sub = token?.onCancellationRequested(() => client.dispose());
    try {
      if (token?.isCancellationRequested) throw new LossRunError('cancelled', 'cancelled');
      const r = await client.request('report', { type: 'compute', spec, options }, onProgress);
      // If the caller does not say when (prepareNext), a moment later than the panel's first
      // planes and their diagnosis: the cores are theirs first.
      setTimeout(() => WorkerClient.prestart(workerScript), SPARE_DELAY_MS).unref();
      return new LossSession(client, spec, r.report, workerScript);
    } catch (e) {
      client.dispose();
      if (token?.isCancellationRequested) throw new LossRunError('cancelled', 'cancelled');
      throw e;
    } finally {
      sub?.dispose();
    }
  }

  get alive(): boolean {
    return this.client.alive;
  }

  async slice(corner: Corner, stack: number, image: number, cls: number, topK = 100): Promise<HeatSlice> {
    return (await this.client.request('slice', { type: 'slice', corner, stack, image, class: cls, topK })).slice;
  }

  async thumbnails(stack: number, image: number, maxSide = 32): Promise<QuantizedThumbnails> {
    return (await this.client.request('thumbnails', { type: 'thumbnails', stack, image, maxSide })).thumbnails;
  }

  async decode(stack: number, image: number, options: DecodeOptions, minScore: number): Promise<{ view: DecodeView; background: Float32Array }> {
    const r = await this.client.request('decode', { type: 'decode', stack, image, options, minScore });
    return { view: r.view, background: r.background };
  }

  /** The diagnosis of the batch (findings, gradient norms), made after the report was shown. */
  async diagnose(): Promise<{ findings: NonNullable<LossReport['findings']>; gradients: NonNullable<LossReport['gradients']>; diagnoseMs: number }> {
    const r = await this.client.request('diagnosis', { type: 'diagnose' });
    return { findings: r.findings, gradients: r.gradients, diagnoseMs: r.diagnoseMs };
  }

  /** Which head limits detection: the last stack decoded with each head's target swapped in. */
  async ablation(): Promise<{ ablation: NonNullable<LossReport['ablation']>; ms: number }> {
    const r = await this.client.request('ablation', { type: 'ablation' });
    return { ablation: r.ablation, ms: r.ms };
  }

  /** The batch under the other conventions of its kind, with the gaps explained. */
  async compare(): Promise<{ conventions: NonNullable<LossReport['conventions']>; gaps: NonNullable<LossReport['gaps']> }> {
    const r = await this.client.request('compared', { type: 'compare' });
    return { conventions: r.conventions, gaps: r.gaps };
  }

  async tagMaps(stack: number, image: number): Promise<{ width: number; height: number; tl: Float32Array; br: Float32Array }> {
    const r = await this.client.request('tagMaps', { type: 'tagMaps', stack, image });
    return { width: r.width, height: r.height, tl: r.tl, br: r.br };
  }

  dispose(): void {
    this.client.dispose();
  }
}
