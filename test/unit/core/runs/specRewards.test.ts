/**
 * The run spec's `rewards` and `generation` sections: defaults, the built-in functions and their options, and one
 * problem per bad field, each under its JSON path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { REWARD_FUNCTION_KINDS } from '../../../../src/core/runs/specRewards';

const grpo = { method: 'grpo', model: { kind: 'builtin' }, data: { path: 'prompts.jsonl' }, outputDir: 'o' };
const paths = (r: ReturnType<typeof resolveRunSpec>): string[] => (r.ok ? [] : r.problems.map((p) => p.path));

test('rewards: defaults (weight 1, onError stop, 60 s), names, options of each built-in', () => {
  const r = resolveRunSpec({
    ...grpo,
    rewards: { functions: [{ kind: 'numeric_match' }, { kind: 'regex', pattern: '^\\d+$', flags: 'i', weight: 0.2, name: 'digits' }, { kind: 'proxy', field: 'reference' }, { kind: 'length_penalty', softPunishCache: 64 }] },
    generation: { stop: ['\n\n'] },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(r.spec.rewards, {
    functions: [
      { kind: 'numeric_match', weight: 1, name: 'numeric_match', field: 'answer' },
      { kind: 'regex', weight: 0.2, name: 'digits', pattern: '^\\d+$', flags: 'i' },
      { kind: 'proxy', weight: 1, name: 'proxy_reward', field: 'reference' },
      { kind: 'length_penalty', weight: 1, name: 'length_penalty', softPunishCache: 64 },
    ],
    onError: 'stop',
    timeoutSeconds: 60,
  });
  assert.deepEqual(r.spec.generation, { stop: ['\n\n'] });
  assert.deepEqual(REWARD_FUNCTION_KINDS.map((k) => k.kind), ['exact_match', 'numeric_match', 'regex', 'json_valid', 'length_penalty', 'proxy']);
});

test('rewards: GRPO and RLOO need them; every bad field is a problem at its path', () => {
  assert.deepEqual(paths(resolveRunSpec(grpo)), ['rewards']);
  assert.deepEqual(paths(resolveRunSpec({ ...grpo, method: 'rloo', rewards: { functions: [] } })), ['rewards.functions']);
  const bad = resolveRunSpec({
    ...grpo,
    hyperparameters: { max_completion_length: 32 },
    rewards: {
      functions: [{ kind: 'nope' }, { kind: 'regex', pattern: '(' }, { kind: 'exact_match', weight: 'high', extra: 1 }, { kind: 'length_penalty', softPunishCache: 64 }, { kind: 'regex', pattern: 'a' }, { kind: 'regex', pattern: 'b' }],
      onError: 'ignore',
      timeoutSeconds: 0,
    },
    generation: { stop: [''] },
  });
  assert.deepEqual(paths(bad).sort(), [
    'generation.stop',
    'rewards.functions[0].kind',
    'rewards.functions[1].pattern',
    'rewards.functions[2].extra',
    'rewards.functions[2].weight',
    'rewards.functions[3].softPunishCache',
    'rewards.functions[4].name',
    'rewards.functions[5].name',
    'rewards.onError',
    'rewards.timeoutSeconds',
  ]);
  const why = bad.ok ? [] : bad.problems;
  assert.match(why.find((p) => p.path === 'rewards.functions[0].kind')?.reason ?? '', /unknown reward function "nope" \(built-ins: exact_match, numeric_match, regex/);
  assert.match(why.find((p) => p.path === 'rewards.functions[3].softPunishCache')?.reason ?? '', /max_completion_length \(32\)/);
  assert.match(why.find((p) => p.path === 'rewards.functions[4].name')?.reason ?? '', /"regex" is used twice/);
});

test('rewards and generation are ignored, with a warning, by methods that do not sample', () => {
  const r = resolveRunSpec({ ...grpo, method: 'dpo', rewards: { functions: [{ kind: 'json_valid' }] }, generation: { stop: ['x'] } });
  assert.ok(r.ok);
  assert.equal(r.spec.rewards, undefined);
  assert.ok(r.warnings.some((w) => /rewards is ignored/.test(w)) && r.warnings.some((w) => /generation is ignored/.test(w)));
});
