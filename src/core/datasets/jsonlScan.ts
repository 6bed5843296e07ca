/**
 * Raw JSONL scanning: a byte-level line index (so record i is read without parsing the rest of the file),
 * stable record ids, and diagnostics with file:line(:column) for every kind of bad input.
 *
 * Two passes, both lazy about parsing:
 *  1. {@link JsonlIndex.build} only looks for newline bytes (Buffer.indexOf, ~GB/s), so the first record of a
 *     100 MB file can be shown after one pass over the bytes, without a single JSON.parse.
 *  2. {@link JsonlIndex.scan} parses every line once, assigns ids, finds duplicates and reports diagnostics.
 *
 * Nothing here throws on bad lines: a bad line becomes a {@link JsonlDiagnostic}. The file is only read.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { RowFormat } from './trlRow';

/** What was wrong with a line. */
export type JsonlDiagnosticCode =
  | 'invalid-json'
  | 'not-an-object'
  | 'missing-field'
  | 'invalid-field'
  | 'record-too-large'
  | 'invalid-utf8'
  | 'duplicate-id'
  | 'invalid-id';

export interface JsonlDiagnostic {
  readonly file: string;
  /** 1-based line number in the file. */
  readonly line: number;
  /** 1-based column (in UTF-16 code units of the decoded line) when known. */
  readonly column?: number;
  readonly severity: 'error' | 'warning';
  readonly code: JsonlDiagnosticCode;
  readonly message: string;
}

/**
 * Which fields a record must have.
 * - `preference`: `chosen` and `rejected`, plus `prompt` unless both are message lists (TRL's implicit-prompt
 *   conversational form). Each is a string or a list of `{role, content}` messages.
 * - `unpaired`: `prompt`, `completion` (string or message list) and a boolean `label` (TRL's KTO format).
 * - `any`: any JSON object.
 */
export type JsonlShape = 'preference' | 'unpaired' | 'any';

export interface JsonlIndexOptions {
  /** Bytes read per chunk while indexing or scanning. Default 4 MiB. */
  readonly chunkBytes?: number;
  readonly signal?: AbortSignal;
}

export interface JsonlScanOptions extends JsonlIndexOptions {
  /** Default `preference`; ignored when `rows` is given. */
  readonly shape?: JsonlShape;
  /**
   * The dataset format's checks and labeling view (`trlRow.ts`, from the format registry): when given, a record's
   * problems are the ones training would skip it for, and {@link JsonlRecord.row} is its TRL view. A scan keeps
   * it for later {@link DatasetIndex.readRecord} calls.
   */
  readonly rows?: RowFormat;
  /** Lines longer than this are reported and never parsed. Default 1 MiB. */
  readonly maxRecordBytes?: number;
  /** The field holding a record's own id. Default `id`. */
  readonly idField?: string;
  /** Called after each chunk with the bytes done so far. */
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** A parsed record. */
export interface JsonlRecord {
  /** Position among the non-blank lines of the file (0-based). */
  readonly index: number;
  /** 1-based line number. */
  readonly line: number;
  /**
   * Stable id: the record's `id` field (string or number) when present, else `sha1:` + the SHA-1 of its
   * canonical JSON (keys sorted), so the id survives reformatting and reordering of the file. A repeated id gets
   * `#2`, `#3`, ... appended (in file order) once {@link JsonlIndex.scan} has run.
   */
  readonly id: string;
  readonly idSource: 'field' | 'hash';
  readonly value: Record<string, unknown>;
  /** The record as labels name its outputs: `value` itself, or its TRL view for a format read through `rows`. */
  readonly row: Record<string, unknown>;
  /** Byte length of the line (without its line break). */
  readonly bytes: number;
  /** Problems with this record's fields (missing or mistyped); empty when it fits the shape. */
  readonly problems: readonly JsonlDiagnostic[];
}

export type JsonlReadResult = { readonly ok: true; readonly record: JsonlRecord } | { readonly ok: false; readonly diagnostic: JsonlDiagnostic };

/** Summary of one scanned line that parsed into an object. */
export interface JsonlRecordInfo {
  readonly index: number;
  readonly line: number;
  readonly id: string;
  /** False when the record has error diagnostics (e.g. a missing field) and cannot be labeled as its shape. */
  readonly valid: boolean;
}

export interface JsonlScanResult {
  readonly file: string;
  /** Non-blank lines in the file. */
  readonly lineCount: number;
  /** Lines that parsed into JSON objects (valid or not for the shape), in file order. */
  readonly records: readonly JsonlRecordInfo[];
  /** All diagnostics in line order. */
  readonly diagnostics: readonly JsonlDiagnostic[];
}

/** What reading one record takes: the checks (shape or format), the size limit and the id field. */
export type RecordReadOptions = Pick<JsonlScanOptions, 'shape' | 'rows' | 'maxRecordBytes' | 'idField'>;

/**
 * Random access to the records of a dataset file, JSON Lines ({@link JsonlIndex}) or a JSON array
 * (`jsonArrayIndex.ts`): what the comparison queue, the judges' pairs and export read records through.
 */
export interface DatasetIndex {
  readonly file: string;
  /** Records (for JSON Lines: non-blank lines, good or bad). */
  readonly count: number;
  readonly idsFinal: boolean;
  lineNumber(i: number): number;
  idAt(i: number): string | undefined;
  indexOfId(id: string): number | undefined;
  isStale(): boolean;
  /** Record i, checked as the last scan checked it unless `options` say otherwise. */
  readRecord(i: number, options?: RecordReadOptions): JsonlReadResult;
  scan(options?: JsonlScanOptions): Promise<JsonlScanResult>;
}

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
const DEFAULT_CHUNK = 4 * 1024 * 1024;
const NL = 0x0a;
const CR = 0x0d;

/** Growable Float64 column (offsets past 4 GiB stay exact up to 2^53). */
class Column {
  private data = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = x;
  }
  get(i: number): number {
    return this.data[i];
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === CR || b === NL;
}

/**
 * Byte-offset index of the non-blank lines of a JSONL file. Blank (whitespace-only) lines are skipped silently;
 * a UTF-8 byte-order mark at the start is skipped; CRLF line ends are accepted.
 */
export class JsonlIndex implements DatasetIndex {
  private ids: string[] | undefined;
  private idToIndex: Map<string, number> | undefined;
  private checks: Pick<JsonlScanOptions, 'shape' | 'rows'> = {};

