/**
 * The run lock: `<run folder>/session.lock` says which process is training the run, so a second window (or a
 * second click) cannot start the same run twice. The file is created with O_EXCL, so of two windows racing to
 * start a run exactly one wins; a lock whose processes are all gone (a crash, a killed window) is stale and is
 * taken over. Every entry point that trains a run takes it: the editor's run manager, `alignment train` and a
 * session process started by hand (a session the editor spawned adopts its parent's lock).
 */
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../../util/lockFile';

export const LOCK_FILE = 'session.lock';

export interface RunLock {
  /** The process that took the lock (the extension host or the CLI). */
  readonly ownerPid: number;
  /** The training-session process, once it is spawned. */
  readonly sessionPid?: number;
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  /** Who took it, for the message a second window shows (e.g. `VS Code window`, `cli`). */
  readonly owner: string;
}

export type LockResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly holder: RunLock; readonly message: string };

export { processAlive };

function parseLock(text: string): RunLock | undefined {
  try {
    const x = JSON.parse(text) as unknown;
    if (typeof x !== 'object' || x === null) return undefined;
    const o = x as Record<string, unknown>;
    if (typeof o.ownerPid !== 'number' || typeof o.time !== 'number') return undefined;
    return {
      ownerPid: o.ownerPid,
      ...(typeof o.sessionPid === 'number' ? { sessionPid: o.sessionPid } : {}),
      time: o.time,
      owner: typeof o.owner === 'string' ? o.owner : 'unknown',
    };
  } catch {
    return undefined;
  }
}

/** The lock of a run folder, or undefined when there is none (or it is unreadable). */
export async function readRunLock(runDir: string): Promise<RunLock | undefined> {
  try {
    return parseLock(await readFile(join(runDir, LOCK_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A lock is live while its session process runs, or, before the session is spawned, while its owner runs.
 * (An owner that died leaves a session running on its own: the session's pid is what counts.)
 */
export function lockIsLive(lock: RunLock, alive: (pid: number) => boolean = processAlive): boolean {
  return lock.sessionPid !== undefined ? alive(lock.sessionPid) : alive(lock.ownerPid);
}

/**
 * Takes the lock of a run folder for `ownerPid`. Fails (without throwing) when a live process holds it; a
 * stale lock is replaced. `alive` is injectable for tests.
 */
export async function acquireRunLock(runDir: string, owner: string, ownerPid = process.pid, alive: (pid: number) => boolean = processAlive, now = Date.now()): Promise<LockResult> {
  const path = join(runDir, LOCK_FILE);
  const body = JSON.stringify({ ownerPid, time: now, owner } satisfies RunLock) + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(body, 'utf8');
      } finally {
        await fh.close();
      }
      return { ok: true, path };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // removed between our open and read: try again
    }
    const holder = parseLock(text);
    if (holder && lockIsLive(holder, alive)) {
      return { ok: false, holder, message: inUseMessage(runDir, holder) };
    }
    // Stale (or unreadable, e.g. half-written by a crashed process): move it aside atomically and retry the
    // exclusive create, so two windows replacing the same stale lock still end with one winner.
    try {
      await rename(path, `${path}.stale-${ownerPid}`);
      await unlink(`${path}.stale-${ownerPid}`);
    } catch {
      // another process replaced it first
    }
  }
  const holder = (await readRunLock(runDir)) ?? { ownerPid: 0, time: now, owner: 'unknown' };
  return { ok: false, holder, message: 'could not take the run lock: another process keeps replacing it' };
}

/** What a second taker is told: the run folder, the process holding it and who started it. */
export function inUseMessage(runDir: string, holder: RunLock): string {
  const pid = holder.sessionPid ?? holder.ownerPid;
  return `run ${runDir} is in use by pid ${pid} (${holder.owner}, already running since ${new Date(holder.time).toISOString()}); stop it there first`;
}

/**
 * Takes the lock for a process that is about to train the run itself (the CLI, a session started by hand), or
 * adopts the lock its parent took for it: the editor takes the lock, then spawns the session, so a live lock whose
 * owner is this process's parent and that names no other session is this session's own. An adopted lock is left
 * for the parent to release. `parentPid` and `alive` are injectable for tests.
 */
export async function lockRunForSession(
  runDir: string,
  owner: string,
  pid = process.pid,
  parentPid = process.ppid,
  alive: (pid: number) => boolean = processAlive,
): Promise<LockResult & { readonly adopted?: boolean }> {
  const held = await readRunLock(runDir);
  if (held && held.ownerPid === parentPid && (held.sessionPid === undefined || held.sessionPid === pid) && alive(parentPid)) {
    if (held.sessionPid === undefined) await setLockSessionPid(runDir, pid);
    return { ok: true, path: join(runDir, LOCK_FILE), adopted: true };
  }
  return acquireRunLock(runDir, owner, pid, alive);
}

/** Records the session's pid in a lock this process holds. */
export async function setLockSessionPid(runDir: string, sessionPid: number): Promise<void> {
  const path = join(runDir, LOCK_FILE);
  const lock = parseLock(await readFile(path, 'utf8'));
  if (!lock) throw new Error(`${path}: not a run lock`);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ ...lock, sessionPid }) + '\n', 'utf8');
  await rename(tmp, path);
}

/** Removes the lock if `ownerPid` holds it (a lock taken over by someone else is left alone). */
export async function releaseRunLock(runDir: string, ownerPid = process.pid): Promise<boolean> {
  const lock = await readRunLock(runDir);
  if (!lock || lock.ownerPid !== ownerPid) return false;
  try {
    await unlink(join(runDir, LOCK_FILE));
    return true;
  } catch {
    return false;
  }
}
