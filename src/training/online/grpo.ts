/**
 * GRPO (Shao et al. 2024, "DeepSeekMath", arXiv 2402.03300), as TRL's GRPOTrainer: a group of k completions per
 * prompt, advantages = rewards standardized within the group (advantages.ts `grpoAdvantages`, `scale_rewards`),
 * the per-token clipped ratio loss with DAPO's clip-higher and an optional beta * k3 KL to the reference
 * (../lossesRl.ts `clippedPolicyLossGraph`), aggregated by `loss_type` (grpo / dr_grpo / dapo).
 */
import { GRPO_LOSS_TYPE_IDS, IMPORTANCE_SAMPLING_LEVELS, SCALE_REWARDS, type GrpoLossType, type ImportanceSamplingLevel, type ScaleRewards } from '../../core/methods';
import type { Hyperparameters } from '../hyper';
import { grpoAdvantages } from './advantages';
import { groupPolicyConfig, groupSampling, oneOf, onlineHyperparameters, type GroupPolicyConfig, type OnlineMethod } from './onlineMethod';

export interface GrpoConfig extends GroupPolicyConfig {
  readonly scaleRewards: ScaleRewards;
  readonly lossType: GrpoLossType;
  readonly importanceSamplingLevel: ImportanceSamplingLevel;
}

/** GRPO config from a run spec's hyperparameters (TRL names; defaults and options from the GRPO card). */
export function grpoConfig(h: Hyperparameters = {}): GrpoConfig {
  const r = onlineHyperparameters('grpo', h);
  const cfg: GrpoConfig = {
    ...groupPolicyConfig(r),
    scaleRewards: oneOf('scale_rewards', r.string('scale_rewards'), SCALE_REWARDS),
    lossType: oneOf('loss_type', r.string('loss_type'), GRPO_LOSS_TYPE_IDS),
    importanceSamplingLevel: oneOf('importance_sampling_level', r.string('importance_sampling_level'), IMPORTANCE_SAMPLING_LEVELS),
  };
  if (!(cfg.beta >= 0)) throw new Error(`hyperparameters.beta: expected >= 0, got ${cfg.beta}`);
  return cfg;
}

/** The GRPO method for the online trainer. */
export function grpoMethod(cfg: GrpoConfig, stopStrings: readonly string[] = []): OnlineMethod {
  return {
    method: 'grpo',
    sampling: groupSampling(cfg, stopStrings),
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
