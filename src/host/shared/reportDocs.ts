import * as vscode from 'vscode';

/**
 * Read-only reports (label statistics, judge agreement): Markdown held in memory under the `alignment-report`
 * scheme and shown in the Markdown preview. A virtual document cannot be edited or saved, so closing it asks
 * nothing (an untitled Markdown file asked to be saved). Showing a report again under the same name replaces it.
 */
export const REPORT_SCHEME = 'alignment-report';

const contents = new Map<string, string>();
const changed = new vscode.EventEmitter<vscode.Uri>();
let provider: vscode.Disposable | undefined;
let users = 0;

/** Registers the scheme's content provider while any feature holds it (each feature disposes its hold). */
export function holdReportDocs(): vscode.Disposable {
  if (users++ === 0) provider = vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, { onDidChange: changed.event, provideTextDocumentContent: (uri) => contents.get(uri.path) ?? '' });
  let held = true;
  return new vscode.Disposable(() => {
    if (!held) return;
    held = false;
    if (--users === 0) {
      provider?.dispose();
      provider = undefined;
    }
  });
}

/** Shows `markdown` as the read-only report `name` (e.g. `Label statistics: pairs.jsonl`) in the Markdown preview. */
export async function showReport(name: string, markdown: string): Promise<vscode.Uri> {
  const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${name.replace(/[\\/]/g, '_')}.md` });
  contents.set(uri.path, markdown);
  changed.fire(uri);
  // Opened here first: the preview then shows this (read-only, never dirty) document.
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.commands.executeCommand('markdown.showPreview', doc.uri);
  return uri;
}