  private constructor(
    readonly file: string,
    readonly size: number,
    readonly mtimeMs: number,
    private readonly starts: Column,
    private readonly lengths: Column,
    private readonly lines: Column,
  ) {}

  /** Indexes `file` by scanning it for newline bytes only (no parsing). Rejects only if the file can't be read. */
  static async build(file: string, options: JsonlIndexOptions = {}): Promise<JsonlIndex> {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK;
    const fh = await fs.promises.open(file, 'r');
    try {
      const st = await fh.stat();
      const starts = new Column();
      const lengths = new Column();
      const lines = new Column();
      const buf = Buffer.allocUnsafe(chunkBytes);
      let pos = 0; // file offset of buf[0]
      let lineStart = 0; // file offset where the current line's content starts
      let lineNo = 1;
      let hasContent = false; // current line has a non-space byte
      let lastByte = -1; // last byte of the current line seen so far (for CRLF)
      let first = true;
      for (;;) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
        if (bytesRead === 0) break;
        let i = 0;
        if (first) {
          first = false;
          if (bytesRead >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
            i = 3;
            lineStart = 3;
          }
        }
        while (i < bytesRead) {
          const nl = buf.indexOf(NL, i);
          const segEnd = nl === -1 || nl >= bytesRead ? bytesRead : nl;
          if (!hasContent) {
            for (let k = i; k < segEnd; k++) {
              if (!isSpace(buf[k])) {
                hasContent = true;
                break;
              }
            }
          }
          if (segEnd > i) lastByte = buf[segEnd - 1];
          if (segEnd === bytesRead) break;
          // A line ends at file offset pos + nl.
          const end = pos + nl - (lastByte === CR && pos + nl > lineStart ? 1 : 0);
          if (hasContent) {
            starts.push(lineStart);
            lengths.push(end - lineStart);
            lines.push(lineNo);
          }
          lineNo++;
          lineStart = pos + nl + 1;
          hasContent = false;
          lastByte = -1;
          i = nl + 1;
        }
        pos += bytesRead;
      }
      if (hasContent) {
        const end = pos - (lastByte === CR ? 1 : 0);
        starts.push(lineStart);
        lengths.push(end - lineStart);
        lines.push(lineNo);
      }
      return new JsonlIndex(file, st.size, st.mtimeMs, starts, lengths, lines);
    } finally {
      await fh.close();
    }
  }

  /** Number of non-blank lines (records, good or bad). */
  get count(): number {
    return this.starts.length;
  }

  /** 1-based line number of the i-th non-blank line. */
  lineNumber(i: number): number {
    this.check(i);
    return this.lines.get(i);
  }

  /** Byte length of the i-th non-blank line (without its line break). */
  byteLength(i: number): number {
    this.check(i);
    return this.lengths.get(i);
  }

