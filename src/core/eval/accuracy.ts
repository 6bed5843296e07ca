/**
 * Held-out preference accuracy of a reward model: the fraction of (prompt, chosen, rejected) where
 * score(chosen) > score(rejected), overall and per section / tag (RewardBench-style).
 */

/** One scored held-out pair. */
export interface ScoredPair {
  readonly chosen: number;
  readonly rejected: number;
  /** RewardBench-style section, e.g. `chat`, `chat-hard`, `safety`, `reasoning`. */
  readonly section?: string;
  readonly tags?: readonly string[];
}

export interface AccuracyGroup {
  readonly name: string;
  readonly n: number;
  /** Pairs with score(chosen) > score(rejected). */
  readonly correct: number;
  /** Pairs with equal scores (counted as not correct, as RewardBench does). */
  readonly ties: number;
  readonly accuracy: number;
}

export interface AccuracyReport {
  /** Weighted mean of the section accuracies (equal weights unless given): RewardBench's overall score. */
  readonly overall: number;
  /** Plain fraction over all pairs, whatever their section. */
  readonly micro: number;
  readonly n: number;
  readonly ties: number;
  readonly bySection: readonly AccuracyGroup[];
  readonly byTag: readonly AccuracyGroup[];
  /** Mean of score(chosen) - score(rejected). */
  readonly meanMargin: number;
}

/** Name of the section that pairs without one are put in. */
export const UNSECTIONED = '(no section)';

export interface AccuracyOptions {
  /** Section weights for the overall score (sections not listed get weight 0 when this is given). */
  readonly sectionWeights?: Readonly<Record<string, number>>;
}

/**
 * Computes accuracy per section and tag and the weighted overall. Throws a RangeError naming the pair index for a
 * score that is not a finite number, and when no pair has a positive section weight.
 */
export function heldOutAccuracy(pairs: readonly ScoredPair[], opts: AccuracyOptions = {}): AccuracyReport {
  const sections = new Map<string, { n: number; correct: number; ties: number }>();
  const tags = new Map<string, { n: number; correct: number; ties: number }>();
  const bump = (m: Map<string, { n: number; correct: number; ties: number }>, k: string, ok: boolean, tie: boolean): void => {
    const g = m.get(k) ?? { n: 0, correct: 0, ties: 0 };
    g.n++;
    if (ok) g.correct++;
    if (tie) g.ties++;
    m.set(k, g);
  };
  let correct = 0;
  let ties = 0;
  let margin = 0;
  pairs.forEach((p, i) => {
    if (!Number.isFinite(p.chosen) || !Number.isFinite(p.rejected)) throw new RangeError(`held-out pair ${i}: scores must be finite numbers (chosen ${p.chosen}, rejected ${p.rejected})`);
    const ok = p.chosen > p.rejected;
    const tie = p.chosen === p.rejected;
    if (ok) correct++;
    if (tie) ties++;
    margin += p.chosen - p.rejected;
    bump(sections, p.section ?? UNSECTIONED, ok, tie);
    for (const t of new Set(p.tags ?? [])) bump(tags, t, ok, tie);
  });
  const groups = (m: Map<string, { n: number; correct: number; ties: number }>): AccuracyGroup[] =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, g]) => ({ name, ...g, accuracy: g.correct / g.n }));
  const bySection = groups(sections);
  let wsum = 0;
  let acc = 0;
  for (const g of bySection) {
    const w = opts.sectionWeights ? (opts.sectionWeights[g.name] ?? 0) : 1;
    if (!(w >= 0)) throw new RangeError(`section weight of "${g.name}" must be >= 0 (${w})`);
    wsum += w;
    acc += w * g.accuracy;
  }
  if (pairs.length > 0 && wsum === 0) throw new RangeError(`no section of the data has a positive weight (sections: ${bySection.map((g) => g.name).join(', ')})`);
  const n = pairs.length;
  return {
    overall: n ? acc / wsum : NaN,
    micro: n ? correct / n : NaN,
    n,
    ties,
    bySection,
    byTag: groups(tags),
    meanMargin: n ? margin / n : NaN,
  };
}
