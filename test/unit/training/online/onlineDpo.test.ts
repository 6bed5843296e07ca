/**
 * Online DPO (src/training/online/onlineDpo.ts, onlineDpoTrainer.ts):
 * - the loss head against the float64 offline DPO loss (test/support/reference/losses.ts `dpoLoss`) on the pairs
 *   with a winner: per-pair losses, the step loss (their mean), TRL's pair metrics, d loss / d logps against
 *   finite differences of the reference, and no gradient at all into the pairs without a winner;
 * - the whole update graph on the tiny model (policy != reference) against float64 log-probs of the reference
 *   forward: the step's loss is the offline DPO loss of its pairs, in one batch or in micro-batches;
 * - judging: the higher score wins, ties and skipped samples leave the pair out, missing EOS costs the penalty;
 * - the trainer: reward failures, LoRA (reference = base), and a restored trainer continues exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../../src/engine/graph/emit';
import { Graph, type Tensor } from '../../../../src/engine/graph/graph';
import { initParams, type Weights } from '../../../../src/engine/models/params';
import { buildModel } from '../../../../src/engine/models/transformer';
import { Trainer } from '../../../../src/engine/step/trainer';
import { collatePairs, judgePairs, onlineDpoBatchFields, onlineDpoConfig, onlineDpoForward, onlineDpoLossGraph, type UpdatePair } from '../../../../src/training/online/onlineDpo';
import { OnlineDpoTrainer, type OnlineDpoTrainerOptions } from '../../../../src/training/online/onlineDpoTrainer';
import { RewardError, type RewardFunction } from '../../../../src/training/online/rewards/rewardFunction';
import type { RolloutPrompt } from '../../../../src/training/online/rollout';
import { dpoLoss, type LossOutput } from '../../../support/reference/losses';
import { referenceForward, referenceTokenLogprobs } from '../../../support/reference/transformer';
import { OrtModel } from '../../engine/graph/ortRun';
import { tinyModel } from '../trainerFixtures';

// ---------------------------------------------------------------------------------------------------------
// The loss head vs the float64 offline DPO loss

// Six pairs (rows 0-5 chosen, 6-11 rejected); pairs 2 and 4 have no winner.
const logps = [-33.2, -13.9, -66.4, -14.1, -40.3, -45.0, -24.6, -35.8, -65.7, -24.2, -58.9, -90.4];
const refLogps = [-31.2, -14.9, -70.4, -20.1, -52.3, -41.0, -25.6, -33.8, -61.7, -16.2, -45.9, -98.4];
const tokens = [12, 5, 30, 8, 21, 16, 9, 14, 25, 6, 18, 40];
const pairMask = [1, 1, 0, 1, 0, 1];
const kept = [0, 1, 3, 5];

/** The reference DPO loss of the pairs with a winner, from the rows' values. */
function referenceOnKept(lp: readonly number[], cfg: { lossType: 'sigmoid' | 'ipo'; beta: number }): LossOutput {
  const pick = (xs: readonly number[], off: number): number[] => kept.map((i) => xs[off + i] as number);
  return dpoLoss({ policyChosen: pick(lp, 0), policyRejected: pick(lp, 6), refChosen: pick(refLogps, 0), refRejected: pick(refLogps, 6), chosenTokens: pick(tokens, 0), rejectedTokens: pick(tokens, 6) }, cfg);
}

async function runHead(dtype: 'float64' | 'float32', cfg: { lossType: 'sigmoid' | 'ipo'; beta: number }): Promise<{ loss: number; losses: number[]; metrics: Record<string, number>; grad: number[] }> {
  const g = new Graph();
  const t = (name: string, n: number): Tensor => g.input(name, [n], dtype);
  const x = { logps: t('logps', 12), refLogps: t('ref', 12), tokens: t('tokens', 12), pairMask: t('mask', 6), activePairs: t('active', 1) };
  const out = onlineDpoLossGraph(x, cfg);
  const [dl] = grad(out.loss, [x.logps]);
  g.output('loss', out.loss);
  g.output('losses', out.losses);
  g.output('grad', dl as Tensor);
  const names = Object.keys(out.metrics);
  names.forEach((m, i) => g.output(`m${i}`, out.metrics[m] as Tensor));
  const model = await OrtModel.load(toOnnx(g), dtype === 'float64' ? 'basic' : 'all');
  const arr = dtype === 'float64' ? Float64Array : Float32Array;
  const feed = (v: number[]) => ({ data: arr.from(v), dims: [v.length] });
  const r = await model.run({ logps: feed(logps), ref: feed(refLogps), tokens: feed(tokens), mask: feed(pairMask), active: feed([4]) });
  await model.release();
  const nums = (k: string): number[] => Array.from(r[k]?.data as Float64Array, Number);
  return { loss: nums('loss')[0] as number, losses: nums('losses'), metrics: Object.fromEntries(names.map((m, i) => [m, nums(`m${i}`)[0] as number])), grad: nums('grad') };
}

