/**
 * Online RL for RLHF (ALIGNMENT_REFERENCE.md section 4: PPO, RLOO, GRPO), float64, plain TypeScript.
 *
 * Two parts:
 * 1. Rollout math that runs between sampling and the update, with no gradient (so it never needs a graph): KL
 *    estimators, PPO's per-token rewards, GAE, masked whitening, RLOO and GRPO advantages. Trainers call these
 *    directly on the host side of a step.
 * 2. Float64 references of the clipped policy/value losses that ./lossesRl.ts builds as graphs (the tests compare
 *    the two value by value and gradient by gradient).
 *
 * Shapes: B sequences (completions), T completion positions; per-token arrays are [B][T] with a mask [B][T]
 * (1 = a real completion token, 0 = padding after the end).
 */

type Mat = readonly (readonly number[])[];

function checkMat(what: string, ms: Record<string, Mat>, B: number, T: number): void {
  for (const [k, m] of Object.entries(ms)) {
    if (m.length !== B || m.some((r) => r.length !== T)) throw new RangeError(`${what}: ${k} must be [${B}][${T}]`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// KL estimators (Schulman 2020, "Approximating KL Divergence", http://joschu.net/blog/kl-approx.html)

export type KlEstimator = 'k1' | 'k3';

/**
 * Per-token KL(pi || pi_ref) estimate from sampled tokens. k1 = log pi - log pi_ref (unbiased, can be negative);
 * k3 = (e^l - 1) - l with l = log pi_ref - log pi (unbiased, always >= 0).
 */
export function klPerToken(logp: number, refLogp: number, estimator: KlEstimator): number {
  if (estimator === 'k1') return logp - refLogp;
  const l = refLogp - logp;
  return Math.expm1(l) - l;
}

// ---------------------------------------------------------------------------------------------------------
// PPO rollout math (TRL's PPOTrainer)

export interface PpoRewardInput {
  /** Reward-model score per completion, [B]. */
  readonly scores: readonly number[];
  /** log pi and log pi_ref of each sampled token, [B][T]. */
  readonly logp: Mat;
  readonly refLogp: Mat;
  readonly mask: Mat;
  /** True for completions that ended without an EOS token, [B]. */
  readonly missingEos?: readonly boolean[];
}

export interface PpoRewardConfig {
  readonly klCoef: number;
  readonly estimator: KlEstimator;
  /** Subtracted from the score of a completion without EOS (0 = off). */
  readonly missingEosPenalty: number;
}

/**
 * Per-token rewards r_t = -kl_coef * k_t, plus the (EOS-penalized) RM score at the last real token
 * (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", sec. 2.2; Ouyang et al. 2022 eq. 2).
 * Returns the rewards, the KL penalty part (`nonScore`) and the scores used, for the `objective/*` metrics.
 */
export function ppoRewards(x: PpoRewardInput, cfg: PpoRewardConfig): { rewards: number[][]; nonScore: number[][]; kl: number[][]; scores: number[] } {
  const B = x.scores.length;
  const T = x.logp[0]?.length ?? 0;
  checkMat('ppoRewards', { logp: x.logp, refLogp: x.refLogp, mask: x.mask }, B, T);
  const scores = x.scores.map((s, i) => s - (x.missingEos?.[i] ? cfg.missingEosPenalty : 0));
  const kl = x.logp.map((row, i) => row.map((lp, t) => (x.mask[i][t] ? klPerToken(lp, x.refLogp[i][t], cfg.estimator) : 0)));
  const nonScore = kl.map((row) => row.map((k) => -cfg.klCoef * k));
  const rewards = nonScore.map((row, i) => {
    const r = [...row];
    let last = -1;
    for (let t = 0; t < T; t++) if (x.mask[i][t]) last = t;
    if (last >= 0) r[last] += scores[i];
    return r;
  });
  return { rewards, nonScore, kl, scores };
}

/**
 * Masked whitening: (x - mean) / sqrt(var + 1e-8) over the masked entries, with the unbiased (Bessel-corrected)
 * variance as TRL's `masked_whiten`; `shiftMean = false` adds the mean back (only the scale changes). Entries
 * outside the mask become 0.
 */
export function maskedWhiten(x: Mat, mask: Mat, shiftMean = true): number[][] {
  let n = 0;
  let s = 0;
  x.forEach((row, i) => row.forEach((v, t) => void (mask[i][t] && ((n += 1), (s += v)))));
  if (n < 2) throw new RangeError('maskedWhiten: needs at least 2 masked entries');
  const mean = s / n;
  let ss = 0;
  x.forEach((row, i) => row.forEach((v, t) => void (mask[i][t] && (ss += (v - mean) ** 2))));
  const variance = ss / (n - 1);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return x.map((row, i) => row.map((v, t) => (mask[i][t] ? (v - mean) * inv + (shiftMean ? 0 : mean) : 0)));
}

/**
 * Generalized advantage estimation (Schulman et al. 2016, "High-Dimensional Continuous Control Using GAE",
 * eq. 16): delta_t = r_t + gamma V_{t+1} - V_t (V after the last real token = 0); A_t = delta_t + gamma lambda
 * A_{t+1}; returns = A + V; then advantages whitened over the mask (TRL).
 */
export function gae(rewards: Mat, values: Mat, mask: Mat, gamma: number, lam: number, whiten = true): { advantages: number[][]; returns: number[][] } {
  const B = rewards.length;
  const T = rewards[0]?.length ?? 0;
  checkMat('gae', { values, mask }, B, T);
  const adv = rewards.map((row, i) => {
    const a = new Array<number>(T).fill(0);
    let next = 0;
    let nextValue = 0;
    for (let t = T - 1; t >= 0; t--) {
      if (!mask[i][t]) continue;
      const delta = row[t] + gamma * nextValue - values[i][t];
      next = delta + gamma * lam * next;
      a[t] = next;
      nextValue = values[i][t];
    }
    return a;
  });
  const returns = adv.map((row, i) => row.map((a, t) => (mask[i][t] ? a + values[i][t] : 0)));
  return { advantages: whiten ? maskedWhiten(adv, mask, true) : adv, returns };
}

/**
 * RLOO advantages (Ahmadian et al. 2024, eq. 6; Kool et al. 2019): rewards r_i = score_i - beta * sum_t k1_t
 * (the sequence-level KL folded into the reward); completions come in consecutive groups of k per prompt;
 * A_i = r_i - mean of the other k-1 rewards of the group.
 */
export function rlooAdvantages(scores: readonly number[], klSums: readonly number[], k: number, beta: number): number[] {
  if (!(Number.isInteger(k) && k >= 2) || scores.length % k !== 0) throw new RangeError(`rlooAdvantages: ${scores.length} rewards are not groups of k = ${k} (k >= 2)`);
  if (klSums.length !== scores.length) throw new RangeError('rlooAdvantages: klSums and scores differ in length');
  const r = scores.map((s, i) => s - beta * klSums[i]);
  return r.map((ri, i) => {
    const g = Math.floor(i / k) * k;
    let sum = 0;
    for (let j = g; j < g + k; j++) sum += r[j];
    return ri - (sum - ri) / (k - 1);
  });
}

/**
 * GRPO advantages (Shao et al. 2024, DeepSeekMath, eq. 3 outcome supervision): A_i = (r_i - group mean) /
 * (group std + 1e-4), over consecutive groups of k completions; the std is the unbiased one (torch.std, as TRL).
 */
export function grpoAdvantages(scores: readonly number[], k: number): number[] {
  if (!(Number.isInteger(k) && k >= 2) || scores.length % k !== 0) throw new RangeError(`grpoAdvantages: ${scores.length} rewards are not groups of k = ${k} (k >= 2)`);
  return scores.map((ri, i) => {
    const g = scores.slice(Math.floor(i / k) * k, Math.floor(i / k) * k + k);
    const mean = g.reduce((s, x) => s + x, 0) / k;
    const std = Math.sqrt(g.reduce((s, x) => s + (x - mean) ** 2, 0) / (k - 1));
    return (ri - mean) / (std + 1e-4);
  });
}

// ---------------------------------------------------------------------------------------------------------
// References of the graph losses in ./lossesRl.ts

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

export interface PpoLossConfig {
  readonly cliprange: number;
  readonly cliprangeValue: number;
  readonly vfCoef: number;
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

export interface ClippedPolicyConfig {
  readonly epsilon: number;
  /** Weight of the per-token k3 KL penalty (GRPO's beta; 0 = none). */
  readonly beta: number;
}

/**
 * The GRPO / RLOO policy loss (Shao et al. 2024, eq. 3): per token -min(ratio A, clip(ratio, 1 +- eps) A)
 * + beta * k3(pi, pi_ref); averaged over each sequence's tokens, then over sequences ("grpo" aggregation).
 * Metrics: `clip_ratio` (fraction of tokens where the clipped term is the active one), `kl` (mean k3).
 */
export function clippedPolicyLoss(x: ClippedPolicyInput, cfg: ClippedPolicyConfig): RlLossOutput {
  const e = cfg.epsilon;
  let total = 0;
  let klSum = 0;
  let clipped = 0;
  let tokens = 0;
  x.logp.forEach((row, i) => {
    const A = x.advantages[i];
    let s = 0;
    let n = 0;
    row.forEach((lp, t) => {
      const m = x.mask[i][t];
      if (!m) return;
      const r = Math.exp(lp - x.oldLogp[i][t]);
      const a = r * A;
      const b = clip(r, 1 - e, 1 + e) * A;
      let term = -Math.min(a, b);
      if (cfg.beta !== 0) {
        if (!x.refLogp) throw new RangeError('clippedPolicyLoss: beta > 0 needs refLogp');
        const k3 = klPerToken(lp, x.refLogp[i][t], 'k3');
        term += cfg.beta * k3;
        klSum += k3 * m;
      }
      if (b < a) clipped += m;
      s += term * m;
      n += m;
      tokens += m;
    });
    total += s / n;
  });
  const metrics: Record<string, number> = { clip_ratio: clipped / tokens };
  if (cfg.beta !== 0) metrics.kl = klSum / tokens;
  return { loss: total / x.logp.length, metrics };
}
