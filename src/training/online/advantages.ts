/**
 * Rollout math of GRPO and RLOO that runs between sampling and the update, without gradients, in float64: KL
 * estimators, the group-relative (GRPO) and leave-one-out (RLOO) advantages. Completions come in consecutive
 * groups of k per prompt (rows [g k, g k + k) belong to prompt g).
 *
 * A completion can be invalid (its reward was skipped, see rewards/rewardFunction.ts): it takes no part in its
 * group's statistics and gets advantage 0, and the trainer masks its tokens out of the loss.
 */

import type { ScaleRewards } from '../../core/methods';

/** KL estimators (Schulman 2020, "Approximating KL Divergence", http://joschu.net/blog/kl-approx.html). */
export type KlEstimator = 'k1' | 'k3';

/**
 * Per-token KL(pi || pi_ref) estimate from a sampled token. k1 = log pi - log pi_ref (unbiased, can be negative);
 * k3 = (e^l - 1) - l with l = log pi_ref - log pi (unbiased, always >= 0).
 */
export function klPerToken(logp: number, refLogp: number, estimator: KlEstimator): number {
  if (estimator === 'k1') return logp - refLogp;
  const l = refLogp - logp;
  return Math.expm1(l) - l;
}

/** GRPO's `scale_rewards` (options on the GRPO card): divide by the group's reward std (default), by the batch's, or not at all (Dr. GRPO). */
export type { ScaleRewards } from '../../core/methods';

function checkGroups(what: string, n: number, k: number, valid?: readonly boolean[]): void {
  if (!(Number.isInteger(k) && k >= 2) || n % k !== 0) throw new RangeError(`${what}: ${n} rewards are not groups of k = ${k} (k >= 2)`);
  if (valid && valid.length !== n) throw new RangeError(`${what}: valid has ${valid.length} entries for ${n} rewards`);
}

/** Mean and unbiased (Bessel-corrected, torch.std) standard deviation; std 0 for fewer than 2 values. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  if (n === 0) return { mean: 0, std: 0 };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, std: 0 };
  return { mean, std: Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) };
}

/** The valid rewards of group g. */
function groupOf(rewards: readonly number[], k: number, g: number, valid?: readonly boolean[]): number[] {
  const out: number[] = [];
  for (let j = g * k; j < g * k + k; j++) if (!valid || valid[j]) out.push(rewards[j] as number);
  return out;
}

export interface GroupAdvantages {
  /** One advantage per completion. */
  readonly advantages: number[];
  /** Per group: its valid rewards all tie (std 0), so the group gives no learning signal (`frac_reward_zero_std`). */
  readonly zeroStd: boolean[];
}

/**
 * GRPO advantages (Shao et al. 2024, DeepSeekMath, sec. 4.1.2 outcome supervision): A_i = (r_i - mean of its
 * group) / (s + 1e-4), with s = the group's unbiased std (`group`, as TRL), the std of all rewards in the batch
 * (`batch`, as TRL's scale_rewards="batch"), or no division at all (`none`, Liu et al. 2025's Dr. GRPO).
 */
export function grpoAdvantages(rewards: readonly number[], k: number, scale: ScaleRewards = 'group', valid?: readonly boolean[]): GroupAdvantages {
  checkGroups('grpoAdvantages', rewards.length, k, valid);
  const groups = rewards.length / k;
  const stats = Array.from({ length: groups }, (_, g) => meanStd(groupOf(rewards, k, g, valid)));
  const batchStd = meanStd(rewards.filter((_, i) => !valid || valid[i])).std;
  const advantages = rewards.map((r, i) => {
    if (valid && !valid[i]) return 0;
    const s = stats[Math.floor(i / k)] as { mean: number; std: number };
    const centered = r - s.mean;
    if (scale === 'none') return centered;
    return centered / ((scale === 'group' ? s.std : batchStd) + 1e-4);
  });
  return { advantages, zeroStd: stats.map((s) => s.std === 0) };
}

/**
 * RLOO advantages (Ahmadian et al. 2024, eq. 6; Kool et al. 2019): A_i = r_i - mean of the other valid rewards of
 * its group (0 when it has no valid peer). `normalize`: then (A - mean A) / (std A + 1e-4) over the valid batch
 * (TRL's `normalize_advantages`).
 */
export function rlooAdvantages(rewards: readonly number[], k: number, normalize = false, valid?: readonly boolean[]): GroupAdvantages {
  checkGroups('rlooAdvantages', rewards.length, k, valid);
  const groups = rewards.length / k;
  const sums = Array.from({ length: groups }, (_, g) => groupOf(rewards, k, g, valid));
  let advantages = rewards.map((r, i) => {
    const peers = sums[Math.floor(i / k)] as number[];
    if ((valid && !valid[i]) || peers.length < 2) return 0;
    const total = peers.reduce((s, x) => s + x, 0);
    return r - (total - r) / (peers.length - 1);
  });
  if (normalize) {
    const s = meanStd(advantages.filter((_, i) => !valid || valid[i]));
    advantages = advantages.map((a, i) => (valid && !valid[i] ? 0 : (a - s.mean) / (s.std + 1e-4)));
  }
  return { advantages, zeroStd: sums.map((g) => meanStd(g).std === 0) };
}

/**
 * RLOO's rewards with the sequence-level KL folded in (TRL's RLOOTrainer): r_i = score_i - beta * sum over the
 * completion's tokens of k1 = log pi_old - log pi_ref.
 */
export function klPenalizedRewards(scores: readonly number[], klSums: readonly number[], beta: number): number[] {
  if (klSums.length !== scores.length) throw new RangeError('klPenalizedRewards: klSums and scores differ in length');
  return scores.map((s, i) => s - beta * (klSums[i] as number));
}
