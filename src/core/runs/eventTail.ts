/**
 * Follows a growing `events.jsonl`: each `read()` returns the events appended since the last one. A line that
 * is still being written waits for its newline; malformed lines and unknown event types become warnings with
 * their line number (src/protocol/session.ts's tolerant parser), never exceptions. A file that shrank (replaced
 * or truncated) is read again from the start.
 */
import { open } from 'node:fs/promises';
import { SessionEventParser, type ParseWarning, type SessionEvent } from '../../protocol/session';

export interface TailRead {
  readonly events: SessionEvent[];
  readonly warnings: ParseWarning[];
  /** True when the file was read again from the start (it shrank), so callers drop what they had. */
  readonly reset: boolean;
  /** True when `maxBytes` stopped the read before the end of the file: call `read()` again for the rest. */
  readonly more: boolean;
}

export class EventTail {
  private offset = 0;
  private parser = new SessionEventParser();
  private warned = 0;
  /** Bytes of a UTF-8 sequence split across two reads. */
  private pending: Buffer = Buffer.alloc(0);

  /**
   * `chunkBytes` bounds the text parsed synchronously between two awaited reads (256 KiB parses in a few ms), so
   * following a long run never holds the caller's event loop for long.
   */
  constructor(readonly path: string, private readonly chunkBytes = 256 * 1024) {}

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  /**
   * Reads what was appended since the last read: only the new bytes, from the byte offset reached so far. With
   * `maxBytes`, stops after about that many bytes (whole chunks) and says `more`, so a caller can fold and post a
   * long file piece by piece instead of holding every event of it at once.
   */
  async read(maxBytes = Infinity): Promise<TailRead> {
    let fh;
    try {
      fh = await open(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], warnings: [], reset: false, more: false };
      throw e;
    }
    try {
      const { size } = await fh.stat();
      let reset = false;
      if (size < this.offset) {
        this.offset = 0;
        this.parser = new SessionEventParser();
        this.warned = 0;
        this.pending = Buffer.alloc(0);
        reset = true;
      }
      const events: SessionEvent[] = [];
      let taken = 0;
      while (this.offset < size && taken < maxBytes) {
        const want = Math.min(this.chunkBytes, size - this.offset);
        const buf = Buffer.alloc(want);
        const { bytesRead } = await fh.read(buf, 0, want, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        taken += bytesRead;
        const bytes = this.pending.length ? Buffer.concat([this.pending, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
        const cut = completeUtf8Length(bytes);
        this.pending = Buffer.from(bytes.subarray(cut));
        for (const e of this.parser.push(bytes.subarray(0, cut).toString('utf8'))) events.push(e);
      }
      const warnings = this.parser.warnings.slice(this.warned);
      this.warned = this.parser.warnings.length;
      return { events, warnings, reset, more: this.offset < size };
    } finally {
      await fh.close();
    }
  }
}

/** Length of the longest prefix of `b` that does not end inside a multi-byte UTF-8 sequence. */
export function completeUtf8Length(b: Uint8Array): number {
  const i = b.length;
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  let back = 0;
  while (back < 3 && i - back - 1 >= 0 && (b[i - back - 1] & 0xc0) === 0x80) back++;
  const leadAt = i - back - 1;
  if (leadAt < 0) return i;
  const lead = b[leadAt];
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return need > back + 1 ? leadAt : i;
}
