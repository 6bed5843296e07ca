/**
 * RuntimeSession: an ONNX model running on onnxruntime-node in its own worker thread.
 *
 * `run()` posts the feeds to the worker and resolves when onnxruntime is done, so the calling thread's
 * event loop keeps running (onnxruntime's `run` holds its thread for the whole call). Errors come back
 * as {@link RuntimeError} / {@link DeviceUnavailableError}, never as a crash of the caller: a worker
 * that dies (native abort, heap exhaustion) rejects every pending call with `worker-exited`.
 */

import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DeviceKind, DeviceProbe, DeviceRequest } from './devices';
import { DeviceUnavailableError, RuntimeError } from './errors';
import type { HostTensor } from './tensor';
import type { CreateResult, WorkerRequest, WorkerResponse, WorkerSessionOptions } from './workerProtocol';

/** Options for {@link RuntimeSession.create}. */
export interface RuntimeSessionOptions {
  /** Device to run on; `auto` (default) = first working of cuda, webgpu, cpu. */
  device?: DeviceRequest;
  /** onnxruntime intra-op threads; default: all cores (os.availableParallelism()). */
  threads?: number;
  /** onnxruntime graph optimization level (default 'all'). */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** When set, onnxruntime writes a JSON op profile with this path prefix (see {@link RuntimeSession.endProfiling}). */
  profilePrefix?: string;
  /**
   * onnxruntime's CPU memory arena (default on). Its regions grow by doubling and are never returned, so a
   * model whose largest live set is several GB can hold about twice that; off, each tensor is malloc'd and freed.
   */
  memoryArena?: boolean;
  /** Override the worker script (for bundled builds that put it elsewhere). */
  workerPath?: string;
}

/** Options for one {@link RuntimeSession.run}. */
export interface RunOptions {
  /** Outputs to return (default: every output not in `carry`). */
  fetch?: readonly string[];
  /**
   * output name -> input name: after the run the output becomes a resident input, kept in the worker
   * and used by later runs when that input is not fed (training state stays off the caller's thread).
   */
  carry?: Readonly<Record<string, string>>;
  /** Transfer the feeds' ArrayBuffers to the worker instead of copying them (the caller's arrays become unusable). */
  transferFeeds?: boolean;
}

/**
 * Path of the worker script: sessionWorker.ts beside this file when running from sources (tsx; the
 * worker inherits `--import tsx` through execArgv), sessionWorker.js beside the bundle otherwise.
 * Bundlers must emit src/engine/runtime/sessionWorker.ts as its own entry next to this module's output.
 */
export function defaultWorkerPath(): string {
  const ts = path.join(__dirname, 'sessionWorker.ts');
  if (__filename.endsWith('.ts') && existsSync(ts)) return ts;
  return path.join(__dirname, 'sessionWorker.js');
}

/**
 * The worker's eval'd entry: `require(workerPath)`. Running from TypeScript sources, tsx's CommonJS hook
 * is registered first (the `--import tsx` of the parent does not reach a worker's CommonJS loader).
 */
function workerEntry(workerPath: string): string {
  if (!workerPath.endsWith('.ts')) return `require(${JSON.stringify(workerPath)});`;
  const tsxApi = require.resolve('tsx/cjs/api');
  return `require(${JSON.stringify(tsxApi)}).register(); require(${JSON.stringify(workerPath)});`;
}

/**
 * What `auto` resolved to in this process (probing CUDA and WebGPU costs a provider load each, and Dawn
 * prints a warning when Vulkan is missing), reused by later `auto` sessions.
 */
let autoResolved: { device: DeviceKind; probes: readonly DeviceProbe[] } | undefined;

interface Pending {
  resolve: (r: { result: unknown; runMs?: number }) => void;
  reject: (e: Error) => void;
  op: string;
}

