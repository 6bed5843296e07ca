/**
 * Proxy-reward judge: a user-written scorer module (a JS file exporting `score(prompt, response)` that returns a
 * number or a promise of one) used as an approximate reward function (the "proxy reward" feedback type).
 *
 * The module is workspace code, so it runs only when the caller states the workspace is trusted, and then in a
 * worker thread with a memory cap and a per-call timeout (the worker is terminated when a call overruns, and a
 * fresh one is started for the next call). A worker is not a security sandbox: trust is the gate.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Worker } from 'node:worker_threads';
import { abortReason, throwIfAborted } from './backoff';
import { JudgeError, type PairJudge, type PairJudgement, type PairToJudge } from './judgeTypes';
import { Semaphore } from './semaphore';

/** The workspace is not trusted, so workspace code (the scorer module) must not run. */
export class UntrustedWorkspaceError extends Error {
  constructor(readonly modulePath: string) {
    super(
      `The proxy-reward scorer ${modulePath} was not run: this workspace is not trusted, and a scorer module is code from the workspace. Trust the workspace (Workspaces: Manage Workspace Trust) to use it.`,
    );
    this.name = 'UntrustedWorkspaceError';
  }
}

export interface ProxyJudgeOptions {
  /** Absolute path of the scorer module (.js/.cjs CommonJS or .mjs ES module). */
  readonly modulePath: string;
  /** Must be true (the host passes `vscode.workspace.isTrusted`); otherwise {@link UntrustedWorkspaceError}. */
  readonly trusted: boolean;
  /** Name of the exported function (default `score`). */
  readonly exportName?: string;
  /** Per-call time limit, ms (default 10 000). */
  readonly timeoutMs?: number;
  /** Time limit for starting the worker and loading the module, ms (default 30 000). */
  readonly loadTimeoutMs?: number;
  /** Heap cap of the worker, MB (default 256). */
  readonly maxMemoryMb?: number;
  /** Judge name: the label job records its labels as `ai:<name>`; default `proxy`. */
  readonly name?: string;
}

