/**
 * Memory and time estimates for a run, from the model's size, so the launch form can say "model too large for
 * memory" before a session starts (and runs out of memory an hour in: a top complaint about DPO).
 *
 * Memory (bytes), per component:
 * - weights: params * bytes(dtype); a frozen reference model (DPO, KTO, PPO, ...) the same again, unless LoRA is on
 *   (the reference is the base with adapters off) or reference log-probs are precomputed;
 * - gradients: trainable * bytes(dtype); AdamW moments: trainable * 8 (two float32 moments), plus a float32 master
 *   copy (trainable * 4) when training in float16;
 * - activations kept for the backward pass, per layer s*b*h*(34 + 5*a*s/h) bytes at 16 bits (Korthikanti et al.
 *   2022, "Reducing Activation Recomputation in Large Transformer Models", eq. 1), doubled for float32;
 * - logits: b*s*V float32 values, times 2 (logits and their gradient / log-softmax).
 * `b` counts sequences: a preference pair is 2 (chosen + rejected), a KTO example is 2 (its completion and the
 * mismatched one for z0), an online group counts each completion.
 *
 * Time: training FLOPs per token ~ 6 N (forward 2 N + backward 4 N; Kaplan et al. 2020, sec. 2.1) plus attention
 * 6 * layers * s * d; with LoRA the weight-gradient half of the backward is skipped (~4 N). A reference or reward
 * forward adds 2 N per token; generation adds 2 N per generated token. Seconds = FLOPs / the device's sustained
 * FLOP/s, which the caller supplies (measured by a benchmark or a preset): this is an order-of-magnitude estimate.
 */
import { methodCard, type MethodId } from '../methods';
import type { RunSpec } from './spec';

export interface ModelShape {
  readonly params: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly heads: number;
  readonly vocabSize: number;
  /** The model's position limit (max_position_embeddings); the loader cuts data.maxLength to it. */
  readonly maxPositions?: number;
}

export interface DeviceCapacity {
  /** Memory the run may use, in bytes. */
  readonly memoryBytes: number;
  /** Sustained training throughput, FLOP/s. */
  readonly flopsPerSecond: number;
}

export interface MemoryEstimate {
  readonly weights: number;
  readonly reference: number;
  /** Reward and value models of online methods (PPO trains a value model too). */
  readonly rewardAndValue: number;
  readonly gradients: number;
  readonly optimizer: number;
  readonly activations: number;
  readonly logits: number;
  readonly total: number;
}

export interface RunEstimate {
  readonly trainableParams: number;
  /** Sequences per micro-batch, as the model sees them. */
  readonly sequencesPerMicroBatch: number;
  readonly memory: MemoryEstimate;
  readonly flopsPerStep: number;
  readonly secondsPerStep: number;
  readonly fits: boolean;
  /** Plain sentences for the launch form ("model too large for memory: ..."). */
  readonly warnings: string[];
}

export type EstimateSpec = Pick<RunSpec, 'method' | 'batchSize' | 'gradientAccumulationSteps' | 'data' | 'dtype' | 'lora' | 'hyperparameters'>;

const GiB = 1024 ** 3;
const fmtGiB = (b: number): string => `${(b / GiB).toFixed(b < 10 * GiB ? 2 : 1)} GiB`;

/** LoRA parameters: r * (d_in + d_out) per adapted square projection of each layer (q/v by default). */
export function loraParams(model: ModelShape, lora: NonNullable<RunSpec['lora']>): number {
  const modules = lora.targetModules.length || 2;
  return model.layers * modules * lora.r * 2 * model.hiddenSize;
}

function sequencesPerExample(method: MethodId): number {
  switch (method) {
    case 'reward':
    case 'dpo':
    case 'orpo':
    case 'simpo':
    case 'cpo':
    case 'online-dpo':
    case 'kto':
      return 2;
    default:
      // SFT, regression and PPO: one sequence per example; RLOO/GRPO: batchSize counts completions already
      // (a multiple of num_generations).
      return 1;
  }
}

