import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { acquireRunLock, readRunLock, releaseRunLock } from '../../../src/core/runs/runLock';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { REPO, tinySpec, workspace } from '../session/sessionFixtures';

interface Proc {
  readonly pid: number;
  readonly exit: Promise<{ code: number | null; stderr: string }>;
  /** Resolves at the first stdout event matching `pred`. */
  waitFor(pred: (e: SessionEvent) => boolean): Promise<void>;
}

/** Starts a TypeScript entry point (the CLI or the session) as its own process, from the sources. */
function start(entry: string, args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, entry), ...args], { cwd: REPO, env: { ...process.env, ALIGNMENT_THREADS: '1' } });
  const events: SessionEvent[] = [];
  const waiters: { pred: (e: SessionEvent) => boolean; resolve: () => void }[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const nl = buf.lastIndexOf('\n');
    if (nl < 0) return;
    events.push(...parseSessionEvents(buf.slice(0, nl + 1)).events);
    buf = buf.slice(nl + 1);
    for (const w of [...waiters]) {
      if (!events.some(w.pred)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  return {
    pid: child.pid as number,
    exit,
    waitFor: (pred) =>
      new Promise((resolve, reject) => {
        if (events.some(pred)) return resolve();
        waiters.push({ pred, resolve });
        void exit.then((x) => reject(new Error(`exited (${x.code}) before the awaited event:\n${x.stderr.slice(-2000)}`)));
      }),
  };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('two `alignment train --run-dir D` at once: the second (and a session started by hand) is refused with "run D is in use by pid N", the first trains on undisturbed', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const specA = path.join(ws.dir, 'a.json');
  const specB = path.join(ws.dir, 'b.json');
  const intervals = { logging: 2, eval: 0, checkpoint: 4, sample: 0 };
  fs.writeFileSync(specA, JSON.stringify(tinySpec(ws, runDir, { maxSteps: 5000, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals })));
  fs.writeFileSync(specB, JSON.stringify(tinySpec(ws, runDir, { maxSteps: 12, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals })));

  const first = start('src/cli/main.ts', ['train', specA, '--run-dir', runDir, '--json']);
  await first.waitFor((e) => e.type === 'metrics');
  const inUse = new RegExp(`run ${escape(runDir)} is in use by pid ${first.pid} \\(alignment train, already running since `);

  const second = await start('src/cli/main.ts', ['train', specB, '--run-dir', runDir, '--json']).exit;
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, inUse);
  assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
  const bySession = await start('src/session/main.ts', ['--run-dir', runDir]).exit;
  assert.equal(bySession.code, 1, bySession.stderr);
  assert.match(bySession.stderr, inUse);

  // The first run was not disturbed: it still trains, and stops cleanly when asked.
  process.kill(first.pid, 'SIGTERM');
  const done = await first.exit;
  assert.equal(done.code, 0, done.stderr);
  const { events, warnings } = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
  assert.deepEqual(warnings, []);
  assert.equal(events.filter((e) => e.type === 'started').length, 1, 'one started event');
  const steps = events.flatMap((e) => (e.type === 'metrics' ? [e.params.step] : []));
  assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => 2 * (i + 1)), 'each metrics step once, in order');
  assert.ok(!events.some((e) => e.type === 'error'));
  const last = events[events.length - 1];
  assert.ok(last?.type === 'finished' && last.params.reason === 'stopped');
  assert.equal((JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { maxSteps: number }).maxSteps, 5000, "the first run's spec.json is left as it was");
  assert.ok(!fs.existsSync(path.join(runDir, 'session.lock')), 'the lock is released at the end');
});

test('a session spawned by the process holding the run lock (as the editor does) adopts it and trains; the holder releases it', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(tinySpec(ws, runDir, { maxSteps: 4, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 0 } })));
  assert.ok((await acquireRunLock(runDir, 'test window')).ok);
  const child = start('src/session/main.ts', ['--run-dir', runDir]);
  const x = await child.exit;
  assert.equal(x.code, 0, x.stderr);
  const lock = await readRunLock(runDir);
  assert.equal(lock?.ownerPid, process.pid, 'the lock stays with its holder');
  assert.equal(lock?.sessionPid, child.pid, 'and names the session that adopted it');
  assert.equal(await releaseRunLock(runDir), true);
});
