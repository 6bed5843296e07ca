/**
 * The merged view of all journals of a dataset: the current label state per record, and counts.
 *
 * Current state = for each slot (record, type, annotator, source, target[, implicit signal]) the latest entry that
 * is not retracted. Retracting an entry (undo) therefore makes the slot fall back to the entry before it. A
 * retraction can itself be retracted (redo).
 */
import { FEEDBACK_TYPES, entryTarget, sourceClass, type FeedbackEntry, type FeedbackType, type JournalEntry, type JournalEntryOf } from './types';

export interface SourceCounts {
  human: number;
  ai: number;
  program: number;
}

export interface LabelCounts {
  /** Current (non-retracted, latest per slot) entries. */
  readonly current: number;
  /** Records with at least one current entry. */
  readonly records: number;
  /** Entries that are retracted. */
  readonly retracted: number;
  readonly byType: Readonly<Record<FeedbackType, number>>;
  readonly bySource: Readonly<SourceCounts>;
  readonly byTypeAndSource: Readonly<Record<FeedbackType, Readonly<SourceCounts>>>;
}

/** The slot a feedback entry occupies: a newer entry in the same slot replaces it. */
export function slotKey(e: FeedbackEntry): string {
  const parts: string[] = [e.recordId, e.type, e.annotator, e.source, entryTarget(e) ?? ''];
  if (e.type === 'implicit') parts.push(e.payload.signal);
  return JSON.stringify(parts);
}

/** Resolves which entries are retracted, following retractions of retractions. */
export class RetractionIndex {
  private readonly retractors = new Map<string, string[]>();
  private readonly memo = new Map<string, boolean>();

  constructor(entries: Iterable<JournalEntry>) {
    for (const e of entries) {
      if (e.type !== 'retract') continue;
      const list = this.retractors.get(e.payload.entryId);
      if (list) list.push(e.id);
      else this.retractors.set(e.payload.entryId, [e.id]);
    }
  }

  isRetracted(entryId: string, visiting = new Set<string>()): boolean {
    const known = this.memo.get(entryId);
    if (known !== undefined) return known;
    const rs = this.retractors.get(entryId);
    if (!rs) return false;
    if (visiting.has(entryId)) return false; // a cycle of retractions cancels out; no real journal produces one
    visiting.add(entryId);
    const out = rs.some((r) => !this.isRetracted(r, visiting));
    visiting.delete(entryId);
    this.memo.set(entryId, out);
    return out;
  }
}

export class LabelView {
  private readonly byRecord = new Map<string, FeedbackEntry[]>();
  private readonly retractedCount: number;

  /** `entries` must be in journal order (oldest first); later entries win their slot. */
  constructor(entries: readonly JournalEntry[]) {
    const retractions = new RetractionIndex(entries);
    const slots = new Map<string, FeedbackEntry>();
    let retracted = 0;
    for (const e of entries) {
      if (retractions.isRetracted(e.id)) {
        retracted++;
        continue;
      }
      if (e.type === 'retract') continue;
      const k = slotKey(e);
      slots.delete(k); // re-insert so Map order follows the latest write
      slots.set(k, e);
    }
    this.retractedCount = retracted;
    for (const e of slots.values()) {
      const list = this.byRecord.get(e.recordId);
      if (list) list.push(e);
      else this.byRecord.set(e.recordId, [e]);
    }
  }

  /** Current entries for a record (all types), oldest first. */
  current(recordId: string): readonly FeedbackEntry[] {
    return this.byRecord.get(recordId) ?? [];
  }

  /** Current entries of one type for a record. */
  currentOfType<K extends FeedbackType>(recordId: string, type: K): readonly JournalEntryOf<K>[] {
    return this.current(recordId).filter((e): e is Extract<FeedbackEntry, { type: K }> => e.type === type) as unknown as JournalEntryOf<K>[];
  }

  /** Record ids with at least one current entry. */
  recordIds(): string[] {
    return [...this.byRecord.keys()];
  }

  /** True when the record has a current entry of `type` (from `annotator` when given). */
  has(recordId: string, type: FeedbackType, annotator?: string): boolean {
    return this.current(recordId).some((e) => e.type === type && (annotator === undefined || e.annotator === annotator));
  }

  /** Every current entry. */
  *all(): IterableIterator<FeedbackEntry> {
    for (const list of this.byRecord.values()) yield* list;
  }

  /** Every current entry of one type. */
  *allOfType<K extends FeedbackType>(type: K): IterableIterator<JournalEntryOf<K>> {
    for (const e of this.all()) if (e.type === type) yield e as unknown as JournalEntryOf<K>;
  }

  counts(): LabelCounts {
    const zero = (): SourceCounts => ({ human: 0, ai: 0, program: 0 });
    const byType = Object.fromEntries(FEEDBACK_TYPES.map((t) => [t, 0])) as Record<FeedbackType, number>;
    const byTypeAndSource = Object.fromEntries(FEEDBACK_TYPES.map((t) => [t, zero()])) as Record<FeedbackType, SourceCounts>;
    const bySource = zero();
    let current = 0;
    for (const e of this.all()) {
      const s = sourceClass(e.source);
      current++;
      byType[e.type]++;
      bySource[s]++;
      byTypeAndSource[e.type][s]++;
    }
    return { current, records: this.byRecord.size, retracted: this.retractedCount, byType, bySource, byTypeAndSource };
  }
}
