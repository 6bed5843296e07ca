/**
 * Training-session events: what a session process writes, one JSON object per line, to its stdout and to the run
 * folder's `events.jsonl`, and what the host and the dashboard read back. Each line is an envelope
 * `{"type": ..., "params": {...}}` defined with `defineMessage`, so both sides validate the same shapes.
 *
 * Metric names are TRL's (`loss`, `rewards/chosen`, `grad_norm`, ...; ALIGNMENT_REFERENCE.md section 5). A metric
 * value is a number, or null when it was not finite (NaN and Infinity have no JSON form): a diverged loss is
 * shown as such rather than dropped.
 *
 * The parser never throws: unknown event types (from a newer session) and malformed lines become warnings with
 * their line number, and everything else is returned.
 */
import { defineMessage, isRecord, v, type Envelope, type MessageType, type Validator } from './message';

/** Metric name -> value (null: the value was NaN or infinite). */
export type Metrics = Record<string, number | null>;

const metricValue: Validator<number | null> = (x, p) => (x === null || (typeof x === 'number' && Number.isFinite(x)) ? [] : [`${p}: expected a finite number or null`]);
const metricsRecord: Validator<Metrics> = v.record(metricValue);
const evalMetrics: Validator<Metrics> = (x, p) => {
  const problems = metricsRecord(x, p);
  if (problems.length) return problems;
  return Object.keys(x as Metrics)
    .filter((k) => !k.startsWith('eval_'))
    .map((k) => `${p}.${k}: evaluation metric names start with "eval_"`);
};
const time = v.number();
const step = v.integer(0);

export interface StartedParams {
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  readonly runId: string;
  readonly method: string;
  /** The session's process id (lets the registry notice a session that died without a final event). */
  readonly pid?: number;
  /** The device actually used, e.g. `cpu`, `cuda:0`. */
  readonly device: string;
  /** The model as resolved, e.g. `builtin:tiny-gpt2` or a folder path. */
  readonly model: string;
  readonly totalSteps: number;
  readonly examples: { readonly train: number; readonly eval: number };
  readonly parameters?: { readonly total: number; readonly trainable: number };
}

export interface MetricsParams {
  readonly time: number;
  /** Optimizer step (1-based after the first update). */
  readonly step: number;
  /** Fractional epoch, e.g. 1.25. */
  readonly epoch: number;
  /** TRL metric names -> values, averaged over the logging interval. */
  readonly metrics: Metrics;
}

export interface EvalParams {
  readonly time: number;
  readonly step: number;
  readonly epoch: number;
  /** Names prefixed `eval_` as TRL logs them, e.g. `eval_loss`, `eval_rewards/accuracies`. */
  readonly metrics: Metrics;
}

export interface Sample {
  readonly prompt: string;
  /** The current policy's completion. */
  readonly policy: string;
  /** The reference policy's completion for the same prompt. */
  readonly reference?: string;
  /** Reward scores (reward model or judge) of each, when a scorer is available. */
  readonly scores?: { readonly policy?: number; readonly reference?: number };
}

/**
 * What a sample's score is (the same formula for the policy's and the reference model's reply, y given prompt x):
 * - `implicit-reward`: beta * (log pi_theta(y|x) - log pi_ref(y|x)), summed over reply tokens (DPO family, KTO);
 * - `length-normalized-reward`: beta / |y| * log pi_theta(y|x) (SimPO; ORPO logs the same with its lambda);
 * - `summed-reward`: beta * log pi_theta(y|x) (CPO);
 * - `mean-logp`: 1 / |y| * log pi_theta(y|x), the mean token log-prob under the policy (SFT);
 * - `reward`: the weighted sum of the run's reward functions (online methods: GRPO, RLOO), for sampled completions.
 */
export type SampleScoreKind = 'implicit-reward' | 'length-normalized-reward' | 'summed-reward' | 'mean-logp' | 'reward';

export const SAMPLE_SCORE_KINDS: readonly SampleScoreKind[] = ['implicit-reward', 'length-normalized-reward', 'summed-reward', 'mean-logp', 'reward'];

export interface SamplesParams {
  readonly time: number;
  readonly step: number;
  readonly samples: readonly Sample[];
  /** What `scores` mean (absent in events written before scores were filled, or when no sample is scored). */
  readonly scoreKind?: SampleScoreKind;
  /** The score's formula with its constants, for a table header, e.g. `implicit reward β·log(π/π_ref), β=0.1`. */
  readonly scoreLabel?: string;
}

export interface CheckpointParams {
  readonly time: number;
  readonly step: number;
  /** Checkpoint folder, relative to the run folder (e.g. `checkpoints/step-500`). */
  readonly path: string;
}

/**
 * What a run's data preparation left out, counted (each warning carries the counts of its own kind; a resumed
 * session repeats them with the same numbers):
 * - `rowsSkipped` of `rows`: lines of the data file that could not be read as an example;
 * - `promptsTruncated`, `completionsTruncated`, `tokensDropped`: what truncation to data.maxLength cut;
 * - `examplesUnusable`: examples the method cannot train on (e.g. pairs without ratings for reward regression).
 */
