/**
 * The online DPO parts of an online session (online.ts runs the rest: data, model, rewards, resume, the loop):
 *
 *   config    the spec's hyperparameters (the online-dpo card's TRL names) and generation.stop
 *   schedule  as TRL's OnlineDPOTrainer counts: batchSize prompts (pairs) per micro-batch, batchSize x
 *             gradientAccumulationSteps prompts per rollout, one optimizer step per rollout; maxSteps or epochs
 *             over the prompts
 *   trainer   OnlineDpoTrainer (src/training/online/onlineDpoTrainer.ts)
 */
import type { RunSpec } from '../core/runs/spec';
import type { OptimConfig } from '../engine/optim/config';
import { onlineDpoConfig, type OnlineDpoConfig } from '../training/online/onlineDpo';
import { OnlineDpoTrainer } from '../training/online/onlineDpoTrainer';
import type { RewardOptions, WeightedReward } from '../training/online/rewards/rewardFunction';
import type { RolloutPrompt } from '../training/online/rollout';
import type { OnlinePolicyOptions, RewardedPolicyOptions } from '../training/online/runTrainer';
import type { RunModel } from './model';
import type { OnlineSchedule } from './onlineLoop';
import { SessionInputError } from './types';

/** The spec's online DPO config; a bad value is a SessionInputError naming the field. */
export function sessionOnlineDpoConfig(spec: RunSpec): OnlineDpoConfig {
  try {
    return onlineDpoConfig(spec.hyperparameters);
  } catch (e) {
    throw new SessionInputError((e as Error).message);
  }
}

/** Rollouts (= optimizer steps) and prompts per rollout of an online DPO run over `prompts` prompts. */
export function onlineDpoSchedule(spec: RunSpec, prompts: number): OnlineSchedule {
  const promptsPerStep = spec.batchSize * spec.gradientAccumulationSteps;
  const rollouts = spec.maxSteps > 0 ? spec.maxSteps : Math.max(1, Math.ceil((spec.epochs * prompts) / promptsPerStep));
  return { rollouts, total: rollouts, stepsPerRollout: 1, promptsPerStep, prompts };
}

/** What online.ts resolves from the spec for every online trainer. */
export interface OnlineTrainerBasics {
  readonly rewards: readonly WeightedReward[];
  readonly rewardOptions: RewardOptions;
  readonly maxPromptLength: number;
  readonly optim: OptimConfig;
  readonly threads?: number;
}

/** What every online trainer of a session starts from: the run's model, its prompts, optimizer, seed and device. */
export function sessionPolicyOptions(spec: RunSpec, rm: RunModel, prompts: readonly RolloutPrompt[], basics: OnlineTrainerBasics): OnlinePolicyOptions {
  return { model: rm.model, weights: rm.weights, tokenizer: rm.tokenizer, prompts, optim: basics.optim, seed: spec.seed, maxPromptLength: basics.maxPromptLength, device: spec.device, ...(basics.threads ? { threads: basics.threads } : {}) };
}

/** {@link sessionPolicyOptions} with the run's reward functions. */
export function sessionRewardedOptions(spec: RunSpec, rm: RunModel, prompts: readonly RolloutPrompt[], basics: OnlineTrainerBasics): RewardedPolicyOptions {
  return { ...sessionPolicyOptions(spec, rm, prompts, basics), rewards: basics.rewards, rewardOptions: basics.rewardOptions };
}

/** The online DPO trainer of a session. */
export async function createOnlineDpoTrainer(spec: RunSpec, rm: RunModel, cfg: OnlineDpoConfig, prompts: readonly RolloutPrompt[], sched: OnlineSchedule, basics: OnlineTrainerBasics): Promise<OnlineDpoTrainer> {
  return OnlineDpoTrainer.create({
    ...sessionRewardedOptions(spec, rm, prompts, basics),
    config: cfg,
    stopStrings: spec.generation?.stop ?? [],
    promptsPerStep: sched.promptsPerStep,
    microBatchPairs: spec.batchSize,
  });
}
