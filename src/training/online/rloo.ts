/**
 * RLOO (Ahmadian et al. 2024, "Back to Basics", arXiv 2402.14740), as TRL's current RLOOTrainer: k completions per
 * prompt; the sequence-level KL to the reference (sum over tokens of k1 = log pi_old - log pi_ref) times beta is
 * subtracted from each reward; the advantage is the reward minus the mean reward of the other k - 1 completions
 * of the prompt (advantages.ts `rlooAdvantages`, optionally normalized over the batch); the policy loss treats the
 * completion as one action with a clipped sequence-level ratio (../lossesRl.ts `sequencePolicyLossGraph`).
 */
import type { Hyperparameters } from '../hyper';
import { klPenalizedRewards, rlooAdvantages } from './advantages';
import { onlineHyperparameters, type OnlineMethod } from './onlineMethod';

export interface RlooConfig {
  readonly numGenerations: number;
  /** Weight of the sequence-level KL folded into the reward (TRL 0.05); 0 loads no reference. */
  readonly beta: number;
  readonly epsilon: number;
  readonly epsilonHigh: number;
  readonly normalizeAdvantages: boolean;
  readonly numIterations: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly maxCompletionLength: number;
  readonly maskTruncatedCompletions: boolean;
}

/** RLOO config from a run spec's hyperparameters (TRL names; defaults from the RLOO card). */
export function rlooConfig(h: Hyperparameters = {}): RlooConfig {
  const r = onlineHyperparameters('rloo', h);
  const epsilon = r.number('epsilon');
  const high = r.number('epsilon_high');
  const cfg: RlooConfig = {
    numGenerations: r.number('num_generations'),
    beta: r.number('beta'),
    epsilon,
    epsilonHigh: high > 0 ? high : epsilon,
    normalizeAdvantages: r.boolean('normalize_advantages'),
    numIterations: r.number('num_iterations'),
    temperature: r.number('temperature'),
    topK: r.number('top_k'),
    topP: r.number('top_p'),
    maxCompletionLength: r.number('max_completion_length'),
    maskTruncatedCompletions: r.boolean('mask_truncated_completions'),
  };
  if (!(Number.isInteger(cfg.numGenerations) && cfg.numGenerations >= 2)) throw new Error(`hyperparameters.num_generations: expected an integer >= 2 (a group needs peers), got ${cfg.numGenerations}`);
  if (!(Number.isInteger(cfg.numIterations) && cfg.numIterations >= 1)) throw new Error(`hyperparameters.num_iterations: expected an integer >= 1, got ${cfg.numIterations}`);
  if (!(cfg.epsilon > 0 && cfg.epsilon < 1 && cfg.epsilonHigh > 0)) throw new Error(`hyperparameters.epsilon / epsilon_high: expected 0 < epsilon < 1 and epsilon_high > 0, got ${cfg.epsilon} / ${cfg.epsilonHigh}`);
  return cfg;
}

/** The RLOO method for the online trainer. */
export function rlooMethod(cfg: RlooConfig, stopStrings: readonly string[] = []): OnlineMethod {
  return {
    method: 'rloo',
    sampling: { numGenerations: cfg.numGenerations, temperature: cfg.temperature, topK: cfg.topK, topP: cfg.topP, maxCompletionLength: cfg.maxCompletionLength, stopStrings },
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
