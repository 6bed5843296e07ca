/**
 * A GRPO session process killed with SIGKILL in the middle of a rollout resumes from its last checkpoint and
 * finishes; the steps after the checkpoint log the same metrics as the first process did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { onlineSpec, promptRows } from './onlineFixtures';
import { REPO, workspace } from './sessionFixtures';

/** Runs the session process from the sources; resolves `until` with the events when `stopAt` matches (then SIGKILL) or at exit. */
function session(args: string[], stopAt?: (e: SessionEvent) => boolean): Promise<{ events: SessionEvent[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'session', 'main.ts'), ...args], { cwd: REPO, env: { ...process.env, ALIGNMENT_THREADS: '1' } });
  const events: SessionEvent[] = [];
  let buf = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const nl = buf.lastIndexOf('\n');
    if (nl < 0) return;
    const evs = parseSessionEvents(buf.slice(0, nl + 1)).events;
    buf = buf.slice(nl + 1);
    events.push(...evs);
    if (stopAt && evs.some(stopAt)) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ events, code, signal, stderr })));
}

test('kill -9 mid-rollout, then resume: the GRPO run finishes, continuing exactly from its checkpoint', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const specFile = path.join(ws.dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify(onlineSpec(ws, runDir, { maxSteps: 8, intervals: { logging: 1, eval: 0, checkpoint: 2, sample: 0 } })));
  // Metrics of step 3 are written when rollout 3 ends; rollout 4 is then under way.
  const first = await session(['--spec', specFile, '--run-dir', runDir], (e) => e.type === 'metrics' && e.params.step >= 3);
  assert.equal(first.signal, 'SIGKILL', first.stderr);
  assert.ok(!first.events.some((e) => e.type === 'finished'));
  const second = await session(['--run-dir', runDir, '--resume']);
  assert.equal(second.code, 0, second.stderr);
  const done = second.events.find((e) => e.type === 'finished');
  assert.ok(done?.type === 'finished' && done.params.reason === 'completed' && done.params.step === 8);
  const resumed = second.events.find((e) => e.type === 'warning' && /^resuming from checkpoints\/step-(\d+)/.test(e.params.message));
  assert.ok(resumed?.type === 'warning', 'resumed from a checkpoint');
  const from = Number(/step-(\d+)/.exec(resumed.params.message)?.[1]);
  const metrics = (evs: SessionEvent[], step: number): Record<string, number | null> | undefined => {
    const e = evs.find((x) => x.type === 'metrics' && x.params.step === step);
    if (e?.type !== 'metrics') return undefined;
    const { step_time: _t, tokens_per_second: _s, ...rest } = e.params.metrics;
    return rest;
  };
  const again = metrics(second.events, from + 1);
  assert.ok(again && Number.isFinite(again.reward));
  assert.deepEqual(again, metrics(first.events, from + 1), `step ${from + 1} is the same after the resume`);
});
