import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireRunLock, LOCK_FILE, lockIsLive, lockRunForSession, processAlive, readRunLock, releaseRunLock, setLockSessionPid } from '../../../../src/core/runs/runLock';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'lock-'));

test('one of two concurrent takers wins; the loser is told who holds the run', async () => {
  const dir = tmp();
  const alive = (pid: number) => pid === 101 || pid === 202;
  const [a, b] = await Promise.all([acquireRunLock(dir, 'window A', 101, alive), acquireRunLock(dir, 'window B', 202, alive)]);
  assert.equal([a.ok, b.ok].filter(Boolean).length, 1);
  const loser = a.ok ? b : a;
  assert.ok(!loser.ok);
  assert.match(loser.message, new RegExp(`^run ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by pid (101|202) \\(window [AB], already running since `));
  fs.rmSync(dir, { recursive: true });
});

test('the session pid decides liveness once set; a stale lock is taken over; release only by the owner', async () => {
  const dir = tmp();
  let live = new Set([101, 555]);
  const alive = (pid: number) => live.has(pid);
  assert.ok((await acquireRunLock(dir, 'window A', 101, alive)).ok);
  await setLockSessionPid(dir, 555);
  const lock = await readRunLock(dir);
  assert.equal(lock?.sessionPid, 555);
  // The window that started it is gone, the session still trains: still locked.
  live = new Set([555]);
  assert.ok(lock && lockIsLive(lock, alive));
  const second = await acquireRunLock(dir, 'window B', 202, alive);
  assert.ok(!second.ok);
  assert.match(second.message, /is in use by pid 555 \(window A,/);
  // The session died: the lock is stale and window B takes it.
  live = new Set([202]);
  assert.ok((await acquireRunLock(dir, 'window B', 202, alive)).ok);
  assert.equal(await releaseRunLock(dir, 101), false);
  assert.ok(fs.existsSync(path.join(dir, LOCK_FILE)));
  assert.equal(await releaseRunLock(dir, 202), true);
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  fs.rmSync(dir, { recursive: true });
});

test('an unreadable (half-written) lock counts as stale', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, LOCK_FILE), '{"ownerPid": 12');
  assert.ok((await acquireRunLock(dir, 'w', 7, () => true)).ok);
  assert.equal((await readRunLock(dir))?.ownerPid, 7);
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(0), false);
  fs.rmSync(dir, { recursive: true });
});

test('a session adopts the lock its parent (the editor) took for it; any other process is refused', async () => {
  const dir = tmp();
  const alive = (pid: number) => [101, 555, 777].includes(pid);
  assert.ok((await acquireRunLock(dir, 'VS Code window 101', 101, alive)).ok);
  // The editor's child: adopts, and the lock names it as the session.
  const child = await lockRunForSession(dir, 'training session', 555, 101, alive);
  assert.ok(child.ok && child.adopted);
  assert.equal((await readRunLock(dir))?.sessionPid, 555);
  // Another process (not the editor's child, or a second child once one is named) is refused.
  const other = await lockRunForSession(dir, 'training session', 777, 1, alive);
  assert.ok(!other.ok);
  assert.match(other.message, /is in use by pid 555 \(VS Code window 101,/);
  const sibling = await lockRunForSession(dir, 'training session', 778, 101, alive);
  assert.ok(!sibling.ok);
  // Without a lock the session takes its own, which it releases.
  const dir2 = tmp();
  const own = await lockRunForSession(dir2, 'training session', 555, 101, alive);
  assert.ok(own.ok && !own.adopted);
  assert.equal((await readRunLock(dir2))?.ownerPid, 555);
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(dir2, { recursive: true });
});
