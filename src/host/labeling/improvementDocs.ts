import * as vscode from 'vscode';
import { Disposable } from '../shared/lifecycle';

/** What an improvement document edits: one candidate output of one record. */
export interface ImprovementSession {
  readonly file: string;
  readonly recordId: string;
  readonly line: number;
  readonly target: string;
  readonly original: string;
}

/**
 * Called when an improvement document is saved (Ctrl+S or Label: Save Improvement) with its text. Throwing makes
 * the save fail with that message, so nothing is lost and the person sees why.
 */
export type ImprovementCommit = (session: ImprovementSession, text: string) => void;

interface MemFile {
  readonly session: ImprovementSession;
  data: Uint8Array;
  readonly ctime: number;
  mtime: number;
}

/**
 * In-memory documents for editing a response into a better one: `alignment-improve:/<n>/<name>.md` is an
 * editable copy of the output (saving it records the improvement; the dataset file is never written), and
 * `alignment-original:/<n>/<name>.md` is the read-only original for the diff editor's left side.
 */
export class ImprovementDocs extends Disposable implements vscode.FileSystemProvider, vscode.TextDocumentContentProvider {
  static readonly scheme = 'alignment-improve';
  static readonly originalScheme = 'alignment-original';

  private readonly files = new Map<string, MemFile>();
  private readonly fileChanged = this.register(new vscode.EventEmitter<vscode.FileChangeEvent[]>());
  readonly onDidChangeFile = this.fileChanged.event;
  private next = 1;

  constructor(private readonly commit: ImprovementCommit) {
    super();
    this.register(vscode.workspace.registerFileSystemProvider(ImprovementDocs.scheme, this, { isCaseSensitive: true }));
    this.register(vscode.workspace.registerTextDocumentContentProvider(ImprovementDocs.originalScheme, this));
  }

  /** Creates the editable copy and its original; returns both URIs. */
  create(session: ImprovementSession, name: string): { edit: vscode.Uri; original: vscode.Uri } {
    const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120) || 'response';
    const p = `/${this.next++}/${safe}.md`;
    const now = Date.now();
    this.files.set(p, { session, data: Buffer.from(session.original, 'utf8'), ctime: now, mtime: now });
    return { edit: vscode.Uri.from({ scheme: ImprovementDocs.scheme, path: p }), original: vscode.Uri.from({ scheme: ImprovementDocs.originalScheme, path: p }) };
  }

  /** The session an improvement document belongs to. */
  sessionOf(uri: vscode.Uri): ImprovementSession | undefined {
    return uri.scheme === ImprovementDocs.scheme ? this.files.get(uri.path)?.session : undefined;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const f = this.files.get(uri.path);
    if (!f) throw new Error(`no original text for ${uri.toString()}`);
    return f.session.original;
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    const f = this.files.get(uri.path);
    if (f) return { type: vscode.FileType.File, ctime: f.ctime, mtime: f.mtime, size: f.data.byteLength };
    if (uri.path === '/' || [...this.files.keys()].some((k) => k.startsWith(`${uri.path}/`))) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    throw vscode.FileSystemError.FileNotFound(uri);
  }

  readDirectory(uri: vscode.Uri): [string, vscode.FileType][] {
    const prefix = uri.path.endsWith('/') ? uri.path : `${uri.path}/`;
    const out = new Map<string, vscode.FileType>();
    for (const k of this.files.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length).split('/');
      out.set(rest[0], rest.length > 1 ? vscode.FileType.Directory : vscode.FileType.File);
    }
    return [...out];
  }

  readFile(uri: vscode.Uri): Uint8Array {
    const f = this.files.get(uri.path);
    if (!f) throw vscode.FileSystemError.FileNotFound(uri);
    return f.data;
  }

  writeFile(uri: vscode.Uri, content: Uint8Array): void {
    const f = this.files.get(uri.path);
    if (!f) throw vscode.FileSystemError.NoPermissions('improvement documents are created by Label: Improve Response');
    const text = Buffer.from(content).toString('utf8');
    try {
      this.commit(f.session, text);
    } catch (e) {
      throw vscode.FileSystemError.Unavailable(`the improvement was not recorded: ${e instanceof Error ? e.message : String(e)}`);
    }
    f.data = content;
    f.mtime = Date.now();
    this.fileChanged.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    if (!this.files.delete(uri.path)) throw vscode.FileSystemError.FileNotFound(uri);
    this.fileChanged.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  rename(oldUri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(oldUri);
  }

  /** Drops a document pair once neither side is open any more (they only live in memory). */
  forget(uri: vscode.Uri): void {
    if (uri.scheme !== ImprovementDocs.scheme && uri.scheme !== ImprovementDocs.originalScheme) return;
    const stillOpen = vscode.workspace.textDocuments.some(
      (d) => d.uri.path === uri.path && d.uri.toString() !== uri.toString() && (d.uri.scheme === ImprovementDocs.scheme || d.uri.scheme === ImprovementDocs.originalScheme),
    );
    if (!stillOpen) this.files.delete(uri.path);
  }
}
