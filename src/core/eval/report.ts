/**
 * A reward-model evaluation report for the Evaluation panel and the CLI, built from held-out scores.
 *
 * Scores file (JSON lines, one held-out pair per line; written by the scoring session or by hand):
 *   {"id"?: string, "section"?: string, "tags"?: string[], "chosen_reward": number, "rejected_reward": number,
 *    "chosen_length"?: number, "rejected_length"?: number}
 */
import { readFile } from 'node:fs/promises';
import type { EvalProbe, EvaluationReport, HeldOutStatus } from '../../protocol/evaluation';
import { heldOutAccuracy, type AccuracyOptions, type ScoredPair } from './accuracy';
import { pairCalibration } from './calibration';
import { rewardHistograms, rewardLengthCorrelation } from './distributions';
import type { FlipStats, SensitivityStats } from './perturbation';
import type { DistanceMatrix } from './rewardDistance';

/** A held-out pair with its rewards and, optionally, the response lengths. */
export interface ScoredPairRecord extends ScoredPair {
  readonly id?: string;
  readonly chosenLength?: number;
  readonly rejectedLength?: number;
}

export interface ScoresFile {
  readonly pairs: ScoredPairRecord[];
  /** Lines that were skipped, as `file:line: reason`. */
  readonly skipped: string[];
}

/** Parses a scores file's text; bad lines are reported with file:line and the field, never dropped silently. */
export function parseScores(text: string, file: string): ScoresFile {
  const pairs: ScoredPairRecord[] = [];
  const skipped: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      skipped.push(`${where}: not valid JSON`);
      return;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      skipped.push(`${where}: expected a JSON object`);
      return;
    }
    const r = row as Record<string, unknown>;
    const num = (k: string, required: boolean): number | undefined | null => {
      const x = r[k];
      if (x === undefined && !required) return undefined;
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        skipped.push(`${where}: field "${k}" must be a finite number`);
        return null;
      }
      return x;
    };
    const chosen = num('chosen_reward', true);
    if (chosen === null || chosen === undefined) return;
    const rejected = num('rejected_reward', true);
    if (rejected === null || rejected === undefined) return;
    const chosenLength = num('chosen_length', false);
    const rejectedLength = num('rejected_length', false);
    if (chosenLength === null || rejectedLength === null) return;
    if (r.section !== undefined && typeof r.section !== 'string') {
      skipped.push(`${where}: field "section" must be a string`);
      return;
    }
    if (r.tags !== undefined && !(Array.isArray(r.tags) && r.tags.every((t) => typeof t === 'string'))) {
      skipped.push(`${where}: field "tags" must be an array of strings`);
      return;
    }
    pairs.push({
      id: typeof r.id === 'string' ? r.id : undefined,
      section: r.section as string | undefined,
      tags: r.tags as string[] | undefined,
      chosen,
      rejected,
      chosenLength,
      rejectedLength,
    });
  });
  return { pairs, skipped };
}

export async function readScoresFile(file: string): Promise<ScoresFile> {
  return parseScores(await readFile(file, 'utf8'), file);
}

export interface ReportInput {
  readonly title: string;
  readonly source?: string;
  readonly pairs: readonly ScoredPairRecord[];
  readonly skipped?: readonly string[];
  /** Whether the pairs are held out (see EvaluationReport.heldOut). */
  readonly heldOut?: { readonly status: HeldOutStatus; readonly text: string };
  readonly calibrationBins?: number;
  readonly histogramBins?: number;
  readonly accuracy?: AccuracyOptions;
  readonly distances?: readonly { readonly metric: string; readonly matrix: DistanceMatrix }[];
  readonly probes?: readonly (SensitivityStats | FlipStats)[];
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Builds the report the panel draws. */
export function buildEvaluationReport(input: ReportInput): EvaluationReport {
  const acc = heldOutAccuracy(input.pairs, input.accuracy);
  const cal = pairCalibration(input.pairs, input.calibrationBins ?? 10);
  const hist = rewardHistograms(input.pairs, input.histogramBins ?? 20);
  const withLength = input.pairs.filter((p) => p.chosenLength !== undefined && p.rejectedLength !== undefined);
  const lengthItems = withLength.flatMap((p) => [
    { reward: p.chosen, length: p.chosenLength as number },
    { reward: p.rejected, length: p.rejectedLength as number },
  ]);
  const lc = lengthItems.length ? rewardLengthCorrelation(lengthItems) : undefined;
  const probes: EvalProbe[] = (input.probes ?? []).map((p) =>
    'flipRate' in p
      ? { name: p.probe, n: p.n, meanDelta: finiteOrNull(p.meanMarginDelta), meanAbsDelta: null, changedFraction: null, flipRate: finiteOrNull(p.flipRate) }
      : { name: p.probe, n: p.n, meanDelta: finiteOrNull(p.meanDelta), meanAbsDelta: finiteOrNull(p.meanAbsDelta), changedFraction: finiteOrNull(p.changedFraction), flipRate: null },
  );
  return {
    title: input.title,
    source: input.source,
    n: acc.n,
    accuracy: {
      overall: finiteOrNull(acc.overall),
      micro: finiteOrNull(acc.micro),
      ties: acc.ties,
      meanMargin: finiteOrNull(acc.meanMargin),
      sections: acc.bySection.map((g) => ({ ...g })),
      tags: acc.byTag.map((g) => ({ ...g })),
    },
    calibration: {
      ece: finiteOrNull(cal.ece),
      mce: finiteOrNull(cal.mce),
      brier: finiteOrNull(cal.brier),
      bins: cal.bins.map((b) => ({ lower: b.lower, upper: b.upper, count: b.count, meanPredicted: finiteOrNull(b.meanPredicted), observed: finiteOrNull(b.observed) })),
    },
    histogram: { edges: [...hist.chosen.edges], chosen: [...hist.chosen.counts], rejected: [...hist.rejected.counts] },
    length: lc ? { n: lc.n, pearson: finiteOrNull(lc.pearson), spearman: finiteOrNull(lc.spearman) } : null,
    distances: (input.distances ?? []).map((d) => ({ metric: d.metric, names: [...d.matrix.names], values: d.matrix.values.map((r) => [...r]) })),
    probes,
    skipped: [...(input.skipped ?? [])],
    ...(input.heldOut ? { heldOut: input.heldOut } : {}),
  };
}
