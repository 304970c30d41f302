/**
 * The HTML shell of every webview: one bundle from dist/webview, our stylesheet, and a CSP that
 * allows only that script (by nonce) and our own styles and fonts: no inline script, no eval, no
 * remote resources.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Bundles whose entry imports CSS (esbuild writes dist/webview/<bundle>.css beside the script). */
const OWN_CSS = new Set(['timeline', 'compare']);

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: 'panel' | 'viewer' | 'sidebar' | 'timeline' | 'compare', title: string): string {
  const nonce = randomBytes(18).toString('base64url');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`));
  const css = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css'));
  // Web components (vscode-elements) style themselves with constructable stylesheets, which
  // style-src does not restrict; everything else comes from our stylesheet.
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
${OWN_CSS.has(bundle) ? `<link rel="stylesheet" href="${webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.css`))}">\n` : ''}<title>${title}</title>
</head>
<body class="${bundle}">
<main id="root"><p>Loading…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}
