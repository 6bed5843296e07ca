/**
 * The `samples` session event: its optional `scoreKind` / `scoreLabel` (what the scores mean) are validated, and
 * events written before they existed still parse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionSamples, formatEvent, parseSessionEvents } from '../../../src/protocol/session';

const t = 1_700_000_000_000;
const row = { prompt: 'say yes', policy: 'yes', reference: 'no', scores: { policy: 0.12, reference: -0.03 } };

test('a samples event with scoreKind and scoreLabel round-trips', () => {
  const e = SessionSamples.create({ time: t, step: 4, samples: [row], scoreKind: 'implicit-reward', scoreLabel: 'implicit reward β·log(π/π_ref), β=0.1' });
  assert.deepEqual(SessionSamples.problems(e), []);
  const parsed = parseSessionEvents(formatEvent(e));
  assert.deepEqual(parsed.warnings, []);
  assert.deepEqual(parsed.events, [JSON.parse(JSON.stringify(e))]);
});

test('an old samples event without scoreKind (and without scores) still parses', () => {
  const old = JSON.stringify({ type: 'samples', params: { time: t, step: 2, samples: [{ prompt: 'p', policy: 'a', reference: 'b' }] } });
  const parsed = parseSessionEvents(old + '\n');
  assert.deepEqual(parsed.warnings, []);
  assert.equal(parsed.events.length, 1);
});

test('an unknown scoreKind, a non-string scoreLabel and a non-finite score are rejected with the field named', () => {
  const bad = (params: Record<string, unknown>): string[] => SessionSamples.problems({ type: 'samples', params: { time: t, step: 1, samples: [row], ...params } });
  assert.match(bad({ scoreKind: 'vibes' }).join('\n'), /params\.scoreKind: expected one of "implicit-reward"/);
  assert.match(bad({ scoreLabel: 3 }).join('\n'), /params\.scoreLabel: expected a string/);
  const nullScore = parseSessionEvents(JSON.stringify({ type: 'samples', params: { time: t, step: 1, samples: [{ ...row, scores: { policy: null } }] } }) + '\n');
  assert.equal(nullScore.events.length, 0);
  assert.match(nullScore.warnings[0]?.message ?? '', /samples\[0\]\.scores\.policy: expected a finite number/);
});
