/**
 * What `alignment preflight <spec.json> --json` prints last (after the calibration session's own events): what
 * the run's data preparation will leave out, and the measured timing of its configuration on this machine.
 */
import { defineMessage, v } from './message';
import type { DataLoss } from './session';

/** Seconds measured by a calibration session (src/core/runs/calibration.ts says how each is read). */
export interface StepTiming {
  /** The device the session ran on, e.g. `cpu`. */
  readonly device: string;
  readonly setupSeconds: number;
  readonly secondsPerStep: number;
  /** One pass over the eval split, when there is one. */
  readonly evalSeconds?: number;
  /** One sample set (the first, with the start model's replies), when samples are on. */
  readonly sampleSeconds?: number;
  /** Writing the final model. */
  readonly finalizeSeconds: number;
}

export interface PreflightReport {
  /** Examples in the train and eval splits. */
  readonly examples?: { readonly train: number; readonly eval: number };
  /** What data preparation leaves out (empty: nothing). */
  readonly dataLoss: DataLoss;
  /** The first line of each setup warning. */
  readonly warnings: string[];
  /** Absent when the calibration session did not finish (see `failure`). */
  readonly timing?: StepTiming;
  /** Why the calibration session failed: the message the run would fail with. */
  readonly failure?: string;
}

const seconds = v.number();
const count = v.optional(v.integer(0));

export const PreflightReportMsg = defineMessage(
  'preflight/report',
  v.object<PreflightReport>({
    examples: v.optional(v.object({ train: v.integer(0), eval: v.integer(0) })),
    dataLoss: v.object({ rows: count, rowsSkipped: count, promptsTruncated: count, completionsTruncated: count, tokensDropped: count, examplesUnusable: count }),
    warnings: v.array(v.string(), 1000),
    timing: v.optional(
      v.object<StepTiming>({ device: v.string(), setupSeconds: seconds, secondsPerStep: seconds, evalSeconds: v.optional(seconds), sampleSeconds: v.optional(seconds), finalizeSeconds: seconds }),
    ),
    failure: v.optional(v.string()),
  }),
);
