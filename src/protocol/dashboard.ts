import { defineMessage, v, type Validator } from './message';

/** Messages between the host and the run dashboard (webview/dashboard). */

/** A run the dashboard can show (a workspace run, or an external trainer_state.json). */
export interface DashboardRunInfo {
  readonly id: string;
  readonly label: string;
  /** `dpo`, `reward`, ...; `external` for a trainer_state.json. */
  readonly method: string;
  readonly phase: 'pending' | 'running' | 'finished' | 'stopped' | 'failed' | 'external';
  readonly detail?: string;
  readonly step: number;
  readonly totalSteps: number;
  /** Remaining seconds at the current speed. */
  readonly etaSeconds?: number;
  /** The run's settings flattened to `a.b.c` -> value (the hyperparameter diff compares these). */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** The end of the session's stderr and the last error's detail, for a failed run. */
  readonly errorText?: string;
  /** What data preparation left out, one phrase each (`4 of 20 rows skipped`, ...): the warnings strip. */
  readonly dataLoss?: string[];
  /** The first line of each distinct warning the session wrote. */
  readonly warnings?: string[];
  /** The first sign that training diverged: the step and what was seen. */
  readonly diverged?: { readonly step: number; readonly message: string };
  /** Whether stop / resume / clone apply. */
  readonly canStop: boolean;
  readonly canResume: boolean;
  readonly canClone: boolean;
}

/** One metric's points, as parallel arrays. `value` null: the logged value was NaN or infinite. */
export interface SeriesPoints {
  readonly step: number[];
  /** Milliseconds since the Unix epoch. */
  readonly time: number[];
  readonly value: (number | null)[];
}

export interface SeriesAppend {
  readonly runId: string;
  /** True: drop what the dashboard holds for this run first (a reload, or a rewritten events file). */
  readonly reset: boolean;
  /** Metric name (TRL's; evaluation metrics prefixed `eval_`) -> new points, in step order. */
  readonly series: Readonly<Record<string, SeriesPoints>>;
}

export interface SampleRow {
  readonly prompt: string;
  readonly policy: string;
  readonly reference?: string;
  readonly scores?: { readonly policy?: number; readonly reference?: number };
}

export interface SampleSet {
  readonly step: number;
  readonly time: number;
  readonly samples: readonly SampleRow[];
  /** What the scores mean (the session event's `scoreKind`; absent for events without scores). */
  readonly scoreKind?: string;
  /** The score's formula for the table header, e.g. `implicit reward β·log(π/π_ref), β=0.1`. */
  readonly scoreLabel?: string;
}

export interface SamplesAppend {
  readonly runId: string;
  readonly reset: boolean;
  readonly sets: readonly SampleSet[];
}

// Number arrays can hold 100k+ points: checked with one loop, not one validator call per element.
const numbers = (nullable: boolean): Validator<number[]> => (x, p) => {
  if (!Array.isArray(x)) return [`${p}: expected an array`];
  for (let i = 0; i < x.length; i++) {
    const e: unknown = x[i];
    if (!(typeof e === 'number' && Number.isFinite(e)) && !(nullable && e === null)) return [`${p}[${i}]: expected a finite number${nullable ? ' or null' : ''}`];
  }
  return [];
};
const seriesPoints: Validator<SeriesPoints> = (x, p) => {
  const problems = v.object<SeriesPoints>({ step: numbers(false), time: numbers(false), value: numbers(true) as Validator<(number | null)[]> })(x, p);
  if (problems.length) return problems;
  const s = x as SeriesPoints;
  return s.step.length === s.time.length && s.step.length === s.value.length ? [] : [`${p}: step, time and value must have the same length`];
};
const setting: Validator<string | number | boolean> = (x, p) => (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) ? [] : [`${p}: expected a string, number or boolean`]);

export const runInfo = v.object<DashboardRunInfo>({
  id: v.string(),
  label: v.string(),
  method: v.string(),
  phase: v.literal('pending', 'running', 'finished', 'stopped', 'failed', 'external'),
  detail: v.optional(v.string()),
  step: v.integer(0),
  totalSteps: v.integer(0),
  etaSeconds: v.optional(v.number()),
  settings: v.record(setting),
  errorText: v.optional(v.string()),
  dataLoss: v.optional(v.array(v.string(), 100)),
  warnings: v.optional(v.array(v.string(), 100)),
  diverged: v.optional(v.object({ step: v.integer(0), message: v.string() })),
  canStop: v.boolean(),
  canResume: v.boolean(),
  canClone: v.boolean(),
});

const sampleRow = v.object<SampleRow>({
  prompt: v.string(),
  policy: v.string(),
  reference: v.optional(v.string()),
  scores: v.optional(v.object({ policy: v.optional(v.number()), reference: v.optional(v.number()) })),
});

/** webview -> host: the script is loaded and listening. */
export const DashboardReady = defineMessage('dashboard/ready', v.object<Record<string, never>>({}));
/** webview -> host: show these runs overlaid (the first is the primary run). */
export const DashboardSelect = defineMessage('dashboard/select', v.object<{ runIds: string[] }>({ runIds: v.array(v.string(), 50) }));
/** webview -> host: a run action from the dashboard's toolbar. */
export const DashboardAction = defineMessage(
  'dashboard/action',
  v.object<{ action: 'stop' | 'resume' | 'clone'; runId: string }>({ action: v.literal('stop', 'resume', 'clone'), runId: v.string() }),
);
/** host -> webview: the runs that can be shown, and which are shown now. */
export const DashboardRuns = defineMessage(
  'dashboard/runs',
  v.object<{ runs: DashboardRunInfo[]; selected: string[] }>({ runs: v.array(runInfo, 10_000), selected: v.array(v.string(), 50) }),
);
/** host -> webview: new metric points of one run. */
export const DashboardSeries = defineMessage(
  'dashboard/series',
  v.object<SeriesAppend>({ runId: v.string(), reset: v.boolean(), series: v.record(seriesPoints) }),
);
/** host -> webview: new sample generations of one run. */
export const DashboardSamples = defineMessage(
  'dashboard/samples',
  v.object<SamplesAppend>({
    runId: v.string(),
    reset: v.boolean(),
    sets: v.array(v.object<SampleSet>({ step: v.integer(0), time: v.number(), samples: v.array(sampleRow, 1000), scoreKind: v.optional(v.string()), scoreLabel: v.optional(v.string()) }), 100_000),
  }),
);
/** host -> webview: something went wrong reading a run (shown in the panel). */
export const DashboardError = defineMessage('dashboard/error', v.object<{ message: string }>({ message: v.string() }));
