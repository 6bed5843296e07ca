/**
 * Feedback record types: one per human-feedback type of ALIGNMENT_REFERENCE.md section 3 (the survey's Table 3,
 * after Metz et al.), as a discriminated union on `type`, with validators that name the bad field.
 *
 * Candidates ("targets") are named by a field path into the dataset record, e.g. `chosen`, `rejected`,
 * `completion`, `responses[2]`. Text offsets are UTF-16 code-unit offsets into the field's text as JavaScript
 * strings index it (for a message list: the content of its last message unless the path names a message).
 */
import { isRecord, v, type Validator } from '../../protocol/message';

/** Who produced a label: a person, an AI judge (`ai:<judge id>`), or a user-written scorer (`program:<id>`). */
export type FeedbackSource = 'human' | `ai:${string}` | `program:${string}`;

/** Pick the better of two outputs (ties allowed). `order` is the displayed order, left then right. */
export interface PairComparison {
  readonly mode: 'pair';
  /** Candidate keys as displayed: [left, right]. Recorded so position bias can be measured. */
  readonly order: readonly [string, string];
  /** The preferred candidate key, or null for a tie. */
  readonly preferred: string | null;
}

/** Rank k outputs. `ranking` lists groups best first; candidates in one group are tied. */
export interface RankingComparison {
  readonly mode: 'ranking';
  /** Candidate keys as displayed (top to bottom / left to right). */
  readonly order: readonly string[];
  readonly ranking: readonly (readonly string[])[];
}

export type ComparisonPayload = PairComparison | RankingComparison;

/** Likert rating of one output on an integer scale [min, max]. */
export interface RatingPayload {
  readonly target: string;
  readonly value: number;
  readonly scale: { readonly min: number; readonly max: number; readonly labels?: readonly string[] };
}

/** Explicit judgement of one output: acceptable or not, or a set of labels from a configured label set. */
export type CritiquePayload =
  | { readonly target: string; readonly mode: 'binary'; readonly acceptable: boolean }
  | { readonly target: string; readonly mode: 'multi'; readonly labels: readonly string[]; readonly labelSet: readonly string[] };

/** Free text about what is wrong or what to change. No target = about the whole record. */
export interface NaturalLanguagePayload {
  readonly target?: string;
  readonly text: string;
}

/** The person edited an output into a better one; the edit is preferred over the original. */
export interface ImprovementPayload {
  readonly target: string;
  /** `sha1:<hex>` of the original text, so an export can tell when the dataset changed under the label. */
  readonly originalSha1: string;
  readonly edited: string;
}

/** Halt/flag an output (or, without target, the whole record) as unacceptable. */
export interface EStopPayload {
  readonly target?: string;
  readonly reason?: string;
}

/** A span [start, end) of a field's text that matters for the goal. */
export interface ImportanceSpan {
  /** Field path, e.g. `prompt`, `prompt[0].content`, `chosen`. */
  readonly field: string;
  readonly start: number;
  readonly end: number;
  readonly label?: string;
}

export interface ImportancePayload {
  readonly spans: readonly ImportanceSpan[];
}

/** One judgement per step of a multi-step output (PRM800K-style -1 / 0 / +1). */
export interface InterTemporalStep {
  readonly start: number;
  readonly end: number;
  readonly label: -1 | 0 | 1;
}

export interface InterTemporalPayload {
  readonly target: string;
  /** Steps in text order, non-overlapping. */
  readonly steps: readonly InterTemporalStep[];
}

/** For the triplet (anchor, a, b): which of a or b is more similar to the anchor. `a` was displayed first. */
export interface SimilarityPayload {
  readonly anchor: string;
  readonly a: string;
  readonly b: string;
  readonly moreSimilar: 'a' | 'b';
}

/** Outputs ordered so that one feature changes monotonically along the list. */
export interface FeatureTracePayload {
  readonly feature: string;
  readonly direction: 'increasing' | 'decreasing';
  /** Candidate keys in trace order (at least 2). */
  readonly items: readonly string[];
}

/** A score from a user-written approximate reward function (run elsewhere, only in trusted workspaces). */
export interface ProxyRewardPayload {
  readonly target: string;
  readonly score: number;
  /** Scorer id (e.g. module path + function name, or a hash of the rule). */
  readonly scorer: string;
}

/** Implicit cue from what a person did with an output (opt-in). */
export interface ImplicitPayload {
  readonly target: string;
  readonly signal: 'accept' | 'copy' | 'edit' | 'undo' | 'reject';
}