export class RuntimeSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited: Error | undefined;
  private info: CreateResult | undefined;
  /** Milliseconds onnxruntime spent inside the last `run` (excludes thread hand-off). */
  lastRunMs = 0;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (res: WorkerResponse) => this.onMessage(res));
    worker.on('error', (e: Error) => this.onExit(new RuntimeError(looksOom(e) ? 'out-of-memory' : 'worker-exited', `runtime worker failed: ${e.message}`)));
    worker.on('exit', (code: number) => this.onExit(new RuntimeError('worker-exited', `runtime worker exited (code ${code})`)));
  }

  /**
   * Loads `model` (ONNX ModelProto bytes) on the requested device in a new worker thread.
   * @throws DeviceUnavailableError when the device cannot be used here (with install instructions)
   * @throws RuntimeError('session-create' | 'out-of-memory') when onnxruntime rejects the model
   */
  static async create(model: Uint8Array, options: RuntimeSessionOptions = {}): Promise<RuntimeSession> {
    const threads = options.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) throw new RuntimeError('bad-input', `threads must be a positive integer, got ${threads}`);
    const workerPath = options.workerPath ?? defaultWorkerPath();
    const worker = new Worker(workerEntry(workerPath), { eval: true, execArgv: process.execArgv });
    const s = new RuntimeSession(worker);
    const request = options.device ?? 'auto';
    const cached = request === 'auto' ? autoResolved : undefined;
    const wopts: WorkerSessionOptions = {
      device: cached ? cached.device : request,
      threads,
      graphOptimization: options.graphOptimization ?? 'all',
      memoryArena: options.memoryArena ?? true,
      ...(options.profilePrefix ? { profilePrefix: options.profilePrefix } : {}),
    };
    try {
      const { result } = await s.call({ op: 'create', id: 0, model, options: wopts });
      const info = result as CreateResult;
      if (request === 'auto') {
        autoResolved ??= { device: info.device, probes: info.probes };
        s.info = { ...info, probes: autoResolved.probes };
      } else {
        s.info = info;
      }
      return s;
    } catch (e) {
      await s.terminate();
      throw e;
    }
  }

  /** The device the session runs on (after `auto` resolution). */
  get device(): DeviceKind {
    return this.need().device;
  }
  /** What each device probe said while resolving the request. */
  get probes(): readonly DeviceProbe[] {
    return this.need().probes;
  }
  get inputNames(): readonly string[] {
    return this.need().inputNames;
  }
  get outputNames(): readonly string[] {
    return this.need().outputNames;
  }

  /**
   * Runs the model. Inputs not in `feeds` are taken from resident tensors ({@link setResident} or `carry`).
   * @throws RuntimeError('run' | 'out-of-memory' | 'bad-input' | 'worker-exited' | 'disposed')
   */
  async run(feeds: Readonly<Record<string, HostTensor>>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
    const transfer = options.transferFeeds ? Object.values(feeds).map((t) => t.data.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer) : [];
    const { result, runMs } = await this.call(
      { op: 'run', id: 0, feeds, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.carry ? { carry: options.carry } : {}) },
      [...new Set(transfer)],
    );
    this.lastRunMs = runMs ?? 0;
    return result as Record<string, HostTensor>;
  }

  /** Stores tensors in the worker as inputs for later runs (copied; the caller keeps its arrays). */
  async setResident(tensors: Readonly<Record<string, HostTensor>>): Promise<void> {
    await this.call({ op: 'setResident', id: 0, tensors });
  }

  /** Copies resident tensors back to the caller. */
  async getResident(names: readonly string[]): Promise<Record<string, HostTensor>> {
    const { result } = await this.call({ op: 'getResident', id: 0, names });
    return result as Record<string, HostTensor>;
  }

  /** Ends onnxruntime profiling (if `profilePrefix` was given); the JSON profile is written in the working directory. */
  async endProfiling(): Promise<void> {
    await this.call({ op: 'endProfiling', id: 0 });
  }

  /** Releases the onnxruntime session and stops the worker. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.exited) return;
    try {
      await this.call({ op: 'dispose', id: 0 });
    } catch {
      // the worker is going away either way
    }
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    this.exited ??= new RuntimeError('disposed', 'runtime session was disposed');
    await this.worker.terminate();
  }

  private need(): CreateResult {
    if (!this.info) throw new RuntimeError('disposed', 'runtime session is not created');
    return this.info;
  }

  private call(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<{ result: unknown; runMs?: number }> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    const msg = { ...req, id } as WorkerRequest;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, op: req.op });
      try {
        this.worker.postMessage(msg, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(new RuntimeError('bad-input', `cannot send '${req.op}' to the runtime worker: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  private onMessage(res: WorkerResponse): void {
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    if (res.ok) {
      p.resolve({ result: res.result, ...(res.runMs !== undefined ? { runMs: res.runMs } : {}) });
      return;
    }
    const err = res.error;
    if (err.kind === 'device' && err.device) {
      p.reject(new DeviceUnavailableError(err.device, err.reason ?? err.message, err.howToFix ?? ''));
    } else {
      const kind = err.kind === 'device' ? 'session-create' : err.kind;
      const what = p.op === 'create' ? 'creating the onnxruntime session' : `runtime '${p.op}'`;
      p.reject(new RuntimeError(kind, kind === 'out-of-memory' ? `${what} ran out of memory${allocationSize(err.message)}: ${err.message}` : `${what} failed: ${err.message}`));
    }
  }

  private onExit(e: Error): void {
    this.exited ??= e;
    for (const [, p] of this.pending) p.reject(this.exited);
    this.pending.clear();
  }
}

/** " (needed a 12.3 GiB buffer)" when onnxruntime's message names the allocation size. */
function allocationSize(message: string): string {
  const m = /buffer of size (\d+)/.exec(message);
  return m ? ` (a buffer of ${(Number(m[1]) / 2 ** 30).toFixed(1)} GiB was requested; use a smaller batch, sequence length or K)` : '';
}

function looksOom(e: Error): boolean {
  return (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' || /out of memory/i.test(e.message);
}

/** Default thread count: every core this process may use. */
export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
