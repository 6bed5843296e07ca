import { test } from 'node:test';
import assert from 'node:assert/strict';
import { methodCard } from '../../../../src/core/methods';
import { chartKey, GROUPS, groupOf } from '../../../../webview/dashboard/series';

test('the per-round metrics of a run with a person are charted together, in the first group', () => {
  const human = methodCard('human-dpo').metrics.filter((m) => m.startsWith('human/'));
  assert.ok(human.includes('human/labels') && human.includes('human/win_rate_vs_previous') && human.includes('human/ai_agreement'));
  for (const m of human) assert.equal(groupOf(m), 'human', m);
  assert.equal(GROUPS[0]?.id, 'human');
  // The DPO metrics the same run logs stay in their own groups; other names are untouched.
  assert.equal(groupOf('rewards/margins'), 'rewards');
  assert.equal(groupOf('humanity'), 'other');
  assert.equal(chartKey('human/labels', new Set(['human/labels'])), 'human/labels');
});
