/**
 * The online-RL policy and value losses as graph functions: PPO, the per-token clipped objective of GRPO, and the
 * sequence-level clipped objective of TRL's RLOO. Rollout math without gradients (KL estimators, advantages, GAE)
 * is plain TypeScript in ./online/advantages.ts and ./online/ppoRollout.ts: it runs between sampling and the
 * update and feeds these graphs as inputs. Each function here has a float64 reference of the same name in
 * test/support/reference/lossesRl.ts (tests compare values and gradients).
 *
 * Shapes: B sequences, T completion positions; per-token tensors [B, T]; `mask` [B, T] float (1 = real token).
 */
import type { GrpoLossType, ImportanceSamplingLevel } from '../core/methods';
import type { Tensor } from '../engine/graph/graph';
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';

export interface RlLossTensors {
  readonly loss: Tensor;
  readonly metrics: Record<string, Tensor>;
}

export interface PpoLossConfig {
  readonly cliprange: number;
  readonly cliprangeValue: number;
  readonly vfCoef: number;
}

/**
 * How GRPO's per-token losses become one number (TRL's `loss_type`):
 * - `grpo`: mean over each sequence's tokens, then over sequences (Shao et al. 2024, eq. 3; favours short
 *   completions per token);
 * - `dr_grpo`: sum over all tokens / (B * max_completion_length) (Liu et al. 2025, "Understanding R1-Zero-Like
 *   Training", eq. 3: no length bias);
 * - `dapo`: sum over all tokens / active tokens in the whole batch (Yu et al. 2025, DAPO, eq. 8; TRL's default).
 * The list of them lives on the GRPO method card (src/core/methods.ts `GRPO_LOSS_TYPE_IDS`). Token-level ratios
 * (GRPO) or one ratio per sequence from the mean token log-ratio (GSPO, Zheng et al. 2025, eq. 7):
 * `importance_sampling_level`, also from the card.
 */
export type { GrpoLossType, ImportanceSamplingLevel } from '../core/methods';

export interface ClippedPolicyConfig {
  /** Lower clip: the ratio is clipped to [1 - epsilon, 1 + epsilonHigh]. */
  readonly epsilon: number;
  /** Upper clip (DAPO's clip-higher, 0.28 suggested); default = epsilon. */
  readonly epsilonHigh?: number;
  /** Weight of the per-token k3 KL penalty (GRPO's beta; 0 = none). */
  readonly beta: number;
  /** Aggregation (default `grpo`). */
  readonly lossType?: GrpoLossType;
  /** `dr_grpo`'s constant: the most tokens a completion may have. */
  readonly maxCompletionLength?: number;
  readonly importanceSamplingLevel?: ImportanceSamplingLevel;
}

/** sum(x * mask) / sum(mask): the mean over real tokens. */
const maskedMean = (x: Tensor, mask: Tensor): Tensor => op.div(op.sum(op.mul(x, mask)), op.maximum(op.sum(mask), 1));
const gtF = (a: Tensor, b: op.TensorLike): Tensor => op.cast(op.greater(a, b), a.dtype);
const ltF = (a: Tensor, b: op.TensorLike): Tensor => op.cast(op.less(a, b), a.dtype);

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
  /**
   * `dapo` only: the divisor, [1] or scalar. Default sum(mask). When one optimizer step is split into A
   * micro-batches whose losses are averaged, pass (active tokens of the whole step) / A, so the step's loss is
   * the sum over all its tokens / all its active tokens, as TRL's `num_items_in_batch`.
   */
  readonly activeTokens?: Tensor;
}

/**
 * TRL's clip-region metrics: the fraction of tokens (or sequences) where the clipped term is the active one, so
 * the gradient is zero: below 1 - eps with A < 0 (`low`), above 1 + eps_high with A > 0 (`high`), either (`region`).
 */
function clipMetrics(ratio: Tensor, A: Tensor, lo: number, hi: number, mask: Tensor): Record<string, Tensor> {
  const r = op.stopGradient(ratio);
  const low = op.mul(ltF(r, lo), ltF(A, 0));
  const high = op.mul(gtF(r, hi), gtF(A, 0));
  return {
    'clip_ratio/low_mean': maskedMean(low, mask),
    'clip_ratio/high_mean': maskedMean(high, mask),
    'clip_ratio/region_mean': maskedMean(op.maximum(low, high), mask),
  };
}

