/**
 * The training loop of a session, from its first (or resumed) step to its end:
 *
 *   steps    K optimizer steps of A micro-batches per runtime call, examples drawn in the seeded order
 *   NaN      a non-finite step is skipped by the trainer and warned about; `maxNonFiniteSteps` in a row end the run
 *   diverged finite blow-ups (divergence.ts) are `diverged` events; the run goes on and its result says so
 *   events   metrics averaged over the steps since the last log every `logging` steps; eval, samples and
 *            checkpoints at their intervals; early stopping on an eval metric
 *   stop     a stop request (SIGTERM) is honoured between calls: a checkpoint, then `finished` with `stopped`
 *   final    an eval and samples of the last step (unless it just had them), the model as a Hugging Face folder
 *            (LoRA merged), `finished` with the last metrics
 */
import * as path from 'node:path';
import { ADAPTER_DIR, FINAL_DIR } from '../core/runs/layout';
import type { EarlyStoppingSpec, RunSpec } from '../core/runs/spec';
import type { HostTensor } from '../engine/runtime/tensor';
import { NonFiniteStepError, type StepResult, type Trainer } from '../engine/step/trainer';
import type { TrainState } from '../engine/step/trainState';
import { ExampleOrder } from '../training/batching';
import type { RunnerOptions } from '../engine/runtime/devices';
import { PlanEvaluator } from '../training/evaluate';
import type { TrainerPlan } from '../training/plan';
import { methodCard } from '../core/methods';
import { saveRunCheckpoint, type TrainerStateJson } from './checkpoints';
import { trainerStateInfo, writeModelFiles, writeTrainerState } from './hfFolders';
import { DivergenceMonitor, type Divergence } from './divergence';
import type { EventSink } from './events';
import type { RunModel } from './model';
import type { RunSchedule } from './plan';
import type { Progress } from './resume';
import type { Sampler } from './samples';
import { SessionInputError, type SessionOptions, type SessionResult } from './types';

/** Everything the loop works with; `progress` is advanced in place. */
export interface LoopInputs {
  readonly spec: RunSpec;
  readonly opts: SessionOptions;
  readonly sink: EventSink;
  readonly rm: RunModel;
  readonly plan: TrainerPlan;
  readonly trainer: Trainer;
  readonly sched: RunSchedule;
  readonly sampler: Sampler;
  readonly runner: RunnerOptions;
  readonly progress: Progress;
  /** Cleanups run when the session ends (the evaluator is added on first use). */
  readonly disposers: (() => Promise<void>)[];
  /** Reports the step reached, for the error event of a run that fails. */
  readonly setStep: (s: number) => void;
}

type EndReason = 'completed' | 'stopped' | 'early-stopped';

/** Runs the loop to the end of the run (see module comment). */
export class TrainingLoop {
  private readonly order: ExampleOrder;
  /** Per-step values since the last `metrics` event, averaged when it is written. */
  private readonly logAcc: Record<string, number[]> = {};
  private lastMetrics: Record<string, number> = {};
  private nonFiniteRun = 0;
  private evaluator: PlanEvaluator | undefined;
  private readonly divergence: DivergenceMonitor;
  /** The first divergence seen, for the session's result. */
  private diverged: Divergence | undefined;

  constructor(private readonly x: LoopInputs) {
    this.order = new ExampleOrder(x.plan.trainSize, x.spec.seed);
    const tokenLoss = methodCard(x.spec.method).family === 'supervised';
    this.divergence = new DivergenceMonitor(tokenLoss ? { tokenLossVocab: x.rm.config.vocabSize } : {});
  }

  /** Writes a `diverged` event for each new divergence and keeps the first. */
  private report(found: readonly Divergence[]): void {
    for (const d of found) {
      this.diverged ??= d;
      this.x.sink.diverged({ step: d.step, reason: d.reason, message: d.message, ...(d.value !== undefined && Number.isFinite(d.value) ? { value: d.value } : {}) });
    }
  }

