import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEvent, parseSessionEvents, SessionDiverged } from '../../../src/protocol/session';

test('diverged events: a warning of their own kind, validated like every event (step, a known reason, a message)', () => {
  const e = SessionDiverged.create({ time: 1, step: 3, reason: 'loss-above-chance', message: 'loss 45.35 at step 3 is above 2 x chance (ln 304 = 5.717)', value: 45.35 });
  const ok = parseSessionEvents(formatEvent(e));
  assert.deepEqual(ok.warnings, []);
  assert.deepEqual(ok.events, [e]);
  const bad = [
    { type: 'diverged', params: { time: 1, step: 3, reason: 'exploded', message: 'x' } },
    { type: 'diverged', params: { time: 1, step: -1, reason: 'grad-norm-zero', message: 'x' } },
    { type: 'diverged', params: { time: 1, step: 3, reason: 'grad-norm-zero' } },
    { type: 'diverged', params: { time: 1, step: 3, reason: 'loss-above-range', message: 'x', value: 'big' } },
  ];
  const parsed = parseSessionEvents(bad.map((b) => JSON.stringify(b)).join('\n'));
  assert.deepEqual(parsed.events, []);
  assert.deepEqual(parsed.warnings.map((w) => w.line), [1, 2, 3, 4]);
  assert.match(parsed.warnings[0]?.message ?? '', /invalid "diverged" event: .*reason/);
});
