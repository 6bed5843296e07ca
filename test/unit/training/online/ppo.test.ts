/**
 * PPO learns the toy task of learning.test.ts on the built-in tiny model (reward 1 when the completion contains a
 * digit): its mean score rises within a fixed number of rollouts, the KL to the reference stays finite, and the
 * value model's loss falls as it learns to predict the returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getBuiltinModel } from '../../../../src/engine/models/builtin';
import { initParams } from '../../../../src/engine/models/params';
import { buildModel } from '../../../../src/engine/models/transformer';
import type { OnlineStepResult } from '../../../../src/training/online/onlineTrainer';
import { ppoConfig } from '../../../../src/training/online/ppo';
import { PpoTrainer, type PpoTrainerOptions } from '../../../../src/training/online/ppoTrainer';
import { regexReward } from '../../../../src/training/online/rewards/verifiers';
import type { Hyperparameters } from '../../../../src/training/hyper';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];

export function ppoOptions(h: Hyperparameters, extra: Partial<PpoTrainerOptions> = {}): PpoTrainerOptions {
  const m = getBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-')));
  return {
    cfg: ppoConfig({ response_length: 4, temperature: 1, ...h }),
    model: buildModel(m.config, 'lm', { maxLength: 64 }),
    weights: new Map([...m.weights].map(([k, v]) => [k, v.data])),
    tokenizer: m.tokenizer,
    prompts: QUESTIONS.map((q, i) => ({ id: `q${i}`, prompt: [{ role: 'user', content: q }] })),
    rewards: [{ fn: regexReward('[0-9]', { name: 'has_number' }), weight: 1 }],
    promptsPerStep: 16,
    optim: { optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0 }, maxGradNorm: 1 },
    seed: 1,
    threads: 1,
    ...extra,
  };
}

async function run(o: PpoTrainerOptions, steps: number): Promise<OnlineStepResult[]> {
  const trainer = await PpoTrainer.create(o);
  try {
    const out: OnlineStepResult[] = [];
    for (let s = 0; s < steps; s++) out.push(await trainer.step());
    return out;
  } finally {
    await trainer.dispose();
  }
}

test('PPO raises the rate of completions with a number; KL finite; the value loss falls', async () => {
  const STEPS = 12;
  const steps = await run(ppoOptions({ num_ppo_epochs: 4, num_mini_batches: 2 }), STEPS);
  const get = (k: string): number[] => steps.map((s) => s.metrics[k] as number);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const score = get('objective/scores');
  const kl = get('objective/kl');
  const vloss = get('loss/value_avg');
  console.log(`  ppo: scores ${score.map((r) => r.toFixed(2)).join(' ')}\n  kl ${kl.map((k) => k.toFixed(3)).join(' ')}\n  value loss ${vloss.map((v) => v.toFixed(4)).join(' ')}`);
  const first = mean(score.slice(0, 3));
  const last = mean(score.slice(-3));
  assert.ok(first > 0.1 && first < 0.7, `the untrained model has room to learn (first scores ${first})`);
  assert.ok(last >= 0.8 && last >= first + 0.25, `mean score rose from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(kl.every(Number.isFinite) && Math.abs(kl[0] as number) < 1e-3 && (kl[STEPS - 1] as number) < 20, `KL 0 at the start, finite after: ${kl}`);
  assert.ok(mean(vloss.slice(-3)) < mean(vloss.slice(0, 3)) / 2, `value loss fell: ${vloss}`);
  for (const k of ['objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'val/clipfrac_avg', 'val/ratio', 'val/num_eos_tokens', 'policy/entropy_avg', 'lr', 'episode', 'rewards/has_number/mean', 'num_tokens']) {
    assert.ok(steps.every((s) => Number.isFinite(s.metrics[k])), `metric ${k} finite on every step`);
  }
  assert.equal(steps[STEPS - 1]?.metrics.episode, 16 * STEPS);
  // 4 epochs x 2 mini-batches: from the second optimizer step the ratio moves off 1.
  assert.ok(steps.some((s) => (s.metrics['policy/approxkl_avg'] as number) > 0), 'the policy moved within a rollout');
});

test('PPO resumes exactly: a trainer restored from the state after rollout 2 (adaptive kl_coef included) repeats rollout 3', async () => {
  const o = ppoOptions({ num_ppo_epochs: 2, num_mini_batches: 2, adap_kl_ctrl: true, target: 0.5, horizon: 16, kl_coef: 0.1 }, { promptsPerStep: 8 });
  const a = await PpoTrainer.create(o);
  const b = await PpoTrainer.create(o);
  try {
    const coefs = [a.klCoef];
    await a.step();
    coefs.push(a.klCoef);
    await a.step();
    coefs.push(a.klCoef);
    const saved = await a.state();
    const third = await a.step();
    // The controller moved: the first rollout's KL is 0 (below target), later ones are not.
    assert.ok(coefs[1] !== coefs[0] && coefs[2] !== coefs[1], `kl_coef adapts: ${coefs}`);
    assert.deepEqual(saved.extra, { kl_coef: coefs[2] });
    await b.restore(saved);
    assert.equal(b.klCoef, coefs[2]);
    const again = await b.step();
    const strip = (m: Readonly<Record<string, number>>): Record<string, number> => Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'step_time'));
    assert.deepEqual(strip(again.metrics), strip(third.metrics));
    assert.deepEqual(again.samples, third.samples);
    assert.equal(b.klCoef, a.klCoef);
    const [wa, wb] = [await a.valueWeights(), await b.valueWeights()];
    for (const [k, v] of wa) assert.deepEqual(wb.get(k), v, `value weight ${k}`);
    await assert.rejects(b.restore({ ...saved, extra: {} }), /kl_coef is missing/);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('PPO with LoRA: the policy and value model train their adapters (and the value head); base weights stay frozen', async () => {
  const base = ppoOptions({ num_ppo_epochs: 1, num_mini_batches: 1 }, { promptsPerStep: 4 });
  const model = buildModel(base.model.config, 'lm', { maxLength: 64, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } });
  const weights = new Map(base.weights);
  for (const [k, v] of initParams(model.params.filter((p) => !weights.has(p.name)), 1)) weights.set(k, v.data);
  const trainer = await PpoTrainer.create({ ...base, model, weights });
  try {
    const v0 = await trainer.valueWeights();
    const res = await trainer.step();
    assert.ok(Math.abs(res.metrics['objective/kl'] as number) < 1e-4, 'the reference is the base model: KL 0 before any update');
    const p1 = await trainer.currentWeights();
    const v1 = await trainer.valueWeights();
    assert.deepEqual(p1.get('layers.0.attn.q.weight'), weights.get('layers.0.attn.q.weight'), 'policy base frozen');
    assert.notDeepEqual(p1.get('layers.0.attn.q.lora_B'), weights.get('layers.0.attn.q.lora_B'), 'policy adapter trained');
    assert.deepEqual(v1.get('layers.0.attn.q.weight'), v0.get('layers.0.attn.q.weight'), 'value base frozen');
    assert.notDeepEqual(v1.get('score.weight'), v0.get('score.weight'), 'value head trained');
    assert.notDeepEqual(v1.get('layers.0.attn.v.lora_B'), v0.get('layers.0.attn.v.lora_B'), 'value adapter trained');
  } finally {
    await trainer.dispose();
  }
});