/** Retracts (undoes) an earlier entry. */
export interface RetractPayload {
  readonly entryId: string;
}

export interface PayloadByType {
  comparison: ComparisonPayload;
  rating: RatingPayload;
  critique: CritiquePayload;
  naturalLanguage: NaturalLanguagePayload;
  improvement: ImprovementPayload;
  eStop: EStopPayload;
  importance: ImportancePayload;
  interTemporal: InterTemporalPayload;
  similarity: SimilarityPayload;
  featureTrace: FeatureTracePayload;
  proxyReward: ProxyRewardPayload;
  implicit: ImplicitPayload;
  retract: RetractPayload;
}

/** Every feedback type (the `retract` bookkeeping entry is not a feedback type). */
export type FeedbackType = Exclude<keyof PayloadByType, 'retract'>;
export type JournalEntryType = keyof PayloadByType;

export const FEEDBACK_TYPES: readonly FeedbackType[] = [
  'comparison',
  'rating',
  'critique',
  'naturalLanguage',
  'improvement',
  'eStop',
  'importance',
  'interTemporal',
  'similarity',
  'featureTrace',
  'proxyReward',
  'implicit',
];

export const JOURNAL_VERSION = 1;

interface EntryBase {
  /** Journal format version. */
  readonly v: 1;
  /** Entry id (UUID). */
  readonly id: string;
  /** Stable id of the dataset record (see jsonlScan). */
  readonly recordId: string;
  readonly annotator: string;
  /** ISO 8601 time the decision was recorded. */
  readonly timestamp: string;
  readonly source: FeedbackSource;
  /** Seconds the annotator spent on this decision (0 when unknown / automatic). */
  readonly seconds: number;
  /** Writer (window) id: the journal file this entry lives in. */
  readonly writer: string;
}

export type JournalEntryOf<K extends JournalEntryType> = EntryBase & { readonly type: K; readonly payload: PayloadByType[K] };
export type JournalEntry = { [K in JournalEntryType]: JournalEntryOf<K> }[JournalEntryType];
export type FeedbackEntry = { [K in FeedbackType]: JournalEntryOf<K> }[FeedbackType];
export type RetractEntry = JournalEntryOf<'retract'>;

// ---- validators ----

const nonEmpty = (max = 10_000): Validator<string> => (x, p) =>
  typeof x !== 'string' ? [`${p}: expected a string`] : x.length === 0 ? [`${p}: must not be empty`] : x.length > max ? [`${p}: at most ${max} characters`] : [];
const key = nonEmpty(500);

const fields = <T>(shape: { [K in keyof T]-?: Validator<T[K]> }): Validator<T> => {
  const inner = v.object(shape);
  const known = new Set(Object.keys(shape));
  return (x, p) => {
    const out = inner(x, p);
    if (isRecord(x)) for (const k of Object.keys(x)) if (!known.has(k)) out.push(`${p}.${k}: unknown field`);
    return out;
  };
};

const distinct = (xs: readonly string[], p: string): string[] => (new Set(xs).size === xs.length ? [] : [`${p}: candidate keys must be distinct`]);

const pairComparison: Validator<PairComparison> = (x, p) => {
  const out = fields<PairComparison>({
    mode: v.literal('pair'),
    order: v.array(key, 2) as Validator<readonly [string, string]>,
    preferred: v.nullable(key),
  })(x, p);
  if (out.length) return out;
  const c = x as PairComparison;
  if (c.order.length !== 2) return [`${p}.order: expected exactly 2 candidate keys`];
  out.push(...distinct(c.order, `${p}.order`));
  if (c.preferred !== null && !c.order.includes(c.preferred)) out.push(`${p}.preferred: must be one of order (${c.order.join(', ')}) or null for a tie`);
  return out;
};

const rankingComparison: Validator<RankingComparison> = (x, p) => {
  const out = fields<RankingComparison>({
    mode: v.literal('ranking'),
    order: v.array(key, 1000),
    ranking: v.array(v.array(key, 1000), 1000),
  })(x, p);
  if (out.length) return out;
  const c = x as RankingComparison;
  if (c.order.length < 2) return [`${p}.order: a ranking needs at least 2 candidates`];
  out.push(...distinct(c.order, `${p}.order`));
  const flat = c.ranking.flat();
  if (c.ranking.some((g) => g.length === 0)) out.push(`${p}.ranking: groups must not be empty`);
  if (flat.length !== c.order.length || new Set(flat).size !== flat.length || !flat.every((k) => c.order.includes(k))) {
    out.push(`${p}.ranking: must rank every candidate of order exactly once`);
  }
  return out;
};

