// Metric series storage and the math the plots need: resume-aware appends, EMA smoothing (TensorBoard's,
// with its debiasing), min/max decimation to the chart's pixel width, and metric grouping.

export interface Series {
  step: number[];
  time: number[];
  /** NaN where the logged value was not finite (null in JSON). */
  value: number[];
  /** EMA of `value` for `smoothedWeight`, valid for the first `smoothedLength` points. */
  smoothed: number[];
  smoothedWeight: number;
  smoothedLength: number;
  /** EMA state after the first `smoothedLength` points: m, and w^k for the debiasing. */
  emaM: number;
  emaWk: number;
  /** Cached decimation (see decimateSeries), keyed by what it was computed for. */
  dec?: DecimationCache;
}

interface DecimationCache {
  key: string;
  /** Points per bucket. */
  size: number;
  /** Output of the complete buckets (the last, partial bucket is recomputed on each call). */
  x: number[];
  ys: number[][];
  /** Points covered by the complete buckets. */
  covered: number;
  /** Length of the series when the cache was valid (a shorter series means a truncation: rebuild). */
  length: number;
}

export function emptySeries(): Series {
  return { step: [], time: [], value: [], smoothed: [], smoothedWeight: -1, smoothedLength: 0, emaM: 0, emaWk: 1 };
}

/**
 * Appends points. A point at a step at or before the last one means the run was resumed from an earlier
 * checkpoint and logs those steps again: the old points from that step on are replaced by the new ones.
 */
export function appendPoints(s: Series, step: readonly number[], time: readonly number[], value: readonly (number | null)[]): void {
  for (let i = 0; i < step.length; i++) {
    const n = s.step.length;
    if (n && step[i] <= s.step[n - 1]) {
      let cut = n;
      while (cut > 0 && s.step[cut - 1] >= step[i]) cut--;
      s.step.length = cut;
      s.time.length = cut;
      s.value.length = cut;
      if (s.smoothedLength > cut) s.smoothedLength = 0; // the EMA state is past the cut: recompute
      s.dec = undefined;
    }
    s.step.push(step[i]);
    s.time.push(time[i]);
    const x = value[i];
    s.value.push(x === null ? NaN : x);
  }
}

/**
 * Exponential moving average with weight w in [0, 1), debiased as TensorBoard does:
 * m_i = w m_{i-1} + (1 - w) y_i, shown as m_i / (1 - w^k) where k counts the finite values so far. Non-finite
 * values are skipped (shown as gaps). Incremental: only points added since the last call are computed.
 */
export function smoothed(s: Series, w: number): number[] {
  if (w <= 0) return s.value;
  if (s.smoothedWeight !== w || s.smoothedLength === 0) {
    s.smoothedWeight = w;
    s.smoothedLength = 0;
    s.emaM = 0;
    s.emaWk = 1;
  }
  const out = s.smoothed;
  out.length = s.value.length;
  let m = s.emaM;
  let wk = s.emaWk;
  for (let i = s.smoothedLength; i < s.value.length; i++) {
    const y = s.value[i];
    if (Number.isFinite(y)) {
      m = w * m + (1 - w) * y;
      wk *= w;
      out[i] = m / (1 - wk);
    } else out[i] = NaN;
  }
  s.emaM = m;
  s.emaWk = wk;
  s.smoothedLength = s.value.length;
  return out;
}

/**
 * Keeps at most about 2 * buckets points of (x, ys...): per bucket of consecutive points, the points holding the
 * min and the max of the first y (in x order), so spikes stay visible. Returns copies when no decimation is needed.
 */
export function decimate(x: readonly number[], ys: readonly (readonly number[])[], buckets: number): { x: number[]; ys: number[][] } {
  const n = x.length;
  if (n <= 2 * buckets) return { x: x.slice(), ys: ys.map((y) => Array.from(y, nanToNull) as number[]) };
  const size = n / buckets;
  const ox: number[] = [];
  const oys: number[][] = ys.map(() => []);
  const lead = ys[0];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor(b * size);
    const hi = Math.min(n, Math.floor((b + 1) * size));
    let iMin = -1;
    let iMax = -1;
    for (let i = lo; i < hi; i++) {
      const y = lead[i];
      if (!Number.isFinite(y)) continue;
      if (iMin < 0 || y < lead[iMin]) iMin = i;
      if (iMax < 0 || y > lead[iMax]) iMax = i;
    }
    if (iMin < 0) {
      // A bucket of gaps: keep one gap so the line breaks.
      ox.push(x[lo]);
      for (const o of oys) o.push(null as unknown as number);
      continue;
    }
    const pick = iMin === iMax ? [iMin] : iMin < iMax ? [iMin, iMax] : [iMax, iMin];
    for (const i of pick) {
      ox.push(x[i]);
      ys.forEach((y, j) => oys[j].push(nanToNull(y[i]) as number));
    }
  }
  return { x: ox, ys: oys };
}

function nanToNull(y: number): number | null {
  return Number.isFinite(y) ? y : null;
}

