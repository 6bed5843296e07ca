import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../../src/training/build';
import { maxChange, mean, ratedPairs, splits, tinyModel, trainPlan, yesNoPairs } from './trainerFixtures';

test('reward model (Bradley-Terry): held-out accuracy goes up', async () => {
  const m = tinyModel('score');
  const built = buildPlan({ method: 'reward', hyperparameters: { center_rewards_coefficient: 0.01 }, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoPairs(24), yesNoPairs(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(built.plan, 80, 1e-2, { evaluate: true });
  assert.ok(r.losses.every(Number.isFinite));
  assert.ok(maxChange(r.before, r.after) > 1e-4);
  assert.ok((r.evalBefore['accuracy'] as number) < 1, `a random reward model cannot solve the task: ${r.evalBefore['accuracy']}`);
  assert.ok((r.evalAfter['accuracy'] as number) > (r.evalBefore['accuracy'] as number), `accuracy ${r.evalBefore['accuracy']} -> ${r.evalAfter['accuracy']}`);
  assert.ok((r.evalAfter['accuracy'] as number) >= 0.75);
  for (const k of ['accuracy', 'margin', 'min_reward', 'mean_reward', 'max_reward', 'num_tokens']) assert.ok(k in r.metrics, k);
});

test('reward regression on ratings: loss goes down, parameters change', async () => {
  const m = tinyModel('score');
  const built = buildPlan({ method: 'reward-regression', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(ratedPairs(16), ratedPairs(4, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(built.plan, 80, 1e-2);
  assert.ok(r.losses.every(Number.isFinite));
  assert.ok(mean(r.losses.slice(-10)) < 0.5 * mean(r.losses.slice(0, 10)), `${r.losses.map((x) => x.toFixed(3))}`);
  assert.ok(maxChange(r.before, r.after) > 0);
  assert.ok('mae' in r.metrics);
});

test('reward regression reports pairs without ratings as unusable', () => {
  const m = tinyModel('score');
  const built = buildPlan({ method: 'reward-regression', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits([...ratedPairs(4), ...yesNoPairs(2, 50)], []), limits: { maxLength: 32 }, batchSize: 2 });
  assert.equal(built.unusable.length, 2);
  assert.match(built.unusable[0]?.reason ?? '', /no ratings/);
});