  async run(): Promise<SessionResult> {
    const { sink, progress } = this.x;
    const reason = await this.steps();
    if (reason === 'stopped') {
      await this.checkpoint();
      sink.finished({ reason, step: progress.step, metrics: this.lastMetrics, path: '' });
      return { reason, step: progress.step, metrics: this.lastMetrics, ...this.divergedResult() };
    }
    return this.finish(reason);
  }

  /** The steps until the run ends, is stopped or stops early. */
  private async steps(): Promise<EndReason> {
    const { spec, sched, progress: p } = this.x;
    while (p.step < sched.total) {
      if (this.x.opts.stopRequested?.()) return 'stopped';
      const { feeds, tokens } = this.nextFeeds();
      const t0 = Date.now();
      const res = await this.runCall(feeds);
      this.record(res, tokens, Date.now() - t0);
      if (p.step % spec.intervals.logging === 0 || p.step >= sched.total) this.logMetrics(res.lrs[sched.K - 1] as number);
      const stopEarly = sched.evalEvery > 0 && p.step % sched.evalEvery === 0 ? await this.evalStep() : false;
      if (sched.sampleEvery > 0 && p.step % sched.sampleEvery === 0) await this.sample();
      if (spec.intervals.checkpoint > 0 && p.step % spec.intervals.checkpoint === 0 && p.step < sched.total) await this.checkpoint();
      if (stopEarly) return 'early-stopped';
    }
    return 'completed';
  }

  /** The feeds of one call: K steps x A micro-batches of B examples, in the seeded order. */
  private nextFeeds(): { feeds: Record<string, HostTensor>; tokens: number } {
    const { plan, sched } = this.x;
    const { K, A } = sched;
    const fields: Record<string, HostTensor[]> = {};
    let tokens = 0;
    for (let k = 0; k < K; k++) {
      for (let a = 0; a < A; a++) {
        const idx = this.order.slice(this.x.progress.examplesSeen + (k * A + a) * plan.batchSize, plan.batchSize);
        const c = plan.collate('train', idx);
        tokens += c.tokens;
        for (const [name, t] of Object.entries(c.fields)) (fields[name] ??= []).push(t);
      }
    }
    const feeds: Record<string, HostTensor> = {};
    for (const f of plan.batch) feeds[f.name] = stack(fields[f.name] as HostTensor[], [K, A, ...f.shape], f.dtype);
    return { feeds, tokens };
  }

  /** One runtime call; non-finite steps are warned about and end the run when too many come in a row. */
  private async runCall(feeds: Record<string, HostTensor>): Promise<StepResult> {
    try {
      const res = await this.x.trainer.run(feeds);
      this.nonFiniteRun = 0;
      return res;
    } catch (e) {
      if (!(e instanceof NonFiniteStepError)) throw e;
      const res = e.result;
      this.nonFiniteRun += e.steps.length;
      this.x.sink.warning({ message: `NaN guard: ${e.message}`, step: e.steps[0] as number });
      if (this.nonFiniteRun >= (this.x.opts.maxNonFiniteSteps ?? 5)) {
        this.advanceStep();
        throw new SessionInputError(
          `training diverged: ${this.nonFiniteRun} optimizer steps in a row had a non-finite loss or gradient (last loss ${res.losses[res.losses.length - 1]}). Lower optimizer.learningRate, or check the data.`,
        );
      }
      return res;
    }
  }

  private advanceStep(): void {
    this.x.progress.step += this.x.sched.K;
    this.x.setStep(this.x.progress.step);
  }

  /** One sample set at the current step; replies that collapsed are a divergence. */
  private async sample(): Promise<void> {
    const at = this.x.progress.step;
    const replies = await this.x.sampler.sample(at);
    if (replies) this.report(this.divergence.samples(at, replies.policy, replies.start));
  }

