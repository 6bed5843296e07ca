/**
 * Export labels + dataset to TRL's training formats:
 *  - preference: `{prompt, chosen, rejected}` (standard strings or conversational message lists, whichever the
 *    input record uses; implicit-prompt records export `{chosen, rejected}` only), for reward modeling / DPO family;
 *  - unpaired: `{prompt, completion, label}` for KTO, from ratings, critiques, flags, improvements (and optionally
 *    comparisons).
 * Files are written atomically and durably (src/util/durable.ts): a crash never leaves a half-written export.
 */
import type { DatasetIndex } from '../datasets/jsonlScan';
import { candidateText, getFieldPath, textSha1, withCandidateText } from './fieldPath';
import type { LabelView } from './labelView';
import { sourceClass, type FeedbackEntry, type JournalEntryOf } from './types';
import { writeFileDurable } from '../../util/durable';

/** Read access to the dataset records, by stable id, in dataset order. */
export interface DatasetReader {
  /** Record ids in dataset order. */
  ids(): Iterable<string>;
  /** The record, or undefined when the id is unknown or the line is unreadable. */
  read(id: string): Record<string, unknown> | undefined;
}

/**
 * A {@link DatasetReader} over a scanned index (call `index.scan()` first). Records are read as the scan checked
 * them: a row of a non-TRL format (ShareGPT, HH-RLHF, UltraFeedback) as its TRL view, so the export is TRL rows.
 */
export function readerFromIndex(index: DatasetIndex): DatasetReader {
  if (!index.idsFinal) throw new Error(`scan ${index.file} before exporting: record ids are not final yet`);
  return {
    *ids() {
      for (let i = 0; i < index.count; i++) {
        const id = index.idAt(i);
        if (id !== undefined) yield id;
      }
    },
    read(id) {
      const i = index.indexOfId(id);
      if (i === undefined) return undefined;
      const r = index.readRecord(i);
      return r.ok ? r.record.row : undefined;
    },
  };
}

export interface CommonExportOptions {
  /** Which label sources to use. Default all. */
  readonly sources?: readonly ('human' | 'ai' | 'program')[];
  /** Only these annotators' labels. Default all. */
  readonly annotators?: readonly string[];
  /**
   * Records or outputs flagged with an e-stop: `drop` leaves the whole record out; `rejected` keeps them as
   * rejected / undesirable examples. Default `drop`.
   */
  readonly flagged?: 'drop' | 'rejected';
  /** Use improvements (edited output preferred over / more desirable than the original). Default true. */
  readonly improvements?: boolean;
  /** Add each record's `id` to the exported rows (TRL ignores extra columns). Default false. */
  readonly includeIds?: boolean;
}

export interface PreferenceExportOptions extends CommonExportOptions {
  /**
   * Tied comparisons: `drop` them; `both` writes the pair both ways; `asIs` keeps the dataset's own chosen/rejected
   * order (only possible for the record's `chosen`/`rejected` fields; other ties are dropped). Default `drop`.
   */
  readonly ties?: 'drop' | 'both' | 'asIs';
}

export interface UnpairedExportOptions extends CommonExportOptions {
  /** Ratings >= this are desirable, below undesirable. Default: above the scale midpoint desirable, below undesirable, the midpoint itself skipped. */
  readonly ratingThreshold?: number;
  /** Critique labels that make an output undesirable. Default harmful, factual-error, unsafe, incorrect, unhelpful, off-topic. */
  readonly negativeLabels?: readonly string[];
  /** Critique labels that make an output desirable (when no negative label is set). Default helpful, correct, safe. */
  readonly positiveLabels?: readonly string[];
  /** Also turn comparison outcomes into examples (winner desirable, loser undesirable). Default false. */
  readonly comparisons?: boolean;
}

export interface ExportReport {
  readonly path: string;
  readonly written: number;
  /** Reasons for leaving labeled records or labels out, with counts. */
  readonly skipped: Readonly<Record<string, number>>;
}

