import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDatasetFile } from '../../../../src/core/datasets/formats';
import type { Message } from '../../../../src/core/datasets/examples';
import { packSequences, splitTrainEval, tokenizeAndTruncate, truncateTokenized, type SftSequence } from '../../../../src/core/datasets/prepare';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

test('split: seeded, deterministic, disjoint, complete, order kept', { skip: REAL_DATA_SKIP }, async () => {
  const { examples } = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
  const a = splitTrainEval(examples, { evalFraction: 0.1, seed: 7 });
  const b = splitTrainEval(examples, { evalFraction: 0.1, seed: 7 });
  const c = splitTrainEval(examples, { evalFraction: 0.1, seed: 8 });
  assert.equal(a.eval.length, 30);
  assert.equal(a.train.length, 270);
  assert.deepEqual(a.eval.map((e) => e.id), b.eval.map((e) => e.id));
  assert.notDeepEqual(a.eval.map((e) => e.id), c.eval.map((e) => e.id));
  const ids = new Set([...a.train, ...a.eval].map((e) => e.id));
  assert.equal(ids.size, 300);
  const idx = (id: string): number => examples.findIndex((e) => e.id === id);
  const evalIdx = a.eval.map((e) => idx(e.id));
  assert.deepEqual(evalIdx, [...evalIdx].sort((x, y) => x - y));
  assert.equal(splitTrainEval(examples, { evalCount: 0, seed: 1 }).eval.length, 0);
  assert.throws(() => splitTrainEval(examples, { evalFraction: 1.5, seed: 1 }), RangeError);
});

test('split grouped by prompt never puts one prompt on both sides', { skip: REAL_DATA_SKIP }, async () => {
  const { examples } = await loadDatasetFile(realDataFile('kto_en_demo.trl.jsonl'));
  const s = splitTrainEval(examples, { evalFraction: 0.2, seed: 3, groupBy: 'prompt' });
  const key = (e: (typeof examples)[number]): string => JSON.stringify(e.style === 'messages' ? e.messages : e.prompt);
  const trainPrompts = new Set(s.train.map(key));
  assert.ok(s.eval.every((e) => !trainPrompts.has(key(e))));
  assert.ok(s.eval.length >= 60 && s.train.length + s.eval.length === 300);
});

test('truncation: prompt keeps its end, completions keep their start, counts reported', () => {
  const items = [
    { id: 'a', prompt: [1, 2, 3, 4, 5, 6], completions: [[10, 11, 12, 13, 14, 15], [20, 21]] },
    { id: 'b', prompt: [1, 2], completions: [[10, 11], [20]] },
  ];
  const { examples, report } = truncateTokenized(items, { maxPromptLength: 4, maxLength: 7 });
  assert.deepEqual(examples[0].prompt, [3, 4, 5, 6]);
  assert.deepEqual(examples[0].completions, [[10, 11, 12], [20, 21]]);
  assert.deepEqual(examples[1], items[1]);
  assert.deepEqual(report, { examples: 2, promptsTruncated: 1, completionsTruncated: 1, tokensDropped: 5 });
  const start = truncateTokenized(items, { maxPromptLength: 4, truncationMode: 'keep_start' });
  assert.deepEqual(start.examples[0].prompt, [1, 2, 3, 4]);
  assert.equal(start.report.completionsTruncated, 0);
  assert.throws(() => truncateTokenized(items, { maxPromptLength: 8, maxLength: 8 }), /smaller than maxLength/);
});

test('tokenizeAndTruncate runs the callback over prompts and both completions', { skip: REAL_DATA_SKIP }, async () => {
  const { examples } = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
  // A toy "tokenizer": one token per word of every message.
  const tok = (c: readonly Message[] | string): number[] =>
    (typeof c === 'string' ? c : c.map((m) => m.content).join(' ')).split(/\s+/).filter(Boolean).map((w) => w.length);
  const { examples: out, report } = tokenizeAndTruncate(examples, tok, { maxPromptLength: 64, maxLength: 256 });
  assert.equal(out.length, 300);
  assert.ok(out.every((e) => e.prompt.length <= 64 && e.completions.length === 2 && e.completions.every((c) => e.prompt.length + c.length <= 256)));
  assert.ok(report.promptsTruncated > 0 && report.completionsTruncated > 0);
});

test('packing: best-fit decreasing, nothing lost, boundaries and positions per sequence', () => {
  const seq = (id: string, n: number): SftSequence => ({ id, ids: Array.from({ length: n }, (_, i) => i + 100), lossMask: Array.from({ length: n }, (_, i) => i >= 1) });
  const seqs = [seq('a', 5), seq('b', 3), seq('c', 6), seq('d', 2), seq('e', 12)];
  const { packs, report } = packSequences(seqs, 8);
  assert.equal(report.truncated, 1);
  assert.equal(report.tokensDropped, 4);
  assert.equal(report.packs, packs.length);
  assert.ok(packs.every((p) => p.ids.length <= 8));
  assert.deepEqual(packs.map((p) => p.sequenceIds), [['e'], ['c', 'd'], ['a', 'b']]);
  const p = packs[2];
  assert.deepEqual(p.boundaries, [0, 5, 8]);
  assert.deepEqual(p.positionIds, [0, 1, 2, 3, 4, 0, 1, 2]);
  assert.deepEqual(p.lossMask, [false, true, true, true, true, false, true, true]);
  const total = packs.reduce((s, q) => s + q.ids.length, 0);
  assert.equal(total, 5 + 3 + 6 + 2 + 8);
  assert.equal(report.fillRatio, total / 24);
  assert.throws(() => packSequences([{ id: 'x', ids: [1], lossMask: [] }], 4), /lengths differ/);
});
