import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { completeUtf8Length, EventTail } from '../../../../src/core/runs/eventTail';
import { EMPTY_RUN_STATE, etaSeconds, foldRunEvents, keyMetrics, withProcessGone } from '../../../../src/core/runs/runState';
import { parseSessionEvents } from '../../../../src/protocol/session';

const line = (type: string, params: Record<string, unknown>) => JSON.stringify({ type, params: { time: 1000, ...params } }) + '\n';
const started = (pid = 1, time = 0) => line('started', { time, runId: 'r', method: 'dpo', pid, device: 'cpu', model: 'builtin:tiny', totalSteps: 10, examples: { train: 8, eval: 0 } });
const metrics = (step: number, time: number, loss: number) => line('metrics', { time, step, epoch: step / 10, metrics: { loss, 'rewards/margins': step / 10 } });

test('returns only new events, waits for a partial line, and reports bad lines with their numbers', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tail-'));
  const file = path.join(dir, 'events.jsonl');
  const tail = new EventTail(file);
  assert.deepEqual(await tail.read(), { events: [], warnings: [], reset: false, more: false });
  fs.writeFileSync(file, started() + metrics(1, 1000, 0.69) + 'garbage\n' + line('future', {}) + metrics(2, 2000, 0.6).slice(0, 20));
  let r = await tail.read();
  assert.deepEqual(r.events.map((e) => e.type), ['started', 'metrics']);
  assert.deepEqual(r.warnings.map((w) => w.line), [3, 4]);
  assert.match(r.warnings[1].message, /unknown event type "future"/);
  fs.appendFileSync(file, metrics(2, 2000, 0.6).slice(20));
  r = await tail.read();
  assert.deepEqual(r.events.map((e) => e.type), ['metrics']);
  assert.equal(r.warnings.length, 0);
  // A rewritten (shorter) file is read from the start.
  fs.writeFileSync(file, started());
  r = await tail.read();
  assert.equal(r.reset, true);
  assert.deepEqual(r.events.map((e) => e.type), ['started']);
  fs.rmSync(dir, { recursive: true });
});

test('maxBytes reads a long file in slices from the byte offset reached, and says when more is left', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tail-'));
  const file = path.join(dir, 'events.jsonl');
  let text = started();
  for (let s = 1; s <= 400; s++) text += metrics(s, s * 1000, 1 / s);
  fs.writeFileSync(file, text);
  const tail = new EventTail(file, 1024);
  const slices: number[] = [];
  let steps: number[] = [];
  for (let more = true; more; ) {
    const r = await tail.read(4096);
    more = r.more;
    slices.push(r.events.length);
    steps = steps.concat(r.events.flatMap((e) => (e.type === 'metrics' ? [e.params.step] : [])));
    assert.ok(tail.position <= Buffer.byteLength(text));
  }
  assert.ok(slices.length > 5, `read in ${slices.length} slices`);
  assert.deepEqual(steps, Array.from({ length: 400 }, (_, i) => i + 1));
  assert.equal(tail.position, Buffer.byteLength(text));
  // Appended bytes only: the next read starts at the offset reached.
  fs.appendFileSync(file, metrics(401, 401_000, 0.001));
  const r = await tail.read(4096);
  assert.deepEqual(r.events.map((e) => (e.type === 'metrics' ? e.params.step : -1)), [401]);
  assert.equal(r.more, false);
  fs.rmSync(dir, { recursive: true });
});

test('a multi-byte character split across reads is decoded whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tail-'));
  const file = path.join(dir, 'events.jsonl');
  const text = line('warning', { message: 'naïve — 日本語 ✓' });
  fs.writeFileSync(file, text);
  const tail = new EventTail(file, 7); // 7-byte chunks split the multi-byte characters
  const r = await tail.read();
  assert.equal(r.events.length, 1);
  assert.equal((r.events[0].params as { message: string }).message, 'naïve — 日本語 ✓');
  assert.equal(completeUtf8Length(Buffer.from([0x61, 0xe6, 0x97])), 1);
  assert.equal(completeUtf8Length(Buffer.from([0x61, 0xe6, 0x97, 0xa5])), 4);
  fs.rmSync(dir, { recursive: true });
});

test('run state: a resumed run is running again, finishes, and a dead process makes it failed', () => {
  const ev = (t: string) => parseSessionEvents(t).events;
  let s = foldRunEvents(EMPTY_RUN_STATE, ev(started(1, 0) + metrics(1, 1000, 0.7) + metrics(2, 2000, 0.6)));
  assert.equal(s.phase, 'running');
  assert.equal(s.stepsPerSecond, 1);
  assert.equal(etaSeconds(s), 8);
  assert.deepEqual(keyMetrics(s, 2), [['loss', 0.6], ['rewards/margins', 0.2]]);
  s = foldRunEvents(s, ev(line('finished', { reason: 'stopped', step: 2, metrics: {}, path: 'final' })));
  assert.equal(s.phase, 'stopped');
  assert.equal(etaSeconds(s), undefined);
  s = foldRunEvents(s, ev(started(2, 10_000) + metrics(3, 12_000, 0.5)));
  assert.equal(s.phase, 'running');
  assert.equal(s.startStep, 2);
  assert.equal(s.stepsPerSecond, 0.5);
  assert.equal(withProcessGone(s, 'gone').phase, 'failed');
  s = foldRunEvents(s, ev(line('error', { message: 'OOM', fatal: true })));
  assert.equal(s.phase, 'failed');
  assert.equal(s.detail, 'OOM');
  const done = foldRunEvents(EMPTY_RUN_STATE, ev(started() + line('finished', { reason: 'completed', step: 10, metrics: { loss: 0.1, eval_loss: 0.2 }, path: 'final' })));
  assert.equal(done.phase, 'finished');
  assert.equal(done.metrics.loss, 0.1);
  assert.equal(done.evalMetrics.eval_loss, 0.2);
  assert.equal(withProcessGone(done, 'gone').phase, 'finished');
});
