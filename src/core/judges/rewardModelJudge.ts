/**
 * Reward-model judge: a reward model (a run's `final/` folder, or a Hugging Face sequence-classification folder)
 * scores both responses of each pair; the higher reward wins. The model runs in its own process
 * (`alignment rm-score --json`, on the engine's runtime), never in the caller's: the extension host stays light,
 * and a crash or an out-of-memory in scoring cannot take it down.
 *
 * The process gets the record ids to score on stdin and streams one validated JSON line per record
 * (src/protocol/rewardScoring.ts) as its batches finish; `judgePair` waits for its record's line. Confidence is
 * the Bradley-Terry probability of the winner, sigmoid(|r_a - r_b|) (Ouyang et al. 2022, eq. 1: the reward
 * model is trained so that sigmoid(r(x, y_w) - r(x, y_l)) is the probability that y_w is preferred).
 *
 * Failures: a record the process cannot score (not a preference pair for the loader) is a `model` error for that
 * pair; the process failing (bad model folder, crash, killed) is a fatal `model` error, which stops a label job
 * at once and keeps the labels written before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { parseRmEventLine, type RmReadyParams } from '../../protocol/rewardScoring';
import { METHOD_CARDS } from '../methods';
import { runPaths } from '../runs/layout';
import { listRuns, type RunStatus } from '../runs/registry';
import { abortReason, throwIfAborted } from './backoff';
import { JudgeError, type PairJudge, type PairJudgement, type PairToJudge } from './judgeTypes';

/** `rm:<name>`, with characters other than letters, digits, `.`, `_` and `-` replaced by `_`. */
export function rewardModelJudgeName(name: string): string {
  return `rm:${name.replace(/[^\w.-]/g, '_') || 'model'}`;
}

/** The display name of a model folder: its own name, or its run's for a run's `final/` folder. */
export function rewardModelDisplayName(modelDir: string): string {
  const base = path.basename(path.resolve(modelDir));
  return base === 'final' ? path.basename(path.dirname(path.resolve(modelDir))) : base;
}

/** A reward model the workspace's runs have saved. */
export interface RewardModelRun {
  /** The run's name (its spec's `name`), else its id. */
  readonly name: string;
  readonly runId: string;
  readonly method: string;
  readonly status: RunStatus;
  /** The model folder: the run's `final/`. */
  readonly dir: string;
}

/**
 * The workspace's runs that trained a reward model (a method of the `reward-model` family) and saved it in
 * `final/` (config.json present), newest first: what "AI-Label Dataset" offers as reward-model judges.
 */
export async function rewardModelRuns(workspaceDir: string): Promise<RewardModelRun[]> {
  const rewardMethods = new Set<string>(METHOD_CARDS.filter((c) => c.family === 'reward-model').map((c) => c.id));
  const runs = (await listRuns(workspaceDir)).filter((r) => r.spec && rewardMethods.has(r.spec.method) && existsSync(path.join(runPaths(r.dir).final, 'config.json')));
  // Labels are kept apart by judge name: two runs with one name are told apart by their ids.
  const uses = new Map<string, number>();
  for (const r of runs) if (r.spec?.name) uses.set(r.spec.name, (uses.get(r.spec.name) ?? 0) + 1);
  return runs.map((r) => ({ name: r.spec?.name && uses.get(r.spec.name) === 1 ? r.spec.name : r.id, runId: r.id, method: r.spec?.method ?? '', status: r.status, dir: runPaths(r.dir).final }));
}

