/**
 * One training session: a resolved run spec in, a trained model in `<run>/final` out, events all along.
 *
 *   data    load (skipped rows reported with file:line), seeded train/eval split (prompts kept on one side)
 *   model   config first -> memory estimate (refuses to start when it cannot fit), then weights + tokenizer
 *   plan    the method's trainer (src/training): parameters, batch fields, loss + TRL metrics
 *   ref     reference log-probs precomputed once when the method asks for it
 *   resume  the newest readable checkpoint of the run folder, if any (the data order is a function of the step)
 *   loop    K optimizer steps per runtime call; metrics every `logging` steps, eval / samples / checkpoints at
 *           their intervals; NaN guard (non-finite steps are skipped, many in a row end the run); early stopping;
 *           a stop request (SIGTERM) finishes the current call, writes a checkpoint and ends with `stopped`
 *   final   the model as a Hugging Face folder (LoRA merged), `finished` with the last metrics
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Example, Message } from '../core/datasets/examples';
import { DatasetFormatError, loadDatasetFile, type LoadResult } from '../core/datasets/formats';
import { splitTrainEval } from '../core/datasets/prepare';
import { estimateRun } from '../core/runs/estimate';
import { FINAL_DIR, runPaths, SPEC_FILE } from '../core/runs/layout';
import { totalSteps as specTotalSteps, type RunSpec } from '../core/runs/spec';
import { buildModel, mergeLora } from '../engine/models/transformer';
import { saveHfModel } from '../engine/models/hfMapping';
import type { Weights } from '../engine/models/params';
import type { HostTensor } from '../engine/runtime/tensor';
import { NonFiniteStepError, Trainer, type StepResult } from '../engine/step/trainer';
import type { TrainState } from '../engine/step/trainState';
import { ExampleOrder, promptCompletionRow } from '../training/batching';
import { buildPlan, describePacking, headFor, isOfflineMethod } from '../training/build';
import { encodePrompt } from '../training/encode';
import { PlanEvaluator, SequenceScorer } from '../training/evaluate';
import { Generator } from '../engine/generate/generator';
import { cleanTemporaryCheckpoints, loadLatestCheckpoint, saveRunCheckpoint, type TrainerStateJson } from './checkpoints';
import { EventSink } from './events';
import { loadRunModel, modelFolder, modelShape, readModelConfig } from './model';
import { SampleScorer, sampleScoreRule } from './sampleScores';

export interface SessionOptions {
  /** The run folder (spec.json, events.jsonl, checkpoints/, final/). */
  readonly runDir: string;
  /** Built-in model cache. */
  readonly cacheDir: string;
  /** Relative data and model paths resolve against this folder (the workspace). */
  readonly baseDir?: string;
  /** onnxruntime threads (default: all cores). */
  readonly threads?: number;
  /** Extra event listeners (stdout, progress bar). */
  readonly sink?: EventSink;
  /** Resolves when a stop is requested (SIGTERM): the session checkpoints and ends with `stopped`. */
  readonly stopRequested?: () => boolean;
  /** Memory the run may use, bytes (default: the machine's total memory). */
  readonly memoryBytes?: number;
  /** Checkpoints kept (default 2). */
  readonly keepCheckpoints?: number;
  /** Consecutive non-finite steps before the run fails (default 5). */
  readonly maxNonFiniteSteps?: number;
}

export interface SessionResult {
  readonly reason: 'completed' | 'stopped' | 'early-stopped' | 'failed';
  readonly step: number;
  readonly metrics: Record<string, number>;
  /** The final model folder (absent when the run failed or was stopped). */
  readonly finalDir?: string;
  readonly error?: string;
}

