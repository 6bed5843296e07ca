import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchMethods } from '../../../../src/core/runs/launchInfo';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { rewardsFromRows, rowsFromSpec } from '../../../../webview/launch/rewardEntries';

const fns = launchMethods().find((m) => m.id === 'grpo')?.rewardFunctions ?? [];

test('the reward picker shows what its rows can and keeps the rest: a spec round-trips with every function', () => {
  const rewards = {
    functions: [
      { kind: 'regex', pattern: '\\d', weight: 0.5 },
      { kind: 'regex', pattern: 'yes', name: 'says_yes' },
      { kind: 'proxy', field: 'reference' },
      { kind: 'exact_match', caseSensitive: true },
    ],
    onError: 'skip',
  };
  const start = rowsFromSpec(fns, rewards);
  const byKind = new Map(start.rows.map((r) => [r.fn.kind, r]));
  assert.deepEqual({ ...byKind.get('regex'), fn: undefined }, { fn: undefined, checked: true, weight: '0.5', arg: '\\d' });
  assert.deepEqual({ ...byKind.get('proxy'), fn: undefined }, { fn: undefined, checked: true, weight: '1', arg: 'reference' });
  assert.equal(byKind.get('exact_match')?.checked, false, 'an option the row cannot show: the entry is kept instead');
  assert.deepEqual(start.kept, [{ kind: 'regex', pattern: 'yes', name: 'says_yes' }, { kind: 'exact_match', caseSensitive: true }]);
  assert.equal(start.onError, 'skip');
  const back = rewardsFromRows(start.rows, start.kept, start.onError);
  assert.deepEqual(back, {
    functions: [{ kind: 'regex', weight: 0.5, pattern: '\\d' }, { kind: 'proxy', weight: 1, field: 'reference' }, { kind: 'regex', pattern: 'yes', name: 'says_yes' }, { kind: 'exact_match', caseSensitive: true }],
    onError: 'skip',
  });
  const r = resolveRunSpec({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: back });
  assert.ok(r.ok && r.spec.rewards?.functions.length === 4, JSON.stringify(!r.ok && r.problems));
});

test('the reward picker: rows the user checks become functions; integers stay numbers; nothing checked is a spec problem', () => {
  const rows = rowsFromSpec(fns, undefined).rows.map((r) =>
    r.fn.kind === 'length_penalty' ? { ...r, checked: true, arg: '16' } : r.fn.kind === 'numeric_match' ? { ...r, checked: true, weight: '2' } : r,
  );
  const out = rewardsFromRows(rows, [], 'stop');
  assert.deepEqual(out, { functions: [{ kind: 'numeric_match', weight: 2 }, { kind: 'length_penalty', weight: 1, softPunishCache: 16 }], onError: 'stop' });
  const none = resolveRunSpec({ method: 'rloo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o', rewards: rewardsFromRows(rowsFromSpec(fns, undefined).rows, [], 'stop') });
  assert.deepEqual(none.ok ? [] : none.problems.map((p) => p.path), ['rewards.functions']);
});
