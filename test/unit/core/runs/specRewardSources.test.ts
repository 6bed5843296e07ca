/**
 * The reward sources of a run spec's `rewards.functions` besides the built-ins (reward_model, module, judge):
 * defaults, combination with built-ins in one list, and one problem per bad field under its JSON path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { REWARD_SOURCE_KINDS } from '../../../../src/core/runs/specRewardSources';

const grpo = { method: 'grpo', model: { kind: 'builtin' }, data: { path: 'prompts.jsonl' }, outputDir: 'o' };
const problems = (r: ReturnType<typeof resolveRunSpec>): string[] => (r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.reason}`));

test('reward sources: defaults (weight 1, default names, export "reward") beside a built-in, in the spec order', () => {
  const r = resolveRunSpec({
    ...grpo,
    rewards: {
      functions: [
        { kind: 'regex', pattern: 'a' },
        { kind: 'reward_model', path: 'runs/rm-1', weight: 0.5 },
        { kind: 'module', path: 'rewards.mjs' },
        { kind: 'module', path: 'more.js', export: 'score', name: 'style' },
        { kind: 'judge', baseUrl: 'http://127.0.0.1:8080/v1', model: 'qwen', instructions: 'Rate politeness.' },
        { kind: 'reward_model', path: 'hf/rm', maxLength: 256, name: 'rm2' },
      ],
    },
  });
  assert.ok(r.ok, JSON.stringify(problems(r)));
  assert.deepEqual(r.spec.rewards?.functions, [
    { kind: 'regex', weight: 1, name: 'regex', pattern: 'a' },
    { kind: 'reward_model', weight: 0.5, name: 'reward_model', path: 'runs/rm-1' },
    { kind: 'module', weight: 1, name: 'module', path: 'rewards.mjs', export: 'reward' },
    { kind: 'module', weight: 1, name: 'style', path: 'more.js', export: 'score' },
    { kind: 'judge', weight: 1, name: 'judge', baseUrl: 'http://127.0.0.1:8080/v1', model: 'qwen', instructions: 'Rate politeness.' },
    { kind: 'reward_model', weight: 1, name: 'rm2', path: 'hf/rm', maxLength: 256 },
  ]);
  assert.deepEqual(REWARD_SOURCE_KINDS.map((k) => [k.kind, k.workspaceCode]), [['reward_model', false], ['module', true], ['judge', false]]);
});

test('reward sources: every bad field is a problem at its path; two default names collide; an unknown kind lists the sources', () => {
  const r = resolveRunSpec({
    ...grpo,
    rewards: {
      functions: [
        { kind: 'reward_model' },
        { kind: 'reward_model', path: 'a', maxLength: 4, weight: 'x' },
        { kind: 'module', path: 'rewards.py', export: 'not-a-name' },
        { kind: 'judge', baseUrl: 'ftp://x', apiKey: 'sk-1', extra: 1 },
        { kind: 'module', path: 'a.js' },
        { kind: 'module', path: 'b.js' },
        { kind: 'bleu' },
      ],
    },
  });
  assert.deepEqual(problems(r), [
    'rewards.functions[0].path: missing',
    'rewards.functions[1].weight: expected a finite number',
    'rewards.functions[1].maxLength: expected an integer >= 8',
    'rewards.functions[2].path: expected a .js, .cjs or .mjs file',
    'rewards.functions[2].export: expected the name of an exported function',
    'rewards.functions[3].apiKey: an API key never goes in a spec; the session reads it from the environment variable ALIGNMENT_JUDGE_API_KEY (the editor sets it from its secret storage)',
    'rewards.functions[3].extra: unknown field',
    'rewards.functions[3].baseUrl: expected an http(s) URL, e.g. http://127.0.0.1:8080/v1',
    'rewards.functions[3].model: missing',
    'rewards.functions[6].kind: unknown reward function "bleu" (built-ins: exact_match, numeric_match, regex, json_valid, length_penalty, proxy; other sources: reward_model, module, judge)',
    'rewards.functions[1].name: "reward_model" is used twice; give each function its own name (metrics are keyed by it)',
    'rewards.functions[4].name: "module" is used twice; give each function its own name (metrics are keyed by it)',
    'rewards.functions[5].name: "module" is used twice; give each function its own name (metrics are keyed by it)',
  ]);
});
