/**
 * External runs: reads the `trainer_state.json` that Hugging Face Transformers' Trainer (and so every TRL
 * trainer) saves in its output folder and in each `checkpoint-<step>` folder, and turns its `log_history` into
 * the dashboard's series, so a run trained elsewhere plots beside ours with the same metric names.
 *
 * `log_history` is a list of records, each with `step` and `epoch` plus either train metrics (`loss`,
 * `grad_norm`, `learning_rate`, `rewards/margins`, ...), evaluation metrics (`eval_loss`, `eval_runtime`, ...) or,
 * last, the run summary (`train_runtime`, `train_loss`, `total_flos`, ...). Python's json module writes NaN and
 * Infinity as bare words, which JSON.parse rejects; they are read as null (a non-finite value), as our own
 * events record them.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { SeriesPoints } from '../../protocol/dashboard';
import { appendRecord, type MutableSeries } from './metricSeries';

export const TRAINER_STATE_FILE = 'trainer_state.json';

/** Keys of the final summary record and bookkeeping fields: not plotted as metrics. */
const NOT_METRICS = new Set(['step', 'epoch', 'total_flos', 'train_runtime', 'train_samples_per_second', 'train_steps_per_second', 'train_loss', 'num_input_tokens_seen']);

export interface TrainerStateRun {
  /** The file read. */
  readonly file: string;
  readonly globalStep: number;
  readonly maxSteps: number;
  /** Metric -> points. `time` is estimated from `train_runtime` when the run finished (steps spread evenly), else 0. */
  readonly series: Record<string, SeriesPoints>;
  /** Scalar top-level settings (train_batch_size, num_train_epochs, logging_steps, ...). */
  readonly settings: Record<string, string | number | boolean>;
  /** The summary record's values (train_runtime, train_loss, ...), when present. */
  readonly summary: Record<string, number>;
  /** Records that were skipped, each naming its index. */
  readonly warnings: string[];
}

/** Replaces the bare tokens NaN, Infinity and -Infinity outside strings with null. */
export function pythonJsonToJson(text: string): string {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      // Skip the string, honouring escapes.
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const rest = text.startsWith('NaN', i) ? 3 : text.startsWith('Infinity', i) ? 8 : text.startsWith('-Infinity', i) ? 9 : 0;
    if (rest) {
      out += text.slice(last, i) + 'null';
      i += rest;
      last = i;
      continue;
    }
    i++;
  }
  return out + text.slice(last);
}

/** 1-based line and column of a character offset. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

/** Parses trainer_state.json text. Throws an Error naming `file:line:col` for invalid JSON or a missing log_history. */
export function parseTrainerState(text: string, file: string): TrainerStateRun {
  let json: unknown;
  const cleaned = pythonJsonToJson(text);
  try {
    json = JSON.parse(cleaned) as unknown;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    throw new Error(`${file}${pos ? `:${lineCol(cleaned, Number(pos[1]))}` : ''}: not valid JSON (${msg})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object (a Transformers trainer_state.json)`);
  const o = json as Record<string, unknown>;
  if (!Array.isArray(o.log_history)) throw new Error(`${file}: no "log_history" list: is this a Transformers/TRL trainer_state.json?`);
  const warnings: string[] = [];
  const records: { step: number; metrics: Record<string, number | null> }[] = [];
  const summary: Record<string, number> = {};
  o.log_history.forEach((r: unknown, i: number) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      warnings.push(`log_history[${i}]: not an object (skipped)`);
      return;
    }
    const rec = r as Record<string, unknown>;
    if (typeof rec.step !== 'number' || !Number.isInteger(rec.step) || rec.step < 0) {
      warnings.push(`log_history[${i}].step: expected a non-negative integer (record skipped)`);
      return;
    }
    const metrics: Record<string, number | null> = {};
    for (const [k, x] of Object.entries(rec)) {
      if (k === 'train_runtime' || k === 'train_loss' || k === 'total_flos' || k === 'train_samples_per_second' || k === 'train_steps_per_second') {
        if (typeof x === 'number') summary[k] = x;
        continue;
      }
      if (NOT_METRICS.has(k)) continue;
      if (typeof x === 'number' && Number.isFinite(x)) metrics[k] = x;
      else if (x === null) metrics[k] = null; // NaN / Infinity in the file
      // strings and lists (rare: e.g. a logged config) are not plottable
    }
    if (Object.keys(metrics).length) records.push({ step: rec.step, metrics });
  });
  const globalStep = typeof o.global_step === 'number' ? o.global_step : records.reduce((m, r) => Math.max(m, r.step), 0);
  const maxSteps = typeof o.max_steps === 'number' ? o.max_steps : globalStep;
  const runtime = summary.train_runtime;
  const series: MutableSeries = {};
  for (const r of records) {
    // Without timestamps in log_history, time is spread evenly over train_runtime (when the run finished).
    const t = runtime !== undefined && globalStep > 0 ? Math.round((r.step / globalStep) * runtime * 1000) : 0;
    appendRecord(series, r.step, t, r.metrics);
  }
  const settings: Record<string, string | number | boolean> = {};
  for (const [k, x] of Object.entries(o)) {
    if (k === 'log_history') continue;
    if (typeof x === 'number' ? Number.isFinite(x) : typeof x === 'string' || typeof x === 'boolean') settings[k] = x as string | number | boolean;
  }
  return { file, globalStep, maxSteps, series, settings, summary, warnings };
}

/**
 * Finds the trainer_state.json of a folder: the folder's own, else the one in the `checkpoint-<n>` subfolder
 * with the largest n (the latest state). Accepts the file itself too.
 */
export async function findTrainerState(path: string): Promise<string> {
  const st = await stat(path);
  if (st.isFile()) return path;
  const own = join(path, TRAINER_STATE_FILE);
  try {
    if ((await stat(own)).isFile()) return own;
  } catch {
    // look in checkpoints
  }
  const checkpoints = (await readdir(path, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && /^checkpoint-\d+$/.test(e.name))
    .map((e) => ({ name: e.name, step: Number(e.name.slice('checkpoint-'.length)) }))
    .sort((a, b) => b.step - a.step);
  for (const c of checkpoints) {
    const f = join(path, c.name, TRAINER_STATE_FILE);
    try {
      if ((await stat(f)).isFile()) return f;
    } catch {
      // next
    }
  }
  throw new Error(`${path}: no ${TRAINER_STATE_FILE} in the folder or in a checkpoint-<step> subfolder`);
}

/** Reads a trainer_state.json (or the folder holding it) into series. */
export async function readTrainerState(path: string): Promise<TrainerStateRun> {
  const file = await findTrainerState(path);
  return parseTrainerState(await readFile(file, 'utf8'), file);
}

/** A label for an external run: the output folder's name (the parent of a checkpoint folder). */
export function trainerStateLabel(file: string): string {
  const parts = file.split(/[\\/]/).filter(Boolean);
  parts.pop(); // trainer_state.json
  const dir = parts.pop() ?? file;
  return /^checkpoint-\d+$/.test(dir) ? `${parts.pop() ?? dir}/${dir}` : basename(dir);
}
