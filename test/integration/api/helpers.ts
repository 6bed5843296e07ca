import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import type { AlignmentApi } from '../../../src/host/extension';

export const EXTENSION_ID = 'alignment-studio.alignment-studio';

/** Activates the extension under test and returns its API. */
export async function api(): Promise<AlignmentApi> {
  const ext = vscode.extensions.getExtension<AlignmentApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

export function workspaceRoot(): vscode.Uri {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the API suite needs a workspace folder');
  return f.uri;
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function until<T>(fn: () => T | Promise<T>, ms = 15_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
