import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable } from '../shared/lifecycle';
import { isScoresFile } from '../../core/eval/scoring';
import { scanJsonl, type JsonlIndex, type JsonlScanResult, type JsonlShape } from '../../core/datasets/jsonlScan';

export type DatasetScan = JsonlScanResult & { readonly index: JsonlIndex; readonly mtimeMs: number };

/**
 * Scans of the JSONL datasets this window works with (line index, record ids, diagnostics), cached by file and
 * modification time, and the Problems-panel diagnostics that come from them: file:line and what is wrong for
 * non-JSON lines, missing fields, oversized records, non-UTF-8 bytes and duplicate ids.
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
    const p = scanJsonl(file, { shape: guessShape(file) }).then((r) => ({ ...r, mtimeMs }));
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
    if (scan.diagnostics.length) this.log.info(`${path.basename(scan.file)}: ${scan.diagnostics.length} problem(s) in ${scan.lineCount} lines`);
  }
}

/**
 * The shape a file's records are checked against, guessed from its first record that parses: pairs when it has
 * `chosen`/`rejected`, TRL's unpaired form when it has `completion` + `label`, else any object (triplets,
 * UltraFeedback-style `completions`, ...) so such files get no false "missing field" errors.
 */
export function guessShape(file: string): JsonlShape {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(256 * 1024);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    for (const line of buf.subarray(0, n).toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as Record<string, unknown>;
        if ('chosen' in v || 'rejected' in v) return 'preference';
        if ('completion' in v && 'label' in v) return 'unpaired';
        return 'any';
      } catch {
        continue; // a bad line: look at the next one
      }
    }
  } catch {
    // unreadable: the scan reports it
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return 'preference';
}

export function isDataset(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && uri.fsPath.toLowerCase().endsWith('.jsonl') && !isScoresFile(uri.fsPath) && !uri.fsPath.includes(`${path.sep}.alignment${path.sep}`);
}
