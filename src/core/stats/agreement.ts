/**
 * Annotator agreement: Cohen's kappa, Krippendorff's alpha (nominal / ordinal / interval / ratio, any number of
 * coders, missing data), human-vs-AI accuracy, label distributions, position bias and time per decision.
 *
 * References:
 *  - J. Cohen (1960), "A coefficient of agreement for nominal scales": kappa = (p_o - p_e) / (1 - p_e).
 *  - K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability" (coincidence-matrix method, section C/D).
 */
import type { LabelView } from '../feedback/labelView';
import { sourceClass, type FeedbackEntry, type FeedbackType } from '../feedback/types';

/** A nominal label (compared by equality) or a number (ordinal / interval / ratio metrics). */
export type Label = string | number | boolean;

export interface KappaResult {
  /** Cohen's kappa; null when undefined (expected agreement is 1: both raters used one same category only). */
  readonly kappa: number | null;
  /** Observed agreement p_o. */
  readonly observed: number;
  /** Chance agreement p_e from the two raters' marginals. */
  readonly expected: number;
  readonly n: number;
}

/**
 * Cohen's kappa for two raters over the same items: kappa = (p_o - p_e) / (1 - p_e), with
 * p_e = sum_c P_A(c) P_B(c) from each rater's own label frequencies.
 */
export function cohenKappa(pairs: readonly (readonly [Label, Label])[]): KappaResult {
  const n = pairs.length;
  if (n === 0) return { kappa: null, observed: 0, expected: 0, n: 0 };
  const a = new Map<string, number>();
  const b = new Map<string, number>();
  let agree = 0;
  for (const [x, y] of pairs) {
    const kx = labelKey(x);
    const ky = labelKey(y);
    if (kx === ky) agree++;
    a.set(kx, (a.get(kx) ?? 0) + 1);
    b.set(ky, (b.get(ky) ?? 0) + 1);
  }
  const observed = agree / n;
  let expected = 0;
  for (const [c, na] of a) expected += (na / n) * ((b.get(c) ?? 0) / n);
  const kappa = expected === 1 ? null : (observed - expected) / (1 - expected);
  return { kappa, observed, expected, n };
}

export type AlphaLevel = 'nominal' | 'ordinal' | 'interval' | 'ratio';

export interface AlphaResult {
  /** Krippendorff's alpha; null when undefined (fewer than 2 pairable values or no variation at all). */
  readonly alpha: number | null;
  /** Units with at least two values (the only ones that count). */
  readonly pairableUnits: number;
  /** n: the number of pairable values. */
  readonly pairableValues: number;
  /** Observed and expected disagreement D_o and D_e (alpha = 1 - D_o / D_e). */
  readonly observedDisagreement: number;
  readonly expectedDisagreement: number;
}

/**
 * Krippendorff's alpha over units, each the list of values the coders gave it (missing values simply left out).
 *
 * Coincidence matrix (Krippendorff 2011, section D): o_ck = sum_u (number of ordered c-k pairs of values in u,
 * from different coders) / (m_u - 1), over units with m_u >= 2 values; n_c = sum_k o_ck; n = sum_c n_c.
 * alpha = 1 - D_o / D_e, D_o = (1/n) sum_ck o_ck delta^2_ck, D_e = 1/(n(n-1)) sum_ck n_c n_k delta^2_ck.
 * Metrics delta^2: nominal 0/1; ordinal (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 over the ranked values;
 * interval (c - k)^2; ratio ((c - k)/(c + k))^2.
 */
