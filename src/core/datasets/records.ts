/**
 * Reads the records (rows) of a dataset file with their position: JSON Lines (one object per line) or a JSON
 * array of objects (LLaMA-Factory's `.json` files). Every record carries the 1-based line where it starts and,
 * for a JSON array, its element index, so a later problem with the row can be reported as `file:line`.
 *
 * A line that is not valid JSON is returned as a {@link RecordError}, never thrown: the caller counts it as
 * skipped. Only a file that is not a dataset at all (e.g. a `.json` file that is not an array) is an error
 * for the whole file.
 */

/** Where a row came from. `index` is the element index in a JSON array (absent for JSON Lines). */
export interface RowSource {
  readonly file: string;
  /** 1-based line where the row starts. */
  readonly line: number;
  /** 0-based element index, for rows of a JSON array. */
  readonly index?: number;
}

export interface RawRecord {
  readonly source: RowSource;
  readonly value: unknown;
}

export interface RecordError {
  readonly source: RowSource;
  readonly reason: string;
}

export interface RecordsResult {
  readonly container: 'jsonl' | 'json-array';
  readonly records: RawRecord[];
  readonly errors: RecordError[];
}

/** Formats a row's position as people read it: `file:line` or `file:line (element i)`. */
export function formatWhere(src: RowSource): string {
  return src.index === undefined ? `${src.file}:${src.line}` : `${src.file}:${src.line} (element ${src.index})`;
}

/**
 * Splits `text` into records. The container is a JSON array when the first non-space character is `[`, JSON
 * Lines otherwise (a `.json` file holding one object per line is read as JSON Lines too). `badLines` maps 1-based
 * line numbers to why the line cannot be read (e.g. not UTF-8): such a line is an error, never parsed; in a JSON
 * array the first one is an error for the whole file.
 */
export function readRecords(text: string, file: string, badLines: ReadonlyMap<number, string> = new Map()): RecordsResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = body.search(/\S/);
  if (first >= 0 && body[first] === '[') {
    const [line, reason] = [...badLines][0] ?? [];
    if (line !== undefined && reason !== undefined) return { container: 'json-array', records: [], errors: [{ source: { file, line }, reason }] };
    return readJsonArray(body, file);
  }
  const lines = readJsonLines(body, file, badLines);
  // A pretty-printed single JSON object is not a dataset; say so once instead of once per line.
  if (badLines.size === 0 && first >= 0 && body[first] === '{' && lines.errors.length > 0 && lines.errors[0].source.line <= lineOfOffset(body, first)) {
    let whole: unknown;
    try {
      whole = JSON.parse(body) as unknown;
    } catch {
      return lines;
    }
    if (typeof whole === 'object' && whole !== null && !Array.isArray(whole)) {
      return { container: 'jsonl', records: [], errors: [{ source: { file, line: 1 }, reason: 'the file is one JSON object; expected JSON Lines (one row object per line) or a JSON array of rows' }] };
    }
  }
  return lines;
}

function readJsonLines(text: string, file: string, badLines: ReadonlyMap<number, string>): RecordsResult {
  const records: RawRecord[] = [];
  const errors: RecordError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (raw.trim() === '') continue;
    const source: RowSource = { file, line: i + 1 };
    const bad = badLines.get(i + 1);
    if (bad !== undefined) {
      errors.push({ source, reason: bad });
      continue;
    }
    try {
      records.push({ source, value: JSON.parse(raw) as unknown });
    } catch (e) {
      errors.push({ source, reason: `not valid JSON (${e instanceof Error ? e.message : String(e)})` });
    }
  }
  return { container: 'jsonl', records, errors };
}

/**
 * A JSON array: parsed as a whole (a syntax error anywhere is one error for the whole file, with the line
 * where the parser stopped when it says so), then each top-level element is located by a small scanner
 * that tracks strings and nesting depth to find the line each element starts on.
 */
function readJsonArray(text: string, file: string): RecordsResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? lineOfOffset(text, Number(pos[1])) : 1;
    return { container: 'json-array', records: [], errors: [{ source: { file, line }, reason: `not valid JSON (${msg})` }] };
  }
  if (!Array.isArray(parsed)) {
    return { container: 'json-array', records: [], errors: [{ source: { file, line: 1 }, reason: 'expected a JSON array of rows' }] };
  }
  const starts = elementStartLines(text);
  const records: RawRecord[] = parsed.map((value: unknown, index) => ({
    source: { file, line: starts[index] ?? 1, index },
    value,
  }));
  return { container: 'json-array', records, errors: [] };
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Lines (1-based) on which each top-level element of a JSON array text starts. Assumes valid JSON. */
function elementStartLines(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    if (depth === 1 && expectElement && c !== 93 /* ] */) {
      out.push(line);
      expectElement = false;
    }
    if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (c === 93 || c === 125) depth--;
    else if (c === 44 /* , */ && depth === 1) expectElement = true;
  }
  return out;
}
