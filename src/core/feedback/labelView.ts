/**
 * The merged view of all journals of a dataset: the current label state per record, and counts.
 *
 * Current state = for each slot (record, type, annotator, source, target[, implicit signal]) the latest entry that
 * is not retracted. Retracting an entry (undo) therefore makes the slot fall back to the entry before it. A
 * retraction can itself be retracted (redo).
 *
 * The view is incremental: entries appended in journal order are applied one by one (a new decision costs O(1),
 * a retraction O(entries in that slot)), so labeling stays fast on journals with many thousands of entries.
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

/** Resolves which entries are retracted, following retractions of retractions. Entries can be added later. */
export class RetractionIndex {
  private readonly retractors = new Map<string, string[]>();
  private memo = new Map<string, boolean>();

  constructor(entries: Iterable<JournalEntry> = []) {
    for (const e of entries) this.add(e);
  }

  /** Registers a journal entry (only retractions matter). */
  add(e: JournalEntry): void {
    if (e.type !== 'retract') return;
    const list = this.retractors.get(e.payload.entryId);
    if (list) list.push(e.id);
    else this.retractors.set(e.payload.entryId, [e.id]);
    if (this.memo.size) this.memo = new Map(); // a new retraction can change any answer along its chain
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
  /** Every entry applied, by id. */
  private readonly byId = new Map<string, JournalEntry>();
  /** Feedback entries per slot, in journal order. */
  private readonly history = new Map<string, FeedbackEntry[]>();
  /** Current entry per slot, grouped by record (Map order = order of the latest write). */
  private readonly byRecord = new Map<string, Map<string, FeedbackEntry>>();
  private readonly retractions = new RetractionIndex();

  /** `entries` must be in journal order (oldest first); later entries win their slot. */
  constructor(entries: readonly JournalEntry[] = []) {
    for (const e of entries) this.apply(e);
  }

  /**
   * Applies one more entry. Entries must come in journal order (each no older than those applied before), except
   * that a retraction may arrive before the entry it retracts.
   */
  apply(e: JournalEntry): void {
    if (this.byId.has(e.id)) return;
    this.byId.set(e.id, e);
    if (e.type === 'retract') {
      this.retractions.add(e);
      // Follow the chain (a retraction of a retraction ...) down to the feedback entry whose slot changes.
      let t = this.byId.get(e.payload.entryId);
      const seen = new Set<string>();
      while (t && t.type === 'retract' && !seen.has(t.id)) {
        seen.add(t.id);
        t = this.byId.get(t.payload.entryId);
      }
      if (t && t.type !== 'retract') this.recompute(slotKey(t), t.recordId);
      return;
    }
    const k = slotKey(e);
    const h = this.history.get(k);
    if (h) h.push(e);
    else this.history.set(k, [e]);
    if (!this.retractions.isRetracted(e.id)) this.setCurrent(e.recordId, k, e);
  }

  private recompute(k: string, recordId: string): void {
    const h = this.history.get(k) ?? [];
    for (let i = h.length - 1; i >= 0; i--) {
      if (!this.retractions.isRetracted(h[i].id)) {
        this.setCurrent(recordId, k, h[i]);
        return;
      }
    }
    this.setCurrent(recordId, k, undefined);
  }

  private setCurrent(recordId: string, k: string, e: FeedbackEntry | undefined): void {
    let slots = this.byRecord.get(recordId);
    if (e === undefined) {
      slots?.delete(k);
      if (slots && slots.size === 0) this.byRecord.delete(recordId);
      return;
    }
    if (!slots) this.byRecord.set(recordId, (slots = new Map()));
    slots.delete(k); // re-insert so the Map order follows the latest write
    slots.set(k, e);
  }

  /** True when an entry (by id) has been retracted. */
  isRetracted(entryId: string): boolean {
    return this.retractions.isRetracted(entryId);
  }

  /** Current entries for a record (all types), in the order they were last written. */
  current(recordId: string): readonly FeedbackEntry[] {
    const slots = this.byRecord.get(recordId);
    return slots ? [...slots.values()] : [];
  }

  /** Current entries of one type for a record. */
  currentOfType<K extends FeedbackType>(recordId: string, type: K): readonly JournalEntryOf<K>[] {
    const slots = this.byRecord.get(recordId);
    if (!slots) return [];
    const out: JournalEntryOf<K>[] = [];
    for (const e of slots.values()) if (e.type === type) out.push(e as unknown as JournalEntryOf<K>);
    return out;
  }

  /** Record ids with at least one current entry. */
  recordIds(): string[] {
    return [...this.byRecord.keys()];
  }

  /** True when the record has a current entry of `type` (from `annotator` when given). */
  has(recordId: string, type: FeedbackType, annotator?: string): boolean {
    const slots = this.byRecord.get(recordId);
    if (!slots) return false;
    for (const e of slots.values()) if (e.type === type && (annotator === undefined || e.annotator === annotator)) return true;
    return false;
  }

  /** Every current entry. */
  *all(): IterableIterator<FeedbackEntry> {
    for (const slots of this.byRecord.values()) yield* slots.values();
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
    let retracted = 0;
    for (const id of this.byId.keys()) if (this.retractions.isRetracted(id)) retracted++;
    return { current, records: this.byRecord.size, retracted, byType, bySource, byTypeAndSource };
  }
}
