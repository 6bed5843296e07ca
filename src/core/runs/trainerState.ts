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
import type { SessionEvent } from '../../protocol/session';
import { CHECKPOINTS_DIR, FINAL_DIR } from './layout';
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

/** What a trainer_state.json says besides its log history (Transformers' `TrainerState` fields). */
export interface TrainerStateInfo {
  readonly globalStep: number;
  readonly maxSteps: number;
  readonly epoch: number;
  readonly numTrainEpochs: number;
  readonly loggingSteps: number;
  readonly evalSteps: number;
  readonly saveSteps: number;
  /** Per-device batch size (TrainingArguments.per_device_train_batch_size). */
  readonly trainBatchSize: number;
  readonly numInputTokensSeen: number;
  /** Early stopping's best value so far, when the run tracks one. */
  readonly bestMetric: number | null;
}

/**
 * A trainer_state.json in the schema Transformers' `TrainerState.save_to_json` writes (every TRL trainer saves
 * it in each checkpoint), from a run's session events: `log_history` holds one record per logged step (the
 * `metrics` event's TRL names, `epoch`, `step`) and one per evaluation (`eval_*`), in step order, train before
 * eval at the same step as Trainer logs them. Events past `globalStep` (a killed session that logged beyond its
 * last checkpoint) are left out, and a step logged twice (once before a crash, again after the resume) keeps
 * its last record. Non-finite values are written as null (JSON has no NaN). Keys are sorted, as `sort_keys=True`.
 */
export function buildTrainerState(events: readonly SessionEvent[], info: TrainerStateInfo): Record<string, unknown> {
  const byKey = new Map<string, { step: number; order: number; record: Record<string, unknown> }>();
  for (const e of events) {
    if ((e.type !== 'metrics' && e.type !== 'eval') || e.params.step > info.globalStep) continue;
    const record = sortKeys({ ...e.params.metrics, epoch: e.params.epoch, step: e.params.step });
    byKey.set(`${e.type}:${e.params.step}`, { step: e.params.step, order: e.type === 'metrics' ? 0 : 1, record });
  }
  const logHistory = [...byKey.values()].sort((a, b) => a.step - b.step || a.order - b.order).map((r) => r.record);
  return sortKeys({
    best_global_step: null,
    best_metric: info.bestMetric,
    best_model_checkpoint: null,
    epoch: info.epoch,
    eval_steps: info.evalSteps,
    global_step: info.globalStep,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: logHistory,
    logging_steps: info.loggingSteps,
    max_steps: info.maxSteps,
    num_input_tokens_seen: info.numInputTokensSeen,
    num_train_epochs: info.numTrainEpochs,
    save_steps: info.saveSteps,
    stateful_callbacks: {},
    total_flos: 0,
    train_batch_size: info.trainBatchSize,
    trial_name: null,
    trial_params: null,
  });
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Finds the trainer_state.json of a folder: the folder's own, else the newest checkpoint's: a Transformers
 * output folder's `checkpoint-<n>` subfolder with the largest n, or one of our run folders' `final/`, else its
 * `checkpoints/step-<n>` with the largest n. Accepts the file itself too.
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
  const numbered = async (dir: string, pattern: RegExp): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    return entries
      .map((e) => ({ e, m: pattern.exec(e.name) }))
      .filter((x) => x.e.isDirectory() && x.m !== null)
      .sort((a, b) => Number((b.m as RegExpExecArray)[1]) - Number((a.m as RegExpExecArray)[1]))
      .map((x) => join(dir, x.e.name));
  };
  const candidates = [...(await numbered(path, /^checkpoint-(\d+)$/)), join(path, FINAL_DIR), ...(await numbered(join(path, CHECKPOINTS_DIR), /^step-(\d+)$/))];
  for (const c of candidates) {
    const f = join(c, TRAINER_STATE_FILE);
    try {
      if ((await stat(f)).isFile()) return f;
    } catch {
      // next
    }
  }
  throw new Error(`${path}: no ${TRAINER_STATE_FILE} in the folder or in a checkpoint-<step> subfolder (nor in a run's final/ or checkpoints/step-<n>/)`);
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
  if (/^step-\d+$/.test(dir) && parts[parts.length - 1] === CHECKPOINTS_DIR) parts.pop(); // <run>/checkpoints/step-<n>
  return /^checkpoint-\d+$|^step-\d+$/.test(dir) || dir === FINAL_DIR ? `${parts.pop() ?? dir}/${dir}` : basename(dir);
}
