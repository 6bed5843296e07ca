/**
 * Turns session events into the dashboard's series: one (step, time, value) list per metric, evaluation metrics
 * under their `eval_` names, and the sample generations per step. Pure, so the panel and tests share it.
 */
import type { SessionEvent } from '../../protocol/session';
import type { SampleSet, SeriesPoints } from '../../protocol/dashboard';

export type MutableSeries = Record<string, { step: number[]; time: number[]; value: (number | null)[] }>;

/** Appends one logged record (metric -> value) at a step to `out`. */
export function appendRecord(out: MutableSeries, step: number, time: number, metrics: Readonly<Record<string, number | null>>): void {
  for (const [k, x] of Object.entries(metrics)) {
    const s = (out[k] ??= { step: [], time: [], value: [] });
    s.step.push(step);
    s.time.push(time);
    s.value.push(x);
  }
}

/** Metric points and sample sets carried by `events` (other events are ignored). */
export function seriesFromEvents(events: readonly SessionEvent[]): { series: Record<string, SeriesPoints>; samples: SampleSet[] } {
  const series: MutableSeries = {};
  const samples: SampleSet[] = [];
  for (const e of events) {
    if (e.type === 'metrics' || e.type === 'eval') appendRecord(series, e.params.step, e.params.time, e.params.metrics);
    else if (e.type === 'samples') {
      const { step, time, samples: rows, scoreKind, scoreLabel } = e.params;
      samples.push({ step, time, samples: rows.map((s) => ({ ...s })), ...(scoreKind ? { scoreKind } : {}), ...(scoreLabel ? { scoreLabel } : {}) });
    }
  }
  return { series, samples };
}
