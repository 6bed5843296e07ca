import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLockFileSync, lockContext, lockHolderLive, parseLockHolder, processAlive, releaseLockFileSync, type LockContext } from '../../../src/util/lockFile';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const ctx = (o: Partial<LockContext> = {}): LockContext => ({ pid: 100, host: 'h', startedAt: T0, now: T0 + 5_000, alive: () => true, ...o });
const lockPath = (): string => join(mkdtempSync(join(tmpdir(), 'lockfile-')), 'x.lock');

test('processAlive: this process yes, a non-pid no', () => {
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(0), false);
  assert.equal(processAlive(-3), false);
  assert.equal(processAlive(1.5), false);
});

test('the first taker wins; a live holder (same host) refuses the second and is named', () => {
  const f = lockPath();
  assert.deepEqual(acquireLockFileSync(f, 'first', ctx()), { ok: true, path: f });
  assert.deepEqual(parseLockHolder(readFileSync(f, 'utf8')), { pid: 100, host: 'h', time: T0 + 5_000, owner: 'first' });
  const second = acquireLockFileSync(f, 'second', ctx({ pid: 200 }));
  assert.equal(second.ok, false);
  assert.equal(second.ok ? undefined : second.holder?.owner, 'first');
  assert.equal(parseLockHolder(readFileSync(f, 'utf8'))?.owner, 'first', 'the refused taker changed nothing');
});

test('a dead holder on this host is stale and taken over; one on another host is never judged', () => {
  const f = lockPath();
  acquireLockFileSync(f, 'dead', ctx({ pid: 300 }));
  const took = acquireLockFileSync(f, 'next', ctx({ pid: 400, alive: (p) => p !== 300 }));
  assert.equal(took.ok, true);
  assert.equal(parseLockHolder(readFileSync(f, 'utf8'))?.pid, 400);

  const g = lockPath();
  acquireLockFileSync(g, 'remote', ctx({ pid: 300, host: 'other' }));
  assert.equal(acquireLockFileSync(g, 'here', ctx({ pid: 400, alive: () => false })).ok, false);
});

test('a lock from another pid namespace (a container sharing the host name) is never judged, even with this pid', () => {
  const here = ctx({ pidns: 'pid:[4026531836]', alive: () => false });
  const holder = { pid: 100, host: 'h', time: T0 - 60_000, owner: 'x' };
  assert.equal(lockHolderLive({ ...holder, pidns: 'pid:[4026532999]' }, here), true);
  assert.equal(lockHolderLive(holder, here), true, 'a lock that names no namespace is from elsewhere too');
  assert.equal(lockHolderLive({ ...holder, pidns: 'pid:[4026531836]' }, here), false);
  const f = lockPath();
  acquireLockFileSync(f, 'container a', ctx({ pidns: 'pid:[1]', now: T0 - 60_000 }));
  assert.equal(parseLockHolder(readFileSync(f, 'utf8'))?.pidns, 'pid:[1]');
  assert.equal(acquireLockFileSync(f, 'container b', ctx({ pidns: 'pid:[2]' })).ok, false);
});

test('a lock with this pid from before this process started is an earlier process\'s (pid reuse); one from since is live', () => {
  const holder = { pid: 100, host: 'h', owner: 'x' };
  assert.equal(lockHolderLive({ ...holder, time: T0 - 60_000 }, ctx()), false);
  assert.equal(lockHolderLive({ ...holder, time: T0 + 10 }, ctx()), true);
  assert.equal(lockHolderLive({ ...holder, pid: 7, time: T0 - 60_000 }, ctx({ alive: () => false })), false);
  assert.equal(lockHolderLive({ ...holder, pid: 7, time: T0 - 60_000 }, ctx({ alive: () => true })), true);
});

test('an unreadable lock (being written, or its writer died mid-write) is refused for a grace period, then taken over', () => {
  const f = lockPath();
  writeFileSync(f, '{"pid": 1');
  const now = Date.now();
  const refused = acquireLockFileSync(f, 'x', ctx({ now }));
  assert.equal(refused.ok, false);
  assert.equal(refused.ok ? 'n/a' : refused.holder, undefined);
  utimesSync(f, new Date(now - 60_000), new Date(now - 60_000));
  assert.equal(acquireLockFileSync(f, 'x', ctx({ now })).ok, true);
});

test('release removes only a lock this process holds', () => {
  const f = lockPath();
  acquireLockFileSync(f, 'other', ctx({ pid: 500 }));
  assert.equal(releaseLockFileSync(f, { pid: 100, host: 'h' }), false);
  assert.ok(existsSync(f));
  assert.equal(releaseLockFileSync(f, { pid: 500, host: 'elsewhere' }), false);
  assert.equal(releaseLockFileSync(f, { pid: 500, host: 'h', pidns: 'pid:[2]' }), false);
  assert.equal(releaseLockFileSync(f, { pid: 500, host: 'h' }), true);
  assert.equal(existsSync(f), false);
  assert.equal(releaseLockFileSync(f, { pid: 500, host: 'h' }), false);
});

test('processes racing to take over one stale lock end with exactly one holder', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.ok(dead !== undefined && !processAlive(dead));
  const rounds = 6;
  const dir = mkdtempSync(join(tmpdir(), 'lockfile-race-'));
  const files = Array.from({ length: rounds }, (_, i) => join(dir, `${i}.lock`));
  const stale = JSON.stringify({ pid: dead, host: hostname(), pidns: lockContext().pidns, time: Date.now() - 60_000, owner: 'crashed' }) + '\n';
  for (const f of files) writeFileSync(f, stale);
  const start = Date.now() + 4000; // after every racer has started
  const racers = Array.from({ length: 3 }, () => spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support', 'lockRacer.ts'), String(start), '150', ...files], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const outputs = await Promise.all(
    racers.map(
      (r) =>
        new Promise<string>((resolve, reject) => {
          let out = '';
          r.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
          r.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`racer exited ${code}`))));
        }),
    ),
  );
  const results = outputs.flatMap((o) => o.trim().split('\n'));
  for (let i = 0; i < rounds; i++) {
    assert.deepEqual(results.filter((l) => l === `${i} ok`).length, 1, `round ${i}: ${results.filter((l) => l.startsWith(`${i} `)).join(', ')}`);
    const holder = parseLockHolder(readFileSync(files[i], 'utf8'));
    assert.ok(holder && racers.some((r) => r.pid === holder.pid), `round ${i}: the lock names a racer`);
  }
});
