/**
 * Training checkpoints as safetensors: one file holding the trainable parameters under their own names
 * (so other tools can load the weights), the optimizer buffers under `optimizer.<buffer>.<param>`, and
 * JSON metadata (format tag, step counters, RNG state, run config) in the safetensors `__metadata__` map.
 *
 * Writes are atomic and durable (src/util/durable.ts): data goes to a temp file in the same folder, is
 * fsynced, renamed over the target and the folder is fsynced, so a crash leaves either the old or the new
 * checkpoint. Reads validate everything and throw {@link CheckpointError} naming the file and the problem.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSafetensors, serializeSafetensors, type SafeTensor } from '../io/safetensors';
import type { RngState } from '../rng';
import type { F32Tensor, OptimizerKind, TrainState } from '../step/trainState';
import { writeFileDurable } from '../../util/durable';

export const CHECKPOINT_FORMAT = 'alignment-studio/train-checkpoint@1';

/** A checkpoint as read from or written to disk. */
export interface Checkpoint {
  readonly state: TrainState;
  /** Generator states by purpose (e.g. { data: ..., init: ... }), restored with Rng.fromState. */
  readonly rng: Readonly<Record<string, RngState>>;
  /** The run configuration (JSON-serializable), stored so a resume can check it matches. */
  readonly config: unknown;
  /** Anything else the caller wants to keep (JSON-serializable), e.g. epoch and position in the data. */
  readonly extra: unknown;
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`checkpoint ${file}: ${problem}`);
  }
}

const OPT_PREFIX = 'optimizer.';

/** Serializes a checkpoint to safetensors bytes. */
export function serializeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of ckpt.state.params) {
    if (name.startsWith(OPT_PREFIX)) throw new Error(`parameter name '${name}' must not start with '${OPT_PREFIX}' (reserved for optimizer buffers)`);
    tensors.set(name, { dtype: 'F32', shape: [...t.shape], data: t.data });
  }
  for (const [name, t] of ckpt.state.buffers) tensors.set(OPT_PREFIX + name, { dtype: 'F32', shape: [...t.shape], data: t.data });
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    step: String(ckpt.state.step),
    updates: String(ckpt.state.updates),
    optimizer: ckpt.state.optimizer,
    params: JSON.stringify([...ckpt.state.params.keys()]),
    rng: JSON.stringify(ckpt.rng),
    config: JSON.stringify(ckpt.config ?? null),
    extra: JSON.stringify(ckpt.extra ?? null),
  };
  return serializeSafetensors(tensors, metadata);
}

/**
 * Writes `bytes` to `file` durably and atomically (src/util/durable.ts), creating the folder. A failure to write
 * is a {@link CheckpointError} naming the file; the old file is untouched and no temp file is left behind.
 */
export function writeCheckpointFile(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  try {
    writeFileDurable(file, bytes, 0o644);
  } catch (e) {
    throw new CheckpointError(file, `cannot write: ${(e as Error).message}`);
  }
}

/** Saves a training checkpoint atomically (see module comment). */
export function saveCheckpoint(file: string, ckpt: Checkpoint): void {
  writeCheckpointFile(file, serializeCheckpoint(ckpt));
}

function parseJsonField(file: string, meta: Record<string, string>, key: string): unknown {
  const raw = meta[key];
  if (raw === undefined) throw new CheckpointError(file, `metadata field '${key}' is missing`);
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new CheckpointError(file, `metadata field '${key}' is not valid JSON: ${(e as Error).message}`);
  }
}

function parseCount(file: string, meta: Record<string, string>, key: string): number {
  const raw = meta[key];
  const n = raw === undefined ? NaN : Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new CheckpointError(file, `metadata field '${key}' must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Parses checkpoint bytes; `file` is named in every error. */
export function parseCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  let st;
  try {
    st = parseSafetensors(bytes, file);
  } catch (e) {
    // The safetensors reader already names the file and the problem (truncation, bad header, ...).
    throw new CheckpointError(file, (e as Error).message.replace(`${file}: `, ''));
  }
  const meta = st.metadata;
  if (meta['format'] !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(file, `not a training checkpoint (metadata format is ${JSON.stringify(meta['format'] ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  const step = parseCount(file, meta, 'step');
  const updates = parseCount(file, meta, 'updates');
  const optimizer = meta['optimizer'];
  if (optimizer !== 'adamw' && optimizer !== 'sgd') throw new CheckpointError(file, `metadata field 'optimizer' must be "adamw" or "sgd", got ${JSON.stringify(optimizer)}`);
  const names = parseJsonField(file, meta, 'params');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new CheckpointError(file, `metadata field 'params' must be a list of names`);
  const rng = parseJsonField(file, meta, 'rng');
  if (typeof rng !== 'object' || rng === null || Array.isArray(rng)) throw new CheckpointError(file, `metadata field 'rng' must be an object of generator states`);
  const params = new Map<string, F32Tensor>();
  const buffers = new Map<string, F32Tensor>();
  for (const [name, t] of st.tensors) {
    if (t.dtype !== 'F32' || !(t.data instanceof Float32Array)) throw new CheckpointError(file, `tensor '${name}' has dtype ${t.dtype}, expected F32`);
    const ft: F32Tensor = { shape: t.shape, data: t.data };
    if (name.startsWith(OPT_PREFIX)) buffers.set(name.slice(OPT_PREFIX.length), ft);
    else params.set(name, ft);
  }
  for (const n of names as string[]) if (!params.has(n)) throw new CheckpointError(file, `parameter '${n}' is listed in metadata but has no tensor`);
  // Keep the saved parameter order (the safetensors data layout is sorted, the metadata list is not).
  const ordered = new Map<string, F32Tensor>();
  for (const n of names as string[]) ordered.set(n, params.get(n) as F32Tensor);
  for (const n of params.keys()) if (!ordered.has(n)) throw new CheckpointError(file, `tensor '${n}' is not listed in metadata 'params'`);
  const state: TrainState = { step, updates, optimizer: optimizer as OptimizerKind, params: ordered, buffers };
  return {
    state,
    rng: rng as Record<string, RngState>,
    config: parseJsonField(file, meta, 'config'),
    extra: parseJsonField(file, meta, 'extra'),
  };
}

/** Loads a training checkpoint; throws {@link CheckpointError} naming the file for any problem. */
export function loadCheckpoint(file: string): Checkpoint {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CheckpointError(file, err.code === 'ENOENT' ? 'file not found' : `cannot read: ${err.message}`);
  }
  return parseCheckpoint(bytes, file);
}
