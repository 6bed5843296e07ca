import * as vscode from 'vscode';
import * as path from 'node:path';
import { isScoresFile } from '../../core/eval/scoring';

/**
 * The dataset a command acts on: the command's argument (a Uri, a file path, or a tree item with `uri`); else the
 * JSONL file in the active editor; else one the user picks from the workspace's JSONL files, with `placeHolder`
 * as the prompt. Undefined when the user backs out.
 *
 * Only files on disk are taken from the editor, since labels live in a journal beside the data. Scores files
 * (`*.scores.jsonl`) hold a reward model's outputs, not records to label, so they are never offered.
 */
export async function datasetArg(arg: unknown, placeHolder: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return vscode.Uri.file(arg);
  if (arg instanceof Object && 'uri' in arg && arg.uri instanceof vscode.Uri) return arg.uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.fsPath.endsWith('.jsonl') && !isScoresFile(active.fsPath)) return active;
  const files = (await vscode.workspace.findFiles('**/*.jsonl', '**/{node_modules,.alignment,.git}/**', 500)).filter((u) => !isScoresFile(u.fsPath));
  const pick = await vscode.window.showQuickPick(files.map((u) => ({ label: path.basename(u.fsPath), detail: vscode.workspace.asRelativePath(u), uri: u })), { placeHolder });
  return pick?.uri;
}
