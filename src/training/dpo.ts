/**
 * DPO trainer (Rafailov et al. 2023, "Direct Preference Optimization", arXiv 2305.18290) with the loss types of
 * ./losses.ts `dpoLossGraph`: sigmoid, ipo, hinge, robust, cdpo (label smoothing) and sigmoid_norm. The reference
 * log-probs come from a frozen copy of the starting policy inside the training graph, or are precomputed once
 * (`precompute_ref_log_probs`), which keeps no reference weights in memory during training.
 */
import type { DpoLossType } from './lossReference';
import { dpoLossGraph } from './losses';
import { hyperparameters, type Hyperparameters } from './hyper';
import type { EncodedPair } from './encode';
import type { PlanOptions } from './pairs';
import type { TrainerPlan } from './plan';
import { createPairPlan, dpoImplicitReward } from './preference';

export interface DpoTrainerConfig {
  /** beta: the implicit KL leash (TRL default 0.1). */
  readonly beta: number;
  readonly lossType: DpoLossType;
  /** eps for cdpo / robust (TRL's label_smoothing). */
  readonly labelSmoothing: number;
  /** Compute reference log-probs once before training instead of running the reference in every step. */
  readonly precomputeRefLogProbs: boolean;
}

const LOSS_TYPES: readonly DpoLossType[] = ['sigmoid', 'ipo', 'hinge', 'robust', 'cdpo', 'sigmoid_norm'];

/** DPO config from a run spec's hyperparameters (TRL names). */
export function dpoConfig(h: Hyperparameters = {}): DpoTrainerConfig {
  const r = hyperparameters('dpo', h);
  const lossType = r.string('loss_type') as DpoLossType;
  if (!LOSS_TYPES.includes(lossType)) throw new Error(`hyperparameters.loss_type: unknown DPO loss type "${lossType}" (one of ${LOSS_TYPES.join(', ')})`);
  return { beta: r.number('beta'), lossType, labelSmoothing: r.number('label_smoothing'), precomputeRefLogProbs: r.boolean('precompute_ref_log_probs') };
}

/** The DPO trainer plan. */
export function createDpoPlan(opts: PlanOptions<EncodedPair>, cfg: DpoTrainerConfig): TrainerPlan {
  return createPairPlan(opts, {
    method: 'dpo',
    reference: cfg.precomputeRefLogProbs ? 'precomputed' : 'in-graph',
    loss: (p) => dpoLossGraph(p, { beta: cfg.beta, lossType: cfg.lossType, labelSmoothing: cfg.labelSmoothing }),
    implicitReward: dpoImplicitReward(cfg.beta),
  });
}
