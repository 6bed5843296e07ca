/**
 * Lock files: a file that says which process (pid, host, pid namespace, when it took the lock) holds a resource,
 * so that a second process asking for the same resource is refused instead of writing beside the first.
 *
 * - The lock is created with O_EXCL, so of two processes racing for a free lock exactly one wins.
 * - A lock whose process is gone is stale and is taken over. "Gone" is only decided for a lock from the same host
 *   and pid namespace (Linux; containers sharing a host name have their own pids): a pid from elsewhere cannot be
 *   probed, so such a lock counts as live. A lock naming this process's own pid but written before this process
 *   started was left by an earlier process that had the same pid (a restarted container), so it is stale too.
 * - A stale lock is removed only by the process holding `<lock>.takeover`, a directory (mkdir is atomic, so one
 *   process at a time), which reads the lock again and removes it only if it still holds the stale bytes judged.
 *   Only removers delete another process's lock and creators cannot create over an existing file, so however many
 *   processes take over one stale lock, one ends up holding it. A takeover directory left by a process that died
 *   holding it (a window of two system calls) is itself stale after {@link TAKEOVER_STALE_MS}.
 *
 * This module imports nothing of ours, so that every layer may use it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** The pid namespace the pid belongs to (Linux: the link text of /proc/self/ns/pid); absent elsewhere. */
  readonly pidns?: string;
  /** When the lock was taken, in milliseconds since the Unix epoch. */
  readonly time: number;
  /** What holds it, for messages (e.g. `labels writer w1`). */
  readonly owner: string;
}

export type LockFileResult =
  | { readonly ok: true; readonly path: string }
  /** `holder` is undefined when the lock file could not be read or parsed and its writer is still within the grace period. */
  | { readonly ok: false; readonly path: string; readonly holder: LockHolder | undefined };

/** True when a process with this id exists (signal 0 checks without signalling; EPERM means it exists). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock attempt needs to know about this process and the world; each field is injectable for tests. */
export interface LockContext {
  readonly pid: number;
  readonly host: string;
  readonly pidns?: string;
  /** When this process started, in ms since the epoch. */
  readonly startedAt: number;
  readonly now: number;
  readonly alive: (pid: number) => boolean;
}

/** This process's pid namespace (see {@link LockHolder.pidns}); undefined where there is no /proc. */
function pidNamespace(): string | undefined {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** This process as a lock sees it. */
export function lockContext(): LockContext {
  const now = Date.now();
  const pidns = pidNamespace();
  return { pid: process.pid, host: os.hostname(), ...(pidns !== undefined ? { pidns } : {}), startedAt: now - process.uptime() * 1000, now, alive: processAlive };
}

/** Parses a lock file's text; undefined when it is not a lock written by {@link acquireLockFileSync}. */
export function parseLockHolder(text: string): LockHolder | undefined {
  try {
    const x = JSON.parse(text) as unknown;
    if (typeof x !== 'object' || x === null) return undefined;
    const o = x as Record<string, unknown>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.time !== 'number') return undefined;
    const pidns = typeof o.pidns === 'string' ? { pidns: o.pidns } : {};
    return { pid: o.pid, host: o.host, ...pidns, time: o.time, owner: typeof o.owner === 'string' ? o.owner : 'unknown' };
  } catch {
    return undefined;
  }
}

/** Whether this process can tell if `holder`'s process runs: same host and pid namespace. */
export function lockHolderProbeable(holder: LockHolder, ctx: LockContext = lockContext()): boolean {
  return holder.host === ctx.host && holder.pidns === ctx.pidns;
}

/** Whether `holder` may still be using the lock (see the module comment for what counts as gone). */
export function lockHolderLive(holder: LockHolder, ctx: LockContext = lockContext()): boolean {
  if (!lockHolderProbeable(holder, ctx)) return true;
  // A pid slack of 1 s covers clock granularity between this process's start and a lock it took at once.
  if (holder.pid === ctx.pid) return holder.time >= ctx.startedAt - 1000;
  return ctx.alive(holder.pid);
}

/** An unparseable lock (its writer died between create and write, or is writing now) is stale after this long. */
const UNREADABLE_GRACE_MS = 10_000;

function tryCreate(file: string, body: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readText(file: string): { text: string; mtimeMs: number } | undefined {
  try {
    return { text: fs.readFileSync(file, 'utf8'), mtimeMs: fs.statSync(file).mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A takeover directory older than this was left by a process that died holding it. */
const TAKEOVER_STALE_MS = 5000;

/** Blocks this thread for `ms` (the lock API is synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes the lock if it still holds `staleText`, under the takeover directory (see the module comment). Returns
 * false when another process is taking the lock over now (the caller looks again).
 */
function removeStale(file: string, staleText: string): boolean {
  const takeover = `${file}.takeover`;
  try {
    fs.mkdirSync(takeover);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const age = Date.now() - (fs.statSync(takeover, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > TAKEOVER_STALE_MS) fs.rmSync(takeover, { recursive: true, force: true });
    return false;
  }
  try {
    if (readText(file)?.text === staleText) fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(takeover, { recursive: true, force: true });
  }
}

/**
 * Takes the lock file `file` for this process. Returns `ok: false` with the holder (without throwing) when a
 * live process holds it; a stale lock is taken over. `ctx` is injectable for tests.
 */
export function acquireLockFileSync(file: string, owner: string, ctx: LockContext = lockContext()): LockFileResult {
  const pidns = ctx.pidns !== undefined ? { pidns: ctx.pidns } : {};
  const body = JSON.stringify({ pid: ctx.pid, host: ctx.host, ...pidns, time: ctx.now, owner } satisfies LockHolder) + '\n';
  let holder: LockHolder | undefined;
  // Another process taking the same stale lock over holds the takeover directory for two system calls: wait
  // for it in short sleeps (up to about a second) rather than give up.
  for (let attempt = 0; attempt < 100; attempt++) {
    if (tryCreate(file, body)) return { ok: true, path: file };
    const seen = readText(file);
    if (!seen) continue; // released between our create and read: try again
    holder = parseLockHolder(seen.text);
    const stale = holder ? !lockHolderLive(holder, ctx) : ctx.now - seen.mtimeMs > UNREADABLE_GRACE_MS;
    if (!stale) return { ok: false, path: file, holder };
    if (!removeStale(file, seen.text)) sleepSync(10);
  }
  return { ok: false, path: file, holder };
}

/** Removes the lock file if this process holds it; a lock taken over by another is left alone. */
export function releaseLockFileSync(file: string, ctx: Pick<LockContext, 'pid' | 'host' | 'pidns'> = lockContext()): boolean {
  const seen = readText(file);
  const holder = seen ? parseLockHolder(seen.text) : undefined;
  if (!holder || holder.pid !== ctx.pid || holder.host !== ctx.host || holder.pidns !== ctx.pidns) return false;
  fs.rmSync(file, { force: true });
  return true;
}