export interface DataLoss {
  readonly rows?: number;
  readonly rowsSkipped?: number;
  readonly promptsTruncated?: number;
  readonly completionsTruncated?: number;
  readonly tokensDropped?: number;
  readonly examplesUnusable?: number;
}

export interface WarningParams {
  readonly time: number;
  readonly message: string;
  readonly step?: number;
  /** Set on the data-preparation warnings: what they dropped, for the dashboard's warnings strip. */
  readonly dataLoss?: DataLoss;
}

export interface ErrorParams {
  readonly time: number;
  readonly message: string;
  /** Longer text: the cause, a stack, what to do. */
  readonly detail?: string;
  /** True when the session stops because of it (the run failed). */
  readonly fatal: boolean;
  readonly step?: number;
  /**
   * True for an expected error (bad spec, data or model; src/util/errors.ts `UserError`): resuming the run as it
   * is repeats it, so the editor offers no Resume unless the run has a checkpoint to continue from.
   */
  readonly expected?: boolean;
}

/**
 * Why a session thinks its training diverged (src/session/divergence.ts):
 * - `loss-above-range`: a step's loss far above the range of the run's first steps;
 * - `loss-above-chance`: a token loss far above chance, ln(vocabulary size);
 * - `grad-norm-zero`: the gradient norm exactly 0 for several steps in a row (nothing is learned);
 * - `grad-norm-non-finite`: a NaN or infinite gradient norm;
 * - `weights-non-finite`: a NaN or infinite weight;
 * - `rewards-exploding`: an implicit reward (`rewards/chosen`, ...) far beyond its first steps and any sane size;
 * - `kl-exploding`: the KL to the reference (`objective/kl`, `kl`) far beyond its first steps and any sane size;
 * - `samples-collapsed`: every sample reply is empty or one character repeated, where the start model's were not.
 */
export type DivergenceReason =
  | 'loss-above-range'
  | 'loss-above-chance'
  | 'grad-norm-zero'
  | 'grad-norm-non-finite'
  | 'weights-non-finite'
  | 'rewards-exploding'
  | 'kl-exploding'
  | 'samples-collapsed';

export const DIVERGENCE_REASONS: readonly DivergenceReason[] = [
  'loss-above-range',
  'loss-above-chance',
  'grad-norm-zero',
  'grad-norm-non-finite',
  'weights-non-finite',
  'rewards-exploding',
  'kl-exploding',
  'samples-collapsed',
];

/** A warning of its own kind: the run looks diverged. Training goes on; the run's final state says so. */
export interface DivergedParams {
  readonly time: number;
  /** The optimizer step where it showed. */
  readonly step: number;
  readonly reason: DivergenceReason;
  /** What was seen against what was expected, e.g. `loss 364 is above 2 x chance (ln 1500 = 7.31)`. */
  readonly message: string;
  /** The value that tripped the check (the loss, the gradient norm), when it is a finite number. */
  readonly value?: number;
}

export type FinishReason = 'completed' | 'stopped' | 'early-stopped';

export interface FinishedParams {
  readonly time: number;
  /** `completed`: ran all steps; `stopped`: stopped by the user; `early-stopped`: the early-stopping rule fired. */
  readonly reason: FinishReason;
  readonly step: number;
  /** Final train (and `eval_`) metrics. */
  readonly metrics: Metrics;
  /** Folder of the final model, relative to the run folder (normally `final`). */
  readonly path: string;
}

export const SessionStarted = defineMessage<'started', StartedParams>(
  'started',
  v.object<StartedParams>({
    time,
    runId: v.string(),
    method: v.string(),
    pid: v.optional(v.integer(0)),
    device: v.string(),
    model: v.string(),
    totalSteps: v.integer(0),
    examples: v.object({ train: v.integer(0), eval: v.integer(0) }),
    parameters: v.optional(v.object({ total: v.integer(0), trainable: v.integer(0) })),
  }),
);

export const SessionMetrics = defineMessage<'metrics', MetricsParams>('metrics', v.object<MetricsParams>({ time, step, epoch: v.number(), metrics: metricsRecord }));

export const SessionEval = defineMessage<'eval', EvalParams>('eval', v.object<EvalParams>({ time, step, epoch: v.number(), metrics: evalMetrics }));

export const SessionSamples = defineMessage<'samples', SamplesParams>(
  'samples',
  v.object<SamplesParams>({
    time,
    step,
    samples: v.array(
      v.object<Sample>({
        prompt: v.string(),
        policy: v.string(),
        reference: v.optional(v.string()),
        scores: v.optional(v.object({ policy: v.optional(v.number()), reference: v.optional(v.number()) })),
      }),
      1000,
    ),
    scoreKind: v.optional(v.literal(...SAMPLE_SCORE_KINDS)),
    scoreLabel: v.optional(v.string()),
  }),
);

export const SessionCheckpoint = defineMessage<'checkpoint', CheckpointParams>('checkpoint', v.object<CheckpointParams>({ time, step, path: v.string() }));

