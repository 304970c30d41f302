import type * as vscode from 'vscode';

/** The least time between two reports: the workbench redraws its notification for each. */
const MIN_INTERVAL_MS = 100;

/**
 * Progress as a fraction in [0, 1] with a message, turned into the increments a progress
 * notification wants (never negative when a stage reports a smaller fraction). At most one report
 * per 100 ms (the increments add up): a computation reports ~200 times in 0.3 s, and each report
 * is a message to the workbench, which then has less time for the results panel's page.
 */
export function fractionReporter(progress: vscode.Progress<{ increment?: number; message?: string }>, now: () => number = () => Date.now()): (fraction: number, message: string) => void {
  let last = 0;
  let lastAt = -Infinity;
  return (fraction, message) => {
    const t = now();
    if (t - lastAt < MIN_INTERVAL_MS && fraction < 1) return;
    lastAt = t;
    progress.report({ increment: Math.max(0, 100 * fraction - last), message });
    last = Math.max(last, 100 * fraction);
  };
}
