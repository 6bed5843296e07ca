/**
 * SimPO trainer (Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward",
 * arXiv 2405.14734): reference-free, the reward is beta times the mean-token log-prob, with a target margin gamma
 * (TRL's simpo_gamma, absolute). `cpo_alpha` > 0 adds an NLL term on chosen completions (CPO-SimPO).
 */
import { simpoLossGraph } from './losses';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { EncodedPair } from './encode';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan, meanTokenReward } from './preference';

export interface SimpoTrainerConfig {
  readonly beta: number;
  /** gamma, absolute margin inside the sigmoid. */
  readonly gamma: number;
  /** Weight of NLL(y+) (0 = pure SimPO). */
  readonly cpoAlpha: number;
}

export function simpoConfig(h: Hyperparameters = {}): SimpoTrainerConfig {
  const r = hyperparameters('simpo', h);
  return { beta: r.number('beta'), gamma: r.number('simpo_gamma'), cpoAlpha: r.number('cpo_alpha') };
}

export function createSimpoPlan(opts: PlanOptions<EncodedPair>, cfg: SimpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'simpo',
    reference: 'none',
    loss: (p) => simpoLossGraph(p, { beta: cfg.beta, gamma: cfg.gamma, nllWeight: cfg.cpoAlpha }),
    implicitReward: meanTokenReward(cfg.beta),
  });
}
