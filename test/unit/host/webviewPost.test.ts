/** postToPanel: a post to a disposed panel is dropped (false), never the "Webview is disposed" error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { postToPanel } from '../../../src/host/shared/webviewPost';

/** A panel as VS Code's extension host has it: after dispose(), reading `webview` throws. */
function fakePanel(): { panel: vscode.WebviewPanel; sent: unknown[]; dispose(): void } {
  const sent: unknown[] = [];
  let disposed = false;
  const webview = { postMessage: (m: unknown) => Promise.resolve(disposed ? false : (sent.push(m), true)) };
  const panel = {
    get webview() {
      if (disposed) throw new Error('Webview is disposed');
      return webview;
    },
  } as unknown as vscode.WebviewPanel;
  return { panel, sent, dispose: () => (disposed = true) };
}

test('postToPanel delivers to a live panel and drops, with false, a post to a disposed one', async () => {
  const f = fakePanel();
  assert.equal(await postToPanel(f.panel, { a: 1 }), true);
  f.dispose();
  assert.throws(() => f.panel.webview, /Webview is disposed/);
  assert.equal(await postToPanel(f.panel, { a: 2 }), false);
  assert.deepEqual(f.sent, [{ a: 1 }]);
});
