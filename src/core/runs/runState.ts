/**
 * What the Runs view, the status bar and the dashboard need to know about a run, folded from its events in
 * order. Unlike a look at the last terminal event alone, this handles resumed runs: events.jsonl of a run that
 * was stopped and resumed reads `started ... finished(stopped) started ...`, and the second `started` makes it
 * running again.
 */
import type { CheckpointParams, DataLoss, DivergedParams, ErrorParams, FinishedParams, Metrics, SessionEvent, StartedParams } from '../../protocol/session';

export type RunPhase = 'pending' | 'running' | 'finished' | 'stopped' | 'failed';

export interface RunState {
  readonly phase: RunPhase;
  /** Why: a stop step, the fatal error, an early stop. */
  readonly detail?: string;
  /** The latest `started` event (a resumed run has several). */
  readonly started?: StartedParams;
  readonly finished?: FinishedParams;
  /** Latest value of every train metric logged so far (metrics logged at different intervals are merged). */
  readonly metrics: Metrics;
  /** Latest value of every `eval_` metric. */
  readonly evalMetrics: Metrics;
  /** Step of the latest metrics event (0 before the first). */
  readonly step: number;
  readonly epoch: number;
  readonly totalSteps: number;
  /** Milliseconds since the epoch of the latest event of any kind. */
  readonly lastEventTime?: number;
  readonly latestCheckpoint?: CheckpointParams;
  readonly lastError?: ErrorParams;
  readonly warnings: number;
  /** Steps per second since the latest `started` (undefined until two points are known). */
  readonly stepsPerSecond?: number;
  /** The step the latest session started from (non-zero after a resume). */
  readonly startStep: number;
  /** The first `diverged` event: the run's weights may be ruined, so a finished run is not shown as plain green. */
  readonly diverged?: DivergedParams;
  /** What data preparation left out (each kind as its latest warning counted it). */
  readonly dataLoss?: DataLoss;
  /** The first line of each distinct warning, in order, at most WARNING_LINES of them. */
  readonly warningLines: readonly string[];
}

/** Distinct warning lines a run state keeps. */
export const WARNING_LINES = 20;

export const EMPTY_RUN_STATE: RunState = { phase: 'pending', metrics: {}, evalMetrics: {}, step: 0, epoch: 0, totalSteps: 0, warnings: 0, startStep: 0, warningLines: [] };

/**
 * What data preparation left out, in a few words each: `4 of 20 rows skipped`, `86 prompts and 505 completions
 * cut (555079 tokens dropped)`, `3 examples not usable`. Empty when nothing was left out.
 */
export function describeDataLoss(d: DataLoss | undefined): string[] {
  if (!d) return [];
  const out: string[] = [];
  if (d.rowsSkipped) out.push(`${d.rowsSkipped}${d.rows !== undefined ? ` of ${d.rows}` : ''} rows skipped`);
  if (d.promptsTruncated || d.completionsTruncated) {
    out.push(`${d.promptsTruncated ?? 0} prompts and ${d.completionsTruncated ?? 0} completions cut (${d.tokensDropped ?? 0} tokens dropped)`);
  }
  if (d.examplesUnusable) out.push(`${d.examplesUnusable} examples not usable by the method`);
  return out;
}