const close = (a: number, b: number, rel: number, what: string): void => assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: got ${a}, expected ${b}`);

for (const lossType of ['sigmoid', 'ipo'] as const) {
  test(`online DPO loss (${lossType}): each pair's loss is the offline DPO loss (float64), ties and skipped pairs get no gradient`, async () => {
    const cfg = { lossType, beta: 0.1 };
    const ref = referenceOnKept(logps, cfg);
    const got = await runHead('float64', cfg);
    close(got.loss, ref.loss, 1e-12, 'loss = mean over the pairs with a winner');
    kept.forEach((p, j) => close(got.losses[p] as number, ref.losses[j] as number, 1e-12, `pair ${p}`));
    for (const p of [2, 4]) assert.equal(got.losses[p], 0, `pair ${p} is left out`);
    for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected']) close(got.metrics[k] as number, ref.metrics[k] as number, 1e-12, k);
    close(got.metrics['objective/kl'] as number, logps.reduce((s, x, i) => s + x - (refLogps[i] as number), 0) / 12, 1e-12, 'objective/kl over every completion');
    close(got.metrics['objective/entropy'] as number, -logps.reduce((s, x) => s + x, 0) / 12, 1e-12, 'objective/entropy');
    // d loss / d l_theta against central differences of the reference loss.
    logps.forEach((x, i) => {
      const eps = 1e-6 * Math.max(1, Math.abs(x));
      const at = (d: number): number => referenceOnKept(logps.map((y, j) => (j === i ? y + d : y)), cfg).loss;
      const num = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(Math.abs((got.grad[i] as number) - num) <= 1e-7 * Math.max(1e-3, Math.abs(num)) + 1e-10, `d loss / d logps[${i}]: ${got.grad[i]} vs ${num}`);
    });
    for (const row of [2, 4, 8, 10]) assert.equal(got.grad[row], 0, `row ${row} (a pair without a winner) gets no gradient`);
    const f32 = await runHead('float32', cfg);
    close(f32.loss, ref.loss, 1e-5, 'float32 loss');
  });
}

test('online DPO config: card defaults (TRL), loss types of the card only, beta > 0', () => {
  const c = onlineDpoConfig();
  assert.deepEqual({ beta: c.beta, lossType: c.lossType, maxNewTokens: c.maxNewTokens, temperature: c.temperature, missingEosPenalty: c.missingEosPenalty }, { beta: 0.1, lossType: 'sigmoid', maxNewTokens: 64, temperature: 0.9, missingEosPenalty: 0 });
  assert.throws(() => onlineDpoConfig({ loss_type: 'hinge' }), /hyperparameters\.loss_type: "hinge" is not one of sigmoid, ipo/);
  assert.throws(() => onlineDpoConfig({ judge: 'human' }), /hyperparameters\.judge: online-dpo has no such hyperparameter/);
});

test('judging pairs: the higher score wins; ties and skipped samples leave the pair out; missing EOS costs the penalty', () => {
  const rewards = [0.2, 0.7, 1, 1, NaN, 3, 0.5, 0.5];
  const valid = [true, true, true, true, false, true, true, true];
  const terminated = [true, true, true, true, true, true, true, false];
  const { scores, verdicts } = judgePairs(rewards, valid, terminated, 0.25);
  assert.deepEqual(verdicts, [
    { chosen: 1, rejected: 0, winner: true, tie: false },
    { chosen: 2, rejected: 3, winner: false, tie: true },
    { chosen: 4, rejected: 5, winner: false, tie: false },
    { chosen: 6, rejected: 7, winner: true, tie: false },
  ]);
  assert.deepEqual(scores, [0.2, 0.7, 1, 1, NaN, 3, 0.5, 0.25]);
});

// ---------------------------------------------------------------------------------------------------------
// The whole update graph on the tiny model vs float64

