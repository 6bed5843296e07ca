/**
 * A dataset file that is one JSON array of row objects (LLaMA-Factory's `.json` files) as a {@link DatasetIndex}:
 * the same records, ids, checks and diagnostics as a JSON Lines file, with each record at the line where its
 * element starts. The array is parsed whole (`records.ts`, the reader training uses); the file is only read.
 */
import * as fs from 'node:fs';
import { readRecords } from './records';
import {
  checkedRecord,
  IdAssigner,
  type DatasetIndex,
  type JsonlDiagnostic,
  type JsonlReadResult,
  type JsonlRecordInfo,
  type JsonlScanOptions,
  type JsonlScanResult,
  type RecordReadOptions,
} from './jsonlScan';

interface Element {
  readonly line: number;
  readonly value: unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class JsonArrayIndex implements DatasetIndex {
  private ids: string[] | undefined;
  private idToIndex: Map<string, number> | undefined;
  private checks: Pick<JsonlScanOptions, 'shape' | 'rows'> = {};

  private constructor(
    readonly file: string,
    private readonly size: number,
    private readonly mtimeMs: number,
    private readonly elements: readonly Element[],
    /** Why the file as a whole cannot be read (not UTF-8, not JSON, not an array); no elements then. */
    private readonly fileProblem: JsonlDiagnostic | undefined,
  ) {}

  /** Reads and parses `file`. Rejects only when it cannot be read; bad content becomes a diagnostic of the scan. */
  static async build(file: string): Promise<JsonArrayIndex> {
    const bytes = await fs.promises.readFile(file);
    const st = await fs.promises.stat(file);
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      const problem: JsonlDiagnostic = { file, line: 1, severity: 'error', code: 'invalid-utf8', message: 'not valid UTF-8: save the file as UTF-8' };
      return new JsonArrayIndex(file, st.size, st.mtimeMs, [], problem);
    }
    const { records, errors } = readRecords(text, file);
    const [err] = errors;
    const problem: JsonlDiagnostic | undefined = err ? { file, line: err.source.line, severity: 'error', code: 'invalid-json', message: err.reason } : undefined;
    return new JsonArrayIndex(file, st.size, st.mtimeMs, records.map((r) => ({ line: r.source.line, value: r.value })), problem);
  }

  get count(): number {
    return this.elements.length;
  }

  get idsFinal(): boolean {
    return this.ids !== undefined;
  }

  lineNumber(i: number): number {
    return this.element(i).line;
  }

  idAt(i: number): string | undefined {
    this.element(i);
    const id = this.ids?.[i];
    return id === '' ? undefined : id;
  }

  indexOfId(id: string): number | undefined {
    return this.idToIndex?.get(id);
  }

  isStale(): boolean {
    try {
      const st = fs.statSync(this.file);
      return st.size !== this.size || st.mtimeMs !== this.mtimeMs;
    } catch {
      return true;
    }
  }

  readRecord(i: number, options: RecordReadOptions = {}): JsonlReadResult {
    if (options.shape === undefined && options.rows === undefined) options = { ...options, ...this.checks };
    const r = this.parse(i, options);
    if (!r.ok || this.ids === undefined) return r;
    return { ok: true, record: { ...r.record, id: this.ids[i] } };
  }

  async scan(options: JsonlScanOptions = {}): Promise<JsonlScanResult> {
    const diagnostics: JsonlDiagnostic[] = this.fileProblem ? [this.fileProblem] : [];
    const records: JsonlRecordInfo[] = [];
    const ids = new IdAssigner(this.file, this.count, (i) => this.elements[i].line);
    for (let i = 0; i < this.count; i++) {
      options.signal?.throwIfAborted();
      const r = this.parse(i, options);
      if (!r.ok) diagnostics.push(r.diagnostic);
      else records.push(ids.add(r.record, diagnostics));
    }
    this.ids = ids.ids;
    this.idToIndex = ids.idToIndex;
    this.checks = { ...(options.shape ? { shape: options.shape } : {}), ...(options.rows ? { rows: options.rows } : {}) };
    options.onProgress?.(this.size, this.size);
    diagnostics.sort((a, b) => a.line - b.line);
    return { file: this.file, lineCount: this.count, records, diagnostics };
  }

  private parse(i: number, options: RecordReadOptions): JsonlReadResult {
    const { line, value } = this.element(i);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const what = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
      return { ok: false, diagnostic: { file: this.file, line, severity: 'error', code: 'not-an-object', message: `element ${i}: expected a JSON object, got ${what}` } };
    }
    const bytes = Buffer.byteLength(JSON.stringify(value));
    return { ok: true, record: checkedRecord({ file: this.file, line, index: i, bytes }, value as Record<string, unknown>, options) };
  }

  private element(i: number): Element {
    const e = this.elements[i];
    if (!Number.isInteger(i) || e === undefined) throw new RangeError(`record index ${i} out of range [0, ${this.count}) in ${this.file}`);
    return e;
  }
}
