/**
 * One file over HTTP(S) into a local path, for model and runtime downloads: the bytes go to `<dest>.part`, an
 * interrupted transfer resumes from what the part file holds (an HTTP Range request; a server that ignores the
 * range answers 200 and the file restarts), a dropped connection is retried with backoff, and the finished file
 * is checked against its digest (SHA-256 or SHA-512) and size before it is renamed into place. So `dest` only ever exists complete
 * and verified; a wrong checksum deletes the part file and fails, naming both digests.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backoffDelay, sleep as defaultSleep, throwIfAborted, DEFAULT_BACKOFF } from '../judges/backoff';
import { fsyncDir } from '../../util/durable';
import { UserError } from '../../util/errors';

export interface DownloadFileOptions {
  readonly url: string;
  readonly dest: string;
  /** Extra request headers (e.g. Authorization); never included in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The digest the finished file must have (checked when given; hex, either case). */
  readonly digest?: FileDigest;
  /** Bytes the finished file must have (checked when given). */
  readonly size?: number;
  /** Retries after a dropped connection, a timeout or a 5xx/429 answer. Default 4. */
  readonly maxRetries?: number;
  readonly signal?: AbortSignal;
  /** Told the file's bytes so far (resumed bytes included) as they arrive. */
  readonly onBytes?: (bytes: number, total: number | undefined) => void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface FileDigest {
  readonly algorithm: 'sha256' | 'sha512';
  readonly hex: string;
}

/** An HTTP answer that retrying will not change (401, 403, 404, ...): the caller words it for the user. */
export class HttpStatusError extends UserError {
  constructor(
    readonly status: number,
    readonly url: string,
    reason: string,
  ) {
    super(`${url}: HTTP ${status}${reason ? ` ${reason}` : ''}`);
  }
}

const RETRIED_STATUS = (s: number): boolean => s === 408 || s === 429 || s >= 500;

/** The digest state of what a file holds (an empty one for a missing file). */
function hashOf(file: string, algorithm: FileDigest['algorithm']): { hash: crypto.Hash; bytes: number } {
  const hash = crypto.createHash(algorithm);
  let bytes = 0;
  if (!fs.existsSync(file)) return { hash, bytes };
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { hash, bytes };
}

/** One request: appends to the part file from `have` bytes on; returns the total expected, if known. */
async function transfer(opts: DownloadFileOptions, part: string, state: { hash: crypto.Hash; bytes: number }): Promise<void> {
  const doFetch = opts.fetch ?? fetch;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (state.bytes > 0) headers['Range'] = `bytes=${state.bytes}-`;
  const res = await doFetch(opts.url, { headers, redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
  if (res.status === 416 && opts.size !== undefined && state.bytes === opts.size) return; // already whole
  if (!res.ok) {
    const reason = res.statusText || (await res.text().catch(() => '')).slice(0, 200);
    throw new HttpStatusError(res.status, opts.url, reason);
  }
  if (res.status === 200 && state.bytes > 0) {
    // The server ignored the range: start the file over.
    fs.truncateSync(part, 0);
    Object.assign(state, { hash: crypto.createHash(opts.digest?.algorithm ?? 'sha256'), bytes: 0 });
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = opts.size ?? (Number.isFinite(length) ? state.bytes + length : undefined);
  if (!res.body) throw new Error(`${opts.url}: the answer has no body`);
  const fd = fs.openSync(part, 'a');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      fs.writeSync(fd, chunk);
      state.hash.update(chunk);
      state.bytes += chunk.length;
      opts.onBytes?.(state.bytes, total);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (total !== undefined && state.bytes < total) throw new Error(`${opts.url}: connection closed at ${state.bytes} of ${total} bytes`);
}

function retryable(e: unknown): boolean {
  if (e instanceof HttpStatusError) return RETRIED_STATUS(e.status);
  return !(e instanceof UserError) && !(e instanceof Error && e.name === 'AbortError');
}

/** Downloads `opts.url` to `opts.dest` (see the module comment); resolves once dest is complete and verified. */
export async function downloadFile(opts: DownloadFileOptions): Promise<void> {
  const part = `${opts.dest}.part`;
  fs.mkdirSync(path.dirname(opts.dest), { recursive: true });
  const state = hashOf(part, opts.digest?.algorithm ?? 'sha256');
  const maxRetries = opts.maxRetries ?? 4;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(opts.signal);
    try {
      if (opts.size === undefined || state.bytes < opts.size) await transfer(opts, part, state);
      break;
    } catch (e) {
      throwIfAborted(opts.signal);
      if (!retryable(e) || attempt >= maxRetries) {
        if (e instanceof UserError) throw e;
        throw new UserError(`Download of ${path.basename(opts.dest)} failed after ${attempt + 1} ${attempt ? 'tries' : 'try'}: ${e instanceof Error ? e.message : String(e)}. Run the download again to resume it.`);
      }
      await (opts.sleep ?? defaultSleep)(backoffDelay(attempt, DEFAULT_BACKOFF), opts.signal);
    }
  }
  verify(opts, part, state);
  fs.renameSync(part, opts.dest);
  fsyncDir(path.dirname(opts.dest));
}

function verify(opts: DownloadFileOptions, part: string, state: { hash: crypto.Hash; bytes: number }): void {
  const name = path.basename(opts.dest);
  if (opts.size !== undefined && state.bytes !== opts.size) {
    fs.rmSync(part, { force: true });
    throw new UserError(`${name}: downloaded ${state.bytes} bytes, expected ${opts.size}; the partial file was deleted, run the download again.`);
  }
  const got = state.hash.digest('hex');
  if (opts.digest !== undefined && got !== opts.digest.hex.toLowerCase()) {
    fs.rmSync(part, { force: true });
    throw new UserError(`${name}: checksum mismatch (${opts.digest.algorithm} ${got}, expected ${opts.digest.hex.toLowerCase()}); the file was deleted, run the download again.`);
  }
}
