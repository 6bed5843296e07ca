import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { api, EXTENSION_ID, until, workspaceRoot } from './helpers';
import { RunManager, type ManagedRun } from '../../../src/host/runs/runManager';
import { LOCK_FILE } from '../../../src/core/runs/runLock';
import { cpuWithin, describeLoop, LoopMonitor, profileOwnCode } from './loopMonitor';

const extPath = (): string => {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext);
  return ext.extensionPath;
};

describe('Run manager', function () {
  this.timeout(300_000);
  let ws: string;
  let log: vscode.LogOutputChannel;
  const managers: RunManager[] = [];
  const manager = (script = path.join(extPath(), 'test', 'fixtures', 'runs', 'fakeSession.cjs')): RunManager => {
    const m = new RunManager({ workspaceDir: ws, sessionScript: script, nodePath: process.execPath, log, pollMs: 200 });
    managers.push(m);
    return m;
  };
  const spec = (name: string, maxSteps = 12): Record<string, unknown> => ({ name, method: 'dpo', model: { kind: 'builtin' }, data: { path: 'data/pairs.jsonl' }, maxSteps, batchSize: 2 });
  const phase = async (m: RunManager, id: string, want: ManagedRun['state']['phase'], ms = 30_000): Promise<ManagedRun> =>
    until(() => {
      const r = m.get(id);
      return r?.state.phase === want ? r : undefined;
    }, ms, `run ${id} to be ${want} (is ${m.get(id)?.state.phase})`);

  before(async () => {
    await api();
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'as-runs-'));
    log = vscode.window.createOutputChannel('Alignment Runs (test)', { log: true });
  });
  after(() => {
    for (const m of managers) m.dispose();
    log.dispose();
    fs.rmSync(ws, { recursive: true, force: true });
  });

  it('starts a session process, follows its events past malformed lines and unknown types, and sees it finish', async () => {
    const m = manager();
    const r = await m.start(spec('ok', 8));
    assert.ok(r.ok, JSON.stringify(r));
    const done = await phase(m, r.id, 'finished');
    assert.equal(done.state.step, 8);
    assert.equal(done.state.totalSteps, 8);
    assert.ok(Math.abs((done.state.metrics['rewards/margins'] ?? 0) - 0.4) < 1e-9);
    assert.equal(done.state.latestCheckpoint?.step, 5);
    // the finished event can be read just before the process exit handler releases the lock
    await until(() => !fs.existsSync(path.join(done.dir, LOCK_FILE)), 10_000, 'the lock to be released when the session exits');
    const text = fs.readFileSync(path.join(done.dir, 'events.jsonl'), 'utf8');
    assert.match(text, /this line is not JSON/);
    assert.match(text, /"telemetry"/);
  });

  it('marks a crashed session failed with its exit code and the tail of stderr, and records it in events.jsonl', async () => {
    const m = manager();
    const r = await m.start(spec('crash'));
    assert.ok(r.ok);
    const failed = await phase(m, r.id, 'failed');
    assert.match(failed.state.detail ?? '', /exited with code 3/);
    assert.match(failed.state.detail ?? '', /out of memory/);
    assert.match(failed.stderrTail ?? '', /RuntimeError: fake session ran out of memory at step 3/);
    // A fresh manager (a reloaded window) reads the same failure from disk.
    const again = manager();
    await again.refresh();
    const reread = again.get(r.id);
    assert.equal(reread?.state.phase, 'failed');
    assert.match(reread?.state.lastError?.detail ?? '', /RuntimeError/);
  });

  it('stops gracefully, refuses a second launch while running (lock), and resumes to the end', async () => {
    const m = manager();
    const r = await m.start(spec('slow', 15));
    assert.ok(r.ok);
    await until(() => (m.get(r.id)?.state.step ?? 0) >= 6, 30_000, 'step 6');
    // A second window: its own manager over the same workspace.
    const other = manager();
    await other.refresh();
    assert.equal(other.get(r.id)?.state.phase, 'running');
    await assert.rejects(other.resume(r.id), /already running/);
    await assert.rejects(m.resume(r.id), /already running/);
    await m.stop(r.id);
    const stopped = await phase(m, r.id, 'stopped');
    assert.ok(stopped.state.step >= 5);
    await until(() => !m.get(r.id)?.owned, 10_000, 'the session to exit');
    await m.resume(r.id);
    const done = await phase(m, r.id, 'finished', 60_000);
    assert.equal(done.state.step, 15);
    // The second window follows the run from its events.
    await until(() => other.get(r.id)?.state.phase === 'finished', 10_000, 'the other window to see the finish');
  });

  it('the Runs view lists the workspace runs with status and key metrics', async () => {
    const a = await api();
    await a.runs.refresh();
    assert.ok(Array.isArray(await a.runs.list()));
    await vscode.commands.executeCommand('alignment.refreshRuns');
  });

  it('plots an external TRL trainer_state.json in the dashboard, and closing the panel leaves nothing behind', async () => {
    const a = await api();
    const before = a.liveDisposables().DashboardPanel ?? 0;
    const out = path.join(ws, 'trl-out', 'checkpoint-20');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'trainer_state.json'), JSON.stringify({ global_step: 20, max_steps: 20, log_history: [{ step: 10, loss: 0.69, 'rewards/margins': 0.1 }, { step: 20, loss: 0.6, 'rewards/margins': 0.3 }] }));
    await vscode.commands.executeCommand('alignment.openTrainerState', vscode.Uri.file(path.join(ws, 'trl-out')));
    // (The test bundle has its own copy of the host modules: observe the extension through its API.)
    await until(() => (a.liveDisposables().DashboardPanel ?? 0) === before + 1, 10_000, 'the dashboard to open');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await until(() => (a.liveDisposables().DashboardPanel ?? 0) === before, 10_000, 'the dashboard to be disposed');
    // A folder without a trainer_state.json is an error naming the folder, not a crash.
    await vscode.commands.executeCommand('alignment.openTrainerState', vscode.Uri.file(ws));
    assert.equal(a.liveDisposables().DashboardPanel ?? 0, before);
  });

  it('trains a tiny DPO run with the real session, Runs view and dashboard open, without the extension host holding its event loop > 50 ms', async function () {
    const script = path.join(extPath(), 'dist', 'session.js');
    if (!fs.existsSync(script)) this.skip();
    // The extension's own run manager on the test workspace, so that what a user has open during a run does its
    // work inside the measurement: the Runs view, the status bar and the dashboard following the run's events.
    const a = await api();
    const root = workspaceRoot().fsPath;
    const data = path.join(root, 'data', 'runs-tiny.jsonl');
    fs.mkdirSync(path.dirname(data), { recursive: true });
    fs.copyFileSync(path.join(extPath(), 'media', 'samples', 'preferences.sample.jsonl'), data);
    await vscode.commands.executeCommand('alignment.runs.focus').then(undefined, (e: unknown) => console.log(`      (could not focus the Runs view: ${String(e)})`));

    // How this is measured (test/integration/api/loopMonitor.ts), and why the assertion is on our own code.
    // - A 10 ms timer on the extension host's main thread (what perf_hooks.monitorEventLoopDelay does) gives each
    //   turn's lateness, and /proc/thread-self/schedstat splits it into the time the thread waited, runnable, for
    //   a CPU and the rest. On the shared 2-core machine (load average 7-15 while this was written) single
    //   100-300 ms late turns came in about half the runs. Measured: each is time spent waiting for a CPU
    //   (lateness ~= runqueue wait, the thread's own CPU time in that turn a few ms), and the same spikes (up to
    //   ~300 ms) show in the 5 s baseline below, with no run going and none of our code working.
    // - Our own work is isolated with V8's sampling profiler on this thread: the longest unbroken stretch of CPU
    //   with a frame of the extension's bundle (dist/extension.js: run manager, Runs view, status bar, dashboard
    //   panel, and the views a run's files touch) on the stack. The requirement, "never blocked > 50 ms", is
    //   asserted on that. It found, and this test now guards: spawn() of the session (5-110 ms: libuv waits for
    //   the child's exec; now on a worker thread), the Datasets view re-reading every dataset on each events.jsonl
    //   append (50-100 ms bursts; .alignment is now ignored) and the Models view searching the workspace for each
    //   checkpoint file (now once per checkpoint). After: a few ms at most.
    // - The raw lateness (max, p99) is printed beside it, with the baseline, but not asserted: it measures the
    //   machine's load, not the extension.
    const idle = new LoopMonitor();
    idle.start();
    await new Promise((r) => setTimeout(r, 5000));
    console.log(describeLoop('      no run (baseline)', idle.stop()));

    const h = monitorEventLoopDelay({ resolution: 10 });
    const mon = new LoopMonitor();
    const bundle = path.join(extPath(), 'dist', 'extension.js');
    const { result: { done, run }, own } = await profileOwnCode((url) => url.endsWith(bundle), async () => {
      // Started after the profiler, and stopped before it: starting V8's profiler (it lists every loaded function)
      // and serializing its profile hold the loop for 100+ ms themselves, and are not part of the run.
      h.enable();
      mon.start();
      const r = await a.runs.start({ name: 'responsiveness', method: 'dpo', model: { kind: 'builtin' }, data: { path: data, maxLength: 128, evalSplit: 0 }, maxSteps: 6, batchSize: 2, device: 'cpu', intervals: { logging: 1, sample: 3, checkpoint: 3, eval: 0 } });
      assert.ok(r.ok, JSON.stringify(r));
      await vscode.commands.executeCommand('alignment.openDashboard', r.id);
      const end = await until(() => {
        const x = a.runs.get(r.id);
        return x && x.state.phase !== 'running' && x.state.phase !== 'pending' ? x : undefined;
      }, 240_000, 'the real session to end');
      // A little past the end: the finish notification, the last dashboard and tree updates.
      await new Promise((res) => setTimeout(res, 1500));
      h.disable();
      return { done: end, run: mon.stop() };
    });
    console.log(describeLoop('      during the run', run));
    console.log(`      perf_hooks.monitorEventLoopDelay during the run (interval included): max ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms`);
    console.log(`      starting the session held the loop ${a.runs.lastSpawnMs.toFixed(1)} ms (spawn() itself runs on a worker thread)`);
    console.log(`      the extension's own code: longest unbroken ${own.maxMs.toFixed(1)} ms, ${own.totalMs.toFixed(0)} ms in all (${own.samples} samples); longest: ${own.longest.join(', ')}`);
    // A stretch on the stack is work only as far as the thread was on a CPU: bound each by its CPU time. The two
    // records share a clock (the profiler was started just before the monitor), or the bound would be meaningless.
    const firstTurn = run.turns[0]?.from ?? NaN;
    assert.ok(firstTurn - own.startedAt >= 0 && firstTurn - own.startedAt < 5000, `the profile (${own.startedAt.toFixed(0)} ms) and the loop monitor (${firstTurn.toFixed(0)} ms) are not on one clock`);
    let held = { ms: Math.min(own.maxMs, 10), what: own.longest.join(', ') };
    for (const s of own.stretches) {
      const cpu = cpuWithin(run, s.from, s.to);
      const ms = Math.min(s.ms, cpu ?? s.ms);
      console.log(`        stretch of ${s.ms.toFixed(1)} ms, main thread on a CPU <= ${cpu === undefined ? '?' : cpu.toFixed(1)} ms over it: ${s.top.join(', ')}`);
      if (ms > held.ms) held = { ms, what: s.top.join(', ') };
    }
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    assert.equal(done.state.phase, 'finished', `${done.state.detail ?? ''}\n${done.stderrTail ?? ''}`);
    assert.equal(done.state.step, 6);
    assert.ok('loss' in done.state.metrics && 'rewards/margins' in done.state.metrics);
    assert.ok(own.totalMs > 0, 'the profile saw none of the extension\'s code: the measurement is not looking at it');
    assert.ok(held.ms < 50, `the extension's code held the extension host's event loop for ${held.ms.toFixed(1)} ms of CPU in one go (${held.what})`);
  });
});