export const DEFAULT_NEGATIVE_LABELS = ['harmful', 'factual-error', 'unsafe', 'incorrect', 'unhelpful', 'off-topic'] as const;
export const DEFAULT_POSITIVE_LABELS = ['helpful', 'correct', 'safe'] as const;

type Row = Record<string, unknown>;

class Skips {
  readonly counts: Record<string, number> = {};
  add(reason: string, n = 1): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + n;
  }
}

function selected(view: LabelView, recordId: string, o: CommonExportOptions): FeedbackEntry[] {
  return view.current(recordId).filter((e) => (!o.sources || o.sources.includes(sourceClass(e.source))) && (!o.annotators || o.annotators.includes(e.annotator)));
}

interface Flags {
  readonly record: boolean;
  readonly targets: ReadonlySet<string>;
}

function flagsOf(entries: readonly FeedbackEntry[]): Flags {
  const targets = new Set<string>();
  let record = false;
  for (const e of entries) {
    if (e.type !== 'eStop') continue;
    if (e.payload.target === undefined) record = true;
    else targets.add(e.payload.target);
  }
  return { record, targets };
}

/** Outcome of one unordered candidate pair after majority vote: the winner first, or a tie. */
interface PairOutcome {
  readonly a: string;
  readonly b: string;
  /** a preferred over b, or tied. */
  readonly tie: boolean;
}

/**
 * Majority vote over all comparison labels of a record, pair by pair. Each annotator's current comparison counts
 * once per candidate pair; a ranking contributes every pair it orders (and a tie for candidates in one group).
 * More votes for one side than the other (and at least as many as for a tie) wins; anything else is a tie.
 */
export function comparisonOutcomes(entries: readonly FeedbackEntry[]): PairOutcome[] {
  const votes = new Map<string, { x: string; y: string; x_: number; y_: number; tie: number }>();
  const vote = (p: string, q: string, winner: string | null): void => {
    const [x, y] = p < q ? [p, q] : [q, p];
    const k = JSON.stringify([x, y]);
    let v = votes.get(k);
    if (!v) votes.set(k, (v = { x, y, x_: 0, y_: 0, tie: 0 }));
    if (winner === null) v.tie++;
    else if (winner === x) v.x_++;
    else v.y_++;
  };
  for (const e of entries) {
    if (e.type !== 'comparison') continue;
    const c = e.payload;
    if (c.mode === 'pair') vote(c.order[0], c.order[1], c.preferred);
    else {
      c.ranking.forEach((group, gi) => {
        for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) vote(group[i], group[j], null);
        for (const worse of c.ranking.slice(gi + 1)) for (const a of group) for (const b of worse) vote(a, b, a);
      });
    }
  }
  const out: PairOutcome[] = [];
  for (const v of votes.values()) {
    if (v.x_ > v.y_ && v.x_ >= v.tie) out.push({ a: v.x, b: v.y, tie: false });
    else if (v.y_ > v.x_ && v.y_ >= v.tie) out.push({ a: v.y, b: v.x, tie: false });
    else out.push({ a: v.x, b: v.y, tie: true });
  }
  return out;
}

function promptPart(record: Row): Row | undefined {
  if (record.prompt !== undefined) return { prompt: record.prompt };
  // TRL's implicit-prompt conversational form: the prompt is the shared prefix inside chosen/rejected.
  if (Array.isArray(record.chosen) && Array.isArray(record.rejected)) return {};
  return undefined;
}

