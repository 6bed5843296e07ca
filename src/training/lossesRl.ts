/**
 * The online-RL policy and value losses as graph functions (PPO, and the clipped objective GRPO and RLOO share).
 * Rollout math without gradients (KL estimators, per-token rewards, GAE, whitening, RLOO / GRPO advantages) is
 * plain TypeScript in ./lossesRlReference.ts: it runs between sampling and the update and feeds these graphs
 * as inputs. Each function here mirrors the float64 reference of the same name there (tests compare them).
 *
 * Shapes: B sequences, T completion positions; per-token tensors [B, T]; `mask` [B, T] float (1 = real token).
 */
import type { Tensor } from '../engine/graph/graph';
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { ClippedPolicyConfig, PpoLossConfig } from './lossesRlReference';

export type { ClippedPolicyConfig, PpoLossConfig } from './lossesRlReference';

export interface RlLossTensors {
  readonly loss: Tensor;
  readonly metrics: Record<string, Tensor>;
}

/** sum(x * mask) / sum(mask): the mean over real tokens. */
const maskedMean = (x: Tensor, mask: Tensor): Tensor => op.div(op.sum(op.mul(x, mask)), op.sum(mask));
const gtF = (a: Tensor, b: Tensor): Tensor => op.cast(op.greater(a, b), a.dtype);

export interface PpoTensors {
  /** log pi_theta of the sampled tokens under the current parameters, [B, T]. */
  readonly logp: Tensor;
  /** log pi of the same tokens when they were sampled (constants), [B, T]. */
  readonly oldLogp: Tensor;
  /** GAE advantages, whitened, [B, T]. */
  readonly advantages: Tensor;
  /** Value head predictions now, [B, T]. */
  readonly values: Tensor;
  readonly oldValues: Tensor;
  readonly returns: Tensor;
  readonly mask: Tensor;
}

/**
 * PPO-clip (Schulman et al. 2017, eq. 7) + clipped value loss (as TRL): ratio = exp(logp - oldLogp);
 * policy = masked mean max(-A ratio, -A clip(ratio, 1 +- eps)); value = 0.5 masked mean
 * max((V - R)^2, (clip(V, V_old +- eps_v) - R)^2); loss = policy + vf_coef * value.
 */
export function ppoLossGraph(x: PpoTensors, cfg: PpoLossConfig): RlLossTensors {
  const diff = op.sub(x.logp, x.oldLogp);
  const ratio = op.exp(diff);
  const negA = op.neg(x.advantages);
  const pg1 = op.mul(negA, ratio);
  const pg2 = op.mul(negA, nn.clip(ratio, 1 - cfg.cliprange, 1 + cfg.cliprange));
  const policy = maskedMean(op.maximum(pg1, pg2), x.mask);
  const vclip = nn.clip(x.values, op.sub(x.oldValues, cfg.cliprangeValue), op.add(x.oldValues, cfg.cliprangeValue));
  const e1 = op.sub(x.values, x.returns);
  const e2 = op.sub(vclip, x.returns);
  const vf1 = op.mul(e1, e1);
  const vf2 = op.mul(e2, e2);
  const value = op.mul(maskedMean(op.maximum(vf1, vf2), x.mask), 0.5);
  const d = op.stopGradient(diff);
  return {
    loss: op.add(policy, op.mul(value, cfg.vfCoef)),
    metrics: {
      'loss/policy_avg': op.stopGradient(policy),
      'loss/value_avg': op.stopGradient(value),
      'policy/approxkl_avg': op.mul(maskedMean(op.mul(d, d), x.mask), 0.5),
      'policy/clipfrac_avg': maskedMean(gtF(op.stopGradient(pg2), op.stopGradient(pg1)), x.mask),
      'val/clipfrac_avg': maskedMean(gtF(op.stopGradient(vf2), op.stopGradient(vf1)), x.mask),
      'val/ratio': maskedMean(op.stopGradient(ratio), x.mask),
    },
  };
}

export interface ClippedPolicyTensors {
  readonly logp: Tensor;
  readonly oldLogp: Tensor;
  /** One advantage per sequence, [B] (GRPO group-standardized, or RLOO leave-one-out). */
  readonly advantages: Tensor;
  readonly mask: Tensor;
  /** log pi_ref per token [B, T], for the k3 penalty when beta > 0. */
  readonly refLogp?: Tensor;
}

/**
 * GRPO / RLOO policy loss (Shao et al. 2024, eq. 3): per token -min(ratio A, clip(ratio, 1 +- eps) A)
 * + beta * k3 with k3 = e^(ref - logp) - (ref - logp) - 1 (Schulman 2020); averaged over each sequence's
 * tokens, then over sequences.
 */
export function clippedPolicyLossGraph(x: ClippedPolicyTensors, cfg: ClippedPolicyConfig): RlLossTensors {
  const ratio = op.exp(op.sub(x.logp, x.oldLogp));
  const A = op.unsqueeze(x.advantages, [1]); // [B, 1], broadcast over tokens
  const a = op.mul(ratio, A);
  const b = op.mul(nn.clip(ratio, 1 - cfg.epsilon, 1 + cfg.epsilon), A);
  let perToken = op.neg(op.minimum(a, b));
  const metrics: Record<string, Tensor> = { clip_ratio: maskedMean(gtF(op.stopGradient(a), op.stopGradient(b)), x.mask) };
  if (cfg.beta !== 0) {
    if (!x.refLogp) throw new Error('clippedPolicyLossGraph: beta > 0 needs refLogp');
    const l = op.sub(x.refLogp, x.logp);
    const k3 = op.sub(op.sub(op.exp(l), l), 1);
    perToken = op.add(perToken, op.mul(k3, cfg.beta));
    metrics.kl = maskedMean(op.stopGradient(k3), x.mask);
  }
  const perSeq = op.div(op.sum(op.mul(perToken, x.mask), [1]), op.sum(x.mask, [1]));
  return { loss: op.mean(perSeq), metrics };
}
