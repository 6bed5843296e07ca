/**
 * One training session: a resolved run spec in, a trained model in `<run>/final` out, events all along.
 *
 *   data.ts     load (skipped rows reported with file:line), seeded train/eval split (prompts kept on one side)
 *   plan.ts     model config first -> memory estimate (refuses to start when it cannot fit), then weights +
 *               tokenizer; the method's trainer plan (src/training); reference log-probs precomputed once when
 *               the method asks for it; the trainer, K optimizer steps per runtime call
 *   resume.ts   the newest readable checkpoint of the run folder, if any (the data order is a function of the step)
 *   loop.ts     metrics every `logging` steps, eval / samples / checkpoints at their intervals; NaN guard
 *               (non-finite steps are skipped, many in a row end the run); early stopping; a stop request
 *               (SIGTERM) finishes the current call, writes a checkpoint and ends with `stopped`; at the end the
 *               model as a Hugging Face folder (LoRA merged) and `finished` with the last metrics
 *   samples.ts  greedy replies of the policy and the reference to a few prompts, with their scores
 *
 * GRPO and RLOO sample their own completions and have their own setup and loop: online.ts, onlineLoop.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPaths, SPEC_FILE } from '../core/runs/layout';
import type { RunSpec } from '../core/runs/spec';
import type { Trainer } from '../engine/step/trainer';
import { headFor } from '../training/build';
import type { RunnerOptions } from '../engine/runtime/devices';
import type { TrainerPlan } from '../training/plan';
import { describeError, isUserError } from '../util/errors';
import { loadSplit } from './data';
import { EventSink } from './events';
import { currentWeights, TrainingLoop } from './loop';
import { runHumanLoopSession } from './humanLoop';
import { isOnlineRlMethod, runOnlineSession } from './online';
import type { RunModel } from './model';
import { buildRunPlan, checkSessionSpec, createTrainer, loadFittingModel, precomputeReference, runSchedule } from './plan';
import { resumeRun } from './resume';
import { Sampler } from './samples';
import type { SessionOptions, SessionResult } from './types';

/** Runs a session to its end; never throws for run failures (they become a fatal `error` event). */
export async function runSession(spec: RunSpec, opts: SessionOptions): Promise<SessionResult> {
  const paths = runPaths(opts.runDir);
  fs.mkdirSync(paths.checkpoints, { recursive: true });
  if (!fs.existsSync(paths.spec)) fs.writeFileSync(path.join(opts.runDir, SPEC_FILE), JSON.stringify(spec, null, 2) + '\n');
  const sink = opts.sink ?? new EventSink(paths.events);
  let step = 0;
  const disposers: (() => Promise<void>)[] = [];
  try {
    return await train(spec, opts, sink, disposers, (s) => (step = s));
  } catch (e) {
    // An expected error (bad data, a missing device, ...) is its message alone; any other carries its stack.
    const shown = describeError(e);
    sink.error({ ...shown, fatal: true, ...(step ? { step } : {}), ...(isUserError(e) ? { expected: true } : {}) });
    return { reason: 'failed', step, metrics: {}, error: shown.message };
  } finally {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
    if (!opts.sink) sink.close();
  }
}

async function train(spec: RunSpec, opts: SessionOptions, sink: EventSink, disposers: (() => Promise<void>)[], setStep: (s: number) => void): Promise<SessionResult> {
  if (spec.method === 'human-dpo') return runHumanLoopSession(spec, opts, sink, disposers, setStep);
  if (isOnlineRlMethod(spec.method)) return runOnlineSession(spec, opts, sink, disposers, setStep);
  const baseDir = opts.baseDir ?? process.cwd();
  const runner: RunnerOptions = { device: spec.device, ...(opts.threads ? { threads: opts.threads } : {}) };
  checkSessionSpec(spec, sink);
  const split = await loadSplit(spec, baseDir, sink);
  const head = headFor(spec.method);
  const rm = loadFittingModel(spec, head, opts, baseDir, sink);
  const plan = buildRunPlan(spec, rm, split, sink);
  const sched = runSchedule(spec, plan, head);
  await precomputeReference(plan, rm, runner);
  const trainer = await createTrainer(spec, rm, plan, sched, runner);
  disposers.push(() => trainer.dispose());
  const progress = await resumeRun(opts.runDir, spec, trainer, sched, sink, opts);
  setStep(progress.step);
  announceStart(spec, opts, sink, { rm, plan, trainer, totalSteps: sched.total });
  const sampler = new Sampler(spec, rm, split, sink, runner, () => currentWeights(rm, trainer));
  disposers.push(() => sampler.dispose());
  return new TrainingLoop({ spec, opts, sink, rm, plan, trainer, sched, sampler, runner, progress, disposers, setStep }).run();
}

/** The `started` event: the run, its device and model, its size in steps, examples and parameters. */
function announceStart(spec: RunSpec, opts: SessionOptions, sink: EventSink, run: { rm: RunModel; plan: TrainerPlan; trainer: Trainer; totalSteps: number }): void {
  let trainable = 0;
  let totalParams = 0;
  for (const p of run.plan.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.name.startsWith('ref.')) continue;
    totalParams += n;
    if (p.trainable !== false) trainable += n;
  }
  sink.started({
    runId: path.basename(path.resolve(opts.runDir)),
    method: spec.method,
    pid: process.pid,
    device: run.trainer.device,
    model: run.rm.label,
    totalSteps: run.totalSteps,
    examples: { train: run.plan.trainSize, eval: run.plan.evalSize },
    parameters: { total: totalParams, trainable },
  });
}
