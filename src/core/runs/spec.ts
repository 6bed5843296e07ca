/**
 * Run specs: the JSON a training session takes (written to `<run folder>/spec.json`, see `./layout.ts`).
 *
 * `resolveRunSpec` fills what the user left out from the method card (`../methods.ts`) and the defaults below,
 * then checks every field and returns ALL problems at once, each with its JSON path, so the launch form can mark
 * every bad field and a CLI user sees everything to fix in one go. It reads one section at a time (method, model,
 * reward model, LoRA, data, hyperparameters, rewards and generation (./specRewards.ts), runtime, output, schedule,
 * optimizer, intervals, early stopping).
 * A method whose card is not `trainable` is refused here, so the CLI and the launch form, which resolve a spec
 * before they create its run folder, write nothing for it.
 */
import type { FormatId } from '../datasets/examples';
import { DATASET_FORMATS } from '../datasets/formats';
import { checkHyperparameter, isMethodId, METHOD_CARDS, methodCard, type HyperparameterValue, type MethodCard, type MethodId } from '../methods';
import { inRange, int, isObj, nonNegative, positive, SpecReader, type Obj } from './specFields';
import { judgeNeeded, refitProblems, readGeneration, readRewards, type GenerationSpec, type RewardsSpec } from './specRewards';

export const RUN_SPEC_VERSION = 1;

export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type ModelRef =
  | { readonly kind: 'builtin'; /** Name of a model shipped with the extension (default `tiny`). */ readonly name?: string }
  | { readonly kind: 'hf'; /** Folder with config.json, *.safetensors and tokenizer.json. */ readonly path: string };

/** Where an online method's rewards come from. */
export type RewardRef = { readonly kind: 'run'; /** A finished reward-model run in the same workspace. */ readonly runId: string } | { readonly kind: 'hf'; readonly path: string };

export interface LoraSpec {
  /** Rank r of the update A B (Hu et al. 2021, LoRA). */
  readonly r: number;
  /** Scaling alpha; the update is scaled by alpha / r. */
  readonly alpha: number;
  readonly dropout: number;
  /** Linear layers to adapt, by their name in the model (e.g. `q_proj`, `v_proj`, `c_attn`). */
  readonly targetModules: readonly string[];
}

export interface DataSpec {
  /** Dataset file (.jsonl or .json), absolute or relative to the workspace folder. */
  readonly path: string;
  /** Force a format; detected from the rows when absent. */
  readonly format?: FormatId;
  /** Fraction held out for evaluation, in [0, 1). */
  readonly evalSplit: number;
  /** Longest prompt + completion in tokens. */
  readonly maxLength: number;
  /** Longest prompt in tokens (prompts keep their end). */
  readonly maxPromptLength?: number;
}

export type Schedule = 'constant' | 'linear' | 'cosine';

export interface OptimizerSpec {
  readonly learningRate: number;
  readonly schedule: Schedule;
  /** Fraction of the steps spent warming the learning rate up linearly from 0. */
  readonly warmupRatio: number;
  /** AdamW decoupled weight decay (Loshchilov & Hutter 2019). */
  readonly weightDecay: number;
  /** Gradients are clipped to this global L2 norm (0 = no clipping). */
  readonly maxGradNorm: number;
  /** Parameters trained at a learning rate of their own (torch param groups that set `lr`); the schedule scales each. */
  readonly paramGroups?: readonly ParamGroupSpec[];
}

/** Parameters named as in the model's safetensors (`model.norm.weight`) or as the engine names them (`norm_f.weight`). */
export interface ParamGroupSpec {
  readonly params: readonly string[];
  readonly learningRate: number;
}

/** Intervals in optimizer steps; 0 = never (checkpoint: only the final model). */
export interface IntervalSpec {
  readonly logging: number;
  readonly eval: number;
  readonly checkpoint: number;
  /** Generate sample completions (policy vs reference) for the dashboard. */
  readonly sample: number;
}

export interface EarlyStoppingSpec {
  /** A logged metric, usually an eval one (e.g. `eval_loss`, `eval_rewards/accuracies`). */
  readonly metric: string;
  /** Evaluations without improvement before stopping. */
  readonly patience: number;
  readonly mode: 'min' | 'max';
  /** Smallest change that counts as an improvement. */
  readonly minDelta: number;
}

