import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { scanDataset, type DatasetScanResult } from '../../core/datasets/datasetScan';
import { isDatasetPath } from '../shared/datasetArg';

export type DatasetScan = DatasetScanResult & { readonly mtimeMs: number };

/**
 * Scans of the datasets this window works with (JSON Lines or JSON arrays: record index, ids, diagnostics), cached
 * by file and modification time, and the Problems-panel diagnostics that come from them: file:line and what is
 * wrong for non-JSON lines, rows that the detected format's parser (the one training uses) rejects, oversized
 * records, non-UTF-8 bytes and duplicate ids.
 */
export class DatasetScans extends Disposable {
  private readonly cache = new Map<string, Promise<DatasetScan>>();
  private readonly diagnostics = this.register(vscode.languages.createDiagnosticCollection('alignment'));
  private readonly changed = this.register(new vscode.EventEmitter<string>());
  readonly onDidChange = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    super();
    const rescan = (doc: vscode.TextDocument) => {
      if (isDataset(doc.uri)) void this.get(doc.uri.fsPath, true);
    };
    this.register(vscode.workspace.onDidOpenTextDocument(rescan));
    this.register(vscode.workspace.onDidSaveTextDocument(rescan));
    this.register(vscode.workspace.onDidCloseTextDocument((doc) => {
      if (isDataset(doc.uri)) this.cache.delete(doc.uri.fsPath);
    }));
    for (const doc of vscode.workspace.textDocuments) rescan(doc);
  }

  /** The scan of `file`, reusing the cached one unless the file changed on disk (or `force`). */
  async get(file: string, force = false): Promise<DatasetScan> {
    const mtimeMs = fs.statSync(file).mtimeMs;
    const cached = this.cache.get(file);
    if (cached && !force && (await cached).mtimeMs === mtimeMs) return cached;
    const p = scanDataset(file).then((r) => ({ ...r, mtimeMs }));
    this.cache.set(file, p);
    try {
      const scan = await p;
      this.publish(scan);
      this.changed.fire(file);
      return scan;
    } catch (e) {
      this.cache.delete(file);
      this.log.error(`Could not scan ${file}: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
  }

  private publish(scan: DatasetScan): void {
    const uri = vscode.Uri.file(scan.file);
    const diags = scan.diagnostics.slice(0, 1000).map((d) => {
      const line = d.line - 1;
      const col = (d.column ?? 1) - 1;
      const range = new vscode.Range(line, col, line, col === 0 ? Number.MAX_SAFE_INTEGER : col + 1);
      const diag = new vscode.Diagnostic(range, d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      diag.source = 'Alignment';
      diag.code = d.code;
      return diag;
    });
    this.diagnostics.set(uri, diags);
    const as = scan.format ? ` (read as ${scan.format.id})` : '';
    if (scan.diagnostics.length) this.log.info(`${path.basename(scan.file)}${as}: ${scan.diagnostics.length} problem(s) in ${scan.lineCount} records`);
  }
}

/**
 * The record a cursor on 1-based `line` is in: for JSON Lines the record on that line; for a JSON array the last
 * record that starts on or before it (a pretty-printed record spans many lines).
 */
export function recordAtLine(scan: DatasetScan, line: number): DatasetScan['records'][number] | undefined {
  if (scan.container === 'jsonl') return scan.records.find((r) => r.line === line);
  let at: DatasetScan['records'][number] | undefined;
  for (const r of scan.records) {
    if (r.line > line) break;
    at = r;
  }
  return at;
}

/** True for a dataset document the editor scans and labels (see {@link isDatasetPath}). */
export function isDataset(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && isDatasetPath(uri.fsPath);
}
