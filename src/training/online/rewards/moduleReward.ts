/**
 * A user's JavaScript reward module as a reward function (the survey's "proxy reward" written as code, TRL's custom
 * `reward_funcs`). The module's export is called once per sample:
 *
 *   export function reward(prompt, completion, { id, fields, terminated, completionIds }) { return 0.5; }
 *
 * `prompt` is the row's prompt (a string or a list of messages), `fields` the row's other columns; it returns a
 * number, null (does not apply to this sample, TRL's None) or a promise of one. The same signature as the editor's
 * proxy-reward scorer (`score(prompt, response)`), so one module serves both.
 *
 * It is workspace code: it runs only when the caller says the workspace is trusted ({@link UntrustedModuleError}
 * otherwise), and then in a worker thread with a heap cap. A call that has not answered within the time limit
 * terminates the worker (a module that loops forever cannot hold the run) and fails with an error naming the
 * function and the prompt; the next call starts a fresh worker. A worker is not a sandbox: trust is the gate.
 * What a throw or a non-finite value does (stop or skip) is computeRewards' policy (./rewardFunction.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describePrompt, RewardError, type RewardFunction, type RewardSample } from './rewardFunction';

/** The workspace is not trusted, so its code (the reward module) must not run. */
export class UntrustedModuleError extends Error {
  override readonly name = 'UntrustedModuleError';
  constructor(readonly modulePath: string) {
    super(`the reward module ${modulePath} was not run: this workspace is not trusted, and a reward module is code from the workspace (trust the workspace, or run the CLI, which runs what you give it)`);
  }
}

export interface ModuleRewardOptions {
  /** Metric and error name. */
  readonly name: string;
  /** Absolute path of a .js/.cjs (CommonJS) or .mjs (ES module) file. */
  readonly modulePath: string;
  /** The exported function's name. */
  readonly exportName: string;
  /** Must be true: the host or CLI states that the workspace is trusted. */
  readonly trusted: boolean;
  /** Time limit of one call (all samples of a batch), ms; the worker is terminated when it runs out. */
  readonly timeoutMs: number;
  /** Time limit for starting the worker and loading the module, ms (default 30 000). */
  readonly loadTimeoutMs?: number;
  /** Heap cap of the worker, MB (default 512). */
  readonly maxMemoryMb?: number;
}

