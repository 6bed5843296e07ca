/**
 * Online-RL losses: graph (src/training/lossesRl.ts) vs float64 reference (test/support/reference/lossesRl.ts)
 * through onnxruntime, gradients vs central finite differences of the reference (max relative error < 1e-7), and
 * the rollout math (KL estimators, PPO rewards, GAE, whitening, RLOO / GRPO advantages) on values computed by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../../src/engine/graph/graph';
import { grad } from '../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../src/engine/graph/emit';
import { GRPO_LOSS_TYPE_IDS as GRPO_LOSS_TYPES } from '../../../src/core/methods';
import { clippedPolicyLossGraph, ppoLossGraph, sequencePolicyLossGraph, type ClippedPolicyConfig, type RlLossTensors } from '../../../src/training/lossesRl';
import { grpoAdvantages, klPenalizedRewards, klPerToken, rlooAdvantages } from '../../../src/training/online/advantages';
import { gae, maskedWhiten, ppoRewards } from '../../../src/training/online/ppoRollout';
import { clippedPolicyLoss, ppoLoss, sequencePolicyLoss, type RlLossOutput } from '../../support/reference/lossesRl';
import { OrtModel } from '../engine/graph/ortRun';

const B = 3;
const T = 5;
const mask = [
  [1, 1, 1, 1, 1],
  [1, 1, 1, 0, 0],
  [1, 1, 1, 1, 0],
];

/** Deterministic pseudo-random matrix (a fixed LCG), values in [lo, hi). */
function mat(seed: number, lo: number, hi: number): number[][] {
  let s = seed;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Array.from({ length: B }, () => Array.from({ length: T }, () => lo + (hi - lo) * next()));
}

const oldLogp = mat(1, -3, -0.2);
// Ratios spread over about [0.6, 1.5] so the clip (eps 0.2) is active for some tokens and not for others; no
// ratio within 1e-3 of a clip boundary (checked below).
const logp = oldLogp.map((row, i) => row.map((x, t) => x + [-0.5, 0.35, -0.1, 0.12, 0.4][t] * (i % 2 ? -1 : 1)));
const refLogp = mat(2, -3, -0.2);
const advantages = mat(3, -1.5, 1.5);
const oldValues = mat(4, -1, 1);
const values = oldValues.map((row, i) => row.map((v, t) => v + [0.35, -0.05, 0.3, -0.4, 0.1][(t + i) % 5]));
const returns = mat(5, -1, 1);

type Values = Record<string, number[][] | number[]>;

async function runGraph(
  inputs: Values,
  build: (t: Record<string, Tensor>) => RlLossTensors,
  wrt: readonly string[],
): Promise<{ loss: number; metrics: Record<string, number>; grads: Record<string, number[]> }> {
  const g = new Graph();
  const t: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) t[k] = g.input(k, Array.isArray(v[0]) ? [B, T] : [v.length], 'float64');
  const out = build(t);
  const gs = grad(out.loss, wrt.map((k) => t[k]));
  g.output('loss', out.loss);
  const names = Object.keys(out.metrics);
  names.forEach((m, i) => g.output(`m${i}`, out.metrics[m]));
  wrt.forEach((k, i) => g.output(`grad_${k}`, gs[i]));
  const model = await OrtModel.load(toOnnx(g), 'basic');
  const feeds: Parameters<OrtModel['run']>[0] = {};
  for (const [k, v] of Object.entries(inputs)) {
    const flat = (v as (number | number[])[]).flat();
    feeds[k] = { data: Float64Array.from(flat), dims: Array.isArray(v[0]) ? [B, T] : [v.length] };
  }
  const r = await model.run(feeds);
  await model.release();
  const arr = (n: string): number[] => Array.from(r[n].data as Float64Array);
  return { loss: arr('loss')[0], metrics: Object.fromEntries(names.map((m, i) => [m, arr(`m${i}`)[0]])), grads: Object.fromEntries(wrt.map((k) => [k, arr(`grad_${k}`)])) };
}

