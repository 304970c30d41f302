import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

/** The "CornerNet Inspector" log, created on first use. */
export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('CornerNet Inspector', { log: true });
  return channel;
}

export function disposeLog(): void {
  channel?.dispose();
  channel = undefined;
}
