/**
 * Correlation coefficients used by the reward-model evaluations (length bias, EPIC's Pearson distance).
 */

/** Problem with the numbers given to a statistic, naming which argument is wrong. */
export class StatisticsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatisticsInputError';
  }
}

function checkSameLength(x: ArrayLike<number>, y: ArrayLike<number>, what: string): void {
  if (x.length !== y.length) throw new StatisticsInputError(`${what}: x has ${x.length} values, y has ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new StatisticsInputError(`${what}: x[${i}] is not a finite number (${x[i]})`);
    if (!Number.isFinite(y[i])) throw new StatisticsInputError(`${what}: y[${i}] is not a finite number (${y[i]})`);
  }
}

/**
 * Weighted Pearson correlation: cov_w(x, y) / sqrt(var_w(x) var_w(y)) with weights w (default uniform).
 * Returns NaN when either side has zero variance (correlation is undefined there).
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): number {
  checkSameLength(x, y, 'pearson');
  if (w && w.length !== x.length) throw new StatisticsInputError(`pearson: ${x.length} values but ${w.length} weights`);
  let sw = 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    const wi = w ? w[i] : 1;
    if (!(wi >= 0) || !Number.isFinite(wi)) throw new StatisticsInputError(`pearson: weight[${i}] must be a finite number >= 0 (${wi})`);
    sw += wi;
    mx += wi * x[i];
    my += wi * y[i];
  }
  if (sw === 0) return NaN;
  mx /= sw;
  my /= sw;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const wi = w ? w[i] : 1;
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += wi * dx * dy;
    sxx += wi * dx * dx;
    syy += wi * dy * dy;
  }
  // Variance at rounding level (std below 1e-12 of the values' root mean square) counts as zero.
  const flat = (ss: number, v: ArrayLike<number>): boolean => ss === 0 || ss <= 1e-24 * sumSq(v, w);
  if (flat(sxx, x) || flat(syy, y)) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

function sumSq(x: ArrayLike<number>, w?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (w ? w[i] : 1) * x[i] * x[i];
  return s;
}

/** Ranks 1..n with ties given their average rank (the "fractional" ranking Spearman's rho needs). */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(x.length);
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = avg;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson correlation of the average ranks (correct with ties). NaN if a side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkSameLength(x, y, 'spearman');
  return pearson(averageRanks(x), averageRanks(y));
}