async function check(name: string, inputs: Values, build: (t: Record<string, Tensor>) => RlLossTensors, reference: (v: Values) => RlLossOutput, wrt: readonly string[]): Promise<void> {
  const ref = reference(inputs);
  const got = await runGraph(inputs, build, wrt);
  assert.ok(Math.abs(got.loss - ref.loss) <= 1e-12 * Math.max(1, Math.abs(ref.loss)), `${name} loss ${got.loss} vs ${ref.loss}`);
  assert.deepEqual(Object.keys(got.metrics).sort(), Object.keys(ref.metrics).sort());
  for (const [k, x] of Object.entries(ref.metrics)) assert.ok(Math.abs(got.metrics[k] - x) <= 1e-12 * Math.max(1, Math.abs(x)), `${name} ${k}: ${got.metrics[k]} vs ${x}`);
  const errs: string[] = [];
  for (const k of wrt) {
    const base = inputs[k] as number[][];
    const num: number[] = [];
    base.forEach((row, i) =>
      row.forEach((x, j) => {
        const eps = 1e-6 * Math.max(1, Math.abs(x));
        const at = (d: number): number => reference({ ...inputs, [k]: base.map((r, a) => r.map((y, b) => (a === i && b === j ? y + d : y))) }).loss;
        num.push((at(eps) - at(-eps)) / (2 * eps));
      }),
    );
    const scale = Math.max(...num.map(Math.abs));
    const err = Math.max(...num.map((n, i) => Math.abs(n - got.grads[k][i]))) / scale;
    errs.push(`${k} ${err.toExponential(1)}`);
    assert.ok(err < 1e-7, `${name}: d loss / d ${k}: relative error ${err}`);
    // Padding positions get no gradient.
    base.forEach((row, i) => row.forEach((_, j) => mask[i][j] || assert.ok(got.grads[k][i * T + j] === 0, `${name}: padding ${k}[${i}][${j}] has gradient ${got.grads[k][i * T + j]}`)));
  }
  console.log(`  ${name}: maxdiff ${errs.join(', ')}`);
}

test('the fixed inputs exercise both sides of every clip, away from the boundaries', () => {
  const ratios = logp.flatMap((row, i) => row.map((x, t) => Math.exp(x - oldLogp[i][t])));
  assert.ok(ratios.some((r) => r > 1.2) && ratios.some((r) => r < 0.8) && ratios.some((r) => r > 0.8 && r < 1.2));
  assert.ok(ratios.every((r) => Math.abs(r - 1.2) > 1e-3 && Math.abs(r - 0.8) > 1e-3));
  const dv = values.flatMap((row, i) => row.map((v, t) => Math.abs(v - oldValues[i][t])));
  assert.ok(dv.some((d) => d > 0.2) && dv.some((d) => d < 0.2) && dv.every((d) => Math.abs(d - 0.2) > 1e-3));
});

test('PPO loss: graph = reference, gradients w.r.t. log-probs and values = finite differences', async () => {
  const cfg = { cliprange: 0.2, cliprangeValue: 0.2, vfCoef: 0.1 };
  await check(
    'ppo',
    { logp, oldLogp, advantages, values, oldValues, returns, mask },
    (t) => ppoLossGraph({ logp: t.logp, oldLogp: t.oldLogp, advantages: t.advantages, values: t.values, oldValues: t.oldValues, returns: t.returns, mask: t.mask }, cfg),
    (v) => ppoLoss(v as unknown as Parameters<typeof ppoLoss>[0], cfg),
    ['logp', 'values'],
  );
});

const seqAdv = [0.9, -1.3, 0.4];
const clippedInputs = { logp, oldLogp, advantages: seqAdv, mask, refLogp };
type ClippedValues = Parameters<typeof clippedPolicyLoss>[0];

test('GRPO clipped policy loss: every loss_type, clip-higher, GSPO sequence ratios, with and without the k3 penalty', async () => {
  const configs: ClippedPolicyConfig[] = [];
  for (const lossType of GRPO_LOSS_TYPES) for (const beta of [0, 0.04]) configs.push({ epsilon: 0.2, beta, lossType, maxCompletionLength: 7 });
  configs.push({ epsilon: 0.2, epsilonHigh: 0.28, beta: 0.04, lossType: 'dapo' });
  configs.push({ epsilon: 0.2, epsilonHigh: 0.28, beta: 0, lossType: 'grpo', importanceSamplingLevel: 'sequence' });
  for (const cfg of configs) {
    await check(
      `grpo ${JSON.stringify(cfg)}`,
      clippedInputs,
      (t) => clippedPolicyLossGraph({ logp: t.logp, oldLogp: t.oldLogp, advantages: t.advantages, mask: t.mask, refLogp: t.refLogp }, cfg),
      (v) => clippedPolicyLoss(v as unknown as ClippedValues, cfg),
      ['logp'],
    );
  }
});

test('GRPO dapo over micro-batches: the divisor input stands for the whole step\'s active tokens', async () => {
  // 12 real tokens here; as one of 2 micro-batches of a step with 30 active tokens the divisor is 30 / 2 = 15.
  const cfg: ClippedPolicyConfig = { epsilon: 0.2, beta: 0.04, lossType: 'dapo' };
  await check(
    'dapo activeTokens',
    { ...clippedInputs, activeTokens: [15] },
    (t) => clippedPolicyLossGraph({ logp: t.logp, oldLogp: t.oldLogp, advantages: t.advantages, mask: t.mask, refLogp: t.refLogp, activeTokens: t.activeTokens }, cfg),
    (v) => clippedPolicyLoss(v as unknown as ClippedValues, cfg, 15),
    ['logp'],
  );
});

