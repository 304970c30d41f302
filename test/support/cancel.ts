/**
 * Cancellation tokens for the core's kernel API in Node tests (no `vscode`): one that never fires,
 * and a source the test cancels when it wants.
 */
import type { KernelCancelToken } from '../../src/notebook/kernel';

export const never: KernelCancelToken = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };

export class Cancel implements KernelCancelToken {
  isCancellationRequested = false;
  private listeners: (() => void)[] = [];
  onCancellationRequested(l: () => void) {
    this.listeners.push(l);
    return { dispose: () => undefined };
  }
  cancel() {
    this.isCancellationRequested = true;
    this.listeners.forEach((l) => l());
  }
}
