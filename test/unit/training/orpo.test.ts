import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../../src/training/build';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoPairs } from './trainerFixtures';

test('ORPO: losses finite, parameters change, TRL metrics logged, the preference is learned', async () => {
  const m = tinyModel('lm');
  const built = buildPlan({ method: 'orpo', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoPairs(24), yesNoPairs(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(built.plan, 20, 1e-2, { weightDecay: 0.01 });
  assert.ok(r.losses.every(Number.isFinite), `${r.losses}`);
  assert.ok(maxChange(r.before, r.after) > 1e-4);
  for (const k of ['rewards/chosen', 'rewards/accuracies', 'rewards/margins', 'logps/chosen']) assert.ok(k in r.metrics, k);
  const margins = r.metrics['rewards/margins'] as number[];
  assert.ok(mean(margins.slice(-5)) > mean(margins.slice(0, 5)), `margins ${margins.map((x) => x.toFixed(3))}`);
});