  /** True once {@link scan} has assigned final (deduplicated) ids. */
  get idsFinal(): boolean {
    return this.ids !== undefined;
  }

  /** Index of the record with this id, once {@link scan} has run; undefined when unknown. */
  indexOfId(id: string): number | undefined {
    return this.idToIndex?.get(id);
  }

  /** Final id of record i after {@link scan} (undefined for lines that are not JSON objects). */
  idAt(i: number): string | undefined {
    this.check(i);
    const id = this.ids?.[i];
    return id === '' ? undefined : id;
  }

  /** True when the file's size or modification time changed since indexing. */
  isStale(): boolean {
    try {
      const st = fs.statSync(this.file);
      return st.size !== this.size || st.mtimeMs !== this.mtimeMs;
    } catch {
      return true;
    }
  }

  /** The raw bytes of line i (without its line break). */
  readBytes(i: number): Buffer {
    this.check(i);
    const len = this.lengths.get(i);
    const out = Buffer.allocUnsafe(len);
    const fd = fs.openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < len) {
        const n = fs.readSync(fd, out, done, len - done, this.starts.get(i) + done);
        if (n === 0) break;
        done += n;
      }
      return done === len ? out : out.subarray(0, done);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Reads and parses record i (one small read; nothing else is parsed). Never throws for bad content: a line
   * that is too large, not UTF-8, not JSON or not an object comes back as `{ ok: false, diagnostic }`.
   */
  readRecord(i: number, options: RecordReadOptions = {}): JsonlReadResult {
    if (options.shape === undefined && options.rows === undefined) options = { ...options, ...this.checks };
    const line = this.lineNumber(i);
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const len = this.lengths.get(i);
    if (len > max) return { ok: false, diagnostic: tooLarge(this.file, line, len, max) };
    const r = parseLine(this.file, line, i, this.readBytes(i), options);
    if (!r.ok || this.ids === undefined) return r;
    return { ok: true, record: { ...r.record, id: this.ids[i] } };
  }

  /**
   * Parses every line once: assigns final ids (suffixing duplicates), and returns all diagnostics in line order.
   * Reads the file sequentially in chunks, awaiting between chunks so a caller's event loop stays responsive.
   */
  async scan(options: JsonlScanOptions = {}): Promise<JsonlScanResult> {
    const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    const chunkBytes = Math.max(options.chunkBytes ?? DEFAULT_CHUNK, 1);
    const diagnostics: JsonlDiagnostic[] = [];
    const records: JsonlRecordInfo[] = [];
    const ids = new IdAssigner(this.file, this.count, (i) => this.lines.get(i));
    const fh = await fs.promises.open(this.file, 'r');
    try {
      let win = Buffer.alloc(0);
      let winStart = 0;
      for (let i = 0; i < this.count; i++) {
        options.signal?.throwIfAborted();
        const start = this.starts.get(i);
        const len = this.lengths.get(i);
        const line = this.lines.get(i);
        if (len > max) {
          diagnostics.push(tooLarge(this.file, line, len, max));
          continue;
        }
        if (start < winStart || start + len > winStart + win.length) {
          const want = Math.max(chunkBytes, len);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, start);
          win = buf.subarray(0, bytesRead);
          winStart = start;
          options.onProgress?.(Math.min(start + bytesRead, this.size), this.size);
        }
        const bytes = win.subarray(start - winStart, Math.min(start - winStart + len, win.length));
        const r = parseLine(this.file, line, i, bytes, options);
        if (!r.ok) diagnostics.push(r.diagnostic);
        else records.push(ids.add(r.record, diagnostics));
      }
      options.onProgress?.(this.size, this.size);
    } finally {
      await fh.close();
    }
    this.ids = ids.ids;
    this.idToIndex = ids.idToIndex;
    this.checks = { ...(options.shape ? { shape: options.shape } : {}), ...(options.rows ? { rows: options.rows } : {}) };
    diagnostics.sort((a, b) => a.line - b.line);
    return { file: this.file, lineCount: this.count, records, diagnostics };
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`record index ${i} out of range [0, ${this.count}) in ${this.file}`);
  }
}

/**
 * Final record ids in file order: the first record with an id keeps it, a repeat gets `#2`, `#3`, ... and a
 * duplicate-id warning naming the first line. Shared by the JSON Lines and JSON array indexes.
 */
export class IdAssigner {
  readonly ids: string[];
  readonly idToIndex = new Map<string, number>();
  private readonly occurrences = new Map<string, number>();

  constructor(private readonly file: string, count: number, private readonly lineOf: (index: number) => number) {
    this.ids = new Array<string>(count).fill('');
  }