test('RLOO sequence-level clipped loss (TRL RLOOTrainer): graph = reference, gradient = finite differences', async () => {
  // Sequence log-ratios here: 1.27, 0.25, -0.13 -> ratios 3.56 (clipped), 1.28 (clipped), 0.88 (inside).
  for (const cfg of [{ epsilon: 0.2 }, { epsilon: 0.2, epsilonHigh: 0.4 }]) {
    await check(
      `rloo ${JSON.stringify(cfg)}`,
      clippedInputs,
      (t) => sequencePolicyLossGraph({ logp: t.logp, oldLogp: t.oldLogp, advantages: t.advantages, mask: t.mask }, cfg),
      (v) => sequencePolicyLoss(v as unknown as ClippedValues, cfg),
      ['logp'],
    );
  }
});

test('rollout math on hand-computed values', () => {
  // KL estimators: k1 = logp - ref; k3 = (e^l - 1) - l, l = ref - logp.
  assert.equal(klPerToken(-1, -1.5, 'k1'), 0.5);
  assert.ok(Math.abs(klPerToken(-1, -1.5, 'k3') - (Math.exp(-0.5) - 1 + 0.5)) < 1e-15);
  assert.ok(klPerToken(-2, -1, 'k3') >= 0 && klPerToken(-2, -1, 'k1') < 0);

  // PPO rewards: -kl_coef * k1 per token, score (minus the EOS penalty) at the last real token.
  const r = ppoRewards(
    { scores: [2, 1], logp: [[-1, -1, -1], [-1, -1, -1]], refLogp: [[-1.5, -1, -0.5], [-1, -2, -9]], mask: [[1, 1, 1], [1, 1, 0]], missingEos: [false, true] },
    { klCoef: 0.1, estimator: 'k1', missingEosPenalty: 1 },
  );
  const near = (a: number[][], b: number[][]): void => a.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - b[i][j]) < 1e-12, `${x} vs ${b[i][j]}`)));
  near(r.rewards, [[-0.05, 0, 0.05 + 2], [0, -0.1 + 0, 0]]);
  assert.deepEqual(r.scores, [2, 0]);

  // GAE with gamma = 1, lambda = 0.5, no whitening: V = [0.5, 0.25, 0], r = [0, 0, 1].
  // delta_2 = 1 - 0 = 1; delta_1 = 0 + 0 - 0.25 = -0.25; delta_0 = 0 + 0.25 - 0.5 = -0.25;
  // A_2 = 1; A_1 = -0.25 + 0.5 = 0.25; A_0 = -0.25 + 0.125 = -0.125.
  const g = gae([[0, 0, 1, 0]], [[0.5, 0.25, 0, 9]], [[1, 1, 1, 0]], 1, 0.5, false);
  near(g.advantages, [[-0.125, 0.25, 1, 0]]);
  near(g.returns, [[0.375, 0.5, 1, 0]]);

  // Whitening over the mask: unbiased variance; padding stays 0.
  const w = maskedWhiten([[1, 2, 3, 100]], [[1, 1, 1, 0]]);
  near(w, [[-1 / Math.sqrt(1 + 1e-8), 0, 1 / Math.sqrt(1 + 1e-8), 0]]);
  const ws = maskedWhiten([[1, 2, 3]], [[1, 1, 1]], false);
  near(ws, [[1, 2, 3]].map((row) => row.map((x) => (x - 2) / Math.sqrt(1 + 1e-8) + 2)));

  // RLOO: k = 3, beta = 0.5: r = [1 - 0.5, 2, 3 - 1] = [0.5, 2, 2]; A_0 = 0.5 - 2 = -1.5; A_1 = 2 - 1.25 = 0.75.
  const rr = klPenalizedRewards([1, 2, 3, 0, 0, 0], [1, 0, 2, 0, 0, 0], 0.5);
  assert.deepEqual(rlooAdvantages(rr, 3).advantages, [-1.5, 0.75, 0.75, 0, 0, 0]);
  // GRPO: group [1, 2, 3]: mean 2, unbiased std 1.
  const ga = grpoAdvantages([1, 2, 3, 5, 5, 5], 3);
  assert.ok(Math.abs(ga.advantages[0] + 1 / 1.0001) < 1e-12 && ga.advantages[1] === 0 && Math.abs(ga.advantages[2] - 1 / 1.0001) < 1e-12);
  assert.deepEqual(ga.advantages.slice(3), [0, 0, 0]); // a group whose rewards all tie has no signal
  assert.deepEqual(ga.zeroStd, [false, true]);
  assert.throws(() => grpoAdvantages([1, 2, 3], 2), /groups of k = 2/);
  assert.throws(() => rlooAdvantages([1, 2], 1), /k >= 2/);
});
