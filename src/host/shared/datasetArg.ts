import * as vscode from 'vscode';
import * as path from 'node:path';
import { isScoresFile } from '../../core/eval/scoring';
import { startsWithArray } from '../../core/datasets/datasetScan';

const RECENT_KEY = 'alignment.recentDatasets';
const RECENT_MAX = 20;
let memento: vscode.Memento | undefined;

/** Where the recently used datasets are kept (the workspace's state), set once at activation. */
export function useDatasetHistory(state: vscode.Memento): void {
  memento = state;
}

/** Dataset paths, most recently used first. */
export function recentDatasets(): string[] {
  const v = memento?.get<unknown>(RECENT_KEY);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Moves `file` to the front of the recently used datasets. */
export function rememberDataset(file: string): void {
  if (!memento) return;
  void memento.update(RECENT_KEY, [file, ...recentDatasets().filter((f) => f !== file)].slice(0, RECENT_MAX));
}

/**
 * Paths in a stable order: the recently used first (most recent first), then the others by relative path. The
 * workspace search returns files in no fixed order, so without this a picker came up different each time.
 */
export function orderDatasets(paths: readonly string[], recent: readonly string[], relative: (p: string) => string = (p) => p): string[] {
  const rank = new Map(recent.map((p, i) => [p, i]));
  return [...paths].sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) || relative(a).localeCompare(relative(b)));
}

/** True for a file the editor labels: JSON Lines, or a `.json` file holding one array of rows (LLaMA-Factory). */
export function isDatasetPath(p: string): boolean {
  const lower = p.toLowerCase();
  if (isScoresFile(p) || p.includes(`${path.sep}.alignment${path.sep}`)) return false;
  if (lower.endsWith('.jsonl')) return true;
  if (!lower.endsWith('.json')) return false;
  try {
    return startsWithArray(p);
  } catch {
    return false;
  }
}

/** The workspace's datasets in {@link orderDatasets} order. */
export async function workspaceDatasets(): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles('**/*.{jsonl,json}', '**/{node_modules,.alignment,.git,.vscode}/**', 2000);
  const byPath = new Map(found.filter((u) => isDatasetPath(u.fsPath)).map((u) => [u.fsPath, u]));
  return orderDatasets([...byPath.keys()], recentDatasets(), (p) => vscode.workspace.asRelativePath(p)).flatMap((p) => byPath.get(p) ?? []);
}

/** Lets the user pick one of the workspace's datasets (recently used first); undefined when they back out. */
export async function pickDataset(placeHolder: string): Promise<vscode.Uri | undefined> {
  const files = await workspaceDatasets();
  const pick = await vscode.window.showQuickPick(files.map((u) => ({ label: path.basename(u.fsPath), detail: vscode.workspace.asRelativePath(u), uri: u })), { placeHolder });
  if (pick) rememberDataset(pick.uri.fsPath);
  return pick?.uri;
}

/**
 * The dataset a command acts on: the command's argument (a Uri, a file path, or a tree item with `uri`); else the
 * dataset in the active editor; else one the user picks from the workspace's datasets, with `placeHolder` as the
 * prompt. Undefined when the user backs out.
 *
 * Only files on disk are taken from the editor, since labels live in a journal beside the data. Scores files
 * (`*.scores.jsonl`) hold a reward model's outputs, not records to label, so they are never offered.
 */
export async function datasetArg(arg: unknown, placeHolder: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.file(arg);
  if (arg instanceof Object && 'uri' in arg && arg.uri instanceof vscode.Uri) return arg.uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && isDatasetPath(active.fsPath)) return active;
  return pickDataset(placeHolder);
}