/** GRPO's aggregation of per-token losses [B, T] (see {@link GrpoLossType}). */
function aggregate(perToken: Tensor, mask: Tensor, cfg: ClippedPolicyConfig, activeTokens?: Tensor): Tensor {
  const masked = op.mul(perToken, mask);
  switch (cfg.lossType ?? 'grpo') {
    case 'grpo':
      return op.mean(op.div(op.sum(masked, [1]), op.maximum(op.sum(mask, [1]), 1)));
    case 'dr_grpo': {
      const L = cfg.maxCompletionLength;
      if (!(L !== undefined && L >= 1)) throw new Error('clippedPolicyLossGraph: loss_type dr_grpo needs maxCompletionLength');
      return op.div(op.sum(masked), (perToken.shape[0] as number) * L);
    }
    case 'dapo':
      return op.div(op.sum(masked), activeTokens ? op.sum(activeTokens) : op.maximum(op.sum(mask), 1));
  }
}

/**
 * GRPO policy loss (Shao et al. 2024, eq. 3, with DAPO's asymmetric clip): per token
 * -min(ratio A, clip(ratio, 1 - eps, 1 + eps_high) A) + beta * k3, k3 = e^(ref - logp) - (ref - logp) - 1
 * (Schulman 2020), aggregated by `lossType`. With importance sampling at the `sequence` level (GSPO) every token
 * of a sequence uses exp(mean over its tokens of logp - oldLogp).
 * Metrics: clip_ratio/{low,high,region}_mean over tokens; `kl` (mean k3 over tokens) when beta > 0.
 */
export function clippedPolicyLossGraph(x: ClippedPolicyTensors, cfg: ClippedPolicyConfig): RlLossTensors {
  const hi = cfg.epsilonHigh ?? cfg.epsilon;
  let logRatio = op.sub(x.logp, x.oldLogp); // [B, T]
  if ((cfg.importanceSamplingLevel ?? 'token') === 'sequence') {
    const perSeq = op.div(op.sum(op.mul(logRatio, x.mask), [1]), op.maximum(op.sum(x.mask, [1]), 1)); // [B]
    logRatio = op.expandLike(op.unsqueeze(perSeq, [1]), x.mask);
  }
  const ratio = op.exp(logRatio);
  const A = op.unsqueeze(x.advantages, [1]); // [B, 1], broadcast over tokens
  const a = op.mul(ratio, A);
  const b = op.mul(nn.clip(ratio, 1 - cfg.epsilon, 1 + hi), A);
  let perToken = op.neg(op.minimum(a, b));
  const metrics = clipMetrics(ratio, A, 1 - cfg.epsilon, 1 + hi, x.mask);
  if (cfg.beta !== 0) {
    if (!x.refLogp) throw new Error('clippedPolicyLossGraph: beta > 0 needs refLogp');
    const l = op.sub(x.refLogp, x.logp);
    const k3 = op.sub(op.sub(op.exp(l), l), 1);
    perToken = op.add(perToken, op.mul(k3, cfg.beta));
    metrics.kl = maskedMean(op.stopGradient(k3), x.mask);
  }
  return { loss: aggregate(perToken, x.mask, cfg, x.activeTokens), metrics };
}

export interface SequencePolicyConfig {
  readonly epsilon: number;
  /** Default = epsilon. */
  readonly epsilonHigh?: number;
}

/**
 * RLOO's policy loss as TRL's current RLOOTrainer computes it (Ahmadian et al. 2024 treat the whole completion
 * as one action): per sequence log-ratio = sum over its tokens of (logp - oldLogp), ratio = exp of it, loss =
 * mean over sequences of -min(ratio A, clip(ratio, 1 - eps, 1 + eps_high) A). At ratio 1 the gradient is
 * -A * grad sum_t log pi(y_t), the REINFORCE leave-one-out estimator (eq. 6). Metrics: clip_ratio/* over sequences.
 */
export function sequencePolicyLossGraph(x: ClippedPolicyTensors, cfg: SequencePolicyConfig): RlLossTensors {
  const hi = cfg.epsilonHigh ?? cfg.epsilon;
  const ratio = op.exp(op.sum(op.mul(op.sub(x.logp, x.oldLogp), x.mask), [1])); // [B]
  const A = x.advantages;
  const a = op.mul(ratio, A);
  const b = op.mul(nn.clip(ratio, 1 - cfg.epsilon, 1 + hi), A);
  const perSeq = op.neg(op.minimum(a, b));
  return { loss: op.mean(perSeq), metrics: clipMetrics(ratio, A, 1 - cfg.epsilon, 1 + hi, op.add(op.zerosLike(A), 1)) };
}
