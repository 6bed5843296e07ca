/**
 * A JSON Schema of run specs (`spec.json`), for the editor's completion, hover and squiggles (package.json's
 * `jsonValidation` points at `media/schemas/spec.schema.json`). It is built from the same tables `resolveRunSpec`
 * reads (the method cards with their hyperparameters, the dataset formats, devices, schedules and run defaults), and
 * a unit test holds the shipped file equal to {@link runSpecSchema}: `npm run schemas` rewrites it. The schema helps
 * while typing; `resolveRunSpec` stays the judge of a spec (cross-field rules, paths, what a method can train).
 */
import { DATASET_FORMATS } from '../datasets/formats';
import { METHOD_CARDS, type Hyperparameter } from '../methods';
import { DEVICES, RUN_DEFAULTS, RUN_SPEC_VERSION, SCHEDULES, TOP_LEVEL_FIELDS } from './spec';

type Schema = Record<string, unknown>;

function hyperparameterSchema(p: Hyperparameter): Schema {
  const base = { description: p.help, default: p.default };
  switch (p.kind) {
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'choice':
      return { ...base, enum: p.options.map((o) => o.value), enumDescriptions: p.options.map((o) => o.help) };
    case 'integer':
      return { ...base, type: 'integer', ...(p.min !== undefined ? { minimum: p.min } : {}), ...(p.max !== undefined ? { maximum: p.max } : {}) };
    case 'number': {
      const min = p.min === undefined ? {} : p.minExclusive ? { exclusiveMinimum: p.min } : { minimum: p.min };
      const max = p.max === undefined ? {} : p.maxExclusive ? { exclusiveMaximum: p.max } : { maximum: p.max };
      return { ...base, type: 'number', ...min, ...max };
    }
  }
}

const int = (description: string, minimum: number, def?: number): Schema => ({ type: 'integer', minimum, description, ...(def !== undefined ? { default: def } : {}) });
const num = (description: string, def?: number, extra: Schema = {}): Schema => ({ type: 'number', description, ...(def !== undefined ? { default: def } : {}), ...extra });

