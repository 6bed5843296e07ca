/**
 * Dataset format loaders: rows of the formats people train with (TRL, Anthropic HH-RLHF, UltraFeedback,
 * LLaMA-Factory ShareGPT) -> normalized examples (`./examples.ts`).
 *
 * Every row either becomes an example or is reported in `skipped` with its `file:line`, the field and the
 * reason. Nothing is dropped silently. The format is detected from the rows' keys unless given; when no format
 * fits, {@link DatasetFormatError} lists every format tried with the keys it needs.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type {
  DatasetKind,
  Example,
  FormatId,
  Message,
  PreferenceExample,
  PromptExample,
  Role,
  SftExample,
  SkippedRow,
  UnpairedExample,
} from './examples';
import { duplicateIdText, utf8Problem } from './jsonlScan';
import { formatWhere, readRecords, type RecordError, type RowSource } from './records';
import { UserError } from '../../util/errors';

// ---------------------------------------------------------------------------------------------------------
// Format table

export interface FormatInfo {
  readonly id: FormatId;
  readonly kind: DatasetKind;
  /** What a row looks like, for error messages and the UI. */
  readonly keys: string;
  readonly description: string;
}

type Row = Record<string, unknown>;

interface FormatDef extends FormatInfo {
  /** True when the row's keys say it is this format (values are checked by `parse`). */
  matches(row: Row): boolean;
  parse(row: Row, ctx: RowContext): Example;
}

interface RowContext {
  readonly source: RowSource;
  readonly id: string;
  readonly options: LoadOptions;
}

/** A problem with one field of a row; thrown inside a parser, caught per row and reported as skipped. */
class FieldProblem extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
  }
}

const has = (row: Row, k: string): boolean => row[k] !== undefined;
const isObj = (x: unknown): x is Row => typeof x === 'object' && x !== null && !Array.isArray(x);
const conversationKey = (row: Row): 'conversations' | 'messages' | undefined =>
  Array.isArray(row.conversations) ? 'conversations' : Array.isArray(row.messages) ? 'messages' : undefined;
const looksLikeHh = (x: unknown): boolean => typeof x === 'string' && /(^|\n\n)Human:/.test(x) && /\n\nAssistant:/.test(x);

const FORMATS: readonly FormatDef[] = [
  {
    id: 'ultrafeedback',
    kind: 'preference',
    keys: 'instruction, completions[{response, fine-grained_score | overall_score | annotations}]',
    description: 'UltraFeedback: several rated completions per instruction, binarized into best vs a lower-rated one',
    matches: (r) => Array.isArray(r.completions) && (has(r, 'instruction') || has(r, 'prompt')),
    parse: parseUltraFeedback,
  },
  {
    id: 'sharegpt-preference',
    kind: 'preference',
    keys: 'conversations[{from, value}], chosen{from, value}, rejected{from, value}',
    description: "LLaMA-Factory ShareGPT preference: a conversation plus chosen and rejected assistant turns",
    matches: (r) => conversationKey(r) !== undefined && has(r, 'chosen') && has(r, 'rejected') && !has(r, 'prompt'),
    parse: parseShareGptPreference,
  },
  {
    id: 'ultrafeedback-binarized',
    kind: 'preference',
    keys: 'prompt (string), chosen[{role, content}], rejected[{role, content}] (whole conversations that begin with the prompt)',
    description: 'UltraFeedback binarized: a prompt plus chosen and rejected conversations that repeat it',
    matches: (r) => typeof r.prompt === 'string' && Array.isArray(r.chosen) && Array.isArray(r.rejected),
    parse: parseUltraFeedbackBinarized,
  },
  {
    id: 'trl-preference',
    kind: 'preference',
    keys: 'prompt, chosen, rejected (strings or message lists)',
    description: 'TRL preference with an explicit prompt (standard or conversational)',
    matches: (r) => has(r, 'prompt') && (has(r, 'chosen') || has(r, 'rejected')),
    parse: parseTrlPreference,
  },
  {
    id: 'hh-rlhf',
    kind: 'preference',
    keys: 'chosen, rejected (full "\\n\\nHuman: ... \\n\\nAssistant: ..." transcripts)',
    description: 'Anthropic HH-RLHF: two transcripts that share everything but the last Assistant turn',
    matches: (r) => !has(r, 'prompt') && looksLikeHh(r.chosen),
    parse: parseHh,
  },
  {
    id: 'trl-preference-implicit',
    kind: 'preference',
    keys: 'chosen, rejected (the prompt is their shared beginning)',
    description: 'TRL preference with an implicit prompt',
    matches: (r) => !has(r, 'prompt') && has(r, 'chosen') && has(r, 'rejected') && conversationKey(r) === undefined,
    parse: parseImplicitPreference,
  },
  {
    id: 'trl-unpaired',
    kind: 'unpaired',
    keys: 'prompt, completion, label (boolean)',
    description: 'TRL unpaired preference (KTO): a completion labeled desirable or undesirable',
    matches: (r) => has(r, 'prompt') && has(r, 'completion') && has(r, 'label'),
    parse: parseTrlUnpaired,
  },
  {
    id: 'sharegpt-kto',
    kind: 'unpaired',
    keys: 'messages[{role, content}] | conversations[{from, value}], label (boolean)',
    description: 'LLaMA-Factory ShareGPT KTO: a conversation whose last assistant turn is labeled',
    matches: (r) => conversationKey(r) !== undefined && has(r, 'label'),
    parse: parseShareGptKto,
  },
  {
    id: 'trl-prompt-completion',
    kind: 'sft',
    keys: 'prompt, completion',
    description: 'TRL prompt-completion (supervised fine-tuning)',
    matches: (r) => has(r, 'prompt') && has(r, 'completion') && !has(r, 'label'),
    parse: parsePromptCompletion,
  },
  {
    id: 'sharegpt-sft',
    kind: 'sft',
    keys: 'conversations[{from, value}]',
    description: 'LLaMA-Factory ShareGPT conversation (supervised fine-tuning)',
    matches: (r) => Array.isArray(r.conversations) && !has(r, 'label') && !has(r, 'chosen'),
    parse: (r, ctx) => parseMessagesSft(r, ctx, 'conversations', 'sharegpt-sft'),
  },
  {
    id: 'trl-messages',
    kind: 'sft',
    keys: 'messages[{role, content}]',
    description: 'TRL conversational language modeling (supervised fine-tuning on whole conversations)',
    matches: (r) => Array.isArray(r.messages) && !has(r, 'label') && !has(r, 'chosen'),
    parse: (r, ctx) => parseMessagesSft(r, ctx, 'messages', 'trl-messages'),
  },
  {
    id: 'trl-prompt-only',
    kind: 'prompt',
    keys: 'prompt',
    description: 'TRL prompt-only (online methods generate the completions)',
    matches: (r) => has(r, 'prompt') && !has(r, 'completion') && !has(r, 'chosen') && !has(r, 'rejected'),
    parse: parsePromptOnly,
  },
];

