/**
 * The model and the trainer plan of a run, up to a trainer ready for its first step:
 *
 *   spec     the method must be one this session trains; spec fields the engine does not apply are warned about
 *   model    config first -> memory estimate (refuses to start when it cannot fit), then weights + tokenizer
 *   plan     the method's trainer (src/training): parameters, batch fields, loss + TRL metrics; truncation, packing
 *            and examples the method cannot use are reported as warnings
 *   steps    total optimizer steps, and K steps per runtime call so that every interval lands on a call's end
 *   ref      reference log-probs precomputed once when the method asks for it
 *   trainer  the training graph: forward, backward and AdamW with the spec's schedule, K steps per call
 */
import * as os from 'node:os';
import type { Example } from '../core/datasets/examples';
import type { Split } from '../core/datasets/prepare';
import { estimateRun } from '../core/runs/estimate';
import { totalSteps, type RunSpec } from '../core/runs/spec';
import type { HeadKind } from '../engine/models/params';
import { Trainer } from '../engine/step/trainer';
import { buildPlan, describePacking, isOfflineMethod, PlanDataError } from '../training/build';
import type { RunnerOptions } from '../engine/runtime/devices';
import { SequenceScorer } from '../training/evaluate';
import type { TrainerPlan } from '../training/plan';
import type { EventSink } from './events';
import { loadRunModel, modelFolder, modelShape, readModelConfig, type RunModel } from './model';
import { specOptim } from './optim';
import { SessionInputError, type SessionOptions } from './types';

/** How a run's optimizer steps are laid out. */
export interface RunSchedule {
  /** Optimizer steps of the whole run. */
  readonly total: number;
  /** Optimizer steps per runtime call. */
  readonly K: number;
  /** Micro-batches per optimizer step (gradient accumulation). */
  readonly A: number;
  /** Examples per optimizer step (batch size x A). */
  readonly perStep: number;
  /** Steps between evaluations; 0 when there is no eval split. */
  readonly evalEvery: number;
  /** Steps between sample generations; 0 for a score-head model, which cannot generate. */
  readonly sampleEvery: number;
}

/** Refuses methods this session cannot train; warns about spec fields the engine does not apply. */
export function checkSessionSpec(spec: RunSpec, sink: EventSink): void {
  if (!isOfflineMethod(spec.method)) throw new SessionInputError(`method: ${spec.method} is an online method; this session trains sft, reward, reward-regression, dpo, kto, orpo, simpo and cpo`);
  if (spec.dtype !== 'float32') sink.warning({ message: `dtype ${spec.dtype}: training runs in float32 on this engine` });
  if (spec.lora && spec.lora.dropout > 0) sink.warning({ message: `lora.dropout ${spec.lora.dropout} is not applied (this engine trains LoRA without dropout)` });
}

/** Estimates the run's memory from the model's config and loads the model only when the run fits. */
export function loadFittingModel(spec: RunSpec, head: HeadKind, opts: SessionOptions, baseDir: string, sink: EventSink): RunModel {
  const dir = modelFolder(spec.model, opts.cacheDir, baseDir);
  const shape = modelShape(readModelConfig(dir));
  const memoryBytes = opts.memoryBytes ?? (Number(process.env['ALIGNMENT_MEMORY_BYTES']) || os.totalmem());
  const est = estimateRun(shape, spec, { memoryBytes, flopsPerSecond: 2e10 });
  if (!est.fits) throw new SessionInputError(est.warnings.join(' '), `estimate: ${JSON.stringify(est.memory)}`);
  for (const w of est.warnings) sink.warning({ message: w });
  return loadRunModel(spec, head, opts.cacheDir, spec.data.maxLength, baseDir);
}

/** Runs `f`; a data set the method cannot train on is an input error that names the data file. */
function namingDataFile<T>(spec: RunSpec, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PlanDataError) throw new SessionInputError(`data.path ${spec.data.path}: ${e.message}`);
    throw e;
  }
}

