/**
 * What the session's online loop (src/session/onlineLoop.ts) drives: one rollout and its updates per `step()`, the
 * state a checkpoint holds, and the policy's weights at the end. OnlineTrainer (GRPO, RLOO) and PpoTrainer
 * (PPO, with its value model and KL controller) both are one.
 */
import type { TransformerModel } from '../../engine/models/transformer';
import type { OptimConfig } from '../../engine/optim/config';
import type { RunnerOptions } from '../../engine/runtime/devices';
import type { TrainState } from '../../engine/step/trainState';
import type { StepResult, Trainer } from '../../engine/step/trainer';
import type { TextTokenizer } from '../../engine/tokenizer/tokenizer';
import type { OnlineStepResult } from './onlineTrainer';
import type { RewardOptions, WeightedReward } from './rewards/rewardFunction';
import type { RolloutPrompt } from './rollout';

/** What every online trainer starts from: the policy, its prompts, the optimizer, the seed and where it runs. */
export interface OnlinePolicyOptions extends RunnerOptions {
  readonly model: TransformerModel;
  /** Starting values of every parameter of `model`: the policy's start and its frozen reference. */
  readonly weights: ReadonlyMap<string, Float32Array>;
  readonly tokenizer: TextTokenizer;
  readonly prompts: readonly RolloutPrompt[];
  readonly optim: OptimConfig;
  readonly seed: number;
  /** Prompts keep their last this many tokens (TRL's max_prompt_length). */
  readonly maxPromptLength?: number;
}

/** An online trainer scored by the run's reward functions. */
export interface RewardedPolicyOptions extends OnlinePolicyOptions {
  readonly rewards: readonly WeightedReward[];
  readonly rewardOptions?: RewardOptions;
}

export interface OnlineTrainerState {
  readonly train: TrainState;
  readonly rollouts: number;
  readonly tokensSeen: number;
  /** Method state that is not parameters or optimizer state (PPO: the KL controller's `kl_coef`). */
  readonly extra?: Readonly<Record<string, number>>;
}

export interface OnlineRunTrainer {
  readonly device: Trainer['device'];
  /** Prompt + completion tokens of the rollouts so far (TRL's `num_tokens`). */
  readonly numTokens: number;
  /** Rollouts done so far. */
  readonly stepsDone: number;
  /** The policy's parameters now (frozen ones as given); other models' parameters are left out. */
  currentWeights(): Promise<Map<string, Float32Array>>;
  step(): Promise<OnlineStepResult>;
  state(): Promise<OnlineTrainerState>;
  restore(s: OnlineTrainerState): Promise<void>;
  dispose(): Promise<void>;
}

/** The policy's parameters now: the trained ones read from `trainer`, the frozen ones as given in `initial`. */
export async function trainedWeights(initial: ReadonlyMap<string, Float32Array>, trainer: Trainer): Promise<Map<string, Float32Array>> {
  const w = new Map(initial);
  for (const [k, v] of await trainer.getParams()) w.set(k, v.data);
  return w;
}

/** One optimizer step's metrics (a run of one step): loss, grad_norm, learning_rate and the graph's metrics. */
export function stepMetrics(res: StepResult): Record<string, number> & { readonly loss: number; readonly grad_norm: number; readonly learning_rate: number } {
  return { loss: res.losses[0] as number, grad_norm: res.gradNorms[0] as number, learning_rate: res.lrs[0] as number, ...graphMetrics(res) };
}

/** The graph's metrics of a run of one step. */
export function graphMetrics(res: StepResult): Record<string, number> {
  return Object.fromEntries(Object.entries(res.metrics).map(([k, v]) => [k, v[0] as number]));
}

/**
 * {@link stepMetrics} over a rollout's optimizer steps: each metric's mean, learning_rate the last step's. With
 * `finiteOnly` a step's NaN or infinite value is left out of its metric's mean, and a metric with no finite value
 * at all is left out.
 */
export function updateMetrics(updates: readonly StepResult[], finiteOnly = false): Record<string, number> {
  const steps = updates.map(stepMetrics);
  const out: Record<string, number> = {};
  for (const name of Object.keys(steps[0] ?? {})) {
    const vs = steps.map((m) => m[name] as number).filter((v) => !finiteOnly || Number.isFinite(v));
    if (vs.length) out[name] = name === 'learning_rate' ? (vs[vs.length - 1] as number) : vs.reduce((s, x) => s + x, 0) / vs.length;
  }
  return out;
}
