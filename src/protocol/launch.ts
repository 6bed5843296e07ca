import { defineMessage, v, type Validator } from './message';

/** Messages between the host and the launch form (webview/launch). */

export interface LaunchParam {
  readonly name: string;
  readonly kind: 'number' | 'integer' | 'boolean' | 'choice';
  readonly default: number | boolean | string;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
  readonly options?: { readonly value: string; readonly help: string }[];
}

/**
 * A reward function the form offers for online methods: a built-in (src/core/runs/specRewards.ts) or another
 * reward source that can run here (src/core/runs/launchRewardSources.ts).
 */
export interface LaunchRewardFunction {
  readonly kind: string;
  readonly title: string;
  readonly help: string;
  /**
   * The one option it takes besides its weight: the spec field it sets, a label, its kind and default, and the
   * values found in the workspace to pick from (reward-model folders).
   */
  readonly arg?: { readonly field: string; readonly label: string; readonly kind: 'text' | 'integer'; readonly default?: string; readonly choices?: LaunchChoice[] };
  /** Spec fields the row writes as they are (a configured judge's baseUrl and model). */
  readonly fixed?: Readonly<Record<string, string>>;
}

export interface LaunchMethod {
  readonly id: string;
  readonly title: string;
  readonly family: string;
  readonly summary: string;
  /** "Authors (year), Title, arXiv id". */
  readonly citation: string;
  /** The eight axes: label, value, why. */
  readonly axes: { readonly label: string; readonly value: string; readonly note: string }[];
  readonly datasetKinds: string[];
  readonly datasetNote: string;
  readonly needsRewardModel: boolean;
  readonly learningRate: number;
  readonly maxLength: number;
  readonly params: LaunchParam[];
  /** Methods trained against reward functions (GRPO, RLOO): the built-ins the reward picker offers. */
  readonly rewardFunctions?: LaunchRewardFunction[];
}

export interface LaunchChoice {
  /** `builtin`, or a folder / file path. */
  readonly value: string;
  readonly label: string;
  readonly detail?: string;
}

export interface LaunchDevice {
  readonly id: 'auto' | 'cpu' | 'cuda' | 'webgpu';
  readonly available: boolean;
  readonly note: string;
  /** For `auto`: the device it picks on this machine, when the probe ran. */
  readonly picks?: 'cpu' | 'cuda' | 'webgpu';
}

/**
 * The values the form starts from, shaped like the run spec's fields (the run defaults of src/core/runs/spec.ts).
 * The learning rate and maximum length are the method's: see {@link LaunchMethod}.
 */
export interface LaunchDefaults {
  /** The method the form opens on. */
  readonly method: string;
  readonly device: LaunchDevice['id'];
  readonly epochs: number;
  readonly maxSteps: number;
  readonly batchSize: number;
  readonly gradientAccumulationSteps: number;
  readonly seed: number;
  readonly data: { readonly evalSplit: number };
  readonly intervals: { readonly logging: number; readonly eval: number; readonly checkpoint: number; readonly sample: number };
}

export interface LaunchInit {
  /** The methods a run can train (their cards' `trainable`); no other method is offered. */
  readonly methods: LaunchMethod[];
  readonly defaults: LaunchDefaults;
  readonly models: LaunchChoice[];
  readonly datasets: LaunchChoice[];
  /** Undefined while the device probe runs (a `launch/devices` message follows). */
  readonly devices?: LaunchDevice[];
  /** A spec to fill the form from (clone-and-edit, a spec file), as JSON. */
  readonly spec?: Record<string, unknown>;
  /** Where the spec came from, for the form's title. */
  readonly specSource?: string;
  /** Reward sources besides the built-ins that can run here, offered to methods with `rewardFunctions`. */
  readonly rewardSources?: LaunchRewardFunction[];
}

export interface LaunchProblem {
  readonly path: string;
  readonly reason: string;
}

export interface LaunchEstimate {
  readonly ok: boolean;
  readonly problems: LaunchProblem[];
  readonly warnings: string[];
  readonly memoryBytes?: number;
  readonly deviceMemoryBytes?: number;
  readonly fits?: boolean;
  readonly totalSteps?: number;
  readonly secondsPerStep?: number;
  readonly totalSeconds?: number;
  readonly trainableParams?: number;
  /** What the numbers assume (device preset, record count). */
  readonly basis?: string;
  /** What a calibration session of this spec found (absent: none was asked for, e.g. an untrusted workspace). */
  readonly preview?: LaunchPreview;
}

/** The truncation preview and the basis of the measured time (src/core/runs/launchInfo.ts `estimateForm`). */
export interface LaunchPreview {
  /** True while the calibration session runs. */
  readonly measuring: boolean;
  /** What the run's data preparation leaves out, one phrase each; empty when nothing. */
  readonly dataLoss: string[];
  readonly examples?: { readonly train: number; readonly eval: number };
  /** Where the time comes from, e.g. `measured: 3 steps of this configuration on cpu (...)`. */
  readonly timeBasis?: string;
  /** The error the run would fail with. */
  readonly failure?: string;
}

const choice = v.object<LaunchChoice>({ value: v.string(), label: v.string(), detail: v.optional(v.string()) });
const device = v.object<LaunchDevice>({ id: v.literal('auto', 'cpu', 'cuda', 'webgpu'), available: v.boolean(), note: v.string(), picks: v.optional(v.literal('cpu', 'cuda', 'webgpu')) });
const paramValue: Validator<number | boolean | string> = (x, p) => (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) ? [] : [`${p}: expected a number, boolean or string`]);
const specObject: Validator<Record<string, unknown>> = (x, p) => (typeof x === 'object' && x !== null && !Array.isArray(x) ? [] : [`${p}: expected an object`]);
const problem = v.object<LaunchProblem>({ path: v.string(), reason: v.string() });

