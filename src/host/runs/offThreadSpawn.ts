import { Worker } from 'node:worker_threads';

/** A detached process started by {@link spawnOffThread}. */
export interface SessionProcess {
  readonly pid: number;
  /** Settles when the process exits, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  /** Stops following the process (it keeps running): frees the worker thread. */
  detach(): void;
}

export interface OffThreadSpawnOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** A file descriptor (of this process) that receives the child's stderr. */
  readonly stderrFd: number;
  /** Niceness given to the child right after it starts (0: leave it). */
  readonly niceness?: number;
}

// The worker's whole program (CommonJS, evaluated from this string, so there is no extra bundle to ship).
const WORKER_SOURCE = `
const { parentPort, workerData: d } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { setPriority } = require('node:os');
let child;
try {
  child = spawn(d.command, d.args, { cwd: d.cwd, env: d.env, detached: true, stdio: ['ignore', 'ignore', d.stderrFd], windowsHide: true });
} catch (e) {
  parentPort.postMessage({ type: 'error', message: String((e && e.message) || e) });
}
if (child) {
  child.once('spawn', () => {
    let niceError;
    if (d.niceness) { try { setPriority(child.pid, d.niceness); } catch (e) { niceError = String((e && e.message) || e); } }
    parentPort.postMessage({ type: 'spawn', pid: child.pid, niceError });
  });
  child.once('error', (e) => parentPort.postMessage({ type: 'error', message: e.message }));
  child.once('exit', (code, signal) => parentPort.postMessage({ type: 'exit', code, signal }));
}
`;

type WorkerReply =
  | { readonly type: 'spawn'; readonly pid: number; readonly niceError?: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'exit'; readonly code: number | null; readonly signal: NodeJS.Signals | null };

function isReply(x: unknown): x is WorkerReply {
  if (typeof x !== 'object' || x === null) return false;
  const t = (x as { type?: unknown }).type;
  if (t === 'spawn') return typeof (x as { pid?: unknown }).pid === 'number';
  if (t === 'error') return typeof (x as { message?: unknown }).message === 'string';
  return t === 'exit';
}

/**
 * Starts a detached process from a worker thread. child_process.spawn() holds the calling thread until the child
 * has exec'd (libuv waits on a pipe for it): on a loaded machine that wait, for the child to get a CPU, blocked the
 * extension host's event loop for up to 50 ms. Here the worker waits, and the caller's thread only creates it.
 * Resolves once the process runs (with its pid and niceness applied); rejects with the reason it could not start.
 * `onNiceError` hears when the niceness could not be set (the run goes on at normal priority).
 */
export function spawnOffThread(command: string, args: readonly string[], opts: OffThreadSpawnOptions, onNiceError?: (message: string) => void): Promise<SessionProcess> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { command, args: [...args], cwd: opts.cwd, env: { ...opts.env }, stderrFd: opts.stderrFd, niceness: opts.niceness ?? 0 },
    // The worker only waits on the child: keep its heap small.
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  // Like the detached child before it, the worker does not keep the extension host alive.
  worker.unref();
  let resolveExit: (v: { code: number | null; signal: NodeJS.Signals | null }) => void = () => undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => (resolveExit = res));
  return new Promise<SessionProcess>((resolve, reject) => {
    let started = false;
    const detach = (): void => void worker.terminate();
    worker.on('message', (m: unknown) => {
      if (!isReply(m)) return;
      if (m.type === 'spawn') {
        started = true;
        if (m.niceError) onNiceError?.(m.niceError);
        resolve({ pid: m.pid, exited, detach });
      } else if (m.type === 'error') {
        if (!started) reject(new Error(`could not start ${command}: ${m.message}`));
        void worker.terminate();
      } else {
        resolveExit({ code: m.code, signal: m.signal });
        void worker.terminate();
      }
    });
    worker.once('error', (e) => {
      if (!started) reject(e);
    });
    worker.once('exit', () => {
      if (!started) reject(new Error(`could not start ${command}: the spawning thread ended first`));
    });
  });
}
