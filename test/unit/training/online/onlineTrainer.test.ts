/**
 * The mechanics of the online trainer on the small fixture model (a 304-row embedding for a 300-token tokenizer):
 * the sampler's log-probs are the update graph's, stop strings cut completions, collation puts every token where
 * the graph reads it, micro-batches give the same step as one batch, reward failures stop or skip as configured,
 * LoRA's reference is the base model, and a restored trainer continues exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Weights } from '../../../../src/engine/models/params';
import { buildModel, type TransformerModel } from '../../../../src/engine/models/transformer';
import { initParams } from '../../../../src/engine/models/params';
import { grpoConfig, grpoMethod } from '../../../../src/training/online/grpo';
import type { OnlineMethod } from '../../../../src/training/online/onlineMethod';
import { OnlineTrainer, type OnlineTrainerOptions } from '../../../../src/training/online/onlineTrainer';
import { collateUpdate, type PolicyLossSpec } from '../../../../src/training/online/policyUpdate';
import { MissingRewardFieldError, RewardError, type RewardFunction } from '../../../../src/training/online/rewards/rewardFunction';
import { numericMatchReward } from '../../../../src/training/online/rewards/verifiers';
import { rlooConfig, rlooMethod } from '../../../../src/training/online/rloo';
import { encodeRolloutPrompt, PolicySampler, type RolloutPrompt } from '../../../../src/training/online/rollout';
import { TokenLogprobScorer } from '../../../../src/training/online/tokenScorer';
import { tinyModel } from '../trainerFixtures';

const PROMPTS: RolloutPrompt[] = Array.from({ length: 6 }, (_, i) => ({
  id: `item${i}`,
  prompt: [{ role: 'user', content: `item ${i + 1}: say ${i % 2 ? 'no' : 'yes'}` }],
  source: { file: 'items.jsonl', line: i + 1 },
  fields: { answer: i % 2 ? 'no' : 'yes' },
}));

/** A reward that varies within every group of the untrained model's completions: characters / 10. */
const lengthReward: RewardFunction = { name: 'chars', score: (xs) => xs.map((x) => x.completion.length / 10) };

const withShapes = (model: TransformerModel, w: ReadonlyMap<string, Float32Array>): Weights => new Map(model.params.map((p) => [p.name, { shape: [...p.shape], data: w.get(p.name) as Float32Array }]));

function options(method: OnlineMethod, over: Partial<OnlineTrainerOptions> = {}): OnlineTrainerOptions {
  const m = tinyModel('lm', 32);
  return {
    method,
    model: m.model,
    weights: m.weights,
    tokenizer: m.tokenizer,
    prompts: PROMPTS,
    rewards: [{ fn: lengthReward, weight: 1 }],
    promptsPerStep: 2,
    optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 }, maxGradNorm: 1 },
    seed: 3,
    threads: 1,
    ...over,
  };
}

test('the sampler\'s log-probs are the update graph\'s (temperature 0.7, top-k, padded vocabulary); stop strings cut', async () => {
  const { model, weights, tokenizer: tok } = tinyModel('lm', 32);
  const cfg = { numGenerations: 4, temperature: 0.7, topK: 20, maxCompletionLength: 6 };
  const promptIds = PROMPTS.slice(0, 2).map((p) => encodeRolloutPrompt(tok, p));
  const roll = await new PolicySampler(model, tok, cfg, { threads: 1 }).sample(withShapes(model, weights), PROMPTS.slice(0, 2), promptIds, 5);
  assert.deepEqual(roll.completions.map((c) => c.promptIndex), [0, 0, 0, 0, 1, 1, 1, 1]);
  const rows = roll.completions.map((c) => ({ promptIds: promptIds[c.promptIndex] as number[], completionIds: c.ids }));
  const seqLen = Math.max(...promptIds.map((p) => p.length)) + 6;
  const diff = async (vocabLimit?: number): Promise<number> => {
    const scorer = await TokenLogprobScorer.create(model, weights, { rows: 8, seqLen, padId: 0, temperature: 0.7, ...(vocabLimit ? { vocabLimit } : {}) }, { threads: 1 });
    try {
      const lp = await scorer.score(rows);
      return Math.max(...roll.completions.flatMap((c, i) => c.logprobs.map((x, t) => Math.abs(x - (lp[i]?.[t] as number)))));
    } finally {
      await scorer.dispose();
    }
  };
  const d = await diff(tok.vocabSize);
  assert.ok(d < 1e-4, `max |sampler - graph| = ${d}`);
  assert.ok((await diff()) > 1e-3, 'normalizing over the padding rows too would not match the sampler');
  for (const c of roll.completions) assert.equal(c.terminated, c.ids[c.ids.length - 1] === tok.eosTokenId);

  // A stop string: the completion ends with the token that completes it.
  const text = roll.completions[0]?.text as string;
  const stop = text.slice(1, 3);
  const cut = await new PolicySampler(model, tok, { ...cfg, stopStrings: [stop] }, { threads: 1 }).sample(withShapes(model, weights), PROMPTS.slice(0, 2), promptIds, 5);
  const c0 = cut.completions[0];
  assert.ok(c0 && c0.terminated && c0.text.includes(stop) && !tok.decode(c0.ids.slice(0, -1), { skipSpecialTokens: true }).includes(stop), `cut at "${stop}": ${JSON.stringify(c0?.text)}`);
  assert.equal(c0.logprobs.length, c0.ids.length);
});

