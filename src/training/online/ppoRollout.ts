/**
 * PPO's rollout math for RLHF (TRL's PPOTrainer; ALIGNMENT_REFERENCE.md section 4), float64, plain TypeScript: the
 * per-token rewards (KL penalty + score at the last token), masked whitening and GAE. It runs between sampling and
 * the update, with no gradient, and feeds ../lossesRl.ts `ppoLossGraph` as inputs.
 *
 * Shapes: B sequences (completions), T completion positions; per-token arrays are [B][T] with a mask [B][T]
 * (1 = a real completion token, 0 = padding after the end).
 */
import { klPerToken, type KlEstimator } from './advantages';

type Mat = readonly (readonly number[])[];

function checkMat(what: string, ms: Record<string, Mat>, B: number, T: number): void {
  for (const [k, m] of Object.entries(ms)) {
    if (m.length !== B || m.some((r) => r.length !== T)) throw new RangeError(`${what}: ${k} must be [${B}][${T}]`);
  }
}

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