export interface RunSpec {
  readonly version: typeof RUN_SPEC_VERSION;
  readonly name?: string;
  readonly method: MethodId;
  readonly model: ModelRef;
  readonly rewardModel?: RewardRef;
  /** Online methods (GRPO, RLOO): the reward functions, their weights, what a failing one does. */
  readonly rewards?: RewardsSpec;
  /** Online methods: stop strings of the completions sampled during training. */
  readonly generation?: GenerationSpec;
  readonly lora?: LoraSpec;
  readonly data: DataSpec;
  /** Method hyperparameters by TRL name (see the method card), defaults filled in. */
  readonly hyperparameters: Readonly<Record<string, HyperparameterValue>>;
  readonly device: Device;
  /** Parameter dtype for training (mixed precision casts inside the graph). */
  readonly dtype: 'float32' | 'float16';
  readonly seed: number;
  /** The run folder (see `./layout.ts`); normally `.alignment/runs/<id>`. */
  readonly outputDir: string;
  readonly epochs: number;
  /** When > 0, stop after this many optimizer steps (overrides epochs, like TRL's max_steps). */
  readonly maxSteps: number;
  /** Examples per micro-batch (pairs count once). */
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly optimizer: OptimizerSpec;
  readonly intervals: IntervalSpec;
  readonly earlyStopping?: EarlyStoppingSpec;
}

export interface SpecProblem {
  /** JSON path of the field, e.g. `data.maxLength`, `hyperparameters.beta`. */
  readonly path: string;
  readonly reason: string;
}

export type ResolveResult = { readonly ok: true; readonly spec: RunSpec; readonly warnings: string[] } | { readonly ok: false; readonly problems: SpecProblem[]; readonly warnings: string[] };

/** Defaults that do not depend on the method (TRL / transformers TrainingArguments defaults unless noted). */
export const RUN_DEFAULTS = {
  device: 'auto' as Device,
  dtype: 'float32' as const,
  seed: 42,
  epochs: 3,
  maxSteps: 0,
  batchSize: 8,
  gradientAccumulationSteps: 1,
  evalSplit: 0.1,
  schedule: 'linear' as Schedule,
  warmupRatio: 0,
  weightDecay: 0,
  maxGradNorm: 1,
  /** TRL logs every 10 steps. */
  loggingInterval: 10,
  evalInterval: 100,
  checkpointInterval: 500,
  sampleInterval: 100,
  lora: { r: 16, alpha: 32, dropout: 0.05 },
  earlyStopping: { patience: 3, minDelta: 0 },
};

export const TOP_LEVEL_FIELDS = ['version', 'name', 'method', 'model', 'rewardModel', 'rewards', 'generation', 'lora', 'data', 'hyperparameters', 'device', 'dtype', 'seed', 'outputDir', 'epochs', 'maxSteps', 'batchSize', 'gradientAccumulationSteps', 'optimizer', 'intervals', 'earlyStopping'];
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'cuda', 'webgpu'];
export const SCHEDULES: readonly Schedule[] = ['constant', 'linear', 'cosine'];

/** The methods a session can train today (`trainable` on their card), in card order. */
export function trainableMethodIds(): MethodId[] {
  return METHOD_CARDS.filter((c) => c.trainable).map((c) => c.id);
}

/**
 * Fills defaults and validates a run spec as a user or the launch form wrote it. `outputDir` defaults to
 * `defaultOutputDir` when given. Returns every problem found (path + reason), or the complete spec.
 */
export function resolveRunSpec(input: unknown, defaultOutputDir?: string): ResolveResult {
  if (!isObj(input)) return { ok: false, problems: [{ path: '', reason: 'expected a JSON object' }], warnings: [] };
  const r = new SpecReader();
  r.unknownKeys(input, '', TOP_LEVEL_FIELDS);
  if (input.version !== undefined && input.version !== RUN_SPEC_VERSION) r.bad('version', `expected ${RUN_SPEC_VERSION}`);
  if (input.name !== undefined && typeof input.name !== 'string') r.bad('name', 'expected a string');
  // Method first: it decides the defaults of several other fields.
  const card = readMethod(input, r);
  const model = readModel(input, r);
  const rewardModel = readRewardModel(input, card, r);
  const lora = readLora(input, r);
  const data = readData(input, card, r);
  const hyperparameters = readHyperparameters(input, card, r);
  const rewards = readRewards(input, card, hyperparameters.max_completion_length ?? hyperparameters.max_new_tokens ?? hyperparameters.response_length, r);
  if (card?.rewardsOptional && !rewards && r.problems.length === 0) judgeNeeded(hyperparameters).forEach((m) => r.bad(m.field, m.message));
  refitProblems(hyperparameters).forEach((m) => r.bad(m.field, m.message));
  const generation = readGeneration(input, card, r);
  const runtime = readRuntime(input, r);
  const outputDir = readOutputDir(input, defaultOutputDir, r);
  const schedule = readSchedule(input, card, hyperparameters, r);
  const optimizer = readOptimizer(input, card, r);
  const intervals = readIntervals(input, data, r);
  const earlyStopping = readEarlyStopping(input, intervals, data, r);
  if (r.problems.length || !card) return { ok: false, problems: r.problems, warnings: r.warnings };
  const spec: RunSpec = {
    version: RUN_SPEC_VERSION,
    ...(typeof input.name === 'string' ? { name: input.name } : {}),
    method: card.id,
    model,
    ...(rewardModel ? { rewardModel } : {}),
    ...(rewards ? { rewards } : {}),
    ...(generation ? { generation } : {}),
    ...(lora ? { lora } : {}),
    data,
    hyperparameters,
    ...runtime,
    outputDir,
    ...schedule,
    optimizer,
    intervals,
    ...(earlyStopping ? { earlyStopping } : {}),
  };
  return { ok: true, spec, warnings: r.warnings };
}

