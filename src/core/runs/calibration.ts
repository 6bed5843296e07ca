/**
 * Measured time estimates. A short calibration session (`alignment preflight`, src/session/preflight.ts) runs the
 * chosen configuration for CALIBRATION_STEPS optimizer steps with an evaluation and a sample set at its last step;
 * its event times give what one step, one evaluation, one sample set and the setup cost on this machine. A run's
 * time is then those measurements times how often the run does each (its layout), not a FLOP formula.
 *
 * From the calibration events (times in ms, t0 = when the session was started):
 *   step      (t(metrics at the last step) - t(metrics at the first step)) / (last step - first step)
 *   setup     t(metrics at the first step) - t0 - step: model load, graph build, reference log-probs, warm-up
 *   eval      t(eval) - t(metrics at the last step), when there is an eval split
 *   sample    t(samples) - the event before it, when samples are on (the first sample set also generates the
 *             start model's replies, so later sets cost about half of it)
 *   finalize  t(finished) - the event before it: the final model written
 */
import type { SessionEvent } from '../../protocol/session';
import type { StepTiming } from '../../protocol/preflight';
import { totalSteps, type RunSpec } from './spec';

/** Optimizer steps a calibration session times (the first includes the warm-up, so at least 3). */
export const CALIBRATION_STEPS = 3;

/** The spec a calibration session runs: the same configuration, CALIBRATION_STEPS steps, eval and samples at the end. */
export function calibrationSpec(spec: RunSpec, outputDir: string): RunSpec {
  const { earlyStopping: _drop, ...rest } = spec;
  return {
    ...rest,
    outputDir,
    maxSteps: CALIBRATION_STEPS,
    intervals: { logging: 1, eval: CALIBRATION_STEPS, checkpoint: 0, sample: spec.intervals.sample > 0 ? CALIBRATION_STEPS : 0 },
  };
}

/** The timing of a calibration session from its events (see module comment); undefined when it did not finish. */
export function stepTimingFromEvents(events: readonly SessionEvent[], t0: number): StepTiming | undefined {
  const metrics = events.filter((e) => e.type === 'metrics');
  const first = metrics[0];
  const last = metrics[metrics.length - 1];
  const started = events.find((e) => e.type === 'started');
  const finishedAt = events.findIndex((e) => e.type === 'finished');
  if (!first || !last || !started || finishedAt < 0 || last.params.step <= first.params.step) return undefined;
  const step = (last.params.time - first.params.time) / 1000 / (last.params.step - first.params.step);
  const after = (i: number): number => ((events[i] as SessionEvent).params.time - (events[i - 1] as SessionEvent).params.time) / 1000;
  const evalAt = events.findIndex((e) => e.type === 'eval');
  const sampleAt = events.findIndex((e) => e.type === 'samples');
  return {
    device: started.type === 'started' ? started.params.device : 'cpu',
    setupSeconds: Math.max(0, (first.params.time - t0) / 1000 - step),
    secondsPerStep: step,
    ...(evalAt > 0 ? { evalSeconds: after(evalAt) } : {}),
    ...(sampleAt > 0 ? { sampleSeconds: after(sampleAt) } : {}),
    finalizeSeconds: finishedAt > 0 ? after(finishedAt) : 0,
  };
}

/** How often a run does each timed thing. */
export interface RunLayout {
  readonly steps: number;
  readonly evals: number;
  readonly sampleSets: number;
}

/** The layout of a run with `train` / `evalCount` examples, as the session's loop lays it out (loop.ts). */
export function runLayout(spec: Pick<RunSpec, 'epochs' | 'maxSteps' | 'batchSize' | 'gradientAccumulationSteps' | 'intervals'>, train: number, evalCount: number): RunLayout {
  const steps = totalSteps(spec, train);
  const every = (n: number): number => (n > 0 ? Math.floor(steps / n) : 0);
  const evalEvery = evalCount > 0 ? spec.intervals.eval : 0;
  // The loop evaluates at each interval, and once more at the end when the last step was not one of them.
  const evals = evalCount > 0 ? every(evalEvery) + (evalEvery > 0 && steps % evalEvery === 0 ? 0 : 1) : 0;
  const s = spec.intervals.sample;
  const sampleSets = s > 0 ? every(s) + (steps % s === 0 ? 0 : 1) : 0;
  return { steps, evals, sampleSets };
}

/** Seconds a run of `layout` takes at the measured `timing`. */
export function calibratedSeconds(timing: StepTiming, layout: RunLayout): number {
  const sample = timing.sampleSeconds ?? 0;
  // The first sample set also generates the start model's replies (about half of the measured set).
  const samples = layout.sampleSets > 0 ? sample + (layout.sampleSets - 1) * sample * 0.5 : 0;
  return timing.setupSeconds + layout.steps * timing.secondsPerStep + layout.evals * (timing.evalSeconds ?? 0) + samples + timing.finalizeSeconds;
}

/**
 * What a measurement depends on: the model, the method and its hyperparameters, the shapes of a step (batch,
 * accumulation, lengths, LoRA, dtype), the device, and whether samples and evaluation run. Data contents and the
 * run's length do not change the time of one step.
 */
export function calibrationKey(spec: RunSpec): string {
  const { model, method, batchSize, gradientAccumulationSteps, data, lora, dtype, device, hyperparameters, generation, rewards, rewardModel } = spec;
  return JSON.stringify({ model, method, batchSize, gradientAccumulationSteps, maxLength: data.maxLength, maxPromptLength: data.maxPromptLength, eval: data.evalSplit > 0, samples: spec.intervals.sample > 0, lora, dtype, device, hyperparameters, generation, rewards, rewardModel });
}
