/**
 * The labeling side of the format registry (`formats.ts`): a dataset row of any format the loader reads, as the
 * editor's diagnostics, CodeLens, comparison panel, judges, statistics and export see it.
 *
 * Labels name the outputs of a record by field paths (`chosen`, `completion`, `responses[2]`). For TRL's own
 * formats those are the row's own fields and the row is used as it is. A row of another format (LLaMA-Factory
 * ShareGPT, HH-RLHF, UltraFeedback) is read by the registry's parser, exactly as training reads it, and shown as
 * the TRL row it stands for (`prompt`, `chosen`, `rejected` or `prompt`, `completion`, `label`), so its labels name
 * `chosen` / `rejected` / `completion` and an export writes rows that TRL and training read. The user's file is
 * only ever read.
 */
import type { Example, FormatId, Message } from './examples';
import { parseRow, type LoadOptions } from './formats';
import type { RowSource } from './records';

type Row = Record<string, unknown>;

/** Formats whose rows are TRL's columns already: labels and export use such a row unchanged. */
const TRL_NATIVE: ReadonlySet<FormatId> = new Set(['trl-preference', 'trl-preference-implicit', 'trl-unpaired', 'trl-prompt-completion', 'trl-messages', 'trl-prompt-only']);

/** True when rows of `format` are labeled under their own field names. */
export function isTrlNative(format: FormatId): boolean {
  return TRL_NATIVE.has(format);
}

const plain = (msgs: readonly Message[]): Row[] => msgs.map((m) => ({ role: m.role, content: m.content }));

/**
 * The TRL row an example stands for. Preference -> `{prompt, chosen, rejected}`, unpaired ->
 * `{prompt, completion, label}`, in the example's style (message lists or strings); the row's `id` is kept.
 * Supervised and prompt-only examples are not labeled here and come back as `raw`.
 */
export function exampleAsTrlRow(e: Example, raw: Row): Row {
  const id = raw.id !== undefined ? { id: raw.id } : {};
  if (e.kind === 'preference') {
    return e.style === 'conversational'
      ? { ...id, prompt: plain(e.prompt), chosen: plain(e.chosen), rejected: plain(e.rejected) }
      : { ...id, prompt: e.prompt, chosen: e.chosen, rejected: e.rejected };
  }
  if (e.kind === 'unpaired') {
    return e.style === 'conversational'
      ? { ...id, prompt: plain(e.prompt), completion: plain(e.completion), label: e.label }
      : { ...id, prompt: e.prompt, completion: e.completion, label: e.label };
  }
  return raw;
}

/** A problem with one row read as its file's format, worded for the Problems panel. */
export interface RowProblem {
  /** The top-level field at fault ('' for the whole row), where the editor puts the squiggle. */
  readonly key: string;
  readonly code: 'missing-field' | 'invalid-field';
  readonly message: string;
}

/** How rows of one format are checked and shown: what the index of a dataset file uses per record. */
export interface RowFormat {
  readonly format: FormatId;
  /** Problems that keep the row from training (and so from being labeled); empty when it loads. */
  problems(row: Row): RowProblem[];
  /** The row as labels name its outputs (see the file comment). */
  view(row: Row): Row;
}

/**
 * The {@link RowFormat} of a format of the registry. `formatName` (the format's description) goes into each
 * problem, so a user whose file was read as the wrong format sees which one.
 */
export function rowFormat(format: FormatId, file: string, keys: string, options: LoadOptions = {}): RowFormat {
  const source = (): RowSource => ({ file, line: 0 });
  return {
    format,
    problems(row) {
      const r = parseRow(row, format, source(), options);
      if (r.ok) return [];
      const key = /^[^.[]*/.exec(r.field)?.[0] ?? '';
      const code = r.reason === 'missing' ? 'missing-field' : 'invalid-field';
      const what = r.field ? `field "${r.field}": ${r.reason}` : r.reason;
      return [{ key, code, message: `${what} (${format} rows: ${keys})` }];
    },
    view(row) {
      if (isTrlNative(format)) return row;
      const r = parseRow(row, format, source(), options);
      return r.ok ? exampleAsTrlRow(r.example, row) : row;
    },
  };
}

/** Output keys of a labeling row: the pair `chosen`/`rejected`, else the single `completion` or `response`. */
export function candidateKeys(row: Row): string[] {
  if (row.chosen !== undefined && row.rejected !== undefined) return ['chosen', 'rejected'];
  if (row.completion !== undefined) return ['completion'];
  if (row.response !== undefined) return ['response'];
  return [];
}
