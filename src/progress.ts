import type * as vscode from 'vscode';

/**
 * Progress as a fraction in [0, 1] with a message, turned into the increments a progress
 * notification wants (never negative when a stage reports a smaller fraction).
 */
export function fractionReporter(progress: vscode.Progress<{ increment?: number; message?: string }>): (fraction: number, message: string) => void {
  let last = 0;
  return (fraction, message) => {
    progress.report({ increment: Math.max(0, 100 * fraction - last), message });
    last = Math.max(last, 100 * fraction);
  };
}