/** Estimates memory and step time of a run; `warnings` says when it will not fit. */
export function estimateRun(model: ModelShape, spec: EstimateSpec, device: DeviceCapacity): RunEstimate {
  const card = methodCard(spec.method);
  const bytes = spec.dtype === 'float16' ? 2 : 4;
  const trainable = spec.lora ? loraParams(model, spec.lora) : model.params;
  const seqs = spec.batchSize * sequencesPerExample(spec.method);
  // The model is built for min(data.maxLength, its positions) tokens (session/model.ts), so that is what is sized.
  const s = Math.min(spec.data.maxLength, model.maxPositions ?? Infinity);
  const { hiddenSize: h, heads: a, layers: L, vocabSize: V } = model;

  const weights = model.params * bytes + (spec.lora ? trainable * bytes : 0);
  const needsRef = card.needsReference && !(spec.method === 'grpo' && spec.hyperparameters.beta === 0) && !(spec.method === 'rloo' && spec.hyperparameters.beta === 0);
  const refKept = needsRef && !spec.lora && spec.hyperparameters.precompute_ref_log_probs !== true;
  const reference = refKept ? model.params * bytes : 0;
  // A reward model the size of the policy; PPO's value model is another copy, trained (weights + grads + Adam).
  const rewardAndValue = (card.needsRewardModel ? model.params * bytes : 0) + (spec.method === 'ppo' ? model.params * (bytes + bytes + 8) : 0);
  const gradients = trainable * bytes;
  const optimizer = trainable * 8 + (bytes === 2 ? trainable * 4 : 0);
  const activations = L * s * seqs * h * (34 + (5 * a * s) / h) * (bytes / 2);
  const logits = seqs * s * V * 4 * 2;
  const total = weights + reference + rewardAndValue + gradients + optimizer + activations + logits;

  // FLOPs of one optimizer step (all micro-batches).
  const tokens = seqs * s * spec.gradientAccumulationSteps;
  const perToken = (spec.lora ? 4 : 6) * model.params + 6 * L * s * h;
  let flops = perToken * tokens;
  if (needsRef && spec.hyperparameters.precompute_ref_log_probs !== true) flops += 2 * model.params * tokens;
  if (card.family === 'online-rl') {
    const gen = Number(spec.hyperparameters.max_completion_length ?? spec.hyperparameters.response_length ?? spec.hyperparameters.max_new_tokens ?? 0);
    flops += 2 * model.params * gen * seqs * spec.gradientAccumulationSteps; // sampling
    if (card.needsRewardModel) flops += 2 * model.params * tokens; // scoring
  }
  const secondsPerStep = flops / device.flopsPerSecond;

  const warnings: string[] = [];
  // A data.maxLength the user chose that the model cannot hold is worth a word; the method's default is not theirs.
  const cut = s < spec.data.maxLength ? `data.maxLength ${spec.data.maxLength} is longer than the model's ${s} positions: sequences are cut to ${s} tokens.` : undefined;
  if (cut && spec.data.maxLength !== card.defaults.maxLength) warnings.push(cut);
  const fits = total <= device.memoryBytes;
  if (!fits) {
    const hints = [
      !spec.lora ? 'turn on LoRA' : undefined,
      spec.batchSize > 1 ? 'lower the batch size (raise gradient accumulation to keep the effective batch)' : undefined,
      'lower data.maxLength',
      refKept ? 'precompute reference log-probs' : undefined,
    ].filter(Boolean);
    warnings.push(`model too large for memory: the run needs about ${fmtGiB(total)}${cut ? ` at the model's ${s} positions` : ''}, the device has ${fmtGiB(device.memoryBytes)}. Try: ${hints.join('; ')}.`);
  } else if (total > 0.9 * device.memoryBytes) {
    warnings.push(`the run needs about ${fmtGiB(total)} of ${fmtGiB(device.memoryBytes)}: little room to spare.`);
  }
  return {
    trainableParams: trainable,
    sequencesPerMicroBatch: seqs,
    memory: { weights, reference, rewardAndValue, gradients, optimizer, activations, logits, total },
    flopsPerStep: flops,
    secondsPerStep,
    fits,
    warnings,
  };
}
