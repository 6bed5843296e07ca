import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { JournalInUseError, lockFileOf } from '../../../../src/core/feedback/journal';
import { isUserError } from '../../../../src/util/errors';

const WRITER = join(__dirname, 'support', 'journalWriter.ts');

function dataset(parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'journal-lock-'));
  const file = join(dir, 'pairs.jsonl');
  writeFileSync(file, JSON.stringify({ id: 'r1', prompt: 'p', chosen: 'c', rejected: 'r' }) + '\n');
  return file;
}

/** A journalWriter.ts child process and the lines it printed so far. */
class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];
  private stderr = '';

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', WRITER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    this.proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts);
      this.waiters.forEach((w) => w());
    });
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => {
      this.waiters.forEach((w) => w());
      resolve(code);
    }));
  }

  /** Resolves when a printed line matches; rejects when the child exits first. */
  waitFor(pattern: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.lines.some((l) => pattern.test(l))) resolve();
        else if (this.proc.exitCode !== null || this.proc.signalCode !== null) reject(new Error(`child exited before ${pattern}: ${this.stderr}`));
        else return;
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  acked(): string[] {
    return this.lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4));
  }

  async ok(): Promise<void> {
    assert.equal(await this.exited, 0, `child failed: ${this.stderr}`);
  }
}

test('a second process with the same writer id is refused while the first is mid-append, and its half-written line is left alone', async () => {
  const ds = dataset();
  const slow = new Child(['half', ds, 'same']);
  await slow.waitFor(/^half$/);
  const journal = join(ds, '..', '.alignment', 'pairs.jsonl.labels', 'same.jsonl');
  const before = readFileSync(journal);
  let refused: unknown;
  try {
    FeedbackStore.open({ datasetPath: ds, writerId: 'same', annotator: 'second' }).close();
  } catch (e) {
    refused = e;
  }
  const after = readFileSync(journal);
  // A reader under another id is not blocked; it skips the partial line.
  const reader = FeedbackStore.open({ datasetPath: ds, writerId: 'reader', annotator: 'r' });
  assert.equal(reader.entries().length, 1);
  slow.proc.stdin?.write('go\n');
  await slow.waitFor(/^ack slow-entry$/);
  slow.proc.stdin?.end();
  await slow.ok();
  reader.refresh();
  assert.deepEqual(reader.entries().map((e) => e.id), slow.acked(), 'every acknowledged decision survives');
  assert.deepEqual(reader.problems, []);
  reader.close();
  assert.deepEqual(after, before, 'the live writer\'s partial line was not truncated');
  assert.equal(existsSync(`${journal}.torn`), false);
  assert.ok(refused instanceof JournalInUseError, 'the second writer is refused');
  assert.ok(isUserError(refused), 'an expected error: its message is printed alone');
  assert.equal(refused.holder?.pid, slow.proc.pid);
  assert.match(refused.message, new RegExp(`labels journal .*same\\.jsonl is being written by another process \\(labels writer same, process ${slow.proc.pid} on `));
  assert.match(refused.message, /one writer at a time, so give this writer its own id or stop the other one$/);
  // Once the first process has closed its store, the id is free again.
  const again = FeedbackStore.open({ datasetPath: ds, writerId: 'same', annotator: 'second' });
  assert.equal(again.repair, undefined);
  assert.deepEqual(again.entries().map((e) => e.id), slow.acked());
  again.close();
  rmSync(join(ds, '..'), { recursive: true, force: true });
});

test('a writer killed mid-append leaves a stale lock: the next writer with its id takes it over and repairs the torn tail', async () => {
  const ds = dataset();
  const slow = new Child(['half', ds, 'same']);
  await slow.waitFor(/^half$/);
  slow.proc.kill('SIGKILL');
  await slow.exited;
  const s = FeedbackStore.open({ datasetPath: ds, writerId: 'same', annotator: 'next' });
  assert.equal(s.repair?.kind, 'truncated');
  assert.equal(s.repair?.bytes, 40);
  assert.deepEqual(s.entries().map((e) => e.id), slow.acked());
  const held = JSON.parse(readFileSync(lockFileOf(s.journalPath), 'utf8')) as { pid: number };
  assert.equal(held.pid, process.pid);
  s.record({ recordId: 'r2', type: 'eStop', payload: {} });
  s.close();
  assert.equal(existsSync(lockFileOf(s.journalPath)), false, 'close releases the lock');
  rmSync(join(ds, '..'), { recursive: true, force: true });
});

test('stores of one process share the lock; a lock from another host is never judged stale and the error says how to clear it', () => {
  const ds = dataset();
  const a = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'a' });
  a.record({ recordId: 'r1', type: 'eStop', payload: {} });
  const b = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'b' });
  b.record({ recordId: 'r2', type: 'eStop', payload: {} });
  a.close();
  assert.ok(existsSync(lockFileOf(b.journalPath)), 'still held by the other store of this process');
  b.close();
  assert.equal(existsSync(lockFileOf(b.journalPath)), false);

  const lock = lockFileOf(b.journalPath);
  writeFileSync(lock, JSON.stringify({ pid: 1, host: `not-${hostname()}`, time: Date.now() - 86_400_000, owner: 'labels writer w' }) + '\n');
  assert.throws(
    () => FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'c' }),
    (e: unknown) => e instanceof JournalInUseError && e.message.includes(`on not-${hostname()}`) && e.message.includes(`delete ${lock}`),
  );
  // The same host name, this very pid, but another pid namespace (another container): not judged either.
  writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), pidns: 'pid:[1]', time: Date.now() - 86_400_000, owner: 'labels writer w' }) + '\n');
  assert.throws(
    () => FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'c' }),
    (e: unknown) => e instanceof JournalInUseError && e.message.includes(`process ${process.pid} on ${hostname()}`) && e.message.includes(`delete ${lock}`),
  );
  // A writer that finds the journal missing still takes the lock before its first append.
  rmSync(b.journalPath);
  const lazy = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'c' });
  assert.throws(() => lazy.record({ recordId: 'r3', type: 'eStop', payload: {} }), JournalInUseError);
  assert.equal(existsSync(b.journalPath), false, 'nothing written without the lock');
  lazy.close();
  rmSync(join(ds, '..'), { recursive: true, force: true });
});

test('two processes with one writer id, 1 MB entries, a store opened again and again meanwhile: every acknowledged decision survives', async (t) => {
  // On a RAM file system (when there is one) appends are fast, so a line is half-written for a large share of the
  // time: the condition under which a store opened by a second process used to cut acknowledged lines off.
  const ds = dataset(existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  t.after(() => rmSync(join(ds, '..'), { recursive: true, force: true }));
  const stop = `${ds}.stop`;
  const opener = new Child(['open-loop', ds, 'cli-host-1', stop]);
  await opener.waitFor(/^ready$/);
  const writer = new Child(['record', ds, 'cli-host-1', process.env.JOURNAL_LOCK_ENTRIES ?? '30', String(1 << 20)]);
  await writer.ok();
  writeFileSync(stop, '');
  await opener.ok();
  const acked = writer.acked();
  const summary = opener.lines.find((l) => l.startsWith('opened ')) ?? '';
  const reader = FeedbackStore.open({ datasetPath: ds, writerId: 'reader', annotator: 'r' });
  const have = new Set(reader.entries().map((e) => e.id));
  const lost = acked.filter((id) => !have.has(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged decisions lost (opener: ${summary})`);
  assert.deepEqual(reader.problems, []);
  assert.match(summary, /refused [1-9]/, 'the opener ran while the writer held the journal, and was refused');
  reader.close();
});
