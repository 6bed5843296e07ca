/**
 * Every graph loss of src/training (`<name>Graph` in each method's file) against its float64 reference
 * (test/support/reference/losses.ts) on fixed inputs, run through onnxruntime-node:
 * - forward: loss, per-example losses and every TRL metric, float64, to 1e-12 relative;
 * - gradient: d loss / d input from the graph's autodiff vs central finite differences of the REFERENCE loss
 *   (eps = 1e-6 * max(1, |x|)), max |analytic - numeric| / max |numeric| below 1e-7;
 * - float32: the same graph built in float32 agrees with the reference to 1e-5 relative.
 * Inputs avoid kinks (hinge at beta h = 1, KTO's clamp of z0 at 0) by a wide margin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type Tensor } from '../../../src/engine/graph/graph';
import { grad } from '../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../src/engine/graph/emit';
import { DPO_LOSS_TYPE_IDS, type DpoLossType } from '../../../src/core/methods';
import { cpoLossGraph } from '../../../src/training/cpo';
import { dpoLossGraph } from '../../../src/training/dpo';
import { ktoLossGraph } from '../../../src/training/kto';
import { orpoLossGraph } from '../../../src/training/orpo';
import { bradleyTerryLossGraph, rewardRegressionLossGraph } from '../../../src/training/reward';
import type { LossTensors } from '../../../src/training/shared';
import { simpoLossGraph } from '../../../src/training/simpo';
import {
  bradleyTerryLoss,
  cpoLoss,
  dpoLoss,
  ktoLoss,
  ktoMismatchedIndex,
  orpoLoss,
  rewardRegressionLoss,
  simpoLoss,
  type LossOutput,
} from '../../support/reference/losses';
import { OrtModel } from '../engine/graph/ortRun';

// ---------------------------------------------------------------------------------------------------------
// Fixed inputs (B = 6)

/** Summed log-probs of chosen / rejected completions under policy and reference, and their token counts. */
const chosenTokens = [12, 5, 30, 8, 21, 16];
const rejectedTokens = [9, 14, 25, 6, 18, 40];
const refChosen = [-31.2, -14.9, -70.4, -20.1, -52.3, -41.0];
const refRejected = [-25.6, -33.8, -61.7, -16.2, -45.9, -98.4];
// Policy = reference + offsets chosen so that beta h (beta 0.1) spreads over [-1.5, 2.6]: h = [-5, 3, 8, 14, 25, -12].
const policyChosen = [-33.2, -13.9, -66.4, -14.1, -40.3, -45.0];
const policyRejected = [-24.6, -35.8, -65.7, -24.2, -58.9, -90.4];
const chosenLogitsMean = [0.31, -0.12, 0.05, 0.44, -0.2, 0.1];
const rejectedLogitsMean = [0.22, 0.01, -0.3, 0.17, 0.09, -0.05];

const pairValues = { policyChosen, policyRejected, refChosen, refRejected, chosenTokens, rejectedTokens, chosenLogitsMean, rejectedLogitsMean };
const pairGrad = ['policyChosen', 'policyRejected', 'refChosen', 'refRejected'];

// ---------------------------------------------------------------------------------------------------------
// Harness

type Values = Record<string, number[]>;
interface Case {
  readonly name: string;
  readonly values: Values;
  /** Inputs given as bool tensors (labels). */
  readonly bools?: Record<string, boolean[]>;
  /** Inputs whose gradient is checked against finite differences of the reference. */
  readonly gradInputs: readonly string[];
  /** Inputs whose graph gradient must be exactly zero (detached). */
  readonly zeroGrad?: readonly string[];
  build(t: Record<string, Tensor>): LossTensors;
  reference(v: Values, b: Record<string, boolean[]>): LossOutput;
}

const safe = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');

