/** What the integration suites share: the test workspace's folder, and waiting for a condition. */
import * as vscode from 'vscode';

export const ws = (): string => vscode.workspace.workspaceFolders![0]!.uri.fsPath;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it gives a value other than undefined or false; throws naming `what` after `timeoutMs`. */
export async function eventually<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 20000, pollMs = 200): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}
