/**
 * The feedback store of one dataset: one append-only journal per writer (window / annotator process), merged on
 * read. Layout beside the data (the dataset file itself is never written):
 *
 *   <dataset dir>/.alignment/<dataset file name>.labels/<writer id>.jsonl
 *
 * Each writer only appends to its own file, so two windows labeling the same dataset never write the same file;
 * every window sees the others' decisions after {@link FeedbackStore.refresh}. A writer id is held by one process
 * at a time (the journal's lock, taken when the store opens an existing journal or writes its first entry): a
 * second process with the same id gets `JournalInUseError` and writes nothing, so it can neither interleave its
 * lines with the first nor cut off the first's half-written line as torn. The error (rather than a journal under
 * another name) keeps the writer id what its caller chose, so undo ("this writer's latest decision") stays right.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JournalAppender, JournalTail, MAX_JOURNAL_LINE_BYTES, type JournalProblem, type JournalReadLimits, type TailRepair } from './journal';
import { LabelView } from './labelView';
import {
  JOURNAL_VERSION,
  WRITER_ID_PATTERN,
  journalEntryProblems,
  payloadValidators,
  type FeedbackSource,
  type FeedbackType,
  type JournalEntry,
  type JournalEntryOf,
  type PayloadByType,
  type RetractEntry,
} from './types';

/** The labels folder of a dataset file. */
export function labelsDirFor(datasetPath: string): string {
  const abs = path.resolve(datasetPath);
  return path.join(path.dirname(abs), '.alignment', `${path.basename(abs)}.labels`);
}

export interface FeedbackStoreOptions {
  readonly datasetPath: string;
  /** This window's writer id (its journal's file name). Must be unique per concurrently open window. */
  readonly writerId: string;
  /** Default annotator name for entries this store records. */
  readonly annotator: string;
  /** Override of the labels folder (default {@link labelsDirFor}). */
  readonly labelsDir?: string;
  /** Clock, for tests. */
  readonly now?: () => Date;
  /** Entry id generator, for tests. Default crypto.randomUUID. */
  readonly newId?: () => string;
  /** Read chunk and line-length limits of the journal readers, for tests. */
  readonly readLimits?: JournalReadLimits;
}

/** What to record: the store fills in id, timestamp, writer, and defaults. */
export interface FeedbackInput<K extends FeedbackType> {
  readonly recordId: string;
  readonly type: K;
  readonly payload: PayloadByType[K];
  /** Seconds spent on the decision. Default 0. */
  readonly seconds?: number;
  /** Default `human`. */
  readonly source?: FeedbackSource;
  /** Default: the store's annotator. */
  readonly annotator?: string;
}

/** A journal entry with where it was read from. */
export interface LocatedEntry {
  readonly entry: JournalEntry;
  readonly file: string;
  readonly line: number;
  /** The entry's timestamp in ms since the epoch (parsed once, for ordering). */
  readonly time: number;
}