async function runGraph(c: Case, dtype: 'float64' | 'float32'): Promise<{ loss: number; losses: number[]; metrics: Record<string, number>; grads: Record<string, number[]> }> {
  const g = new Graph();
  const t: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.values)) t[k] = g.input(k, [v.length], dtype);
  for (const [k, v] of Object.entries(c.bools ?? {})) t[k] = g.input(k, [v.length], 'bool');
  const out = c.build(t);
  const wrt = [...c.gradInputs, ...(c.zeroGrad ?? [])];
  const grads = grad(out.loss, wrt.map((k) => t[k]));
  g.output('loss', out.loss);
  g.output('losses', out.losses);
  const metricNames = Object.keys(out.metrics);
  metricNames.forEach((m) => g.output(`metric_${safe(m)}`, out.metrics[m]));
  wrt.forEach((k, i) => g.output(`grad_${k}`, grads[i]));
  const model = await OrtModel.load(toOnnx(g), dtype === 'float64' ? 'basic' : 'all');
  const feeds: Parameters<OrtModel['run']>[0] = {};
  for (const [k, v] of Object.entries(c.values)) feeds[k] = { data: dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), dims: [v.length] };
  for (const [k, v] of Object.entries(c.bools ?? {})) feeds[k] = { data: Uint8Array.from(v.map(Number)), dims: [v.length] };
  const r = await model.run(feeds);
  await model.release();
  const arr = (name: string): number[] => Array.from(r[name].data as Float64Array | Float32Array, Number);
  return {
    loss: arr('loss')[0],
    losses: arr('losses'),
    metrics: Object.fromEntries(metricNames.map((m) => [m, arr(`metric_${safe(m)}`)[0]])),
    grads: Object.fromEntries(wrt.map((k) => [k, arr(`grad_${k}`)])),
  };
}

