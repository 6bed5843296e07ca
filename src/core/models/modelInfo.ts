import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isRecord } from '../../protocol/message';

/** A Hugging Face-format model folder as the Models view shows it, read from its config.json alone. */
export interface ModelFolderInfo {
  folder: string;
  modelType: string;
  architectures: string[];
  /** Parameter count estimated from the config (embeddings + blocks + head), or undefined if the config lacks sizes. */
  parameters?: number;
  layers?: number;
  hiddenSize?: number;
  vocabSize?: number;
  weightFiles: string[];
  hasTokenizer: boolean;
  problems: string[];
}

function num(c: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const k of keys) if (typeof c[k] === 'number') return c[k] as number;
  return undefined;
}

/**
 * Estimates the parameter count of a GPT-2 or Llama-family config.
 * GPT-2: wte V*d + wpe P*d + per layer (qkv 3d^2+3d, proj d^2+d, mlp 2*d*4d + 5d, two LayerNorms 4d) + final LN 2d.
 * Llama: embed V*d + per layer (q d*d, k/v 2*d*(d*kv/h), o d*d, SwiGLU 3*d*f, two RMSNorms 2d) + norm d (+ V*d untied head).
 */
export function estimateParameters(config: Record<string, unknown>): number | undefined {
  const type = String(config.model_type ?? '');
  const d = num(config, 'hidden_size', 'n_embd');
  const L = num(config, 'num_hidden_layers', 'n_layer');
  const V = num(config, 'vocab_size');
  if (d === undefined || L === undefined || V === undefined) return undefined;
  if (type === 'gpt2') {
    const P = num(config, 'n_positions', 'max_position_embeddings') ?? 1024;
    const inner = num(config, 'n_inner') ?? 4 * d;
    const perLayer = 3 * d * d + 3 * d + d * d + d + 2 * d * inner + inner + d + 4 * d;
    return V * d + P * d + L * perLayer + 2 * d;
  }
  const heads = num(config, 'num_attention_heads') ?? 1;
  const kvHeads = num(config, 'num_key_value_heads') ?? heads;
  const f = num(config, 'intermediate_size') ?? 4 * d;
  const kvDim = (d / heads) * kvHeads;
  const qkvBias = type === 'qwen2' ? d + 2 * kvDim : 0;
  const perLayer = d * d + 2 * d * kvDim + qkvBias + d * d + 3 * d * f + 2 * d;
  const tied = config.tie_word_embeddings !== false;
  return V * d + L * perLayer + d + (tied ? 0 : V * d);
}

/** Reads `folder/config.json` and lists what the folder holds; never throws (problems are listed instead). */
export async function readModelFolder(folder: string): Promise<ModelFolderInfo> {
  const problems: string[] = [];
  let config: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(path.join(folder, 'config.json'), 'utf8'));
    if (isRecord(parsed)) config = parsed;
    else problems.push('config.json: expected a JSON object');
  } catch (e) {
    problems.push(`config.json: ${e instanceof Error ? e.message : String(e)}`);
  }
  let entries: string[] = [];
  try {
    entries = await fsp.readdir(folder);
  } catch (e) {
    problems.push(`${folder}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const weightFiles = entries.filter((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json').sort();
  if (weightFiles.length === 0) problems.push('no *.safetensors weights');
  const hasTokenizer = entries.includes('tokenizer.json');
  if (!hasTokenizer) problems.push('no tokenizer.json');
  return {
    folder,
    modelType: typeof config.model_type === 'string' ? config.model_type : 'unknown',
    architectures: Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [],
    parameters: estimateParameters(config),
    layers: num(config, 'num_hidden_layers', 'n_layer'),
    hiddenSize: num(config, 'hidden_size', 'n_embd'),
    vocabSize: num(config, 'vocab_size'),
    weightFiles,
    hasTokenizer,
    problems,
  };
}

/** "12.3M", "1.2B": a parameter count as people say it. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
