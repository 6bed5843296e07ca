import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { topSpans } from '../../../src/core/eval/rewardSpans';
import { Rng } from '../../../src/engine/rng';
import { trainByteLevelBpe, toTokenizerJson } from '../../../src/engine/tokenizer/bpeTrainer';
import { buildPlan } from '../../../src/training/build';
import { parseHfConfig } from '../../../src/engine/models/config';
import { initWeights } from '../../../src/engine/models/params';
import { buildModel } from '../../../src/engine/models/transformer';
import { TextTokenizer } from '../../../src/engine/tokenizer/tokenizer';
import { encodePairs } from '../../../src/training/encode';
import { checkTokenizerFits, denseRewards, inspectPairs, layPairs, prefixLayout, PrefixScorer, tokenSpans } from '../../../src/training/rewardInspection';
import { referenceForward } from '../../support/reference/transformer';
import { tinyModelFolder, trainPlan } from './trainerFixtures';
import type { PreferenceExample } from '../../../src/core/datasets/examples';

function tinyScoreModel(seed = 5) {
  const dir = tinyModelFolder();
  const config = parseHfConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), 'tiny');
  const weights = initWeights(config, 'score', seed);
  // A larger score head than the init's, so prefix rewards differ well beyond float32 rounding.
  const w = weights.get('score.weight')!;
  for (let i = 0; i < w.data.length; i++) w.data[i] = Math.sin(3 * i) * 2;
  return { dir, config, weights, tok: TextTokenizer.fromFolder(dir) };
}

/** R(prefix) in float64, one reference pass per prefix length 1..ids.length. */
function perPrefixReference(m: ReturnType<typeof tinyScoreModel>, ids: readonly number[]): number[] {
  return ids.map((_, t) => {
    const out = referenceForward(m.config, 'score', m.weights, [ids.slice(0, t + 1)]);
    return out.scores![t] as number;
  });
}

test('dense rewards (float64): one pass equals one pass per prefix, and they sum to R(x, y) - Phi(x, empty)', () => {
  const m = tinyScoreModel();
  const prompt = m.tok.encode('item 3: say yes');
  const completion = m.tok.encode(' the cat sat on the mat.', { addSpecialTokens: false });
  const ids = [...prompt, ...completion];
  const onePass = Array.from(referenceForward(m.config, 'score', m.weights, [ids]).scores!);
  const perPrefix = perPrefixReference(m, ids);
  let maxdiff = 0;
  for (let t = 0; t < ids.length; t++) maxdiff = Math.max(maxdiff, Math.abs(onePass[t]! - perPrefix[t]!));
  assert.ok(maxdiff < 1e-12, `one pass vs per prefix: maxdiff ${maxdiff}`);
  // Without end tokens a prefix is scored as it is: Φ(x, y≤t) is the plain pass at the prefix's last token.
  const layout = prefixLayout(prompt, completion, 0);
  assert.deepEqual(layout.ids, ids);
  const d = denseRewards(layout.reads.map((r) => onePass[r]!));
  assert.equal(d.dense.length, completion.length);
  assert.equal(d.reward, perPrefix[ids.length - 1]);
  assert.equal(d.emptyPrefix, perPrefix[prompt.length - 1]);
  const sum = d.dense.reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum - (d.reward - d.emptyPrefix)) < 1e-12, `sum ${sum} vs ${d.reward - d.emptyPrefix}`);
  // Each d_t is the change of the per-prefix reward the token makes.
  for (let t = 0; t < completion.length; t++) assert.ok(Math.abs(d.dense[t]! - (perPrefix[prompt.length + t]! - perPrefix[prompt.length + t - 1]!)) < 1e-12);
  // Dense rewards are not all alike: the test would pass on a constant model otherwise.
  assert.ok(Math.max(...d.dense) - Math.min(...d.dense) > 1e-3);
});

