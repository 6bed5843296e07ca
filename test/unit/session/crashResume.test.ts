import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { listCheckpointSteps, loadRunCheckpoint } from '../../../src/session/checkpoints';
import { REPO, tinySpec, workspace } from './sessionFixtures';

interface Proc {
  readonly events: SessionEvent[];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  readonly pid: number;
  /** Resolves with the first event matching `pred`. */
  waitFor(pred: (e: SessionEvent) => boolean): Promise<SessionEvent>;
}

/** Starts the session process from the sources (as dist/session.js runs), following its stdout events. */
function startSession(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src', 'session', 'main.ts'), ...args], { cwd, env: { ...process.env, ALIGNMENT_THREADS: '1' } });
  const events: SessionEvent[] = [];
  const waiters: { pred: (e: SessionEvent) => boolean; resolve: (e: SessionEvent) => void }[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const nl = buf.lastIndexOf('\n');
    if (nl < 0) return;
    const { events: evs } = parseSessionEvents(buf.slice(0, nl + 1));
    buf = buf.slice(nl + 1);
    for (const e of evs) {
      events.push(e);
      for (const w of [...waiters]) {
        if (!w.pred(e)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return {
    events,
    exit,
    pid: child.pid as number,
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        const hit = events.find(pred);
        if (hit) return resolve(hit);
        waiters.push({ pred, resolve });
        void exit.then((x) => reject(new Error(`session exited (${x.code ?? x.signal}) before the awaited event:\n${x.stderr.slice(-2000)}`)));
      }),
  };
}

test('kill -9 mid-run, then resume: training continues from the last checkpoint and no checkpoint is corrupt', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const specFile = path.join(ws.dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify(tinySpec(ws, runDir, { maxSteps: 24, intervals: { logging: 2, eval: 0, checkpoint: 2, sample: 0 } })));

  const first = startSession(['--spec', specFile, '--run-dir', runDir], REPO);
  await first.waitFor((e) => e.type === 'checkpoint' && e.params.step >= 4);
  process.kill(first.pid, 'SIGKILL');
  const x = await first.exit;
  assert.equal(x.signal, 'SIGKILL');
  assert.ok(!first.events.some((e) => e.type === 'finished'), 'the first session did not finish');

  // Every complete checkpoint folder loads (a write cut by the kill leaves only a hidden temporary folder).
  const steps = listCheckpointSteps(runDir);
  assert.ok(steps.length >= 1, 'a checkpoint survived');
  for (const s of steps) assert.equal(loadRunCheckpoint(runDir, s).state.step, s);
  const last = steps[steps.length - 1] as number;

  const second = startSession(['--run-dir', runDir, '--resume'], REPO);
  const done = await second.waitFor((e) => e.type === 'finished');
  const y = await second.exit;
  assert.equal(y.code, 0, y.stderr);
  assert.ok(done.type === 'finished' && done.params.reason === 'completed' && done.params.step === 24);
  const resumed = second.events.find((e) => e.type === 'warning' && /^resuming from/.test(e.params.message));
  assert.ok(resumed && resumed.type === 'warning', 'the session says it resumes');
  assert.match(resumed.params.message, new RegExp(`resuming from checkpoints/step-${last} \\(step ${last} of 24\\)`));
  const firstMetrics = second.events.find((e) => e.type === 'metrics');
  assert.equal(firstMetrics?.type === 'metrics' && firstMetrics.params.step, last + 2, 'the first logged step after resuming follows the checkpoint');
  for (const s of listCheckpointSteps(runDir)) assert.equal(loadRunCheckpoint(runDir, s).state.step, s);
  // events.jsonl holds both sessions: two `started`, one `finished`.
  const all = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  assert.equal(all.filter((e) => e.type === 'started').length, 2);
  assert.equal(all.filter((e) => e.type === 'finished').length, 1);
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'model.safetensors')));
});

test('SIGTERM stops a session cleanly: it writes a checkpoint, then `finished` with reason stopped', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const specFile = path.join(ws.dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify(tinySpec(ws, runDir, { maxSteps: 400, intervals: { logging: 1, eval: 0, checkpoint: 100, sample: 0 } })));
  const p = startSession(['--spec', specFile, '--run-dir', runDir], REPO);
  await p.waitFor((e) => e.type === 'metrics' && e.params.step >= 2);
  process.kill(p.pid, 'SIGTERM');
  const fin = await p.waitFor((e) => e.type === 'finished');
  const x = await p.exit;
  assert.equal(x.code, 0, x.stderr);
  assert.ok(fin.type === 'finished' && fin.params.reason === 'stopped');
  const ck = p.events.filter((e) => e.type === 'checkpoint');
  assert.equal(ck.length, 1);
  assert.ok(ck[0]?.type === 'checkpoint' && ck[0].params.step === fin.params.step);
  assert.equal(loadRunCheckpoint(runDir, fin.params.step).state.step, fin.params.step);
  assert.ok(!fs.existsSync(path.join(runDir, 'final')), 'a stopped run has no final model');
});
