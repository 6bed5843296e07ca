/**
 * Online DPO learns the toy task of the GRPO / RLOO learning test on the built-in tiny model: reward 1 when the
 * completion contains a number (any digit token), 0 otherwise. The untrained model writes a digit in about 40% of
 * its 4-token completions, so about half the pairs have a winner from the first step; DPO steps on them make
 * digits certain within 14 rollouts of 16 pairs, while the KL to the reference (summed over a completion's 4
 * tokens) stays finite: 0 at the first step, where the policy is the reference, about 20 at the end. Once every
 * completion has a digit, every pair ties and trains nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getBuiltinModel } from '../../../../src/engine/models/builtin';
import { buildModel } from '../../../../src/engine/models/transformer';
import { onlineDpoConfig } from '../../../../src/training/online/onlineDpo';
import { OnlineDpoTrainer } from '../../../../src/training/online/onlineDpoTrainer';
import type { OnlineStepResult } from '../../../../src/training/online/onlineTrainer';
import { regexReward } from '../../../../src/training/online/rewards/verifiers';

const QUESTIONS = ['What is the capital of France?', 'Name a color.', 'What is 3 plus 4?', 'Say hello.', 'What animal says moo?', 'What month comes after May?', 'Tell me a fruit.', 'How are you?'];
const STEPS = 14;

test('online DPO (sigmoid, beta 0.1) raises the rate of completions with a number, KL finite', async () => {
  const m = getBuiltinModel(fs.mkdtempSync(path.join(os.tmpdir(), 'builtin-')));
  const model = buildModel(m.config, 'lm', { maxLength: 64 });
  const trainer = await OnlineDpoTrainer.create({
    config: onlineDpoConfig({ max_new_tokens: 4, temperature: 1, beta: 0.1 }),
    model,
    weights: new Map([...m.weights].map(([k, v]) => [k, v.data])),
    tokenizer: m.tokenizer,
    prompts: QUESTIONS.map((q, i) => ({ id: `q${i}`, prompt: [{ role: 'user', content: q }] })),
    rewards: [{ fn: regexReward('[0-9]', { name: 'has_number' }), weight: 1 }],
    promptsPerStep: 16,
    optim: { optimizer: { kind: 'adamw', lr: 6e-3, weightDecay: 0 }, maxGradNorm: 1 },
    seed: 1,
    threads: 1,
  });
  const steps: OnlineStepResult[] = [];
  try {
    for (let s = 0; s < STEPS; s++) steps.push(await trainer.step());
  } finally {
    await trainer.dispose();
  }
  const score = steps.map((s) => s.metrics['objective/scores'] as number);
  const kl = steps.map((s) => s.metrics['objective/kl'] as number);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(score.slice(0, 3));
  const last = mean(score.slice(-3));
  console.log(`  online-dpo: scores ${score.map((r) => r.toFixed(2)).join(' ')}; kl ${kl.map((k) => k.toFixed(2)).join(' ')}; trained pairs ${steps.map((s) => s.metrics['pairs/trained']).join(' ')}; acc ${steps.map((s) => (s.metrics['rewards/accuracies'] as number).toFixed(2)).join(' ')}`);
  assert.ok(first > 0.1 && first < 0.7, `the untrained model has room to learn (first scores ${first})`);
  assert.ok(last >= 0.8 && last >= first + 0.25, `mean score rose from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(kl.every(Number.isFinite) && (kl[STEPS - 1] as number) > 0 && (kl[STEPS - 1] as number) < 40, `KL finite and positive: ${kl}`);
  assert.ok(Math.abs(kl[0] as number) < 1e-3, `KL 0 at the first step (policy = reference), got ${kl[0]}`);
  assert.ok(Math.abs(steps[0]?.metrics['rewards/margins'] as number) < 1e-4, 'implicit rewards 0 at the first step');
  for (const s of steps) {
    assert.ok(Number.isFinite(s.metrics.loss) && Number.isFinite(s.metrics.grad_norm), 'finite loss and grad_norm');
    assert.equal(s.samples.length, 32);
    assert.equal((s.metrics['pairs/trained'] as number) + (s.metrics['pairs/ties'] as number), 16, 'every pair trains or ties (no reward fails)');
  }
  for (const k of ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'val/contain_eos_token', 'beta', 'num_tokens', 'learning_rate']) {
    assert.ok(k in (steps[0]?.metrics ?? {}), `metric ${k}`);
  }
});
