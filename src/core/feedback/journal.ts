/**
 * Append-only JSONL journal files: durable appends (write + fsync per entry), torn-tail repair on open, and
 * incremental reads that tolerate another process appending at the same time.
 *
 * Durability argument: each entry is one `write` of `json + "\n"` on an O_APPEND descriptor followed by
 * `fsync`. After a crash the file holds every fsynced entry plus at most one partial last line (no newline). A
 * partial line is never treated as an entry: readers stop at the last newline, and the owning writer repairs the
 * tail when it next opens the file (keeping the fragment in a `.torn` side file rather than deleting it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../../util/durable';

/** A problem found in a journal, located by file and 1-based line. */
export interface JournalProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** What {@link openJournalForAppend} did to a torn tail, if anything. */
export interface TailRepair {
  readonly kind: 'newline-added' | 'truncated';
  /** Bytes of the incomplete last line. */
  readonly bytes: number;
  /** Where the removed fragment was saved (for `truncated`). */
  readonly savedTo?: string;
}

/** An open journal for appending. */
export class JournalAppender {
  private constructor(
    readonly file: string,
    private fd: number | undefined,
  ) {}

  /**
   * Opens (creating if needed) `file` for appending. If the file ends without a newline, the last line was torn
   * by a crash: when `isCompleteEntry(fragment)` says it is a whole entry, only the missing newline is added;
   * otherwise the fragment is appended to `<file>.torn` and the file is truncated back to its last newline.
   */
  static open(file: string, isCompleteEntry: (line: string) => boolean): { appender: JournalAppender; repair?: TailRepair } {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const existed = fs.existsSync(file);
    const fd = fs.openSync(file, 'a+');
    let repair: TailRepair | undefined;
    try {
      const size = fs.fstatSync(fd).size;
      if (size > 0) {
        const lastNl = findLastNewline(fd, size);
        const tailStart = lastNl + 1;
        if (tailStart < size) {
          const frag = Buffer.alloc(size - tailStart);
          fs.readSync(fd, frag, 0, frag.length, tailStart);
          let complete = false;
          try {
            complete = isCompleteEntry(new TextDecoder('utf-8', { fatal: true }).decode(frag));
          } catch {
            complete = false;
          }
          if (complete) {
            fs.writeSync(fd, '\n');
            repair = { kind: 'newline-added', bytes: frag.length };
          } else {
            const savedTo = `${file}.torn`;
            const tfd = fs.openSync(savedTo, 'a');
            try {
              fs.writeSync(tfd, Buffer.concat([frag, Buffer.from('\n')]));
              fs.fsyncSync(tfd);
            } finally {
              fs.closeSync(tfd);
            }
            fs.ftruncateSync(fd, tailStart);
            repair = { kind: 'truncated', bytes: frag.length, savedTo };
          }
          fs.fsyncSync(fd);
        }
      }
      // A new journal's directory entry is made durable too (best effort: see fsyncDir).
      if (!existed) fsyncDir(path.dirname(file));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return { appender: new JournalAppender(file, fd), ...(repair ? { repair } : {}) };
  }

  /** Appends one line (no newline inside) and fsyncs before returning. */
  append(line: string): void {
    if (this.fd === undefined) throw new Error(`journal ${this.file} is closed`);
    if (line.includes('\n')) throw new Error('a journal line must not contain a newline');
    const buf = Buffer.from(line + '\n', 'utf8');
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done);
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
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

/**
 * Reads a journal incrementally: each {@link read} returns the complete lines appended since the last call. An
 * incomplete last line (a writer mid-append, or a crash) is left for a later call.
 */
export class JournalTail {
  private offset = 0;
  private lineNo = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly file: string) {}

  read(problems: JournalProblem[]): JournalLine[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') problems.push({ file: this.file, line: 0, message: `cannot read journal: ${(e as Error).message}` });
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) {
        // The file shrank (its writer repaired a torn tail we never consumed, or it was replaced): re-read it.
        problems.push({ file: this.file, line: this.lineNo, message: 'journal shrank since it was last read; re-reading it' });
        this.offset = 0;
        this.lineNo = 0;
      }
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      const data = buf.subarray(0, got);
      const lastNl = data.lastIndexOf(0x0a);
      if (lastNl < 0) return [];
      const out: JournalLine[] = [];
      let start = 0;
      while (start <= lastNl) {
        const nl = data.indexOf(0x0a, start);
        this.lineNo++;
        const bytes = data.subarray(start, nl);
        start = nl + 1;
        let text: string;
        try {
          text = this.decoder.decode(bytes);
        } catch {
          out.push({ line: this.lineNo, text: '', error: 'not valid UTF-8; entry skipped' });
          continue;
        }
        if (text.trim() === '') continue;
        out.push({ line: this.lineNo, text });
      }
      this.offset += lastNl + 1;
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }
}
