/**
 * DPO (Rafailov et al. 2023, "Direct Preference Optimization", arXiv 2305.18290): its config, its loss graph
 * with the loss types of the DPO card (src/core/methods.ts: sigmoid, ipo, hinge, cdpo, robust, sigmoid_norm) and
 * its trainer plan. The reference log-probs come from a frozen copy of the starting policy inside the training
 * graph, or are precomputed once (`precompute_ref_log_probs`), which keeps no reference weights in memory during
 * training.
 */
import type { Tensor } from '../engine/graph/graph';
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import { DPO_LOSS_TYPE_IDS, isDpoLossType, type DpoLossType } from '../core/methods';
import type { EncodedPair } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan } from './preference';
import { batchMean, implicitRewardRule, pairImplicitRewards, pairMetrics, type LossTensors, type PairLogpTensors } from './shared';

/** What the DPO loss needs. */
export interface DpoLossConfig {
  readonly lossType: DpoLossType;
  /** beta: strength of the implicit KL leash (TRL default 0.1). */
  readonly beta: number;
  /** eps for `cdpo` and `robust` (label noise rate); TRL's `label_smoothing`, default 0. */
  readonly labelSmoothing?: number;
}

export interface DpoTrainerConfig extends DpoLossConfig {
  readonly labelSmoothing: number;
  /** Compute reference log-probs once before training instead of running the reference in every step. */
  readonly precomputeRefLogProbs: boolean;
}

/** DPO config from a run spec's hyperparameters (TRL names). */
export function dpoConfig(h: Hyperparameters = {}): DpoTrainerConfig {
  const r = hyperparameters('dpo', h);
  const lossType = r.string('loss_type');
  if (!isDpoLossType(lossType)) throw new Error(`hyperparameters.loss_type: unknown DPO loss type "${lossType}" (one of ${DPO_LOSS_TYPE_IDS.join(', ')})`);
  return { beta: r.number('beta'), lossType, labelSmoothing: r.number('label_smoothing'), precomputeRefLogProbs: r.boolean('precompute_ref_log_probs') };
}

/** True for the loss types whose log-ratios are divided by the completion token count (mean-token rho). */
export function dpoUsesMeanLogps(lossType: DpoLossType): boolean {
  return lossType === 'ipo' || lossType === 'sigmoid_norm';
}

/** The per-pair DPO loss of `cfg.lossType` on beta h (h on mean-token rho where {@link dpoUsesMeanLogps}). */
function dpoLosses(cfg: DpoLossConfig, h: Tensor, eps: number): Tensor {
  const { beta } = cfg;
  const bh = op.mul(h, beta);
  switch (cfg.lossType) {
    case 'sigmoid':
    case 'sigmoid_norm':
      // Rafailov et al. 2023, eq. 7: -log sigmoid(beta h). sigmoid_norm: the same on mean-token rho
      // (length normalization, Meng et al. 2024 "SimPO" sec. 2.2; TRL's loss_type="sigmoid_norm").
      return op.neg(nn.logSigmoid(bh));
    case 'cdpo':
      // Conservative DPO (Mitchell 2023, "A note on DPO with noisy preferences"):
      // -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h).
      return op.sub(op.mul(nn.logSigmoid(bh), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(bh)), eps));
    case 'robust':
      // Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO", eq. 9, the unbiased loss):
      // [-(1-eps) log sig(beta h) + eps log sig(-beta h)] / (1 - 2 eps), eps in [0, 0.5).
      return op.div(op.add(op.mul(nn.logSigmoid(bh), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(bh)), eps)), 1 - 2 * eps);
    case 'hinge':
      // SLiC (Zhao et al. 2023, eq. 2, calibration margin 1 and beta as scale): max(0, 1 - beta h).
      return op.relu(op.sub(1, bh));
    case 'ipo': {
      // IPO (Azar et al. 2023, eq. 17): (h_bar - 1/(2 beta))^2 with mean-token log-ratios (TRL's choice).
      const d = op.sub(h, 1 / (2 * beta));
      return op.mul(d, d);
    }
  }
}

/**
 * DPO and its variants on h = rho(y+) - rho(y-) (loss types in {@link dpoLosses}). Metrics (TRL's DPO trainer):
 * rewards = beta * rho and logps = l on SUMMED log-probs for every loss type (the mean-token division of `ipo` /
 * `sigmoid_norm` only enters the loss), so runs with different loss types plot on one scale.
 */
export function dpoLossGraph(p: PairLogpTensors, cfg: DpoLossConfig): LossTensors {
  if (!p.refChosen || !p.refRejected) throw new Error('dpoLossGraph: refChosen and refRejected are required (DPO uses a reference model)');
  const eps = cfg.labelSmoothing ?? 0;
  if (cfg.lossType === 'robust' && !(eps >= 0 && eps < 0.5)) throw new RangeError(`robust DPO needs labelSmoothing in [0, 0.5), got ${eps}`);
  const rhoC = op.sub(p.policyChosen, p.refChosen);
  const rhoR = op.sub(p.policyRejected, p.refRejected);
  const h = dpoUsesMeanLogps(cfg.lossType) ? op.sub(op.div(rhoC, p.chosenTokens), op.div(rhoR, p.rejectedTokens)) : op.sub(rhoC, rhoR);
  const losses = dpoLosses(cfg, h, eps);
  const rewards = pairImplicitRewards(implicitRewardRule('dpo', cfg.beta), p);
  return { loss: batchMean(losses), losses, metrics: pairMetrics(p, p.policyChosen, p.policyRejected, rewards) };
}

/** The DPO trainer plan. */
export function createDpoPlan(opts: PlanOptions<EncodedPair>, cfg: DpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'dpo',
    reference: cfg.precomputeRefLogProbs ? 'precomputed' : 'in-graph',
    loss: (p) => dpoLossGraph(p, cfg),
    implicitReward: implicitRewardRule('dpo', cfg.beta),
  });
}
