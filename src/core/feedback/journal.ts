/**
 * Append-only JSONL journal files: durable appends (write + fsync per entry), one writer per file (a lock file),
 * torn-tail repair on open, and incremental streamed reads that tolerate another process appending at the same time.
 *
 * Durability argument: each entry is one `write` of `json + "\n"` on an O_APPEND descriptor followed by
 * `fsync`. After a crash the file holds every fsynced entry plus at most one partial last line (no newline). A
 * partial line is never treated as an entry: readers stop at the last newline, and the owning writer repairs the
 * tail when it next opens the file (keeping the fragment in a `.torn` side file rather than deleting it).
 *
 * One writer per file: a partial last line is only a crash's leftover if no live process is still writing it, so
 * {@link JournalAppender.open} takes `<file>.lock` (pid + host, see `src/util/lockFile.ts`) before it looks at the
 * tail, and a second process asking to write the same file gets {@link JournalInUseError} and touches nothing.
 * Within one process the lock is shared: its appends are synchronous, so no half-written line is ever visible to
 * another appender of the same process. Readers take no lock and never modify the file.
 *
 * Reads go through bounded chunks ({@link JOURNAL_CHUNK_BYTES}), so a journal of any size can be read; a line
 * longer than {@link MAX_JOURNAL_LINE_BYTES} is reported and skipped without being held in memory, and
 * {@link JournalAppender.append} refuses to write one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../../util/durable';
import { UserError } from '../../util/errors';
import { acquireLockFileSync, lockHolderProbeable, releaseLockFileSync, type LockHolder } from '../../util/lockFile';

/** Bytes read from a journal per read call. */
export const JOURNAL_CHUNK_BYTES = 1 << 20;
/** The longest journal line (entry + newline) that is written or read. */
export const MAX_JOURNAL_LINE_BYTES = 64 << 20;

/** A problem found in a journal, located by file and 1-based line. */
export interface JournalProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** What {@link JournalAppender.open} did to a torn tail, if anything. */
export interface TailRepair {
  readonly kind: 'newline-added' | 'truncated';
  /** Bytes of the incomplete last line. */
  readonly bytes: number;
  /** Where the removed fragment was saved (for `truncated`). */
  readonly savedTo?: string;
}

/**
 * Thrown when a journal already has a live writer in another process (or a lock that cannot be judged). An
 * expected error: the user gives the writer another id or stops the other process.
 */
export class JournalInUseError extends UserError {
  override name = 'JournalInUseError';
  readonly lockFile: string;
  constructor(
    readonly file: string,
    readonly holder: LockHolder | undefined,
  ) {
    const lockFile = lockFileOf(file);
    const who = holder ? `${holder.owner}, process ${holder.pid} on ${holder.host}, since ${new Date(holder.time).toISOString()}` : 'a process whose lock file is unreadable';
    // A holder on another host or in another pid namespace (container) cannot be probed, so the user decides.
    const hint = !holder || !lockHolderProbeable(holder) ? `; if that process is gone, delete ${lockFile}` : '';
    super(`labels journal ${file} is being written by another process (${who}): a journal has one writer at a time, so give this writer its own id or stop the other one${hint}`);
    this.lockFile = lockFile;
  }
}

/** The lock file of a journal (not a `.jsonl` file, so readers listing journals never read it). */
export function lockFileOf(journal: string): string {
  return `${journal}.lock`;
}

/** Journal locks this process holds, by lock path, with how many appenders share each. */
const heldLocks = new Map<string, number>();

function lockJournal(file: string, owner: string): void {
  const lock = path.resolve(lockFileOf(file));
  const count = heldLocks.get(lock);
  if (count !== undefined) {
    heldLocks.set(lock, count + 1);
    return;
  }
  const got = acquireLockFileSync(lock, owner);
  if (!got.ok) throw new JournalInUseError(file, got.holder);
  heldLocks.set(lock, 1);
}

function unlockJournal(file: string): void {
  const lock = path.resolve(lockFileOf(file));
  const count = heldLocks.get(lock) ?? 0;
  if (count > 1) {
    heldLocks.set(lock, count - 1);
    return;
  }
  heldLocks.delete(lock);
  releaseLockFileSync(lock);
}

