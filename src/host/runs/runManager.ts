import * as vscode from 'vscode';
import { access, appendFile, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnOffThread, type SessionProcess } from './offThreadSpawn';
import { onlyCorruptCheckpoints } from './corruptCheckpoints';
import { Disposable } from '../shared/lifecycle';
import { createRun } from '../../core/runs/registry';
import { runPaths, runsRoot, isRunId } from '../../core/runs/layout';
import { resolveRunSpec, type RunSpec, type SpecProblem } from '../../core/runs/spec';
import { EventTail } from '../../core/runs/eventTail';
import { canResume, EMPTY_RUN_STATE, foldRunEvents, withProcessGone, type RunState } from '../../core/runs/runState';
import { acquireRunLock, lockIsLive, processAlive, readRunLock, releaseRunLock, setLockSessionPid } from '../../core/runs/runLock';
import { formatEvent, SessionError, type SessionEvent } from '../../protocol/session';

/** How much of an events.jsonl one read folds before yielding to the event loop. */
const READ_SLICE_BYTES = 2 * 1024 * 1024;

/** The session's stderr, kept in the run folder so its tail survives a window reload. */
export const STDERR_FILE = 'stderr.log';

/** One run as the host knows it. */
export interface ManagedRun {
  readonly id: string;
  readonly dir: string;
  readonly spec?: RunSpec;
  readonly specProblems: readonly SpecProblem[];
  readonly state: RunState;
  /** The end of the session's stderr, when the run failed. */
  readonly stderrTail?: string;
  /** True while this window's own session process trains it. */
  readonly owned: boolean;
}

/** What the manager keeps for one run folder: its spec, state, event tail and, while it trains, its process. */
interface TrackedRun {
  id: string;
  dir: string;
  spec?: RunSpec;
  specProblems: SpecProblem[];
  state: RunState;
  tail: EventTail;
  stderrTail?: string;
  child?: SessionProcess;
  /** Serializes reads of one run's events. */
  reading?: Promise<void>;
}

export interface RunManagerOptions {
  /** The workspace folder whose `.alignment/runs` holds the runs (undefined: no folder open). */
  readonly workspaceDir: string | undefined;
  /** The training-session entry (dist/session.js). */
  readonly sessionScript: string;
  /** The Node binary that runs it (the extension host's own). */
  readonly nodePath: string;
  readonly log: vscode.LogOutputChannel;
  /** How often running runs are re-read, ms. */
  readonly pollMs?: number;
  /** Extra environment for each session (workspace trust, the judge key); never logged or written to the run. */
  readonly sessionEnv?: () => Promise<Readonly<Record<string, string>>>;
}

/** The result of starting a run: its id, or every problem with the spec (path + reason). */
export type StartResult = { readonly ok: true; readonly id: string; readonly warnings: readonly string[] } | { readonly ok: false; readonly problems: readonly SpecProblem[] };

/**
 * The run manager: starts training-session processes (never training in the extension host), follows each
 * run's `events.jsonl`, and keeps the list of the workspace's runs. Runs live in the run folders on disk, so
 * they survive a window reload; a session keeps training across a reload (it is detached) and the new window
 * picks it up from its events and its lock. A session that exits without a final event is recorded as failed
 * (a fatal `error` event appended to its events, with the end of its stderr).
 */
export class RunManager extends Disposable {
  private readonly changed = this.register(new vscode.EventEmitter<string | undefined>());
  /** Fires with a run id when that run changed, or undefined when the list changed. */
  readonly onDidChange = this.changed.event;
  private readonly finishedEmitter = this.register(new vscode.EventEmitter<ManagedRun>());
  /** Fires when a run reaches finished, stopped or failed while this window watches it. */
  readonly onDidEnd = this.finishedEmitter.event;
  private readonly records = new Map<string, TrackedRun>();
  private listing: Promise<void> | undefined;
  private loaded = false;
  private readonly timer: NodeJS.Timeout;
  /** How long starting the last session held the event loop, ms (spawn() itself runs on a worker thread). */
  lastSpawnMs = 0;