/** The method's card; a method without a trainable card is refused here, before any run folder is written. */
function readMethod(input: Obj, r: SpecReader): MethodCard | undefined {
  const method = input.method;
  const offered = trainableMethodIds().join(', ');
  if (!isMethodId(method)) {
    r.bad('method', method === undefined ? `missing (one of ${offered})` : `unknown method ${JSON.stringify(method)} (one of ${offered})`);
    return undefined;
  }
  const card = methodCard(method);
  if (!card.trainable) r.bad('method', `${card.title} (${card.id}) cannot be trained in this version; the methods that train are ${offered}`);
  return card;
}

function readModel(input: Obj, r: SpecReader): ModelRef {
  const m = r.obj(input.model, 'model');
  if (input.model === undefined) r.bad('model', 'missing ({"kind": "builtin"} or {"kind": "hf", "path": ...})');
  if (!m) return { kind: 'builtin' };
  if (m.kind === 'builtin') {
    r.unknownKeys(m, 'model', ['kind', 'name']);
    if (m.name !== undefined && (typeof m.name !== 'string' || m.name === '')) r.bad('model.name', 'expected a non-empty string');
    return typeof m.name === 'string' && m.name ? { kind: 'builtin', name: m.name } : { kind: 'builtin' };
  }
  if (m.kind === 'hf') {
    r.unknownKeys(m, 'model', ['kind', 'path']);
    if (typeof m.path !== 'string' || m.path.trim() === '') r.bad('model.path', 'expected the path of a Hugging Face model folder');
    return { kind: 'hf', path: String(m.path ?? '') };
  }
  r.bad('model.kind', 'expected "builtin" or "hf"');
  return { kind: 'builtin' };
}

/** The reward model of an online method that needs one (PPO). */
function readRewardModel(input: Obj, card: MethodCard | undefined, r: SpecReader): RewardRef | undefined {
  let rewardModel: RewardRef | undefined;
  const rm = r.obj(input.rewardModel, 'rewardModel');
  if (rm?.kind === 'run') {
    if (typeof rm.runId !== 'string' || rm.runId === '') r.bad('rewardModel.runId', 'expected a run id');
    rewardModel = { kind: 'run', runId: String(rm.runId ?? '') };
  } else if (rm?.kind === 'hf') {
    if (typeof rm.path !== 'string' || rm.path === '') r.bad('rewardModel.path', 'expected a model folder path');
    rewardModel = { kind: 'hf', path: String(rm.path ?? '') };
  } else if (rm) r.bad('rewardModel.kind', 'expected "run" or "hf"');
  if (card?.needsRewardModel && !rewardModel) r.bad('rewardModel', `${card.title} needs a reward model ({"kind": "run", "runId": ...} or {"kind": "hf", "path": ...})`);
  if (rewardModel && card && !card.needsRewardModel) r.warn(`rewardModel is ignored by ${card.title}`);
  return rewardModel;
}

