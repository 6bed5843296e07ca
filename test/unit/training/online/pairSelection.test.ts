/**
 * Active pair selection (src/training/online/pairSelection.ts) against plain float64 references: the ensemble's
 * probabilities, a pair's worth (the reward functions' predicted gap times the DPO weight of the policy's implicit
 * margin toward it; the implicit reward's own uncertainty without them), the token overlap that makes identical
 * completions worthless, and the greedy spread over prompts; random selection goes round the prompts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { multisetJaccard, pairProbabilities, pairWorth, promptSimilarity, selectPairs, type SelectionCompletion } from '../../../../src/training/online/pairSelection';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Plain reference of a pair's worth from the raw scores (module comment of pairSelection.ts). */
function worthReference(ha: number, hb: number, external: readonly [number, number][]): number {
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  if (!external.length) return 4 * sig(ha - hb) * (1 - sig(ha - hb));
  const p = external.reduce((s, [xa, xb]) => s + sig(xa - xb), 0) / external.length;
  const t = Math.sign(p - 0.5);
  return Math.abs(2 * p - 1) * sig(-t * (ha - hb));
}

test('probabilities, worth and overlap match float64 references', () => {
  const a: SelectionCompletion = { promptIndex: 0, ids: [1, 2, 2, 3], signals: { implicit: 0.3, rm: 2 } };
  const b: SelectionCompletion = { promptIndex: 0, ids: [2, 3, 4], signals: { implicit: -0.2, rm: 2.5 } };
  const p = pairProbabilities(a, b);
  close(p.implicit as number, 1 / (1 + Math.exp(-0.5)));
  close(p.rm as number, 1 / (1 + Math.exp(0.5)));
  // The RM prefers b (p = s(-0.5)); the policy's implicit margin leans to a by 0.5, so g = s(0.5) toward b.
  close(pairWorth(p), worthReference(0.3, -0.2, [[2, 2.5]]));
  close(pairWorth(p), (1 - 2 / (1 + Math.exp(0.5))) * (1 / (1 + Math.exp(-0.5))));
  // Two external signals are averaged before the gap is taken; the policy already agreeing lowers the worth.
  const two = pairProbabilities({ promptIndex: 0, ids: [1], signals: { implicit: 1.5, rm: 3, judge: 1 } }, { promptIndex: 0, ids: [2], signals: { implicit: 0, rm: 0, judge: 2 } });
  close(pairWorth(two), worthReference(1.5, 0, [[3, 0], [1, 2]]));
  assert.ok(pairWorth(two) < pairWorth({ ...two, implicit: 0.5 }), 'a policy that does not yet hold the predicted preference makes the pair worth more');
  // A near-tie under the reward model is worth little however unsure the policy is; no external signal: 4 P (1 - P).
  close(pairWorth({ implicit: 0.5, rm: 0.5 }), 0);
  close(pairWorth({ implicit: 0.8 }), worthReference(Math.log(4), 0, []));
  assert.equal(pairWorth({ implicit: 0.5 }), 1);
  assert.equal(pairWorth({}), 1);
  // {1,2,2,3} vs {2,3,4}: intersection {2,3} = 2, union 4 + 3 - 2 = 5.
  close(multisetJaccard(a.ids, b.ids), 2 / 5);
  assert.equal(multisetJaccard([5, 5], [5, 5]), 1);
  close(promptSimilarity('What is the capital of France?', 'what is the capital of Spain'), 5 / 7);
});

test('with a reward model, active selection picks the clear differences the policy does not hold yet', () => {
  const c = (promptIndex: number, id: number, implicit: number, rm: number): SelectionCompletion => ({ promptIndex, ids: [id], signals: { implicit, rm } });
  const cs = [
    // Prompt 0: an RM near-tie (least certain) that the policy is unsure of.
    c(0, 1, 0, 0.05),
    c(0, 2, 0, 0),
    // Prompt 1: a clear RM gap the policy already holds (implicit margin 3 toward the RM's winner).
    c(1, 3, 3, 4),
    c(1, 4, 0, 0),
    // Prompt 2: the same RM gap, which the policy ranks the other way.
    c(2, 5, -1, 4),
    c(2, 6, 0, 0),
  ];
  const picked = selectPairs(cs, { method: 'active', pairs: 3, promptTexts: ['a b', 'c d', 'e f'], diversityWeight: 0, seed: 2 });
  assert.deepEqual(picked.map((p) => p.promptIndex), [2, 1, 0]);
  picked.forEach((p) => close(p.score, pairWorth(p.probabilities)));
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
  // Implicit reward only: worth 4 P (1 - P). First: a fully uncertain, fully distinct pair of prompt 1 ({3,4} vs {5,6}).
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