/** Preference rows for one record. */
function preferenceRows(recordId: string, record: Row, entries: readonly FeedbackEntry[], o: PreferenceExportOptions, skips: Skips): Row[] {
  const flags = flagsOf(entries);
  const flaggedPolicy = o.flagged ?? 'drop';
  if ((flags.record || flags.targets.size > 0) && flaggedPolicy === 'drop') {
    skips.add('flagged');
    return [];
  }
  if (flags.record) {
    skips.add('flagged-record-no-acceptable-output');
    return [];
  }
  const prompt = promptPart(record);
  if (!prompt) {
    skips.add('no-prompt');
    return [];
  }
  const idPart = o.includeIds ? { id: recordId } : {};
  const rows: Row[] = [];
  const emit = (chosenKey: string, rejectedKey: string, chosen?: unknown, rejected?: unknown): void => {
    const c = chosen ?? getFieldPath(record, chosenKey);
    const r = rejected ?? getFieldPath(record, rejectedKey);
    if (c === undefined || r === undefined) {
      skips.add('missing-candidate');
      return;
    }
    rows.push({ ...idPart, ...prompt, chosen: c, rejected: r });
  };

  const outcomes = comparisonOutcomes(entries);
  const handled = new Set<string>();
  for (const oc of outcomes) {
    const fa = flags.targets.has(oc.a);
    const fb = flags.targets.has(oc.b);
    handled.add(JSON.stringify([oc.a, oc.b].sort()));
    if (fa && fb) {
      skips.add('both-flagged');
      continue;
    }
    // An e-stop overrides the vote: the flagged output is the rejected one.
    if (fa || fb) {
      emit(fa ? oc.b : oc.a, fa ? oc.a : oc.b);
      continue;
    }
    if (!oc.tie) {
      emit(oc.a, oc.b);
      continue;
    }
    const ties = o.ties ?? 'drop';
    if (ties === 'drop') skips.add('tie');
    else if (ties === 'both') {
      emit(oc.a, oc.b);
      emit(oc.b, oc.a);
    } else if ([oc.a, oc.b].includes('chosen') && [oc.a, oc.b].includes('rejected')) emit('chosen', 'rejected');
    else skips.add('tie-without-dataset-order');
  }
  // A flagged output of a chosen/rejected record that nobody compared: the unflagged one is preferred.
  if (flags.targets.size > 0 && !handled.has(JSON.stringify(['chosen', 'rejected']))) {
    const fc = flags.targets.has('chosen');
    const fr = flags.targets.has('rejected');
    if (fc !== fr && record.chosen !== undefined && record.rejected !== undefined) emit(fc ? 'rejected' : 'chosen', fc ? 'chosen' : 'rejected');
  }
  if (o.improvements ?? true) {
    for (const e of entries) {
      if (e.type !== 'improvement') continue;
      const imp = improvedPair(record, e, skips);
      if (imp) emit(e.payload.target, e.payload.target, imp.edited, imp.original);
    }
  }
  return rows;
}

function improvedPair(record: Row, e: JournalEntryOf<'improvement'>, skips: Skips): { edited: unknown; original: unknown } | undefined {
  const original = getFieldPath(record, e.payload.target);
  const text = candidateText(original);
  if (text === undefined) {
    skips.add('missing-candidate');
    return undefined;
  }
  if (textSha1(text) !== e.payload.originalSha1) {
    skips.add('improvement-of-changed-output');
    return undefined;
  }
  if (text === e.payload.edited) {
    skips.add('improvement-unchanged');
    return undefined;
  }
  return { edited: withCandidateText(original, e.payload.edited), original };
}

