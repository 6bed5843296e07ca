/**
 * Reward sources: weighted combination with TRL's None semantics, failures that name the function and the prompt
 * (throw, NaN, hang, wrong length) under both policies, missing reference answers named by file, line and field,
 * and each built-in verifier on hand-picked cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyReward } from '../../../../src/training/demo/proxyReward';
import type { RolloutPrompt } from '../../../../src/training/online/rollout';
import {
  checkRewardInputs,
  computeRewards,
  MissingRewardFieldError,
  RewardError,
  rewardMetrics,
  type RewardFunction,
  type RewardSample,
} from '../../../../src/training/online/rewards/rewardFunction';
import { proxyRewardFunction } from '../../../../src/training/online/rewards/proxyReward';
import { exactMatchReward, jsonValidReward, lastNumber, lengthPenaltyReward, numericMatchReward, regexReward } from '../../../../src/training/online/rewards/verifiers';

const prompt = (i: number, answer?: unknown): RolloutPrompt => ({
  id: `q${i}`,
  prompt: [{ role: 'user', content: `question ${i}` }],
  source: { file: 'prompts.jsonl', line: i + 1 },
  ...(answer === undefined ? {} : { fields: { answer } }),
});
const sample = (completion: string, p: RolloutPrompt = prompt(0), n = 3, terminated = true): RewardSample => ({ prompt: p, completion, completionIds: Array.from({ length: n }, (_, i) => i), terminated });
const fn = (name: string, f: (s: RewardSample) => number | null): RewardFunction => ({ name, score: (xs) => xs.map(f) });

test('weighted sum over the functions that apply (null = TRL None), and TRL reward metrics', async () => {
  const samples = [sample('a'), sample('bb'), sample('ccc')];
  const len = fn('len', (s) => s.completion.length);
  const onlyLong = fn('only_long', (s) => (s.completion.length > 1 ? 10 : null));
  const t = await computeRewards(samples, [{ fn: len, weight: 0.5 }, { fn: onlyLong, weight: 2 }]);
  assert.deepEqual(t.total, [0.5, 1 + 20, 1.5 + 20]);
  assert.deepEqual(t.valid, [true, true, true]);
  assert.ok(Number.isNaN(t.perFunc[0]?.[1] as number));
  const m = rewardMetrics(t, [{ fn: len, weight: 0.5 }, { fn: onlyLong, weight: 2 }]);
  assert.equal(m.reward, (0.5 + 21 + 21.5) / 3);
  assert.equal(m['rewards/len/mean'], 2);
  assert.equal(m['rewards/len/std'], 1);
  assert.equal(m['rewards/only_long/mean'], 10);
  assert.equal(m['rewards/only_long/std'], 0);
});

test('a function that throws: the error names the function and the prompt; skip drops just that sample', async () => {
  const ps = [prompt(0), prompt(1), prompt(2)];
  const samples = ps.map((p, i) => sample(`reply ${i}`, p));
  const bad = fn('picky', (s) => {
    if (s.prompt.id === 'q1') throw new Error('cannot parse');
    return 1;
  });
  await assert.rejects(computeRewards(samples, [{ fn: bad, weight: 1 }]), (e: Error) => e instanceof RewardError && /"picky"/.test(e.message) && /prompt q1 \(prompts\.jsonl:2\) "user: question 1"/.test(e.message) && /cannot parse/.test(e.message));
  const t = await computeRewards(samples, [{ fn: bad, weight: 1 }], { onError: 'skip' });
  assert.deepEqual(t.valid, [true, false, true]);
  assert.deepEqual(t.total.map((x) => (Number.isNaN(x) ? 'NaN' : x)), [1, 'NaN', 1]);
  assert.equal(t.problems.length, 1);
  assert.match(t.problems[0] as string, /picky.*q1.*cannot parse/);
});

test('a single sample whose function throws is skipped under skip, and stops the run under stop', async () => {
  const bad = fn('picky', () => {
    throw new Error('cannot parse');
  });
  const one = [sample('reply', prompt(4))];
  const t = await computeRewards(one, [{ fn: bad, weight: 1 }], { onError: 'skip' });
  assert.deepEqual(t.valid, [false]);
  assert.match(t.problems[0] as string, /picky.*q4 \(prompts\.jsonl:5\).*cannot parse/);
  await assert.rejects(computeRewards(one, [{ fn: bad, weight: 1 }]), (e: Error) => e instanceof RewardError && /picky.*q4.*cannot parse/.test(e.message));
});

test('NaN, a hang and a wrong number of scores are failures too', async () => {
  const samples = [sample('x', prompt(0)), sample('y', prompt(1))];
  const nan = fn('nan_fn', (s) => (s.prompt.id === 'q0' ? NaN : 1));
  await assert.rejects(computeRewards(samples, [{ fn: nan, weight: 1 }]), /reward function "nan_fn" returned NaN for prompt q0 \(prompts\.jsonl:1\)/);
  const skipped = await computeRewards(samples, [{ fn: nan, weight: 1 }], { onError: 'skip' });
  assert.deepEqual(skipped.valid, [false, true]);
  const hang: RewardFunction = { name: 'hangs', score: () => new Promise(() => undefined) };
  const t0 = Date.now();
  await assert.rejects(computeRewards(samples, [{ fn: hang, weight: 1 }], { timeoutMs: 50 }), /"hangs" \(scoring 2 samples\) did not answer within 50 ms/);
  assert.ok(Date.now() - t0 < 5000);
  const short: RewardFunction = { name: 'short', score: () => [1] };
  await assert.rejects(computeRewards(samples, [{ fn: short, weight: 1 }], { onError: 'skip' }), /"short" returned 1 scores for 2 samples/);
});

test('missing reference answers: the error names file, line and field before any sampling', () => {
  const ps = [prompt(0, '4'), prompt(1), prompt(2, ''), prompt(3, 7)];
  assert.throws(
    () => checkRewardInputs(ps, [{ fn: numericMatchReward(), weight: 1 }]),
    (e: Error) => e instanceof MissingRewardFieldError && /numeric_match/.test(e.message) && /2 of 4 prompts/.test(e.message) && /prompts\.jsonl:2, field "answer"/.test(e.message) && /prompts\.jsonl:3, field "answer"/.test(e.message),
  );
  checkRewardInputs([prompt(0, '4')], [{ fn: numericMatchReward(), weight: 1 }, { fn: regexReward('x'), weight: 1 }]);
  assert.throws(() => checkRewardInputs([prompt(0, '4')], [{ fn: regexReward('x'), weight: 1 }, { fn: regexReward('y'), weight: 1 }]), /"regex" is used twice/);
  assert.throws(() => checkRewardInputs([prompt(0)], [{ fn: regexReward('x'), weight: NaN }]), /reward_weights/);
});

test('built-in verifiers', async () => {
  const score = async (f: RewardFunction, ...xs: RewardSample[]): Promise<(number | null)[]> => [...(await f.score(xs))];
  const p = prompt(0, 'Paris');
  assert.deepEqual(await score(exactMatchReward(), sample('  paris. ', p), sample('Paris is the capital', p)), [1, 0]);
  assert.deepEqual(await score(exactMatchReward({ caseSensitive: true }), sample('paris', p), sample('Paris', p)), [0, 1]);
  assert.deepEqual(await score(exactMatchReward(), sample('Lyon', prompt(1, ['Paris', 'Lyon']))), [1]);

  assert.equal(lastNumber('3 plus 4 is 7.'), 7);
  assert.equal(lastNumber('total: 1,234.5 dollars'), 1234.5);
  assert.equal(lastNumber('it is -0.25'), -0.25);
  assert.equal(lastNumber('no digits'), undefined);
  const n = prompt(2, '1234.5');
  assert.deepEqual(await score(numericMatchReward(), sample('So the answer is 1,234.5', n), sample('1234', n), sample('none', n)), [1, 0, 0]);
  assert.deepEqual(await score(numericMatchReward(), sample('about 7', prompt(3, 7))), [1]);
  await assert.rejects(Promise.resolve().then(() => numericMatchReward().score([sample('7', prompt(4, 'seven'))])), /holds no number/);

  assert.deepEqual(await score(regexReward('\\d'), sample('abc'), sample('a1')), [0, 1]);
  assert.deepEqual(await score(regexReward('^yes$', { flags: 'i' }), sample('YES'), sample('yes no')), [1, 0]);
  assert.throws(() => regexReward('('), /invalid pattern "\("/);

  assert.deepEqual(await score(jsonValidReward(), sample('{"a": 1}'), sample('```json\n[1, 2]\n```'), sample('{a: 1}'), sample('42')), [1, 1, 0, 1]);
  assert.deepEqual(await score(jsonValidReward({ objectOnly: true }), sample('42'), sample('{}')), [0, 1]);

  // L_max 10, cache 4: 0 up to 6 tokens, then (6 - n) / 4, -1 past 10.
  const lp = lengthPenaltyReward({ maxCompletionLength: 10, softPunishCache: 4 });
  assert.deepEqual(await score(lp, sample('', p, 6), sample('', p, 8), sample('', p, 10), sample('', p, 11)), [0, -0.5, -1, -1]);
  assert.throws(() => lengthPenaltyReward({ maxCompletionLength: 4, softPunishCache: 5 }), /soft_punish_cache/);

  const q = prompt(5, 'The capital of Peru is Lima.');
  const r = await score(proxyRewardFunction(), sample('The capital of Peru is Lima.', q, 7, true), sample('Sure thing! The capital of Peru is Lima. I hope that helps you!', q, 20, false));
  assert.deepEqual(r, [proxyReward('The capital of Peru is Lima.', 'The capital of Peru is Lima.', true).total, proxyReward('Sure thing! The capital of Peru is Lima. I hope that helps you!', 'The capital of Peru is Lima.', false).total]);
  assert.equal(r[0], 1);
});
