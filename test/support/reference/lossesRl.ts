/**
 * Float64 references of the online-RL loss graphs in src/training/lossesRl.ts, written as plain loops over
 * [B][T] arrays straight from the papers' formulas (the tests compare the graphs value by value, and the graphs'
 * gradients with central finite differences of these).
 *
 * Shapes: B sequences, T completion positions; `mask` [B][T] (1 = a real completion token).
 */
import type { ClippedPolicyConfig, PpoLossConfig, SequencePolicyConfig } from '../../../src/training/lossesRl';
import { klPerToken } from '../../../src/training/online/advantages';

type Mat = readonly (readonly number[])[];

export interface RlLossOutput {
  readonly loss: number;
  readonly metrics: Record<string, number>;
}

const maskedMean = (x: Mat, mask: Mat): number => {
  let s = 0;
  let n = 0;
  x.forEach((row, i) => row.forEach((v, t) => void (mask[i][t] && ((s += v * mask[i][t]), (n += mask[i][t])))));
  return s / n;
};
const clip = (x: number, lo: number, hi: number): number => Math.min(Math.max(x, lo), hi);

export interface PpoLossInput {
  readonly logp: Mat;
  readonly oldLogp: Mat;
  readonly advantages: Mat;
  readonly values: Mat;
  readonly oldValues: Mat;
  readonly returns: Mat;
  readonly mask: Mat;
}

/**
 * PPO-clip (Schulman et al. 2017, eq. 7) with a clipped value loss (TRL): ratio = exp(logp - oldLogp);
 * policy = masked mean of max(-A ratio, -A clip(ratio, 1 +- eps)); value = 0.5 masked mean of
 * max((V - R)^2, (clip(V, V_old +- eps_v) - R)^2); loss = policy + vf_coef * value.
 */
export function ppoLoss(x: PpoLossInput, cfg: PpoLossConfig): RlLossOutput {
  const { cliprange: e, cliprangeValue: ev } = cfg;
  const ratio = x.logp.map((row, i) => row.map((lp, t) => Math.exp(lp - x.oldLogp[i][t])));
  const pg1 = ratio.map((row, i) => row.map((r, t) => -x.advantages[i][t] * r));
  const pg2 = ratio.map((row, i) => row.map((r, t) => -x.advantages[i][t] * clip(r, 1 - e, 1 + e)));
  const pg = pg1.map((row, i) => row.map((a, t) => Math.max(a, pg2[i][t])));
  const vclip = x.values.map((row, i) => row.map((v, t) => clip(v, x.oldValues[i][t] - ev, x.oldValues[i][t] + ev)));
  const vf1 = x.values.map((row, i) => row.map((v, t) => (v - x.returns[i][t]) ** 2));
  const vf2 = vclip.map((row, i) => row.map((v, t) => (v - x.returns[i][t]) ** 2));
  const vf = vf1.map((row, i) => row.map((a, t) => Math.max(a, vf2[i][t])));
  const policy = maskedMean(pg, x.mask);
  const value = 0.5 * maskedMean(vf, x.mask);
  const diff = x.logp.map((row, i) => row.map((lp, t) => (lp - x.oldLogp[i][t]) ** 2));
  return {
    loss: policy + cfg.vfCoef * value,
    metrics: {
      'loss/policy_avg': policy,
      'loss/value_avg': value,
      'policy/approxkl_avg': 0.5 * maskedMean(diff, x.mask),
      'policy/clipfrac_avg': maskedMean(pg2.map((row, i) => row.map((a, t) => (a > pg1[i][t] ? 1 : 0))), x.mask),
      'val/clipfrac_avg': maskedMean(vf2.map((row, i) => row.map((a, t) => (a > vf1[i][t] ? 1 : 0))), x.mask),
      'val/ratio': maskedMean(ratio, x.mask),
    },
  };
}


export interface ClippedPolicyInput {
  readonly logp: Mat;
  readonly oldLogp: Mat;
  /** One advantage per sequence, [B] (GRPO / RLOO). */
  readonly advantages: readonly number[];
  readonly mask: Mat;
  /** log pi_ref per token, for the k3 penalty (beta > 0). */
  readonly refLogp?: Mat;
}

