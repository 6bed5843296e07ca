/**
 * The run folder: everything one training run leaves on disk, so a run survives a window reload and can be read
 * by the dashboard, the CLI and other tools. (docs/run-folder.md describes the same layout for users.)
 *
 * ```
 * <workspace>/.alignment/runs/<run id>/
 *   spec.json              the resolved run spec (./spec.ts), written once before the session starts
 *   events.jsonl           the session's events, one JSON object per line (src/protocol/session.ts), append-only
 *   checkpoints/
 *     step-<n>/            a checkpoint at optimizer step n
 *       config.json, model.safetensors, tokenizer files   the model as a Hugging Face folder (LoRA runs: a PEFT
 *                          adapter_config.json + adapter_model.safetensors instead of config + model)
 *       trainer_state.json Transformers' TrainerState (log_history with TRL's metric names, global_step, ...)
 *       optimizer.safetensors  parameters, AdamW moments and step, to resume exactly
 *       alignment_state.json   epoch, data position, early-stopping state, method, to resume
 *     corrupt-step-<n>/    a checkpoint that could not be read, moved aside by the session that found it
 *   final/                 the final model, a Hugging Face-format folder (config.json, model.safetensors,
 *                          tokenizer.json, trainer_state.json), loadable by other tools; for reward models with
 *                          the score head; LoRA adapters merged
 *   adapter/               LoRA runs: the final adapter as PEFT saves it (adapter_config.json,
 *                          adapter_model.safetensors)
 * ```
 *
 * Run ids are `<UTC yyyymmdd-hhmmss>-<method>-<4 base-36 chars>`: they sort by start time and are safe as folder
 * names on every platform.
 */
import { join } from 'node:path';

export const ALIGNMENT_DIR = '.alignment';
export const RUNS_DIR = 'runs';
export const SPEC_FILE = 'spec.json';
export const EVENTS_FILE = 'events.jsonl';
export const CHECKPOINTS_DIR = 'checkpoints';
export const FINAL_DIR = 'final';
/** A LoRA run's final adapter in PEFT's format (beside final/, which holds the merged model). */
export const ADAPTER_DIR = 'adapter';

export interface RunPaths {
  readonly dir: string;
  readonly spec: string;
  readonly events: string;
  readonly checkpoints: string;
  readonly final: string;
}

/** The folder holding all runs of a workspace. */
export function runsRoot(workspaceDir: string): string {
  return join(workspaceDir, ALIGNMENT_DIR, RUNS_DIR);
}

/** The files of one run. */
export function runPaths(runDir: string): RunPaths {
  return {
    dir: runDir,
    spec: join(runDir, SPEC_FILE),
    events: join(runDir, EVENTS_FILE),
    checkpoints: join(runDir, CHECKPOINTS_DIR),
    final: join(runDir, FINAL_DIR),
  };
}

/** Name prefix of an unreadable checkpoint folder moved aside (`checkpoints/corrupt-step-<n>`). */
export const CORRUPT_CHECKPOINT_PREFIX = 'corrupt-';

/** A checkpoint folder, relative to the run folder (as `checkpoint` events carry it). */
export function checkpointDirName(step: number): string {
  return `${CHECKPOINTS_DIR}/step-${step}`;
}

const RUN_ID = /^[0-9]{8}-[0-9]{6}-[a-z0-9-]+-[a-z0-9]{4}$/;

/** True for ids made by {@link newRunId}. */
export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

/** A new run id. `random` in [0, 1) (injected so tests are deterministic). */
export function newRunId(method: string, now: Date, random: () => number = Math.random): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  let tail = '';
  for (let i = 0; i < 4; i++) tail += Math.floor(random() * 36).toString(36);
  const m = method.toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'run';
  return `${stamp}-${m}-${tail}`;
}

/**
 * Where a model folder sits in a run folder, when it does: `<...>/.alignment/runs/<id>/final` is the run's final
 * model, `<...>/runs/<id>/checkpoints/step-<n>` its checkpoint at step n. Undefined for any other folder.
 */
export function runModelPlace(folder: string): { readonly runDir: string; readonly runId: string; readonly what: string } | undefined {
  const parts = folder.split(/[\\/]/);
  const n = parts.length;
  if (parts[n - 1] === FINAL_DIR && parts[n - 3] === RUNS_DIR && parts[n - 4] === ALIGNMENT_DIR) {
    return { runDir: parts.slice(0, n - 1).join('/'), runId: parts[n - 2] as string, what: 'final' };
  }
  const step = /^step-(\d+)$/.exec(parts[n - 1] ?? '');
  if (step && parts[n - 2] === CHECKPOINTS_DIR && parts[n - 4] === RUNS_DIR && parts[n - 5] === ALIGNMENT_DIR) {
    return { runDir: parts.slice(0, n - 2).join('/'), runId: parts[n - 3] as string, what: `step ${step[1]}` };
  }
  return undefined;
}
