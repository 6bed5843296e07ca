/**
 * The PPO part of an online session (online.ts runs the rest: data, model, reward functions, resume, the loop):
 *
 *   batch     TRL's sizes: batchSize completions per micro-batch, batchSize x gradientAccumulationSteps per
 *             mini-batch (one optimizer step), that x num_mini_batches completions (= prompts) per rollout
 *   steps     each rollout is num_ppo_epochs x num_mini_batches optimizer steps; maxSteps (rounded up to whole
 *             rollouts) or epochs over the prompts
 *   value     the value model starts from the run's first reward-model reward when its architecture is the
 *             policy's (TRL loads its value model from the reward model), else from the policy with a fresh head
 *   state     checkpoints carry the KL controller's kl_coef beside the parameters (onlineLoop.ts `extra`)
 */
import * as path from 'node:path';
import type { RunSpec } from '../core/runs/spec';
import { loadHfModel } from '../engine/models/hfMapping';
import type { TransformerModel } from '../engine/models/transformer';
import type { OptimConfig } from '../engine/optim/config';
import { ppoConfig, type PpoConfig } from '../training/online/ppo';
import { PpoTrainer } from '../training/online/ppoTrainer';
import type { RewardOptions, WeightedReward } from '../training/online/rewards/rewardFunction';
import { rewardModelFolder } from '../training/online/rewards/rewardModelReward';
import type { RolloutPrompt } from '../training/online/rollout';
import { fitsValueModel, valueModelOf } from '../training/online/valueModel';
import type { EventSink } from './events';
import type { RunModel } from './model';
import { sessionRewardedOptions } from './onlineDpo';
import type { OnlineSchedule } from './onlineLoop';
import { SessionInputError } from './types';

/** The spec's PPO config; a bad value is a SessionInputError naming the hyperparameter. */
export function ppoSpecConfig(spec: RunSpec): PpoConfig {
  try {
    return ppoConfig(spec.hyperparameters);
  } catch (e) {
    throw new SessionInputError((e as Error).message);
  }
}

/** Rollouts, optimizer steps and prompts per rollout of a PPO run over `prompts` prompts (module comment). */
export function ppoSchedule(spec: RunSpec, cfg: PpoConfig, prompts: number): OnlineSchedule {
  const promptsPerStep = spec.batchSize * spec.gradientAccumulationSteps * cfg.numMiniBatches;
  if (promptsPerStep < 2) throw new SessionInputError('batchSize x gradientAccumulationSteps x hyperparameters.num_mini_batches must be >= 2 (PPO whitens its advantages over a rollout)');
  const per = cfg.numPpoEpochs * cfg.numMiniBatches;
  const rollouts = spec.maxSteps > 0 ? Math.ceil(spec.maxSteps / per) : Math.max(1, Math.ceil((spec.epochs * prompts) / promptsPerStep));
  return { rollouts, total: rollouts * per, stepsPerRollout: per, promptsPerStep, prompts };
}

/**
 * The weights the value model starts from: the first reward-model reward's when they fit the policy's value model;
 * else undefined (the policy with a fresh head), with a warning when there was a reward model that did not fit.
 */
export function valueModelStart(spec: RunSpec, policy: TransformerModel, baseDir: string, warn: (message: string) => void): Map<string, Float32Array> | undefined {
  const entry = spec.rewards?.functions.find((f) => f.kind === 'reward_model');
  if (!entry || !('path' in entry) || typeof entry.path !== 'string') return undefined;
  const loaded = loadHfModel(rewardModelFolder(path.resolve(baseDir, entry.path)));
  const w = new Map([...loaded.weights].map(([k, v]) => [k, v.data]));
  if (loaded.head === 'score' && fitsValueModel(valueModelOf(policy), w)) return w;
  warn(`the value model starts from the policy with a fresh head: the reward model "${entry.name}" has another architecture than the policy`);
  return undefined;
}

export interface PpoTrainerInputs {
  readonly spec: RunSpec;
  readonly rm: RunModel;
  readonly cfg: PpoConfig;
  readonly prompts: readonly RolloutPrompt[];
  readonly sched: OnlineSchedule;
  readonly rewards: readonly WeightedReward[];
  readonly rewardOptions: RewardOptions;
  readonly maxPromptLength: number;
  readonly optim: OptimConfig;
  readonly baseDir: string;
  readonly sink: EventSink;
  readonly threads?: number;
}

/** The PPO trainer of a session. */
export async function createPpoTrainer(x: PpoTrainerInputs): Promise<PpoTrainer> {
  const init = valueModelStart(x.spec, x.rm.model, x.baseDir, (message) => x.sink.warning({ message }));
  return PpoTrainer.create({
    ...sessionRewardedOptions(x.spec, x.rm, x.prompts, x),
    cfg: x.cfg,
    ...(init ? { valueInit: init } : {}),
    stopStrings: x.spec.generation?.stop ?? [],
    promptsPerStep: x.sched.promptsPerStep,
    microBatchRows: x.spec.batchSize,
  });
}