export interface Group {
  readonly id: string;
  readonly title: string;
}

export const GROUPS: readonly Group[] = [
  { id: 'human', title: 'Labels from a person (one point per round)' },
  { id: 'loss', title: 'Loss' },
  { id: 'rewards', title: 'Rewards' },
  { id: 'logps', title: 'Log-probabilities and logits' },
  { id: 'objective', title: 'Objective (online RL)' },
  { id: 'grad_norm', title: 'Gradient norm' },
  { id: 'lr', title: 'Learning rate' },
  { id: 'throughput', title: 'Throughput' },
  { id: 'eval', title: 'Evaluation' },
  { id: 'other', title: 'Other' },
];

const REWARD_NAMES = new Set(['reward', 'reward_std', 'accuracy', 'margin', 'min_reward', 'mean_reward', 'max_reward', 'kl']);
const OBJECTIVE_NAMES = new Set(['entropy', 'clip_ratio', 'episode']);
const THROUGHPUT_NAMES = new Set(['tokens_per_second', 'step_time', 'num_tokens', 'samples_per_second', 'steps_per_second', 'num_input_tokens_seen']);

/** The chart a metric is drawn in: eval_X goes into X's chart (as a dashed line) when X is logged too. */
export function chartKey(metric: string, all: ReadonlySet<string>): string {
  if (metric.startsWith('eval_')) {
    const base = metric.slice(5);
    if (all.has(base)) return base;
  }
  return metric;
}

/** The group of a chart, by its metric name (TRL's names, ALIGNMENT_REFERENCE.md section 5). */
export function groupOf(metric: string): string {
  const m = metric.startsWith('eval_') ? metric.slice(5) : metric;
  // human/*: what a run with a person logs once per round (docs/human-loop.md), shown first.
  if (m.startsWith('human/')) return 'human';
  if (m === 'loss' || m.startsWith('loss/')) return 'loss';
  if (m.startsWith('rewards/') || REWARD_NAMES.has(m)) return 'rewards';
  if (m.startsWith('logps/') || m.startsWith('logits/')) return 'logps';
  if (m.startsWith('objective/') || m.startsWith('policy/') || m.startsWith('val/') || m.startsWith('completions/') || OBJECTIVE_NAMES.has(m)) return 'objective';
  if (m === 'grad_norm') return 'grad_norm';
  if (m === 'learning_rate' || m === 'lr') return 'lr';
  if (THROUGHPUT_NAMES.has(m)) return 'throughput';
  if (metric.startsWith('eval_')) return 'eval';
  return 'other';
}

/** Min/max of bucket [lo, hi) of `lead`, appended to the outputs (gap-preserving, x order kept). */
function emitBucket(x: readonly number[], ys: readonly (readonly number[])[], lo: number, hi: number, ox: number[], oys: number[][]): void {
  const lead = ys[0];
  let iMin = -1;
  let iMax = -1;
  for (let i = lo; i < hi; i++) {
    const y = lead[i];
    if (!Number.isFinite(y)) continue;
    if (iMin < 0 || y < lead[iMin]) iMin = i;
    if (iMax < 0 || y > lead[iMax]) iMax = i;
  }
  if (iMin < 0) {
    ox.push(x[lo]);
    for (const o of oys) o.push(null as unknown as number);
    return;
  }
  const a = Math.min(iMin, iMax);
  const b = Math.max(iMin, iMax);
  ox.push(x[a]);
  ys.forEach((y, j) => oys[j].push(nanToNull(y[a]) as number));
  if (b !== a) {
    ox.push(x[b]);
    ys.forEach((y, j) => oys[j].push(nanToNull(y[b]) as number));
  }
}

/**
 * Incremental min/max decimation of a growing series: buckets of a fixed number of points, so appending points
 * only recomputes the last bucket; when the buckets outgrow 2 * `buckets`, the bucket size doubles and the
 * cache is rebuilt (amortized O(new points) per update). `key` names what x and ys are (x mode, smoothing).
 */
export function decimateSeries(s: Series, key: string, x: readonly number[], ys: readonly (readonly number[])[], buckets: number): { x: number[]; ys: number[][] } {
  const n = x.length;
  if (!Number.isFinite(buckets) || n <= 2 * buckets) return decimate(x, ys, buckets);
  let c = s.dec;
  if (!c || c.key !== key || n < c.length || n / c.size > 2 * buckets) {
    let size = 1;
    while (n / size > buckets) size *= 2;
    c = { key, size, x: [], ys: ys.map(() => []), covered: 0, length: 0 };
    s.dec = c;
  }
  const complete = Math.floor(n / c.size) * c.size;
  for (let lo = c.covered; lo < complete; lo += c.size) emitBucket(x, ys, lo, lo + c.size, c.x, c.ys);
  c.covered = complete;
  c.length = n;
  const ox = c.x.slice();
  const oys = c.ys.map((y) => y.slice());
  if (complete < n) emitBucket(x, ys, complete, n, ox, oys);
  return { x: ox, ys: oys };
}
