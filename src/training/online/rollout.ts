/**
 * Rollouts for the online methods: k completions per prompt sampled from the current policy with the engine's
 * KV-cache generator (src/engine/generate), with the log-prob of every sampled token under the sampling policy.
 *
 * Layout: the completions of prompt g are rows [g k, g k + k) (the groups GRPO and RLOO compare). A completion
 * ends at the first stop token (the tokenizer's and the model's EOS; the token is kept, as TRL keeps EOS in the
 * completion mask), at the first stop string (tokens up to and including the one that completes it), or after
 * `maxCompletionLength` tokens (then it is truncated: `terminated` false).
 *
 * Log-probs are those of the temperature-scaled distribution before top-k / top-p (sampling.ts `Pick.logprob`),
 * which is what the update graph recomputes (TRL divides the logits by the temperature in the same way), so at
 * the first update the policy ratio is 1 up to float32 rounding.
 */
import type { Message } from '../../core/datasets/examples';
import type { RowSource } from '../../core/datasets/records';
import { Generator, type GeneratorOptions } from '../../engine/generate/generator';
import type { Weights } from '../../engine/models/params';
import { buildModel, mergeLora, type TransformerModel } from '../../engine/models/transformer';
import { Rng } from '../../engine/rng';
import type { TextTokenizer } from '../../engine/tokenizer/tokenizer';
import { encodePrompt } from '../encode';
import type { RewardSample } from './rewards/rewardFunction';
import type { ScoredRow } from './tokenScorer';

/** One prompt of an online run, with what reward functions may need besides the completion. */
export interface RolloutPrompt {
  /** The row's id (`file:line` when it has none). */
  readonly id: string;
  readonly prompt: string | readonly Message[];
  /** Where the row came from, so errors about it name the file and line. */
  readonly source?: RowSource;
  /** The row's other columns (e.g. a reference `answer`), as TRL hands dataset columns to reward functions. */
  readonly fields?: Readonly<Record<string, unknown>>;
}

export interface SamplingConfig {
  /** k: completions per prompt (TRL's `num_generations`). */
  readonly numGenerations: number;
  /** > 0 (TRL samples during training; greedy decoding would make every completion of a group the same). */
  readonly temperature: number;
  /** 0 or absent = off. */
  readonly topK?: number;
  /** 1 or absent = off. */
  readonly topP?: number;
  readonly maxCompletionLength: number;
  readonly stopStrings?: readonly string[];
}

export interface Completion {
  /** Index of its prompt in the rollout's prompt list. */
  readonly promptIndex: number;
  /** Completion token ids (a stop token or the token that completes a stop string is the last one). */
  readonly ids: readonly number[];
  /** log pi_old of each completion token under the sampling policy (temperature-scaled). */
  readonly logprobs: readonly number[];
  /** Decoded without special tokens. */
  readonly text: string;
  /** Ended by a stop token or stop string (false: cut at maxCompletionLength). */
  readonly terminated: boolean;
}

export interface Rollout {
  readonly prompts: readonly RolloutPrompt[];
  /** Token ids of each prompt, as generated from (after truncation). */
  readonly promptIds: readonly (readonly number[])[];
  /** prompts.length * k completions, grouped by prompt. */
  readonly completions: readonly Completion[];
  readonly k: number;
}

/** Prompt token ids, keeping the last `maxPromptLength` tokens (TRL truncates prompts on the left). */
export function encodeRolloutPrompt(tok: TextTokenizer, p: RolloutPrompt, maxPromptLength?: number): number[] {
  const ids = encodePrompt(tok, p.prompt);
  if (ids.length === 0) throw new Error(`prompt ${p.id}: encodes to no tokens`);
  return maxPromptLength !== undefined && ids.length > maxPromptLength ? ids.slice(ids.length - maxPromptLength) : ids;
}

/** Validates a sampling config, naming the bad field (TRL names). */
export function checkSamplingConfig(c: SamplingConfig): void {
  if (!(Number.isInteger(c.numGenerations) && c.numGenerations >= 1)) throw new Error(`num_generations must be a positive integer, got ${c.numGenerations}`);
  if (!(c.temperature > 0 && Number.isFinite(c.temperature))) throw new Error(`temperature must be > 0 for sampling, got ${c.temperature}`);
  if (!(Number.isInteger(c.maxCompletionLength) && c.maxCompletionLength >= 1)) throw new Error(`max_completion_length must be a positive integer, got ${c.maxCompletionLength}`);
  if (c.stopStrings?.some((s) => s.length === 0)) throw new Error('stop strings must not be empty');
}

/**
 * Cuts a generation at its first stop string: keeps the tokens up to and including the one whose decoding first
 * contains a stop string. Returns the number of tokens kept, or undefined when no stop string occurs.
 */
export function stopStringCut(tok: TextTokenizer, ids: readonly number[], stops: readonly string[]): number | undefined {
  if (!stops.length) return undefined;
  const full = tok.decode(ids, { skipSpecialTokens: true });
  if (!stops.some((s) => full.includes(s))) return undefined;
  for (let n = 1; n <= ids.length; n++) {
    const text = tok.decode(ids.slice(0, n), { skipSpecialTokens: true });
    if (stops.some((s) => text.includes(s))) return n;
  }
  return undefined;
}

/** Samples rollouts from a policy; one generator (inference model + runtime session) per call. */
export class PolicySampler {
  private readonly stopTokens: number[];