const count = v.optional(v.integer(0));
const dataLoss = v.object<DataLoss>({ rows: count, rowsSkipped: count, promptsTruncated: count, completionsTruncated: count, tokensDropped: count, examplesUnusable: count });

export const SessionWarning = defineMessage<'warning', WarningParams>('warning', v.object<WarningParams>({ time, message: v.string(), step: v.optional(step), dataLoss: v.optional(dataLoss) }));

export const SessionError = defineMessage<'error', ErrorParams>(
  'error',
  v.object<ErrorParams>({ time, message: v.string(), detail: v.optional(v.string()), fatal: v.boolean(), step: v.optional(step), expected: v.optional(v.boolean()) }),
);

export const SessionFinished = defineMessage<'finished', FinishedParams>(
  'finished',
  v.object<FinishedParams>({ time, reason: v.literal('completed', 'stopped', 'early-stopped'), step, metrics: metricsRecord, path: v.string() }),
);

export const SessionDiverged = defineMessage<'diverged', DivergedParams>(
  'diverged',
  v.object<DivergedParams>({ time, step, reason: v.literal(...DIVERGENCE_REASONS), message: v.string(), value: v.optional(v.number()) }),
);

export type SessionEvent =
  | Envelope<'started', StartedParams>
  | Envelope<'metrics', MetricsParams>
  | Envelope<'eval', EvalParams>
  | Envelope<'samples', SamplesParams>
  | Envelope<'checkpoint', CheckpointParams>
  | Envelope<'warning', WarningParams>
  | Envelope<'error', ErrorParams>
  | Envelope<'diverged', DivergedParams>
  | Envelope<'finished', FinishedParams>;

const EVENT_TYPES: readonly MessageType<SessionEvent['type'], unknown>[] = [
  SessionStarted,
  SessionMetrics,
  SessionEval,
  SessionSamples,
  SessionCheckpoint,
  SessionWarning,
  SessionError,
  SessionDiverged,
  SessionFinished,
];

/** Every event type name, in the order a run normally emits them. */
export const SESSION_EVENT_TYPES: readonly SessionEvent['type'][] = EVENT_TYPES.map((t) => t.type);

/** Non-finite numbers become null (JSON has no NaN); use on metric records before `formatEvent`. */
export function toMetrics(values: Record<string, number>): Metrics {
  return Object.fromEntries(Object.entries(values).map(([k, x]) => [k, Number.isFinite(x) ? x : null]));
}

/** One event as a JSON line (with the trailing newline). */
export function formatEvent(e: SessionEvent): string {
  return JSON.stringify(e) + '\n';
}

export interface ParseWarning {
  /** 1-based line number in the stream or file. */
  readonly line: number;
  readonly message: string;
}

export interface ParsedEvents {
  readonly events: SessionEvent[];
  readonly warnings: ParseWarning[];
}

/** Validates one decoded line; returns the event, or a warning message. */
export function parseEventValue(value: unknown): SessionEvent | { warning: string } {
  if (!isRecord(value)) return { warning: 'not a JSON object' };
  if (typeof value.type !== 'string') return { warning: 'no "type" field' };
  const def = EVENT_TYPES.find((t) => t.type === value.type);
  if (!def) return { warning: `unknown event type "${value.type}" (ignored)` };
  const problems = def.problems(value);
  if (problems.length) return { warning: `invalid "${value.type}" event: ${problems.join('; ')}` };
  return value as unknown as SessionEvent;
}

/** Parses a whole events text (e.g. `events.jsonl`). Never throws. `firstLine` numbers lines from an offset. */
export function parseSessionEvents(text: string, firstLine = 1): ParsedEvents {
  const p = new SessionEventParser(firstLine);
  const events = p.push(text);
  const end = p.end();
  return { events: [...events, ...end.events], warnings: [...p.warnings] };
}

/**
 * Incremental parser for a live stream (a session's stdout): feed chunks as they come; partial lines wait for
 * their end. Warnings accumulate in `warnings`.
 */
export class SessionEventParser {
  private buffer = '';
  private line: number;
  readonly warnings: ParseWarning[] = [];

  constructor(firstLine = 1) {
    this.line = firstLine;
  }

  push(chunk: string): SessionEvent[] {
    this.buffer += chunk;
    const out: SessionEvent[] = [];
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      this.take(this.buffer.slice(0, nl), out);
      this.buffer = this.buffer.slice(nl + 1);
      nl = this.buffer.indexOf('\n');
    }
    return out;
  }

  /** Flushes a last line without a newline. */
  end(): ParsedEvents {
    const out: SessionEvent[] = [];
    if (this.buffer !== '') this.take(this.buffer, out);
    this.buffer = '';
    return { events: out, warnings: this.warnings };
  }

  private take(raw: string, out: SessionEvent[]): void {
    const line = this.line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      this.warnings.push({ line, message: `not JSON: ${text.length > 80 ? text.slice(0, 77) + '...' : text}` });
      return;
    }
    const r = parseEventValue(value);
    if ('warning' in r) this.warnings.push({ line, message: r.warning });
    else out.push(r);
  }
}
