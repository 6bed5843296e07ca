/**
 * Active pair selection (src/training/online/pairSelection.ts) against hand-computed float64 values: the
 * ensemble's probabilities and uncertainty, the token overlap that makes identical completions worthless, and the
 * greedy spread over prompts; random selection goes round the prompts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multisetJaccard, pairProbabilities, promptSimilarity, selectPairs, uncertainty, type SelectionCompletion } from '../../../../src/training/online/pairSelection';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('probabilities, uncertainty and overlap match float64 references', () => {
  const a: SelectionCompletion = { promptIndex: 0, ids: [1, 2, 2, 3], signals: { implicit: 0.3, rm: 2 } };
  const b: SelectionCompletion = { promptIndex: 0, ids: [2, 3, 4], signals: { implicit: -0.2, rm: 2.5 } };
  const p = pairProbabilities(a, b);
  close(p.implicit as number, 1 / (1 + Math.exp(-0.5)));
  close(p.rm as number, 1 / (1 + Math.exp(0.5)));
  // mean 1/2 -> 4 p (1 - p) = 1, clipped at 1 with the disagreement added.
  assert.equal(uncertainty(p), 1);
  const agree = { implicit: 0.8, rm: 0.7 };
  close(uncertainty(agree), 4 * 0.75 * 0.25 + 0.1);
  assert.equal(uncertainty({}), 1);
  // {1,2,2,3} vs {2,3,4}: intersection {2,3} = 2, union 4 + 3 - 2 = 5.
  close(multisetJaccard(a.ids, b.ids), 2 / 5);
  assert.equal(multisetJaccard([5, 5], [5, 5]), 1);
  close(promptSimilarity('What is the capital of France?', 'what is the capital of Spain'), 5 / 7);
});

test('active selection skips identical completions, prefers uncertain pairs, and spreads over prompts', () => {
  const c = (promptIndex: number, ids: number[], implicit: number): SelectionCompletion => ({ promptIndex, ids, signals: { implicit } });
  const cs = [
    // Prompt 0: two identical completions (a certain tie), and a third that the implicit reward ranks far apart.
    c(0, [1, 2], 0),
    c(0, [1, 2], 0),
    c(0, [7, 8], 5),
    // Prompt 1: two different completions with equal implicit rewards (p = 1/2).
    c(1, [3, 4], 0),
    c(1, [5, 6], 0),
    c(1, [3, 6], 0),
  ];
  const texts = ['alpha beta', 'gamma delta'];
  const picked = selectPairs(cs, { method: 'active', pairs: 2, promptTexts: texts, diversityWeight: 0.5, seed: 1 });
  // First: a fully uncertain, fully distinct pair of prompt 1 ({3,4} vs {5,6}).
  assert.deepEqual([picked[0]?.a, picked[0]?.b], [3, 4]);
  close(picked[0]?.score as number, 1);
  // Second: prompt 1's weight is halved, so prompt 0's best pair (uncertainty 4 s(5)(1 - s(5)), overlap 0) competes
  // with prompt 1's next (score 0.5 x (1 - 1/3)); the identical pair (0, 1) scores 0 and is never taken.
  const s5 = 1 / (1 + Math.exp(-5));
  const p0 = 4 * s5 * (1 - s5);
  const p1 = 0.5 * (1 - 1 / 3);
  close(picked[1]?.score as number, Math.max(p0, p1));
  assert.equal(picked[1]?.promptIndex, p1 > p0 ? 1 : 0);
  assert.ok(!picked.some((s) => s.a === 0 && s.b === 1));
});

test('random selection draws different completions of each prompt in turn', () => {
  const cs = [0, 0, 0, 1, 1, 1, 2, 2, 2].map((g, i) => ({ promptIndex: g, ids: [i], signals: {} }));
  const picked = selectPairs(cs, { method: 'random', pairs: 4, promptTexts: ['a', 'b', 'c'], diversityWeight: 0.5, seed: 3 });
  assert.equal(picked.length, 4);
  assert.equal(new Set(picked.slice(0, 3).map((p) => p.promptIndex)).size, 3, 'one pair of each prompt first');
  for (const p of picked) assert.ok(p.a !== p.b && (cs[p.a] as SelectionCompletion).promptIndex === (cs[p.b] as SelectionCompletion).promptIndex);
  assert.deepEqual(selectPairs(cs, { method: 'random', pairs: 4, promptTexts: ['a', 'b', 'c'], diversityWeight: 0.5, seed: 3 }), picked, 'seeded');
});
