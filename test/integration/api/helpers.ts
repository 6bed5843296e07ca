import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AlignmentApi } from '../../../src/host/extension';
import { API_REAL_DATA_FOLDER } from '../../support/testWorkspaces';

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

/** The workspace's copy of the real data (test/support/testWorkspaces.ts writes it where ../shared/data exists). */
export function realDataDir(): string {
  return path.join(workspaceRoot().fsPath, API_REAL_DATA_FOLDER);
}

/** Reasons of the tests declared with {@link itRealData} that skip here, by test title (index.ts reports them). */
export const skipReasons = new Map<string, string>();

/**
 * Declares a real-data test: it runs where the workspace holds the real data and is reported as skipped, with the
 * reason the runner passed in ALIGNMENT_REAL_DATA_SKIP, where it does not.
 */
export function itRealData(title: string, fn: () => Promise<void>): void {
  const present = fs.existsSync(path.join(realDataDir(), 'dpo_en_demo.trl.jsonl'));
  if (present) {
    it(title, fn);
    return;
  }
  skipReasons.set(title, process.env.ALIGNMENT_REAL_DATA_SKIP || `the workspace has no ${API_REAL_DATA_FOLDER}/ folder`);
  it.skip(title);
}