function readLora(input: Obj, r: SpecReader): LoraSpec | undefined {
  const l = r.obj(input.lora, 'lora');
  if (!l) return undefined;
  r.unknownKeys(l, 'lora', ['r', 'alpha', 'dropout', 'targetModules']);
  const rank = r.num(l, 'r', 'lora.r', RUN_DEFAULTS.lora.r, int(1));
  const alpha = r.num(l, 'alpha', 'lora.alpha', RUN_DEFAULTS.lora.alpha, positive);
  const dropout = r.num(l, 'dropout', 'lora.dropout', RUN_DEFAULTS.lora.dropout, inRange(0, 1, true));
  const tm = l.targetModules;
  let targetModules: string[] = [];
  if (tm !== undefined) {
    if (!Array.isArray(tm) || tm.length === 0 || !tm.every((t) => typeof t === 'string' && t !== '')) r.bad('lora.targetModules', 'expected a non-empty list of layer names');
    else targetModules = tm as string[];
  }
  return { r: rank, alpha, dropout, targetModules };
}

function readData(input: Obj, card: MethodCard | undefined, r: SpecReader): DataSpec {
  const d = r.obj(input.data, 'data');
  if (input.data === undefined) r.bad('data', 'missing ({"path": ...})');
  if (!d) return { path: '', evalSplit: RUN_DEFAULTS.evalSplit, maxLength: card?.defaults.maxLength ?? 1024 };
  r.unknownKeys(d, 'data', ['path', 'format', 'evalSplit', 'maxLength', 'maxPromptLength']);
  if (typeof d.path !== 'string' || d.path.trim() === '') r.bad('data.path', d.path === undefined ? 'missing' : 'expected a file path');
  const format = readDataFormat(d, card, r);
  const evalSplit = r.num(d, 'evalSplit', 'data.evalSplit', RUN_DEFAULTS.evalSplit, inRange(0, 1, true));
  const maxLength = r.num(d, 'maxLength', 'data.maxLength', card?.defaults.maxLength ?? 1024, int(2));
  // The card's prompt limit, or half of a maxLength too small for it.
  const cardPrompt = card?.defaults.maxPromptLength;
  const mpDefault = cardPrompt === undefined ? undefined : cardPrompt < maxLength ? cardPrompt : Math.max(1, Math.floor(maxLength / 2));
  const maxPromptLength = d.maxPromptLength === undefined && mpDefault === undefined ? undefined : r.num(d, 'maxPromptLength', 'data.maxPromptLength', mpDefault, int(1));
  if (maxPromptLength !== undefined && Number.isFinite(maxLength) && maxPromptLength >= maxLength) r.bad('data.maxPromptLength', `must be smaller than data.maxLength (${maxLength})`);
  return { path: typeof d.path === 'string' ? d.path : '', ...(format ? { format } : {}), evalSplit, maxLength, ...(maxPromptLength !== undefined ? { maxPromptLength } : {}) };
}

/** A forced dataset format, which must be of a kind the method trains on. */
function readDataFormat(d: Obj, card: MethodCard | undefined, r: SpecReader): FormatId | undefined {
  if (d.format === undefined) return undefined;
  const f = DATASET_FORMATS.find((x) => x.id === d.format);
  if (!f) {
    r.bad('data.format', `unknown format ${JSON.stringify(d.format)} (one of ${DATASET_FORMATS.map((x) => x.id).join(', ')})`);
    return undefined;
  }
  if (card && !card.datasetKinds.includes(f.kind)) r.bad('data.format', `${card.title} trains on ${card.datasetKinds.join(' or ')} data; ${f.id} is ${f.kind} data`);
  return f.id;
}

/** The card's hyperparameters: given values checked against the card, the others at the card's defaults. */
function readHyperparameters(input: Obj, card: MethodCard | undefined, r: SpecReader): Record<string, HyperparameterValue> {
  const hyperparameters: Record<string, HyperparameterValue> = {};
  const h = r.obj(input.hyperparameters, 'hyperparameters') ?? {};
  if (!card) return hyperparameters;
  for (const p of card.hyperparameters) {
    const x = h[p.name];
    if (x === undefined) hyperparameters[p.name] = p.default;
    else {
      const why = checkHyperparameter(p, x, `hyperparameters.${p.name}`);
      for (const w of why) r.bad(`hyperparameters.${p.name}`, w.slice(w.indexOf(': ') + 2));
      if (!why.length) hyperparameters[p.name] = x as HyperparameterValue;
    }
  }
  for (const k of Object.keys(h)) if (!card.hyperparameters.some((p) => p.name === k)) r.bad(`hyperparameters.${k}`, `not a hyperparameter of ${card.id} (known: ${card.hyperparameters.map((p) => p.name).join(', ') || 'none'})`);
  // Cross-field rules of the DPO family.
  const lt = hyperparameters.loss_type;
  const ls = hyperparameters.label_smoothing;
  if (card.id === 'dpo' && (lt === 'cdpo' || lt === 'robust') && ls === 0) r.warn(`loss_type "${lt}" with label_smoothing 0 is plain DPO; set label_smoothing (e.g. 0.1)`);
  if (card.id === 'dpo' && lt !== 'cdpo' && lt !== 'robust' && typeof ls === 'number' && ls > 0) r.warn(`label_smoothing is ignored by loss_type "${String(lt)}"`);
  return hyperparameters;
}

