import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeedbackStore, InvalidFeedbackError, labelsDirFor } from '../../../../src/core/feedback/store';
import { FEEDBACK_TYPES, journalEntryProblems, type FeedbackType, type JournalEntry } from '../../../../src/core/feedback/types';
import { invalidPayloads, validPayloads } from './samples';

function dataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'feedback-store-'));
  const file = join(dir, 'pairs.jsonl');
  writeFileSync(file, JSON.stringify({ id: 'r1', prompt: 'p', chosen: 'c', rejected: 'r' }) + '\n');
  return file;
}

let clock = Date.parse('2026-01-01T00:00:00.000Z');
const tick = (): Date => new Date((clock += 1000));

function open(datasetPath: string, writerId = 'w1', annotator = 'alice'): FeedbackStore {
  return FeedbackStore.open({ datasetPath, writerId, annotator, now: tick });
}

const pairChoice = (preferred: string | null) => ({ mode: 'pair' as const, order: ['chosen', 'rejected'] as [string, string], preferred });

test('layout: journals live in <dir>/.alignment/<file>.labels/<writer>.jsonl; the dataset file is never modified', () => {
  const ds = dataset();
  const before = createHash('sha1').update(readFileSync(ds)).digest('hex');
  const mtime = statSync(ds).mtimeMs;
  const s = open(ds, 'win-1');
  assert.equal(s.labelsDir, join(ds, '..', '.alignment', 'pairs.jsonl.labels'));
  assert.equal(s.labelsDir, labelsDirFor(ds));
  assert.equal(existsSync(s.journalPath), false, 'no file until the first decision');
  s.record({ recordId: 'r1', type: 'comparison', payload: pairChoice('chosen'), seconds: 2.5 });
  s.undo();
  s.close();
  assert.equal(s.journalPath, join(s.labelsDir, 'win-1.jsonl'));
  assert.equal(readFileSync(s.journalPath, 'utf8').split('\n').length, 3);
  assert.equal(createHash('sha1').update(readFileSync(ds)).digest('hex'), before);
  assert.equal(statSync(ds).mtimeMs, mtime);
});

test('every feedback type validates, persists and round-trips through a fresh store unchanged', () => {
  const ds = dataset();
  const s = open(ds);
  const written: JournalEntry[] = [];
  for (const type of FEEDBACK_TYPES) {
    const samples = validPayloads[type] as unknown[];
    assert.ok(samples.length > 0, `a sample for ${type}`);
    for (const payload of samples) {
      written.push(s.record({ recordId: `r-${type}`, type: type as FeedbackType, payload: payload as never, seconds: 1.25, source: 'human' }) as JournalEntry);
    }
  }
  written.push(s.record({ recordId: 'r-ai', type: 'comparison', payload: pairChoice(null), source: 'ai:gpt-judge', annotator: 'ai:gpt-judge' }));
  written.push(s.record({ recordId: 'r-proxy', type: 'proxyReward', payload: { target: 'chosen', score: 1, scorer: 'len' }, source: 'program:len' }));
  s.close();
  const again = open(ds, 'w2', 'bob');
  assert.deepEqual(again.problems, []);
  assert.deepEqual(again.entries(), written);
  for (const e of again.entries()) assert.deepEqual(journalEntryProblems(JSON.parse(JSON.stringify(e))), []);
  const counts = again.view().counts();
  for (const t of FEEDBACK_TYPES) assert.ok(counts.byType[t] >= 1, `count for ${t}`);
  assert.equal(counts.bySource.ai, 1);
  assert.equal(counts.bySource.program, 1);
  again.close();
});

test('invalid payloads of every type are refused with a message naming the field, and nothing is written', () => {
  const ds = dataset();
  const s = open(ds);
  for (const type of FEEDBACK_TYPES) {
    for (const [payload, pattern] of invalidPayloads[type]) {
      assert.throws(
        () => s.record({ recordId: 'r1', type, payload: payload as never }),
        (e: unknown) => e instanceof InvalidFeedbackError && e.problems.some((p) => pattern.test(p) && p.startsWith('entry.payload')),
        `${type}: ${JSON.stringify(payload)}`,
      );
    }
  }
  assert.throws(() => s.record({ recordId: 'r1', type: 'rating', payload: validPayloads.rating[0], seconds: -1 }), /seconds/);
  assert.throws(() => s.record({ recordId: 'r1', type: 'rating', payload: validPayloads.rating[0], source: 'robot' as never }), /source/);
  assert.throws(() => s.record({ recordId: '', type: 'rating', payload: validPayloads.rating[0] }), /recordId/);
  assert.throws(() => s.record({ recordId: 'r1', type: 'nonsense' as never, payload: {} as never }), /unknown feedback type/);
  assert.equal(existsSync(s.journalPath), false);
  assert.throws(() => FeedbackStore.open({ datasetPath: ds, writerId: '../evil', annotator: 'a' }), /invalid writer id/);
  s.close();
});