  /** Advances the progress past one call and keeps its per-step values for the next `metrics` event. */
  private record(res: StepResult, tokens: number, ms: number): void {
    const { sched, progress: p } = this.x;
    const push = (k: string, v: number): void => void (this.logAcc[k] ??= []).push(v);
    this.advanceStep();
    p.examplesSeen += sched.K * sched.perStep;
    for (let i = 0; i < sched.K; i++) {
      push('loss', res.losses[i] as number);
      push('grad_norm', res.gradNorms[i] as number);
      const at = p.step - sched.K + 1 + i;
      this.report(this.divergence.step(at, res.losses[i] as number, res.gradNorms[i] as number));
      const values: Record<string, number> = {};
      for (const [m, vs] of Object.entries(res.metrics)) {
        if (m === 'num_tokens') p.numTokens += vs[i] as number;
        else push(m, (values[m] = vs[i] as number));
      }
      this.report(this.divergence.metrics(at, values));
    }
    push('tokens_per_second', (tokens / Math.max(ms, 1)) * 1000);
    push('step_time', ms / 1000 / sched.K);
  }

  private epoch(): number {
    return Math.round((this.x.progress.examplesSeen / this.x.plan.trainSize) * 1000) / 1000;
  }

  /** Writes the `metrics` event: each value averaged over the steps since the last one. */
  private logMetrics(lr: number): void {
    const m: Record<string, number> = {};
    for (const [k, vs] of Object.entries(this.logAcc)) m[k] = vs.reduce((s, x) => s + x, 0) / vs.length;
    m.learning_rate = lr;
    if (this.x.plan.method === 'sft' || this.x.plan.method === 'reward') m.num_tokens = this.x.progress.numTokens;
    for (const k of Object.keys(this.logAcc)) delete this.logAcc[k];
    this.lastMetrics = m;
    this.x.sink.metrics({ step: this.x.progress.step, epoch: this.epoch(), metrics: m });
  }