  constructor(
    /** The model generation runs on (without LoRA adapters: merged weights are passed in). */
    private readonly model: TransformerModel,
    private readonly tok: TextTokenizer,
    private readonly cfg: SamplingConfig,
    private readonly runner: GeneratorOptions = {},
    /** Rows per generate call. */
    private readonly batchRows = 64,
  ) {
    checkSamplingConfig(cfg);
    const eos = [tok.eosTokenId, model.config.eosTokenId].flat();
    this.stopTokens = [...new Set(eos.filter((x): x is number => typeof x === 'number'))];
  }

  /** k completions for each prompt (token ids given), with the policy weights `weights`, seeded by `seed`. */
  async sample(weights: Weights, prompts: readonly RolloutPrompt[], promptIds: readonly (readonly number[])[], seed: number): Promise<Rollout> {
    const k = this.cfg.numGenerations;
    const rows = promptIds.flatMap((p) => Array.from({ length: k }, () => p));
    const rng = new Rng(seed).derive('rollout');
    const gen = await Generator.create(this.model, weights, this.runner);
    const completions: Completion[] = [];
    try {
      for (let start = 0; start < rows.length; start += this.batchRows) {
        const out = await gen.generate(rows.slice(start, start + this.batchRows), {
          maxNewTokens: this.cfg.maxCompletionLength,
          temperature: this.cfg.temperature,
          ...(this.cfg.topK ? { topK: this.cfg.topK } : {}),
          ...(this.cfg.topP !== undefined ? { topP: this.cfg.topP } : {}),
          stopTokens: this.stopTokens,
          padTokenId: this.tok.padTokenId ?? this.stopTokens[0] ?? 0,
          vocabLimit: this.tok.vocabSize,
          seed: rng.int(0x7fffffff),
        });
        out.forEach((g, i) => completions.push(this.completion(Math.floor((start + i) / k), g.tokens, g.logprobs, g.finishReason === 'stop')));
      }
    } finally {
      await gen.dispose();
    }
    return { prompts, promptIds, completions, k };
  }

  private completion(promptIndex: number, ids: readonly number[], logprobs: readonly number[], stopped: boolean): Completion {
    const cut = stopStringCut(this.tok, ids, this.cfg.stopStrings ?? []);
    const n = cut ?? ids.length;
    const kept = ids.slice(0, n);
    return { promptIndex, ids: kept, logprobs: logprobs.slice(0, n), text: this.tok.decode(kept, { skipSpecialTokens: true }), terminated: stopped || cut !== undefined };
  }
}

/** TRL's completion metrics of a rollout (lengths in tokens; `clipped_ratio` = share cut at the length limit). */
export function completionMetrics(completions: readonly Completion[]): Record<string, number> {
  const lengths = completions.map((c) => c.ids.length);
  const term = completions.filter((c) => c.terminated).map((c) => c.ids.length);
  const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return {
    'completions/mean_length': mean(lengths),
    'completions/min_length': lengths.length ? Math.min(...lengths) : 0,
    'completions/max_length': lengths.length ? Math.max(...lengths) : 0,
    'completions/clipped_ratio': completions.length ? 1 - term.length / completions.length : 0,
    'completions/mean_terminated_length': mean(term),
    'completions/min_terminated_length': term.length ? Math.min(...term) : 0,
    'completions/max_terminated_length': term.length ? Math.max(...term) : 0,
  };
}

/** The weights a sampler runs for `model` from its current parameter values: LoRA adapters merged into the base. */
export function samplerWeights(model: TransformerModel, current: ReadonlyMap<string, Float32Array>): Weights {
  const w: Weights = new Map();
  for (const p of model.params) w.set(p.name, { shape: [...p.shape], data: current.get(p.name) as Float32Array });
  return model.lora ? mergeLora(model, w) : w;
}

/** The model a sampler runs for the policy `model`: with LoRA the base without adapters (see {@link samplerWeights}). */
export function samplerModel(model: TransformerModel): TransformerModel {
  return model.lora ? buildModel(model.config, 'lm', { maxLength: model.maxLength }) : model;
}

/** The sampling seed of one rollout (`label`, e.g. `rollout-3`) of a run seeded `seed`: resumed runs sample the same. */
export function rolloutSeed(seed: number, label: string): number {
  return new Rng(seed).derive(label).int(0x7fffffff);
}

/** Each completion of a rollout with its prompt's ids, as the token scorers take them. */
export function rolloutRows(rollout: Rollout): ScoredRow[] {
  return rollout.completions.map((c) => ({ promptIds: rollout.promptIds[c.promptIndex] as readonly number[], completionIds: c.ids }));
}

/** Each completion of a rollout with its prompt, as the reward functions take them. */
export function rolloutRewardSamples(rollout: Rollout): RewardSample[] {
  return rollout.completions.map((c) => ({ prompt: rollout.prompts[c.promptIndex] as RolloutPrompt, completion: c.text, completionIds: c.ids, terminated: c.terminated }));
}

/** Prompt + completion tokens of a rollout's completions (TRL's `num_tokens` counts these). */
export function rolloutTokens(rollout: Rollout): number {
  return rollout.completions.reduce((n, c) => n + (rollout.promptIds[c.promptIndex] as readonly number[]).length + c.ids.length, 0);
}
