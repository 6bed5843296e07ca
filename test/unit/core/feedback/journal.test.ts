import { after, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JOURNAL_CHUNK_BYTES, JournalTail, MAX_JOURNAL_LINE_BYTES, type JournalLine, type JournalProblem, type JournalReadLimits } from '../../../../src/core/feedback/journal';
import { FeedbackStore, InvalidFeedbackError } from '../../../../src/core/feedback/store';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = fs.mkdtempSync(join(tmpdir(), 'journal-read-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function readAll(file: string, limits: JournalReadLimits, problems: JournalProblem[] = []): JournalLine[] {
  return [...new JournalTail(file, limits).read(problems)];
}

// Lines with 1-, 2-, 3- and 4-byte UTF-8 characters, so that small chunks split characters at every offset.
const TEXTS = ['{"a":1}', 'é😀€中 mixed ünïcödé', '😀😀😀😀😀😀😀😀😀😀😀😀', 'x'.repeat(300), '€'.repeat(99) + 'é'];

function sampleJournal(): { file: string; expected: JournalLine[] } {
  const file = join(tempDir(), 'w.jsonl');
  const parts: Buffer[] = [];
  const expected: JournalLine[] = [];
  let line = 0;
  const add = (bytes: Buffer, entry?: JournalLine): void => {
    parts.push(bytes, Buffer.from('\n'));
    line++;
    if (entry) expected.push({ ...entry, line });
  };
  for (const t of TEXTS) add(Buffer.from(t), { line: 0, text: t });
  add(Buffer.from(''));
  add(Buffer.from('   '));
  add(Buffer.from([0x7b, 0xe2, 0x82, 0x7d]), { line: 0, text: '', error: 'not valid UTF-8; entry skipped' });
  add(Buffer.from('last 😀'), { line: 0, text: 'last 😀' });
  parts.push(Buffer.from('{"torn": "😀')); // a writer mid-append: no newline yet
  fs.writeFileSync(file, Buffer.concat(parts));
  return { file, expected };
}

test('streamed reads give the same lines at every chunk size, with multi-byte characters split across chunks; the torn tail waits', () => {
  const { file, expected } = sampleJournal();
  for (const chunkBytes of [1, 2, 3, 4, 5, 7, 13, 64, 301, 4096, JOURNAL_CHUNK_BYTES]) {
    const problems: JournalProblem[] = [];
    const tail = new JournalTail(file, { chunkBytes });
    assert.deepEqual([...tail.read(problems)], expected, `chunkBytes ${chunkBytes}`);
    assert.deepEqual(problems, []);
    assert.deepEqual([...tail.read(problems)], [], 'nothing new');
    const rest = Buffer.from('"}\n{"b":2}\n');
    fs.appendFileSync(file, rest);
    const n = expected[expected.length - 1].line;
    assert.deepEqual([...tail.read(problems)], [{ line: n + 1, text: '{"torn": "😀"}' }, { line: n + 2, text: '{"b":2}' }], `chunkBytes ${chunkBytes}: the completed line`);
    fs.truncateSync(file, fs.statSync(file).size - rest.length); // back to the torn state for the next chunk size
  }
});

test('a line longer than the limit is reported at its line and skipped, without being held; the lines after it are read', () => {
  const file = join(tempDir(), 'w.jsonl');
  const exact = '€'.repeat(16) + 'ab'; // 50 bytes
  fs.writeFileSync(file, `{"a":1}\n${'y'.repeat(51)}\n${exact}\n${'😀'.repeat(40)}\n{"b":2}\n`);
  for (const chunkBytes of [1, 7, 50, 51, 1024]) {
    const lines = readAll(file, { chunkBytes, maxLineBytes: 50 });
    assert.deepEqual(lines, [
      { line: 1, text: '{"a":1}' },
      { line: 2, text: '', error: 'longer than 50 bytes; entry skipped' },
      { line: 3, text: exact },
      { line: 4, text: '', error: 'longer than 50 bytes; entry skipped' },
      { line: 5, text: '{"b":2}' },
    ], `chunkBytes ${chunkBytes}`);
  }
});

test('no whole-file read: every read asks for at most one chunk, across a sparse 8 MiB hole (one over-long line of NULs)', (t) => {
  const file = join(tempDir(), 'w.jsonl');
  fs.writeFileSync(file, '{"a":1}\n');
  fs.truncateSync(file, 8 << 20); // sparse: takes no disk space
  fs.appendFileSync(file, '\n{"b":2}\n');
  const spy = mock.method(fs, 'readSync');
  t.after(() => spy.mock.restore());
  const lines = readAll(file, { chunkBytes: 64 << 10, maxLineBytes: 1 << 20 });
  const lengths = spy.mock.calls.map((c) => (c.arguments as unknown[])[3] as number);
  spy.mock.restore();
  assert.deepEqual(lines, [
    { line: 1, text: '{"a":1}' },
    { line: 2, text: '', error: `longer than ${1 << 20} bytes; entry skipped` },
    { line: 3, text: '{"b":2}' },
  ]);
  assert.ok(lengths.length >= 128, `read in chunks (${lengths.length} reads)`);
  assert.ok(Math.max(...lengths) <= 64 << 10, `largest read ${Math.max(...lengths)} bytes`);
});

test('a journal larger than 2 GiB opens (sparse file; slow, so only with ALIGNMENT_BIG_JOURNAL=1)', { skip: process.env.ALIGNMENT_BIG_JOURNAL !== '1' && 'set ALIGNMENT_BIG_JOURNAL=1' }, () => {
  const dir = tempDir();
  const ds = join(dir, 'pairs.jsonl');
  fs.writeFileSync(ds, '');
  const s = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'a' });
  const first = s.record({ recordId: 'r1', type: 'eStop', payload: {} });
  s.close();
  fs.truncateSync(s.journalPath, 2 ** 31 + 4096);
  fs.appendFileSync(s.journalPath, '\n');
  const again = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'a' });
  const second = again.record({ recordId: 'r2', type: 'eStop', payload: {} });
  const reader = FeedbackStore.open({ datasetPath: ds, writerId: 'reader', annotator: 'r' });
  assert.deepEqual(reader.entries().map((e) => e.id), [first.id, second.id]);
  assert.deepEqual(reader.problems.map((p) => [p.line, p.message]), [[2, `longer than ${MAX_JOURNAL_LINE_BYTES} bytes; entry skipped`]]);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a store reading in 3-byte chunks sees the same entries and problems (file:line) as one reading in whole chunks', () => {
  const dir = tempDir();
  const ds = join(dir, 'pairs.jsonl');
  fs.writeFileSync(ds, '');
  const w = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'ä€😀' });
  for (const text of TEXTS) w.record({ recordId: 'r😀', type: 'naturalLanguage', payload: { text } });
  w.close();
  fs.appendFileSync(w.journalPath, '{not json\n');
  fs.appendFileSync(w.journalPath, Buffer.from([0xf0, 0x9f, 0x98, 0x0a]));
  const w2 = FeedbackStore.open({ datasetPath: ds, writerId: 'w2', annotator: 'b' });
  w2.record({ recordId: 'r2', type: 'naturalLanguage', payload: { text: 'mañana 😀' } });
  w2.close();
  const small = FeedbackStore.open({ datasetPath: ds, writerId: 'r1', annotator: 'r', readLimits: { chunkBytes: 3 } });
  const whole = FeedbackStore.open({ datasetPath: ds, writerId: 'r2', annotator: 'r' });
  assert.equal(small.entries().length, TEXTS.length + 1);
  assert.deepEqual(small.locatedEntries(), whole.locatedEntries());
  assert.deepEqual(small.problems, whole.problems);
  assert.deepEqual(small.problems.map((p) => [p.file, p.line]), [[w.journalPath, TEXTS.length + 1], [w.journalPath, TEXTS.length + 2]]);
  small.close();
  whole.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the store refuses an entry longer than a journal line may be (so every line it writes can be read back)', () => {
  const dir = tempDir();
  const ds = join(dir, 'pairs.jsonl');
  fs.writeFileSync(ds, '');
  const s = FeedbackStore.open({ datasetPath: ds, writerId: 'w', annotator: 'a' });
  const edited = 'x'.repeat(MAX_JOURNAL_LINE_BYTES);
  assert.throws(
    () => s.record({ recordId: 'r1', type: 'improvement', payload: { target: 'chosen', originalSha1: `sha1:${'0'.repeat(40)}`, edited } }),
    (e: unknown) => e instanceof InvalidFeedbackError && /more than the limit of 67108864/.test(e.message),
  );
  assert.equal(fs.existsSync(s.journalPath), false);
  s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
