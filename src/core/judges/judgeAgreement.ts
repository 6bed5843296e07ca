/**
 * Figures specific to AI judges: consistency across the two presentation orders, the position-bias rate, and
 * one judge's agreement with people (accuracy and Cohen's kappa, computed by the shared statistics module).
 */
import type { LabelView } from '../feedback/labelView';
import { accuracy, agreementUnits, cohenKappa, labelDistribution, type KappaResult, type Label } from '../stats/agreement';
import type { PairJudgement } from './judgeTypes';

export interface JudgeConsistency {
  /** Pairwise judgements with both orders. */
  readonly n: number;
  /** Fraction where both orders gave the same verdict (Zheng et al. 2023, Table 2 "consistency"). */
  readonly consistencyRate: number;
  /**
   * Fraction where the verdict followed the position: both orders picked the response shown first, or both the
   * one shown second. 1 for a judge that always prefers one position.
   */
  readonly positionBiasRate: number;
  /** Of the single-order verdicts that were not ties, the fraction that picked the first position (0.5 = none). */
  readonly firstPositionRate: number;
  /** Fraction of final verdicts that are ties (disagreements between orders end as ties). */
  readonly tieRate: number;
  readonly meanConfidence: number;
}

/** Consistency and position bias of a judge over its pairwise judgements (others are ignored). */
export function judgeConsistency(judgements: readonly PairJudgement[]): JudgeConsistency {
  const both = judgements.filter((j) => j.mode === 'pairwise' && j.forward && j.reversed);
  const n = both.length;
  const frac = (f: (j: PairJudgement) => boolean): number => (n ? both.filter(f).length / n : NaN);
  let decided = 0;
  let first = 0;
  for (const j of both) {
    for (const o of [j.forward, j.reversed]) {
      if (!o || o.position === 'tie') continue;
      decided++;
      if (o.position === 'first') first++;
    }
  }
  return {
    n,
    consistencyRate: frac((j) => j.consistent === true),
    positionBiasRate: frac((j) => j.positionFollowed === true),
    firstPositionRate: decided ? first / decided : NaN,
    tieRate: frac((j) => j.winner === 'tie'),
    meanConfidence: n ? both.reduce((s, j) => s + j.confidence, 0) / n : NaN,
  };
}

export interface JudgeVsHuman {
  /** The judge's source, `ai:<name>`. */
  readonly source: string;
  /** Pairs with a human majority label and a label from this judge. */
  readonly n: number;
  /** Fraction where the judge's label (preferred key or `tie`) equals the human majority label. */
  readonly accuracy: number | null;
  readonly kappa: KappaResult;
  /** confusion[human][judge] = count, labels being candidate keys or `tie`. */
  readonly confusion: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/**
 * One judge against people, over pair comparisons in the label view. Per pair: the human majority label (pairs
 * where people are split evenly are skipped, as in the stats module's pooled `humanVsAi`) against this judge's label.
 */
export function judgeVsHuman(view: LabelView, source: `ai:${string}`): JudgeVsHuman {
  const human = agreementUnits(view, 'comparison', { sources: ['human'] });
  const ai = agreementUnits(view, 'comparison', { sources: ['ai'] });
  const prefix = `${source}/`;
  const pairs: [Label, Label][] = [];
  const confusion: Record<string, Record<string, number>> = {};
  for (const [unit, coders] of ai) {
    const h = human.get(unit);
    if (!h) continue;
    const top = labelDistribution(h.values());
    if (top.length > 1 && top[0].count === top[1].count) continue;
    for (const [coder, label] of coders) {
      if (!coder.startsWith(prefix)) continue;
      pairs.push([top[0].label, label]);
      const row = (confusion[String(top[0].label)] ??= {});
      row[String(label)] = (row[String(label)] ?? 0) + 1;
    }
  }
  return { source, n: pairs.length, accuracy: accuracy(pairs), kappa: cohenKappa(pairs), confusion };
}
