import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SessionEval,
  SessionEventParser,
  SessionFinished,
  SessionMetrics,
  SessionStarted,
  formatEvent,
  parseSessionEvents,
  toMetrics,
} from '../../../../src/protocol/session';

const t = 1_700_000_000_000;

test('events round-trip through JSON lines', () => {
  const events = [
    SessionStarted.create({ time: t, runId: 'r', method: 'dpo', pid: 42, device: 'cpu', model: 'builtin:tiny', totalSteps: 10, examples: { train: 270, eval: 30 } }),
    SessionMetrics.create({ time: t + 1, step: 10, epoch: 0.3, metrics: toMetrics({ loss: 0.69, 'rewards/chosen': 0.01, 'rewards/margins': 0.02, grad_norm: 1.5, learning_rate: 1e-6, tokens_per_second: 900, step_time: 0.4, bad: NaN }) }),
    SessionEval.create({ time: t + 2, step: 10, epoch: 0.3, metrics: { eval_loss: 0.68, 'eval_rewards/accuracies': 0.6 } }),
    SessionFinished.create({ time: t + 3, reason: 'completed', step: 10, metrics: { loss: 0.6 }, path: 'final' }),
  ];
  const text = events.map(formatEvent).join('');
  const parsed = parseSessionEvents(text);
  assert.deepEqual(parsed.warnings, []);
  assert.deepEqual(parsed.events, JSON.parse(JSON.stringify(events)));
  const m = parsed.events[1];
  assert.equal(m.type === 'metrics' && m.params.metrics.bad, null);
});

test('unknown types and malformed lines become warnings with line numbers, never throws', () => {
  const lines = [
    JSON.stringify({ type: 'metrics', params: { time: t, step: 1, epoch: 0, metrics: { loss: 1 } } }),
    '{"type": "metrics", "params": {"time": 1, "step": -1, "epoch": 0, "metrics": {"loss": "high"}}}',
    'Traceback (most recent call last):',
    JSON.stringify({ type: 'telemetry', params: {} }),
    '',
    JSON.stringify({ type: 'eval', params: { time: t, step: 1, epoch: 0, metrics: { loss: 1 } } }),
    '[1, 2]',
    JSON.stringify({ params: {} }),
    JSON.stringify({ type: 'warning', params: { time: t, message: 'slow' } }),
  ];
  const r = parseSessionEvents(lines.join('\n'));
  assert.deepEqual(r.events.map((e) => e.type), ['metrics', 'warning']);
  assert.deepEqual(r.warnings.map((w) => w.line), [2, 3, 4, 6, 7, 8]);
  assert.match(r.warnings[0].message, /params\.step.*params\.metrics\.loss/);
  assert.match(r.warnings[1].message, /not JSON: Traceback/);
  assert.match(r.warnings[2].message, /unknown event type "telemetry" \(ignored\)/);
  assert.match(r.warnings[3].message, /evaluation metric names start with "eval_"/);
  assert.match(r.warnings[4].message, /not a JSON object/);
  assert.match(r.warnings[5].message, /no "type" field/);
});

test('the stream parser joins partial lines across chunks', () => {
  const line = formatEvent(SessionMetrics.create({ time: t, step: 3, epoch: 0.1, metrics: { loss: 0.5 } }));
  const p = new SessionEventParser();
  assert.deepEqual(p.push(line.slice(0, 10)), []);
  const got = p.push(line.slice(10) + line.slice(0, 5));
  assert.equal(got.length, 1);
  assert.deepEqual(p.push(line.slice(5, -1)), []);
  const end = p.end();
  assert.equal(end.events.length, 1);
  assert.deepEqual(p.warnings, []);
});