/** Thrown for problems a user fixes (bad data, too large a model): the message is the whole story. */
export class SessionInputError extends Error {
  override readonly name = 'SessionInputError';
  constructor(
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

const SAMPLE_PROMPTS = 4;
const SAMPLE_NEW_TOKENS = 48;

/** Sample prompts cut to fit the model's positions, and how many tokens to generate after them. */
export interface SamplePlan {
  /** Each prompt's ids, its start dropped when too long (`keep_end`, as TRL truncates prompts). */
  readonly prompts: number[][];
  /** Tokens cut from the start of each prompt (0 when it fit). */
  readonly cut: number[];
  readonly maxNewTokens: number;
}

/**
 * Fits sample prompts into a model of `maxPositions` positions: the generation gets `wantNew` tokens but at most
 * half the positions, and each prompt keeps its last `maxPositions - maxNewTokens` tokens, so the part nearest
 * the reply (the question, the generation prompt) survives.
 */
export function planSamples(promptIds: readonly (readonly number[])[], maxPositions: number, wantNew = SAMPLE_NEW_TOKENS): SamplePlan {
  const maxNewTokens = Math.max(1, Math.min(wantNew, Math.floor(maxPositions / 2)));
  const budget = Math.max(1, maxPositions - maxNewTokens);
  const prompts = promptIds.map((ids) => (ids.length > budget ? ids.slice(ids.length - budget) : [...ids]));
  return { prompts, cut: promptIds.map((ids, i) => ids.length - (prompts[i] as number[]).length), maxNewTokens };
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

function promptText(e: Example): string | readonly Message[] | undefined {
  if (e.style === 'messages') return undefined;
  return e.prompt;
}

function displayPrompt(p: string | readonly Message[]): string {
  if (typeof p === 'string') return p;
  const users = p.filter((m) => m.role === 'user');
  return (users[users.length - 1] ?? p[p.length - 1])?.content ?? '';
}

/** Loads the data file; throws SessionInputError when unusable. Skipped rows come back for reporting. */
async function loadData(spec: RunSpec, baseDir: string): Promise<LoadResult> {
  const file = path.resolve(baseDir, spec.data.path);
  if (!fs.existsSync(file)) throw new SessionInputError(`data.path: ${file} does not exist`);
  try {
    return await loadDatasetFile(file, spec.data.format ? { format: spec.data.format } : {});
  } catch (e) {
    if (e instanceof DatasetFormatError) throw new SessionInputError(e.message);
    throw e;
  }
}

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
    const err = e as Error;
    const input = e instanceof SessionInputError;
    sink.error({
      message: err.message,
      ...(input ? (err as SessionInputError).detail !== undefined ? { detail: (err as SessionInputError).detail } : {} : { detail: err.stack ?? String(e) }),
      fatal: true,
      ...(step ? { step } : {}),
    });
    return { reason: 'failed', step, metrics: {}, error: err.message };
  } finally {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
    if (!opts.sink) sink.close();
  }
}

async function train(spec: RunSpec, opts: SessionOptions, sink: EventSink, disposers: (() => Promise<void>)[], setStep: (s: number) => void): Promise<SessionResult> {
  const baseDir = opts.baseDir ?? process.cwd();
  const device = spec.device;
  const runner = { device, ...(opts.threads ? { threads: opts.threads } : {}) };
  if (!isOfflineMethod(spec.method)) throw new SessionInputError(`method: ${spec.method} is an online method; this session trains sft, reward, reward-regression, dpo, kto, orpo, simpo and cpo`);
  if (spec.dtype !== 'float32') sink.warning({ message: `dtype ${spec.dtype}: training runs in float32 on this engine` });
  if (spec.lora && spec.lora.dropout > 0) sink.warning({ message: `lora.dropout ${spec.lora.dropout} is not applied (this engine trains LoRA without dropout)` });

  // ---- data
  const data = await loadData(spec, baseDir);
  if (data.skipped.length) {
    const lines = data.skipped.slice(0, 20).map((s) => `${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}`);
    const more = data.skipped.length > 20 ? `\n... and ${data.skipped.length - 20} more` : '';
    sink.warning({ message: `${data.skipped.length} of ${data.counts.rows} rows skipped:\n${lines.join('\n')}${more}` });
  }
  if (data.examples.length === 0) throw new SessionInputError(`data.path: no usable rows in ${spec.data.path} (${data.skipped.length} skipped)`);
  const split = splitTrainEval(data.examples, { evalFraction: spec.data.evalSplit, seed: spec.seed, groupBy: 'prompt' });
  if (split.train.length === 0) throw new SessionInputError(`data.evalSplit ${spec.data.evalSplit} leaves no training examples`);

  // ---- model: estimate from the config before loading weights
  const head = headFor(spec.method);
  const dir = modelFolder(spec.model, opts.cacheDir, baseDir);
  const config = readModelConfig(dir);
  const shape = modelShape(config);
  const memoryBytes = opts.memoryBytes ?? (Number(process.env['ALIGNMENT_MEMORY_BYTES']) || os.totalmem());
  const est = estimateRun(shape, spec, { memoryBytes, flopsPerSecond: 2e10 });
  if (!est.fits) throw new SessionInputError(est.warnings.join(' '), `estimate: ${JSON.stringify(est.memory)}`);
  for (const w of est.warnings) sink.warning({ message: w });
  const rm = loadRunModel(spec, head, opts.cacheDir, spec.data.maxLength, baseDir);

  // ---- plan
  const built = buildPlan({
    method: spec.method,
    hyperparameters: spec.hyperparameters,
    model: rm.model,
    weights: rm.weights,
    tokenizer: rm.tokenizer,
    examples: split,
    limits: { maxLength: spec.data.maxLength, ...(spec.data.maxPromptLength !== undefined ? { maxPromptLength: spec.data.maxPromptLength } : {}) },
    batchSize: spec.batchSize,
  });
  const plan = built.plan;
  const tr = built.truncation;
  if (tr.promptsTruncated || tr.completionsTruncated) {
    sink.warning({ message: `truncation (data.maxLength ${spec.data.maxLength}${spec.data.maxPromptLength ? `, maxPromptLength ${spec.data.maxPromptLength}` : ''}): ${tr.promptsTruncated} prompts and ${tr.completionsTruncated} completions cut, ${tr.tokensDropped} tokens dropped` });
  }
  // Packing counts go with the other data-preparation counts (a batch is then batchSize packs, `examples` counts packs).
  if (built.packing) sink.warning({ message: describePacking(built.packing, spec.batchSize) });
  if (built.unusable.length) sink.warning({ message: `${built.unusable.length} examples not usable by ${spec.method}: ${built.unusable.slice(0, 5).map((u) => `${u.id} (${u.reason})`).join('; ')}` });

  const A = spec.gradientAccumulationSteps;
  const perStep = plan.batchSize * A;
  const total = specTotalSteps(spec, plan.trainSize);
  const evalEvery = plan.evalSize > 0 ? spec.intervals.eval : 0;
  const lmMethod = head === 'lm';
  const sampleEvery = lmMethod ? spec.intervals.sample : 0;
  const K = stepsPerRun(total, [spec.intervals.logging, evalEvery, spec.intervals.checkpoint, sampleEvery]);

  // ---- reference log-probs, once
  if (plan.reference) {
    const scorer = await SequenceScorer.create(rm.model, 'logps', { batch: plan.batchSize * 2, seqLen: plan.seqLen, padId: rm.tokenizer.padTokenId ?? 0 }, runner);
    try {
      await scorer.setWeights(rm.weights);
      for (const s of ['train', 'eval'] as const) plan.reference[s].accept(await scorer.score(plan.reference[s].rows));
    } finally {
      await scorer.dispose();
    }
  }

  // ---- trainer
  const warmupSteps = Math.floor(spec.optimizer.warmupRatio * total);
  const schedule = spec.optimizer.schedule === 'constant' ? { kind: 'constant' as const, warmupSteps } : { kind: spec.optimizer.schedule, warmupSteps, totalSteps: Math.max(total, 1) };
  const trainer = await Trainer.create(
    {
      forward: plan.forward,
      params: plan.params,
      batch: plan.batch,
      optim: { optimizer: { kind: 'adamw', lr: spec.optimizer.learningRate, weightDecay: spec.optimizer.weightDecay }, schedule, maxGradNorm: spec.optimizer.maxGradNorm },
      stepsPerRun: K,
      microBatches: A,
    },
    { initialParams: plan.initialParams, device, ...(opts.threads ? { threads: opts.threads } : {}) },
  );
  disposers.push(() => trainer.dispose());

  // ---- resume
  let examplesSeen = 0;
  let numTokens = 0;
  let best: number | null = null;
  let badEvals = 0;
  const cleaned = cleanTemporaryCheckpoints(opts.runDir);
  if (cleaned) sink.warning({ message: `removed ${cleaned} incomplete checkpoint folder(s) left by an interrupted session` });
  const latest = loadLatestCheckpoint(opts.runDir);
  for (const p of latest.problems) sink.warning({ message: p });
  let step = 0;
  if (latest.checkpoint) {
    const c = latest.checkpoint;
    if (c.trainer.method !== spec.method) throw new SessionInputError(`${c.path} was trained with ${c.trainer.method}, this run is ${spec.method}`);
    if (c.step % K !== 0 || c.step > total) throw new SessionInputError(`${c.path} is at step ${c.step}, which does not fit this run (${total} steps, ${K} per call)`);
    await trainer.setState(c.state);
    step = c.step;
    examplesSeen = c.trainer.examplesSeen;
    numTokens = c.trainer.numTokens;
    best = c.trainer.earlyStopping?.best ?? null;
    badEvals = c.trainer.earlyStopping?.badEvals ?? 0;
    setStep(step);
    sink.warning({ message: `resuming from ${c.path} (step ${step} of ${total})`, step });
  }

  let trainable = 0;
  let totalParams = 0;
  for (const p of plan.params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.name.startsWith('ref.')) continue;
    totalParams += n;
    if (p.trainable !== false) trainable += n;
  }
  sink.started({
    runId: path.basename(path.resolve(opts.runDir)),
    method: spec.method,
    pid: process.pid,
    device: trainer.device,
    model: rm.label,
    totalSteps: total,
    examples: { train: plan.trainSize, eval: plan.evalSize },
    parameters: { total: totalParams, trainable },
  });

