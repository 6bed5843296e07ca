import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRun, listRuns, readRun } from '../../../../src/core/runs/registry';
import { isRunId, newRunId, runPaths, runsRoot } from '../../../../src/core/runs/layout';
import { SessionCheckpoint, SessionError, SessionFinished, SessionMetrics, SessionStarted, formatEvent } from '../../../../src/protocol/session';

const spec = { method: 'dpo', model: { kind: 'builtin' }, data: { path: 'pairs.jsonl' } };
let seq = 0;
const rnd = (): number => ((seq++ * 7) % 36) / 36;
const started = (pid?: number) =>
  SessionStarted.create({ time: 1, runId: 'r', method: 'dpo', ...(pid !== undefined ? { pid } : {}), device: 'cpu', model: 'builtin', totalSteps: 5, examples: { train: 9, eval: 1 } });
const metrics = (step: number) => SessionMetrics.create({ time: 2 + step, step, epoch: step / 5, metrics: { loss: 1 / step } });

test('run ids sort by time and are valid folder names', () => {
  const a = newRunId('dpo', new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), () => 0.5);
  assert.equal(a, '20260102-030405-dpo-iiii');
  assert.ok(isRunId(a));
  assert.ok(isRunId(newRunId('online-dpo', new Date(), Math.random)));
  assert.ok(!isRunId('../etc'));
});

test('createRun writes a resolved spec and refuses a bad one, writing nothing', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'reg-'));
  const r = await createRun(ws, spec, new Date(Date.UTC(2026, 0, 1)), rnd);
  assert.ok(r.ok);
  const saved = JSON.parse(readFileSync(runPaths(r.dir).spec, 'utf8'));
  assert.equal(saved.outputDir, r.dir);
  assert.equal(saved.hyperparameters.beta, 0.1);
  const bad = await createRun(ws, { ...spec, method: 'nope' });
  assert.equal(bad.ok, false);
  const runs = await listRuns(ws);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, 'pending');
  assert.deepEqual(runs[0].specProblems, []);
});

test('createRun (the launch form and "start from spec" path) refuses a method it cannot train, creating no run folder', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'reg-'));
  // Every method on a card trains; an unknown one is what is left to refuse.
  const r = await createRun(ws, { ...spec, method: 'ppo2' });
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.problems.map((p) => p.path), ['method']);
  assert.match(r.ok ? '' : r.problems[0].reason, /unknown method "ppo2"/);
  assert.equal(existsSync(runsRoot(ws)), false);
});

test('status from events: running, finished, stopped, failed, crashed', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'reg-'));
  const mk = async (day: number, events: string[]): Promise<string> => {
    const r = await createRun(ws, spec, new Date(Date.UTC(2026, 0, day)), rnd);
    assert.ok(r.ok);
    writeFileSync(runPaths(r.dir).events, events.join(''));
    return r.id;
  };
  const running = await mk(1, [formatEvent(started()), formatEvent(metrics(1))]);
  const finished = await mk(2, [
    formatEvent(started()),
    formatEvent(metrics(1)),
    formatEvent(SessionCheckpoint.create({ time: 3, step: 1, path: 'checkpoints/step-1' })),
    formatEvent(SessionFinished.create({ time: 4, reason: 'completed', step: 2, metrics: { loss: 0.3 }, path: 'final' })),
  ]);
  const stopped = await mk(3, [formatEvent(started()), formatEvent(SessionFinished.create({ time: 4, reason: 'stopped', step: 1, metrics: {}, path: 'final' }))]);
  const failed = await mk(4, [formatEvent(started()), formatEvent(SessionError.create({ time: 5, message: 'out of memory', fatal: true }))]);
  const crashed = await mk(5, [formatEvent(started(999999)), formatEvent(metrics(1)), 'garbage\n']);

  const runs = await listRuns(ws, { isProcessAlive: (pid) => pid !== 999999 });
  const by = new Map(runs.map((r) => [r.id, r]));
  assert.deepEqual(runs.map((r) => r.id), [crashed, failed, stopped, finished, running]);
  assert.equal(by.get(running)!.status, 'running');
  assert.equal(by.get(running)!.lastMetrics!.step, 1);
  assert.equal(by.get(finished)!.status, 'finished');
  assert.equal(by.get(finished)!.latestCheckpoint!.path, 'checkpoints/step-1');
  assert.equal(by.get(finished)!.finished!.metrics.loss, 0.3);
  assert.equal(by.get(stopped)!.status, 'stopped');
  assert.equal(by.get(failed)!.status, 'failed');
  assert.equal(by.get(failed)!.statusDetail, 'out of memory');
  assert.equal(by.get(crashed)!.status, 'failed');
  assert.match(by.get(crashed)!.statusDetail!, /ended without a final event/);
  assert.deepEqual(by.get(crashed)!.eventWarnings.map((w) => w.line), [3]);
});

test('long event files: only the head line and the tail are read', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'reg-'));
  const r = await createRun(ws, spec, new Date(), rnd);
  assert.ok(r.ok);
  const p = runPaths(r.dir).events;
  writeFileSync(p, formatEvent(started()));
  for (let s = 1; s <= 2000; s++) appendFileSync(p, formatEvent(metrics(s)));
  appendFileSync(p, formatEvent(SessionFinished.create({ time: 9, reason: 'early-stopped', step: 2000, metrics: {}, path: 'final' })));
  const run = await readRun(r.dir, { tailBytes: 4096 });
  assert.equal(run.tailOnly, true);
  assert.equal(run.started!.totalSteps, 5);
  assert.equal(run.lastMetrics!.step, 2000);
  assert.equal(run.status, 'finished');
  assert.match(run.statusDetail!, /early-stopped/);
  assert.deepEqual(run.eventWarnings, []);
});

test('broken spec.json and stray folders are reported, not fatal', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'reg-'));
  const dir = join(runsRoot(ws), 'copied-run');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'spec.json'), '{"method": "dpo",');
  const nospec = join(runsRoot(ws), 'zzz');
  mkdirSync(nospec);
  const runs = await listRuns(ws);
  assert.equal(runs.length, 2);
  assert.match(runs[0].specProblems[0].reason, /not valid JSON/);
  assert.match(runs[1].specProblems[0].reason, /missing/);
  assert.deepEqual(await listRuns(join(ws, 'nothing-here')), []);
});