  constructor(private readonly opts: RunManagerOptions) {
    super();
    this.timer = setInterval(() => void this.poll(), opts.pollMs ?? 1000);
    this.register({ dispose: () => clearInterval(this.timer) });
    if (opts.workspaceDir) {
      const pattern = new vscode.RelativePattern(vscode.Uri.file(runsRoot(opts.workspaceDir)), '*/spec.json');
      const watcher = this.register(vscode.workspace.createFileSystemWatcher(pattern));
      this.register(watcher.onDidCreate(() => void this.refresh()));
      this.register(watcher.onDidDelete(() => void this.refresh()));
    }
  }

  get workspaceDir(): string | undefined {
    return this.opts.workspaceDir;
  }

  /** Every run, newest first (reads the run folders on first use). */
  async list(): Promise<ManagedRun[]> {
    if (!this.loaded) await this.refresh();
    return this.snapshot();
  }

  /** The runs known now, newest first, without reading the disk. */
  snapshot(): ManagedRun[] {
    const all = [...this.records.values()].map((r) => this.view(r));
    all.sort((a, b) => Number(isRunId(b.id)) - Number(isRunId(a.id)) || b.id.localeCompare(a.id));
    return all;
  }

  get(id: string): ManagedRun | undefined {
    const r = this.records.get(id);
    return r ? this.view(r) : undefined;
  }