function close(actual: number, expected: number, rel: number, what: string): void {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (tolerance ${tol})`);
}

/** Central finite differences of the reference loss w.r.t. one input vector. */
function numericGrad(c: Case, input: string): number[] {
  const base = c.values[input];
  return base.map((x, i) => {
    const eps = 1e-6 * Math.max(1, Math.abs(x));
    const at = (d: number): number => c.reference({ ...c.values, [input]: base.map((y, j) => (j === i ? y + d : y)) }, c.bools ?? {}).loss;
    return (at(eps) - at(-eps)) / (2 * eps);
  });
}

async function check(c: Case): Promise<void> {
  const ref = c.reference(c.values, c.bools ?? {});
  const got = await runGraph(c, 'float64');
  close(got.loss, ref.loss, 1e-12, `${c.name} loss`);
  assert.equal(got.losses.length, ref.losses.length);
  got.losses.forEach((x, i) => close(x, ref.losses[i], 1e-12, `${c.name} losses[${i}]`));
  assert.deepEqual(Object.keys(got.metrics).sort(), Object.keys(ref.metrics).sort(), `${c.name}: metric names`);
  for (const [k, x] of Object.entries(ref.metrics)) close(got.metrics[k], x, 1e-12, `${c.name} ${k}`);
  const errs: string[] = [];
  for (const input of c.gradInputs) {
    const num = numericGrad(c, input);
    const scale = Math.max(...num.map(Math.abs), 1e-12);
    const err = Math.max(...num.map((n, i) => Math.abs(n - got.grads[input][i]))) / scale;
    errs.push(`${input} ${err.toExponential(1)}`);
    assert.ok(err < 1e-7, `${c.name}: d loss / d ${input}: relative error ${err} (analytic ${got.grads[input]}, numeric ${num})`);
  }
  for (const input of c.zeroGrad ?? []) assert.ok(got.grads[input].every((x) => x === 0), `${c.name}: ${input} must get no gradient`);
  const f32 = await runGraph(c, 'float32');
  close(f32.loss, ref.loss, 1e-5, `${c.name} float32 loss`);
  for (const [k, x] of Object.entries(ref.metrics)) close(f32.metrics[k], x, 1e-4, `${c.name} float32 ${k}`);
  // One line per loss: the max relative gradient error per input (as the graph op tests print).
  console.log(`  ${c.name}: maxdiff ${errs.join(', ')}`);
}

const pairTensors = (t: Record<string, Tensor>) => ({
  policyChosen: t.policyChosen,
  policyRejected: t.policyRejected,
  refChosen: t.refChosen,
  refRejected: t.refRejected,
  chosenTokens: t.chosenTokens,
  rejectedTokens: t.rejectedTokens,
  chosenLogitsMean: t.chosenLogitsMean,
  rejectedLogitsMean: t.rejectedLogitsMean,
});
const pairRef = (v: Values) => ({
  policyChosen: v.policyChosen,
  policyRejected: v.policyRejected,
  refChosen: v.refChosen,
  refRejected: v.refRejected,
  chosenTokens: v.chosenTokens,
  rejectedTokens: v.rejectedTokens,
  chosenLogitsMean: v.chosenLogitsMean,
  rejectedLogitsMean: v.rejectedLogitsMean,
});

// ---------------------------------------------------------------------------------------------------------
// Cases

const dpoCases: [DpoLossType, number, number][] = [
  ['sigmoid', 0.1, 0],
  ['ipo', 0.1, 0],
  ['hinge', 0.1, 0],
  ['cdpo', 0.1, 0.1],
  ['robust', 0.1, 0.2],
  ['sigmoid_norm', 0.5, 0],
];

test('every DPO loss type of the method card has a case here', () => {
  assert.deepEqual(dpoCases.map(([t]) => t).sort(), [...DPO_LOSS_TYPE_IDS].sort());
});

for (const [lossType, beta, labelSmoothing] of dpoCases) {
  test(`DPO ${lossType}: graph = reference, gradients = finite differences`, async () => {
    await check({
      name: `dpo/${lossType}`,
      values: pairValues,
      gradInputs: pairGrad,
      build: (t) => dpoLossGraph(pairTensors(t), { lossType, beta, labelSmoothing }),
      reference: (v) => dpoLoss(pairRef(v), { lossType, beta, labelSmoothing }),
    });
  });
}

test('hinge: the inputs cover both sides of the kink', () => {
  const r = dpoLoss(pairValues, { lossType: 'hinge', beta: 0.1 });
  assert.ok(r.losses.some((x) => x === 0) && r.losses.some((x) => x > 0.3));
});

test('SimPO (pure and with NLL), CPO (with and without label smoothing), ORPO', async () => {
  const policyOnly = ['policyChosen', 'policyRejected'];
  await check({
    name: 'simpo',
    values: pairValues,
    gradInputs: policyOnly,
    build: (t) => simpoLossGraph(pairTensors(t), { beta: 2, gamma: 1 }),
    reference: (v) => simpoLoss(pairRef(v), { beta: 2, gamma: 1 }),
  });
  await check({
    name: 'simpo+nll',
    values: pairValues,
    gradInputs: policyOnly,
    build: (t) => simpoLossGraph(pairTensors(t), { beta: 0.1, gamma: 0.5, nllWeight: 1 }),
    reference: (v) => simpoLoss(pairRef(v), { beta: 0.1, gamma: 0.5, nllWeight: 1 }),
  });
  await check({
    name: 'cpo',
    values: pairValues,
    gradInputs: policyOnly,
    build: (t) => cpoLossGraph(pairTensors(t), { beta: 0.1, alpha: 1 }),
    reference: (v) => cpoLoss(pairRef(v), { beta: 0.1, alpha: 1 }),
  });
  await check({
    name: 'cpo+ls',
    values: pairValues,
    gradInputs: policyOnly,
    build: (t) => cpoLossGraph(pairTensors(t), { beta: 0.1, alpha: 0.5, labelSmoothing: 0.1 }),
    reference: (v) => cpoLoss(pairRef(v), { beta: 0.1, alpha: 0.5, labelSmoothing: 0.1 }),
  });
  await check({
    name: 'orpo',
    values: pairValues,
    gradInputs: policyOnly,
    build: (t) => orpoLossGraph(pairTensors(t), { lambda: 0.1 }),
    reference: (v) => orpoLoss(pairRef(v), { lambda: 0.1 }),
  });
});

// KTO: 6 examples, labels mixed; mismatched pairs (x_i, y_{i-1}) give log-probs whose mean difference is > 0.
const labels = [true, false, true, true, false, false];
const ktoValues = {
  policy: [-20.5, -33.1, -12.4, -45.0, -28.8, -9.7],
  ref: [-22.0, -31.0, -13.9, -44.1, -27.5, -11.2],
  policyKl: [-48.2, -30.9, -41.7, -25.3, -52.0, -37.4],
  refKl: [-50.1, -32.4, -41.0, -27.9, -53.3, -38.0],
  tokens: [10, 17, 6, 25, 14, 5],
  logitsMean: [0.2, -0.1, 0.05, 0.3, -0.4, 0.0],
};
const ktoTensors = (t: Record<string, Tensor>) => ({ policy: t.policy, ref: t.ref, policyKl: t.policyKl, refKl: t.refKl, labels: t.labels, tokens: t.tokens, logitsMean: t.logitsMean });
const ktoRef = (v: Values, b: Record<string, boolean[]>) => ({ policy: v.policy, ref: v.ref, policyKl: v.policyKl, refKl: v.refKl, labels: b.labels, tokens: v.tokens, logitsMean: v.logitsMean });

test('KTO: z0 detached and clamped at 0, weights per label', async () => {
  assert.deepEqual([0, 1, 5].map((i) => ktoMismatchedIndex(i, 6)), [5, 0, 4]);
  const cfg = { beta: 0.1, desirableWeight: 1, undesirableWeight: 1.33 };
  const ref = ktoLoss(ktoRef(ktoValues, { labels }), cfg);
  assert.ok(ref.metrics.kl > 0.5, 'z0 is positive here (the clamp is inactive)');
  await check({
    name: 'kto',
    values: ktoValues,
    bools: { labels },
    gradInputs: ['policy', 'ref'],
    zeroGrad: ['policyKl', 'refKl'],
    build: (t) => ktoLossGraph(ktoTensors(t), cfg),
    reference: (v, b) => ktoLoss(ktoRef(v, b), cfg),
  });
  // z0 clamped to 0 when the mismatched policy log-probs are below the reference's; all one label.
  const clamped = { ...ktoValues, policyKl: ktoValues.refKl.map((x) => x - 1) };
  await check({
    name: 'kto/z0=0',
    values: clamped,
    bools: { labels: labels.map(() => true) },
    gradInputs: ['policy', 'ref'],
    zeroGrad: ['policyKl', 'refKl'],
    build: (t) => ktoLossGraph(ktoTensors(t), { beta: 0.2, desirableWeight: 1, undesirableWeight: 1 }),
    reference: (v, b) => ktoLoss(ktoRef(v, b), { beta: 0.2, desirableWeight: 1, undesirableWeight: 1 }),
  });
  assert.equal(ktoLoss(ktoRef(clamped, { labels }), cfg).metrics.kl, 0);
});

test('Bradley-Terry reward loss (margin, centering) and pointwise regression', async () => {
  const rv = { chosen: [1.2, -0.3, 0.8, 2.5, -1.1, 0.05], rejected: [0.4, 0.2, -0.9, 2.7, -1.6, -0.5], margin: [0, 1, 0.5, 0, 2, 0.25], numTokens: [40, 22, 61, 18, 33, 50] };
  await check({
    name: 'bradley-terry',
    values: rv,
    gradInputs: ['chosen', 'rejected', 'margin'],
    build: (t) => bradleyTerryLossGraph({ chosen: t.chosen, rejected: t.rejected, margin: t.margin, numTokens: t.numTokens }, 0.01),
    reference: (v) => bradleyTerryLoss({ chosen: v.chosen, rejected: v.rejected, margin: v.margin, numTokens: v.numTokens }, 0.01),
  });
  await check({
    name: 'bradley-terry/plain',
    values: { chosen: rv.chosen, rejected: rv.rejected },
    gradInputs: ['chosen', 'rejected'],
    build: (t) => bradleyTerryLossGraph({ chosen: t.chosen, rejected: t.rejected }),
    reference: (v) => bradleyTerryLoss({ chosen: v.chosen, rejected: v.rejected }),
  });
  await check({
    name: 'regression',
    values: { rewards: [0.5, 2.2, -1.0, 3.1], ratings: [1, 2, -0.5, 4] },
    gradInputs: ['rewards'],
    build: (t) => rewardRegressionLossGraph(t.rewards, t.ratings),
    reference: (v) => rewardRegressionLoss(v.rewards, v.ratings),
  });
});

// ---------------------------------------------------------------------------------------------------------
// The references themselves, on hand-computed values (so a shared mistake in both cannot pass unnoticed)

test('reference losses match values computed by hand', () => {
  const one = { policyChosen: [-10], policyRejected: [-12], refChosen: [-11], refRejected: [-11], chosenTokens: [4], rejectedTokens: [6] };
  // h = (1) - (-1) = 2; beta h = 0.2.
  close(dpoLoss(one, { lossType: 'sigmoid', beta: 0.1 }).loss, Math.log1p(Math.exp(-0.2)), 1e-15, 'sigmoid');
  close(dpoLoss(one, { lossType: 'hinge', beta: 0.1 }).loss, 0.8, 1e-15, 'hinge');
  // IPO: h_bar = 1/4 - (-1/6) = 5/12; (5/12 - 5)^2.
  close(dpoLoss(one, { lossType: 'ipo', beta: 0.1 }).loss, (5 / 12 - 5) ** 2, 1e-13, 'ipo');
  const eps = 0.1;
  const ls = (x: number): number => -Math.log1p(Math.exp(-x));
  close(dpoLoss(one, { lossType: 'cdpo', beta: 0.1, labelSmoothing: eps }).loss, -(0.9 * ls(0.2)) - 0.1 * ls(-0.2), 1e-15, 'cdpo');
  close(dpoLoss(one, { lossType: 'robust', beta: 0.1, labelSmoothing: eps }).loss, (-(0.9 * ls(0.2)) + 0.1 * ls(-0.2)) / 0.8, 1e-15, 'robust');
  const m = dpoLoss(one, { lossType: 'sigmoid', beta: 0.1 }).metrics;
  close(m['rewards/chosen'], 0.1, 1e-15, 'rewards/chosen');
  close(m['rewards/rejected'], -0.1, 1e-15, 'rewards/rejected');
  assert.equal(m['rewards/accuracies'], 1);
  // SimPO: u = -10/4 - (-12/6) = -0.5; -log sigmoid(2 * -0.5 - 1).
  close(simpoLoss(one, { beta: 2, gamma: 1 }).loss, Math.log1p(Math.exp(2)), 1e-14, 'simpo');
  // CPO: -log sigmoid(0.1 * 2) + 1 * (10 / 4).
  close(cpoLoss(one, { beta: 0.1, alpha: 1 }).loss, Math.log1p(Math.exp(-0.2)) + 2.5, 1e-14, 'cpo');
  // ORPO: lc = -2.5, lr = -2; log odds = (lc - lr) - (log(1 - e^lc) - log(1 - e^lr)).
  const lo = -0.5 - (Math.log(1 - Math.exp(-2.5)) - Math.log(1 - Math.exp(-2)));
  close(orpoLoss(one, { lambda: 0.1 }).loss, 2.5 + 0.1 * Math.log1p(Math.exp(-lo)), 1e-14, 'orpo');
  // Bradley-Terry: r+ = 1, r- = 0, m = 0.5: -log sigmoid(0.5) + 0.01 * 1.
  close(bradleyTerryLoss({ chosen: [1], rejected: [0], margin: [0.5] }, 0.01).loss, Math.log1p(Math.exp(-0.5)) + 0.01, 1e-15, 'bt');
  // KTO: one desirable (rho 2), one undesirable (rho -1); z0 = max(0, mean([1, 3])) = 2.
  const k = ktoLoss({ policy: [-8, -12], ref: [-10, -11], policyKl: [-5, -6], refKl: [-6, -9], labels: [true, false] }, { beta: 1, desirableWeight: 1, undesirableWeight: 2 });
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  close(k.loss, ((1 - sig(2 - 2)) + 2 * (1 - sig(2 - -1))) / 2, 1e-15, 'kto');
  assert.equal(k.metrics.kl, 2);
  assert.throws(() => dpoLoss({ ...one, refChosen: undefined }, { lossType: 'sigmoid', beta: 0.1 }), /refChosen/);
  assert.throws(() => dpoLoss({ ...one, policyRejected: [1, 2] }, { lossType: 'sigmoid', beta: 0.1 }), /policyRejected has 2 entries/);
});