export interface RewardModelJudgeOptions {
  /** Judge name (labels are recorded as `ai:<name>`); see {@link rewardModelJudgeName}. */
  readonly name: string;
  /** A reward model folder, or a run folder whose `final/` is one. */
  readonly modelDir: string;
  /** The dataset (JSONL) whose records are scored. */
  readonly dataset: string;
  /** The program that runs the CLI (e.g. the Node binary) and the arguments before `rm-score` (e.g. the CLI script). */
  readonly command: string;
  readonly commandArgs: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Token limit per prompt + response (default: the CLI's, 512, capped by the model). */
  readonly maxLength?: number;
  /** Process priority (niceness) for the scorer; scoring takes every core it can. Default: unchanged. */
  readonly niceness?: number;
  /** Time for starting the process and loading the model, ms (default 600 000: a large model on a CPU takes minutes). */
  readonly loadTimeoutMs?: number;
  /** The process's stderr, as it comes. */
  readonly onStderr?: (text: string) => void;
  /** Lines on stdout that are not valid events (they are ignored). */
  readonly onWarning?: (message: string) => void;
}

interface Waiter {
  readonly resolve: (s: { readonly chosen: number; readonly rejected: number }) => void;
  readonly reject: (e: Error) => void;
}

/** How much of the process's stderr is kept for error messages. */
const STDERR_KEEP = 4000;

export class RewardModelJudge implements PairJudge {
  readonly name: string;
  private child: ChildProcess | undefined;
  private readonly scores = new Map<string, { readonly chosen: number; readonly rejected: number }>();
  private readonly skipped = new Map<string, string>();
  private readonly waiters = new Map<string, Waiter[]>();
  private requested = new Set<string>();
  private fatal: JudgeError | undefined;
  private finished = false;
  private lastError: string | undefined;
  private stderr = '';
  /** Stdout lines that were not valid events. */
  invalidLines = 0;

  constructor(private readonly opts: RewardModelJudgeOptions) {
    this.name = opts.name;
  }