/** Device, parameter dtype and seed. */
function readRuntime(input: Obj, r: SpecReader): Pick<RunSpec, 'device' | 'dtype' | 'seed'> {
  const device = input.device ?? RUN_DEFAULTS.device;
  if (!DEVICES.includes(device as Device)) r.bad('device', 'expected "auto", "cpu", "cuda" or "webgpu"');
  const dtype = input.dtype ?? RUN_DEFAULTS.dtype;
  if (dtype !== 'float32' && dtype !== 'float16') r.bad('dtype', 'expected "float32" or "float16"');
  const seed = r.num(input, 'seed', 'seed', RUN_DEFAULTS.seed, (x) => (Number.isInteger(x) && x >= 0 && x <= 0xffffffff ? undefined : 'expected an integer in [0, 2^32)'));
  return { device: device as Device, dtype: dtype as RunSpec['dtype'], seed };
}

function readOutputDir(input: Obj, defaultOutputDir: string | undefined, r: SpecReader): string {
  if (input.outputDir === undefined) {
    if (defaultOutputDir === undefined) r.bad('outputDir', 'missing');
    return defaultOutputDir ?? '';
  }
  if (typeof input.outputDir !== 'string' || input.outputDir.trim() === '') {
    r.bad('outputDir', 'expected a folder path');
    return defaultOutputDir ?? '';
  }
  return input.outputDir;
}

/** How long the run trains and in what batches. */
function readSchedule(input: Obj, card: MethodCard | undefined, hyperparameters: Readonly<Record<string, HyperparameterValue>>, r: SpecReader): Pick<RunSpec, 'epochs' | 'maxSteps' | 'batchSize' | 'gradientAccumulationSteps'> {
  const epochs = r.num(input, 'epochs', 'epochs', RUN_DEFAULTS.epochs, positive);
  const maxSteps = r.num(input, 'maxSteps', 'maxSteps', RUN_DEFAULTS.maxSteps, int(0));
  const batchSize = r.num(input, 'batchSize', 'batchSize', RUN_DEFAULTS.batchSize, int(1));
  if (card?.id === 'kto' && batchSize === 1) r.bad('batchSize', 'KTO needs a batch size > 1 (its reference point z0 is estimated within the batch)');
  const gradientAccumulationSteps = r.num(input, 'gradientAccumulationSteps', 'gradientAccumulationSteps', RUN_DEFAULTS.gradientAccumulationSteps, int(1));
  const gen = hyperparameters.num_generations;
  if (typeof gen === 'number' && Number.isInteger(batchSize) && batchSize % gen !== 0) r.bad('batchSize', `must be a multiple of hyperparameters.num_generations (${gen}): each prompt's group is one batch`);
  return { epochs, maxSteps, batchSize, gradientAccumulationSteps };
}

function readOptimizer(input: Obj, card: MethodCard | undefined, r: SpecReader): OptimizerSpec {
  const o = r.obj(input.optimizer, 'optimizer') ?? {};
  r.unknownKeys(o, 'optimizer', ['learningRate', 'schedule', 'warmupRatio', 'weightDecay', 'maxGradNorm', 'paramGroups']);
  const learningRate = r.num(o, 'learningRate', 'optimizer.learningRate', card?.defaults.learningRate ?? 1e-5, (x) => (x > 0 && x < 1 ? undefined : 'must be in (0, 1)'));
  const schedule = (o.schedule ?? RUN_DEFAULTS.schedule) as Schedule;
  if (!SCHEDULES.includes(schedule)) r.bad('optimizer.schedule', 'expected "constant", "linear" or "cosine"');
  const warmupRatio = r.num(o, 'warmupRatio', 'optimizer.warmupRatio', RUN_DEFAULTS.warmupRatio, inRange(0, 1, true));
  const weightDecay = r.num(o, 'weightDecay', 'optimizer.weightDecay', RUN_DEFAULTS.weightDecay, nonNegative);
  const maxGradNorm = r.num(o, 'maxGradNorm', 'optimizer.maxGradNorm', RUN_DEFAULTS.maxGradNorm, nonNegative);
  const paramGroups = readParamGroups(o.paramGroups, r);
  return { learningRate, schedule, warmupRatio, weightDecay, maxGradNorm, ...(paramGroups ? { paramGroups } : {}) };
}

