/**
 * An OpenAI-compatible LLM judge as a reward source, against a real local judge server: ratings 1-10 scaled to
 * [0, 1], the instructions in the rubric, an answer without a rating re-asked and then failing that sample alone,
 * an unreachable judge retried with backoff and then a clear error that stops the run (and never shows the key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { judgeReward } from '../../../../src/training/online/rewards/judgeReward';
import { openRewards } from '../../../../src/training/online/rewards/openRewards';
import { computeRewards, RewardError, type RewardSample } from '../../../../src/training/online/rewards/rewardFunction';
import type { RolloutPrompt } from '../../../../src/training/online/rollout';
import { heuristicJudge, malformed, PREFER_MARKER, startJudgeServer, whenRubricHas } from '../../../support/judgeServer';

const prompt = (i: number): RolloutPrompt => ({ id: `q${i}`, prompt: i % 2 ? `question ${i}` : [{ role: 'user', content: `question ${i}` }], source: { file: 'prompts.jsonl', line: i + 1 } });
const sample = (completion: string, p: RolloutPrompt = prompt(0)): RewardSample => ({ prompt: p, completion, completionIds: [1], terminated: true });
const fast = { backoff: { baseMs: 5, maxMs: 20 }, maxRetries: 2, timeoutMs: 2000 };

test('judge reward: the server rates 1-10, the reward is (rating - 1) / 9; prompts (text and chat) and the instructions reach the judge', async () => {
  const server = await startJudgeServer({ behaviour: heuristicJudge() });
  try {
    const fn = judgeReward({ name: 'judge', baseUrl: server.baseUrl, model: 'tiny-judge', instructions: 'Rate how polite the reply is.', client: fast });
    // heuristicJudge: 10 for a marked reply, else 1 + floor(length / 200).
    const samples = [sample(`nice ${PREFER_MARKER}`, prompt(0)), sample('short', prompt(1)), sample('x'.repeat(450), prompt(2))];
    const t = await computeRewards(samples, [{ fn, weight: 2 }]);
    assert.deepEqual(t.perFunc.map((r) => r[0]), [1, 0, 2 / 9]);
    assert.deepEqual(t.total, [2, 0, 4 / 9]);
    const rubrics = server.requests.map((r) => r.messages.find((m) => m.role === 'user')?.content ?? '');
    assert.equal(server.requests.length, 3);
    assert.ok(rubrics.every((u) => u.startsWith('Rate how polite the reply is.') && /integer from 1 to 10/.test(u)));
    assert.ok(rubrics.some((u) => u.includes('[User prompt]\nuser: question 0\n')) && rubrics.some((u) => u.includes('[User prompt]\nquestion 1\n')));
    assert.ok(server.requests.every((r) => r.model === 'tiny-judge' && r.authorization === undefined), 'no key set: none sent');
  } finally {
    await server.stop();
  }
});

test('judge reward: an answer that never holds a rating fails that sample alone (skip drops it)', async () => {
  const server = await startJudgeServer({ behaviour: whenRubricHas('NO-RATING', malformed()) });
  try {
    const fn = judgeReward({ name: 'judge', baseUrl: server.baseUrl, model: 'm', client: fast });
    const samples = [sample('fine', prompt(2)), sample('NO-RATING here', prompt(3))];
    await assert.rejects(computeRewards(samples, [{ fn, weight: 1 }]), (e: Error) => e instanceof RewardError && /reward function "judge" failed on prompt q3 \(prompts\.jsonl:4\) "question 3": judge judge gave no parseable verdict/.test(e.message));
    const t = await computeRewards(samples, [{ fn, weight: 1 }], { onError: 'skip' });
    assert.deepEqual(t.valid, [true, false]);
    assert.deepEqual(t.total.slice(0, 1), [0]);
  } finally {
    await server.stop();
  }
});

test('judge reward: an unreachable judge is retried with backoff, then a clear error that stops the run even under skip, without the key', async () => {
  const server = await startJudgeServer({ behaviour: heuristicJudge() });
  const url = server.baseUrl;
  await server.stop();
  const retries: number[] = [];
  const fn = judgeReward({ name: 'rater', baseUrl: url, model: 'm', apiKey: 'sk-secret-123', client: { ...fast, onRetry: (i) => retries.push(i.attempt) } });
  await assert.rejects(computeRewards([sample('a', prompt(1)), sample('b', prompt(2))], [{ fn, weight: 1 }], { onError: 'skip' }), (e: Error) => {
    assert.ok(e instanceof RewardError, String(e));
    assert.match(e.message, /reward function "rater" \(judge m at http:\/\/127\.0\.0\.1:\d+\/v1\) could not rate prompt q\d .*cannot reach .*gave up after 3 attempts/);
    assert.doesNotMatch(e.message, /sk-secret-123/);
    return true;
  });
  assert.ok(retries.length >= 2, `retried with backoff: ${retries.join(',')}`);
});

test('judge reward from a spec: an API key field is refused (keys come from the environment); a remote judge without a key is named by its entry', async () => {
  const r = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: { functions: [{ kind: 'judge', baseUrl: 'https://api.example.com/v1', model: 'gpt', apiKey: 'sk-1' }] } });
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path), ['rewards.functions[0].apiKey']);
  assert.match(r.problems[0]?.reason ?? '', /never goes in a spec.*ALIGNMENT_JUDGE_API_KEY/);
  const ok = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: { functions: [{ kind: 'judge', baseUrl: 'https://api.example.com/v1', model: 'gpt' }] } });
  assert.ok(ok.ok);
  await assert.rejects(openRewards(ok.spec.rewards as NonNullable<typeof ok.spec.rewards>, { baseDir: '.', maxCompletionLength: 8, trusted: false }), /^RewardSourceError: rewards\.functions\[0\]\.baseUrl \(judge "judge"\): No API key is set for the judge endpoint https:\/\/api\.example\.com\/v1/);
});