/** Every format the loader knows, in detection order. */
export const DATASET_FORMATS: readonly FormatInfo[] = FORMATS.map(({ id, kind, keys, description }) => ({ id, kind, keys, description }));

// ---------------------------------------------------------------------------------------------------------
// Public API

export interface LoadOptions {
  /** Force a format instead of detecting it. */
  readonly format?: FormatId;
  /** UltraFeedback binarization (see {@link parseUltraFeedback}). */
  readonly ultrafeedback?: { readonly rejected?: 'random-lower' | 'lowest'; readonly seed?: number };
}

export interface LoadCounts {
  /** Rows in the file (including those that are not valid JSON). */
  readonly rows: number;
  readonly loaded: number;
  readonly skipped: number;
  /** Loaded conversational examples whose prompt has a system message. */
  readonly withSystemPrompt: number;
  /** Loaded conversational examples whose prompt (or conversation) has more than one user turn. */
  readonly multiTurn: number;
}

export interface LoadResult<E extends Example = Example> {
  readonly format: FormatId;
  readonly kind: DatasetKind;
  readonly container: 'jsonl' | 'json-array';
  readonly examples: E[];
  readonly skipped: SkippedRow[];
  /** Loaded rows whose `id` an earlier loaded row already has (training and eval warn; the editor flags them too). */
  readonly duplicates: DuplicateId[];
  readonly counts: LoadCounts;
}

/** A row whose `id` field repeats an earlier row's. */
export interface DuplicateId {
  readonly id: string;
  readonly source: RowSource;
  /** The earlier row with the same id. */
  readonly first: RowSource;
  /** `file:line: duplicate id "x" (first on line 3)`, worded as the editor's diagnostic. */
  readonly message: string;
}

/** Thrown when no known format fits a file (or it holds no rows); `tried` lists what was tried. */
export class DatasetFormatError extends UserError {
  constructor(
    readonly file: string,
    message: string,
    readonly tried: readonly FormatInfo[],
  ) {
    super(message);
    this.name = 'DatasetFormatError';
  }
}

/**
 * Reads and loads a dataset file (`.jsonl` or a `.json` array). A path that is missing or a folder is a
 * {@link DatasetFormatError} naming it; a line that is not UTF-8 is a skipped row with its file:line.
 */
export async function loadDatasetFile(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const { text, badLines } = decodeDataset(await readDatasetBytes(path));
  return loadDatasetText(text, path, options, badLines);
}

