/**
 * Reward distributions: histograms of chosen vs rejected rewards, and the correlation of reward with response
 * length (a reward model that mostly rewards length is a known failure; Singhal et al. 2023, "A Long Way to Go").
 */
import { pearson, spearman } from './correlation';

export interface Histogram {
  /** numBins + 1 edges; bin b is [edges[b], edges[b+1]), the last bin is closed. */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

/** Equal-width histogram over [min, max] (default: the data's range). Values outside are dropped. */
export function histogram(values: readonly number[], numBins = 20, range?: { readonly min: number; readonly max: number }): Histogram {
  if (!Number.isInteger(numBins) || numBins < 1) throw new RangeError(`histogram: numBins must be a positive integer (${numBins})`);
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`histogram: value ${i} is not a finite number (${v})`);
  });
  let min = range?.min ?? minOf(values);
  let max = range?.max ?? maxOf(values);
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (max === min) {
    min -= 0.5;
    max += 0.5;
  }
  const width = (max - min) / numBins;
  const edges = Array.from({ length: numBins + 1 }, (_, b) => (b === numBins ? max : min + b * width));
  const counts = new Array<number>(numBins).fill(0);
  for (const v of values) {
    if (v < min || v > max) continue;
    counts[Math.min(numBins - 1, Math.floor((v - min) / width))]++;
  }
  return { edges, counts };
}

/** Histograms of chosen and rejected rewards on shared bins, so they can be overlaid. */
export function rewardHistograms(pairs: readonly { readonly chosen: number; readonly rejected: number }[], numBins = 20): { readonly chosen: Histogram; readonly rejected: Histogram } {
  const chosen = pairs.map((p) => p.chosen);
  const rejected = pairs.map((p) => p.rejected);
  const all = chosen.concat(rejected);
  const range = all.length ? { min: minOf(all), max: maxOf(all) } : { min: 0, max: 1 };
  return { chosen: histogram(chosen, numBins, range), rejected: histogram(rejected, numBins, range) };
}

export interface LengthCorrelation {
  readonly n: number;
  /** NaN when rewards or lengths are constant. */
  readonly pearson: number;
  readonly spearman: number;
}

/** Correlation of reward with response length (characters or tokens, as the caller measures them). */
export function rewardLengthCorrelation(items: readonly { readonly reward: number; readonly length: number }[]): LengthCorrelation {
  const r = items.map((x) => x.reward);
  const l = items.map((x) => x.length);
  return { n: items.length, pearson: items.length > 1 ? pearson(r, l) : NaN, spearman: items.length > 1 ? spearman(r, l) : NaN };
}

// Loops rather than Math.min(...xs), which overflows the stack on large arrays.
function minOf(xs: readonly number[]): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

function maxOf(xs: readonly number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}
