/**
 * GRPO and RLOO learn a toy task on the built-in tiny model: reward 1 when the completion contains a number (any
 * digit token), 0 otherwise. The untrained model writes a digit in about 40% of its 4-token completions, so
 * groups carry signal from the first step; a trainer that follows its advantages makes digits near certain within
 * 14 rollouts, while the KL to the starting policy stays finite (it grows from exactly 0 at the first update).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getBuiltinModel } from '../../../../src/engine/models/builtin';
import { buildModel } from '../../../../src/engine/models/transformer';
import { grpoConfig, grpoMethod } from '../../../../src/training/online/grpo';
import type { OnlineMethod } from '../../../../src/training/online/onlineMethod';
import { OnlineTrainer, type OnlineStepResult } from '../../../../src/training/online/onlineTrainer';
import { regexReward } from '../../../../src/training/online/rewards/verifiers';
import { rlooConfig, rlooMethod } from '../../../../src/training/online/rloo';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];
const STEPS = 14;

async function train(method: OnlineMethod): Promise<OnlineStepResult[]> {
  const m = getBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-')));
  const model = buildModel(m.config, 'lm', { maxLength: 64 });
  const trainer = await OnlineTrainer.create({
    method,
    model,
    weights: new Map([...m.weights].map(([k, v]) => [k, v.data])),
    tokenizer: m.tokenizer,
    prompts: QUESTIONS.map((q, i) => ({ id: `q${i}`, prompt: [{ role: 'user', content: q }] })),
    rewards: [{ fn: regexReward('[0-9]', { name: 'has_number' }), weight: 1 }],
    promptsPerStep: 4,
    optim: { optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0 }, maxGradNorm: 1 },
    seed: 1,
    threads: 1,
  });
  try {
    const out: OnlineStepResult[] = [];
    for (let s = 0; s < STEPS; s++) out.push(await trainer.step());
    return out;
  } finally {
    await trainer.dispose();
  }
}

function checkLearned(name: string, steps: readonly OnlineStepResult[]): void {
  const reward = steps.map((s) => s.metrics.reward as number);
  const kl = steps.map((s) => s.metrics.kl as number);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(reward.slice(0, 3));
  const last = mean(reward.slice(-3));
  console.log(`  ${name}: reward ${reward.map((r) => r.toFixed(2)).join(' ')}; kl ${kl.map((k) => k.toFixed(2)).join(' ')}`);
  assert.ok(first > 0.1 && first < 0.7, `${name}: the untrained model has room to learn (first rewards ${first})`);
  assert.ok(last >= 0.8 && last >= first + 0.25, `${name}: mean reward rose from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(kl.every(Number.isFinite) && (kl[STEPS - 1] as number) > 0 && (kl[STEPS - 1] as number) < 10, `${name}: KL finite and positive: ${kl}`);
  assert.ok(Math.abs(kl[0] as number) < 1e-3, `${name}: KL 0 at the first update (policy = reference), got ${kl[0]}`);
  for (const s of steps) {
    assert.ok(Number.isFinite(s.metrics.loss) && Number.isFinite(s.metrics.grad_norm) && Number.isFinite(s.metrics.entropy), `${name}: finite loss, grad_norm, entropy`);
    // One update per rollout: the ratio is 1 up to float32 rounding, so nothing is clipped.
    assert.equal(s.metrics['clip_ratio/region_mean'], 0);
    assert.equal(s.samples.length, 32);
  }
  for (const k of ['reward_std', 'frac_reward_zero_std', 'rewards/has_number/mean', 'rewards/has_number/std', 'completions/mean_length', 'completions/clipped_ratio', 'num_tokens', 'learning_rate']) assert.ok(k in (steps[0]?.metrics ?? {}), `${name}: metric ${k}`);
}

test('GRPO (beta 0.04, dapo, group scaling) raises the rate of completions with a number', async () => {
  checkLearned('grpo', await train(grpoMethod(grpoConfig({ num_generations: 8, beta: 0.04, max_completion_length: 4 }))));
});

test('RLOO (beta 0.05, k = 8) raises the rate of completions with a number', async () => {
  checkLearned('rloo', await train(rlooMethod(rlooConfig({ num_generations: 8, beta: 0.05, max_completion_length: 4 }))));
});
