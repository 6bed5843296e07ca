/**
 * Run specs: the JSON a training session takes (written to `<run folder>/spec.json`, see `./layout.ts`).
 *
 * `resolveRunSpec` fills what the user left out from the method card (`../methods.ts`) and the defaults below,
 * then checks every field and returns ALL problems at once, each with its JSON path, so the launch form can mark
 * every bad field and a CLI user sees everything to fix in one go.
 */
import type { FormatId } from '../datasets/examples';
import { DATASET_FORMATS } from '../datasets/formats';
import { checkHyperparameter, isMethodId, METHOD_IDS, methodCard, type HyperparameterValue, type MethodId } from '../methods';

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

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Fills defaults and validates a run spec as a user or the launch form wrote it. `outputDir` defaults to
 * `defaultOutputDir` when given. Returns every problem found (path + reason), or the complete spec.
 */
export function resolveRunSpec(input: unknown, defaultOutputDir?: string): ResolveResult {
  const problems: SpecProblem[] = [];
  const warnings: string[] = [];
  const bad = (path: string, reason: string): void => void problems.push({ path, reason });
  if (!isObj(input)) return { ok: false, problems: [{ path: '', reason: 'expected a JSON object' }], warnings };

  const known = new Set(['version', 'name', 'method', 'model', 'rewardModel', 'lora', 'data', 'hyperparameters', 'device', 'dtype', 'seed', 'outputDir', 'epochs', 'maxSteps', 'batchSize', 'gradientAccumulationSteps', 'optimizer', 'intervals', 'earlyStopping']);
  for (const k of Object.keys(input)) if (!known.has(k)) bad(k, 'unknown field');

  if (input.version !== undefined && input.version !== RUN_SPEC_VERSION) bad('version', `expected ${RUN_SPEC_VERSION}`);
  if (input.name !== undefined && typeof input.name !== 'string') bad('name', 'expected a string');

  // Method first: it decides the defaults of several other fields.
  const method = input.method;
  const methodOk = isMethodId(method);
  if (!methodOk) bad('method', method === undefined ? `missing (one of ${METHOD_IDS.join(', ')})` : `unknown method ${JSON.stringify(method)} (one of ${METHOD_IDS.join(', ')})`);
  const card = methodOk ? methodCard(method) : undefined;

  // ---- helpers that read a field, record a problem, and return a value or the default
  const num = (o: Obj, key: string, path: string, def: number | undefined, check: (x: number) => string | undefined): number => {
    const x = o[key];
    if (x === undefined) {
      if (def === undefined) bad(path, 'missing');
      return def ?? NaN;
    }
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      bad(path, 'expected a finite number');
      return NaN;
    }
    const why = check(x);
    if (why) bad(path, why);
    return x;
  };
  const int = (min: number) => (x: number): string | undefined => (Number.isInteger(x) && x >= min ? undefined : `expected an integer >= ${min}`);
  const pos = (x: number): string | undefined => (x > 0 ? undefined : 'must be > 0');
  const inRange = (lo: number, hi: number, hiOpen = false) => (x: number): string | undefined =>
    x >= lo && (hiOpen ? x < hi : x <= hi) ? undefined : `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}`;
  const obj = (x: unknown, path: string): Obj | undefined => {
    if (x === undefined) return undefined;
    if (!isObj(x)) {
      bad(path, 'expected an object');
      return undefined;
    }
    return x;
  };
  const unknownKeys = (o: Obj, path: string, keys: string[]): void => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${path}.${k}`, 'unknown field');
  };

  // ---- model
  let model: ModelRef = { kind: 'builtin' };
  const m = obj(input.model, 'model');
  if (input.model === undefined) bad('model', 'missing ({"kind": "builtin"} or {"kind": "hf", "path": ...})');
  else if (m) {
    if (m.kind === 'builtin') {
      unknownKeys(m, 'model', ['kind', 'name']);
      if (m.name !== undefined && (typeof m.name !== 'string' || m.name === '')) bad('model.name', 'expected a non-empty string');
      model = typeof m.name === 'string' && m.name ? { kind: 'builtin', name: m.name } : { kind: 'builtin' };
    } else if (m.kind === 'hf') {
      unknownKeys(m, 'model', ['kind', 'path']);
      if (typeof m.path !== 'string' || m.path.trim() === '') bad('model.path', 'expected the path of a Hugging Face model folder');
      model = { kind: 'hf', path: String(m.path ?? '') };
    } else bad('model.kind', 'expected "builtin" or "hf"');
  }

  // ---- reward model (online methods)
  let rewardModel: RewardRef | undefined;
  const rm = obj(input.rewardModel, 'rewardModel');
  if (rm) {
    if (rm.kind === 'run') {
      if (typeof rm.runId !== 'string' || rm.runId === '') bad('rewardModel.runId', 'expected a run id');
      rewardModel = { kind: 'run', runId: String(rm.runId ?? '') };
    } else if (rm.kind === 'hf') {
      if (typeof rm.path !== 'string' || rm.path === '') bad('rewardModel.path', 'expected a model folder path');
      rewardModel = { kind: 'hf', path: String(rm.path ?? '') };
    } else bad('rewardModel.kind', 'expected "run" or "hf"');
  }
  const judge = card?.id === 'online-dpo' ? (isObj(input.hyperparameters) ? input.hyperparameters.judge : undefined) ?? 'ai-judge' : undefined;
  if (card?.needsRewardModel && !rewardModel) bad('rewardModel', `${card.title} needs a reward model ({"kind": "run", "runId": ...} or {"kind": "hf", "path": ...})`);
  if (judge === 'reward-model' && !rewardModel) bad('rewardModel', 'judge "reward-model" needs a reward model');
  if (rewardModel && card && !card.needsRewardModel && judge !== 'reward-model') warnings.push(`rewardModel is ignored by ${card.title}`);

  // ---- LoRA
  let lora: LoraSpec | undefined;
  const l = obj(input.lora, 'lora');
  if (l) {
    unknownKeys(l, 'lora', ['r', 'alpha', 'dropout', 'targetModules']);
    const r = num(l, 'r', 'lora.r', RUN_DEFAULTS.lora.r, int(1));
    const alpha = num(l, 'alpha', 'lora.alpha', RUN_DEFAULTS.lora.alpha, pos);
    const dropout = num(l, 'dropout', 'lora.dropout', RUN_DEFAULTS.lora.dropout, inRange(0, 1, true));
    const tm = l.targetModules;
    let targetModules: string[] = [];
    if (tm !== undefined) {
      if (!Array.isArray(tm) || tm.length === 0 || !tm.every((t) => typeof t === 'string' && t !== '')) bad('lora.targetModules', 'expected a non-empty list of layer names');
      else targetModules = tm as string[];
    }
    lora = { r, alpha, dropout, targetModules };
  }

  // ---- data
  const d = obj(input.data, 'data');
  if (input.data === undefined) bad('data', 'missing ({"path": ...})');
  let data: DataSpec = { path: '', evalSplit: RUN_DEFAULTS.evalSplit, maxLength: card?.defaults.maxLength ?? 1024 };
  if (d) {
    unknownKeys(d, 'data', ['path', 'format', 'evalSplit', 'maxLength', 'maxPromptLength']);
    if (typeof d.path !== 'string' || d.path.trim() === '') bad('data.path', d.path === undefined ? 'missing' : 'expected a file path');
    let format: FormatId | undefined;
    if (d.format !== undefined) {
      const f = DATASET_FORMATS.find((x) => x.id === d.format);
      if (!f) bad('data.format', `unknown format ${JSON.stringify(d.format)} (one of ${DATASET_FORMATS.map((x) => x.id).join(', ')})`);
      else {
        format = f.id;
        if (card && !card.datasetKinds.includes(f.kind)) bad('data.format', `${card.title} trains on ${card.datasetKinds.join(' or ')} data; ${f.id} is ${f.kind} data`);
      }
    }
    const evalSplit = num(d, 'evalSplit', 'data.evalSplit', RUN_DEFAULTS.evalSplit, inRange(0, 1, true));
    const maxLength = num(d, 'maxLength', 'data.maxLength', card?.defaults.maxLength ?? 1024, int(2));
    // The card's prompt limit, or half of a maxLength too small for it.
    const cardPrompt = card?.defaults.maxPromptLength;
    const mpDefault = cardPrompt === undefined ? undefined : cardPrompt < maxLength ? cardPrompt : Math.max(1, Math.floor(maxLength / 2));
    const maxPromptLength = d.maxPromptLength === undefined && mpDefault === undefined ? undefined : num(d, 'maxPromptLength', 'data.maxPromptLength', mpDefault, int(1));
    if (maxPromptLength !== undefined && Number.isFinite(maxLength) && maxPromptLength >= maxLength) bad('data.maxPromptLength', `must be smaller than data.maxLength (${maxLength})`);
    data = { path: typeof d.path === 'string' ? d.path : '', ...(format ? { format } : {}), evalSplit, maxLength, ...(maxPromptLength !== undefined ? { maxPromptLength } : {}) };
  }

  // ---- hyperparameters
  const hyperparameters: Record<string, HyperparameterValue> = {};
  const h = obj(input.hyperparameters, 'hyperparameters') ?? {};
  if (card) {
    for (const p of card.hyperparameters) {
      const x = h[p.name];
      if (x === undefined) hyperparameters[p.name] = p.default;
      else {
        const why = checkHyperparameter(p, x, `hyperparameters.${p.name}`);
        for (const w of why) bad(`hyperparameters.${p.name}`, w.slice(w.indexOf(': ') + 2));
        if (!why.length) hyperparameters[p.name] = x as HyperparameterValue;
      }
    }
    for (const k of Object.keys(h)) if (!card.hyperparameters.some((p) => p.name === k)) bad(`hyperparameters.${k}`, `not a hyperparameter of ${card.id} (known: ${card.hyperparameters.map((p) => p.name).join(', ') || 'none'})`);
    // Cross-field rules of the DPO family.
    const lt = hyperparameters.loss_type;
    const ls = hyperparameters.label_smoothing;
    if (card.id === 'dpo' && (lt === 'cdpo' || lt === 'robust') && ls === 0) warnings.push(`loss_type "${lt}" with label_smoothing 0 is plain DPO; set label_smoothing (e.g. 0.1)`);
    if (card.id === 'dpo' && lt !== 'cdpo' && lt !== 'robust' && typeof ls === 'number' && ls > 0) warnings.push(`label_smoothing is ignored by loss_type "${String(lt)}"`);
  }

  // ---- device, dtype, seed, output
  const device = input.device ?? RUN_DEFAULTS.device;
  if (!['auto', 'cpu', 'cuda', 'webgpu'].includes(device as string)) bad('device', 'expected "auto", "cpu", "cuda" or "webgpu"');
  const dtype = input.dtype ?? RUN_DEFAULTS.dtype;
  if (dtype !== 'float32' && dtype !== 'float16') bad('dtype', 'expected "float32" or "float16"');
  const seed = num(input, 'seed', 'seed', RUN_DEFAULTS.seed, (x) => (Number.isInteger(x) && x >= 0 && x <= 0xffffffff ? undefined : 'expected an integer in [0, 2^32)'));
  let outputDir = defaultOutputDir ?? '';
  if (input.outputDir !== undefined) {
    if (typeof input.outputDir !== 'string' || input.outputDir.trim() === '') bad('outputDir', 'expected a folder path');
    else outputDir = input.outputDir;
  } else if (defaultOutputDir === undefined) bad('outputDir', 'missing');

  // ---- schedule
  const epochs = num(input, 'epochs', 'epochs', RUN_DEFAULTS.epochs, pos);
  const maxSteps = num(input, 'maxSteps', 'maxSteps', RUN_DEFAULTS.maxSteps, int(0));
  const batchSize = num(input, 'batchSize', 'batchSize', RUN_DEFAULTS.batchSize, int(1));
  if (card?.id === 'kto' && batchSize === 1) bad('batchSize', 'KTO needs a batch size > 1 (its reference point z0 is estimated within the batch)');
  const gradientAccumulationSteps = num(input, 'gradientAccumulationSteps', 'gradientAccumulationSteps', RUN_DEFAULTS.gradientAccumulationSteps, int(1));
  const gen = hyperparameters.num_generations;
  if (typeof gen === 'number' && Number.isInteger(batchSize) && batchSize % gen !== 0) bad('batchSize', `must be a multiple of hyperparameters.num_generations (${gen}): each prompt's group is one batch`);

  const o = obj(input.optimizer, 'optimizer') ?? {};
  unknownKeys(o, 'optimizer', ['learningRate', 'schedule', 'warmupRatio', 'weightDecay', 'maxGradNorm']);
  const learningRate = num(o, 'learningRate', 'optimizer.learningRate', card?.defaults.learningRate ?? 1e-5, (x) => (x > 0 && x < 1 ? undefined : 'must be in (0, 1)'));
  const schedule = (o.schedule ?? RUN_DEFAULTS.schedule) as Schedule;
  if (!['constant', 'linear', 'cosine'].includes(schedule)) bad('optimizer.schedule', 'expected "constant", "linear" or "cosine"');
  const warmupRatio = num(o, 'warmupRatio', 'optimizer.warmupRatio', RUN_DEFAULTS.warmupRatio, inRange(0, 1, true));
  const weightDecay = num(o, 'weightDecay', 'optimizer.weightDecay', RUN_DEFAULTS.weightDecay, (x) => (x >= 0 ? undefined : 'must be >= 0'));
  const maxGradNorm = num(o, 'maxGradNorm', 'optimizer.maxGradNorm', RUN_DEFAULTS.maxGradNorm, (x) => (x >= 0 ? undefined : 'must be >= 0'));

  const iv = obj(input.intervals, 'intervals') ?? {};
  unknownKeys(iv, 'intervals', ['logging', 'eval', 'checkpoint', 'sample']);
  const intervals: IntervalSpec = {
    logging: num(iv, 'logging', 'intervals.logging', RUN_DEFAULTS.loggingInterval, int(1)),
    eval: num(iv, 'eval', 'intervals.eval', RUN_DEFAULTS.evalInterval, int(0)),
    checkpoint: num(iv, 'checkpoint', 'intervals.checkpoint', RUN_DEFAULTS.checkpointInterval, int(0)),
    sample: num(iv, 'sample', 'intervals.sample', RUN_DEFAULTS.sampleInterval, int(0)),
  };
  if (intervals.eval > 0 && data.evalSplit === 0) warnings.push('intervals.eval is set but data.evalSplit is 0: there is nothing to evaluate on');

  let earlyStopping: EarlyStoppingSpec | undefined;
  const es = obj(input.earlyStopping, 'earlyStopping');
  if (es) {
    unknownKeys(es, 'earlyStopping', ['metric', 'patience', 'mode', 'minDelta']);
    if (typeof es.metric !== 'string' || es.metric === '') bad('earlyStopping.metric', 'expected a metric name, e.g. "eval_loss"');
    const metric = typeof es.metric === 'string' ? es.metric : '';
    const mode = es.mode ?? (/accurac|reward|margin/.test(metric) ? 'max' : 'min');
    if (mode !== 'min' && mode !== 'max') bad('earlyStopping.mode', 'expected "min" or "max"');
    const patience = num(es, 'patience', 'earlyStopping.patience', RUN_DEFAULTS.earlyStopping.patience, int(1));
    const minDelta = num(es, 'minDelta', 'earlyStopping.minDelta', RUN_DEFAULTS.earlyStopping.minDelta, (x) => (x >= 0 ? undefined : 'must be >= 0'));
    if (metric.startsWith('eval_') && (intervals.eval === 0 || data.evalSplit === 0)) bad('earlyStopping.metric', `${metric} needs evaluations: set intervals.eval > 0 and data.evalSplit > 0`);
    earlyStopping = { metric, patience, mode: mode as 'min' | 'max', minDelta };
  }

  if (problems.length || !methodOk) return { ok: false, problems, warnings };
  const spec: RunSpec = {
    version: RUN_SPEC_VERSION,
    ...(typeof input.name === 'string' ? { name: input.name } : {}),
    method,
    model,
    ...(rewardModel ? { rewardModel } : {}),
    ...(lora ? { lora } : {}),
    data,
    hyperparameters,
    device: device as Device,
    dtype: dtype as 'float32' | 'float16',
    seed,
    outputDir,
    epochs,
    maxSteps,
    batchSize,
    gradientAccumulationSteps,
    optimizer: { learningRate, schedule, warmupRatio, weightDecay, maxGradNorm },
    intervals,
    ...(earlyStopping ? { earlyStopping } : {}),
  };
  return { ok: true, spec, warnings };
}

/** Optimizer steps a run will take: maxSteps when set, else ceil(epochs * examples / (batch * accumulation)). */
export function totalSteps(spec: Pick<RunSpec, 'epochs' | 'maxSteps' | 'batchSize' | 'gradientAccumulationSteps'>, trainExamples: number): number {
  if (spec.maxSteps > 0) return spec.maxSteps;
  const perEpoch = Math.ceil(trainExamples / (spec.batchSize * spec.gradientAccumulationSteps));
  return Math.ceil(spec.epochs * perEpoch);
}