const comparison: Validator<ComparisonPayload> = (x, p) => {
  if (!isRecord(x)) return [`${p}: expected an object`];
  if (x.mode === 'pair') return pairComparison(x, p);
  if (x.mode === 'ranking') return rankingComparison(x, p);
  return [`${p}.mode: expected "pair" or "ranking"`];
};

const rating: Validator<RatingPayload> = (x, p) => {
  const out = fields<RatingPayload>({
    target: key,
    value: v.number(),
    scale: fields<RatingPayload['scale']>({ min: v.integer(-1000, 1000), max: v.integer(-1000, 1000), labels: v.optional(v.array(v.string(), 2001)) }),
  })(x, p);
  if (out.length) return out;
  const r = x as RatingPayload;
  if (r.scale.min >= r.scale.max) out.push(`${p}.scale: min must be below max`);
  else if (!Number.isInteger(r.value) || r.value < r.scale.min || r.value > r.scale.max) out.push(`${p}.value: expected an integer in [${r.scale.min}, ${r.scale.max}]`);
  if (r.scale.labels && r.scale.labels.length !== r.scale.max - r.scale.min + 1) out.push(`${p}.scale.labels: expected one label per scale point (${r.scale.max - r.scale.min + 1})`);
  return out;
};

const critique: Validator<CritiquePayload> = (x, p) => {
  if (!isRecord(x)) return [`${p}: expected an object`];
  if (x.mode === 'binary') return fields<Extract<CritiquePayload, { mode: 'binary' }>>({ target: key, mode: v.literal('binary'), acceptable: v.boolean() })(x, p);
  if (x.mode !== 'multi') return [`${p}.mode: expected "binary" or "multi"`];
  const out = fields<Extract<CritiquePayload, { mode: 'multi' }>>({ target: key, mode: v.literal('multi'), labels: v.array(key, 200), labelSet: v.array(key, 200) })(x, p);
  if (out.length) return out;
  const c = x as Extract<CritiquePayload, { mode: 'multi' }>;
  if (c.labelSet.length === 0) out.push(`${p}.labelSet: must not be empty`);
  out.push(...distinct(c.labels, `${p}.labels`));
  for (const l of c.labels) if (!c.labelSet.includes(l)) out.push(`${p}.labels: "${l}" is not in labelSet`);
  return out;
};

const naturalLanguage = fields<NaturalLanguagePayload>({ target: v.optional(key), text: nonEmpty(100_000) });
const improvement: Validator<ImprovementPayload> = (x, p) => {
  const out = fields<ImprovementPayload>({ target: key, originalSha1: v.string(), edited: v.string() })(x, p);
  if (out.length) return out;
  if (!/^sha1:[0-9a-f]{40}$/.test((x as ImprovementPayload).originalSha1)) out.push(`${p}.originalSha1: expected "sha1:" and 40 hex digits`);
  return out;
};
const eStop = fields<EStopPayload>({ target: v.optional(key), reason: v.optional(v.string()) });

const span = (p: string, start: unknown, end: unknown): string[] =>
  Number.isInteger(start) && Number.isInteger(end) && (start as number) >= 0 && (end as number) > (start as number) ? [] : [`${p}: expected integer offsets with 0 <= start < end`];

const importance: Validator<ImportancePayload> = (x, p) => {
  const out = fields<ImportancePayload>({
    spans: v.array(fields<ImportanceSpan>({ field: key, start: v.number(), end: v.number(), label: v.optional(v.string()) }), 10_000),
  })(x, p);
  if (out.length) return out;
  const s = (x as ImportancePayload).spans;
  if (s.length === 0) out.push(`${p}.spans: at least one span`);
  s.forEach((e, i) => out.push(...span(`${p}.spans[${i}]`, e.start, e.end)));
  return out;
};

const interTemporal: Validator<InterTemporalPayload> = (x, p) => {
  const out = fields<InterTemporalPayload>({
    target: key,
    steps: v.array(fields<InterTemporalStep>({ start: v.number(), end: v.number(), label: v.literal(-1, 0, 1) }), 100_000),
  })(x, p);
  if (out.length) return out;
  const steps = (x as InterTemporalPayload).steps;
  if (steps.length === 0) out.push(`${p}.steps: at least one step`);
  steps.forEach((s, i) => {
    out.push(...span(`${p}.steps[${i}]`, s.start, s.end));
    if (i > 0 && s.start < steps[i - 1].end) out.push(`${p}.steps[${i}]: steps must be in order and not overlap`);
  });
  return out;
};

