import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../../src/training/build';
import { dpoConfig } from '../../../src/training/dpo';
import { SequenceScorer } from '../../../src/training/evaluate';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoPairs } from './trainerFixtures';

const limits = { maxLength: 32 };

function dpoPlan(hyper: Record<string, string | number | boolean>, batchSize = 4) {
  const m = tinyModel('lm');
  return { m, ...buildPlan({ method: 'dpo', hyperparameters: hyper, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoPairs(24), yesNoPairs(8, 101)), limits, batchSize }) };
}

test('DPO (sigmoid, in-graph reference): rewards/margins and held-out implicit-reward accuracy go up', async () => {
  const { plan } = dpoPlan({ beta: 0.5 });
  const r = await trainPlan(plan, 30, 1e-2, { weightDecay: 0.01, evaluate: true });
  assert.ok(r.losses.every(Number.isFinite), `losses finite: ${r.losses}`);
  assert.ok(maxChange(r.before, r.after) > 1e-4, 'parameters changed');
  const margins = r.metrics['rewards/margins'] as number[];
  assert.ok(mean(margins.slice(-5)) > mean(margins.slice(0, 5)) + 0.05, `margins ${margins.map((x) => x.toFixed(3))}`);
  // At the start policy = reference: every implicit reward is 0 and every pair a tie (counted as wrong).
  assert.equal(r.evalBefore['rewards/accuracies'], 0);
  assert.ok((r.evalAfter['rewards/accuracies'] as number) >= 0.75, `held-out accuracy ${r.evalAfter['rewards/accuracies']}`);
  assert.ok((r.evalAfter['loss'] as number) < (r.evalBefore['loss'] as number), 'held-out loss went down');
});

for (const lossType of ['ipo', 'hinge', 'robust', 'cdpo', 'sigmoid_norm']) {
  test(`DPO loss_type ${lossType}: finite losses, parameters change, TRL metrics logged`, async () => {
    const { plan } = dpoPlan({ beta: 0.1, loss_type: lossType, label_smoothing: lossType === 'robust' || lossType === 'cdpo' ? 0.1 : 0 });
    const r = await trainPlan(plan, 3, 1e-2, { weightDecay: 0.01 });
    assert.ok(r.losses.every(Number.isFinite), `${r.losses}`);
    assert.ok(maxChange(r.before, r.after) > 0);
    for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected']) assert.ok(k in r.metrics, k);
  });
}

test('DPO with precomputed reference log-probs: reference rows are scored once and training moves the policy', async () => {
  const { plan, m } = dpoPlan({ beta: 0.5, precompute_ref_log_probs: true });
  assert.ok(plan.reference, 'the plan asks for reference log-probs');
  assert.ok(!plan.params.some((p) => p.name.startsWith('ref.')), 'no reference weights in the training graph');
  assert.ok(plan.batch.some((b) => b.name === 'ref_chosen'));
  const scorer = await SequenceScorer.create(m.model, 'logps', { batch: 8, seqLen: plan.seqLen, padId: m.tokenizer.padTokenId ?? 0 }, { device: 'cpu', threads: 1 });
  try {
    await scorer.setWeights(m.weights);
    for (const s of ['train', 'eval'] as const) plan.reference?.[s].accept(await scorer.score(plan.reference[s].rows));
  } finally {
    await scorer.dispose();
  }
  const r = await trainPlan(plan, 20, 1e-2, { weightDecay: 0.01, evaluate: true });
  assert.ok(r.losses.every(Number.isFinite));
  const margins = r.metrics['rewards/margins'] as number[];
  assert.ok(mean(margins.slice(-4)) > mean(margins.slice(0, 4)), `margins ${margins}`);
  assert.ok((r.evalAfter['rewards/accuracies'] as number) > (r.evalBefore['rewards/accuracies'] as number));
});

test('DPO config: loss_type must be one of the card\'s loss types', () => {
  assert.equal(dpoConfig({ loss_type: 'ipo' }).lossType, 'ipo');
  assert.throws(() => dpoConfig({ loss_type: 'nope' }), /unknown DPO loss type "nope" \(one of sigmoid, ipo, hinge, cdpo, robust, sigmoid_norm\)/);
});