export function krippendorffAlpha(units: readonly (readonly Label[])[], level: AlphaLevel = 'nominal'): AlphaResult {
  const pairable = units.filter((u) => u.length >= 2);
  const none: AlphaResult = { alpha: null, pairableUnits: pairable.length, pairableValues: 0, observedDisagreement: 0, expectedDisagreement: 0 };
  if (pairable.length === 0) return none;
  // Distinct values, in order for ordinal/interval/ratio.
  const keyed = new Map<string, Label>();
  for (const u of pairable) for (const x of u) keyed.set(labelKey(x), x);
  const values = [...keyed.values()];
  if (level !== 'nominal') {
    for (const x of values) if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${level} alpha needs numeric values, got ${JSON.stringify(x)}`);
    values.sort((p, q) => (p as number) - (q as number));
  }
  const idx = new Map(values.map((x, i) => [labelKey(x), i]));
  const V = values.length;
  const o = Array.from({ length: V }, () => new Float64Array(V));
  for (const u of pairable) {
    const m = u.length;
    const counts = new Float64Array(V);
    for (const x of u) counts[idx.get(labelKey(x)) as number]++;
    for (let c = 0; c < V; c++) {
      if (counts[c] === 0) continue;
      for (let k = 0; k < V; k++) {
        // ordered pairs of distinct values within the unit
        const pairs = c === k ? counts[c] * (counts[c] - 1) : counts[c] * counts[k];
        if (pairs) o[c][k] += pairs / (m - 1);
      }
    }
  }
  const nc = o.map((row) => row.reduce((s, x) => s + x, 0));
  const n = nc.reduce((s, x) => s + x, 0);
  const delta2 = (c: number, k: number): number => {
    if (c === k) return 0;
    switch (level) {
      case 'nominal':
        return 1;
      case 'ordinal': {
        const [lo, hi] = c < k ? [c, k] : [k, c];
        let s = 0;
        for (let g = lo; g <= hi; g++) s += nc[g];
        const d = s - (nc[c] + nc[k]) / 2;
        return d * d;
      }
      case 'interval': {
        const d = (values[c] as number) - (values[k] as number);
        return d * d;
      }
      case 'ratio': {
        const x = values[c] as number;
        const y = values[k] as number;
        return x + y === 0 ? 0 : ((x - y) / (x + y)) ** 2;
      }
    }
  };
  let dO = 0;
  let dE = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d = delta2(c, k);
      dO += o[c][k] * d;
      dE += nc[c] * nc[k] * d;
    }
  }
  if (n < 2) return { ...none, pairableValues: n };
  const Do = dO / n;
  const De = dE / (n * (n - 1));
  return { alpha: De === 0 ? null : 1 - Do / De, pairableUnits: pairable.length, pairableValues: n, observedDisagreement: Do, expectedDisagreement: De };
}

/** Turns a coders x units matrix (null/undefined = missing) into per-unit value lists for {@link krippendorffAlpha}. */
export function unitsFromMatrix(matrix: readonly (readonly (Label | null | undefined)[])[]): Label[][] {
  const nUnits = Math.max(0, ...matrix.map((r) => r.length));
  const units: Label[][] = Array.from({ length: nUnits }, () => []);
  for (const row of matrix) row.forEach((x, u) => x !== null && x !== undefined && units[u].push(x));
  return units;
}

/** Fraction of pairs where both labels are equal. */
export function accuracy(pairs: readonly (readonly [Label, Label])[]): number | null {
  if (pairs.length === 0) return null;
  return pairs.filter(([a, b]) => labelKey(a) === labelKey(b)).length / pairs.length;
}

export interface LabelFrequency {
  readonly label: Label;
  readonly count: number;
  readonly fraction: number;
}

/** Label counts, most frequent first (ties by label text). */
export function labelDistribution(labels: Iterable<Label>): LabelFrequency[] {
  const counts = new Map<string, { label: Label; count: number }>();
  let n = 0;
  for (const l of labels) {
    n++;
    const k = labelKey(l);
    const c = counts.get(k);
    if (c) c.count++;
    else counts.set(k, { label: l, count: 1 });
  }
  return [...counts.entries()]
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, c]) => ({ label: c.label, count: c.count, fraction: c.count / n }));
}

/** Median (mean of the middle two for an even count); null for no values. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function labelKey(x: Label): string {
  return `${typeof x}:${String(x)}`;
}

// ---- from the label store ----

export interface AgreementFilter {
  /** Label sources to include. Default all. */
  readonly sources?: readonly ('human' | 'ai' | 'program')[];
}

/**
 * The comparable labels per unit and coder (annotator), for one feedback type:
 *  - comparison (pair): unit = record + candidate pair, label = preferred key or `tie` (independent of display order);
 *  - rating: unit = record + target, numeric label;
 *  - critique: binary -> unit = record + target, label = acceptable; multi-label -> one binary unit per label of the
 *    label set (record + target + label), label = whether it was selected.
 */
export function agreementUnits(view: LabelView, type: 'comparison' | 'rating' | 'critique', filter: AgreementFilter = {}): Map<string, Map<string, Label>> {
  const units = new Map<string, Map<string, Label>>();
  const put = (unit: string, coder: string, label: Label): void => {
    let u = units.get(unit);
    if (!u) units.set(unit, (u = new Map()));
    u.set(coder, label);
  };
  for (const e of view.all()) {
    if (e.type !== type) continue;
    if (filter.sources && !filter.sources.includes(sourceClass(e.source))) continue;
    const coder = coderOf(e);
    if (e.type === 'comparison') {
      if (e.payload.mode !== 'pair') continue;
      const pair = [...e.payload.order].sort();
      put(JSON.stringify([e.recordId, ...pair]), coder, e.payload.preferred ?? 'tie');
    } else if (e.type === 'rating') {
      put(JSON.stringify([e.recordId, e.payload.target]), coder, e.payload.value);
    } else if (e.type === 'critique') {
      if (e.payload.mode === 'binary') put(JSON.stringify([e.recordId, e.payload.target]), coder, e.payload.acceptable);
      else for (const l of e.payload.labelSet) put(JSON.stringify([e.recordId, e.payload.target, l]), coder, e.payload.labels.includes(l));
    }
  }
  return units;
}

function coderOf(e: FeedbackEntry): string {
  return e.source === 'human' ? e.annotator : `${e.source}/${e.annotator}`;
}

export interface AnnotatorAgreement {
  readonly type: 'comparison' | 'rating' | 'critique';
  readonly coders: readonly string[];
  /** Units labeled by at least two coders. */
  readonly units: number;
  readonly alpha: AlphaResult;
  /** Cohen's kappa when exactly two coders labeled common units. */
  readonly kappa: KappaResult | null;
}

/** Agreement among all coders of one feedback type (ratings use interval alpha unless another level is given). */
export function annotatorAgreement(view: LabelView, type: 'comparison' | 'rating' | 'critique', filter: AgreementFilter = {}, level?: AlphaLevel): AnnotatorAgreement {
  const units = agreementUnits(view, type, filter);
  const coders = new Set<string>();
  for (const u of units.values()) for (const c of u.keys()) coders.add(c);
  const lists = [...units.values()].map((u) => [...u.values()]);
  const alpha = krippendorffAlpha(lists, level ?? (type === 'rating' ? 'interval' : 'nominal'));
  let kappa: KappaResult | null = null;
  if (coders.size === 2) {
    const [c1, c2] = [...coders];
    const pairs: [Label, Label][] = [];
    for (const u of units.values()) {
      const a = u.get(c1);
      const b = u.get(c2);
      if (a !== undefined && b !== undefined) pairs.push([a, b]);
    }
    kappa = cohenKappa(pairs);
  }
  return { type, coders: [...coders].sort(), units: lists.filter((l) => l.length >= 2).length, alpha, kappa };
}

export interface HumanVsAi {
  readonly type: 'comparison' | 'rating' | 'critique';
  /** Units with both a human label and an AI label. */
  readonly n: number;
  /** Fraction where the AI label equals the human majority label. */
  readonly accuracy: number | null;
  readonly kappa: KappaResult;
}

/**
 * How well AI judges match people: per unit, the human majority label (ties between human labels make the unit
 * undecided and it is skipped) against each AI judge's label.
 */
export function humanVsAi(view: LabelView, type: 'comparison' | 'rating' | 'critique' = 'comparison'): HumanVsAi {
  const human = agreementUnits(view, type, { sources: ['human'] });
  const ai = agreementUnits(view, type, { sources: ['ai'] });
  const pairs: [Label, Label][] = [];
  for (const [unit, judges] of ai) {
    const h = human.get(unit);
    if (!h) continue;
    const top = labelDistribution(h.values());
    if (top.length > 1 && top[0].count === top[1].count) continue;
    for (const label of judges.values()) pairs.push([top[0].label, label]);
  }
  return { type, n: pairs.length, accuracy: accuracy(pairs), kappa: cohenKappa(pairs) };
}

export interface PositionBias {
  /** Pair comparisons that were not ties. */
  readonly decided: number;
  readonly leftWins: number;
  readonly ties: number;
  /** leftWins / decided (0.5 = no position bias); null when nothing was decided. */
  readonly leftRate: number | null;
  /** 95% Wilson score interval for leftRate. */
  readonly interval: readonly [number, number] | null;
}

/** How often the left (first displayed) output won among pair comparisons, with a 95% Wilson interval. */
export function positionBias(view: LabelView, filter: AgreementFilter = {}): PositionBias {
  let decided = 0;
  let left = 0;
  let ties = 0;
  for (const e of view.allOfType('comparison')) {
    if (e.payload.mode !== 'pair') continue;
    if (filter.sources && !filter.sources.includes(sourceClass(e.source))) continue;
    if (e.payload.preferred === null) ties++;
    else {
      decided++;
      if (e.payload.preferred === e.payload.order[0]) left++;
    }
  }
  if (decided === 0) return { decided, leftWins: left, ties, leftRate: null, interval: null };
  const p = left / decided;
  const z = 1.959963984540054;
  const denom = 1 + (z * z) / decided;
  const centre = (p + (z * z) / (2 * decided)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / decided + (z * z) / (4 * decided * decided))) / denom;
  return { decided, leftWins: left, ties, leftRate: p, interval: [Math.max(0, centre - half), Math.min(1, centre + half)] };
}

/** Median seconds per decision over current entries (optionally one type / source class; zero-second entries skipped). */
export function medianSeconds(view: LabelView, type?: FeedbackType, filter: AgreementFilter = {}): number | null {
  const xs: number[] = [];
  for (const e of view.all()) {
    if (type && e.type !== type) continue;
    if (filter.sources && !filter.sources.includes(sourceClass(e.source))) continue;
    if (e.seconds > 0) xs.push(e.seconds);
  }
  return median(xs);
}

/** Label distribution of one feedback type's labels (same labels as {@link agreementUnits}). */
export function labelDistributionOf(view: LabelView, type: 'comparison' | 'rating' | 'critique', filter: AgreementFilter = {}): LabelFrequency[] {
  const all: Label[] = [];
  for (const u of agreementUnits(view, type, filter).values()) all.push(...u.values());
  return labelDistribution(all);
}