  /** Gives `record` its final id; pushes the record's problems (and a duplicate warning) onto `diagnostics`. */
  add(record: JsonlRecord, diagnostics: JsonlDiagnostic[]): JsonlRecordInfo {
    diagnostics.push(...record.problems);
    let id = record.id;
    const seen = this.occurrences.get(id);
    if (seen !== undefined) {
      const firstLine = this.lineOf(this.idToIndex.get(id) ?? record.index);
      let k = seen + 1;
      while (this.idToIndex.has(`${record.id}#${k}`)) k++;
      this.occurrences.set(id, k);
      id = `${record.id}#${k}`;
      diagnostics.push({
        file: this.file,
        line: record.line,
        severity: 'warning',
        code: 'duplicate-id',
        message:
          record.idSource === 'field'
            ? `${duplicateIdText(record.id, firstLine)}; labels for this record are kept under ${JSON.stringify(id)}`
            : `duplicate record: same content as line ${firstLine}; labels for this record are kept under ${JSON.stringify(id)}`,
      });
    } else {
      this.occurrences.set(id, 1);
    }
    this.ids[record.index] = id;
    this.idToIndex.set(id, record.index);
    return { index: record.index, line: record.line, id, valid: !record.problems.some((d) => d.severity === 'error') };
  }
}

/** How a repeated `id` is reported, here and by the training loader (`formats.ts`). */
export function duplicateIdText(id: string, firstLine: number): string {
  return `duplicate id ${JSON.stringify(id)} (first on line ${firstLine})`;
}

/** Indexes and scans a file in one call. */
export async function scanJsonl(file: string, options: JsonlScanOptions = {}): Promise<JsonlScanResult & { readonly index: JsonlIndex }> {
  const index = await JsonlIndex.build(file, options);
  const result = await index.scan(options);
  return { ...result, index };
}

function tooLarge(file: string, line: number, len: number, max: number): JsonlDiagnostic {
  return {
    file,
    line,
    severity: 'error',
    code: 'record-too-large',
    message: `record is ${formatBytes(len)}, over the ${formatBytes(max)} limit; it was not parsed`,
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Decodes, parses and checks one line. */
function parseLine(
  file: string,
  line: number,
  index: number,
  bytes: Uint8Array,
  options: Pick<JsonlScanOptions, 'shape' | 'rows' | 'idField'>,
): JsonlReadResult {
  const fail = (code: JsonlDiagnosticCode, message: string, column?: number): JsonlReadResult => ({
    ok: false,
    diagnostic: { file, line, ...(column !== undefined ? { column } : {}), severity: 'error', code, message },
  });
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const bad = utf8Problem(bytes) ?? { column: 1, message: 'not valid UTF-8' };
    return fail('invalid-utf8', bad.message, bad.column);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const m = /at position (\d+)/.exec(msg);
    const column = m ? Number(m[1]) + 1 : /end of JSON input/.test(msg) ? text.length + 1 : undefined;
    return fail('invalid-json', `not valid JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')}`, column);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('not-an-object', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`, 1);
  }
  return { ok: true, record: checkedRecord({ file, line, index, text, bytes: bytes.length }, value as Record<string, unknown>, options) };
}

/** Where a parsed record sits: `text` is its line (for the column of a field) when the record is one line. */
export interface RecordPlace {
  readonly file: string;
  readonly line: number;
  readonly index: number;
  readonly text?: string;
  readonly bytes: number;
}

/** A parsed JSON object as a record: its id (own field or content hash), its problems and its labeling row. */
export function checkedRecord(place: RecordPlace, obj: Record<string, unknown>, options: Pick<JsonlScanOptions, 'shape' | 'rows' | 'idField'>): JsonlRecord {
  const { file, line, index, text } = place;
  const columnOfKey = (key: string): { column?: number } => {
    const at = text?.indexOf(JSON.stringify(key)) ?? -1;
    return at >= 0 ? { column: at + 1 } : {};
  };
  const problems: JsonlDiagnostic[] = [];
  const idField = options.idField ?? 'id';
  const rawId = obj[idField];
  let id: string;
  let idSource: 'field' | 'hash';
  if ((typeof rawId === 'string' && rawId.length > 0) || (typeof rawId === 'number' && Number.isFinite(rawId))) {
    id = String(rawId);
    idSource = 'field';
  } else {
    if (rawId !== undefined) {
      problems.push({
        file,
        line,
        ...columnOfKey(idField),
        severity: 'warning',
        code: 'invalid-id',
        message: `field "${idField}" should be a non-empty string or a number; using a content hash as this record's id`,
      });
    }
    id = contentId(obj);
    idSource = 'hash';
  }
  const found = options.rows ? options.rows.problems(obj) : shapeProblems(obj, options.shape ?? 'preference');
  for (const p of found) {
    problems.push({ file, line, ...(p.key ? columnOfKey(p.key) : {}), severity: 'error', code: p.code, message: p.message });
  }
  const row = options.rows && found.length === 0 ? options.rows.view(obj) : obj;
  return { index, line, id, idSource, value: obj, row, bytes: place.bytes, problems };
}