const defaults = v.object<LaunchDefaults>({
  method: v.string(),
  device: v.literal('auto', 'cpu', 'cuda', 'webgpu'),
  epochs: v.number(),
  maxSteps: v.integer(0),
  batchSize: v.integer(1),
  gradientAccumulationSteps: v.integer(1),
  seed: v.integer(0),
  data: v.object<LaunchDefaults['data']>({ evalSplit: v.number() }),
  intervals: v.object<LaunchDefaults['intervals']>({ logging: v.integer(1), eval: v.integer(0), checkpoint: v.integer(0), sample: v.integer(0) }),
});

const stringRecord: Validator<Readonly<Record<string, string>>> = (x, p) =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((s) => typeof s === 'string') ? [] : [`${p}: expected an object of strings`];
const rewardFunction = v.object<LaunchRewardFunction>({
  kind: v.string(),
  title: v.string(),
  help: v.string(),
  arg: v.optional(v.object({ field: v.string(), label: v.string(), kind: v.literal('text', 'integer'), default: v.optional(v.string()), choices: v.optional(v.array(choice)) })),
  fixed: v.optional(stringRecord),
});

const method = v.object<LaunchMethod>({
  id: v.string(),
  title: v.string(),
  family: v.string(),
  summary: v.string(),
  citation: v.string(),
  axes: v.array(v.object({ label: v.string(), value: v.string(), note: v.string() })),
  datasetKinds: v.array(v.string()),
  datasetNote: v.string(),
  needsRewardModel: v.boolean(),
  learningRate: v.number(),
  maxLength: v.integer(1),
  params: v.array(
    v.object<LaunchParam>({
      name: v.string(),
      kind: v.literal('number', 'integer', 'boolean', 'choice'),
      default: paramValue,
      help: v.string(),
      min: v.optional(v.number()),
      max: v.optional(v.number()),
      options: v.optional(v.array(v.object({ value: v.string(), help: v.string() }))),
    }),
  ),
  rewardFunctions: v.optional(v.array(rewardFunction)),
});

/** webview -> host: the form is loaded. */
export const LaunchReady = defineMessage('launch/ready', v.object<Record<string, never>>({}));
/** host -> webview: everything the form offers, the values it starts from, and a spec to start from. */
export const LaunchInitMsg = defineMessage(
  'launch/init',
  v.object<LaunchInit>({
    methods: v.array(method),
    defaults,
    models: v.array(choice),
    datasets: v.array(choice),
    devices: v.optional(v.array(device)),
    spec: v.optional(specObject),
    specSource: v.optional(v.string()),
    rewardSources: v.optional(v.array(rewardFunction)),
  }),
);
/** host -> webview: device availability (from a short probe process). */
export const LaunchDevices = defineMessage('launch/devices', v.object<{ devices: LaunchDevice[] }>({ devices: v.array(device) }));
/** webview -> host: validate the spec and estimate memory and time. */
export const LaunchEstimateRequest = defineMessage('launch/estimate', v.object<{ spec: Record<string, unknown> }>({ spec: specObject }));
/** host -> webview: the estimate (or the spec's problems). */
export const LaunchEstimateResult = defineMessage(
  'launch/estimateResult',
  v.object<LaunchEstimate>({
    ok: v.boolean(),
    problems: v.array(problem),
    warnings: v.array(v.string()),
    memoryBytes: v.optional(v.number()),
    deviceMemoryBytes: v.optional(v.number()),
    fits: v.optional(v.boolean()),
    totalSteps: v.optional(v.integer(0)),
    secondsPerStep: v.optional(v.number()),
    totalSeconds: v.optional(v.number()),
    trainableParams: v.optional(v.number()),
    basis: v.optional(v.string()),
    preview: v.optional(
      v.object<LaunchPreview>({
        measuring: v.boolean(),
        dataLoss: v.array(v.string(), 100),
        examples: v.optional(v.object({ train: v.integer(0), eval: v.integer(0) })),
        timeBasis: v.optional(v.string()),
        failure: v.optional(v.string()),
      }),
    ),
  }),
);
/** webview -> host: start the run. */
export const LaunchStart = defineMessage('launch/start', v.object<{ spec: Record<string, unknown> }>({ spec: specObject }));
/** host -> webview: the run could not start (spec problems or a launch error). */
export const LaunchStartFailed = defineMessage('launch/startFailed', v.object<{ problems: LaunchProblem[]; message?: string }>({ problems: v.array(problem), message: v.optional(v.string()) }));
/** webview -> host: pick a file or folder (model folder, dataset file, spec file to load) or save the spec. */
export const LaunchBrowse = defineMessage(
  'launch/browse',
  v.object<{ what: 'model' | 'dataset' | 'loadSpec' | 'saveSpec'; spec?: Record<string, unknown> }>({ what: v.literal('model', 'dataset', 'loadSpec', 'saveSpec'), spec: v.optional(specObject) }),
);
/** host -> webview: a picked model folder or dataset file, added to its list and selected. */
export const LaunchPicked = defineMessage('launch/picked', v.object<{ what: 'model' | 'dataset'; choice: LaunchChoice }>({ what: v.literal('model', 'dataset'), choice }));
/** host -> webview: fill the form from this spec. */
export const LaunchSetSpec = defineMessage('launch/setSpec', v.object<{ spec: Record<string, unknown>; source: string }>({ spec: specObject, source: v.string() }));
