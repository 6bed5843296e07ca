/**
 * CPO (Xu et al. 2024, "Contrastive Preference Optimization", arXiv 2401.08417): its config, its loss graph and
 * its trainer plan. The sigmoid preference loss on summed log-probs with no reference model, plus alpha * NLL(y+)
 * (token-level mean over the batch's chosen tokens, TRL's convention), optional label smoothing.
 */
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { EncodedPair } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan } from './preference';
import { batchMean, chosenNllGraph, implicitRewardRule, pairImplicitRewards, pairMetrics, type LossTensors, type PairLogpTensors } from './shared';

/** What the CPO loss needs. */
export interface CpoLossConfig {
  readonly beta: number;
  /** alpha: weight of NLL(y+) (TRL's `cpo_alpha`, default 1). */
  readonly alpha: number;
  readonly labelSmoothing?: number;
}

export interface CpoTrainerConfig extends CpoLossConfig {
  readonly labelSmoothing: number;
}

export function cpoConfig(h: Hyperparameters = {}): CpoTrainerConfig {
  const r = hyperparameters('cpo', h);
  return { beta: r.number('beta'), alpha: r.number('cpo_alpha'), labelSmoothing: r.number('label_smoothing') };
}

/**
 * CPO (Xu et al. 2024, eq. 3-4): -log sigmoid(beta (l(y+) - l(y-))) on summed log-probs, no reference, plus
 * alpha * NLL(y+) (token-level mean, {@link chosenNllGraph}); optional label smoothing as in cDPO. Rewards are
 * beta * l (summed), as TRL logs them.
 */
export function cpoLossGraph(p: PairLogpTensors, cfg: CpoLossConfig): LossTensors {
  const eps = cfg.labelSmoothing ?? 0;
  const z = op.mul(op.sub(p.policyChosen, p.policyRejected), cfg.beta);
  let losses = op.neg(nn.logSigmoid(z));
  if (eps !== 0) losses = op.sub(op.mul(nn.logSigmoid(z), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(z)), eps));
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const loss = op.add(batchMean(losses), op.mul(nll, cfg.alpha));
  const metrics = pairMetrics(p, p.policyChosen, p.policyRejected, pairImplicitRewards(implicitRewardRule('cpo', cfg.beta), p));
  metrics.nll_loss = op.stopGradient(nll);
  return { loss, losses, metrics };
}

export function createCpoPlan(opts: PlanOptions<EncodedPair>, cfg: CpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'cpo',
    reference: 'none',
    loss: (p) => cpoLossGraph(p, cfg),
    implicitReward: implicitRewardRule('cpo', cfg.beta),
  });
}