/** An open journal for appending. */
export class JournalAppender {
  private constructor(
    readonly file: string,
    private fd: number | undefined,
  ) {}

  /**
   * Takes the journal's lock (throwing {@link JournalInUseError} when another process holds it), then opens
   * (creating if needed) `file` for appending. If the file ends without a newline, the last line was torn by a
   * crash: when `isCompleteEntry(fragment)` says it is a whole entry, only the missing newline is added;
   * otherwise the fragment is appended to `<file>.torn` and the file is truncated back to its last newline.
   * `owner` names this writer in the lock, for the message another process gets.
   */
  static open(file: string, isCompleteEntry: (line: string) => boolean, owner = 'journal writer'): { appender: JournalAppender; repair?: TailRepair } {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    lockJournal(file, owner);
    let fd: number | undefined;
    try {
      const existed = fs.existsSync(file);
      fd = fs.openSync(file, 'a+');
      const repair = repairTail(file, fd, isCompleteEntry);
      // A new journal's directory entry is made durable too (best effort: see fsyncDir).
      if (!existed) fsyncDir(path.dirname(file));
      return { appender: new JournalAppender(file, fd), ...(repair ? { repair } : {}) };
    } catch (e) {
      if (fd !== undefined) fs.closeSync(fd);
      unlockJournal(file);
      throw e;
    }
  }

  /** Appends one line (no newline inside) and fsyncs before returning. */
  append(line: string): void {
    if (this.fd === undefined) throw new Error(`journal ${this.file} is closed`);
    if (line.includes('\n')) throw new Error('a journal line must not contain a newline');
    const buf = Buffer.from(line + '\n', 'utf8');
    if (buf.length > MAX_JOURNAL_LINE_BYTES) throw new Error(`a journal line must be at most ${MAX_JOURNAL_LINE_BYTES} bytes (this one is ${buf.length})`);
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done);
    fs.fsyncSync(this.fd);
  }

  /** Closes the file and releases this appender's share of the lock. */
  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    unlockJournal(this.file);
  }
}

/** Repairs a torn last line of `fd` (see {@link JournalAppender.open}); the caller holds the journal's lock. */
function repairTail(file: string, fd: number, isCompleteEntry: (line: string) => boolean): TailRepair | undefined {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return undefined;
  const tailStart = findLastNewline(fd, size) + 1;
  if (tailStart >= size) return undefined;
  const bytes = size - tailStart;
  let repair: TailRepair;
  if (bytes <= MAX_JOURNAL_LINE_BYTES && isComplete(readRange(fd, tailStart, bytes), isCompleteEntry)) {
    fs.writeSync(fd, '\n');
    repair = { kind: 'newline-added', bytes };
  } else {
    const savedTo = `${file}.torn`;
    const tfd = fs.openSync(savedTo, 'a');
    try {
      copyRange(fd, tailStart, size, tfd);
      fs.writeSync(tfd, '\n');
      fs.fsyncSync(tfd);
    } finally {
      fs.closeSync(tfd);
    }
    fs.ftruncateSync(fd, tailStart);
    repair = { kind: 'truncated', bytes, savedTo };
  }
  fs.fsyncSync(fd);
  return repair;
}

function isComplete(frag: Buffer, isCompleteEntry: (line: string) => boolean): boolean {
  try {
    return isCompleteEntry(new TextDecoder('utf-8', { fatal: true }).decode(frag));
  } catch {
    return false;
  }
}

function readRange(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Copies bytes [start, end) of `fd` to the end of `outFd`, a chunk at a time. */
function copyRange(fd: number, start: number, end: number, outFd: number): void {
  const buf = Buffer.alloc(Math.min(JOURNAL_CHUNK_BYTES, end - start));
  for (let pos = start; pos < end; ) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n === 0) break;
    let done = 0;
    while (done < n) done += fs.writeSync(outFd, buf, done, n - done);
    pos += n;
  }
}