/** Folds events into the state; call again with later events to continue. Pure: returns a new object. */
export function foldRunEvents(prev: RunState, events: readonly SessionEvent[]): RunState {
  const s: { -readonly [K in keyof RunState]: RunState[K] } = { ...prev, metrics: { ...prev.metrics }, evalMetrics: { ...prev.evalMetrics }, warningLines: [...prev.warningLines] };
  for (const e of events) {
    s.lastEventTime = e.params.time;
    switch (e.type) {
      case 'started':
        s.phase = 'running';
        s.started = e.params;
        s.totalSteps = e.params.totalSteps;
        // A resumed session continues from the step the previous one reached.
        s.startStep = s.step;
        delete s.detail;
        delete s.finished;
        break;
      case 'metrics':
        Object.assign(s.metrics, e.params.metrics);
        s.step = e.params.step;
        s.epoch = e.params.epoch;
        break;
      case 'eval':
        Object.assign(s.evalMetrics, e.params.metrics);
        break;
      case 'checkpoint':
        s.latestCheckpoint = e.params;
        break;
      case 'warning': {
        s.warnings++;
        if (e.params.dataLoss) s.dataLoss = { ...s.dataLoss, ...e.params.dataLoss };
        const line = e.params.message.split('\n')[0] as string;
        if (s.warningLines.length < WARNING_LINES && !s.warningLines.includes(line)) (s.warningLines as string[]).push(line);
        break;
      }
      case 'diverged':
        s.diverged ??= e.params;
        break;
      case 'error':
        s.lastError = e.params;
        if (e.params.fatal) {
          s.phase = 'failed';
          s.detail = e.params.message;
        }
        break;
      case 'finished': {
        s.finished = e.params;
        s.step = Math.max(s.step, e.params.step);
        for (const [k, x] of Object.entries(e.params.metrics)) (k.startsWith('eval_') ? s.evalMetrics : s.metrics)[k] = x;
        if (s.phase !== 'failed') {
          const r = e.params.reason;
          s.phase = r === 'stopped' ? 'stopped' : 'finished';
          s.detail = r === 'stopped' ? `stopped at step ${e.params.step}` : r === 'early-stopped' ? `early-stopped at step ${e.params.step}` : `completed ${e.params.step} steps`;
          if (s.diverged) s.detail += `; diverged? ${s.diverged.message}`;
        }
        break;
      }
    }
  }
  // Speed since the latest start: steps done since then over the time since then.
  delete s.stepsPerSecond;
  if (s.started && s.lastEventTime !== undefined && s.phase === 'running') {
    const dt = (s.lastEventTime - s.started.time) / 1000;
    if (dt > 0 && s.step > s.startStep) s.stepsPerSecond = (s.step - s.startStep) / dt;
  }
  return s;
}

/**
 * Whether resuming can work: a stopped run continues from its checkpoint; a failed one continues from its
 * checkpoint when it has one, and otherwise only when its failure was not an expected error (bad spec, data or
 * model), which a resume would repeat as it is.
 */
export function canResume(s: RunState): boolean {
  if (s.phase === 'stopped') return true;
  if (s.phase !== 'failed') return false;
  return s.latestCheckpoint !== undefined || s.lastError?.expected !== true;
}

/** Marks a running run whose session process is gone as failed (it ended without a final event). */
export function withProcessGone(s: RunState, why: string): RunState {
  return s.phase === 'running' ? { ...s, phase: 'failed', detail: why } : s;
}

/** Seconds left at the current speed, or undefined when unknown. */
export function etaSeconds(s: RunState): number | undefined {
  if (s.phase !== 'running' || !s.stepsPerSecond || s.totalSteps <= 0) return undefined;
  return Math.max(0, (s.totalSteps - s.step) / s.stepsPerSecond);
}

/** `1h 02m`, `3m 05s`, `42s`. */
export function formatDuration(seconds: number): string {
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** Metrics worth showing in one line for a method (the first few that the run has logged). */
export const KEY_METRICS: readonly string[] = [
  'loss',
  'rewards/margins',
  'rewards/accuracies',
  'accuracy',
  'margin',
  'objective/rlhf_reward',
  'objective/kl',
  'reward',
  'kl',
];

/** Up to `n` key metrics the run has values for, in KEY_METRICS order. */
export function keyMetrics(s: RunState, n = 3): [string, number | null][] {
  const out: [string, number | null][] = [];
  for (const k of KEY_METRICS) if (k in s.metrics && out.length < n) out.push([k, s.metrics[k]]);
  return out;
}

/** A metric value for a narrow column: 4 significant digits, exponent form for very small/large values. */
export function formatMetric(x: number | null): string {
  if (x === null) return 'NaN';
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}
