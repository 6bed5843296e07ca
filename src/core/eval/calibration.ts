/**
 * Calibration of a reward model's implied preference probability P(chosen > rejected) = sigmoid(r+ - r-)
 * (Bradley-Terry): reliability diagram (equal-width bins) and expected calibration error.
 */

/** One probabilistic prediction and what happened (1 = the event occurred; fractions allowed, e.g. 0.5 for a tie). */
export interface Prediction {
  readonly p: number;
  readonly outcome: number;
}

export interface ReliabilityBin {
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  readonly meanPredicted: number;
  /** Observed frequency of the event in the bin (NaN when empty). */
  readonly observed: number;
}

export interface CalibrationReport {
  readonly bins: readonly ReliabilityBin[];
  /** Expected calibration error: sum_b (n_b / N) |observed_b - meanPredicted_b| (Naeini et al. 2015; Guo et al. 2017 eq. 3). */
  readonly ece: number;
  /** Maximum calibration error over non-empty bins. */
  readonly mce: number;
  /** Brier score: mean (p - outcome)^2. */
  readonly brier: number;
  readonly n: number;
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Reliability diagram with `numBins` equal-width bins over [0, 1]: bin b holds p in [b/B, (b+1)/B), the last bin
 * also holds p = 1.
 */
export function calibration(predictions: readonly Prediction[], numBins = 10): CalibrationReport {
  if (!Number.isInteger(numBins) || numBins < 1) throw new RangeError(`calibration: numBins must be a positive integer (${numBins})`);
  const count = new Array<number>(numBins).fill(0);
  const sumP = new Array<number>(numBins).fill(0);
  const sumO = new Array<number>(numBins).fill(0);
  let brier = 0;
  predictions.forEach(({ p, outcome }, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`calibration: prediction ${i} has p = ${p}, expected a probability in [0, 1]`);
    if (!(outcome >= 0 && outcome <= 1)) throw new RangeError(`calibration: prediction ${i} has outcome ${outcome}, expected a value in [0, 1]`);
    const b = Math.min(numBins - 1, Math.floor(p * numBins));
    count[b]++;
    sumP[b] += p;
    sumO[b] += outcome;
    brier += (p - outcome) ** 2;
  });
  const n = predictions.length;
  let ece = 0;
  let mce = 0;
  const bins: ReliabilityBin[] = count.map((c, b) => {
    const meanPredicted = c ? sumP[b] / c : NaN;
    const observed = c ? sumO[b] / c : NaN;
    if (c) {
      const gap = Math.abs(observed - meanPredicted);
      ece += (c / n) * gap;
      mce = Math.max(mce, gap);
    }
    return { lower: b / numBins, upper: (b + 1) / numBins, count: c, meanPredicted, observed };
  });
  return { bins, ece: n ? ece : NaN, mce: n ? mce : NaN, brier: n ? brier / n : NaN, n };
}

/**
 * Calibration of held-out pairs. Each pair (r+, r-) gives the prediction sigmoid(r+ - r-) for the event "the
 * first-listed response is preferred". Since held-out pairs always list the chosen response first, the outcome
 * would always be 1; so every pair is counted in both orders, (sigmoid(r+ - r-), 1) and (sigmoid(r- - r+), 0), which
 * makes the diagram symmetric about 0.5 and the ECE measure over- and under-confidence alike.
 */
export function pairCalibration(pairs: readonly { readonly chosen: number; readonly rejected: number }[], numBins = 10): CalibrationReport {
  const preds: Prediction[] = [];
  pairs.forEach((q, i) => {
    if (!Number.isFinite(q.chosen) || !Number.isFinite(q.rejected)) throw new RangeError(`held-out pair ${i}: scores must be finite numbers`);
    const p = sigmoid(q.chosen - q.rejected);
    preds.push({ p, outcome: 1 }, { p: 1 - p, outcome: 0 });
  });
  return calibration(preds, numBins);
}