  /** Re-reads the list of run folders and every run's new events. */
  refresh(): Promise<void> {
    this.listing ??= this.doRefresh().finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async doRefresh(): Promise<void> {
    const ws = this.opts.workspaceDir;
    const names = new Set<string>();
    if (ws) {
      try {
        for (const e of await readdir(runsRoot(ws), { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.error(`Runs: cannot list ${runsRoot(ws)}: ${String(e)}`);
      }
    }
    for (const id of [...this.records.keys()]) if (!names.has(id) && !this.records.get(id)?.child) this.records.delete(id);
    for (const id of names) {
      let r = this.records.get(id);
      if (!r) {
        const dir = join(runsRoot(ws as string), id);
        r = { id, dir, specProblems: [], state: EMPTY_RUN_STATE, tail: new EventTail(runPaths(dir).events) };
        this.records.set(id, r);
        await this.readSpec(r);
      }
      await this.readEvents(r);
      await this.checkAlive(r);
    }
    this.loaded = true;
    await vscode.commands.executeCommand('setContext', 'alignment.runsEmpty', this.records.size === 0 && !!ws);
    this.changed.fire(undefined);
  }

  private view(r: TrackedRun): ManagedRun {
    return {
      id: r.id,
      dir: r.dir,
      ...(r.spec ? { spec: r.spec } : {}),
      specProblems: r.specProblems,
      state: r.state,
      ...(r.stderrTail !== undefined ? { stderrTail: r.stderrTail } : {}),
      owned: !!r.child,
    };
  }

  private async readSpec(r: TrackedRun): Promise<void> {
    try {
      const json = JSON.parse(await readFile(runPaths(r.dir).spec, 'utf8')) as unknown;
      const res = resolveRunSpec(json, r.dir);
      if (res.ok) r.spec = res.spec;
      else r.specProblems = res.problems;
    } catch (e) {
      r.specProblems = [{ path: '', reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'spec.json is missing' : `spec.json: ${e instanceof Error ? e.message : String(e)}` }];
    }
  }

  /**
   * Reads a run's new events and folds them in; logs malformed and unknown lines as warnings. A long file (a
   * run opened after a reload) is read and folded a few MiB at a time, so no single turn of the event loop
   * parses or holds all of it.
   */
  private readEvents(r: TrackedRun): Promise<void> {
    const next = (r.reading ?? Promise.resolve()).then(async () => {
      const before = r.state.phase;
      let changed = false;
      for (let more = true; more; ) {
        let read;
        try {
          read = await r.tail.read(READ_SLICE_BYTES);
        } catch (e) {
          this.opts.log.error(`Run ${r.id}: cannot read ${r.tail.path}: ${String(e)}`);
          return;
        }
        if (this.isDisposed) return;
        more = read.more;
        if (read.reset) {
          r.state = EMPTY_RUN_STATE;
          changed = true;
        }
        for (const w of read.warnings) this.opts.log.warn(`Run ${r.id}: ${r.tail.path}:${w.line}: ${w.message}`);
        if (!read.events.length) continue;
        if (r.child) for (const e of read.events) this.logEvent(r, e);
        r.state = foldRunEvents(r.state, read.events);
        changed = true;
        if (more) await new Promise<void>((res) => setImmediate(res));
      }
      if (!changed) return;
      this.changed.fire(r.id);
      if (before === 'running' && r.state.phase !== 'running' && !r.child) this.finishedEmitter.fire(this.view(r));
    });
    r.reading = next;
    return next;
  }

  private logEvent(r: TrackedRun, e: SessionEvent): void {
    const log = this.opts.log;
    switch (e.type) {
      case 'started':
        log.info(`Run ${r.id}: started ${e.params.method} on ${e.params.device}, model ${e.params.model}, ${e.params.totalSteps} steps, ${e.params.examples.train} train / ${e.params.examples.eval} eval examples`);
        break;
      case 'metrics':
        log.debug(`Run ${r.id}: step ${e.params.step} ${Object.entries(e.params.metrics).map(([k, x]) => `${k}=${x === null ? 'NaN' : x.toPrecision(4)}`).join(' ')}`);
        break;
      case 'checkpoint':
        log.info(`Run ${r.id}: checkpoint at step ${e.params.step}: ${e.params.path}`);
        break;
      case 'warning':
        log.warn(`Run ${r.id}: ${e.params.message}`);
        break;
      case 'error':
        (e.params.fatal ? log.error : log.warn).call(log, `Run ${r.id}: ${e.params.message}${e.params.detail ? `\n${e.params.detail}` : ''}`);
        break;
      case 'finished':
        log.info(`Run ${r.id}: ${e.params.reason} at step ${e.params.step}; final model in ${e.params.path}`);
        break;
      default:
        break;
    }
  }

  /** A run that reads as running but whose session is gone (another window's, or before a reload) is failed. */
  private async checkAlive(r: TrackedRun): Promise<void> {
    if (r.child || r.state.phase !== 'running') return;
    const lock = await readRunLock(r.dir);
    const pid = r.state.started?.pid ?? lock?.sessionPid;
    const alive = pid !== undefined ? processAlive(pid) : lock ? lockIsLive(lock) : false;
    if (alive) return;
    // One more read: the final event may have landed just before the process exited.
    await this.readEvents(r);
    if (r.state.phase !== 'running') return;
    r.stderrTail = await readStderrTail(r.dir);
    r.state = withProcessGone(r.state, `the session process${pid !== undefined ? ` (pid ${pid})` : ''} ended without a final event`);
    this.changed.fire(r.id);
    this.finishedEmitter.fire(this.view(r));
  }

  private polls = 0;

  private async poll(): Promise<void> {
    if (!this.loaded || this.isDisposed) return;
    const all = this.polls++ % 3 === 0;
    for (const r of this.records.values()) {
      if (this.isDisposed) return;
      if (r.state.phase === 'running' || r.child || r.state.phase === 'pending') {
        await this.readEvents(r);
        await this.checkAlive(r);
      } else if (all) {
        // A stopped or failed run may be resumed from another window: follow its file when it grows.
        try {
          if ((await stat(r.tail.path)).size !== r.tail.position) await this.readEvents(r);
        } catch {
          // no events file
        }
      }
    }
  }

  /**
   * Creates a run folder for a spec (as the launch form or a spec file gives it) and starts its session.
   * Spec problems come back with their field paths; a launch failure throws with the reason.
   */
  async start(specInput: unknown): Promise<StartResult> {
    const ws = this.opts.workspaceDir;
    if (!ws) throw new Error(vscode.l10n.t('open a folder first: runs are kept in the workspace folder (.alignment/runs)'));
    // The poll follows runs only once the folder has been listed (the file watcher's refresh may never come for
    // a folder outside the workspace), so a run started first must not wait for that listing.
    if (!this.loaded) await this.refresh();
    const created = await createRun(ws, specInput);
    if (!created.ok) return { ok: false, problems: created.problems };
    for (const w of created.warnings) this.opts.log.warn(`Run ${created.id}: ${w}`);
    const r: TrackedRun = { id: created.id, dir: created.dir, spec: created.spec, specProblems: [], state: EMPTY_RUN_STATE, tail: new EventTail(runPaths(created.dir).events) };
    this.records.set(r.id, r);
    await vscode.commands.executeCommand('setContext', 'alignment.runsEmpty', false);
    this.changed.fire(undefined);
    await this.launch(r, false);
    return { ok: true, id: r.id, warnings: created.warnings };
  }

  /**
   * Starts a stopped or failed run again from its latest checkpoint. When the session found every checkpoint
   * unreadable (they were moved aside to `checkpoints/corrupt-*`), it asks before training from step 0.
   */
  async resume(id: string): Promise<void> {
    const r = this.records.get(id);
    if (!r) throw new Error(vscode.l10n.t('no run "{0}" in this workspace', id));
    if (r.child || r.state.phase === 'running') throw new Error(vscode.l10n.t('run {0} is already running', id));
    if (r.state.phase === 'finished') throw new Error(vscode.l10n.t('run {0} has finished; clone it to train again', id));
    if (!r.spec) throw new Error(vscode.l10n.t('run {0} has no usable spec.json: {1}', id, r.specProblems.map((p) => `${p.path || 'spec'}: ${p.reason}`).join('; ')));
    if (!canResume(r.state)) throw new Error(vscode.l10n.t('run {0} failed before its first checkpoint: {1}. Resuming would fail the same way: fix that, then Clone and Edit the run', id, r.state.detail ?? vscode.l10n.t('see its log')));
    const corrupt = await onlyCorruptCheckpoints(r.dir);
    if (corrupt.length) {
      const restart = vscode.l10n.t('Restart from Step 0');
      const answer = await vscode.window.showWarningMessage(
        vscode.l10n.t('Run {0} has no readable checkpoint ({1} could not be read and were moved aside). Train it again from step 0?', id, corrupt.join(', ')),
        { modal: true },
        restart,
      );
      if (answer !== restart) return;
    }
    await this.launch(r, true, corrupt.length > 0);
  }

  /**
   * Deletes a run's folder (spec, events, checkpoints, final model). A run whose session is alive (this
   * window's, another window's or a CLI's: the run lock says) is refused.
   */
  async delete(id: string): Promise<void> {
    const r = this.records.get(id);
    if (!r) throw new Error(vscode.l10n.t('no run "{0}" in this workspace', id));
    const lock = await readRunLock(r.dir);
    if (r.child || r.state.phase === 'running' || (lock && lockIsLive(lock))) throw new Error(vscode.l10n.t('run {0} is training: stop it first', id));
    await rm(r.dir, { recursive: true, force: true });
    this.records.delete(id);
    this.opts.log.info(`Run ${id}: deleted ${r.dir}`);
    await vscode.commands.executeCommand('setContext', 'alignment.runsEmpty', this.records.size === 0);
    this.changed.fire(undefined);
  }

  /** Asks a running session to stop gracefully (SIGTERM: it saves a checkpoint and writes `finished`). */
  async stop(id: string): Promise<void> {
    const r = this.records.get(id);
    if (!r) throw new Error(vscode.l10n.t('no run "{0}" in this workspace', id));
    const pid = r.child?.pid ?? r.state.started?.pid ?? (await readRunLock(r.dir))?.sessionPid;
    if (pid === undefined || !processAlive(pid)) throw new Error(vscode.l10n.t('run {0} is not running', id));
    this.opts.log.info(`Run ${id}: stopping (SIGTERM to ${pid}); the session saves a checkpoint first`);
    process.kill(pid, 'SIGTERM');
  }

  private async launch(r: TrackedRun, resume: boolean, restartFromScratch = false): Promise<void> {
    const ws = this.opts.workspaceDir as string;
    // No synchronous file system calls here: this runs on the extension host's event loop.
    try {
      await access(this.opts.sessionScript);
    } catch {
      throw new Error(`the training session is not built: ${this.opts.sessionScript} is missing (run npm run build)`);
    }
    const lock = await acquireRunLock(r.dir, `VS Code window ${process.pid}`);
    if (!lock.ok) throw new Error(`run ${r.id}: ${lock.message}`);
    let child: SessionProcess;
    const stderrPath = join(r.dir, STDERR_FILE);
    let errFile: FileHandle | undefined;
    try {
      errFile = await open(stderrPath, 'a');
      const args = [this.opts.sessionScript, ...sessionArgs(r.dir, resume, restartFromScratch)];
      this.opts.log.info(`Run ${r.id}: ${resume ? 'resuming' : 'starting'}: ${this.opts.nodePath} ${args.join(' ')}`);
      // Detached with its output in files: the session outlives a window reload, and the next window follows
      // its events.jsonl. ELECTRON_RUN_AS_NODE makes an Electron host binary behave as plain Node. Training takes
      // every core it can; a lower priority (nice 10) keeps the editor (and this extension host) responsive.
      const extraEnv = (await this.opts.sessionEnv?.()) ?? {};
      const t0 = performance.now();
      const starting = spawnOffThread(this.opts.nodePath, args, { cwd: ws, env: { ...process.env, ...extraEnv, ELECTRON_RUN_AS_NODE: '1' }, stderrFd: errFile.fd, niceness: 10 }, (m) =>
        this.opts.log.debug(`Run ${r.id}: could not lower the session's priority: ${m}`),
      );
      this.lastSpawnMs = performance.now() - t0;
      child = await starting;
      this.opts.log.debug(`Run ${r.id}: session pid ${child.pid}; starting it held the event loop ${this.lastSpawnMs.toFixed(1)} ms`);
    } catch (e) {
      await errFile?.close();
      await releaseRunLock(r.dir);
      this.opts.log.error(`Run ${r.id}: could not start the session: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
    // The child holds its own copy of the descriptor.
    await errFile.close();
    r.child = child;
    r.state = { ...r.state, phase: 'running' };
    delete r.stderrTail;
    void child.exited.then(({ code, signal }) => this.onExit(r, child, code, signal));
    this.register({ dispose: () => child.detach() });
    await setLockSessionPid(r.dir, child.pid).catch((e: unknown) => this.opts.log.warn(`Run ${r.id}: lock: ${String(e)}`));
    this.changed.fire(r.id);
  }

  private async onExit(r: TrackedRun, child: SessionProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.isDisposed) return; // the next window records the failure (the process is gone, no final event)
    await this.readEvents(r);
    if (r.state.phase === 'running' || r.state.phase === 'pending') {
      const stderr = await readStderrTail(r.dir);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const message = `the session process ${how} before finishing${firstErrorLine(stderr)}`;
      const event = SessionError.create({ time: Date.now(), message, ...(stderr ? { detail: stderr } : {}), fatal: true, ...(r.state.step ? { step: r.state.step } : {}) });
      try {
        await appendFile(runPaths(r.dir).events, formatEvent(event), 'utf8');
      } catch (e) {
        this.opts.log.error(`Run ${r.id}: could not record the failure in events.jsonl: ${String(e)}`);
      }
      r.stderrTail = stderr;
      await this.readEvents(r);
      if (r.state.phase === 'running') r.state = withProcessGone(r.state, message);
    } else if (r.state.phase === 'failed') {
      r.stderrTail = await readStderrTail(r.dir);
    }
    if (r.child === child) delete r.child;
    await releaseRunLock(r.dir);
    this.opts.log.info(`Run ${r.id}: session exited (${signal ?? `code ${code}`}); ${r.state.phase}${r.state.detail ? `: ${r.state.detail}` : ''}`);
    this.changed.fire(r.id);
    this.finishedEmitter.fire(this.view(r));
  }

  override dispose(): void {
    // Sessions keep running (they are detached and own their lock); the next window picks them up.
    super.dispose();
  }
}

/** Command-line arguments of dist/session.js for a run folder. */
export function sessionArgs(runDir: string, resume: boolean, restartFromScratch = false): string[] {
  return ['--run-dir', runDir, ...(resume ? ['--resume'] : []), ...(restartFromScratch ? ['--restart-from-scratch'] : [])];
}

/** The last `bytes` of a run's stderr.log (whole lines), or '' when there is none. */
export async function readStderrTail(runDir: string, bytes = 4096): Promise<string> {
  const path = join(runDir, STDERR_FILE);
  try {
    const { size } = await stat(path);
    const fh = await open(path, 'r');
    try {
      const n = Math.min(bytes, size);
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, size - n);
      let text = buf.toString('utf8');
      if (n < size) text = text.slice(text.indexOf('\n') + 1);
      return text.trimEnd();
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** `: <first line that looks like an error>` from stderr, for a one-line failure message. */
function firstErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error|exception|killed|out of memory/i.test(l)) ?? lines[lines.length - 1];
  return line ? `: ${line.length > 200 ? line.slice(0, 197) + '...' : line}` : '';
}
