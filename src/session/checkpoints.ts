/**
 * Run checkpoints in the run folder (docs/run-folder.md):
 *
 *   checkpoints/step-<n>/model.safetensors      trainable weights under their engine names
 *   checkpoints/step-<n>/optimizer.safetensors  the full training state (src/engine/checkpoint: parameters,
 *                                               AdamW moments, step counters, run config) to resume exactly
 *   checkpoints/step-<n>/trainer_state.json     step, epoch, early-stopping state, token count
 *
 * A checkpoint is written into a hidden temporary folder, every file fsynced, then the folder is renamed to
 * `step-<n>`: a crash (even kill -9) leaves either a complete checkpoint or a temporary folder that is ignored
 * and cleaned up later, never a half-written `step-<n>`. Loading tries the newest checkpoint first and falls back
 * to older ones when one is unreadable, saying why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, writeCheckpointFile } from '../engine/checkpoint/checkpoint';
import { serializeSafetensors } from '../engine/io/safetensors';
import type { TrainState } from '../engine/step/trainState';
import { CHECKPOINTS_DIR, checkpointDirName } from '../core/runs/layout';
import { fsyncDir } from '../util/durable';

/** What a session keeps besides the tensors. */
export interface TrainerStateJson {
  readonly step: number;
  readonly epoch: number;
  /** Examples drawn so far (the position in the seeded data order). */
  readonly examplesSeen: number;
  /** Running total of tokens (TRL's `num_tokens`). */
  readonly numTokens: number;
  readonly earlyStopping?: { readonly best: number | null; readonly badEvals: number };
  /** Method and hyperparameters the checkpoint was trained with (a resume checks they match). */
  readonly method: string;
  readonly hyperparameters: Record<string, unknown>;
}

export interface LoadedRunCheckpoint {
  readonly step: number;
  /** Relative to the run folder, e.g. `checkpoints/step-40`. */
  readonly path: string;
  readonly state: TrainState;
  readonly trainer: TrainerStateJson;
}

/** Writes checkpoint `step` atomically; returns its folder relative to the run folder. */
export function saveRunCheckpoint(runDir: string, state: TrainState, trainer: TrainerStateJson, keep = 2): string {
  const rel = checkpointDirName(state.step);
  const root = path.join(runDir, CHECKPOINTS_DIR);
  fs.mkdirSync(root, { recursive: true });
  const final = path.join(runDir, rel);
  const tmp = path.join(root, `.step-${state.step}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  for (const [name, t] of state.params) tensors.set(name, { dtype: 'F32', shape: [...t.shape], data: t.data });
  writeCheckpointFile(path.join(tmp, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  saveCheckpoint(path.join(tmp, 'optimizer.safetensors'), { state, rng: {}, config: { method: trainer.method }, extra: { step: state.step } });
  writeCheckpointFile(path.join(tmp, 'trainer_state.json'), new TextEncoder().encode(JSON.stringify(trainer, null, 2) + '\n'));
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(root);
  // Keep the newest `keep` checkpoints.
  const steps = listCheckpointSteps(runDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) fs.rmSync(path.join(runDir, checkpointDirName(s)), { recursive: true, force: true });
  return rel;
}

/** Steps of the complete checkpoints in a run folder, ascending (temporary folders are not listed). */
export function listCheckpointSteps(runDir: string): number[] {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Removes temporary folders a killed session left behind. */
export function cleanTemporaryCheckpoints(runDir: string): number {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return 0;
  let n = 0;
  for (const name of fs.readdirSync(root)) {
    if (/^\.step-\d+\.tmp-/.test(name)) {
      fs.rmSync(path.join(root, name), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

function parseTrainerState(file: string): TrainerStateJson {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const o = j as Partial<TrainerStateJson>;
  if (typeof o !== 'object' || o === null || typeof o.step !== 'number' || typeof o.epoch !== 'number' || typeof o.examplesSeen !== 'number' || typeof o.method !== 'string') {
    throw new Error(`${file}: not a trainer state (needs step, epoch, examplesSeen, method)`);
  }
  return { numTokens: 0, hyperparameters: {}, ...o } as TrainerStateJson;
}

/** Loads one checkpoint folder; throws an Error naming the file and the problem. */
export function loadRunCheckpoint(runDir: string, step: number): LoadedRunCheckpoint {
  const rel = checkpointDirName(step);
  const dir = path.join(runDir, rel);
  const ckpt = loadCheckpoint(path.join(dir, 'optimizer.safetensors'));
  const trainer = parseTrainerState(path.join(dir, 'trainer_state.json'));
  if (ckpt.state.step !== step || trainer.step !== step) throw new Error(`${dir}: holds step ${ckpt.state.step} (trainer_state says ${trainer.step}), its name says ${step}`);
  return { step, path: rel, state: ckpt.state, trainer };
}

/** The newest readable checkpoint, with a message for each newer one that could not be read. */
export function loadLatestCheckpoint(runDir: string): { checkpoint?: LoadedRunCheckpoint; problems: string[] } {
  const problems: string[] = [];
  const steps = listCheckpointSteps(runDir).reverse();
  for (const s of steps) {
    try {
      return { checkpoint: loadRunCheckpoint(runDir, s), problems };
    } catch (e) {
      problems.push(`checkpoint step-${s} is unreadable and was skipped: ${(e as Error).message}`);
    }
  }
  return { problems };
}