/** Where a line's bytes stop being UTF-8: the 1-based column (UTF-16 units of the decoded text) and a message. */
export interface Utf8Problem {
  readonly column: number;
  readonly message: string;
}

/**
 * The first invalid UTF-8 sequence in a line's bytes, undefined when it is all valid. Shared by the editor's
 * diagnostics and the training loader, so both name the same byte.
 */
export function utf8Problem(bytes: Uint8Array): Utf8Problem | undefined {
  const at = firstInvalidUtf8(bytes);
  if (at >= bytes.length) return undefined;
  const column = utf8Lenient.decode(bytes.subarray(0, at)).length + 1;
  return { column, message: `not valid UTF-8: bad byte 0x${(bytes[at] as number).toString(16).padStart(2, '0')} at byte ${at + 1} of the line` };
}

/** Offset of the first byte that breaks UTF-8 (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined) return i;
      if (k === 1 ? x < lo || x > hi : x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return b.length;
}

/** JSON with object keys sorted at every level: equal values give equal text regardless of key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `sha1:` + hex SHA-1 of the record's canonical JSON. */
export function contentId(value: unknown): string {
  return `sha1:${createHash('sha1').update(canonicalJson(value)).digest('hex')}`;
}

/** A chat message as TRL's conversational formats use it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** True for a non-empty list of `{role: string, content: string}` messages. */
export function isMessageList(x: unknown): x is ChatMessage[] {
  return Array.isArray(x) && x.length > 0 && x.every((m) => typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string' && typeof (m as { content?: unknown }).content === 'string');
}

interface ShapeProblem {
  readonly code: 'missing-field' | 'invalid-field';
  readonly key?: string;
  readonly message: string;
}

/** Problems of a text field: a string, or a list of {role, content} messages (content a string). */
function textFieldProblems(obj: Record<string, unknown>, key: string): ShapeProblem[] {
  const x = obj[key];
  if (typeof x === 'string') return [];
  if (!Array.isArray(x)) return [{ code: 'invalid-field', key, message: `field "${key}": expected a string or a list of {role, content} messages, got ${x === null ? 'null' : typeof x}` }];
  if (x.length === 0) return [{ code: 'invalid-field', key, message: `field "${key}": the message list is empty` }];
  for (let i = 0; i < x.length; i++) {
    const m: unknown = x[i];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return [{ code: 'invalid-field', key, message: `field "${key}[${i}]": expected a {role, content} message` }];
    const mm = m as Record<string, unknown>;
    if (typeof mm.role !== 'string') return [{ code: 'invalid-field', key, message: `field "${key}[${i}].role": expected a string` }];
    if (typeof mm.content !== 'string') return [{ code: 'invalid-field', key, message: `field "${key}[${i}].content": expected a string` }];
  }
  return [];
}

function shapeProblems(obj: Record<string, unknown>, shape: JsonlShape): ShapeProblem[] {
  if (shape === 'any') return [];
  const required = shape === 'preference' ? ['prompt', 'chosen', 'rejected'] : ['prompt', 'completion', 'label'];
  // TRL's implicit-prompt conversational preference: chosen/rejected are full conversations, no prompt field.
  const implicitPrompt = shape === 'preference' && obj.prompt === undefined && isMessageList(obj.chosen) && isMessageList(obj.rejected);
  const missing = required.filter((k) => obj[k] === undefined && !(k === 'prompt' && implicitPrompt));
  const out: ShapeProblem[] = [];
  if (missing.length > 0) {
    const what = shape === 'preference' ? 'a preference record needs prompt, chosen and rejected (prompt may be left out when chosen and rejected are message lists)' : 'an unpaired record needs prompt, completion and label';
    out.push({ code: 'missing-field', message: `missing field${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}: ${what}` });
  }
  for (const k of required) {
    if (obj[k] === undefined) continue;
    if (k === 'label') {
      if (typeof obj.label !== 'boolean') out.push({ code: 'invalid-field', key: 'label', message: `field "label": expected true or false` });
    } else out.push(...textFieldProblems(obj, k));
  }
  return out;
}
