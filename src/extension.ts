/**
 * Extension entry point: wires the surfaces (commands, panels, views, providers). Heavy modules
 * load on first use, never at activation.
 */
import type * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {}

export function deactivate(): void {}
