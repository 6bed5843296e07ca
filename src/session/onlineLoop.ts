/**
 * The loop of an online session (online.ts), one rollout at a time:
 *
 *   step     OnlineTrainer.step(): sample, score with the reward functions, `num_iterations` updates
 *   events   TRL's metrics averaged over the rollouts since the last `metrics` event (num_tokens and
 *            learning_rate: the latest) at the logging interval; the rollout's completions with their rewards as
 *            a `samples` event at the sample interval; skipped samples (onError "skip") as warnings
 *   ckpt     at the checkpoint interval: the trainer state (parameters, AdamW, LR schedule position), the
 *            rollout count and the method's extra state (PPO's kl_coef), with the offline runs' checkpoint code
 *            (checkpoints.ts)
 *   diverged the KL blowing up, or every completion of a rollout empty or one repeated character where the first
 *            rollout's were not (divergence.ts), is a `diverged` event; the run goes on and its result says so
 *   stop     a stop request is honoured between rollouts: a checkpoint, then `finished` with `stopped`
 *   final    the policy as a Hugging Face folder (LoRA merged), `finished` with the last metrics
 *
 * Intervals count optimizer steps, as TRL's do; an event falls due when a rollout's steps cross a multiple.
 */
import * as path from 'node:path';
import { ADAPTER_DIR, FINAL_DIR } from '../core/runs/layout';
import type { RunSpec } from '../core/runs/spec';
import { NonFiniteStepError } from '../engine/step/trainer';
import type { OnlineStepResult } from '../training/online/onlineTrainer';
import { RewardError } from '../training/online/rewards/rewardFunction';
import type { RolloutPrompt } from '../training/online/rollout';
import type { OnlineRunTrainer } from '../training/online/runTrainer';
import type { Sample } from '../protocol/session';
import { saveRunCheckpoint, type TrainerStateJson } from './checkpoints';
import { DivergenceMonitor, type Divergence } from './divergence';
import type { EventSink } from './events';
import { trainerStateInfo, writeModelFiles, writeTrainerState } from './hfFolders';
import type { RunModel } from './model';
import { SessionInputError, type SessionOptions, type SessionResult } from './types';

/** How an online run's rollouts map to optimizer steps. */
export interface OnlineSchedule {
  readonly rollouts: number;
  /** Optimizer steps of the run: rollouts x stepsPerRollout. */
  readonly total: number;
  /** `num_iterations`: optimizer steps on each rollout. */
  readonly stepsPerRollout: number;
  readonly promptsPerStep: number;
  /** Prompts in the train split. */
  readonly prompts: number;
}

export interface OnlineLoopInputs {
  readonly spec: RunSpec;
  readonly opts: SessionOptions;
  readonly sink: EventSink;
  readonly rm: RunModel;
  readonly trainer: OnlineRunTrainer;
  readonly sched: OnlineSchedule;
  readonly prompts: readonly RolloutPrompt[];
  readonly setStep: (s: number) => void;
}

/** Completions shown per `samples` event. */
const SAMPLES_SHOWN = 16;

/** Metrics that are running totals or positions: logged as their latest value, not averaged. */
const LATEST = new Set(['num_tokens', 'learning_rate']);

const crossed = (prev: number, now: number, every: number): boolean => every > 0 && Math.floor(now / every) > Math.floor(prev / every);

function displayPrompt(p: RolloutPrompt): string {
  if (typeof p.prompt === 'string') return p.prompt;
  const users = p.prompt.filter((m) => m.role === 'user');
  return (users[users.length - 1] ?? p.prompt[p.prompt.length - 1])?.content ?? '';
}

export class OnlineLoop {
  private readonly acc: Record<string, number[]> = {};
  private lastMetrics: Record<string, number> = {};
  private readonly shown: Map<string, string>;
  private readonly divergence = new DivergenceMonitor();
  /** The first divergence seen, for the session's result. */
  private diverged: Divergence | undefined;

  constructor(private readonly x: OnlineLoopInputs) {
    this.shown = new Map(x.prompts.map((p) => [p.id, displayPrompt(p)]));
  }

  /** Writes a `diverged` event for each new divergence and keeps the first. */
  private report(found: readonly Divergence[]): void {
    for (const d of found) {
      this.diverged ??= d;
      this.x.sink.diverged({ step: d.step, reason: d.reason, message: d.message, ...(d.value !== undefined && Number.isFinite(d.value) ? { value: d.value } : {}) });
    }
  }

  private divergedResult(): Pick<SessionResult, 'diverged'> {
    const d = this.diverged;
    return d ? { diverged: { step: d.step, reason: d.reason, message: d.message } } : {};
  }

  private get step(): number {
    return this.x.trainer.stepsDone * this.x.sched.stepsPerRollout;
  }

  private get epoch(): number {
    const { sched, trainer } = this.x;
    return Math.round(((trainer.stepsDone * sched.promptsPerStep) / sched.prompts) * 1000) / 1000;
  }

  async run(): Promise<SessionResult> {
    const { sink } = this.x;
    const reason = await this.rollouts();
    if (reason === 'stopped') {
      await this.checkpoint();
      sink.finished({ reason, step: this.step, metrics: this.lastMetrics, path: '' });
      return { reason, step: this.step, metrics: this.lastMetrics, ...this.divergedResult() };
    }
    await this.saveFinal();
    sink.finished({ reason, step: this.step, metrics: this.lastMetrics, path: FINAL_DIR });
    return { reason, step: this.step, metrics: this.lastMetrics, finalDir: path.join(this.x.opts.runDir, FINAL_DIR), ...this.divergedResult() };
  }