// The worker's own code, plain JS run with `eval: true`: the same from the esbuild bundle, from tsx and the CLI.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const errorText = (e) => (e && e.message ? String(e.message) : String(e));
const loaded = import(pathToFileURL(workerData.modulePath).href).then((mod) => {
  const name = workerData.exportName;
  const f = typeof mod[name] === 'function' ? mod[name] : mod.default && typeof mod.default[name] === 'function' ? mod.default[name] : undefined;
  if (!f) throw new Error('the module does not export a function named "' + name + '"');
  return f;
});
loaded.then(() => parentPort.postMessage({ id: 0, ok: true }), (e) => parentPort.postMessage({ id: 0, ok: false, error: errorText(e) }));
parentPort.on('message', async (m) => {
  const f = await loaded;
  const out = [];
  for (const s of m.samples) {
    try {
      const v = await f(s.prompt, s.completion, { id: s.id, fields: s.fields, terminated: s.terminated, completionIds: s.completionIds });
      out.push(v === null || v === undefined ? { value: null } : typeof v === 'number' ? { value: v } : { bad: typeof v + ' ' + JSON.stringify(v) });
    } catch (e) {
      out.push({ error: errorText(e) });
    }
  }
  parentPort.postMessage({ id: m.id, ok: true, results: out });
});
`;

/** How much sooner than computeRewards' timeout a call gives up (see `score`). */
const TIMEOUT_MARGIN_MS = 50;

type SampleResult = { readonly value: number | null } | { readonly error: string } | { readonly bad: string };

interface WorkerReply {
  /** 0: the module loaded (or not). */
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly results?: readonly SampleResult[];
}

/** A module's function behind a worker thread (see module comment). */
export class ModuleReward implements RewardFunction {
  readonly name: string;
  private worker: { readonly w: Worker; readonly ready: Promise<void> } | undefined;
  private nextId = 1;
  private disposed = false;

  /** Throws {@link UntrustedModuleError} unless trusted, and a plain Error for a path that is not a module file. */
  constructor(private readonly opts: ModuleRewardOptions) {
    if (opts.trusted !== true) throw new UntrustedModuleError(opts.modulePath);
    if (!isAbsolute(opts.modulePath)) throw new Error(`reward module: the path must be absolute (got ${JSON.stringify(opts.modulePath)})`);
    if (!existsSync(opts.modulePath) || !statSync(opts.modulePath).isFile()) throw new Error(`reward module: no file at ${opts.modulePath}`);
    if (!/\.(c|m)?js$/.test(opts.modulePath)) throw new Error(`reward module: ${opts.modulePath} is not a .js, .cjs or .mjs file`);
    this.name = opts.name;
  }

  private get where(): string {
    return `reward function "${this.name}" (${this.opts.exportName} in ${this.opts.modulePath})`;
  }

  /** Starts the worker and loads the module; rejects with the reason it cannot be loaded. */
  async load(): Promise<void> {
    await this.ensureWorker().ready;
  }

  async score(samples: readonly RewardSample[]): Promise<(number | null)[]> {
    // The call's limit is computeRewards' own (the same timeoutMs, counted from now) less a margin, so this
    // error, which names the prompt and stops the worker, is the one that reaches the user.
    const deadline = Date.now() + this.opts.timeoutMs - TIMEOUT_MARGIN_MS;
    const entry = this.ensureWorker();
    await entry.ready;
    const results = await this.call(entry, samples, Math.max(1, deadline - Date.now()));
    return results.map((r, i) => {
      const s = samples[i] as RewardSample;
      // computeRewards retries a failed batch sample by sample and names the function and the prompt.
      if ('error' in r) throw new Error(`${this.opts.exportName} in ${this.opts.modulePath} threw: ${r.error}`);
      if ('bad' in r) throw new Error(`${this.opts.exportName} in ${this.opts.modulePath} returned ${r.bad.slice(0, 80)}, not a number (${describePrompt(s.prompt)})`);
      return r.value;
    });
  }

  /** Stops the worker; later calls fail. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const cur = this.worker;
    this.worker = undefined;
    if (cur) await cur.w.terminate();
  }

  private ensureWorker(): { readonly w: Worker; readonly ready: Promise<void> } {
    if (this.disposed) throw new RewardError(`${this.where}: the reward module was closed`);
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { modulePath: this.opts.modulePath, exportName: this.opts.exportName },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxMemoryMb ?? 512 },
      // The module has no business with the parent's flags (loaders, inspectors).
      execArgv: [],
    });
    // An idle worker never keeps the session alive; a pending call's timer does until it settles.
    w.unref();
    const loadMs = this.opts.loadTimeoutMs ?? 30_000;
    const ready = this.await(w, 0, loadMs, 'while loading').then((m) => {
      if (!m.ok) throw new RewardError(`${this.where} could not be loaded: ${m.error ?? 'unknown error'}`);
    });
    const entry = { w, ready };
    ready.catch(() => this.kill(entry));
    this.worker = entry;
    return entry;
  }

  private async call(entry: { readonly w: Worker }, samples: readonly RewardSample[], ms: number): Promise<readonly SampleResult[]> {
    const id = this.nextId++;
    const payload = samples.map((s) => ({ id: s.prompt.id, prompt: s.prompt.prompt, fields: s.prompt.fields ?? {}, completion: s.completion, completionIds: [...s.completionIds], terminated: s.terminated }));
    const what = samples.length === 1 ? describePrompt((samples[0] as RewardSample).prompt) : `${samples.length} samples, the first ${describePrompt((samples[0] as RewardSample).prompt)}`;
    const reply = this.await(entry.w, id, ms, `scoring ${what}`, this.opts.timeoutMs);
    entry.w.postMessage({ id, samples: payload });
    const m = await reply;
    if (!m.results || m.results.length !== samples.length) throw new RewardError(`${this.where} answered ${m.results?.length ?? 0} results for ${samples.length} samples`);
    return m.results;
  }

  /** The worker's reply `id`, or a RewardError when it crashes, exits or overruns `ms` (then it is terminated). */
  private await(w: Worker, id: number, ms: number, doing: string, limitMs = ms): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        fn();
      };
      const fail = (why: string): void => {
        this.kill({ w });
        finish(() => reject(new RewardError(`${this.where} ${why} ${doing}`)));
      };
      const onMessage = (m: WorkerReply): void => {
        if (m.id === id) finish(() => resolve(m));
      };
      const onError = (e: Error): void => fail(`crashed (${e.message})`);
      const onExit = (code: number): void => fail(`stopped (exit code ${code})`);
      const timer = setTimeout(() => fail(`did not answer within ${limitMs} ms (its worker was stopped)`), ms);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
  }

  private kill(entry: { readonly w: Worker }): void {
    if (this.worker?.w === entry.w) this.worker = undefined;
    void entry.w.terminate();
  }
}