/** Thrown when a caller tries to record an invalid entry (bad input from code, not from disk). */
export class InvalidFeedbackError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid feedback entry: ${problems.join('; ')}`);
    this.name = 'InvalidFeedbackError';
  }
}

export class FeedbackStore {
  readonly labelsDir: string;
  readonly journalPath: string;
  readonly writerId: string;
  readonly annotator: string;
  /** Set when opening found a torn last line in this writer's journal and repaired it. */
  readonly repair: TailRepair | undefined;

  private appender: JournalAppender | undefined;
  private readonly tails = new Map<string, JournalTail>();
  private readonly located: LocatedEntry[] = [];
  private readonly byId = new Map<string, LocatedEntry>();
  private readonly problemList: JournalProblem[] = [];
  private viewCache: LabelView | undefined;
  private ordered = true;
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly readLimits: JournalReadLimits;

  private constructor(o: FeedbackStoreOptions) {
    if (!WRITER_ID_PATTERN.test(o.writerId)) throw new Error(`invalid writer id ${JSON.stringify(o.writerId)}: use letters, digits, dot, dash, underscore (max 128)`);
    if (o.annotator.length === 0) throw new Error('annotator must not be empty');
    this.labelsDir = o.labelsDir ?? labelsDirFor(o.datasetPath);
    this.journalPath = path.join(this.labelsDir, `${o.writerId}.jsonl`);
    this.writerId = o.writerId;
    this.annotator = o.annotator;
    this.now = o.now ?? (() => new Date());
    this.newId = o.newId ?? randomUUID;
    this.readLimits = o.readLimits ?? {};
    let repair: TailRepair | undefined;
    if (fs.existsSync(this.journalPath)) {
      const opened = this.openAppender();
      this.appender = opened.appender;
      repair = opened.repair;
    }
    this.repair = repair;
  }

  /** Takes this writer's journal (its lock, then a torn-tail repair): throws `JournalInUseError` if a live process holds it. */
  private openAppender(): { appender: JournalAppender; repair?: TailRepair } {
    return JournalAppender.open(this.journalPath, isWholeEntry, `labels writer ${this.writerId}`);
  }

  /**
   * Opens the store of a dataset: takes this writer's journal and repairs its torn tail (if it exists) and reads
   * every writer's journal. The journal file is created on the first recorded entry. Throws `JournalInUseError`
   * when another live process writes this writer's journal.
   */
  static open(options: FeedbackStoreOptions): FeedbackStore {
    const s = new FeedbackStore(options);
    s.refresh();
    return s;
  }

  /** Invalid or unreadable journal lines seen so far, each with file and line. They were skipped. */
  get problems(): readonly JournalProblem[] {
    return this.problemList;
  }

  /** Validates, appends and fsyncs one decision; returns the entry as written. */
  record<K extends FeedbackType>(input: FeedbackInput<K>): JournalEntryOf<K> {
    return this.write(input.type, input.recordId, input.payload, input) as JournalEntryOf<K>;
  }

  /** Appends a retraction of `entryId` (any writer's entry). */
  retract(entryId: string): RetractEntry {
    const target = this.byId.get(entryId);
    if (!target) throw new Error(`no journal entry with id ${entryId} in ${this.labelsDir}`);
    return this.write('retract', target.entry.recordId, { entryId }, {}) as RetractEntry;
  }

  /** Retracts this writer's latest decision that is still in effect; undefined when there is none. */
  undo(): RetractEntry | undefined {
    const view = this.view();
    this.sort();
    for (let i = this.located.length - 1; i >= 0; i--) {
      const e = this.located[i].entry;
      if (e.writer !== this.writerId || e.type === 'retract') continue;
      if (view.isRetracted(e.id)) continue;
      return this.retract(e.id);
    }
    return undefined;
  }

  /** Reads entries appended to any journal (including new writers' journals) since the last read; returns how many. */
  refresh(): number {
    let files: string[] = [];
    try {
      files = fs
        .readdirSync(this.labelsDir)
        .filter((f) => f.endsWith('.jsonl'))
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.problemList.push({ file: this.labelsDir, line: 0, message: `cannot list labels folder: ${(e as Error).message}` });
    }
    let added = 0;
    for (const f of files) added += this.readJournal(path.join(this.labelsDir, f));
    return added;
  }

  private readJournal(file: string): number {
    let tail = this.tails.get(file);
    if (!tail) this.tails.set(file, (tail = new JournalTail(file, this.readLimits)));
    let added = 0;
    for (const { line, text, error } of tail.read(this.problemList)) {
      if (error !== undefined) {
        this.problemList.push({ file, line, message: error });
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        this.problemList.push({ file, line, message: `not valid JSON (${(e as Error).message}); entry skipped` });
        continue;
      }
      const problems = journalEntryProblems(parsed);
      if (problems.length > 0) {
        this.problemList.push({ file, line, message: `invalid entry skipped: ${problems.join('; ')}` });
        continue;
      }
      const entry = parsed as JournalEntry;
      if (this.byId.has(entry.id)) continue; // re-read after a shrink, or a copied journal
      this.add({ entry, file, line, time: Date.parse(entry.timestamp) });
      added++;
    }
    return added;
  }

  /** All valid journal entries, ordered by time (then writer, then line). */
  entries(): readonly JournalEntry[] {
    this.sort();
    return this.located.map((l) => l.entry);
  }

  /** All valid entries with their journal file and line, in the same order as {@link entries}. */
  locatedEntries(): readonly LocatedEntry[] {
    this.sort();
    return this.located;
  }

  /** The merged current state of all journals. */
  view(): LabelView {
    if (!this.viewCache) this.viewCache = new LabelView(this.entries());
    return this.viewCache;
  }

  close(): void {
    this.appender?.close();
    this.appender = undefined;
  }

  private write(type: JournalEntry['type'], recordId: string, payload: unknown, o: { seconds?: number; source?: FeedbackSource; annotator?: string }): JournalEntry {
    const entry = {
      v: JOURNAL_VERSION,
      id: this.newId(),
      recordId,
      type,
      payload,
      annotator: o.annotator ?? this.annotator,
      timestamp: this.now().toISOString(),
      source: o.source ?? 'human',
      seconds: o.seconds ?? 0,
      writer: this.writerId,
    };
    const problems = journalEntryProblems(entry);
    if (!(type in payloadValidators)) problems.push(`entry.type: unknown type ${type}`);
    if (problems.length > 0) throw new InvalidFeedbackError(problems);
    if (this.byId.has(entry.id)) throw new InvalidFeedbackError([`entry.id: ${entry.id} is already used`]);
    const line = JSON.stringify(entry);
    const bytes = Buffer.byteLength(line, 'utf8') + 1;
    if (bytes > MAX_JOURNAL_LINE_BYTES) throw new InvalidFeedbackError([`entry: ${bytes} bytes as a journal line, more than the limit of ${MAX_JOURNAL_LINE_BYTES}`]);
    if (!this.appender) this.appender = this.openAppender().appender;
    this.appender.append(line);
    // Pull our own line back through the reader, so line numbers stay exact even if another process appends to
    // this file too.
    this.readJournal(this.journalPath);
    return entry as JournalEntry;
  }

  private add(l: LocatedEntry): void {
    const last = this.located[this.located.length - 1];
    this.located.push(l);
    this.byId.set(l.entry.id, l);
    if (last && compareLocated(last, l) > 0) {
      // Arrived out of time order (another window's older entries): the view is rebuilt on next use.
      this.ordered = false;
      this.viewCache = undefined;
    } else {
      this.viewCache?.apply(l.entry);
    }
  }

  private sort(): void {
    if (this.ordered) return;
    this.located.sort(compareLocated);
    this.ordered = true;
  }
}

/** Whether a journal line is a whole, valid entry (a torn tail that lost only its newline). */
function isWholeEntry(line: string): boolean {
  try {
    return journalEntryProblems(JSON.parse(line)).length === 0;
  } catch {
    return false;
  }
}

function compareLocated(a: LocatedEntry, b: LocatedEntry): number {
  if (a.time !== b.time) return a.time - b.time;
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.line - b.line;
}
