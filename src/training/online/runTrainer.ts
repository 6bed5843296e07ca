/**
 * What the session's online loop (src/session/onlineLoop.ts) drives: one rollout and its updates per `step()`, the
 * state a checkpoint holds, and the policy's weights at the end. OnlineTrainer (GRPO, RLOO) and PpoTrainer
 * (PPO, with its value model and KL controller) both are one.
 */
import type { TrainState } from '../../engine/step/trainState';
import type { Trainer } from '../../engine/step/trainer';
import type { OnlineStepResult } from './onlineTrainer';

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