/** log pi over the first `limit` ids (the ids the policy can produce), float64, summed over each completion. */
function float64SeqLogps(cfg: Parameters<typeof referenceForward>[0], w: Weights, rows: readonly { prompt: number[]; completion: number[] }[], limit: number): number[] {
  return rows.map((r) => {
    const ids = [...r.prompt, ...r.completion];
    const logits = referenceForward(cfg, 'lm', w, [ids]).logits as Float64Array;
    const V = cfg.vocabSize;
    const cut = new Float64Array(ids.length * limit);
    for (let t = 0; t < ids.length; t++) cut.set(logits.subarray(t * V, t * V + limit), t * limit);
    const lp = referenceTokenLogprobs(cut, [ids], limit)[0] as number[];
    return r.completion.reduce((s, _, j) => s + (lp[r.prompt.length + j - 1] as number), 0);
  });
}

test('the update graph on the tiny model: the step loss is the offline DPO loss of its pairs (float64), in one batch or in micro-batches', async () => {
  const { model, weights, tokenizer } = tinyModel('lm', 32);
  const limit = tokenizer.vocabSize;
  const cfg = model.config;
  const base: Weights = new Map(model.params.map((p) => [p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array }]));
  // The policy: the base moved a little, so that policy != reference.
  const noise = initParams(model.params, 11);
  const policy = new Map([...weights].map(([k, v]) => [k, v.map((x, i) => x + 0.5 * ((noise.get(k)?.data[i] as number) ?? 0))]));
  const policyW: Weights = new Map(model.params.map((p) => [p.name, { shape: [...p.shape], data: policy.get(p.name) as Float32Array }]));
  const rows = [
    { prompt: [5, 6, 7], completion: [40, 41, 42, 2] },
    { prompt: [5, 6, 7], completion: [50, 51] },
    { prompt: [9, 10], completion: [60, 61, 62, 63, 64] },
    { prompt: [9, 10], completion: [70] },
    { prompt: [11, 12, 13, 14], completion: [80, 81, 82] },
    { prompt: [11, 12, 13, 14], completion: [90, 91, 92] },
  ];
  const refSums = float64SeqLogps(cfg, base, rows, limit);
  const polSums = float64SeqLogps(cfg, policyW, rows, limit);
  const row = (i: number) => ({ promptIds: rows[i]?.prompt as number[], completionIds: rows[i]?.completion as number[], refLogp: refSums[i] as number });
  // Pair 0: row 1 chosen; pair 1: no winner; pair 2: row 4 chosen.
  const pairs: UpdatePair[] = [{ chosen: row(1), rejected: row(0), winner: true }, { chosen: row(2), rejected: row(3), winner: false }, { chosen: row(4), rejected: row(5), winner: true }];
  const dpoCfg = { lossType: 'sigmoid' as const, beta: 0.5 };
  const expected = dpoLoss({ policyChosen: [polSums[1], polSums[4]] as number[], policyRejected: [polSums[0], polSums[5]] as number[], refChosen: [refSums[1], refSums[4]] as number[], refRejected: [refSums[0], refSums[5]] as number[], chosenTokens: [2, 3], rejectedTokens: [4, 3] }, dpoCfg);
  const T = 10;
  for (const per of [3, 1]) {
    const shape = { pairs: per, seqLen: T, microBatches: 3 / per };
    const trainer = await Trainer.create(
      { forward: onlineDpoForward(model, dpoCfg, limit), params: model.params, batch: onlineDpoBatchFields(per, T), optim: { optimizer: { kind: 'adamw', lr: 1e-3, weightDecay: 0 } }, stepsPerRun: 1, microBatches: shape.microBatches },
      { initialParams: policy, threads: 1 },
    );
    try {
      const r = await trainer.run(collatePairs(pairs, shape, tokenizer.padTokenId ?? 0));
      close(r.losses[0] as number, expected.loss, 1e-4, `loss (${per} pair(s) per micro-batch)`);
      for (const k of ['rewards/margins', 'rewards/chosen', 'logps/chosen', 'logps/rejected']) close(r.metrics[k]?.[0] as number, expected.metrics[k] as number, 1e-4, `${k} (${per} per micro-batch)`);
    } finally {
      await trainer.dispose();
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// The trainer

const PROMPTS: RolloutPrompt[] = Array.from({ length: 6 }, (_, i) => ({ id: `item${i}`, prompt: [{ role: 'user', content: `item ${i + 1}: say ${i % 2 ? 'no' : 'yes'}` }], source: { file: 'items.jsonl', line: i + 1 } }));

/** A reward that differs between most pairs of the untrained model's completions: characters / 10. */
const lengthReward: RewardFunction = { name: 'chars', score: (xs) => xs.map((x) => x.completion.length / 10) };

function options(over: Partial<OnlineDpoTrainerOptions> = {}): OnlineDpoTrainerOptions {
  const m = tinyModel('lm', 32);
  return {
    config: onlineDpoConfig({ max_new_tokens: 6, temperature: 1, beta: 0.1 }),
    model: m.model,
    weights: m.weights,
    tokenizer: m.tokenizer,
    prompts: PROMPTS,
    rewards: [{ fn: lengthReward, weight: 1 }],
    promptsPerStep: 4,
    microBatchPairs: 2,
    optim: { optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 0 }, maxGradNorm: 1 },
    seed: 3,
    threads: 1,
    ...over,
  };
}

test('restore: an online DPO trainer restored after 2 rollouts continues exactly like the one that ran on', async () => {
  const a = await OnlineDpoTrainer.create(options());
  const b = await OnlineDpoTrainer.create(options());
  try {
    const first = await a.step();
    assert.ok((first.metrics['pairs/trained'] as number) > 0, 'the first rollout trains on some pairs');
    await a.step();
    await b.restore(await a.state());
    const [x, y] = [await a.step(), await b.step()];
    assert.equal(y.step, 3);
    assert.deepEqual(y.samples, x.samples);
    for (const k of Object.keys(x.metrics)) if (k !== 'step_time') assert.ok(Object.is(x.metrics[k], y.metrics[k]), `${k}: ${x.metrics[k]} vs ${y.metrics[k]}`);
    const [wa, wb] = [await a.currentWeights(), await b.currentWeights()];
    for (const [k, v] of wa) assert.deepEqual(wb.get(k), v, k);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

test('online DPO trainer: a failing reward stops with its name and prompt, or skips the pair; LoRA trains adapters against the base', async () => {
  const flaky: RewardFunction = { name: 'flaky', score: (xs) => xs.map((x) => (x.prompt.id === 'item0' || x.prompt.id === 'item1' ? NaN : x.completion.length)) };
  const stop = await OnlineDpoTrainer.create(options({ rewards: [{ fn: flaky, weight: 1 }], promptsPerStep: 6, microBatchPairs: 6 }));
  try {
    await assert.rejects(stop.step(), (e: Error) => e instanceof RewardError && /"flaky" returned NaN for prompt item[01] \(items\.jsonl:[12]\)/.test(e.message));
  } finally {
    await stop.dispose();
  }
  const skip = await OnlineDpoTrainer.create(options({ rewards: [{ fn: flaky, weight: 1 }], rewardOptions: { onError: 'skip' }, promptsPerStep: 6, microBatchPairs: 3 }));
  try {
    const r = await skip.step();
    assert.equal(r.problems.length, 4);
    assert.ok((r.metrics['pairs/trained'] as number) + (r.metrics['pairs/ties'] as number) <= 4, 'the 2 pairs with a skipped sample neither train nor tie');
    assert.ok(Number.isFinite(r.metrics.loss));
  } finally {
    await skip.dispose();
  }
  const baseM = tinyModel('lm', 32);
  const model = buildModel(baseM.model.config, 'lm', { maxLength: 32, lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } });
  const weights = new Map(baseM.weights);
  for (const [k, v] of initParams(model.params.filter((p) => !weights.has(p.name)), 7)) weights.set(k, v.data);
  const t = await OnlineDpoTrainer.create(options({ model, weights }));
  try {
    const first = await t.step();
    assert.ok(Math.abs(first.metrics['objective/kl'] as number) < 1e-4, `KL 0 at the start (reference = base): ${first.metrics['objective/kl']}`);
    await t.step();
    const after = await t.currentWeights();
    const moved = (name: string): boolean => (after.get(name) as Float32Array).some((x, i) => x !== (weights.get(name) as Float32Array)[i]);
    for (const p of model.params) if (!p.trainable) assert.equal(moved(p.name), false, `frozen ${p.name} unchanged`);
    assert.ok(model.params.filter((p) => p.name.endsWith('.lora_B')).every((p) => moved(p.name)), 'every lora_B moved');
  } finally {
    await t.dispose();
  }
});