/** Unpaired (KTO) rows for one record. */
function unpairedRows(recordId: string, record: Row, entries: readonly FeedbackEntry[], o: UnpairedExportOptions, skips: Skips): Row[] {
  const flags = flagsOf(entries);
  const flaggedPolicy = o.flagged ?? 'drop';
  if ((flags.record || flags.targets.size > 0) && flaggedPolicy === 'drop') {
    skips.add('flagged');
    return [];
  }
  if (record.prompt === undefined) {
    skips.add('no-prompt');
    return [];
  }
  const negative = new Set(o.negativeLabels ?? DEFAULT_NEGATIVE_LABELS);
  const positive = new Set(o.positiveLabels ?? DEFAULT_POSITIVE_LABELS);
  const signals = new Map<string, boolean[]>();
  const say = (target: string, label: boolean): void => {
    const s = signals.get(target);
    if (s) s.push(label);
    else signals.set(target, [label]);
  };
  const extra: Row[] = [];
  const idPart = o.includeIds ? { id: recordId } : {};
  for (const e of entries) {
    switch (e.type) {
      case 'rating': {
        const { value, scale } = e.payload;
        if (o.ratingThreshold !== undefined) say(e.payload.target, value >= o.ratingThreshold);
        else {
          const mid = (scale.min + scale.max) / 2;
          if (value !== mid) say(e.payload.target, value > mid);
        }
        break;
      }
      case 'critique':
        if (e.payload.mode === 'binary') say(e.payload.target, e.payload.acceptable);
        else if (e.payload.labels.some((l) => negative.has(l))) say(e.payload.target, false);
        else if (e.payload.labels.some((l) => positive.has(l))) say(e.payload.target, true);
        break;
      case 'eStop':
        if (e.payload.target !== undefined) say(e.payload.target, false);
        break;
      case 'improvement':
        if (o.improvements ?? true) {
          const imp = improvedPair(record, e, skips);
          if (imp) {
            say(e.payload.target, false);
            extra.push({ ...idPart, prompt: record.prompt, completion: imp.edited, label: true });
          }
        }
        break;
      default:
        break;
    }
  }
  if (o.comparisons) {
    for (const oc of comparisonOutcomes(entries)) {
      if (oc.tie) continue;
      say(oc.a, true);
      say(oc.b, false);
    }
  }
  if (flags.record) {
    // A flagged record: every output it has labels for, and its own completion, is undesirable.
    const targets = new Set([...signals.keys(), ...(record.completion !== undefined ? ['completion'] : [])]);
    for (const t of targets) say(t, false);
  }
  const rows: Row[] = [];
  for (const target of [...signals.keys()].sort()) {
    const labels = signals.get(target) ?? [];
    if (labels.some((l) => l !== labels[0])) {
      skips.add('conflicting-labels');
      continue;
    }
    const completion = getFieldPath(record, target);
    if (completion === undefined) {
      skips.add('missing-candidate');
      continue;
    }
    rows.push({ ...idPart, prompt: record.prompt, completion, label: labels[0] });
  }
  return rows.concat(extra);
}

function exportWith(
  out: string,
  dataset: DatasetReader,
  view: LabelView,
  o: CommonExportOptions,
  rowsFor: (recordId: string, record: Row, entries: readonly FeedbackEntry[], skips: Skips) => Row[],
): ExportReport {
  const skips = new Skips();
  const lines: string[] = [];
  const labeled = new Set(view.recordIds());
  for (const id of dataset.ids()) {
    if (!labeled.delete(id)) continue;
    const entries = selected(view, id, o);
    if (entries.length === 0) continue;
    const record = dataset.read(id);
    if (!record) {
      skips.add('record-unreadable');
      continue;
    }
    for (const row of rowsFor(id, record, entries, skips)) lines.push(JSON.stringify(row));
  }
  if (labeled.size > 0) skips.add('record-not-in-dataset', labeled.size);
  writeFileDurable(out, lines.length ? lines.join('\n') + '\n' : '');
  return { path: out, written: lines.length, skipped: skips.counts };
}

/** Writes a TRL preference dataset (JSONL) from the labels. */
export function exportPreference(out: string, dataset: DatasetReader, view: LabelView, options: PreferenceExportOptions = {}): ExportReport {
  return exportWith(out, dataset, view, options, (id, r, e, s) => preferenceRows(id, r, e, options, s));
}

/** Writes a TRL unpaired preference dataset (JSONL: prompt, completion, label) for KTO from the labels. */
export function exportUnpaired(out: string, dataset: DatasetReader, view: LabelView, options: UnpairedExportOptions = {}): ExportReport {
  return exportWith(out, dataset, view, options, (id, r, e, s) => unpairedRows(id, r, e, options, s));
}
