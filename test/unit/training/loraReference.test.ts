// LoRA with a reference model: the reference is the frozen base (the same weights without adapters). These runs
// used to fail at graph build ("no tensor for parameter ...lora_A") because the reference forward still asked for
// the adapters its lookup leaves out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel } from '../../../src/engine/models/transformer';
import { initParams } from '../../../src/engine/models/params';
import { buildPlan } from '../../../src/training/build';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoPairs, yesNoUnpaired } from './trainerFixtures';

function loraTinyModel() {
  const base = tinyModel('lm');
  const model = buildModel(base.model.config, 'lm', { maxLength: 32, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } });
  const weights = new Map(base.weights);
  // PEFT's init: A random, B = 0, so the adapted policy starts equal to the base (= the reference).
  for (const [k, v] of initParams(model.params.filter((p) => !weights.has(p.name)), 7)) weights.set(k, v.data);
  return { ...base, model, weights };
}

const adapterNames = (m: Map<string, Float32Array>) => [...m.keys()].filter((k) => k.endsWith('.lora_A') || k.endsWith('.lora_B'));

test('DPO with LoRA: the reference is the base without adapters; margins start at 0 and go up, only adapters move', async () => {
  const m = loraTinyModel();
  const { plan } = buildPlan({ method: 'dpo', hyperparameters: { beta: 0.5 }, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoPairs(24), yesNoPairs(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  assert.ok(!plan.params.some((p) => p.name.startsWith('ref.')), 'with LoRA the reference shares the frozen base weights');
  const r = await trainPlan(plan, 25, 3e-2, { evaluate: true });
  assert.ok(r.losses.every(Number.isFinite), `losses ${r.losses}`);
  const margins = r.metrics['rewards/margins'] as number[];
  assert.ok(Math.abs(margins[0] as number) < 1e-6, `policy == reference at step 0 (B = 0): margin ${margins[0]}`);
  assert.ok(mean(margins.slice(-5)) > mean(margins.slice(0, 5)) + 0.02, `margins ${margins.map((x) => x.toFixed(3))}`);
  const moved = adapterNames(r.after).filter((k) => maxChange(new Map([[k, r.before.get(k)!]]), new Map([[k, r.after.get(k)!]])) > 0);
  assert.ok(moved.length > 0, 'adapters changed');
  for (const [k, v] of r.after) if (!k.endsWith('.lora_A') && !k.endsWith('.lora_B')) assert.equal(maxChange(new Map([[k, r.before.get(k)!]]), new Map([[k, v]])), 0, `base weight ${k} frozen`);
});

test('KTO with LoRA builds and trains against the frozen base', async () => {
  const m = loraTinyModel();
  const { plan } = buildPlan({ method: 'kto', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoUnpaired(24), yesNoUnpaired(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(plan, 5, 3e-2);
  assert.ok(r.losses.every(Number.isFinite), `losses ${r.losses}`);
  assert.ok(adapterNames(r.after).some((k) => maxChange(new Map([[k, r.before.get(k)!]]), new Map([[k, r.after.get(k)!]])) > 0), 'adapters changed');
});