test('collation: each completion token sits where its prediction is, dapo divisor = active tokens / micro-batches', () => {
  const loss: PolicyLossSpec = { kind: 'clipped', cfg: { epsilon: 0.2, beta: 0.1, lossType: 'dapo' } };
  const rows = [
    { promptIds: [5, 6], completionIds: [7, 8, 9], oldLogprobs: [-1, -2, -3], refLogprobs: [-1.5, -2.5, -3.5], advantage: 0.5, active: true },
    { promptIds: [4], completionIds: [3], oldLogprobs: [-4], refLogprobs: [-4.5], advantage: -1, active: false },
  ];
  const f = collateUpdate(rows, loss, { rows: 1, seqLen: 6, microBatches: 2 }, 0);
  assert.deepEqual(f.ids?.shape, [1, 2, 1, 6]);
  assert.deepEqual(Array.from(f.ids?.data as BigInt64Array, Number), [5, 6, 7, 8, 9, 0, 4, 3, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(f.mask?.data as BigInt64Array, Number), [1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0]);
  // Position t predicts token t + 1: prompt of 2 -> completion at 1, 2, 3; prompt of 1 -> at 0 (inactive row).
  assert.deepEqual(Array.from(f.cmask?.data as Float32Array), [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(f.old_logp?.data as Float32Array), [0, -1, -2, -3, 0, -4, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(f.ref_logp?.data as Float32Array), [0, -1.5, -2.5, -3.5, 0, -4.5, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(f.advantages?.data as Float32Array), [0.5, -1]);
  assert.deepEqual(Array.from(f.active_tokens?.data as Float32Array), [1.5, 1.5]);
  assert.throws(() => collateUpdate(rows, loss, { rows: 2, seqLen: 6, microBatches: 2 }, 0), /2 rows for 2 micro-batches of 2/);
});

test('one step in 2 micro-batches = the same step in one batch (grpo and dapo aggregation)', async () => {
  for (const lossType of ['dapo', 'grpo']) {
    // Stop strings make completion lengths differ, so the aggregations differ and dapo's divisor matters.
    const method = grpoMethod(grpoConfig({ num_generations: 4, beta: 0.1, max_completion_length: 6, loss_type: lossType }), ['e', ' ']);
    const run = async (microBatchRows: number): Promise<Record<string, number>> => {
      const t = await OnlineTrainer.create(options(method, { microBatchRows }));
      try {
        return { ...(await t.step()).metrics };
      } finally {
        await t.dispose();
      }
    };
    const [one, two] = [await run(8), await run(4)];
    assert.ok((one['rewards/chars/std'] as number) > 0 && (one['completions/min_length'] as number) < (one['completions/max_length'] as number), 'the rollout has signal and lengths differ');
    // At ratio 1 the grpo loss is -mean(A) = 0; dapo weighs each completion by its length, so it is not.
    if (lossType === 'dapo') assert.ok(Math.abs(one.loss as number) > 1e-2, `dapo loss ${one.loss}`);
    for (const k of ['loss', 'grad_norm']) assert.ok(Math.abs((one[k] as number) - (two[k] as number)) <= 1e-5 * Math.max(1, Math.abs(one[k] as number)), `${lossType} ${k}: ${one[k]} vs ${two[k]}`);
  }
});

test('reward failures: stop names the function and the prompt; skip drops the samples and reports why', async () => {
  const flaky: RewardFunction = { name: 'flaky', score: (xs) => xs.map((x) => (x.prompt.id === PROMPTS[0]?.id || x.prompt.id === PROMPTS[1]?.id ? NaN : 1)) };
  const method = rlooMethod(rlooConfig({ num_generations: 2, max_completion_length: 4 }));
  const stop = await OnlineTrainer.create(options(method, { rewards: [{ fn: flaky, weight: 1 }], promptsPerStep: 6 }));
  try {
    await assert.rejects(stop.step(), (e: Error) => e instanceof RewardError && /"flaky" returned NaN for prompt item[01] \(items\.jsonl:[12]\)/.test(e.message));
  } finally {
    await stop.dispose();
  }
  const skip = await OnlineTrainer.create(options(method, { rewards: [{ fn: flaky, weight: 1 }], rewardOptions: { onError: 'skip' }, promptsPerStep: 6 }));
  try {
    const r = await skip.step();
    assert.equal(r.problems.length, 4);
    assert.equal(r.samples.filter((s) => Number.isNaN(s.reward)).length, 4);
    assert.ok(r.samples.filter((s) => Number.isNaN(s.reward)).every((s) => s.advantage === 0));
    assert.ok(Number.isFinite(r.metrics.loss) && r.metrics.reward === 1);
  } finally {
    await skip.dispose();
  }
  const noAnswers = PROMPTS.map((p, i) => (i === 3 ? { ...p, fields: {} } : p));
  await assert.rejects(OnlineTrainer.create(options(method, { prompts: noAnswers, rewards: [{ fn: numericMatchReward(), weight: 1 }] })), (e: Error) => e instanceof MissingRewardFieldError && /items\.jsonl:4, field "answer"/.test(e.message));
});

test('LoRA: the reference is the base model (KL 0 at the start), only adapters move', async () => {
  const base = tinyModel('lm', 32);
  const model = buildModel(base.model.config, 'lm', { maxLength: 32, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } });
  const weights = new Map(base.weights);
  for (const [k, v] of initParams(model.params.filter((p) => !weights.has(p.name)), 7)) weights.set(k, v.data);
  const method = grpoMethod(grpoConfig({ num_generations: 4, beta: 0.1, max_completion_length: 6 }));
  const t = await OnlineTrainer.create(options(method, { model, weights }));
  try {
    const first = await t.step();
    assert.ok(Math.abs(first.metrics.kl as number) < 1e-5, `kl at the start ${first.metrics.kl}`);
    await t.step();
    const after = await t.currentWeights();
    const moved = (name: string): boolean => (after.get(name) as Float32Array).some((x, i) => x !== (weights.get(name) as Float32Array)[i]);
    for (const p of model.params) if (!p.trainable) assert.equal(moved(p.name), false, `frozen ${p.name} unchanged`);
    const adapters = model.params.filter((p) => p.name.endsWith('.lora_B'));
    assert.ok(adapters.length > 0 && adapters.every((p) => moved(p.name)), 'every lora_B moved');
  } finally {
    await t.dispose();
  }
});

test('restore: a trainer restored after 2 rollouts continues exactly like the one that ran on', async () => {
  const method = grpoMethod(grpoConfig({ num_generations: 4, beta: 0.1, max_completion_length: 6, num_iterations: 2 }));
  const a = await OnlineTrainer.create(options(method));
  const b = await OnlineTrainer.create(options(method));
  try {
    await a.step();
    await a.step();
    await b.restore(await a.state());
    const [x, y] = [await a.step(), await b.step()];
    assert.equal(y.step, 3);
    assert.deepEqual(y.samples.map((s) => s.completion), x.samples.map((s) => s.completion));
    for (const k of ['loss', 'grad_norm', 'reward', 'kl', 'num_tokens']) assert.equal(y.metrics[k], x.metrics[k], k);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});