test('prefix layout: one copy of the end tokens after each prefix of the content, attending that prefix only', () => {
  // prompt [10, 11], completion [20, 21, EOS=9]: copies of [9] after prefixes of length 0, 1, 2; the last prefix
  // (the whole completion) is read in place.
  const l = prefixLayout([10, 11], [20, 21, 9], 1);
  assert.deepEqual(l.ids, [10, 11, 20, 21, 9, 9, 9, 9]);
  assert.deepEqual(l.positions, [0, 1, 2, 3, 4, 2, 3, 4]);
  assert.deepEqual(l.limit, [1, 2, 3, 4, 5, 2, 3, 4]);
  assert.deepEqual(l.copyStart, [-1, -1, -1, -1, -1, 5, 6, 7]);
  assert.deepEqual(l.reads, [5, 6, 7, 4]);
  // An empty prompt without end tokens: Φ(x, ∅) has nothing to read (0).
  assert.deepEqual(prefixLayout([], [20, 21], 0).reads, [-1, 0, 1]);
  const d = denseRewards([0, 0.5, -1, 2]);
  assert.deepEqual([...d.dense], [0.5, -1.5, 3]);
  assert.equal(d.reward, 2);
});

test('the engine scores every prefix as a finished response in one pass, as the float64 reference does one pass per prefix', async () => {
  const m = tinyScoreModel();
  const eos = m.tok.eosTokenId!;
  const cases = [
    { prompt: m.tok.encode('item 1: say'), completion: [...m.tok.encode(' no the dog ran.', { addSpecialTokens: false }), eos], end: 1 },
    { prompt: m.tok.encode('the cat'), completion: [...m.tok.encode(' sat on the mat.', { addSpecialTokens: false }), eos], end: 1 },
    { prompt: m.tok.encode('hello'), completion: m.tok.encode(' there', { addSpecialTokens: false }), end: 0 },
  ];
  const layouts = cases.map((c) => prefixLayout(c.prompt, c.completion, c.end));
  const scorer = await PrefixScorer.forLayouts(m.config, layouts, m.tok.padTokenId ?? 0, 2);
  try {
    await scorer.setWeights(new Map([...m.weights].map(([k, v]) => [k, v.data])));
    const got = await scorer.potentials(layouts);
    let maxdiff = 0;
    cases.forEach((c, r) => {
      const n = c.completion.length;
      const endTokens = c.completion.slice(n - c.end);
      // Float64, one pass per prefix: Φ(x, y≤t) = R(prompt, y≤t, end tokens) while t is in the content, else R(prompt, y≤t).
      const ref = Array.from({ length: n + 1 }, (_, t) => {
        const seq = [...c.prompt, ...c.completion.slice(0, t), ...(c.end > 0 && t <= n - c.end ? endTokens : [])];
        return referenceForward(m.config, 'score', m.weights, [seq]).scores![seq.length - 1] as number;
      });
      for (let t = 0; t <= n; t++) maxdiff = Math.max(maxdiff, Math.abs(got[r]![t]! - ref[t]!));
      const d = denseRewards(ref);
      const sum = d.dense.reduce((s, x) => s + x, 0);
      assert.ok(Math.abs(sum - (d.reward - d.emptyPrefix)) < 1e-12, 'float64: the dense rewards sum to R(x, y) - Φ(x, ∅)');
      if (c.end === 1) assert.ok(Math.abs(d.dense[n - 1]!) < 1e-12, 'the EOS token adds nothing: Φ before it already scores the finished response');
      assert.ok(Math.max(...d.dense) - Math.min(...d.dense) > 1e-3);
    });
    assert.ok(maxdiff < 1e-4, `float32 one pass vs float64 one pass per prefix: maxdiff ${maxdiff}`);
  } finally {
    await scorer.dispose();
  }
});

