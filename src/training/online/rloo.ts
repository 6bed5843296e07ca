/**
 * RLOO (Ahmadian et al. 2024, "Back to Basics", arXiv 2402.14740), as TRL's current RLOOTrainer: k completions per
 * prompt; the sequence-level KL to the reference (sum over tokens of k1 = log pi_old - log pi_ref) times beta is
 * subtracted from each reward; the advantage is the reward minus the mean reward of the other k - 1 completions
 * of the prompt (advantages.ts `rlooAdvantages`, optionally normalized over the batch); the policy loss treats the
 * completion as one action with a clipped sequence-level ratio (../lossesRl.ts `sequencePolicyLossGraph`).
 */
import type { Hyperparameters } from '../hyper';
import { klPenalizedRewards, rlooAdvantages } from './advantages';
import { groupPolicyConfig, groupSampling, onlineHyperparameters, type GroupPolicyConfig, type OnlineMethod } from './onlineMethod';

export interface RlooConfig extends GroupPolicyConfig {
  readonly normalizeAdvantages: boolean;
}

/** RLOO config from a run spec's hyperparameters (TRL names; defaults from the RLOO card). */
export function rlooConfig(h: Hyperparameters = {}): RlooConfig {
  const r = onlineHyperparameters('rloo', h);
  return { ...groupPolicyConfig(r), normalizeAdvantages: r.boolean('normalize_advantages') };
}

/** The RLOO method for the online trainer. */
export function rlooMethod(cfg: RlooConfig, stopStrings: readonly string[] = []): OnlineMethod {
  return {
    method: 'rloo',
    sampling: groupSampling(cfg, stopStrings),
    loss: { kind: 'sequence', cfg: { epsilon: cfg.epsilon, epsilonHigh: cfg.epsilonHigh } },
    numIterations: cfg.numIterations,
    needsReference: cfg.beta > 0,
    maskTruncatedCompletions: cfg.maskTruncatedCompletions,
    advantages: (x) => {
      if (cfg.beta > 0 && !x.klSums) throw new Error('rloo: beta > 0 needs the completions\' KL to the reference');
      const rewards = cfg.beta > 0 && x.klSums ? klPenalizedRewards(x.rewards, x.klSums, cfg.beta) : x.rewards;
      const a = rlooAdvantages(rewards, x.k, cfg.normalizeAdvantages, x.valid);
      return { advantages: a.advantages, metrics: { frac_reward_zero_std: a.zeroStd.filter(Boolean).length / a.zeroStd.length } };
    },
  };
}
