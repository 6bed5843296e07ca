import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { EventSink } from '../../../src/session/events';
import { listCheckpointSteps, listCorruptCheckpoints, loadRunCheckpoint } from '../../../src/session/checkpoints';
import { runSession } from '../../../src/session/runSession';
import { onlineSpec, promptRows } from './onlineFixtures';
import { tinySpec, workspace } from './sessionFixtures';

function resolve(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

function events(runDir: string): SessionEvent[] {
  return parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
}

/** Runs a session whose every `checkpoint` event is checked, when it is emitted, to name a folder that exists. */
async function run(spec: RunSpec, runDir: string, cacheDir: string, restartFromScratch?: boolean): Promise<{ res: Awaited<ReturnType<typeof runSession>>; missing: string[] }> {
  const sink = new EventSink(path.join(runDir, 'events.jsonl'));
  const missing: string[] = [];
  sink.on((e) => {
    if (e.type === 'checkpoint' && !fs.existsSync(path.join(runDir, e.params.path, 'optimizer.safetensors'))) missing.push(e.params.path);
  });
  try {
    const res = await runSession(spec, { runDir, cacheDir, threads: 1, sink, ...(restartFromScratch ? { restartFromScratch } : {}) });
    return { res, missing };
  } finally {
    sink.close();
  }
}

function truncate(file: string): void {
  const size = fs.statSync(file).size;
  fs.truncateSync(file, Math.floor(size / 2));
}

test('checkpoints that are all unreadable: moved aside and named, the session refuses without --restart-from-scratch, and with it pruning keeps only valid checkpoints', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { maxSteps: 8, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 2, eval: 0, checkpoint: 2, sample: 0 } }));
  const first = await run(spec, runDir, ws.dir);
  assert.equal(first.res.reason, 'completed', first.res.error);
  assert.deepEqual(listCheckpointSteps(runDir), [4, 6]);
  // The repro: both checkpoints with a truncated optimizer.safetensors, no final/.
  for (const s of [4, 6]) truncate(path.join(runDir, 'checkpoints', `step-${s}`, 'optimizer.safetensors'));
  fs.rmSync(path.join(runDir, 'final'), { recursive: true });
  const before = events(runDir).length;

  const refused = await run(spec, runDir, ws.dir);
  assert.equal(refused.res.reason, 'failed');
  assert.match(refused.res.error ?? '', /no readable checkpoint to resume from .*checkpoints\/corrupt-step-4, checkpoints\/corrupt-step-6.*--restart-from-scratch/);
  assert.deepEqual(listCheckpointSteps(runDir), []);
  assert.deepEqual(listCorruptCheckpoints(runDir), ['checkpoints/corrupt-step-4', 'checkpoints/corrupt-step-6']);
  const warnings = events(runDir)
    .slice(before)
    .flatMap((e) => (e.type === 'warning' ? [e.params.message] : []));
  for (const s of [4, 6]) assert.ok(warnings.some((w) => w.startsWith(`checkpoint step-${s} is unreadable and was moved to checkpoints/corrupt-step-${s}:`)), warnings.join('\n'));
  assert.ok(!events(runDir).slice(before).some((e) => e.type === 'started'), 'no training started');

  const again = await run(spec, runDir, ws.dir, true);
  assert.equal(again.res.reason, 'completed', again.res.error);
  assert.deepEqual(again.missing, [], 'every checkpoint event named a folder that existed when it was emitted');
  assert.deepEqual(listCheckpointSteps(runDir), [4, 6], 'the newest two valid checkpoints are kept');
  for (const s of listCheckpointSteps(runDir)) assert.equal(loadRunCheckpoint(runDir, s).state.step, s);
  assert.deepEqual(listCorruptCheckpoints(runDir), ['checkpoints/corrupt-step-4', 'checkpoints/corrupt-step-6'], 'the unreadable ones are kept for inspection');
  assert.ok(events(runDir).some((e) => e.type === 'warning' && /^restarting from step 0 as asked/.test(e.params.message)));
});

test('an unreadable newest checkpoint is moved aside and the run resumes from the one before it', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { maxSteps: 8, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 2, eval: 0, checkpoint: 2, sample: 0 } }));
  assert.equal((await run(spec, runDir, ws.dir)).res.reason, 'completed');
  truncate(path.join(runDir, 'checkpoints', 'step-6', 'model.safetensors'));
  fs.rmSync(path.join(runDir, 'final'), { recursive: true });
  const resumed = await run(spec, runDir, ws.dir);
  assert.equal(resumed.res.reason, 'completed', resumed.res.error);
  assert.deepEqual(resumed.missing, []);
  assert.ok(events(runDir).some((e) => e.type === 'warning' && /^resuming from checkpoints\/step-4 /.test(e.params.message)));
  assert.deepEqual(listCorruptCheckpoints(runDir), ['checkpoints/corrupt-step-6']);
  assert.deepEqual(listCheckpointSteps(runDir), [4, 6]);
});

test('an online (GRPO) session refuses the same way when every checkpoint is unreadable, and restarts with the flag', async () => {
  const ws = workspace(promptRows(8));
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(onlineSpec(ws, runDir, { intervals: { logging: 1, eval: 0, checkpoint: 2, sample: 0 } }));
  assert.equal((await run(spec, runDir, ws.dir)).res.reason, 'completed');
  for (const s of listCheckpointSteps(runDir)) truncate(path.join(runDir, 'checkpoints', `step-${s}`, 'optimizer.safetensors'));
  fs.rmSync(path.join(runDir, 'final'), { recursive: true, force: true });
  const refused = await run(spec, runDir, ws.dir);
  assert.equal(refused.res.reason, 'failed');
  assert.match(refused.res.error ?? '', /no readable checkpoint to resume from .*--restart-from-scratch/);
  const again = await run(spec, runDir, ws.dir, true);
  assert.equal(again.res.reason, 'completed', again.res.error);
  assert.deepEqual(again.missing, []);
});
