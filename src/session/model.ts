/**
 * The model a run trains: resolved from the spec (`builtin` -> the built-in tiny chat model, built and cached on
 * first use; `hf` -> a Hugging Face folder), with the head the method needs (a reward model gets a fresh score
 * head on a causal-LM checkpoint), LoRA adapters when the spec asks for them, and its tokenizer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModelShape } from '../core/runs/estimate';
import type { RunSpec } from '../core/runs/spec';
import { ensureBuiltinModel } from '../engine/models/builtin';
import { countParameters, type ModelConfig } from '../engine/models/config';
import { loadHfModel, readHfConfig } from '../engine/models/hfMapping';
import { initParams, type HeadKind } from '../engine/models/params';
import { buildModel, type TransformerModel } from '../engine/models/transformer';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { SessionInputError } from './types';

/** Where the built-in model is built and cached: $ALIGNMENT_CACHE_DIR, else ~/.cache/alignment-studio. */
export function defaultCacheDir(): string {
  return process.env['ALIGNMENT_CACHE_DIR'] || path.join(os.homedir(), '.cache', 'alignment-studio');
}

/** Where the built-in chat model ships: media/models/chat/ of the extension (src/cli/chatModel.ts builds it). */
export const CHAT_MODEL_FOLDER = path.join('media', 'models', 'chat');

/** The shipped chat model's folder, found above this module (dist/ in the extension, src/session/ in a checkout). */
export function shippedChatModel(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, CHAT_MODEL_FOLDER);
    if (fs.existsSync(path.join(candidate, 'config.json'))) return candidate;
    if (path.dirname(dir) === dir) throw new SessionInputError(`model.name: the built-in chat model is missing (no ${CHAT_MODEL_FOLDER}/config.json above ${from}); rebuild it with \`npm run build:chat-model\`, or use the "tiny" built-in model`);
  }
}

/**
 * The model folder a spec names: the built-in `tiny` model (untrained; built and cached on first use), the
 * built-in `chat` model (tiny after the demo's SFT stage, shipped), or a Hugging Face folder.
 */
export function modelFolder(ref: RunSpec['model'], cacheDir: string, baseDir = process.cwd()): string {
  if (ref.kind === 'builtin') {
    if (ref.name === 'chat') return shippedChatModel();
    if (ref.name !== undefined && ref.name !== 'tiny') throw new SessionInputError(`model.name: unknown built-in model "${ref.name}" (the built-in models are "tiny" and "chat")`);
    return ensureBuiltinModel(cacheDir);
  }
  const dir = path.resolve(baseDir, ref.path);
  if (!fs.existsSync(dir)) throw new SessionInputError(`model.path: ${dir} does not exist (give a Hugging Face model folder, or "builtin")`);
  if (!fs.statSync(dir).isDirectory()) throw new SessionInputError(`model.path: ${dir} is a file; give the Hugging Face model folder that holds it`);
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new SessionInputError(`model.path: ${dir} is not a Hugging Face model folder: it has no config.json`);
  return dir;
}

/** Size figures of a config for the memory estimate (read before any weights are loaded). */
export function modelShape(config: ModelConfig): ModelShape {
  return { params: countParameters(config), layers: config.numLayers, hiddenSize: config.hiddenSize, heads: config.numHeads, vocabSize: config.vocabSize, maxPositions: config.maxPositions };
}

/** Reads config.json only (cheap), for the estimate before loading. */
export function readModelConfig(dir: string): ModelConfig {
  return readHfConfig(dir);
}

export interface RunModel {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly head: HeadKind;
  readonly model: TransformerModel;
  /** Values of every parameter of `model` (LoRA adapters freshly initialized). */
  readonly weights: Map<string, Float32Array>;
  readonly tokenizer: TextTokenizer;
  /** e.g. `builtin:tiny` or the folder path. */
  readonly label: string;
}

/** Loads the run's model with `head` (see module comment). `maxLength` sizes the position tables. */
export function loadRunModel(spec: Pick<RunSpec, 'model' | 'lora' | 'seed'>, head: HeadKind, cacheDir: string, maxLength: number, baseDir = process.cwd()): RunModel {
  const dir = modelFolder(spec.model, cacheDir, baseDir);
  const loaded = loadHfModel(dir, head, { freshHeadSeed: spec.seed });
  let config = loaded.config;
  // A reward model has one output (TRL: num_labels = 1).
  if (head === 'score' && config.numLabels !== 1) throw new SessionInputError(`${dir}: a reward model needs num_labels = 1, this config has ${config.numLabels}`);
  config = { ...config };
  const lora = spec.lora ? { rank: spec.lora.r, alpha: spec.lora.alpha, targetModules: spec.lora.targetModules.length ? spec.lora.targetModules : ['q_proj', 'v_proj'] } : undefined;
  const model = buildModel(config, head, { maxLength: Math.min(maxLength, config.maxPositions), ...(lora ? { lora } : {}) });
  const weights = new Map<string, Float32Array>();
  for (const [k, v] of loaded.weights) weights.set(k, v.data);
  const adapters = model.params.filter((p) => !weights.has(p.name));
  for (const [k, v] of initParams(adapters, spec.seed)) weights.set(k, v.data);
  const tokenizer = TextTokenizer.fromFolder(dir);
  return { dir, config, head, model, weights, tokenizer, label: spec.model.kind === 'builtin' ? `builtin:${spec.model.name ?? 'tiny'}` : dir };
}