/** The method's trainer plan over the split; what encoding cut or could not use is reported as warnings. */
export function buildRunPlan(spec: RunSpec, rm: RunModel, split: Split<Example>, sink: EventSink): TrainerPlan {
  const built = namingDataFile(spec, () => buildPlan({
    method: spec.method,
    hyperparameters: spec.hyperparameters,
    model: rm.model,
    weights: rm.weights,
    tokenizer: rm.tokenizer,
    examples: split,
    limits: { maxLength: spec.data.maxLength, ...(spec.data.maxPromptLength !== undefined ? { maxPromptLength: spec.data.maxPromptLength } : {}) },
    batchSize: spec.batchSize,
  }));
  const tr = built.truncation;
  if (tr.promptsTruncated || tr.completionsTruncated) {
    sink.warning({
      message: `truncation (data.maxLength ${spec.data.maxLength}${spec.data.maxPromptLength ? `, maxPromptLength ${spec.data.maxPromptLength}` : ''}): ${tr.promptsTruncated} prompts and ${tr.completionsTruncated} completions cut, ${tr.tokensDropped} tokens dropped`,
      dataLoss: { promptsTruncated: tr.promptsTruncated, completionsTruncated: tr.completionsTruncated, tokensDropped: tr.tokensDropped },
    });
  }
  // Packing counts go with the other data-preparation counts (a batch is then batchSize packs, `examples` counts packs).
  if (built.packing) sink.warning({ message: describePacking(built.packing, spec.batchSize) });
  if (built.unusable.length) {
    sink.warning({ message: `${built.unusable.length} examples not usable by ${spec.method}: ${built.unusable.slice(0, 5).map((u) => `${u.id} (${u.reason})`).join('; ')}`, dataLoss: { examplesUnusable: built.unusable.length } });
  }
  return built.plan;
}

/** The run's step layout (see {@link RunSchedule}). */
export function runSchedule(spec: RunSpec, plan: TrainerPlan, head: HeadKind): RunSchedule {
  const A = spec.gradientAccumulationSteps;
  const total = totalSteps(spec, plan.trainSize);
  const evalEvery = plan.evalSize > 0 ? spec.intervals.eval : 0;
  const sampleEvery = head === 'lm' ? spec.intervals.sample : 0;
  const K = stepsPerRun(total, [spec.intervals.logging, evalEvery, spec.intervals.checkpoint, sampleEvery]);
  return { total, K, A, perStep: plan.batchSize * A, evalEvery, sampleEvery };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Optimizer steps per runtime call: divides every interval and the total, at most 8, so events land on time. */
export function stepsPerRun(total: number, intervals: readonly number[]): number {
  let k = total;
  for (const i of intervals) if (i > 0) k = gcd(k, i);
  for (let c = Math.min(8, k); c >= 1; c--) if (k % c === 0) return c;
  return 1;
}

/** Scores the plan's reference rows once with the starting weights, when the method asks for reference log-probs. */
export async function precomputeReference(plan: TrainerPlan, rm: RunModel, runner: RunnerOptions): Promise<void> {
  if (!plan.reference) return;
  const scorer = await SequenceScorer.create(rm.model, 'logps', { batch: plan.batchSize * 2, seqLen: plan.seqLen, padId: rm.tokenizer.padTokenId ?? 0 }, runner);
  try {
    await scorer.setWeights(rm.weights);
    for (const s of ['train', 'eval'] as const) plan.reference[s].accept(await scorer.score(plan.reference[s].rows));
  } finally {
    await scorer.dispose();
  }
}

/** The trainer of the plan: the spec's optimizer (optim.ts), K steps of A micro-batches per call. */
export async function createTrainer(spec: RunSpec, rm: RunModel, plan: TrainerPlan, sched: RunSchedule, runner: RunnerOptions): Promise<Trainer> {
  return Trainer.create(
    {
      forward: plan.forward,
      params: plan.params,
      batch: plan.batch,
      optim: specOptim(spec, sched.total, rm),
      stepsPerRun: sched.K,
      microBatches: sched.A,
    },
    { initialParams: plan.initialParams, ...runner },
  );
}