/** Log-ratios per token (GRPO), or each sequence's mean over its real tokens repeated on every token (GSPO). */
function logRatios(x: ClippedPolicyInput, level: 'token' | 'sequence'): number[][] {
  return x.logp.map((row, i) => {
    const d = row.map((lp, t) => lp - x.oldLogp[i][t]);
    if (level === 'token') return d;
    let s = 0;
    let n = 0;
    d.forEach((v, t) => void (x.mask[i][t] && ((s += v), (n += 1))));
    return d.map(() => s / Math.max(n, 1));
  });
}

/**
 * GRPO's policy loss (Shao et al. 2024, eq. 3, with DAPO's clip-higher): per real token
 * -min(r A, clip(r, 1 - eps, 1 + eps_high) A) + beta * k3(pi, pi_ref), then `grpo`: mean over each sequence's
 * tokens, then over sequences; `dr_grpo`: sum / (B * L_max); `dapo`: sum / (real tokens, or `activeTokens`).
 * Metrics as TRL: clip_ratio/low_mean (r < 1 - eps and A < 0), clip_ratio/high_mean (r > 1 + eps_high and
 * A > 0), clip_ratio/region_mean (either), over real tokens; kl = mean k3 when beta > 0.
 */
export function clippedPolicyLoss(x: ClippedPolicyInput, cfg: ClippedPolicyConfig, activeTokens?: number): RlLossOutput {
  const lo = 1 - cfg.epsilon;
  const hi = 1 + (cfg.epsilonHigh ?? cfg.epsilon);
  const ratios = logRatios(x, cfg.importanceSamplingLevel ?? 'token');
  let sum = 0;
  let seqMeans = 0;
  let klSum = 0;
  let low = 0;
  let high = 0;
  let tokens = 0;
  x.logp.forEach((row, i) => {
    const A = x.advantages[i];
    let s = 0;
    let n = 0;
    row.forEach((lp, t) => {
      if (!x.mask[i][t]) return;
      const r = Math.exp(ratios[i][t]);
      let term = -Math.min(r * A, clip(r, lo, hi) * A);
      if (cfg.beta !== 0) {
        if (!x.refLogp) throw new RangeError('clippedPolicyLoss: beta > 0 needs refLogp');
        const k3 = klPerToken(lp, x.refLogp[i][t], 'k3');
        term += cfg.beta * k3;
        klSum += k3;
      }
      if (r < lo && A < 0) low += 1;
      if (r > hi && A > 0) high += 1;
      s += term;
      n += 1;
    });
    sum += s;
    seqMeans += s / Math.max(n, 1);
    tokens += n;
  });
  const B = x.logp.length;
  const type = cfg.lossType ?? 'grpo';
  const loss = type === 'grpo' ? seqMeans / B : type === 'dr_grpo' ? sum / (B * (cfg.maxCompletionLength ?? NaN)) : sum / (activeTokens ?? Math.max(tokens, 1));
  const metrics: Record<string, number> = {
    'clip_ratio/low_mean': low / tokens,
    'clip_ratio/high_mean': high / tokens,
    'clip_ratio/region_mean': (low + high) / tokens,
  };
  if (cfg.beta !== 0) metrics.kl = klSum / tokens;
  return { loss, metrics };
}

/**
 * RLOO's sequence-level clipped loss (TRL's RLOOTrainer): r = exp(sum over real tokens of logp - oldLogp);
 * loss = mean over sequences of -min(r A, clip(r, 1 - eps, 1 + eps_high) A); clip metrics over sequences.
 */
export function sequencePolicyLoss(x: ClippedPolicyInput, cfg: SequencePolicyConfig): RlLossOutput {
  const lo = 1 - cfg.epsilon;
  const hi = 1 + (cfg.epsilonHigh ?? cfg.epsilon);
  let total = 0;
  let low = 0;
  let high = 0;
  x.logp.forEach((row, i) => {
    let d = 0;
    row.forEach((lp, t) => void (x.mask[i][t] && (d += lp - x.oldLogp[i][t])));
    const r = Math.exp(d);
    const A = x.advantages[i];
    total += -Math.min(r * A, clip(r, lo, hi) * A);
    if (r < lo && A < 0) low += 1;
    if (r > hi && A > 0) high += 1;
  });
  const B = x.logp.length;
  return { loss: total / B, metrics: { 'clip_ratio/low_mean': low / B, 'clip_ratio/high_mean': high / B, 'clip_ratio/region_mean': (low + high) / B } };
}