  const order = new ExampleOrder(plan.trainSize, spec.seed);
  const epochOf = (seen: number): number => Math.round((seen / plan.trainSize) * 1000) / 1000;

  // ---- helpers
  let evaluator: PlanEvaluator | undefined;
  const evaluate = async (): Promise<Record<string, number>> => {
    if (plan.evalSize === 0) return {};
    evaluator ??= await PlanEvaluator.create(plan, runner);
    if (!disposers.includes(disposeEvaluator)) disposers.push(disposeEvaluator);
    await evaluator.setWeights(await trainer.getParams());
    const m = await evaluator.evaluate();
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [`eval_${k}`, v]));
  };
  const disposeEvaluator = async (): Promise<void> => evaluator?.dispose();

  // The model generations run on: the policy without adapters (LoRA weights are merged first).
  const genModel = rm.model.lora ? buildModel(rm.config, 'lm', { maxLength: rm.model.maxLength }) : rm.model;
  const withShapes = (weights: ReadonlyMap<string, Float32Array>): Weights => {
    const w: Weights = new Map();
    for (const p of rm.model.params) {
      const d = weights.get(p.name);
      if (d) w.set(p.name, { shape: [...p.shape], data: d });
    }
    return w;
  };
  const sampleExamples = (split.eval.length ? split.eval : split.train).map(promptText).filter((p): p is string | readonly Message[] => p !== undefined);
  const samplePrompts = [...new Map(sampleExamples.map((p) => [JSON.stringify(p), p])).values()].slice(0, SAMPLE_PROMPTS);
  const refSamples = new Map<number, { text: string; tokens: number[] }>();
  let warnedCut = false;
  const currentWeights = async (): Promise<Map<string, Float32Array>> => {
    const w = new Map(rm.weights);
    for (const [k, v] of await trainer.getParams()) w.set(k, v.data);
    return w;
  };
  // The samples' scores (sampleScores.ts): one scorer graph for the run, policy and reference replies in one batch.
  const scoreRule = sampleScoreRule(spec.method, spec.hyperparameters);
  const sampleScorer = scoreRule
    ? new SampleScorer(rm.model, scoreRule, { batch: 2 * samplePrompts.length, seqLen: rm.model.maxLength, padId: rm.tokenizer.padTokenId ?? 0 }, runner)
    : undefined;
  if (sampleScorer) disposers.push(() => sampleScorer.dispose());
  const sample = async (at: number): Promise<void> => {
    if (!samplePrompts.length) return;
    const tok = rm.tokenizer;
    const plan = planSamples(samplePrompts.map((p) => encodePrompt(tok, p)), genModel.maxLength);
    const ids = plan.prompts;
    const maxNewTokens = plan.maxNewTokens;
    const cutCount = plan.cut.filter((c) => c > 0).length;
    if (cutCount && !warnedCut) {
      warnedCut = true;
      sink.warning({ message: `samples: ${cutCount} of ${ids.length} sample prompts are longer than ${genModel.maxLength - maxNewTokens} tokens; they keep their last ${genModel.maxLength - maxNewTokens} tokens so that ${maxNewTokens} new tokens fit in the model's ${genModel.maxLength} positions`, step: at });
    }
    // What the model saw: a cut prompt is shown from where it was cut, decoded from the kept tokens.
    const shown = samplePrompts.map((p, i) => ((plan.cut[i] ?? 0) > 0 ? `…${tok.decode(ids[i] as number[], { skipSpecialTokens: true })}` : displayPrompt(p as string | readonly Message[])));
    const stopTokens = [tok.eosTokenId, rm.config.eosTokenId].flat().filter((x): x is number => typeof x === 'number');
    const gOpts = { maxNewTokens, temperature: 0, stopTokens, padTokenId: tok.padTokenId ?? 0, vocabLimit: tok.vocabSize };
    // Greedy replies of the reference (the starting model) once, of the current policy at every sample step.
    const generateWith = async (weights: ReadonlyMap<string, Float32Array>): Promise<{ text: string; tokens: number[] }[]> => {
      const w: Weights = new Map();
      for (const p of genModel.params) w.set(p.name, { shape: [...p.shape], data: weights.get(p.name) as Float32Array });
      const g = await Generator.create(genModel, rm.model.lora ? mergeLora(rm.model, withShapes(weights)) : w, runner);
      try {
        return (await g.generate(ids, gOpts)).map((r) => ({ text: tok.decode(r.tokens, { skipSpecialTokens: true }), tokens: r.tokens }));
      } finally {
        await g.dispose();
      }
    };
    if (refSamples.size === 0) (await generateWith(rm.weights)).forEach((r, i) => refSamples.set(i, r));
    const policyWeights = await currentWeights();
    const pol = await generateWith(policyWeights);
    const refs = pol.map((_, i) => refSamples.get(i) as { text: string; tokens: number[] });
    // Policy replies then reference replies, each after its (possibly cut) prompt.
    const scored = sampleScorer ? (await sampleScorer.score([...ids, ...ids], [...pol.map((r) => r.tokens), ...refs.map((r) => r.tokens)], policyWeights, rm.weights)).scores : [];
    const n = pol.length;
    sink.samples({
      step: at,
      samples: pol.map((r, i) => {
        const sp = scored[i];
        const sr = scored[n + i];
        const scores = { ...(sp !== undefined ? { policy: sp } : {}), ...(sr !== undefined ? { reference: sr } : {}) };
        return { prompt: shown[i] ?? '', policy: r.text, reference: refs[i]?.text ?? '', ...(Object.keys(scores).length ? { scores } : {}) };
      }),
      ...(scoreRule && scored.some((x) => x !== undefined) ? { scoreKind: scoreRule.kind, scoreLabel: scoreRule.label } : {}),
    });
  };

  const checkpoint = async (): Promise<void> => {
    const state: TrainState = await trainer.state();
    const ts: TrainerStateJson = {
      step,
      epoch: epochOf(examplesSeen),
      examplesSeen,
      numTokens,
      earlyStopping: { best, badEvals },
      method: spec.method,
      hyperparameters: { ...spec.hyperparameters },
    };
    const rel = saveRunCheckpoint(opts.runDir, state, ts, opts.keepCheckpoints ?? 2);
    sink.checkpoint({ step, path: rel });
  };

  const es = spec.earlyStopping;
  const improve = (value: number): boolean => {
    if (!es) return false;
    const better = best === null || (es.mode === 'min' ? value < best - es.minDelta : value > best + es.minDelta);
    if (better) {
      best = value;
      badEvals = 0;
    } else badEvals++;
    return badEvals >= es.patience;
  };

  // ---- loop
  const logAcc: Record<string, number[]> = {};
  const push = (k: string, v: number): void => void (logAcc[k] ??= []).push(v);
  let lastMetrics: Record<string, number> = {};
  let nonFiniteRun = 0;
  const maxNonFinite = opts.maxNonFiniteSteps ?? 5;
  let reason: 'completed' | 'stopped' | 'early-stopped' = 'completed';

  while (step < total) {
    if (opts.stopRequested?.()) {
      reason = 'stopped';
      break;
    }
    // K steps x A micro-batches of B examples, in the seeded order.
    const fields: Record<string, HostTensor[]> = {};
    let tokens = 0;
    for (let k = 0; k < K; k++) {
      for (let a = 0; a < A; a++) {
        const idx = order.slice(examplesSeen + (k * A + a) * plan.batchSize, plan.batchSize);
        const c = plan.collate('train', idx);
        tokens += c.tokens;
        for (const [name, t] of Object.entries(c.fields)) (fields[name] ??= []).push(t);
      }
    }
    const feeds: Record<string, HostTensor> = {};
    for (const f of plan.batch) feeds[f.name] = stack(fields[f.name] as HostTensor[], [K, A, ...f.shape], f.dtype);
    const t0 = Date.now();
    let res: StepResult;
    try {
      res = await trainer.run(feeds);
      nonFiniteRun = 0;
    } catch (e) {
      if (!(e instanceof NonFiniteStepError)) throw e;
      res = e.result;
      nonFiniteRun += e.steps.length;
      sink.warning({ message: `NaN guard: ${e.message}`, step: e.steps[0] as number });
      if (nonFiniteRun >= maxNonFinite) {
        step += K;
        setStep(step);
        throw new SessionInputError(
          `training diverged: ${nonFiniteRun} optimizer steps in a row had a non-finite loss or gradient (last loss ${res.losses[res.losses.length - 1]}). Lower optimizer.learningRate, or check the data.`,
        );
      }
    }
    const ms = Date.now() - t0;
    step += K;
    setStep(step);
    examplesSeen += K * perStep;
    for (let i = 0; i < K; i++) {
      push('loss', res.losses[i] as number);
      push('grad_norm', res.gradNorms[i] as number);
      for (const [m, vs] of Object.entries(res.metrics)) {
        if (m === 'num_tokens') numTokens += vs[i] as number;
        else push(m, vs[i] as number);
      }
    }
    push('tokens_per_second', (tokens / Math.max(ms, 1)) * 1000);
    push('step_time', ms / 1000 / K);
    const lr = res.lrs[K - 1] as number;

    if (step % spec.intervals.logging === 0 || step >= total) {
      const m: Record<string, number> = {};
      for (const [k, vs] of Object.entries(logAcc)) m[k] = vs.reduce((s, x) => s + x, 0) / vs.length;
      m.learning_rate = lr;
      if (plan.method === 'sft' || plan.method === 'reward') m.num_tokens = numTokens;
      for (const k of Object.keys(logAcc)) delete logAcc[k];
      lastMetrics = m;
      sink.metrics({ step, epoch: epochOf(examplesSeen), metrics: m });
    }
    let stopEarly = false;
    if (evalEvery > 0 && step % evalEvery === 0) {
      const em = await evaluate();
      sink.eval({ step, epoch: epochOf(examplesSeen), metrics: em });
      lastMetrics = { ...lastMetrics, ...em };
      if (es) {
        const v = em[es.metric] ?? lastMetrics[es.metric];
        if (v === undefined) sink.warning({ message: `earlyStopping.metric "${es.metric}" was not logged (logged: ${Object.keys(lastMetrics).join(', ')})`, step });
        else stopEarly = improve(v);
      }
    }
    if (sampleEvery > 0 && step % sampleEvery === 0) await sample(step);
    if (spec.intervals.checkpoint > 0 && step % spec.intervals.checkpoint === 0 && step < total) await checkpoint();
    if (stopEarly) {
      reason = 'early-stopped';
      break;
    }
  }

  if (reason === 'stopped') {
    await checkpoint();
    sink.finished({ reason, step, metrics: lastMetrics, path: '' });
    return { reason, step, metrics: lastMetrics };
  }
  // Final eval (when the last step was not an eval step), final model.
  if (plan.evalSize > 0 && !(evalEvery > 0 && step % evalEvery === 0)) {
    const em = await evaluate();
    sink.eval({ step, epoch: epochOf(examplesSeen), metrics: em });
    lastMetrics = { ...lastMetrics, ...em };
  }
  // Samples of the final policy too (when the last step was not a sample step), so the samples tab ends at the end.
  if (sampleEvery > 0 && step % sampleEvery !== 0) await sample(step);
  const finalDir = path.join(opts.runDir, FINAL_DIR);
  const weights: Weights = new Map();
  for (const [k, v] of await currentWeights()) {
    const p = rm.model.params.find((x) => x.name === k);
    if (p) weights.set(k, { shape: [...p.shape], data: v });
  }
  const merged = rm.model.lora ? mergeLora(rm.model, weights) : weights;
  saveHfModel(finalDir, rm.config, head, merged, { tokenizerFrom: rm.dir });
  sink.finished({ reason, step, metrics: lastMetrics, path: FINAL_DIR });
  return { reason, step, metrics: lastMetrics, finalDir };
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

/** Rows of prompt + completion (for scoring helpers elsewhere). */
export { promptCompletionRow };