  /** Rollouts until the run ends or is stopped. */
  private async rollouts(): Promise<'completed' | 'stopped'> {
    const { spec, sched, trainer, sink } = this.x;
    while (trainer.stepsDone < sched.rollouts) {
      if (this.x.opts.stopRequested?.()) return 'stopped';
      const prev = this.step;
      const tokens = trainer.numTokens;
      const t0 = Date.now();
      const res = await this.rollout();
      const now = this.step;
      this.x.setStep(now);
      this.record(res, trainer.numTokens - tokens, Date.now() - t0);
      this.report(this.divergence.metrics(now, res.metrics));
      this.report(this.divergence.samples(now, res.samples.map((x) => x.completion)));
      const last = trainer.stepsDone >= sched.rollouts;
      if (res.problems.length) sink.warning({ message: `${res.problems.length} sample(s) skipped (rewards.onError "skip"):\n${res.problems.slice(0, 5).join('\n')}`, step: now });
      if (last || crossed(prev, now, spec.intervals.logging)) this.logMetrics();
      if (crossed(prev, now, spec.intervals.sample) || (last && spec.intervals.sample > 0)) this.emitSamples(res);
      if (!last && crossed(prev, now, spec.intervals.checkpoint)) await this.checkpoint();
    }
    return 'completed';
  }

  /** One rollout; a failing reward function or a diverged update ends the run with a message, not a stack. */
  private async rollout(): Promise<OnlineStepResult> {
    try {
      return await this.x.trainer.step();
    } catch (e) {
      if (e instanceof RewardError) throw new SessionInputError(`${e.message} (rewards.onError "stop"; set it to "skip" to drop such samples instead)`);
      if (e instanceof NonFiniteStepError) throw new SessionInputError(`training diverged: ${e.message}. Lower optimizer.learningRate, or check the rewards.`);
      throw e;
    }
  }

  private record(res: OnlineStepResult, tokens: number, ms: number): void {
    for (const [k, v] of Object.entries(res.metrics)) (this.acc[k] ??= []).push(v);
    (this.acc['tokens_per_second'] ??= []).push((tokens / Math.max(ms, 1)) * 1000);
  }

  /** The `metrics` event: each value averaged over the rollouts since the last one (NaNs left out). */
  private logMetrics(): void {
    const m: Record<string, number> = {};
    for (const [k, vs] of Object.entries(this.acc)) {
      const ok = vs.filter((v) => !Number.isNaN(v));
      m[k] = LATEST.has(k) ? (vs[vs.length - 1] as number) : ok.length ? ok.reduce((s, v) => s + v, 0) / ok.length : NaN;
      delete this.acc[k];
    }
    this.lastMetrics = Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
    this.x.sink.metrics({ step: this.step, epoch: this.epoch, metrics: this.lastMetrics });
  }

  /** The rollout's completions with their rewards, the first few of each prompt, for the samples tab. */
  private emitSamples(res: OnlineStepResult): void {
    const perPrompt = Math.max(1, Math.floor(SAMPLES_SHOWN / this.x.sched.promptsPerStep));
    const count = new Map<string, number>();
    const samples: Sample[] = [];
    for (const s of res.samples) {
      const n = count.get(s.promptId) ?? 0;
      if (n >= perPrompt || samples.length >= SAMPLES_SHOWN) continue;
      count.set(s.promptId, n + 1);
      samples.push({ prompt: this.shown.get(s.promptId) ?? s.promptId, policy: s.completion, ...(Number.isFinite(s.reward) ? { scores: { policy: s.reward } } : {}) });
    }
    const fns = this.x.spec.rewards?.functions ?? [];
    const label = `reward = ${fns.map((f) => `${f.weight}·${f.name}`).join(' + ')}`;
    this.x.sink.samples({ step: this.step, samples, scoreKind: 'reward', scoreLabel: label });
  }

  private async checkpoint(): Promise<void> {
    const { spec, opts, trainer, sched } = this.x;
    const s = await trainer.state();
    if (s.train.step !== this.step) throw new Error(`online checkpoint: the trainer is at optimizer step ${s.train.step}, the run at ${this.step}`);
    const ts: TrainerStateJson = {
      step: this.step,
      epoch: this.epoch,
      examplesSeen: s.rollouts * sched.promptsPerStep,
      numTokens: s.tokensSeen,
      method: spec.method,
      hyperparameters: { ...spec.hyperparameters },
      ...(s.extra ? { online: { ...s.extra } } : {}),
    };
    const current = new Map([...s.train.params].map(([k, t]) => [k, t.data] as const));
    const rel = saveRunCheckpoint(opts.runDir, s.train, ts, (dir) => this.writeHf(dir, current, {}), opts.keepCheckpoints ?? 2);
    this.x.sink.checkpoint({ step: this.step, path: rel });
  }

  /** The trained policy as a Hugging Face folder in `<run>/final` (LoRA adapters merged; hfFolders.ts). */
  private async saveFinal(): Promise<void> {
    this.writeHf(path.join(this.x.opts.runDir, FINAL_DIR), await this.x.trainer.currentWeights(), { adapterDir: path.join(this.x.opts.runDir, ADAPTER_DIR) });
  }

  /** The model files and trainer_state.json of a checkpoint or the final folder. */
  private writeHf(dir: string, current: ReadonlyMap<string, Float32Array>, kind: { readonly adapterDir?: string }): void {
    const { spec, sched, trainer } = this.x;
    writeModelFiles(dir, this.x.rm, current, kind);
    const at = { step: this.step, maxSteps: sched.total, epoch: this.epoch, evalSteps: spec.intervals.eval, numTokens: trainer.numTokens, best: null };
    writeTrainerState(dir, this.x.sink.file, trainerStateInfo(spec, at));
  }
}

