/**
 * GRPO (Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300), as TRL's GRPOTrainer: a group of k completions per
 * prompt, advantages = rewards standardized within the group (advantages.ts `grpoAdvantages`, `scale_rewards`),
 * the per-token clipped ratio loss with DAPO's clip-higher and an optional beta * k3 KL to the reference
 * (../lossesRl.ts `clippedPolicyLossGraph`), aggregated by `loss_type` (grpo / dr_grpo / dapo).
 */
import { GRPO_LOSS_TYPE_IDS, IMPORTANCE_SAMPLING_LEVELS, SCALE_REWARDS, type GrpoLossType, type ImportanceSamplingLevel, type ScaleRewards } from '../../core/methods';
import type { Hyperparameters } from '../hyper';
import { grpoAdvantages } from './advantages';
import { oneOf, onlineHyperparameters, type OnlineMethod } from './onlineMethod';

export interface GrpoConfig {
  /** k, the group size (TRL `num_generations`). */
  readonly numGenerations: number;
  /** Weight of the k3 KL penalty; 0 (TRL's default) loads no reference. */
  readonly beta: number;
  readonly epsilon: number;
  /** Upper clip 1 + epsilon_high (the card's 0 = TRL's None = epsilon; DAPO uses 0.28). */
  readonly epsilonHigh: number;
  readonly scaleRewards: ScaleRewards;
  readonly lossType: GrpoLossType;
  readonly importanceSamplingLevel: ImportanceSamplingLevel;
  /** Updates per rollout (mu). */
  readonly numIterations: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly maxCompletionLength: number;
  readonly maskTruncatedCompletions: boolean;
}

/** GRPO config from a run spec's hyperparameters (TRL names; defaults and options from the GRPO card). */
export function grpoConfig(h: Hyperparameters = {}): GrpoConfig {
  const r = onlineHyperparameters('grpo', h);
  const epsilon = r.number('epsilon');
  const high = r.number('epsilon_high');
  const cfg: GrpoConfig = {
    numGenerations: r.number('num_generations'),
    beta: r.number('beta'),
    epsilon,
    epsilonHigh: high > 0 ? high : epsilon,
    scaleRewards: oneOf('scale_rewards', r.string('scale_rewards'), SCALE_REWARDS),
    lossType: oneOf('loss_type', r.string('loss_type'), GRPO_LOSS_TYPE_IDS),
    importanceSamplingLevel: oneOf('importance_sampling_level', r.string('importance_sampling_level'), IMPORTANCE_SAMPLING_LEVELS),
    numIterations: r.number('num_iterations'),
    temperature: r.number('temperature'),
    topK: r.number('top_k'),
    topP: r.number('top_p'),
    maxCompletionLength: r.number('max_completion_length'),
    maskTruncatedCompletions: r.boolean('mask_truncated_completions'),
  };
  if (!(Number.isInteger(cfg.numGenerations) && cfg.numGenerations >= 2)) throw new Error(`hyperparameters.num_generations: expected an integer >= 2 (a group needs peers), got ${cfg.numGenerations}`);
  if (!(Number.isInteger(cfg.numIterations) && cfg.numIterations >= 1)) throw new Error(`hyperparameters.num_iterations: expected an integer >= 1, got ${cfg.numIterations}`);
  if (!(cfg.beta >= 0)) throw new Error(`hyperparameters.beta: expected >= 0, got ${cfg.beta}`);
  if (!(cfg.epsilon > 0 && cfg.epsilon < 1 && cfg.epsilonHigh > 0)) throw new Error(`hyperparameters.epsilon / epsilon_high: expected 0 < epsilon < 1 and epsilon_high > 0, got ${cfg.epsilon} / ${cfg.epsilonHigh}`);
  return cfg;
}

/** The GRPO method for the online trainer. */
export function grpoMethod(cfg: GrpoConfig, stopStrings: readonly string[] = []): OnlineMethod {
  return {
    method: 'grpo',
    sampling: { numGenerations: cfg.numGenerations, temperature: cfg.temperature, topK: cfg.topK, topP: cfg.topP, maxCompletionLength: cfg.maxCompletionLength, stopStrings },
    loss: {
      kind: 'clipped',
      cfg: { epsilon: cfg.epsilon, epsilonHigh: cfg.epsilonHigh, beta: cfg.beta, lossType: cfg.lossType, maxCompletionLength: cfg.maxCompletionLength, importanceSamplingLevel: cfg.importanceSamplingLevel },
    },
    numIterations: cfg.numIterations,
    needsReference: cfg.beta > 0,
    maskTruncatedCompletions: cfg.maskTruncatedCompletions,
    advantages: (x) => {
      const a = grpoAdvantages(x.rewards, x.k, cfg.scaleRewards, x.valid);
      return { advantages: a.advantages, metrics: { frac_reward_zero_std: a.zeroStd.filter(Boolean).length / a.zeroStd.length } };
    },
  };
}
