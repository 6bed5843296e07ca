import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComparisonCritique, ComparisonDecide, ComparisonRate, ComparisonShowPair, type PairParams } from '../../../src/protocol/comparison';

const pair: PairParams = {
  recordId: 'r1',
  file: '/data/pairs.jsonl',
  fileName: 'pairs.jsonl',
  line: 3,
  prompt: [{ role: 'user', content: 'hi' }],
  left: { text: 'A text', score: 0.5 },
  right: { text: 'B text' },
  progress: { done: 1, total: 10 },
  decisionsPerMinute: 4.5,
  settings: { ratingMin: 1, ratingMax: 5, critiqueLabels: ['helpful'] },
};

test('showPair validates a full pair and names the bad field otherwise', () => {
  assert.equal(ComparisonShowPair.is(ComparisonShowPair.create(pair)), true);
  assert.deepEqual(ComparisonShowPair.problems(ComparisonShowPair.create({ ...pair, line: 0 })), ['params.line: expected an integer in [1, 9007199254740991]']);
  assert.deepEqual(ComparisonShowPair.problems(ComparisonShowPair.create({ ...pair, settings: { ...pair.settings, ratingMin: 5 } })), ['params.settings.ratingMin: must be below ratingMax']);
  assert.deepEqual(ComparisonShowPair.problems({ type: 'comparison/showPair', params: { ...pair, left: { text: 3 } } }), ['params.left.text: expected a string']);
});

test('decide / rate / critique: only the documented choices, sides and ranges pass', () => {
  assert.equal(ComparisonDecide.is(ComparisonDecide.create({ recordId: 'r1', choice: 'tie', seconds: 2 })), true);
  assert.equal(ComparisonDecide.is({ type: 'comparison/decide', params: { recordId: 'r1', choice: 'C', seconds: 2 } }), false);
  assert.equal(ComparisonDecide.is({ type: 'comparison/decide', params: { recordId: 'r1', choice: 'A', seconds: -1 } }), false);
  assert.equal(ComparisonDecide.is({ type: 'comparison/decide', params: { recordId: '', choice: 'A', seconds: 1 } }), false);
  assert.equal(ComparisonRate.is(ComparisonRate.create({ recordId: 'r1', ratings: [{ side: 'A', value: 4 }, { side: 'B', value: 2 }], seconds: 1 })), true);
  assert.equal(ComparisonRate.is({ type: 'comparison/rate', params: { recordId: 'r1', ratings: [{ side: 'C', value: 4 }], seconds: 1 } }), false);
  assert.equal(ComparisonCritique.is(ComparisonCritique.create({ recordId: 'r1', side: 'B', labels: ['helpful'], seconds: 1 })), true);
  assert.equal(ComparisonCritique.is({ type: 'comparison/critique', params: { recordId: 'r1', side: 'B', labels: [''], seconds: 1 } }), false);
});