test('token spans: byte-level tokens of a Chinese character map to that character, EOS lies outside the text', () => {
  const m = tinyScoreModel();
  const text = '猫 sat 在垫子上';
  const ids = [...m.tok.encode(text, { addSpecialTokens: false }), m.tok.eosTokenId!];
  const spans = tokenSpans(m.tok, ids, text);
  assert.ok(ids.length > text.length, 'the fixture tokenizer splits Chinese characters into byte tokens');
  assert.deepEqual(spans[spans.length - 1], { start: -1, end: -1 });
  // Every character of the text is covered by exactly one token's non-empty span, in order.
  const covered = spans.filter((s) => s.end > s.start);
  assert.equal(covered.map((s) => text.slice(s.start, s.end)).join(''), text);
  // A partial-character token points at the character it helps complete.
  for (const s of spans.slice(0, -1)) assert.ok(s.start >= 0 && s.start < text.length);
});

test('a tokenizer with more tokens than the model has embedding rows is refused, naming both sizes', () => {
  const m = tinyScoreModel();
  assert.throws(() => checkTokenizerFits(m.tok, { ...m.config, vocabSize: 100 }, '/models/rm'), /has \d+ tokens but the model's embedding has 100 rows, so it is not this model's tokenizer/);
  assert.doesNotThrow(() => checkTokenizerFits(m.tok, m.config, '/models/rm'));
});

test('inspectPairs: tokens, spans and outside sum to R - Phi(empty); canonical rewards are centred per prompt', async () => {
  const m = tinyScoreModel();
  const ex = (i: number, prompt: string, chosen: string, rejected: string): PreferenceExample => ({ kind: 'preference', format: 'trl-preference', id: `f:${i}`, source: { file: 'f', line: i }, style: 'text', prompt, chosen, rejected });
  const examples = [ex(1, 'item 1:', ' yes the cat', ' no'), ex(2, 'item 1:', ' the mat.', ' hello there'), ex(3, 'item 2:', ' 猫 sat', ' dog')];
  const { pairs } = encodePairs(m.tok, examples, { maxLength: 32 });
  const items = examples.map((e, i) => ({ recordId: e.id, line: i + 1, example: e, encoded: pairs[i]! }));
  const laid = layPairs(m.tok, items);
  const scorer = await PrefixScorer.forLayouts(m.config, laid.map((l) => l.layout), m.tok.padTokenId ?? 0);
  try {
    await scorer.setWeights(new Map([...m.weights].map(([k, v]) => [k, v.data])));
    const out = await inspectPairs(scorer, items, laid);
    for (const r of out) {
      for (const y of [r.chosen, r.rejected]) {
        const tokens = y.tokens.reduce((s, t) => s + t.reward, 0);
        const spans = y.spans.reduce((s, t) => s + t.reward, 0) + y.outside;
        assert.ok(Math.abs(tokens - (y.reward - y.emptyPrefix)) < 1e-5);
        assert.ok(Math.abs(spans - tokens) < 1e-9);
        assert.equal(y.spans.map((s) => s.text).join(''), y.text);
        assert.equal(y.truncated, false);
      }
    }
    const same = [out[0]!, out[1]!];
    const mean = (same[0]!.chosen.reward + same[0]!.rejected.reward + same[1]!.chosen.reward + same[1]!.rejected.reward) / 4;
    assert.ok(Math.abs(same[0]!.promptMean - mean) < 1e-12 && Math.abs(same[1]!.promptMean - mean) < 1e-12);
    assert.ok(Math.abs(out[0]!.chosen.canonicalReward - (out[0]!.chosen.reward - mean)) < 1e-12);
    assert.ok(Math.abs(out[2]!.chosen.canonicalReward + out[2]!.rejected.canonicalReward) < 1e-12, 'one pair of its own prompt: canonical rewards are +-half the margin');
  } finally {
    await scorer.dispose();
  }
});

