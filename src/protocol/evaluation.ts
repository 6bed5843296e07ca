import { evalExample, type EvalExample } from './rewardInspection';
import { defineMessage, v, type Validator } from './message';

/**
 * Messages between the host and the Reward-Model Evaluation panel (webview/evaluation). The host sends one
 * {@link EvaluationReport}; the webview draws it (calibration curve, reward histograms, per-section accuracy,
 * distance matrices, probe table). Values that are undefined for the data (e.g. a correlation of constant
 * rewards) are `null`.
 */

export interface EvalAccuracyGroup {
  name: string;
  n: number;
  correct: number;
  ties: number;
  accuracy: number;
}

export interface EvalCalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted P(chosen preferred) in the bin; null when empty. */
  meanPredicted: number | null;
  /** Observed frequency in the bin; null when empty. */
  observed: number | null;
}

export interface EvalHistogram {
  /** numBins + 1 shared edges. */
  edges: number[];
  chosen: number[];
  rejected: number[];
}

export interface EvalDistanceMatrix {
  /** e.g. `EPIC`, `STARC`, `DARD`. */
  metric: string;
  names: string[];
  values: number[][];
}

export interface EvalProbe {
  name: string;
  n: number;
  /** Mean change of the score (pointwise probes). */
  meanDelta: number | null;
  meanAbsDelta: number | null;
  /** Fraction of items whose score moved. */
  changedFraction: number | null;
  /** Fraction of pairs whose ranking flipped (pair probes). */
  flipRate: number | null;
}

/** Whether evaluated pairs were left out of the reward model's training. */
export type HeldOutStatus = 'held-out' | 'not-held-out' | 'unknown';

export interface EvaluationReport {
  title: string;
  /** The scores file the report was built from, if any. */
  source?: string;
  /** Held-out pairs. */
  n: number;
  accuracy: {
    /** Section-weighted overall (RewardBench style). */
    overall: number | null;
    /** Plain fraction over all pairs. */
    micro: number | null;
    ties: number;
    meanMargin: number | null;
    sections: EvalAccuracyGroup[];
    tags: EvalAccuracyGroup[];
  };
  calibration: { ece: number | null; mce: number | null; brier: number | null; bins: EvalCalibrationBin[] };
  histogram: EvalHistogram;
  /** Correlation of reward with response length; null when lengths were not given. */
  length: { n: number; pearson: number | null; spearman: number | null } | null;
  distances: EvalDistanceMatrix[];
  probes: EvalProbe[];
  /** Rows of the scores file that were skipped, as `file:line: reason`. */
  skipped: string[];
  /** Records with their dense rewards, when the source is an `alignment inspect-rm` file (worst-ranked first). */
  examples?: EvalExample[];
  /**
   * Whether the pairs are held out from the reward model's training, in a plain sentence: a run's own eval split
   * is; otherwise it is not known (or, for a run without an eval split, not the case).
   */
  heldOut?: { readonly status: HeldOutStatus; readonly text: string };
}

const nullableNumber = v.nullable(v.number());
const group = v.object<EvalAccuracyGroup>({ name: v.string(), n: v.integer(0), correct: v.integer(0), ties: v.integer(0), accuracy: v.number() });
const bin = v.object<EvalCalibrationBin>({ lower: v.number(), upper: v.number(), count: v.integer(0), meanPredicted: nullableNumber, observed: nullableNumber });
const matrix: Validator<EvalDistanceMatrix> = (x, p) => {
  const out = v.object<EvalDistanceMatrix>({ metric: v.string(), names: v.array(v.string(), 100), values: v.array(v.array(v.number(), 100), 100) })(x, p);
  if (out.length) return out;
  const m = x as EvalDistanceMatrix;
  if (m.values.length !== m.names.length || m.values.some((r) => r.length !== m.names.length)) out.push(`${p}.values: expected a ${m.names.length} x ${m.names.length} matrix`);
  return out;
};

export const evaluationReport: Validator<EvaluationReport> = v.object<EvaluationReport>({
  title: v.string(),
  source: v.optional(v.string()),
  n: v.integer(0),
  accuracy: v.object<EvaluationReport['accuracy']>({
    overall: nullableNumber,
    micro: nullableNumber,
    ties: v.integer(0),
    meanMargin: nullableNumber,
    sections: v.array(group, 1000),
    tags: v.array(group, 10_000),
  }),
  calibration: v.object<EvaluationReport['calibration']>({ ece: nullableNumber, mce: nullableNumber, brier: nullableNumber, bins: v.array(bin, 1000) }),
  histogram: v.object<EvalHistogram>({ edges: v.array(v.number(), 1001), chosen: v.array(v.integer(0), 1000), rejected: v.array(v.integer(0), 1000) }),
  length: v.nullable(v.object<{ n: number; pearson: number | null; spearman: number | null }>({ n: v.integer(0), pearson: nullableNumber, spearman: nullableNumber })),
  distances: v.array(matrix, 20),
  probes: v.array(
    v.object<EvalProbe>({ name: v.string(), n: v.integer(0), meanDelta: nullableNumber, meanAbsDelta: nullableNumber, changedFraction: nullableNumber, flipRate: nullableNumber }),
    200,
  ),
  skipped: v.array(v.string(), 10_000),
  examples: v.optional(v.array(evalExample, 1000)),
  heldOut: v.optional(v.object({ status: v.literal('held-out', 'not-held-out', 'unknown'), text: v.string() })),
});

/** webview -> host: the panel's script is loaded and listening. */
export const EvalReady = defineMessage('eval/ready', v.object<Record<string, never>>({}));
/** webview -> host: open the scores file the report came from. */
export const EvalOpenSource = defineMessage('eval/openSource', v.object<Record<string, never>>({}));
/** host -> webview: the report to draw. */
export const EvalShowReport = defineMessage('eval/showReport', evaluationReport);
/** host -> webview: the report could not be built. */
export const EvalError = defineMessage('eval/error', v.object<{ message: string }>({ message: v.string() }));
