import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../../src/training/build';
import { encodeSft } from '../../../src/training/encode';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoSft } from './trainerFixtures';

test('SFT completion-only loss: only completion tokens are scored, and the loss goes down', async () => {
  const m = tinyModel('lm');
  const enc = encodeSft(m.tokenizer, yesNoSft(2), { maxLength: 32, completionOnly: true });
  const s = enc.sequences[0];
  assert.ok(s && s.lossMask.some((x) => x) && s.lossMask.some((x) => !x), 'prompt tokens unscored, completion scored');
  const firstScored = s.lossMask.indexOf(true);
  assert.equal(m.tokenizer.decode(s.ids.slice(firstScored)), 'yes<|im_end|>\n');
  const built = buildPlan({ method: 'sft', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoSft(24), yesNoSft(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(built.plan, 25, 1e-2, { evaluate: true });
  assert.ok(r.losses.every(Number.isFinite));
  assert.ok(mean(r.losses.slice(-5)) < 0.6 * mean(r.losses.slice(0, 3)), `loss ${r.losses.map((x) => x.toFixed(3))}`);
  assert.ok((r.evalAfter['loss'] as number) < (r.evalBefore['loss'] as number));
  assert.ok(maxChange(r.before, r.after) > 1e-4);
  for (const k of ['mean_token_accuracy', 'entropy', 'num_tokens']) assert.ok(k in r.metrics, k);
});

test('SFT without completion-only loss scores the prompt too', () => {
  const m = tinyModel('lm');
  const enc = encodeSft(m.tokenizer, yesNoSft(1), { maxLength: 32, completionOnly: false });
  assert.ok(enc.sequences[0]?.lossMask.every((x) => x));
});