test('a reward model trained to prefer responses with a marker word puts most of the positive dense reward on that word', async () => {
  const marker = 'banana';
  const words = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', 'far', 'a', 'big', 'red', 'box', 'is', 'here'];
  const rng = new Rng(11);
  const sentence = (): string[] => Array.from({ length: 4 + rng.int(3) }, () => words[rng.int(words.length)]!);
  const pair = (i: number): PreferenceExample => {
    const base = sentence();
    const withMarker = [...base];
    withMarker.splice(rng.int(base.length + 1), 0, marker);
    return { kind: 'preference', format: 'trl-preference', id: `m:${i}`, source: { file: 'm', line: i + 1 }, style: 'text', prompt: `item ${i % 7}:`, chosen: ' ' + withMarker.join(' '), rejected: ' ' + base.join(' ') };
  };
  const train = Array.from({ length: 48 }, (_, i) => pair(i));
  const held = Array.from({ length: 12 }, (_, i) => pair(100 + i));
  const m = markerModel([...train, ...held].flatMap((e) => [`${e.prompt}${e.chosen as string}`, `${e.prompt}${e.rejected as string}`]));
  assert.equal(m.tok.encode(' ' + marker, { addSpecialTokens: false }).length, 1, 'the marker is one token');
  const built = buildPlan({ method: 'reward', hyperparameters: {}, model: m.model, weights: m.weights, tokenizer: m.tok, examples: { train, eval: held }, limits: { maxLength: 32 }, batchSize: 8 });
  const r = await trainPlan(built.plan, 60, 1e-2, { evaluate: true });
  assert.ok((r.evalAfter['accuracy'] as number) >= 0.9, `held-out accuracy ${r.evalAfter['accuracy']}`);
  const { pairs } = encodePairs(m.tok, held, { maxLength: 32 });
  const items = held.map((e, i) => ({ recordId: e.id, line: i + 1, example: e, encoded: pairs[i]! }));
  const laid = layPairs(m.tok, items);
  const scorer = await PrefixScorer.forLayouts(m.config, laid.map((l) => l.layout), m.tok.padTokenId ?? 0, 8);
  try {
    await scorer.setWeights(r.after);
    const out = await inspectPairs(scorer, items, laid);
    const shares = out.map((rec) => {
      const positive = (xs: readonly number[]): number => xs.reduce((s, x) => s + Math.max(0, x), 0);
      const onMarker = positive(rec.chosen.spans.filter((s) => s.text === marker).map((s) => s.reward));
      return onMarker / positive([...rec.chosen.spans.map((s) => s.reward), rec.chosen.outside]);
    });
    const meanShare = shares.reduce((s, x) => s + x, 0) / shares.length;
    assert.ok(meanShare > 0.6, `mean share of positive dense reward on "${marker}": ${meanShare.toFixed(3)} (${shares.map((x) => x.toFixed(2)).join(' ')})`);
    assert.ok(shares.filter((x) => x > 0.5).length >= 10, `pairs with most positive reward on the marker: ${shares.map((x) => x.toFixed(2)).join(' ')}`);
    // The top positive span of most chosen responses is the marker.
    assert.ok(out.filter((rec) => topSpans(rec.chosen.spans, 1).positive[0]?.text === marker).length >= 10);
  } finally {
    await scorer.dispose();
  }
});

/** A tiny Llama-style score model whose byte-level BPE is trained on `texts`. */
function markerModel(texts: readonly string[]) {
  const bpe = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ['<|endoftext|>'], minFrequency: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'marker-rm-'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(toTokenizerJson(bpe)));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', bos_token: null }));
  const tok = TextTokenizer.fromFolder(dir);
  const config = parseHfConfig(
    { architectures: ['LlamaForSequenceClassification'], model_type: 'llama', vocab_size: Math.ceil(tok.vocabSize / 8) * 8, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true, num_labels: 1 },
    'marker config',
  );
  const model = buildModel(config, 'score', { maxLength: 32 });
  return { tok, config, model, weights: new Map([...initWeights(config, 'score', 3)].map(([k, v]) => [k, v.data])) };
}
