import type * as vscode from 'vscode';

/**
 * Posts a message to a panel's webview; false, with nothing sent, when the panel is disposed. A panel is disposed
 * by the user at any moment (Close All Editors, a reload) while its host object may be between awaits with a message
 * to post, and once it is disposed every read of `panel.webview` throws "Webview is disposed" (VS Code's
 * ExtHostWebviewPanel asserts it is alive; that assertion is the getter's only failure). Every post of src/host goes
 * through here, so a late message is dropped instead of surfacing as an error.
 */
export function postToPanel(panel: vscode.WebviewPanel, message: unknown): Thenable<boolean> {
  let webview: vscode.Webview;
  try {
    webview = panel.webview;
  } catch {
    return Promise.resolve(false);
  }
  // A webview disposed after this point answers false itself (ExtHostWebview.postMessage checks its own flag).
  return webview.postMessage(message);
}