const similarity: Validator<SimilarityPayload> = (x, p) => {
  const out = fields<SimilarityPayload>({ anchor: key, a: key, b: key, moreSimilar: v.literal('a', 'b') })(x, p);
  if (out.length) return out;
  const s = x as SimilarityPayload;
  return distinct([s.anchor, s.a, s.b], p);
};

const featureTrace: Validator<FeatureTracePayload> = (x, p) => {
  const out = fields<FeatureTracePayload>({ feature: key, direction: v.literal('increasing', 'decreasing'), items: v.array(key, 1000) })(x, p);
  if (out.length) return out;
  const items = (x as FeatureTracePayload).items;
  if (items.length < 2) out.push(`${p}.items: a trace needs at least 2 items`);
  out.push(...distinct(items, `${p}.items`));
  return out;
};

const proxyReward = fields<ProxyRewardPayload>({ target: key, score: v.number(), scorer: key });
const implicit = fields<ImplicitPayload>({ target: key, signal: v.literal('accept', 'copy', 'edit', 'undo', 'reject') });
const retract = fields<RetractPayload>({ entryId: key });

/** Payload validator per journal entry type. */
export const payloadValidators: { readonly [K in JournalEntryType]: Validator<PayloadByType[K]> } = {
  comparison,
  rating,
  critique,
  naturalLanguage,
  improvement,
  eStop,
  importance,
  interTemporal,
  similarity,
  featureTrace,
  proxyReward,
  implicit,
  retract,
};

const source: Validator<FeedbackSource> = (x, p) =>
  x === 'human' || (typeof x === 'string' && /^(ai|program):\S+$/.test(x)) ? [] : [`${p}: expected "human", "ai:<judge>" or "program:<scorer>"`];

const isoTime: Validator<string> = (x, p) =>
  typeof x === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(x) && !Number.isNaN(Date.parse(x)) ? [] : [`${p}: expected an ISO 8601 timestamp`];

/** Writer ids become file names: letters, digits, dot, dash, underscore. */
export const WRITER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const writer: Validator<string> = (x, p) => (typeof x === 'string' && WRITER_ID_PATTERN.test(x) ? [] : [`${p}: expected a writer id (letters, digits, . _ -)`]);

const entryBase = fields<EntryBase & { type: string; payload: unknown }>({
  v: v.literal(JOURNAL_VERSION) as Validator<1>,
  id: key,
  recordId: key,
  type: v.string(),
  payload: v.unknown(),
  annotator: nonEmpty(200),
  timestamp: isoTime,
  source,
  seconds: (x, p) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? [] : [`${p}: expected a number of seconds >= 0`]),
  writer,
});

function isEntryType(t: unknown): t is JournalEntryType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(payloadValidators, t);
}

/** Problems with `x` as a journal entry (empty when valid). */
export function journalEntryProblems(x: unknown, p = 'entry'): string[] {
  if (isRecord(x) && typeof x.v === 'number' && x.v > JOURNAL_VERSION) return [`${p}.v: written by a newer version (journal format ${x.v}); update the extension`];
  const out = entryBase(x, p);
  if (!isRecord(x)) return out;
  if (!isEntryType(x.type)) {
    out.push(`${p}.type: unknown feedback type ${JSON.stringify(x.type)}`);
    return out;
  }
  return out.concat((payloadValidators[x.type] as Validator<unknown>)(x.payload, `${p}.payload`));
}

/** True when `x` is a valid journal entry. */
export function isJournalEntry(x: unknown): x is JournalEntry {
  return journalEntryProblems(x).length === 0;
}

/** The candidate key a feedback entry is about, if it targets one output. */
export function entryTarget(e: FeedbackEntry): string | undefined {
  const p = e.payload as { target?: unknown };
  return typeof p.target === 'string' ? p.target : undefined;
}

/** Coarse source class for counts: human, ai or program. */
export function sourceClass(s: FeedbackSource): 'human' | 'ai' | 'program' {
  return s === 'human' ? 'human' : s.startsWith('ai:') ? 'ai' : 'program';
}
