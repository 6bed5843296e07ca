import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlan } from '../../../src/training/build';
import { encodeUnpaired } from '../../../src/training/encode';
import { SequenceScorer } from '../../../src/training/evaluate';
import { ktoKlPartners } from '../../../src/training/kto';
import { unpairPreferences } from '../../../src/core/datasets/formats';
import type { UnpairedExample } from '../../../src/core/datasets/examples';
import { maxChange, mean, splits, tinyModel, trainPlan, yesNoPairs, yesNoUnpaired } from './trainerFixtures';

/** Pairs unpaired into a desirable and an undesirable row per prompt (adjacent rows share a prompt). */
const yesNoPairsUnpaired = (n: number) => unpairPreferences(yesNoPairs(n));

const REPLIES = ['yes', 'the cat sat on the mat. the dog ran.', 'no', 'hello there, how are you?', 'the dog ran.', 'say yes no yes no'];
/** Unpaired examples whose replies differ a lot in length (desirable: the short ones). */
function variedUnpaired(n: number, offset = 0): UnpairedExample[] {
  return yesNoUnpaired(n, offset).map((e, i): UnpairedExample => {
    const k = (i * 5 + offset) % REPLIES.length;
    return e.style === 'conversational' ? { ...e, completion: [{ role: 'assistant', content: REPLIES[k] as string }], label: (REPLIES[k] as string).length < 12 } : e;
  });
}

test('KTO: losses finite, parameters change, TRL metrics logged, the preference is learned', async () => {
  const m = tinyModel('lm');
  const built = buildPlan({ method: 'kto', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoUnpaired(24), yesNoUnpaired(8, 101)), limits: { maxLength: 32 }, batchSize: 4 });
  const r = await trainPlan(built.plan, 20, 1e-2, { weightDecay: 0.01 });
  assert.ok(r.losses.every(Number.isFinite), `${r.losses}`);
  assert.ok(maxChange(r.before, r.after) > 1e-4);
  for (const k of ['kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins']) assert.ok(k in r.metrics, k);
  const margins = r.metrics['rewards/margins'] as number[];
  assert.ok(mean(margins.slice(-5)) > mean(margins.slice(0, 5)), `margins ${margins.map((x) => x.toFixed(3))}`);
});

test('KTO KL pairs: each prompt meets the completion of the nearest earlier example with another prompt, fixed per example', () => {
  const ex = (p: number[]) => ({ prompt: p });
  assert.deepEqual(ktoKlPartners([ex([1]), ex([1]), ex([2]), ex([2]), ex([3])]), [4, 4, 1, 1, 3]);
  // One prompt everywhere: TRL's plain shift i-1.
  assert.deepEqual(ktoKlPartners([ex([1]), ex([1]), ex([1])]), [2, 0, 1]);
  // Pairs unpaired into a desirable and an undesirable row of one prompt: the two are never each other's KL pair.
  const m = tinyModel('lm');
  const items = encodeUnpaired(m.tokenizer, yesNoPairsUnpaired(6), { maxLength: 32 }).items;
  const partners = ktoKlPartners(items);
  partners.forEach((j, i) => assert.notDeepEqual(items[j]?.prompt, items[i]?.prompt, `example ${i} paired with ${j}`));
  // The collated mismatched row is prompt i + the partner's completion (row 1: prompt 0 with a completion of prompt 5).
  const built = buildPlan({ method: 'kto', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples: splits(yesNoPairsUnpaired(6), []), limits: { maxLength: 32 }, batchSize: 2 });
  const T = built.plan.seqLen;
  const ids = [...(built.plan.collate('train', [0, 1]).fields.ids?.data as BigInt64Array)].map(Number);
  const expected = [...(items[1] as { prompt: number[] }).prompt, ...(items[partners[1] as number] as { completion: number[] }).completion];
  assert.deepEqual(ids.slice(3 * T, 3 * T + expected.length), expected);
});

test('KTO reference log-probs precomputed once give the same loss, metrics and trajectory as the in-graph reference', async () => {
  const m = tinyModel('lm', 48);
  // Replies of very different lengths, so a mismatched KL row's log-prob is far from its matched row's.
  const examples = splits(variedUnpaired(16), variedUnpaired(8, 101));
  const plan = (precompute: boolean) =>
    buildPlan({ method: 'kto', hyperparameters: { precompute_ref_log_probs: precompute, beta: 0.5 }, model: m.model, weights: m.weights, tokenizer: m.tokenizer, examples, limits: { maxLength: 48 }, batchSize: 4 }).plan;
  const inGraph = plan(false);
  const pre = plan(true);
  assert.equal(inGraph.reference, undefined);
  assert.ok(pre.reference, 'the precomputed plan asks for reference rows');
  assert.ok(inGraph.params.some((p) => p.name.startsWith('ref.')) && !pre.params.some((p) => p.name.startsWith('ref.')), 'no reference weights in the precomputed graph');
  assert.equal(pre.reference.train.rows.length, 2 * 16, 'every completion and its mismatched KL row');
  assert.throws(() => pre.collate('train', [0, 1, 2, 3]), /not computed before use/);
  // The session's one pass: the frozen reference (the starting weights) scores every row.
  const scorer = await SequenceScorer.create(m.model, 'logps', { batch: 8, seqLen: pre.seqLen, padId: m.tokenizer.padTokenId ?? 0 }, { device: 'cpu', threads: 1 });
  try {
    await scorer.setWeights(m.weights);
    for (const s of ['train', 'eval'] as const) pre.reference[s].accept(await scorer.score(pre.reference[s].rows));
  } finally {
    await scorer.dispose();
  }
  // Held-out loss and metrics on the same batches, at the starting weights and after training both.
  const a = await trainPlan(inGraph, 5, 3e-2, { evaluate: true });
  const b = await trainPlan(pre, 5, 3e-2, { evaluate: true });
  const close = (x: number, y: number): boolean => Math.abs(x - y) < 2e-5 * Math.max(1, Math.abs(x));
  for (const k of ['loss', 'kl', 'rewards/chosen', 'rewards/rejected', 'logps/chosen']) {
    assert.ok(close(a.evalBefore[k] as number, b.evalBefore[k] as number), `eval ${k} before: in-graph ${a.evalBefore[k]}, precomputed ${b.evalBefore[k]}`);
    assert.ok(close(a.evalAfter[k] as number, b.evalAfter[k] as number), `eval ${k} after: in-graph ${a.evalAfter[k]}, precomputed ${b.evalAfter[k]}`);
  }
  assert.ok(a.losses.every((x, i) => close(x, b.losses[i] as number)), `train losses in-graph ${a.losses}, precomputed ${b.losses}`);
  assert.ok(Math.abs((a.evalAfter.loss as number) - (a.evalBefore.loss as number)) > 1e-4, 'training moved the eval loss (a meaningful comparison)');
  assert.ok((a.metrics.kl ?? []).filter((x) => x > 0.05).length >= 2, `z0 is positive on some steps, so the KL rows' reference matters: ${a.metrics.kl}`);
  assert.ok(maxChange(a.after, b.after) < 1e-4, 'the same parameters after training');
});
