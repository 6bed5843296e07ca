/**
 * ORPO (Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model",
 * arXiv 2403.07691): its config, its loss graph and its trainer plan. NLL(y+) - lambda * log sigmoid(log odds
 * ratio), odds from mean-token probabilities; no reference model. TRL calls lambda `beta` (default 0.1).
 */
import type { Tensor } from '../engine/graph/graph';
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { EncodedPair } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan } from './preference';
import { batchMean, chosenNllGraph, implicitRewardRule, pairImplicitRewards, pairMetrics, type LossTensors, type PairLogpTensors } from './shared';

/** ORPO's config, for the loss and the trainer alike. */
export interface OrpoTrainerConfig {
  /** lambda: weight of the odds-ratio term (TRL's `beta`, default 0.1). */
  readonly lambda: number;
}

export function orpoConfig(h: Hyperparameters = {}): OrpoTrainerConfig {
  return { lambda: hyperparameters('orpo', h).number('beta') };
}

/**
 * ORPO (Hong et al. 2024, eq. 6-7): with p = exp(mean-token log pi), logodds = log p - log(1 - p);
 * loss = NLL(y+) - lambda * mean log sigmoid(logodds(y+) - logodds(y-)). Metrics as TRL's ORPO trainer: rewards =
 * lambda * mean-token log pi, `log_odds_ratio` = mean log sigmoid(.), `log_odds_chosen` = mean logodds
 * difference, `nll_loss`.
 * log(1 - e^l) is computed directly (as TRL's log1p(-exp(l))): fine for mean-token log-probs below about -1e-4
 * in float32; closer to 0 (a completion with probability ~1 per token) loses relative precision.
 */
export function orpoLossGraph(p: PairLogpTensors, cfg: OrpoTrainerConfig): LossTensors {
  const lc = op.div(p.policyChosen, p.chosenTokens);
  const lr = op.div(p.policyRejected, p.rejectedTokens);
  const log1mExp = (l: Tensor): Tensor => op.log(op.sub(1, op.exp(l)));
  const logOdds = op.sub(op.sub(lc, lr), op.sub(log1mExp(lc), log1mExp(lr)));
  const ratio = nn.logSigmoid(logOdds);
  const losses = op.mul(ratio, -cfg.lambda);
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const metrics = pairMetrics(p, lc, lr, pairImplicitRewards(implicitRewardRule('orpo', cfg.lambda), p));
  metrics.nll_loss = op.stopGradient(nll);
  metrics.log_odds_ratio = batchMean(op.stopGradient(ratio));
  metrics.log_odds_chosen = batchMean(op.stopGradient(logOdds));
  return { loss: op.add(nll, batchMean(losses)), losses, metrics };
}

export function createOrpoPlan(opts: PlanOptions<EncodedPair>, cfg: OrpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'orpo',
    reference: 'none',
    loss: (p) => orpoLossGraph(p, cfg),
    implicitReward: implicitRewardRule('orpo', cfg.lambda),
  });
}