test('crash recovery: a journal cut mid-line keeps every complete decision, saves the fragment, and accepts new appends', () => {
  const ds = dataset();
  const s = open(ds);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(s.record({ recordId: `r${i}`, type: 'rating', payload: { target: 'chosen', value: i + 1, scale: { min: 1, max: 5 } } }).id);
  s.close();
  const full = readFileSync(s.journalPath);
  const lines = full.toString('utf8').split('\n');
  const completeBytes = Buffer.byteLength(lines.slice(0, 4).join('\n') + '\n');
  // Crash in the middle of writing the 5th entry.
  truncateSync(s.journalPath, completeBytes + 40);
  const fragment = readFileSync(s.journalPath).subarray(completeBytes).toString('utf8');

  // Another window reading meanwhile ignores the partial line without reporting it (it may still be being written).
  const reader = open(ds, 'reader');
  assert.deepEqual(reader.entries().map((e) => e.id), ids.slice(0, 4));
  assert.deepEqual(reader.problems, []);

  const reopened = open(ds);
  assert.equal(reopened.repair?.kind, 'truncated');
  assert.equal(reopened.repair?.bytes, 40);
  assert.equal(readFileSync(`${s.journalPath}.torn`, 'utf8'), fragment + '\n');
  assert.deepEqual(reopened.entries().map((e) => e.id), ids.slice(0, 4));
  const fresh = reopened.record({ recordId: 'r9', type: 'naturalLanguage', payload: { text: 'after the crash' } });
  reopened.close();
  const third = open(ds, 'w3');
  assert.deepEqual(third.entries().map((e) => e.id), [...ids.slice(0, 4), fresh.id]);
  assert.deepEqual(third.problems, []);
  // the repaired journal is well-formed JSONL again
  const text = readFileSync(s.journalPath, 'utf8');
  assert.ok(text.endsWith('\n'));
  assert.equal(text.split('\n').filter(Boolean).length, 5);
  reader.refresh();
  assert.deepEqual(reader.entries().map((e) => e.id), [...ids.slice(0, 4), fresh.id], 'a reader that saw the torn tail catches up after the repair');
});

test('crash recovery: a complete last entry that lost only its newline is kept', () => {
  const ds = dataset();
  const s = open(ds);
  const a = s.record({ recordId: 'r1', type: 'eStop', payload: {} });
  const b = s.record({ recordId: 'r2', type: 'eStop', payload: { reason: 'x' } });
  s.close();
  truncateSync(s.journalPath, statSync(s.journalPath).size - 1);
  const again = open(ds);
  assert.equal(again.repair?.kind, 'newline-added');
  assert.deepEqual(again.entries().map((e) => e.id), [a.id, b.id]);
  const c = again.record({ recordId: 'r3', type: 'eStop', payload: {} });
  again.close();
  assert.deepEqual(open(ds, 'other').entries().map((e) => e.id), [a.id, b.id, c.id]);
});

test('concurrent writers: two windows append interleaved; each sees all decisions after refresh, a third merges all', () => {
  const ds = dataset();
  const w1 = open(ds, 'window-a', 'alice');
  const w2 = open(ds, 'window-b', 'bob');
  const all: string[] = [];
  for (let i = 0; i < 20; i++) {
    const s = i % 3 === 0 ? w2 : w1;
    all.push(s.record({ recordId: `r${i % 7}`, type: 'comparison', payload: pairChoice(i % 2 ? 'chosen' : 'rejected') }).id);
  }
  assert.equal(w1.entries().length + w2.entries().length, 20 + 0, 'before refresh each only knows its own');
  w1.refresh();
  w2.refresh();
  assert.deepEqual(w1.entries().map((e) => e.id), all);
  assert.deepEqual(w2.entries().map((e) => e.id), all);
  const merged = open(ds, 'window-c', 'carol');
  assert.deepEqual(merged.entries().map((e) => e.id), all);
  assert.deepEqual(readdirSync(w1.labelsDir).filter((f) => f.endsWith('.jsonl')).sort(), ['window-a.jsonl', 'window-b.jsonl']);
  // both annotators' latest labels on r0 are current
  const r0 = merged.view().currentOfType('r0', 'comparison');
  assert.deepEqual(r0.map((e) => e.annotator).sort(), ['alice', 'bob']);
  w1.close();
  w2.close();
});

