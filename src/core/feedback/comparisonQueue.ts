/**
 * The order in which a person labels the pairs of a preference dataset: the next valid record without a current
 * comparison from this annotator, with its two outputs in random left/right order (recorded with the decision,
 * so position bias can be measured later).
 */
import type { ChatMessage, DatasetIndex, JsonlScanResult } from '../datasets/jsonlScan';
import { candidateText } from './fieldPath';
import type { LabelView } from './labelView';

/** A pair ready to show. */
export interface QueuedPair {
  /** Record index in the JSONL index. */
  readonly index: number;
  /** 1-based line in the file. */
  readonly line: number;
  readonly recordId: string;
  /** Prompt turns: a string prompt is one user turn; an implicit prompt is the turns chosen/rejected share. */
  readonly prompt: readonly ChatMessage[];
  /** Candidate keys as displayed, [left, right]. */
  readonly order: readonly [string, string];
  /** Candidate text by key. */
  readonly texts: Readonly<Record<string, string>>;
}

export interface QueueProgress {
  /** Valid pairs with a current human comparison by this annotator. */
  readonly done: number;
  /** Valid pairs in the dataset. */
  readonly total: number;
}

function asTurns(x: unknown): ChatMessage[] | undefined {
  if (typeof x === 'string') return [{ role: 'user', content: x }];
  if (Array.isArray(x) && x.every((m) => typeof m === 'object' && m !== null && typeof (m as ChatMessage).role === 'string' && typeof (m as ChatMessage).content === 'string')) {
    return (x as ChatMessage[]).map((m) => ({ role: m.role, content: m.content }));
  }
  return undefined;
}

/** Turns a preference record into prompt turns and the two candidate texts; undefined if it is not a pair. */
export function pairOf(record: Record<string, unknown>): { prompt: ChatMessage[]; texts: Record<string, string> } | undefined {
  const chosen = candidateText(record.chosen);
  const rejected = candidateText(record.rejected);
  if (chosen === undefined || rejected === undefined) return undefined;
  let prompt: ChatMessage[] | undefined;
  if (record.prompt !== undefined) prompt = asTurns(record.prompt);
  else if (Array.isArray(record.chosen)) prompt = asTurns(record.chosen.slice(0, -1)); // implicit prompt: the shared turns
  if (!prompt) return undefined;
  return { prompt, texts: { chosen, rejected } };
}

export class ComparisonQueue {
  private readonly valid: string[];
  private readonly validSet: Set<string>;
  private readonly positionOf = new Map<string, number>();
  private readonly skipped = new Set<string>();
  private cursor = 0;

  /**
   * @param scan the result of `index.scan()` (final ids, validity)
   * @param view returns the current merged label view (called on every query, so it sees new decisions)
   * @param random uniform [0, 1) source for the left/right order
   */
  constructor(
    private readonly index: DatasetIndex,
    scan: JsonlScanResult,
    private readonly view: () => LabelView,
    private readonly annotator: string,
    private readonly random: () => number = Math.random,
  ) {
    this.valid = scan.records.filter((r) => r.valid).map((r) => r.id);
    this.validSet = new Set(this.valid);
    this.valid.forEach((id, i) => this.positionOf.set(id, i));
  }

  /** True when this annotator has a current human comparison for the record. */
  isDone(recordId: string): boolean {
    return this.view()
      .currentOfType(recordId, 'comparison')
      .some((e) => e.annotator === this.annotator && e.source === 'human');
  }

  progress(): QueueProgress {
    const v = this.view();
    let done = 0;
    for (const id of v.recordIds()) if (this.validSet.has(id) && this.isDone(id)) done++;
    return { done, total: this.valid.length };
  }

  /** Leaves a record out of {@link next} for this session (the "skip" key). */
  skip(recordId: string): void {
    this.skipped.add(recordId);
  }

  /**
   * The next valid pair without a current comparison by this annotator, starting after the last one shown and
   * wrapping around; skipped records come back only when nothing else is left. Undefined when all are labeled.
   */
  next(): QueuedPair | undefined {
    const n = this.valid.length;
    for (const allowSkipped of [false, true]) {
      for (let k = 0; k < n; k++) {
        const i = (this.cursor + k) % n;
        const id = this.valid[i];
        if ((!allowSkipped && this.skipped.has(id)) || this.isDone(id)) continue;
        const pair = this.pair(id);
        if (!pair) continue;
        this.cursor = (i + 1) % n;
        if (allowSkipped) this.skipped.delete(id);
        return pair;
      }
    }
    return undefined;
  }

  /** Makes {@link next} continue with the records after this one (e.g. after an undo brought it back). */
  continueAfter(recordId: string): void {
    const pos = this.positionOf.get(recordId);
    if (pos !== undefined) this.cursor = (pos + 1) % this.valid.length;
  }

  /** The pair for a record id (e.g. to show it again after an undo), in a fresh random order. */
  pair(recordId: string): QueuedPair | undefined {
    const i = this.index.indexOfId(recordId);
    if (i === undefined || !this.validSet.has(recordId)) return undefined;
    const r = this.index.readRecord(i);
    if (!r.ok) return undefined;
    const p = pairOf(r.record.row);
    if (!p) return undefined;
    this.continueAfter(recordId);
    const order: [string, string] = this.random() < 0.5 ? ['chosen', 'rejected'] : ['rejected', 'chosen'];
    return { index: i, line: r.record.line, recordId, prompt: p.prompt, order, texts: p.texts };
  }
}
