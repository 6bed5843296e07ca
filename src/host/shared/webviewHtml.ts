import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';

/** Where webview bundles and their styles live inside the extension. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

/** Options every panel uses: scripts on, resources only from the extension's built webview and media folders. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: webviewRoots(extensionUri) };
}

/**
 * The HTML shell of a panel: a strict Content-Security-Policy (nothing remote, scripts and styles only from
 * the extension and with this page's nonce), the bundle `dist/webview/<bundle>.js` and `media/<bundle>.css`.
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: string, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${bundle}.js`));
  const baseCss = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css'));
  const css = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', `${bundle}.css`));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${baseCss}" nonce="${nonce}">
<link rel="stylesheet" href="${css}" nonce="${nonce}">
</head>
<body>
<div id="app" data-nonce="${nonce}"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