// The worker's own code. Kept as plain JS (run with `eval: true`) so it works the same from the esbuild bundle,
// from tsx in tests, and from the CLI, without a separate worker file to ship.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const loaded = import(pathToFileURL(workerData.modulePath).href).then((mod) => {
  const name = workerData.exportName;
  const f = typeof mod[name] === 'function' ? mod[name] : mod.default && typeof mod.default[name] === 'function' ? mod.default[name] : undefined;
  if (!f) throw new Error('the module does not export a function named "' + name + '"');
  return f;
});
loaded.then(
  () => parentPort.postMessage({ id: 0, ok: true, ready: true }),
  (e) => parentPort.postMessage({ id: 0, ok: false, ready: true, error: e && e.message ? String(e.message) : String(e) }),
);
parentPort.on('message', async (m) => {
  try {
    const f = await loaded;
    const value = await f(m.prompt, m.response);
    parentPort.postMessage({ id: m.id, ok: true, value: typeof value === 'number' ? value : String(value), type: typeof value });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: e && e.message ? String(e.message) : String(e) });
  }
});
`;

interface WorkerReply {
  /** 0 for the one-time "module loaded" message (`ready`). */
  readonly id: number;
  readonly ready?: boolean;
  readonly ok: boolean;
  readonly value?: number | string;
  readonly type?: string;
  readonly error?: string;
}

export class ProxyJudge implements PairJudge {
  readonly name: string;
  readonly modulePath: string;
  private readonly exportName: string;
  private readonly timeoutMs: number;
  private readonly maxMemoryMb: number;
  private readonly loadTimeoutMs: number;
  private worker: { readonly w: Worker; readonly ready: Promise<void> } | undefined;
  private nextId = 1;
  // One call at a time: a timeout terminates the worker, which must not take other callers' calls with it.
  private readonly serial = new Semaphore(1);
  private disposed = false;

  /** Throws {@link UntrustedWorkspaceError} unless `trusted`, and a plain Error for a missing or relative module path. */
  constructor(opts: ProxyJudgeOptions) {
    if (opts.trusted !== true) throw new UntrustedWorkspaceError(opts.modulePath);
    if (!isAbsolute(opts.modulePath)) throw new Error(`proxy-reward scorer: the module path must be absolute (got ${JSON.stringify(opts.modulePath)})`);
    if (!existsSync(opts.modulePath) || !statSync(opts.modulePath).isFile()) throw new Error(`proxy-reward scorer: no file at ${opts.modulePath}`);
    if (!/\.(c|m)?js$/.test(opts.modulePath)) throw new Error(`proxy-reward scorer: ${opts.modulePath} is not a .js, .cjs or .mjs file`);
    this.modulePath = opts.modulePath;
    this.exportName = opts.exportName ?? 'score';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxMemoryMb = opts.maxMemoryMb ?? 256;
    this.loadTimeoutMs = opts.loadTimeoutMs ?? 30_000;
    this.name = opts.name ?? 'proxy';
  }

  /** Scores one response. Throws JudgeError('scorer') on a failure, a non-number result or a timeout. */
  score(prompt: string, response: string, signal?: AbortSignal): Promise<number> {
    return this.serial.run(() => this.call(prompt, response, signal), signal);
  }

  /**
   * Scores both responses; the higher score wins, equal scores tie. Confidence is the Bradley-Terry probability of
   * the winner, sigmoid(|s_a - s_b|) (0.5 for a tie), which assumes the scorer's scale is a reward scale.
   */
  async judgePair(pair: PairToJudge, signal?: AbortSignal): Promise<PairJudgement> {
    const a = await this.score(pair.prompt, pair.responseA, signal);
    const b = await this.score(pair.prompt, pair.responseB, signal);
    const winner = a > b ? 'A' : b > a ? 'B' : 'tie';
    const confidence = 1 / (1 + Math.exp(-Math.abs(a - b)));
    return { winner, confidence, mode: 'score', scores: { a, b } };
  }

  /** Stops the worker. Further calls fail. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const cur = this.worker;
    this.worker = undefined;
    if (cur) await cur.w.terminate();
  }

  /** The running worker, or a new one; `ready` settles once the module is loaded (or failed to load, or timed out). */
  private ensureWorker(): { readonly w: Worker; readonly ready: Promise<void> } {
    if (this.disposed) throw new JudgeError('scorer', `proxy-reward scorer ${this.modulePath}: the judge was disposed`);
    if (this.worker) return this.worker;
    const where = `proxy-reward scorer ${this.modulePath}`;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { modulePath: this.modulePath, exportName: this.exportName },
      resourceLimits: { maxOldGenerationSizeMb: this.maxMemoryMb },
      // The scorer has no business with the parent's flags (loaders, inspectors).
      execArgv: [],
    });
    w.unref();
    const ready = new Promise<void>((resolve, reject) => {
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        fn();
      };
      const onMessage = (m: WorkerReply): void => {
        if (m.id !== 0 || !m.ready) return;
        done(() => (m.ok ? resolve() : reject(new JudgeError('scorer', `${where} could not be loaded: ${m.error}`))));
      };
      const onError = (e: Error): void => done(() => reject(new JudgeError('scorer', `${where} crashed while loading: ${e.message}`)));
      const onExit = (code: number): void => done(() => reject(new JudgeError('scorer', `${where} stopped while loading (exit code ${code})`)));
      const timer = setTimeout(() => done(() => reject(new JudgeError('scorer', `${where} did not load within ${this.loadTimeoutMs} ms`))), this.loadTimeoutMs);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
    const entry = { w, ready };
    // A worker that failed to load is dropped, so the next call tries again (the user may have fixed the file).
    ready.catch(() => {
      if (this.worker === entry) this.worker = undefined;
      void w.terminate();
    });
    this.worker = entry;
    return entry;
  }

  private async call(prompt: string, response: string, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    const entry = this.ensureWorker();
    await entry.ready;
    throwIfAborted(signal);
    const w = entry.w;
    const id = this.nextId++;
    const where = `proxy-reward scorer ${this.modulePath}`;
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const kill = (): void => {
        if (this.worker === entry) this.worker = undefined;
        void w.terminate();
      };
      const onMessage = (m: WorkerReply): void => {
        if (m.id !== id) return;
        if (!m.ok) finish(() => reject(new JudgeError('scorer', `${where} failed: ${m.error}`)));
        else if (typeof m.value !== 'number' || !Number.isFinite(m.value)) finish(() => reject(new JudgeError('scorer', `${where} returned ${m.type === 'number' ? m.value : `a ${m.type}`}, not a finite number`)));
        else {
          const v = m.value;
          finish(() => resolve(v));
        }
      };
      const onError = (e: Error): void => {
        if (this.worker === entry) this.worker = undefined;
        finish(() => reject(new JudgeError('scorer', `${where} crashed: ${e.message}`)));
      };
      const onExit = (code: number): void => {
        if (this.worker === entry) this.worker = undefined;
        finish(() => reject(new JudgeError('scorer', `${where} stopped (exit code ${code}) before answering`)));
      };
      const onAbort = (): void => {
        kill();
        finish(() => reject(abortReason(signal as AbortSignal)));
      };
      const timer = setTimeout(() => {
        kill();
        finish(() => reject(new JudgeError('scorer', `${where} took longer than ${this.timeoutMs} ms and was stopped`)));
      }, this.timeoutMs);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage({ id, prompt, response });
    });
  }
}
