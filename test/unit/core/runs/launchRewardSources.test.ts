/**
 * The launch form's reward sources besides the built-ins: offered only where they can run (a reward model when the
 * workspace has one, a module only in a trusted workspace, the judge when configured); the picker's spec logic
 * reads and writes their entries (a judge row keeps its configured fields; an entry for another judge is kept as
 * it is), and what comes back resolves as a run spec; the init message carrying them validates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchDefaults, launchMethods } from '../../../../src/core/runs/launchInfo';
import { isSequenceClassificationFolder, launchRewardSources } from '../../../../src/core/runs/launchRewardSources';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { LaunchInitMsg } from '../../../../src/protocol/launch';
import { rewardsFromRows, rowsFromSpec } from '../../../../webview/launch/rewardEntries';

const models = [{ value: 'runs/rm-1/final', label: 'runs/rm-1/final (run rm-1)' }, { value: 'models/hf-rm', label: 'models/hf-rm' }];
const judge = { baseUrl: 'http://127.0.0.1:8080/v1', model: 'qwen' };

test('reward sources are offered where they can run: reward models found, a module only when trusted, the judge when configured', () => {
  assert.deepEqual(launchRewardSources({ rewardModels: [], trusted: false }), []);
  assert.deepEqual(launchRewardSources({ rewardModels: [], trusted: true }).map((f) => f.kind), ['module']);
  const all = launchRewardSources({ rewardModels: models, trusted: true, judge });
  assert.deepEqual(all.map((f) => f.kind), ['reward_model', 'module', 'judge']);
  assert.deepEqual(all[0]?.arg?.choices, models);
  assert.deepEqual(all[2]?.fixed, judge);
  assert.deepEqual(launchRewardSources({ rewardModels: models, trusted: false, judge }).map((f) => f.kind), ['reward_model', 'judge'], 'no module row in an untrusted workspace');
  assert.ok(isSequenceClassificationFolder({ architectures: ['LlamaForSequenceClassification'], weightFiles: ['model.safetensors'] }));
  assert.ok(!isSequenceClassificationFolder({ architectures: ['LlamaForCausalLM'], weightFiles: ['model.safetensors'] }));
  assert.ok(!isSequenceClassificationFolder({ architectures: ['LlamaForSequenceClassification'], weightFiles: [] }));
});

test('the picker round-trips source entries beside built-ins; what it writes resolves; another judge is kept as it is', () => {
  const grpo = launchMethods().find((m) => m.id === 'grpo');
  const fns = [...(grpo?.rewardFunctions ?? []), ...launchRewardSources({ rewardModels: models, trusted: true, judge })];
  const rewards = {
    functions: [
      { kind: 'regex', pattern: '\\d' },
      { kind: 'reward_model', path: 'models/hf-rm', weight: 0.5 },
      { kind: 'judge', baseUrl: judge.baseUrl, model: judge.model, weight: 2 },
      { kind: 'judge', baseUrl: 'http://127.0.0.1:9999/v1', model: 'other', name: 'judge2' },
    ],
    onError: 'stop',
  };
  const start = rowsFromSpec(fns, rewards);
  const byKind = new Map(start.rows.map((r) => [r.fn.kind, r]));
  assert.deepEqual({ ...byKind.get('reward_model'), fn: undefined }, { fn: undefined, checked: true, weight: '0.5', arg: 'models/hf-rm' });
  assert.deepEqual({ ...byKind.get('judge'), fn: undefined }, { fn: undefined, checked: true, weight: '2', arg: '' });
  assert.equal(byKind.get('module')?.checked, false);
  assert.deepEqual(start.kept, [{ kind: 'judge', baseUrl: 'http://127.0.0.1:9999/v1', model: 'other', name: 'judge2' }]);
  const rows = start.rows.map((r) => (r.fn.kind === 'module' ? { ...r, checked: true, arg: 'rewards.mjs' } : r));
  const back = rewardsFromRows(rows, start.kept, start.onError);
  assert.deepEqual(back.functions, [
    { kind: 'regex', weight: 1, pattern: '\\d' },
    { kind: 'reward_model', weight: 0.5, path: 'models/hf-rm' },
    { kind: 'module', weight: 1, path: 'rewards.mjs' },
    { kind: 'judge', baseUrl: judge.baseUrl, model: judge.model, weight: 2 },
    { kind: 'judge', baseUrl: 'http://127.0.0.1:9999/v1', model: 'other', name: 'judge2' },
  ]);
  const r = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: back });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  // A reward-model row starts on the workspace's first reward model; a checked module row with no path is a spec problem.
  const fresh = rowsFromSpec(fns, undefined);
  assert.equal(fresh.rows.find((x) => x.fn.kind === 'reward_model')?.arg, 'runs/rm-1/final');
  const noPath = rewardsFromRows(fresh.rows.map((x) => ({ ...x, checked: x.fn.kind === 'module' })), [], 'stop');
  const bad = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: noPath });
  assert.deepEqual(bad.ok ? [] : bad.problems.map((p) => `${p.path}: ${p.reason}`), ['rewards.functions[0].path: missing']);
});

test('the init message carries the reward sources and validates', () => {
  const init = { methods: launchMethods(), defaults: launchDefaults(), models: [], datasets: [], rewardSources: launchRewardSources({ rewardModels: models, trusted: true, judge }) };
  const msg = LaunchInitMsg.create(init);
  assert.ok(LaunchInitMsg.is(JSON.parse(JSON.stringify(msg))));
  assert.ok(!LaunchInitMsg.is({ ...msg, params: { ...init, rewardSources: [{ kind: 'judge', title: 't', help: 'h', fixed: { baseUrl: 1 } }] } }), 'fixed fields are strings');
});
