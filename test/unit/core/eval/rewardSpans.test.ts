import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promptMeans, segmentRewards, topSpans } from '../../../../src/core/eval/rewardSpans';

test('segmentRewards: Chinese text is split into words, and partial-character tokens count in their character', () => {
  const text = '我喜欢吃苹果，因为很甜。';
  // Byte-level tokens: 苹 arrives in two tokens (the first with an empty span at 苹), 果 in one.
  const tokens = [
    { id: 1, start: 0, end: 1, reward: 0.1 }, // 我
    { id: 2, start: 1, end: 3, reward: 0.2 }, // 喜欢
    { id: 3, start: 3, end: 4, reward: 0 }, // 吃
    { id: 4, start: 4, end: 4, reward: 0.5 }, // first bytes of 苹
    { id: 5, start: 4, end: 5, reward: 0.25 }, // 苹
    { id: 6, start: 5, end: 6, reward: 0.25 }, // 果
    { id: 7, start: 6, end: 12, reward: -0.3 }, // ，因为很甜。
    { id: 8, start: -1, end: -1, reward: 0.05 }, // EOS
  ];
  const { spans, outside } = segmentRewards(text, tokens);
  assert.equal(spans.map((s) => s.text).join(''), text);
  const words = spans.filter((s) => s.word).map((s) => s.text);
  assert.deepEqual(words.slice(0, 4), ['我', '喜欢', '吃', '苹果']);
  assert.equal(spans.find((s) => s.text === '苹果')?.reward, 1);
  assert.equal(outside, 0.05);
  // The token over ，因为很甜。 splits its reward over those characters: punctuation keeps its share.
  const total = spans.reduce((s, x) => s + x.reward, 0) + outside;
  assert.ok(Math.abs(total - tokens.reduce((s, t) => s + t.reward, 0)) < 1e-12);
  assert.deepEqual(topSpans(spans, 2).positive.map((s) => s.text), ['苹果', '喜欢']);
  assert.ok(Math.abs((topSpans(spans, 1).negative[0]?.reward ?? 0) + 0.1) < 1e-12);
});

test('segmentRewards: a byte-level token " cat" gives its reward to the word, not to the space before it', () => {
  const { spans } = segmentRewards('the cat', [
    { id: 1, start: 0, end: 3, reward: 1 },
    { id: 2, start: 3, end: 7, reward: 2 },
  ]);
  assert.deepEqual(spans.map((s) => [s.text, s.reward]), [['the', 1], [' ', 0], ['cat', 2]]);
});

test('promptMeans: the mean reward of all responses per prompt', () => {
  const m = promptMeans([{ p: 'a', r: [1, 3] }, { p: 'a', r: [5, 7] }, { p: 'b', r: [2, -2] }], (x) => x.p, (x) => x.r);
  assert.deepEqual([...m], [['a', 4], ['b', 0]]);
});