  /** The plan's eval metrics (`eval_` + TRL's names) with the current weights; none without an eval split. */
  private async evaluate(): Promise<Record<string, number>> {
    const { plan, runner, trainer } = this.x;
    if (plan.evalSize === 0) return {};
    if (!this.evaluator) {
      this.evaluator = await PlanEvaluator.create(plan, runner);
      this.x.disposers.push(async () => this.evaluator?.dispose());
    }
    await this.evaluator.setWeights(await trainer.getParams());
    const m = await this.evaluator.evaluate();
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [`eval_${k}`, v]));
  }

  /** Evaluates and writes the `eval` event; true when early stopping says to stop. */
  private async evalStep(): Promise<boolean> {
    const { sink, progress: p } = this.x;
    const em = await this.evaluate();
    sink.eval({ step: p.step, epoch: this.epoch(), metrics: em });
    this.lastMetrics = { ...this.lastMetrics, ...em };
    const es = this.x.spec.earlyStopping;
    if (!es) return false;
    const v = em[es.metric] ?? this.lastMetrics[es.metric];
    if (v === undefined) {
      sink.warning({ message: `earlyStopping.metric "${es.metric}" was not logged (logged: ${Object.keys(this.lastMetrics).join(', ')})`, step: p.step });
      return false;
    }
    return this.improve(es, v);
  }

  /** Records an evaluation's value of the early-stopping metric; true after `patience` without improvement. */
  private improve(es: EarlyStoppingSpec, value: number): boolean {
    const p = this.x.progress;
    const better = p.best === null || (es.mode === 'min' ? value < p.best - es.minDelta : value > p.best + es.minDelta);
    if (better) {
      p.best = value;
      p.badEvals = 0;
    } else p.badEvals++;
    return p.badEvals >= es.patience;
  }

  private async checkpoint(): Promise<void> {
    const { spec, opts, progress: p } = this.x;
    const state: TrainState = await this.x.trainer.state();
    this.report(this.divergence.weights(p.step, [...state.params].map(([k, t]) => [k, t.data] as const)));
    const ts: TrainerStateJson = {
      step: p.step,
      epoch: this.epoch(),
      examplesSeen: p.examplesSeen,
      numTokens: p.numTokens,
      earlyStopping: { best: p.best, badEvals: p.badEvals },
      method: spec.method,
      hyperparameters: { ...spec.hyperparameters },
    };
    const current = new Map([...state.params].map(([k, t]) => [k, t.data] as const));
    const rel = saveRunCheckpoint(opts.runDir, state, ts, (dir) => this.writeHf(dir, current, {}), opts.keepCheckpoints ?? 2);
    this.x.sink.checkpoint({ step: p.step, path: rel });
  }

  /** Final eval and samples (when the last step did not just have them), the final model, `finished`. */
  private async finish(reason: EndReason): Promise<SessionResult> {
    const { plan, sched, sink, progress: p } = this.x;
    if (plan.evalSize > 0 && !(sched.evalEvery > 0 && p.step % sched.evalEvery === 0)) {
      const em = await this.evaluate();
      sink.eval({ step: p.step, epoch: this.epoch(), metrics: em });
      this.lastMetrics = { ...this.lastMetrics, ...em };
    }
    // Samples of the final policy too, so the samples tab ends at the end.
    if (sched.sampleEvery > 0 && p.step % sched.sampleEvery !== 0) await this.sample();
    await this.saveFinal();
    sink.finished({ reason, step: p.step, metrics: this.lastMetrics, path: FINAL_DIR });
    return { reason, step: p.step, metrics: this.lastMetrics, finalDir: path.join(this.x.opts.runDir, FINAL_DIR), ...this.divergedResult() };
  }

  private divergedResult(): Pick<SessionResult, 'diverged'> {
    const d = this.diverged;
    return d ? { diverged: { step: d.step, reason: d.reason, message: d.message } } : {};
  }

  /** The trained model as a Hugging Face folder in `<run>/final` (LoRA adapters merged; hfFolders.ts). */
  private async saveFinal(): Promise<void> {
    const current = await currentWeights(this.x.rm, this.x.trainer);
    this.report(this.divergence.weights(this.x.progress.step, current));
    this.writeHf(path.join(this.x.opts.runDir, FINAL_DIR), current, { adapterDir: path.join(this.x.opts.runDir, ADAPTER_DIR) });
  }

  /** The model files and trainer_state.json of a checkpoint or the final folder. */
  private writeHf(dir: string, current: ReadonlyMap<string, Float32Array>, kind: { readonly adapterDir?: string }): void {
    const { spec, sched, progress: p } = this.x;
    writeModelFiles(dir, this.x.rm, current, kind);
    const at = { step: p.step, maxSteps: sched.total, epoch: this.epoch(), evalSteps: sched.evalEvery, numTokens: p.numTokens, best: p.best };
    writeTrainerState(dir, this.x.sink.file, trainerStateInfo(spec, at));
  }
}

/** Every parameter of the run model: the trainer's current values over the loaded ones (frozen stay as loaded). */
export async function currentWeights(rm: RunModel, trainer: Trainer): Promise<Map<string, Float32Array>> {
  const w = new Map(rm.weights);
  for (const [k, v] of await trainer.getParams()) w.set(k, v.data);
  return w;
}

/** Stacks K*A micro-batch tensors into one [K, A, ...] feed. */
function stack(parts: readonly HostTensor[], shape: number[], dtype: HostTensor['dtype']): HostTensor {
  const n = parts.reduce((s, p) => s + p.data.length, 0);
  if (dtype === 'int64') {
    const out = new BigInt64Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p.data as BigInt64Array, o);
      o += p.data.length;
    }
    return { dtype, shape, data: out };
  }
  if (dtype === 'bool') {
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p.data as Uint8Array, o);
      o += p.data.length;
    }
    return { dtype, shape, data: out };
  }
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, o);
    o += p.data.length;
  }
  return { dtype: 'float32', shape, data: out };
}
