/**
 * SimPO (Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward",
 * arXiv 2405.14734): its config, its loss graph and its trainer plan. Reference-free: the reward is beta times
 * the mean-token log-prob, with a target margin gamma (TRL's simpo_gamma, absolute). `cpo_alpha` > 0 adds an NLL
 * term on chosen completions (CPO-SimPO).
 */
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { EncodedPair } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan } from './preference';
import { batchMean, chosenNllGraph, implicitRewardRule, pairImplicitRewards, pairMetrics, type LossTensors, type PairLogpTensors } from './shared';

/** What the SimPO loss needs. */
export interface SimpoLossConfig {
  /** beta (TRL default 0.1; the paper's configs use about 2). */
  readonly beta: number;
  /** gamma: the absolute target margin, TRL's `simpo_gamma` (default 0.5). */
  readonly gamma: number;
  /** Optional weight of an added NLL(y+) term (TRL's `cpo_alpha` for CPO-SimPO); 0 = pure SimPO. */
  readonly nllWeight?: number;
}

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

/**
 * SimPO (Meng et al. 2024, eq. 6): u = l(y+)/|y+| - l(y-)/|y-|; loss = -log sigmoid(beta u - gamma), no reference
 * model; plus nllWeight * NLL(y+) when set (CPO-SimPO). Rewards are beta * mean-token log pi (TRL's CPO trainer
 * logs them so).
 */
export function simpoLossGraph(p: PairLogpTensors, cfg: SimpoLossConfig): LossTensors {
  const lc = op.div(p.policyChosen, p.chosenTokens);
  const lr = op.div(p.policyRejected, p.rejectedTokens);
  const losses = op.neg(nn.logSigmoid(op.sub(op.mul(op.sub(lc, lr), cfg.beta), cfg.gamma)));
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const w = cfg.nllWeight ?? 0;
  const loss = w !== 0 ? op.add(batchMean(losses), op.mul(nll, w)) : batchMean(losses);
  const metrics = pairMetrics(p, lc, lr, pairImplicitRewards(implicitRewardRule('simpo', cfg.beta), p));
  metrics.nll_loss = op.stopGradient(nll);
  return { loss, losses, metrics };
}

export function createSimpoPlan(opts: PlanOptions<EncodedPair>, cfg: SimpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'simpo',
    reference: 'none',
    loss: (p) => simpoLossGraph(p, { beta: cfg.beta, gamma: cfg.gamma, nllWeight: cfg.cpoAlpha }),
    implicitReward: implicitRewardRule('simpo', cfg.beta),
  });
}
