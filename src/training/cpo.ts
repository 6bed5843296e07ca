/**
 * CPO trainer (Xu et al. 2024, "Contrastive Preference Optimization", arXiv 2401.08417): the sigmoid preference
 * loss on summed log-probs with no reference model, plus alpha * NLL(y+) (token-level mean over the batch's chosen
 * tokens, TRL's convention), optional label smoothing.
 */
import { cpoLossGraph } from './losses';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { EncodedPair } from './encode';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan, summedReward } from './preference';

export interface CpoTrainerConfig {
  readonly beta: number;
  /** alpha: weight of NLL(y+) (TRL default 1). */
  readonly alpha: number;
  readonly labelSmoothing: number;
}

export function cpoConfig(h: Hyperparameters = {}): CpoTrainerConfig {
  const r = hyperparameters('cpo', h);
  return { beta: r.number('beta'), alpha: r.number('cpo_alpha'), labelSmoothing: r.number('label_smoothing') };
}

export function createCpoPlan(opts: PlanOptions<EncodedPair>, cfg: CpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'cpo',
    reference: 'none',
    loss: (p) => cpoLossGraph(p, cfg),
    implicitReward: summedReward(cfg.beta),
  });
}
