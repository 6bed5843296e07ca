/**
 * ORPO trainer (Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model",
 * arXiv 2403.07691): NLL(y+) - lambda * log sigmoid(log odds ratio), odds from mean-token probabilities; no
 * reference model. TRL calls lambda `beta` (default 0.1).
 */
import { orpoLossGraph } from './losses';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { EncodedPair } from './encode';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan, meanTokenReward } from './preference';

export interface OrpoTrainerConfig {
  /** lambda, the weight of the odds-ratio term (TRL's `beta`). */
  readonly lambda: number;
}

export function orpoConfig(h: Hyperparameters = {}): OrpoTrainerConfig {
  return { lambda: hyperparameters('orpo', h).number('beta') };
}

export function createOrpoPlan(opts: PlanOptions<EncodedPair>, cfg: OrpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'orpo',
    reference: 'none',
    loss: (p) => orpoLossGraph(p, cfg),
    // TRL's ORPO logs rewards = beta * mean-token log pi.
    implicitReward: meanTokenReward(cfg.lambda),
  });
}