/** optimizer.paramGroups: each a non-empty list of parameter names with a learning rate in (0, 1); whether the names exist is the session's check (it has the model). */
function readParamGroups(v: unknown, r: SpecReader): ParamGroupSpec[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    r.bad('optimizer.paramGroups', 'expected a list of {"params": [names], "learningRate": number}');
    return undefined;
  }
  return v.flatMap((g: unknown, i) => {
    const at = `optimizer.paramGroups[${i}]`;
    const o = r.obj(g, at);
    if (!o) return [];
    r.unknownKeys(o, at, ['params', 'learningRate']);
    const learningRate = r.num(o, 'learningRate', `${at}.learningRate`, undefined, (x) => (x > 0 && x < 1 ? undefined : 'must be in (0, 1)'));
    const ps = o.params;
    if (!Array.isArray(ps) || ps.length === 0 || !ps.every((n) => typeof n === 'string' && n !== '')) {
      r.bad(`${at}.params`, 'expected a non-empty list of parameter names');
      return [];
    }
    return [{ params: ps as string[], learningRate }];
  });
}

function readIntervals(input: Obj, data: DataSpec, r: SpecReader): IntervalSpec {
  const iv = r.obj(input.intervals, 'intervals') ?? {};
  r.unknownKeys(iv, 'intervals', ['logging', 'eval', 'checkpoint', 'sample']);
  const intervals: IntervalSpec = {
    logging: r.num(iv, 'logging', 'intervals.logging', RUN_DEFAULTS.loggingInterval, int(1)),
    eval: r.num(iv, 'eval', 'intervals.eval', RUN_DEFAULTS.evalInterval, int(0)),
    checkpoint: r.num(iv, 'checkpoint', 'intervals.checkpoint', RUN_DEFAULTS.checkpointInterval, int(0)),
    sample: r.num(iv, 'sample', 'intervals.sample', RUN_DEFAULTS.sampleInterval, int(0)),
  };
  // Only an interval the user set is worth a warning: the default one is simply unused without an eval split.
  if (iv.eval !== undefined && intervals.eval > 0 && data.evalSplit === 0) r.warn('intervals.eval is set but data.evalSplit is 0: there is nothing to evaluate on');
  return intervals;
}

function readEarlyStopping(input: Obj, intervals: IntervalSpec, data: DataSpec, r: SpecReader): EarlyStoppingSpec | undefined {
  const es = r.obj(input.earlyStopping, 'earlyStopping');
  if (!es) return undefined;
  r.unknownKeys(es, 'earlyStopping', ['metric', 'patience', 'mode', 'minDelta']);
  if (typeof es.metric !== 'string' || es.metric === '') r.bad('earlyStopping.metric', 'expected a metric name, e.g. "eval_loss"');
  const metric = typeof es.metric === 'string' ? es.metric : '';
  // Accuracies, rewards and margins improve upwards; losses downwards.
  const mode = es.mode ?? (/accurac|reward|margin/.test(metric) ? 'max' : 'min');
  if (mode !== 'min' && mode !== 'max') r.bad('earlyStopping.mode', 'expected "min" or "max"');
  const patience = r.num(es, 'patience', 'earlyStopping.patience', RUN_DEFAULTS.earlyStopping.patience, int(1));
  const minDelta = r.num(es, 'minDelta', 'earlyStopping.minDelta', RUN_DEFAULTS.earlyStopping.minDelta, nonNegative);
  if (metric.startsWith('eval_') && (intervals.eval === 0 || data.evalSplit === 0)) r.bad('earlyStopping.metric', `${metric} needs evaluations: set intervals.eval > 0 and data.evalSplit > 0`);
  return { metric, patience, mode: mode as EarlyStoppingSpec['mode'], minDelta };
}

/** Optimizer steps a run will take: maxSteps when set, else ceil(epochs * examples / (batch * accumulation)). */
export function totalSteps(spec: Pick<RunSpec, 'epochs' | 'maxSteps' | 'batchSize' | 'gradientAccumulationSteps'>, trainExamples: number): number {
  if (spec.maxSteps > 0) return spec.maxSteps;
  const perEpoch = Math.ceil(trainExamples / (spec.batchSize * spec.gradientAccumulationSteps));
  return Math.ceil(spec.epochs * perEpoch);
}