async function readDatasetBytes(path: string): Promise<Buffer> {
  const fail = (why: string): DatasetFormatError => new DatasetFormatError(path, why, DATASET_FORMATS);
  try {
    if ((await stat(path)).isDirectory()) throw fail(`${path} is a folder; pass a .jsonl or .json file`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof DatasetFormatError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw fail(err.code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${err.message}`);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes the file as UTF-8 and finds each line that is not UTF-8 (a Latin-1 or Windows-1252 file): decoding it
 * leniently would put U+FFFD into the training text, so such lines are reported instead of loaded.
 */
function decodeDataset(bytes: Buffer): { text: string; badLines: Map<number, string> } {
  const badLines = new Map<number, string>();
  try {
    return { text: strictUtf8.decode(bytes), badLines };
  } catch {
    // Some line is not UTF-8: find every one below.
  }
  for (let start = 0, line = 1; start <= bytes.length; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    const bad = utf8Problem(bytes.subarray(start, end));
    if (bad) badLines.set(line, `${bad.message} (column ${bad.column}); the file may be Latin-1 or Windows-1252: save it as UTF-8`);
    start = end + 1;
  }
  return { text: new TextDecoder('utf-8').decode(bytes), badLines };
}

/**
 * Loads dataset text. `file` names the source in every report. Throws {@link DatasetFormatError} only when the
 * file as a whole is unusable (no rows, not JSON, or no format fits); bad rows are returned in `skipped`.
 */
export function loadDatasetText(text: string, file: string, options: LoadOptions = {}, badLines?: ReadonlyMap<number, string>): LoadResult {
  const { container, records, errors } = readRecords(text, file, badLines);
  const skipped: SkippedRow[] = errors.map((e) => ({ where: formatWhere(e.source), source: e.source, field: '', reason: e.reason }));
  const rows = records.length + errors.length;
  if (records.length === 0) {
    throw new DatasetFormatError(file, cannotLoad(file, errors), DATASET_FORMATS);
  }
  if (!records.some((r) => isObj(r.value))) throw new DatasetFormatError(file, noObjectRows(file, records), DATASET_FORMATS);
  const def = options.format ? FORMATS.find((f) => f.id === options.format) : detect(records.map((r) => r.value), file);
  if (!def) throw new DatasetFormatError(file, `Unknown dataset format "${options.format}". Known: ${FORMATS.map((f) => f.id).join(', ')}.`, DATASET_FORMATS);

  const examples: Example[] = [];
  const stem = basename(file);
  for (const rec of records) {
    const where = formatWhere(rec.source);
    if (!isObj(rec.value)) {
      skipped.push({ where, source: rec.source, field: '', reason: 'expected a JSON object' });
      continue;
    }
    const row = rec.value;
    let id = `${stem}:${rec.source.line}`;
    if (row.id !== undefined) {
      if ((typeof row.id === 'string' && row.id.trim() !== '') || typeof row.id === 'number') id = String(row.id);
      else {
        skipped.push({ where, source: rec.source, field: 'id', reason: 'expected a non-empty string or a number' });
        continue;
      }
    }
    try {
      const ex = def.parse(row, { source: rec.source, id, options });
      examples.push(withMeta(ex, row));
    } catch (e) {
      if (!(e instanceof FieldProblem)) throw e;
      skipped.push({ where, source: rec.source, field: e.field, reason: e.reason });
    }
  }
  skipped.sort((a, b) => a.source.line - b.source.line);
  return {
    format: def.id,
    kind: def.kind,
    container,
    examples,
    skipped,
    duplicates: duplicateIds(examples),
    counts: {
      rows,
      loaded: examples.length,
      skipped: skipped.length,
      withSystemPrompt: examples.filter((e) => promptMessages(e).some((m) => m.role === 'system')).length,
      multiTurn: examples.filter((e) => promptMessages(e).filter((m) => m.role === 'user').length > 1).length,
    },
  };
}

/** Why a file without one readable row cannot load: each bad row (the first 20) with its file:line. */
function cannotLoad(file: string, errors: readonly RecordError[]): string {
  const [first] = errors;
  if (!first) return `Cannot load ${file}: it holds no rows.`;
  if (errors.length === 1) return `Cannot load ${file}: ${first.reason} at ${formatWhere(first.source)}.`;
  const listed = errors.slice(0, 20).map((e) => `\n  ${formatWhere(e.source)}: ${e.reason}`).join('');
  return `Cannot load ${file}: none of its ${errors.length} rows can be read:${listed}${errors.length > 20 ? `\n  ... and ${errors.length - 20} more` : ''}`;
}

/** Why a file whose rows are all JSON but none an object cannot load: the first rows with what they are. */
function noObjectRows(file: string, records: readonly { source: RowSource; value: unknown }[]): string {
  const what = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);
  const listed = records.slice(0, 20).map((r) => `\n  ${formatWhere(r.source)}: ${what(r.value)}`).join('');
  return `Cannot load ${file}: every row must be a JSON object ({"prompt": ..., ...}), and none is:${listed}${records.length > 20 ? `\n  ... and ${records.length - 20} more` : ''}`;
}

/** Loaded examples whose id an earlier one has, in file order. Ids made from the line (no `id` field) never repeat. */
function duplicateIds(examples: readonly Example[]): DuplicateId[] {
  const first = new Map<string, RowSource>();
  const out: DuplicateId[] = [];
  for (const e of examples) {
    const seen = first.get(e.id);
    if (!seen) first.set(e.id, e.source);
    else out.push({ id: e.id, source: e.source, first: seen, message: `${formatWhere(e.source)}: ${duplicateIdText(e.id, seen.line)}` });
  }
  return out;
}

/**
 * Detects the format of a file's rows: each of the first 50 object rows votes for the first format (in
 * table order) that it matches; the format with most votes wins. Throws when none matches any row.
 */
export function detectFormat(rows: readonly unknown[], file = '<data>'): FormatInfo {
  const def = detect(rows, file);
  return { id: def.id, kind: def.kind, keys: def.keys, description: def.description };
}

/** The format of a file's rows as {@link detectFormat} finds it, or undefined where no format fits (never throws). */
export function detectRowFormat(rows: readonly unknown[]): FormatInfo | undefined {
  try {
    return detectFormat(rows);
  } catch (e) {
    if (e instanceof DatasetFormatError) return undefined;
    throw e;
  }
}

/** One row read as a format: the example, or the field that keeps it from being one and why. */
export type RowParse = { readonly ok: true; readonly example: Example } | { readonly ok: false; readonly field: string; readonly reason: string };

/**
 * Reads one row as `format`, exactly as {@link loadDatasetText} does for training (the same parser, the same
 * checks, metadata and id rule), so the editor's diagnostics and labeling see what training will see.
 */
export function parseRow(row: unknown, format: FormatId, source: RowSource, options: LoadOptions = {}): RowParse {
  const def = FORMATS.find((f) => f.id === format);
  if (!def) throw new RangeError(`parseRow: unknown format ${format}`);
  if (!isObj(row)) return { ok: false, field: '', reason: 'expected a JSON object' };
  const id = row.id === undefined ? `${basename(source.file)}:${source.line}` : String(row.id as string | number);
  try {
    return { ok: true, example: withMeta(def.parse(row, { source, id, options }), row) };
  } catch (e) {
    if (!(e instanceof FieldProblem)) throw e;
    return { ok: false, field: e.field, reason: e.reason };
  }
}

function detect(rows: readonly unknown[], file: string): FormatDef {
  const votes = new Map<FormatDef, number>();
  let firstKeys: string[] | undefined;
  let seen = 0;
  for (const r of rows) {
    if (!isObj(r)) continue;
    firstKeys ??= Object.keys(r);
    const f = FORMATS.find((d) => d.matches(r));
    if (f) votes.set(f, (votes.get(f) ?? 0) + 1);
    if (++seen >= 50) break;
  }
  let best: FormatDef | undefined;
  for (const f of FORMATS) if ((votes.get(f) ?? 0) > (best ? votes.get(best) ?? 0 : 0)) best = f;
  if (best) return best;
  const tried = FORMATS.map((f) => `  - ${f.id}: ${f.keys}`).join('\n');
  const keys = firstKeys ? `its rows have the keys {${firstKeys.join(', ')}}` : 'it has no JSON object rows';
  throw new DatasetFormatError(file, `Cannot detect the dataset format of ${file}: ${keys}. Tried:\n${tried}`, DATASET_FORMATS);
}

/** The messages of an example's prompt (or whole conversation), [] for text examples. */
export function promptMessages(e: Example): readonly Message[] {
  if (e.style === 'conversational') return e.prompt;
  if (e.style === 'messages') return e.messages;
  return [];
}

/** Copies optional metadata the row carries: section (`section` / `subset`), tags, margin. */
function withMeta(ex: Example, row: Row): Example {
  const section = typeof row.section === 'string' ? row.section : typeof row.subset === 'string' ? row.subset : undefined;
  let tags: string[] | undefined;
  if (row.tags !== undefined) {
    if (!Array.isArray(row.tags) || !row.tags.every((t) => typeof t === 'string')) throw new FieldProblem('tags', 'expected an array of strings');
    tags = row.tags as string[];
  }
  let out: Example = ex;
  if (section !== undefined) out = { ...out, section };
  if (tags !== undefined) out = { ...out, tags };
  if (out.kind === 'preference' && row.margin !== undefined) {
    if (typeof row.margin !== 'number' || !Number.isFinite(row.margin)) throw new FieldProblem('margin', 'expected a finite number');
    out = { ...out, margin: row.margin };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Field readers (each throws a FieldProblem naming the field)

const ROLE_NAMES: Record<string, Role> = {
  system: 'system',
  user: 'user',
  human: 'user',
  assistant: 'assistant',
  gpt: 'assistant',
  model: 'assistant',
  function_call: 'assistant',
  tool: 'tool',
  observation: 'tool',
  function: 'tool',
};

function text(row: Row, field: string, value: unknown = row[field]): string {
  if (value === undefined || value === null) throw new FieldProblem(field, 'missing');
  if (typeof value !== 'string') throw new FieldProblem(field, `expected a string, got ${describe(value)}`);
  if (value.trim() === '') throw new FieldProblem(field, 'empty');
  return value;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : typeof x;
}

/** One message: `{role, content}` (TRL) or `{from, value}` (ShareGPT). Content may be TRL's list of text parts. */
function message(value: unknown, field: string): Message {
  if (!isObj(value)) throw new FieldProblem(field, `expected a message object, got ${describe(value)}`);
  const roleKey = value.role !== undefined ? 'role' : 'from';
  const contentKey = value.role !== undefined || value.content !== undefined ? 'content' : 'value';
  const roleName = value[roleKey];
  if (typeof roleName !== 'string') throw new FieldProblem(`${field}.${roleKey}`, roleName === undefined ? 'missing' : 'expected a string');
  const role = ROLE_NAMES[roleName.toLowerCase()];
  if (!role) throw new FieldProblem(`${field}.${roleKey}`, `unknown role "${roleName}" (known: ${Object.keys(ROLE_NAMES).join(', ')})`);
  let content = value[contentKey];
  if (Array.isArray(content)) {
    // TRL / OpenAI content parts: only text parts can be trained on here.
    const parts = content.map((p, i) => {
      if (isObj(p) && p.type === 'text' && typeof p.text === 'string') return p.text;
      throw new FieldProblem(`${field}.${contentKey}[${i}]`, 'only text content parts ({type: "text", text}) are supported');
    });
    content = parts.join('');
  }
  return { role, content: text(value, `${field}.${contentKey}`, content) };
}

function messages(row: Row, field: string, value: unknown = row[field]): Message[] {
  if (value === undefined || value === null) throw new FieldProblem(field, 'missing');
  if (!Array.isArray(value)) throw new FieldProblem(field, `expected a list of messages, got ${describe(value)}`);
  if (value.length === 0) throw new FieldProblem(field, 'empty');
  return value.map((m, i) => message(m, `${field}[${i}]`));
}

/** A top-level `system` string (LLaMA-Factory) becomes the first message. */
function withSystem(row: Row, msgs: Message[]): Message[] {
  if (row.system === undefined) return msgs;
  const sys = text(row, 'system');
  if (msgs.some((m) => m.role === 'system')) throw new FieldProblem('system', 'given both as a field and as a system message');
  return [{ role: 'system', content: sys }, ...msgs];
}

/** A conversational prompt must end with the turn the completion answers (user or tool). */
function checkPrompt(prompt: readonly Message[], field: string): void {
  if (prompt.length === 0) throw new FieldProblem(field, 'no prompt turns');
  if (prompt.every((m) => m.role === 'system')) throw new FieldProblem(field, 'has only a system message, no user turn');
  const last = prompt[prompt.length - 1];
  if (last.role === 'assistant' || last.role === 'system')
    throw new FieldProblem(`${field}[${prompt.length - 1}]`, `the prompt must end with a user (or tool) turn, not ${last.role}`);
}

/** ShareGPT turn order (as LLaMA-Factory checks it): optional system, then user/tool and assistant alternating. */
function checkAlternation(msgs: readonly Message[], field: string, roleKey: string): void {
  let i = msgs[0]?.role === 'system' ? 1 : 0;
  for (let turn = 0; i < msgs.length; i++, turn++) {
    const want = turn % 2 === 0 ? 'user' : 'assistant';
    const ok = want === 'user' ? msgs[i].role === 'user' || msgs[i].role === 'tool' : msgs[i].role === 'assistant';
    if (!ok) throw new FieldProblem(`${field}[${i}].${roleKey}`, `expected a ${want} turn here (turns must alternate), got ${msgs[i].role}`);
  }
}

function checkCompletion(c: readonly Message[], field: string): void {
  if (c[0].role !== 'assistant') throw new FieldProblem(`${field}[0]`, `a completion must start with an assistant turn, got ${c[0].role}`);
}

function label(row: Row): boolean {
  if (row.label === undefined || row.label === null) throw new FieldProblem('label', 'missing');
  if (typeof row.label !== 'boolean') throw new FieldProblem('label', `expected true or false, got ${JSON.stringify(row.label)}`);
  return row.label;
}

function sameMessages(a: readonly Message[], b: readonly Message[]): boolean {
  return a.length === b.length && a.every((m, i) => m.role === b[i].role && m.content === b[i].content);
}

function checkDistinct(chosen: readonly Message[] | string, rejected: readonly Message[] | string): void {
  const same = typeof chosen === 'string' ? chosen === rejected : typeof rejected !== 'string' && sameMessages(chosen, rejected);
  if (same) throw new FieldProblem('rejected', 'identical to chosen (the pair carries no preference)');
}

// ---------------------------------------------------------------------------------------------------------
// Parsers

function parseTrlPreference(row: Row, ctx: RowContext): PreferenceExample {
  const base = { kind: 'preference' as const, id: ctx.id, source: ctx.source, format: 'trl-preference' as const };
  if (typeof row.prompt === 'string' || row.prompt === undefined || row.prompt === null) {
    const prompt = text(row, 'prompt');
    const chosen = text(row, 'chosen');
    const rejected = text(row, 'rejected');
    checkDistinct(chosen, rejected);
    return { ...base, style: 'text', prompt, chosen, rejected, ...scores(row) };
  }
  const prompt = messages(row, 'prompt');
  checkPrompt(prompt, 'prompt');
  const chosen = messages(row, 'chosen');
  const rejected = messages(row, 'rejected');
  checkCompletion(chosen, 'chosen');
  checkCompletion(rejected, 'rejected');
  checkDistinct(chosen, rejected);
  return { ...base, style: 'conversational', prompt, chosen, rejected, ...scores(row) };
}

/**
 * `score_chosen` / `score_rejected` (UltraFeedback-binarized and similar) are kept when both are numbers. A score
 * that is present but not a finite number (e.g. the string "4.5") makes the row bad, reported with its file:line
 * and field: it would otherwise turn into a pair without ratings, named only by its id.
 */
function scores(row: Row): { scores?: { chosen: number; rejected: number } } {
  for (const k of ['score_chosen', 'score_rejected']) {
    const v = row[k];
    if (v !== undefined && v !== null && !(typeof v === 'number' && Number.isFinite(v))) throw new FieldProblem(k, `expected a number, got ${JSON.stringify(v)}`);
  }
  const c = row.score_chosen;
  const r = row.score_rejected;
  return typeof c === 'number' && typeof r === 'number' ? { scores: { chosen: c, rejected: r } } : {};
}

function parseShareGptPreference(row: Row, ctx: RowContext): PreferenceExample {
  const key = conversationKey(row) ?? 'conversations';
  const conv = withSystem(row, messages(row, key));
  const roleKey = key === 'conversations' ? 'from' : 'role';
  checkAlternation(conv, key, roleKey);
  checkPrompt(conv, key);
  const chosen = [message(row.chosen ?? missing('chosen'), 'chosen')];
  const rejected = [message(row.rejected ?? missing('rejected'), 'rejected')];
  checkCompletion(chosen, 'chosen');
  checkCompletion(rejected, 'rejected');
  checkDistinct(chosen, rejected);
  return { kind: 'preference', id: ctx.id, source: ctx.source, format: 'sharegpt-preference', style: 'conversational', prompt: conv, chosen, rejected };
}

/**
 * UltraFeedback binarized (HuggingFaceH4/ultrafeedback_binarized): `prompt` is a string and `chosen` / `rejected`
 * are whole conversations that repeat it. The turns they share (ending with the user turn) are the prompt; what
 * follows in each is the completion. `score_chosen` / `score_rejected` are kept.
 */
function parseUltraFeedbackBinarized(row: Row, ctx: RowContext): PreferenceExample {
  text(row, 'prompt');
  const chosen = messages(row, 'chosen');
  const rejected = messages(row, 'rejected');
  let n = 0;
  while (n < chosen.length - 1 && n < rejected.length - 1 && chosen[n].role === rejected[n].role && chosen[n].content === rejected[n].content) n++;
  while (n > 0 && chosen[n - 1].role !== 'user' && chosen[n - 1].role !== 'tool') n--;
  const prompt = chosen.slice(0, n);
  checkPrompt(prompt, 'chosen');
  const c = chosen.slice(n);
  const r = rejected.slice(n);
  checkCompletion(c, `chosen[${n}:]`);
  checkCompletion(r, `rejected[${n}:]`);
  checkDistinct(c, r);
  return { kind: 'preference', id: ctx.id, source: ctx.source, format: 'ultrafeedback-binarized', style: 'conversational', prompt, chosen: c, rejected: r, ...scores(row) };
}

function missing(field: string): never {
  throw new FieldProblem(field, 'missing');
}

/**
 * HH-RLHF: `chosen` and `rejected` are whole transcripts "\n\nHuman: ...\n\nAssistant: ...". They share every
 * turn but the last Assistant one; the shared turns become the prompt (Human -> user, Assistant -> assistant)
 * and the last Assistant turns become the completions. Turn texts are trimmed of surrounding white space.
 */
function parseHh(row: Row, ctx: RowContext): PreferenceExample {
  const c = hhTurns(text(row, 'chosen'), 'chosen');
  const r = hhTurns(text(row, 'rejected'), 'rejected');
  const prompt = c.slice(0, -1);
  checkPrompt(prompt, 'chosen');
  if (!sameMessages(prompt, r.slice(0, -1))) throw new FieldProblem('rejected', 'the transcripts differ before their final Assistant turn');
  const chosen = [c[c.length - 1]];
  const rejected = [r[r.length - 1]];
  checkDistinct(chosen, rejected);
  return { kind: 'preference', id: ctx.id, source: ctx.source, format: 'hh-rlhf', style: 'conversational', prompt, chosen, rejected };
}

function hhTurns(transcript: string, field: string): Message[] {
  const re = /(?:^|\n\n)(Human|Assistant):/g;
  const marks: { role: Role; start: number; end: number }[] = [];
  for (let m = re.exec(transcript); m; m = re.exec(transcript)) {
    marks.push({ role: m[1] === 'Human' ? 'user' : 'assistant', start: m.index, end: m.index + m[0].length });
  }
  if (marks.length === 0) throw new FieldProblem(field, 'no "Human:" / "Assistant:" turns');
  if (transcript.slice(0, marks[0].start).trim() !== '') throw new FieldProblem(field, 'text before the first "Human:" turn');
  const turns = marks.map((m, i) => ({ role: m.role, content: transcript.slice(m.end, i + 1 < marks.length ? marks[i + 1].start : undefined).trim() }));
  const last = turns[turns.length - 1];
  if (last.role !== 'assistant') throw new FieldProblem(field, 'the transcript must end with an Assistant turn');
  turns.forEach((t, i) => {
    if (t.content === '') throw new FieldProblem(field, `turn ${i + 1} (${t.role === 'user' ? 'Human' : 'Assistant'}) is empty`);
  });
  return turns;
}

/**
 * TRL implicit prompt: the prompt is the shared beginning of `chosen` and `rejected`. Message lists: the
 * longest common prefix of messages. Strings: the longest common prefix, moved back before a space that ends
 * it so the completions keep their leading space (TRL's `extract_prompt` does the same).
 */
function parseImplicitPreference(row: Row, ctx: RowContext): PreferenceExample {
  const base = { kind: 'preference' as const, id: ctx.id, source: ctx.source, format: 'trl-preference-implicit' as const };
  if (typeof row.chosen === 'string' || typeof row.rejected === 'string') {
    const chosen = text(row, 'chosen');
    const rejected = text(row, 'rejected');
    checkDistinct(chosen, rejected);
    let n = 0;
    while (n < chosen.length && n < rejected.length && chosen[n] === rejected[n]) n++;
    if (n > 0 && chosen[n - 1] === ' ') n--;
    const c = chosen.slice(n);
    const r = rejected.slice(n);
    if (c.trim() === '') throw new FieldProblem('chosen', 'nothing left after the shared prompt');
    if (r.trim() === '') throw new FieldProblem('rejected', 'nothing left after the shared prompt');
    return { ...base, style: 'text', prompt: chosen.slice(0, n), chosen: c, rejected: r };
  }
  const chosen = messages(row, 'chosen');
  const rejected = messages(row, 'rejected');
  checkDistinct(chosen, rejected);
  let n = 0;
  while (n < chosen.length && n < rejected.length && chosen[n].role === rejected[n].role && chosen[n].content === rejected[n].content) n++;
  const prompt = chosen.slice(0, n);
  checkPrompt(prompt, 'chosen');
  const c = chosen.slice(n);
  const r = rejected.slice(n);
  if (c.length === 0) throw new FieldProblem('chosen', 'nothing left after the shared prompt');
  if (r.length === 0) throw new FieldProblem('rejected', 'nothing left after the shared prompt');
  checkCompletion(c, `chosen[${n}:]`);
  checkCompletion(r, `rejected[${n}:]`);
  return { ...base, style: 'conversational', prompt, chosen: c, rejected: r };
}

/**
 * UltraFeedback binarization. Each completion's score is, in order of preference: `fine-grained_score` (the
 * mean of its four aspect ratings), else the mean of the numeric `annotations.<aspect>.Rating` values, else
 * `overall_score`, else `score`. Chosen = the highest score (the first one on a tie). Rejected, by default
 * (`random-lower`, the rule of HuggingFaceH4/ultrafeedback_binarized): one of the completions scored strictly
 * lower, picked by a seeded hash of the row id, so the choice is random-looking but the same on every load;
 * `lowest`: the lowest-scored (first on a tie). A row whose completions all tie is skipped and reported.
 */
function parseUltraFeedback(row: Row, ctx: RowContext): PreferenceExample {
  const instructionKey = has(row, 'instruction') ? 'instruction' : 'prompt';
  const instruction = text(row, instructionKey);
  const list = row.completions;
  if (!Array.isArray(list)) throw new FieldProblem('completions', 'expected an array');
  if (list.length < 2) throw new FieldProblem('completions', `need at least 2 completions, got ${list.length}`);
  const scored = list.map((c, i) => {
    const f = `completions[${i}]`;
    if (!isObj(c)) throw new FieldProblem(f, 'expected an object');
    const response = text(c, `${f}.response`, c.response);
    return { response, score: ultraScore(c, f) };
  });
  let best = 0;
  for (let i = 1; i < scored.length; i++) if (scored[i].score > scored[best].score) best = i;
  const lower = scored.map((_, i) => i).filter((i) => scored[i].score < scored[best].score);
  if (lower.length === 0) throw new FieldProblem('completions', 'all completions have the same score (no preference)');
  const rule = ctx.options.ultrafeedback?.rejected ?? 'random-lower';
  let rej: number;
  if (rule === 'lowest') {
    rej = lower[0];
    for (const i of lower) if (scored[i].score < scored[rej].score) rej = i;
  } else {
    rej = lower[hashString(`${ctx.options.ultrafeedback?.seed ?? 0}\u0000${ctx.id}`) % lower.length];
  }
  return {
    kind: 'preference',
    id: ctx.id,
    source: ctx.source,
    format: 'ultrafeedback',
    style: 'conversational',
    prompt: [{ role: 'user', content: instruction }],
    chosen: [{ role: 'assistant', content: scored[best].response }],
    rejected: [{ role: 'assistant', content: scored[rej].response }],
    scores: { chosen: scored[best].score, rejected: scored[rej].score },
  };
}

function ultraScore(c: Row, field: string): number {
  const fg = c['fine-grained_score'];
  if (typeof fg === 'number' && Number.isFinite(fg)) return fg;
  if (isObj(c.annotations)) {
    const ratings: number[] = [];
    for (const a of Object.values(c.annotations)) {
      const r = isObj(a) ? a.Rating : undefined;
      const x = typeof r === 'number' ? r : typeof r === 'string' ? Number(r) : NaN;
      if (Number.isFinite(x)) ratings.push(x);
    }
    if (ratings.length) return ratings.reduce((s, x) => s + x, 0) / ratings.length;
  }
  for (const k of ['overall_score', 'score']) {
    const x = c[k];
    if (typeof x === 'number' && Number.isFinite(x)) return x;
  }
  throw new FieldProblem(field, 'no score (fine-grained_score, annotations.*.Rating, overall_score or score)');
}

/** FNV-1a, 32 bit: a stable hash for seeded, order-independent choices. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function parseTrlUnpaired(row: Row, ctx: RowContext): UnpairedExample {
  const base = { kind: 'unpaired' as const, id: ctx.id, source: ctx.source, format: 'trl-unpaired' as const };
  if (typeof row.prompt === 'string' || row.prompt === undefined || row.prompt === null) {
    const prompt = text(row, 'prompt');
    const completion = text(row, 'completion');
    return { ...base, style: 'text', prompt, completion, label: label(row) };
  }
  const prompt = messages(row, 'prompt');
  checkPrompt(prompt, 'prompt');
  const completion = messages(row, 'completion');
  checkCompletion(completion, 'completion');
  return { ...base, style: 'conversational', prompt, completion, label: label(row) };
}

function parseShareGptKto(row: Row, ctx: RowContext): UnpairedExample {
  const key = conversationKey(row) ?? 'messages';
  const conv = withSystem(row, messages(row, key));
  checkAlternation(conv, key, key === 'conversations' ? 'from' : 'role');
  const last = conv[conv.length - 1];
  if (last.role !== 'assistant') throw new FieldProblem(`${key}[${conv.length - 1}]`, 'the last turn must be the assistant completion that the label judges');
  const prompt = conv.slice(0, -1);
  checkPrompt(prompt, key);
  return { kind: 'unpaired', id: ctx.id, source: ctx.source, format: 'sharegpt-kto', style: 'conversational', prompt, completion: [last], label: label(row) };
}

function parsePromptCompletion(row: Row, ctx: RowContext): SftExample {
  const base = { kind: 'sft' as const, id: ctx.id, source: ctx.source, format: 'trl-prompt-completion' as const };
  if (typeof row.prompt === 'string' || row.prompt === undefined || row.prompt === null) {
    return { ...base, style: 'text', prompt: text(row, 'prompt'), completion: text(row, 'completion') };
  }
  const prompt = messages(row, 'prompt');
  checkPrompt(prompt, 'prompt');
  const completion = messages(row, 'completion');
  checkCompletion(completion, 'completion');
  return { ...base, style: 'conversational', prompt, completion };
}

function parseMessagesSft(row: Row, ctx: RowContext, key: 'conversations' | 'messages', format: 'sharegpt-sft' | 'trl-messages'): SftExample {
  const msgs = withSystem(row, messages(row, key));
  if (!msgs.some((m) => m.role === 'assistant')) throw new FieldProblem(key, 'no assistant turn to train on');
  if (format === 'sharegpt-sft') checkAlternation(msgs, key, 'from');
  return { kind: 'sft', id: ctx.id, source: ctx.source, format, style: 'messages', messages: msgs };
}

/** A prompt-only row's columns besides the prompt, kept for reward functions (a verifier's reference answer). */
function otherColumns(row: Row): { fields?: Record<string, unknown> } {
  const rest = Object.entries(row).filter(([k]) => k !== 'prompt');
  return rest.length ? { fields: Object.fromEntries(rest) } : {};
}

function parsePromptOnly(row: Row, ctx: RowContext): PromptExample {
  const base = { kind: 'prompt' as const, id: ctx.id, source: ctx.source, format: 'trl-prompt-only' as const, ...otherColumns(row) };
  if (typeof row.prompt === 'string' || row.prompt === undefined || row.prompt === null) return { ...base, style: 'text', prompt: text(row, 'prompt') };
  const prompt = messages(row, 'prompt');
  checkPrompt(prompt, 'prompt');
  return { ...base, style: 'conversational', prompt };
}

// ---------------------------------------------------------------------------------------------------------
// Conversions between kinds

/**
 * Preference pairs -> unpaired examples (chosen labeled desirable, rejected undesirable), as TRL's
 * `unpair_preference_dataset`: lets KTO train on paired data. Ids get `/chosen` and `/rejected` suffixes.
 */
export function unpairPreferences(pairs: readonly PreferenceExample[]): UnpairedExample[] {
  return pairs.flatMap((p): UnpairedExample[] => {
    const meta = { source: p.source, format: p.format, ...(p.section !== undefined ? { section: p.section } : {}), ...(p.tags ? { tags: p.tags } : {}) };
    if (p.style === 'conversational') {
      return [
        { kind: 'unpaired', id: `${p.id}/chosen`, ...meta, style: 'conversational', prompt: p.prompt, completion: p.chosen, label: true },
        { kind: 'unpaired', id: `${p.id}/rejected`, ...meta, style: 'conversational', prompt: p.prompt, completion: p.rejected, label: false },
      ];
    }
    return [
      { kind: 'unpaired', id: `${p.id}/chosen`, ...meta, style: 'text', prompt: p.prompt, completion: p.chosen, label: true },
      { kind: 'unpaired', id: `${p.id}/rejected`, ...meta, style: 'text', prompt: p.prompt, completion: p.rejected, label: false },
    ];
  });
}

/** The prompts of any examples (for online methods), in order, each distinct prompt once. */
export function promptsOf(examples: readonly Example[]): PromptExample[] {
  const seen = new Set<string>();
  const out: PromptExample[] = [];
  for (const e of examples) {
    if (e.style === 'messages') continue;
    const key = JSON.stringify(e.prompt);
    if (seen.has(key)) continue;
    seen.add(key);
    const meta = { id: e.id, source: e.source, format: e.format, ...(e.section !== undefined ? { section: e.section } : {}), ...(e.tags ? { tags: e.tags } : {}) };
    out.push(e.style === 'conversational' ? { kind: 'prompt', ...meta, style: 'conversational', prompt: e.prompt } : { kind: 'prompt', ...meta, style: 'text', prompt: e.prompt });
  }
  return out;
}

/** Preference pairs -> SFT examples on their chosen completions (SFT on preference data, as TRL allows). */
export function chosenAsSft(pairs: readonly PreferenceExample[]): SftExample[] {
  return pairs.map((p): SftExample => {
    const meta = { kind: 'sft' as const, id: p.id, source: p.source, format: p.format, ...(p.section !== undefined ? { section: p.section } : {}), ...(p.tags ? { tags: p.tags } : {}) };
    return p.style === 'conversational' ? { ...meta, style: 'conversational', prompt: p.prompt, completion: p.chosen } : { ...meta, style: 'text', prompt: p.prompt, completion: p.chosen };
  });
}

/**
 * Examples of one kind -> the kind a method trains on (`MethodCard.datasetKinds`): preference -> unpaired
 * (KTO), preference -> sft (chosen completions), anything -> prompt (online methods). Throws a RangeError naming
 * both kinds when there is no sensible conversion (e.g. unpaired -> preference: pairs cannot be invented).
 */
export function adaptExamples(examples: readonly Example[], from: DatasetKind, to: DatasetKind): Example[] {
  if (from === to) return [...examples];
  const wrong = examples.find((e) => e.kind !== from);
  if (wrong) throw new RangeError(`adaptExamples: example ${wrong.id} is ${wrong.kind}, not ${from}`);
  if (to === 'prompt') return promptsOf(examples);
  if (from === 'preference' && to === 'unpaired') return unpairPreferences(examples as PreferenceExample[]);
  if (from === 'preference' && to === 'sft') return chosenAsSft(examples as PreferenceExample[]);
  throw new RangeError(`${from} data cannot be used where ${to} data is needed`);
}