function findLastNewline(fd: number, size: number): number {
  const block = 64 * 1024;
  const buf = Buffer.alloc(block);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - block);
    const n = fs.readSync(fd, buf, 0, end - start, start);
    const at = buf.subarray(0, n).lastIndexOf(0x0a);
    if (at >= 0) return start + at;
    end = start;
  }
  return -1;
}

/** One complete line read from a journal. */
export interface JournalLine {
  /** 1-based line number. */
  readonly line: number;
  readonly text: string;
  /** Set (and `text` empty) when the line could not be decoded. */
  readonly error?: string;
}

/** Read sizes of a {@link JournalTail}; smaller values are for tests. */
export interface JournalReadLimits {
  /** Bytes per read call. Default {@link JOURNAL_CHUNK_BYTES}. */
  readonly chunkBytes?: number;
  /** Longer lines are reported and skipped. Default {@link MAX_JOURNAL_LINE_BYTES}. */
  readonly maxLineBytes?: number;
}

/**
 * Reads a journal incrementally: each {@link read} yields the complete lines appended since the last call. An
 * incomplete last line (a writer mid-append, or a crash) is left for a later call. The file is read in chunks of
 * `chunkBytes`; a line is held in memory only up to `maxLineBytes`, so memory stays bounded whatever the file size.
 */
export class JournalTail {
  private offset = 0;
  private lineNo = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly chunkBytes: number;
  private readonly maxLineBytes: number;

  constructor(
    readonly file: string,
    limits: JournalReadLimits = {},
  ) {
    this.chunkBytes = Math.max(1, limits.chunkBytes ?? JOURNAL_CHUNK_BYTES);
    this.maxLineBytes = Math.max(1, limits.maxLineBytes ?? MAX_JOURNAL_LINE_BYTES);
  }

  /**
   * Yields the complete lines after the last one yielded (blank lines are counted, not yielded). The position
   * advances with each line yielded, so a caller that stops early resumes after the last line it took.
   */
  *read(problems: JournalProblem[]): Generator<JournalLine, void, undefined> {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') problems.push({ file: this.file, line: 0, message: `cannot read journal: ${(e as Error).message}` });
      return;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) {
        // The file shrank (its writer repaired a torn tail we never consumed, or it was replaced): re-read it.
        problems.push({ file: this.file, line: this.lineNo, message: 'journal shrank since it was last read; re-reading it' });
        this.offset = 0;
        this.lineNo = 0;
      }
      yield* this.lines(fd, size);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The lines that end before `size`, read in chunks from the current offset. */
  private *lines(fd: number, size: number): Generator<JournalLine, void, undefined> {
    const buf = Buffer.alloc(Math.max(0, Math.min(this.chunkBytes, size - this.offset)));
    let pending: Buffer[] = [];
    let pendingBytes = 0; // bytes of the current line so far (counted on even when it is too long to keep)
    for (let pos = this.offset; pos < size; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) return;
      const chunk = buf.subarray(0, n);
      for (let start = 0; start < n; ) {
        const nl = chunk.indexOf(0x0a, start);
        const piece = chunk.subarray(start, nl < 0 ? n : nl);
        pendingBytes += piece.length;
        if (pendingBytes > this.maxLineBytes) pending = [];
        if (nl < 0) {
          // The line goes on in the next chunk: keep a copy, since the buffer is reused.
          if (pendingBytes <= this.maxLineBytes) pending.push(Buffer.from(piece));
          break;
        }
        const bytes = pendingBytes > this.maxLineBytes ? undefined : pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        pending = [];
        pendingBytes = 0;
        this.offset = pos + nl + 1;
        this.lineNo++;
        start = nl + 1;
        const line = this.decode(bytes);
        if (line) yield line;
      }
      pos += n;
    }
  }

  /** The line numbered `lineNo` from its bytes (undefined for a too-long line); undefined for a blank line. */
  private decode(bytes: Buffer | undefined): JournalLine | undefined {
    if (bytes === undefined) return { line: this.lineNo, text: '', error: `longer than ${this.maxLineBytes} bytes; entry skipped` };
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      return { line: this.lineNo, text: '', error: 'not valid UTF-8; entry skipped' };
    }
    return text.trim() === '' ? undefined : { line: this.lineNo, text };
  }
}