test('undo retracts the latest decision of this writer; the slot falls back to the previous label; undo of nothing is undefined', () => {
  const ds = dataset();
  const s = open(ds);
  assert.equal(s.undo(), undefined);
  const first = s.record({ recordId: 'r1', type: 'comparison', payload: pairChoice('chosen') });
  const second = s.record({ recordId: 'r1', type: 'comparison', payload: pairChoice('rejected') });
  assert.deepEqual(s.view().currentOfType('r1', 'comparison').map((e) => e.id), [second.id]);
  const u = s.undo();
  assert.equal(u?.type, 'retract');
  assert.equal(u?.payload.entryId, second.id);
  assert.deepEqual(s.view().currentOfType('r1', 'comparison').map((e) => e.id), [first.id]);
  // An undo from another writer does not touch this writer's decisions.
  const other = open(ds, 'w2', 'bob');
  other.record({ recordId: 'r2', type: 'rating', payload: validPayloads.rating[0] });
  other.refresh();
  assert.equal(other.undo()?.payload.entryId, other.entries().find((e) => e.writer === 'w2' && e.type === 'rating')?.id);
  s.refresh();
  assert.equal(s.undo()?.payload.entryId, first.id);
  assert.equal(s.view().has('r1', 'comparison'), false);
  assert.equal(s.view().counts().retracted, 3);
  // redo = retract the retraction
  const retractions = s.entries().filter((e) => e.type === 'retract' && e.writer === 'w1');
  s.retract(retractions[retractions.length - 1].id);
  assert.deepEqual(s.view().currentOfType('r1', 'comparison').map((e) => e.id), [first.id]);
  assert.throws(() => s.retract('no-such-id'), /no journal entry/);
  // all of this survives a reopen
  s.close();
  const again = open(ds, 'w3');
  assert.deepEqual(again.view().currentOfType('r1', 'comparison').map((e) => e.id), [first.id]);
  assert.equal(again.view().has('r2', 'rating'), false);
});

test('invalid lines on disk are reported with journal file:line and skipped; valid ones around them are kept', () => {
  const ds = dataset();
  const s = open(ds);
  const a = s.record({ recordId: 'r1', type: 'eStop', payload: {} });
  s.close();
  const good = readFileSync(s.journalPath, 'utf8').trim();
  const bad = JSON.parse(good) as Record<string, unknown>;
  appendFileSync(s.journalPath, '{not json\n');
  appendFileSync(s.journalPath, JSON.stringify({ ...bad, id: 'x2', type: 'rating', payload: { target: 'chosen', value: 9, scale: { min: 1, max: 5 } } }) + '\n');
  appendFileSync(s.journalPath, JSON.stringify({ ...bad, id: 'x3', v: 7 }) + '\n');
  appendFileSync(s.journalPath, Buffer.from([0xff, 0xfe, 0x0a]));
  appendFileSync(s.journalPath, '\n');
  appendFileSync(s.journalPath, JSON.stringify({ ...bad, id: 'x4' }) + '\n');
  const again = open(ds, 'reader');
  assert.deepEqual(again.entries().map((e) => e.id), [a.id, 'x4']);
  assert.deepEqual(
    again.problems.map((p) => [p.file, p.line]),
    [
      [s.journalPath, 2],
      [s.journalPath, 3],
      [s.journalPath, 4],
      [s.journalPath, 5],
    ],
  );
  assert.match(again.problems[0].message, /not valid JSON/);
  assert.match(again.problems[1].message, /entry\.payload\.value: expected an integer in \[1, 5\]/);
  assert.match(again.problems[2].message, /newer version/);
  assert.match(again.problems[3].message, /UTF-8/);
  assert.deepEqual(again.locatedEntries().map((l) => l.line), [1, 7]);
});

test('merged view: latest entry per record+type+annotator+target; counts split by type and human/AI', () => {
  const ds = dataset();
  const s = open(ds);
  s.record({ recordId: 'r1', type: 'rating', payload: { target: 'chosen', value: 2, scale: { min: 1, max: 5 } } });
  s.record({ recordId: 'r1', type: 'rating', payload: { target: 'rejected', value: 1, scale: { min: 1, max: 5 } } });
  const latest = s.record({ recordId: 'r1', type: 'rating', payload: { target: 'chosen', value: 5, scale: { min: 1, max: 5 } } });
  s.record({ recordId: 'r1', type: 'rating', payload: { target: 'chosen', value: 3, scale: { min: 1, max: 5 } }, annotator: 'bob' });
  s.record({ recordId: 'r1', type: 'comparison', payload: pairChoice('chosen'), source: 'ai:judge', annotator: 'ai:judge' });
  s.record({ recordId: 'r2', type: 'implicit', payload: { target: 'chosen', signal: 'copy' } });
  s.record({ recordId: 'r2', type: 'implicit', payload: { target: 'chosen', signal: 'accept' } });
  const v = s.view();
  const ratings = v.currentOfType('r1', 'rating');
  assert.equal(ratings.length, 3);
  assert.equal(ratings.find((e) => e.annotator === 'alice' && e.payload.target === 'chosen')?.id, latest.id);
  const c = v.counts();
  assert.equal(c.current, 6);
  assert.equal(c.records, 2);
  assert.equal(c.byType.rating, 3);
  assert.equal(c.byType.implicit, 2);
  assert.equal(c.byType.comparison, 1);
  assert.deepEqual(c.bySource, { human: 5, ai: 1, program: 0 });
  assert.deepEqual(c.byTypeAndSource.comparison, { human: 0, ai: 1, program: 0 });
  assert.deepEqual(v.recordIds().sort(), ['r1', 'r2']);
  s.close();
});