  /**
   * Starts the scoring process for these records and resolves once the model is loaded. Rejects with a fatal
   * {@link JudgeError} (kind `model`) naming the model folder and the reason when it cannot load or start, and
   * with the signal's reason when `signal` aborts (the process is killed).
   */
  start(recordIds: readonly string[], signal?: AbortSignal): Promise<RmReadyParams> {
    if (this.child || this.fatal || this.finished) return Promise.reject(new Error('reward-model judge: already started'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    this.requested = new Set(recordIds);
    const args = [...this.opts.commandArgs, 'rm-score', '--model', this.opts.modelDir, '--data', this.opts.dataset, '--ids-stdin', '--json'];
    if (this.opts.maxLength !== undefined) args.push('--max-length', String(this.opts.maxLength));
    return new Promise<RmReadyParams>((resolve, reject) => {
      let ready = false;
      const settle = (fn: () => void): void => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => {
        this.dispose();
        settle(() => reject(abortReason(signal as AbortSignal)));
      };
      const timer = setTimeout(() => {
        this.failWith(`did not load within ${Math.round((this.opts.loadTimeoutMs ?? 600_000) / 1000)} s`);
        this.dispose();
      }, this.opts.loadTimeoutMs ?? 600_000);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.onReady = (p) => settle(() => resolve(p));
      this.onFatal = (e) => settle(() => reject(e));

      let child: ChildProcess;
      try {
        child = spawn(this.opts.command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: this.opts.env ?? process.env, windowsHide: true });
      } catch (e) {
        this.failWith(`could not be started: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      this.child = child;
      if (this.opts.niceness !== undefined && child.pid !== undefined) {
        try {
          setPriority(child.pid, this.opts.niceness);
        } catch {
          // not permitted here: the scorer runs at normal priority
        }
      }
      child.on('error', (e) => this.failWith(`could not be started: ${e.message}`));
      // The process may exit before it has read every id (a bad model folder): a broken pipe is expected then.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end([...this.requested].map((id) => JSON.stringify(id)).join('\n') + '\n');
      let buffer = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          this.line(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
        }
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP);
        this.opts.onStderr?.(chunk);
      });
      child.on('close', (code, sig) => {
        if (buffer.trim()) this.line(buffer);
        buffer = '';
        this.child = undefined;
        if (code === 0 && !this.fatal) {
          this.finished = true;
          // Records it was asked for and never answered: a per-pair error each (it said it was done).
          for (const [id, ws] of this.waiters) for (const w of ws) w.reject(this.unanswered(id));
          this.waiters.clear();
          if (!ready) this.failWith('exited before loading the model');
          return;
        }
        this.failWith(code !== null ? `exited with code ${code}` : `was stopped (${sig ?? 'signal'})`);
      });
    });
  }

  private onReady: (p: RmReadyParams) => void = () => undefined;
  private onFatal: (e: JudgeError) => void = () => undefined;

  private line(text: string): void {
    if (!text.trim()) return;
    const e = parseRmEventLine(text);
    if ('warning' in e) {
      this.invalidLines++;
      this.opts.onWarning?.(`reward model ${this.opts.modelDir}: ignored an output line (${e.warning}): ${text.slice(0, 200)}`);
      return;
    }
    switch (e.type) {
      case 'ready':
        this.onReady(e.params);
        return;
      case 'score': {
        const s = { chosen: e.params.chosen, rejected: e.params.rejected };
        this.scores.set(e.params.recordId, s);
        for (const w of this.waiters.get(e.params.recordId) ?? []) w.resolve(s);
        this.waiters.delete(e.params.recordId);
        return;
      }
      case 'skip':
        this.skipped.set(e.params.recordId, e.params.reason);
        for (const w of this.waiters.get(e.params.recordId) ?? []) w.reject(new JudgeError('model', e.params.reason));
        this.waiters.delete(e.params.recordId);
        return;
      case 'error':
        this.lastError = e.params.message;
        return;
      case 'done':
        return;
    }
  }

  /** The process failed: every waiting and later call fails with this (fatal) error. */
  private failWith(what: string): void {
    if (this.fatal) return;
    const why = this.lastError ?? lastLines(this.stderr);
    this.fatal = new JudgeError('model', `reward model ${this.opts.modelDir}: the scoring process ${what}${why ? `: ${why}` : ''}`, { fatal: true });
    this.onFatal(this.fatal);
    for (const ws of this.waiters.values()) for (const w of ws) w.reject(this.fatal);
    this.waiters.clear();
  }

  private unanswered(recordId: string): JudgeError {
    return new JudgeError('model', this.requested.has(recordId) ? `reward model ${this.opts.modelDir}: the scoring process ended without scoring ${recordId}` : `reward model ${this.opts.modelDir}: ${recordId} was not sent for scoring`);
  }

  /**
   * Rewards of the pair's record. `pair.record` must name it, with A and B as its `chosen` and `rejected`
   * responses (in either order), as {@link datasetPairItems} builds them.
   */
  async judgePair(pair: PairToJudge, signal?: AbortSignal): Promise<PairJudgement> {
    const rec = pair.record;
    if (!rec) throw new JudgeError('model', 'the reward-model judge needs each pair\'s record id');
    const [ka, kb] = rec.keys;
    if (!((ka === 'chosen' && kb === 'rejected') || (ka === 'rejected' && kb === 'chosen'))) throw new JudgeError('model', `${rec.id}: the reward model scores chosen/rejected pairs, not ${ka}/${kb}`);
    const s = await this.scoresOf(rec.id, signal);
    const a = ka === 'chosen' ? s.chosen : s.rejected;
    const b = ka === 'chosen' ? s.rejected : s.chosen;
    const winner = a > b ? 'A' : b > a ? 'B' : 'tie';
    return { winner, confidence: 1 / (1 + Math.exp(-Math.abs(a - b))), mode: 'score', scores: { a, b } };
  }

  private scoresOf(recordId: string, signal?: AbortSignal): Promise<{ readonly chosen: number; readonly rejected: number }> {
    throwIfAborted(signal);
    const have = this.scores.get(recordId);
    if (have) return Promise.resolve(have);
    const skip = this.skipped.get(recordId);
    if (skip !== undefined) return Promise.reject(new JudgeError('model', skip));
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.finished || !this.requested.has(recordId)) return Promise.reject(this.unanswered(recordId));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const list = this.waiters.get(recordId);
        const i = list ? list.indexOf(w) : -1;
        if (list && i >= 0) list.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      const w: Waiter = {
        resolve: (x) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(x);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(recordId, [...(this.waiters.get(recordId) ?? []), w]);
    });
  }

  /** The model folder as given. */
  get modelDir(): string {
    return this.opts.modelDir;
  }

  /** True while the scoring process runs. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Stops the scoring process (cancel, or the job is over). */
  dispose(): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

function lastLines(text: string, n = 3): string {
  // onnxruntime and GPU probes print noise on stderr; the last lines hold the error.
  return text.trim().split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' ');
}
