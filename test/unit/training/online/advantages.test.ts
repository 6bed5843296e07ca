/**
 * GRPO and RLOO advantages against a float64 reference written independently (groups as explicit sub-arrays, the
 * formulas of TRL's trainers), for every scaling option, RLOO normalization and skipped samples; plus the
 * properties that make them work: each group's GRPO advantages sum to 0, RLOO's too, and an RLOO advantage is
 * k/(k-1) times the GRPO `none` advantage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpoAdvantages, klPenalizedRewards, rlooAdvantages, type ScaleRewards } from '../../../../src/training/online/advantages';

const std = (xs: number[]): number => {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

function groups(r: readonly number[], k: number): number[][] {
  return Array.from({ length: r.length / k }, (_, g) => r.slice(g * k, g * k + k));
}

/** TRL GRPOTrainer: A = r - group mean, divided by (group std | batch std) + 1e-4 unless scale is none. */
function grpoReference(r: readonly number[], k: number, scale: ScaleRewards): number[] {
  const batch = std([...r]);
  return groups(r, k).flatMap((g) => g.map((x) => (scale === 'none' ? x - mean(g) : (x - mean(g)) / ((scale === 'group' ? std(g) : batch) + 1e-4))));
}

/** TRL RLOOTrainer: baseline = (group sum - r) / (k - 1); optional batch normalization. */
function rlooReference(r: readonly number[], k: number, normalize: boolean): number[] {
  const a = groups(r, k).flatMap((g) => g.map((x) => x - (g.reduce((s, y) => s + y, 0) - x) / (k - 1)));
  return normalize ? a.map((x) => (x - mean(a)) / (std(a) + 1e-4)) : a;
}

const close = (a: readonly number[], b: readonly number[], what: string): void => {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] as number)) <= 1e-12 * Math.max(1, Math.abs(b[i] as number)), `${what}[${i}]: ${x} vs ${b[i]}`));
};

// Three groups of 4: mixed rewards, a tie group (no signal), a 0/1 group (the verifiable-reward case).
const rewards = [0.3, -1.2, 2.5, 0.7, 1, 1, 1, 1, 0, 1, 0, 0];

test('GRPO advantages = reference for scale_rewards group, batch and none; tie groups give 0 and count in zeroStd', () => {
  for (const scale of ['group', 'batch', 'none'] as const) {
    const got = grpoAdvantages(rewards, 4, scale);
    close(got.advantages, grpoReference(rewards, 4, scale), `grpo ${scale}`);
    assert.deepEqual(got.zeroStd, [false, true, false]);
    for (const g of groups(got.advantages, 4)) assert.ok(Math.abs(g.reduce((s, x) => s + x, 0)) < 1e-12, `${scale}: each group's advantages sum to 0`);
  }
  // The 0/1 group with one success out of 4: mean 0.25, std 0.5 -> (1 - 0.25) / 0.5001 for the success.
  assert.ok(Math.abs((grpoAdvantages(rewards, 4).advantages[9] as number) - 0.75 / 0.5001) < 1e-12);
});

test('RLOO advantages = reference, with and without normalization; = k/(k-1) x the centred reward', () => {
  for (const normalize of [false, true]) close(rlooAdvantages(rewards, 4, normalize).advantages, rlooReference(rewards, 4, normalize), `rloo normalize=${normalize}`);
  const none = grpoAdvantages(rewards, 4, 'none').advantages;
  close(rlooAdvantages(rewards, 4).advantages, none.map((a) => (a * 4) / 3), 'rloo vs centred');
  // KL folded into the reward before the baseline: r - beta * sum k1.
  close(klPenalizedRewards([1, 2], [0.5, -1], 0.1), [0.95, 2.1], 'kl penalty');
});

test('skipped samples: no part in their group statistics, advantage 0', () => {
  const valid = rewards.map((_, i) => i !== 2 && i !== 8);
  const kept = (g: number): number[] => rewards.slice(g * 4, g * 4 + 4).filter((_, j) => valid[g * 4 + j]);
  const g = grpoAdvantages(rewards, 4, 'group', valid).advantages;
  assert.equal(g[2], 0);
  assert.equal(g[8], 0);
  const g0 = kept(0);
  close([g[0] as number, g[1] as number, g[3] as number], g0.map((x) => (x - mean(g0)) / (std(g0) + 1e-4)), 'grpo with skips');
  const r = rlooAdvantages(rewards, 4, false, valid).advantages;
  assert.equal(r[2], 0);
  close([r[0] as number, r[1] as number, r[3] as number], g0.map((x) => x - (g0.reduce((s, y) => s + y, 0) - x) / 2), 'rloo with skips');
  // A group left with one valid sample has no baseline: advantage 0.
  const lone = rlooAdvantages([1, 2, 3, 4], 2, false, [true, false, true, true]).advantages;
  assert.deepEqual(lone, [0, 0, -1, 1]);
  const batch = grpoAdvantages(rewards, 4, 'batch', valid).advantages;
  const bstd = std(rewards.filter((_, i) => valid[i]));
  assert.ok(Math.abs((batch[0] as number) - ((rewards[0] as number) - mean(g0)) / (bstd + 1e-4)) < 1e-12);
});