/** optimizer.paramGroups: parameters with a learning rate of their own. */
const PARAM_GROUPS: Schema = {
  type: 'array',
  description: 'Parameters trained at a learning rate of their own (as torch param groups that set lr); the schedule scales it as it scales learningRate.',
  items: {
    type: 'object',
    properties: {
      params: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description: 'Parameter names, as in the model\'s safetensors (model.norm.weight) or the engine\'s (norm_f.weight).' },
      learningRate: num('This group\'s peak learning rate.', undefined, { exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    },
    required: ['params', 'learningRate'],
    additionalProperties: false,
  },
};

function sectionSchemas(): Record<string, Schema> {
  const d = RUN_DEFAULTS;
  return {
    model: {
      description: 'The base model: the built-in tiny model, or a Hugging Face folder (config.json, *.safetensors, tokenizer.json).',
      oneOf: [
        { type: 'object', properties: { kind: { const: 'builtin' }, name: { type: 'string', minLength: 1 } }, required: ['kind'], additionalProperties: false },
        { type: 'object', properties: { kind: { const: 'hf' }, path: { type: 'string', minLength: 1 } }, required: ['kind', 'path'], additionalProperties: false },
      ],
    },
    data: {
      type: 'object',
      description: 'The dataset and how it is cut.',
      properties: {
        path: { type: 'string', description: 'Dataset file (.jsonl or .json), absolute or relative to the workspace folder.' },
        format: { enum: DATASET_FORMATS.map((f) => f.id), enumDescriptions: DATASET_FORMATS.map((f) => `${f.description} (${f.keys})`), description: 'Force a format; detected from the rows when absent.' },
        evalSplit: num('Fraction held out for evaluation, in [0, 1).', d.evalSplit, { minimum: 0, exclusiveMaximum: 1 }),
        maxLength: int('Longest prompt + completion in tokens.', 1),
        maxPromptLength: int('Longest prompt in tokens (prompts keep their end).', 1),
      },
      required: ['path'],
      additionalProperties: false,
    },
    lora: {
      type: 'object',
      description: 'Train low-rank adapters instead of all weights (Hu et al. 2021).',
      properties: {
        r: int('Rank of the update.', 1, d.lora.r),
        alpha: num('Scaling alpha; the update is scaled by alpha / r.', d.lora.alpha, { exclusiveMinimum: 0 }),
        dropout: num('Dropout on the adapter input.', d.lora.dropout, { minimum: 0, exclusiveMaximum: 1 }),
        targetModules: { type: 'array', items: { type: 'string' }, description: 'Linear layers to adapt, by name (q_proj, v_proj, c_attn, ...).' },
      },
      additionalProperties: false,
    },
    optimizer: {
      type: 'object',
      description: 'AdamW and its learning-rate schedule.',
      properties: {
        learningRate: num('Peak learning rate (the method card gives the default).', undefined, { exclusiveMinimum: 0 }),
        schedule: { enum: [...SCHEDULES], default: d.schedule },
        warmupRatio: num('Fraction of the steps spent warming the learning rate up from 0.', d.warmupRatio, { minimum: 0, maximum: 1 }),
        weightDecay: num('AdamW decoupled weight decay.', d.weightDecay, { minimum: 0 }),
        maxGradNorm: num('Gradients are clipped to this global L2 norm (0 = no clipping).', d.maxGradNorm, { minimum: 0 }),
        paramGroups: PARAM_GROUPS,
      },
      additionalProperties: false,
    },
    intervals: {
      type: 'object',
      description: 'Intervals in optimizer steps; 0 = never.',
      properties: {
        logging: int('Log metrics every this many steps.', 1, d.loggingInterval),
        eval: int('Evaluate on the held-out split every this many steps.', 0, d.evalInterval),
        checkpoint: int('Save a checkpoint every this many steps (0: only the final model).', 0, d.checkpointInterval),
        sample: int('Generate sample completions for the dashboard every this many steps.', 0, d.sampleInterval),
      },
      additionalProperties: false,
    },
    earlyStopping: {
      type: 'object',
      description: 'Stop when a logged metric stops improving.',
      properties: {
        metric: { type: 'string', description: 'A logged metric, usually an eval one (eval_loss, eval_rewards/accuracies).' },
        patience: int('Evaluations without improvement before stopping.', 1, d.earlyStopping.patience),
        mode: { enum: ['min', 'max'] },
        minDelta: num('Smallest change that counts as an improvement.', d.earlyStopping.minDelta, { minimum: 0 }),
      },
      required: ['metric'],
      additionalProperties: false,
    },
  };
}

/** The JSON Schema (draft-07) of a run spec. */
export function runSpecSchema(): Schema {
  const trainable = METHOD_CARDS.filter((c) => c.trainable);
  const d = RUN_DEFAULTS;
  const properties: Record<string, Schema> = {
    version: { const: RUN_SPEC_VERSION },
    name: { type: 'string', description: 'A name for the run, shown in the Runs view.' },
    method: { enum: trainable.map((c) => c.id), enumDescriptions: trainable.map((c) => `${c.title}: ${c.summary}`), description: 'The training method.' },
    rewardModel: { type: 'object', description: 'Where an online method gets its rewards: a finished reward-model run ({"kind": "run", "runId"}) or a folder ({"kind": "hf", "path"}).' },
    rewards: { type: 'object', description: 'Online methods: the reward functions, their weights and what a failing one does.' },
    generation: { type: 'object', description: 'Online methods: stop strings of the completions sampled during training.' },
    hyperparameters: { type: 'object', description: "The method's hyperparameters by TRL name (see the method card); defaults are filled in." },
    device: { enum: [...DEVICES], default: d.device },
    dtype: { enum: ['float32', 'float16'], default: d.dtype, description: 'Parameter dtype for training.' },
    seed: { type: 'integer', default: d.seed },
    outputDir: { type: 'string', description: 'The run folder; normally .alignment/runs/<id>.' },
    epochs: num('Passes over the training split.', d.epochs, { exclusiveMinimum: 0 }),
    maxSteps: int('When > 0, stop after this many optimizer steps (overrides epochs).', 0, d.maxSteps),
    batchSize: int('Examples per micro-batch (pairs count once).', 1, d.batchSize),
    gradientAccumulationSteps: int('Micro-batches per optimizer step.', 1, d.gradientAccumulationSteps),
    ...sectionSchemas(),
  };
  const missing = TOP_LEVEL_FIELDS.filter((f) => !(f in properties));
  if (missing.length) throw new Error(`runSpecSchema: no schema for ${missing.join(', ')}`);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Alignment Studio run spec',
    type: 'object',
    properties,
    required: ['method', 'data'],
    additionalProperties: false,
    allOf: trainable.map((c) => ({
      if: { properties: { method: { const: c.id } }, required: ['method'] },
      then: { properties: { hyperparameters: { properties: Object.fromEntries(c.hyperparameters.map((p) => [p.name, hyperparameterSchema(p)])), additionalProperties: false } } },
    })),
  };
}
