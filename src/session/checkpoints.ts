/**
 * Run checkpoints in the run folder (docs/run-folder.md):
 *
 *   checkpoints/step-<n>/                       a Hugging Face folder (hfFolders.ts): config.json +
 *                                               model.safetensors under HF names, or a PEFT adapter for LoRA runs;
 *                                               the tokenizer files; trainer_state.json in Transformers' schema
 *   checkpoints/step-<n>/optimizer.safetensors  the full training state (src/engine/checkpoint: parameters,
 *                                               AdamW moments, step counters, run config) to resume exactly
 *   checkpoints/step-<n>/alignment_state.json   step, epoch, data position, early-stopping state, method: what a
 *                                               resume needs besides the tensors (trainer_state.json cannot hold
 *                                               it: Transformers rebuilds TrainerState from its keys and refuses others)
 *
 * A checkpoint is written into a hidden temporary folder, every file fsynced, then the folder is renamed to
 * `step-<n>`: a crash (even kill -9) leaves either a complete checkpoint or a temporary folder that is ignored
 * and cleaned up later, never a half-written `step-<n>`. Loading tries the newest checkpoint first and falls back
 * to older ones when one is unreadable: an unreadable one is moved aside to `corrupt-step-<n>` (kept for
 * inspection, never counted again) and named in the problem. Pruning keeps the checkpoint just written and the
 * newest others, so a checkpoint event always names a folder that exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, writeCheckpointFile } from '../engine/checkpoint/checkpoint';
import { readSafetensorsHeader } from '../engine/io/safetensors';
import type { TrainState } from '../engine/step/trainState';
import { CHECKPOINTS_DIR, CORRUPT_CHECKPOINT_PREFIX, checkpointDirName } from '../core/runs/layout';
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
  /** An online method's state besides parameters and optimizer (PPO: the KL controller's `kl_coef`). */
  readonly online?: Readonly<Record<string, number>>;
}

export interface LoadedRunCheckpoint {
  readonly step: number;
  /** Relative to the run folder, e.g. `checkpoints/step-40`. */
  readonly path: string;
  readonly state: TrainState;
  readonly trainer: TrainerStateJson;
}

/** The resume state's file in a checkpoint folder (module comment). */
export const RESUME_STATE_FILE = 'alignment_state.json';

/**
 * Writes checkpoint `step` atomically; returns its folder relative to the run folder. `writeHf` writes the
 * Hugging Face files (model and trainer_state.json) into the folder being built.
 */
export function saveRunCheckpoint(runDir: string, state: TrainState, trainer: TrainerStateJson, writeHf: (dir: string) => void, keep = 2): string {
  const rel = checkpointDirName(state.step);
  const root = path.join(runDir, CHECKPOINTS_DIR);
  fs.mkdirSync(root, { recursive: true });
  const final = path.join(runDir, rel);
  const tmp = path.join(root, `.step-${state.step}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  writeHf(tmp);
  saveCheckpoint(path.join(tmp, 'optimizer.safetensors'), { state, rng: {}, config: { method: trainer.method }, extra: { step: state.step } });
  writeCheckpointFile(path.join(tmp, RESUME_STATE_FILE), new TextEncoder().encode(JSON.stringify(trainer, null, 2) + '\n'));
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(root);
  // Keep the newest `keep` checkpoints, this one always among them.
  const others = listCheckpointSteps(runDir).filter((s) => s !== state.step);
  for (const s of others.slice(0, Math.max(0, others.length - (keep - 1)))) fs.rmSync(path.join(runDir, checkpointDirName(s)), { recursive: true, force: true });
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
  // The weights other tools read: headers that match the files' sizes (a cut-off copy fails here).
  const weightFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors') && f !== 'optimizer.safetensors');
  if (!weightFiles.length) throw new Error(`${dir}: no model or adapter weights (*.safetensors)`);
  for (const f of weightFiles) readSafetensorsHeader(path.join(dir, f));
  // Checkpoints written before the Hugging Face layout kept the resume state in trainer_state.json.
  const own = path.join(dir, RESUME_STATE_FILE);
  const trainer = parseTrainerState(fs.existsSync(own) ? own : path.join(dir, 'trainer_state.json'));
  if (ckpt.state.step !== step || trainer.step !== step) throw new Error(`${dir}: holds step ${ckpt.state.step} (trainer_state says ${trainer.step}), its name says ${step}`);
  return { step, path: rel, state: ckpt.state, trainer };
}

/** Unreadable checkpoints moved aside earlier, relative to the run folder (e.g. `checkpoints/corrupt-step-58`). */
export function listCorruptCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((n) => n.startsWith(CORRUPT_CHECKPOINT_PREFIX))
    .sort()
    .map((n) => `${CHECKPOINTS_DIR}/${n}`);
}

/** Renames `step-<n>` to `corrupt-step-<n>` (or `-2`, `-3`, ... when that name is taken); returns the new folder. */
function moveAside(runDir: string, step: number): string {
  const root = path.join(runDir, CHECKPOINTS_DIR);
  const base = `${CORRUPT_CHECKPOINT_PREFIX}step-${step}`;
  let name = base;
  for (let i = 2; fs.existsSync(path.join(root, name)); i++) name = `${base}-${i}`;
  fs.renameSync(path.join(runDir, checkpointDirName(step)), path.join(root, name));
  fsyncDir(root);
  return `${CHECKPOINTS_DIR}/${name}`;
}

/** What loading the newest checkpoint found. */
export interface LatestCheckpoint {
  readonly checkpoint?: LoadedRunCheckpoint;
  /** One message per unreadable checkpoint, naming where it was moved and why it could not be read. */
  readonly problems: string[];
  /** The unreadable checkpoints this call moved aside, relative to the run folder. */
  readonly movedAside: string[];
}

/** The newest readable checkpoint; each newer one that cannot be read is moved aside (see module comment). */
export function loadLatestCheckpoint(runDir: string): LatestCheckpoint {
  const problems: string[] = [];
  const movedAside: string[] = [];
  const steps = listCheckpointSteps(runDir).reverse();
  for (const s of steps) {
    try {
      return { checkpoint: loadRunCheckpoint(runDir, s), problems, movedAside };
    } catch (e) {
      const moved = moveAside(runDir, s);
      movedAside.push(moved);
      problems.push(`checkpoint step-${s} is unreadable and was moved to ${moved}: ${(e as Error).message}`);
    }
  }
  return { problems, movedAside };
}
