import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonlIndex } from '../../../../src/core/datasets/jsonlScan';
import { comparisonOutcomes, exportPreference, exportUnpaired, readerFromIndex, type DatasetReader } from '../../../../src/core/feedback/export';
import { textSha1 } from '../../../../src/core/feedback/fieldPath';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import type { FeedbackEntry } from '../../../../src/core/feedback/types';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

type Row = Record<string, unknown>;

function memoryReader(rows: Row[]): DatasetReader {
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  return { ids: () => byId.keys(), read: (id) => byId.get(id) };
}

let clock = Date.parse('2026-02-01T00:00:00.000Z');
function store(): FeedbackStore {
  const dir = mkdtempSync(join(tmpdir(), 'feedback-export-'));
  return FeedbackStore.open({ datasetPath: join(dir, 'data.jsonl'), writerId: 'w', annotator: 'alice', now: () => new Date((clock += 1000)) });
}

const outFile = (): string => join(mkdtempSync(join(tmpdir(), 'feedback-export-out-')), 'train.jsonl');
const readRows = (f: string): Row[] =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);

const msgs = (role: string, content: string) => [{ role, content }];
const preferenceData: Row[] = [
  { id: 'r1', prompt: 'P1', chosen: 'C1', rejected: 'R1' },
  { id: 'r2', prompt: 'P2', chosen: 'C2', rejected: 'R2' },
  { id: 'r3', prompt: msgs('user', 'Q3'), chosen: msgs('assistant', 'A3'), rejected: msgs('assistant', 'B3') },
  { id: 'r4', prompt: 'P4', chosen: 'C4', rejected: 'R4' },
  { id: 'r5', prompt: 'P5', chosen: 'C5', rejected: 'R5' },
  { id: 'r6', chosen: [...msgs('user', 'Q6'), ...msgs('assistant', 'A6')], rejected: [...msgs('user', 'Q6'), ...msgs('assistant', 'B6')] },
  { id: 'r7', prompt: 'P7', chosen: 'C7', rejected: 'R7' },
  { id: 'r8', prompt: 'P8', chosen: 'C8', rejected: 'R8' },
];

function labelPreferences(s: FeedbackStore): void {
  const pick = (recordId: string, preferred: string | null, annotator = 'alice', order: [string, string] = ['rejected', 'chosen']): void => {
    s.record({ recordId, type: 'comparison', payload: { mode: 'pair', order, preferred }, annotator });
  };
  pick('r1', 'rejected', 'alice');
  pick('r1', 'rejected', 'bob', ['chosen', 'rejected']);
  pick('r1', 'chosen', 'carol');
  pick('r2', null);
  s.record({ recordId: 'r2', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' }, source: 'ai:judge', annotator: 'ai:judge' });
  pick('r3', 'chosen');
  s.record({ recordId: 'r4', type: 'eStop', payload: { target: 'chosen', reason: 'unsafe' } });
  s.record({ recordId: 'r5', type: 'improvement', payload: { target: 'rejected', originalSha1: textSha1('R5'), edited: 'R5 improved' } });
  pick('r6', 'rejected');
  s.record({ recordId: 'r7', type: 'eStop', payload: {} });
  pick('r7', 'chosen');
  pick('r8', 'chosen');
  s.undo(); // r8's label is retracted: nothing to export for it
  pick('r9', 'chosen'); // not in the dataset
}

test('preference export: exact TRL rows (majority vote, conversational kept conversational, implicit prompt, improvements), ties and flags dropped', () => {
  const s = store();
  labelPreferences(s);
  const out = outFile();
  const report = exportPreference(out, memoryReader(preferenceData), s.view(), { sources: ['human'] });
  const expected =
    [
      { prompt: 'P1', chosen: 'R1', rejected: 'C1' },
      { prompt: msgs('user', 'Q3'), chosen: msgs('assistant', 'A3'), rejected: msgs('assistant', 'B3') },
      { prompt: 'P5', chosen: 'R5 improved', rejected: 'R5' },
      { chosen: [...msgs('user', 'Q6'), ...msgs('assistant', 'B6')], rejected: [...msgs('user', 'Q6'), ...msgs('assistant', 'A6')] },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n';
  assert.equal(readFileSync(out, 'utf8'), expected);
  assert.equal(report.written, 4);
  assert.deepEqual(report.skipped, { tie: 1, flagged: 2, 'record-not-in-dataset': 1 });
});

test('preference export: ties both-ways / as-is, flagged outputs as rejected, AI votes, ids', () => {
  const s = store();
  labelPreferences(s);
  const reader = memoryReader(preferenceData);
  const both = outFile();
  exportPreference(both, reader, s.view(), { sources: ['human'], ties: 'both', annotators: ['alice'] });
  const bothRows = readRows(both);
  assert.deepEqual(bothRows.slice(0, 3), [
    { prompt: 'P1', chosen: 'R1', rejected: 'C1' },
    { prompt: 'P2', chosen: 'C2', rejected: 'R2' },
    { prompt: 'P2', chosen: 'R2', rejected: 'C2' },
  ]);
  const asIs = outFile();
  exportPreference(asIs, reader, s.view(), { sources: ['human'], ties: 'asIs', flagged: 'rejected', includeIds: true });
  const rows = readRows(asIs);
  assert.deepEqual(
    rows.map((r) => [r.id, r.chosen, r.rejected]),
    [
      ['r1', 'R1', 'C1'],
      ['r2', 'C2', 'R2'],
      ['r3', msgs('assistant', 'A3'), msgs('assistant', 'B3')],
      ['r4', 'R4', 'C4'], // the flagged chosen output became the rejected one
      ['r5', 'R5 improved', 'R5'],
      ['r6', [...msgs('user', 'Q6'), ...msgs('assistant', 'B6')], [...msgs('user', 'Q6'), ...msgs('assistant', 'A6')]],
    ],
  );
  // With AI labels included, r2's tie (alice) and the judge's "chosen" make "chosen" win.
  const withAi = outFile();
  const rep = exportPreference(withAi, reader, s.view(), {});
  assert.deepEqual(readRows(withAi)[1], { prompt: 'P2', chosen: 'C2', rejected: 'R2' });
  assert.equal(rep.skipped.tie, undefined);
  // improvements can be turned off
  const noImp = outFile();
  exportPreference(noImp, reader, s.view(), { sources: ['human'], improvements: false });
  assert.equal(readRows(noImp).some((r) => r.chosen === 'R5 improved'), false);
});

test('preference export: an improvement whose original changed in the dataset is skipped, not misapplied', () => {
  const s = store();
  s.record({ recordId: 'r5', type: 'improvement', payload: { target: 'rejected', originalSha1: textSha1('R5 (old text)'), edited: 'better' } });
  const out = outFile();
  const rep = exportPreference(out, memoryReader(preferenceData), s.view());
  assert.equal(rep.written, 0);
  assert.deepEqual(rep.skipped, { 'improvement-of-changed-output': 1 });
  assert.equal(readFileSync(out, 'utf8'), '');
});

test('rankings expand to every ordered pair; comparisonOutcomes votes per candidate pair', () => {
  const entries = [
    { type: 'comparison', payload: { mode: 'ranking', order: ['a', 'b', 'c'], ranking: [['c'], ['a', 'b']] } },
    { type: 'comparison', payload: { mode: 'pair', order: ['a', 'b'], preferred: 'a' } },
  ] as unknown as FeedbackEntry[];
  const oc = comparisonOutcomes(entries).map((o) => [o.a, o.b, o.tie]);
  assert.deepEqual(oc.sort(), [
    ['a', 'b', false], // one tie vote (ranking group) vs one vote for a: a wins
    ['c', 'a', false],
    ['c', 'b', false],
  ]);
  const s = store();
  s.record({ recordId: 'k', type: 'comparison', payload: { mode: 'ranking', order: ['responses[0]', 'responses[1]', 'responses[2]'], ranking: [['responses[1]'], ['responses[2]'], ['responses[0]']] } });
  const out = outFile();
  exportPreference(out, memoryReader([{ id: 'k', prompt: 'P', responses: ['x', 'y', 'z'] }]), s.view());
  assert.deepEqual(readRows(out), [
    // in ranking order: the best against each worse one, then the next
    { prompt: 'P', chosen: 'y', rejected: 'z' },
    { prompt: 'P', chosen: 'y', rejected: 'x' },
    { prompt: 'P', chosen: 'z', rejected: 'x' },
  ]);
});

test('unpaired (KTO) export: ratings, critiques, flags and improvements become prompt/completion/label rows', () => {
  const data: Row[] = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].map((id) => ({ id, prompt: `P-${id}`, completion: `X-${id}`, label: true }));
  const s = store();
  const rate = (recordId: string, value: number): void => {
    s.record({ recordId, type: 'rating', payload: { target: 'completion', value, scale: { min: 1, max: 5 } } });
  };
  rate('k1', 5);
  s.record({ recordId: 'k2', type: 'critique', payload: { target: 'completion', mode: 'binary', acceptable: false } });
  rate('k3', 3); // the midpoint says nothing
  s.record({ recordId: 'k4', type: 'critique', payload: { target: 'completion', mode: 'multi', labels: ['harmful'], labelSet: ['helpful', 'harmful'] } });
  s.record({ recordId: 'k5', type: 'eStop', payload: { target: 'completion' } });
  rate('k6', 5);
  s.record({ recordId: 'k6', type: 'critique', payload: { target: 'completion', mode: 'binary', acceptable: false } });
  s.record({ recordId: 'k7', type: 'improvement', payload: { target: 'completion', originalSha1: textSha1('X-k7'), edited: 'Y-k7' } });
  const reader = memoryReader(data);
  const out = outFile();
  const rep = exportUnpaired(out, reader, s.view());
  assert.equal(
    readFileSync(out, 'utf8'),
    [
      { prompt: 'P-k1', completion: 'X-k1', label: true },
      { prompt: 'P-k2', completion: 'X-k2', label: false },
      { prompt: 'P-k4', completion: 'X-k4', label: false },
      { prompt: 'P-k7', completion: 'X-k7', label: false },
      { prompt: 'P-k7', completion: 'Y-k7', label: true },
    ]
      .map((r) => JSON.stringify(r) + '\n')
      .join(''),
  );
  assert.deepEqual(rep.skipped, { flagged: 1, 'conflicting-labels': 1 });
  const out2 = outFile();
  exportUnpaired(out2, reader, s.view(), { flagged: 'rejected', ratingThreshold: 3 });
  const rows = readRows(out2);
  assert.deepEqual(rows.find((r) => r.prompt === 'P-k5'), { prompt: 'P-k5', completion: 'X-k5', label: false });
  assert.deepEqual(rows.find((r) => r.prompt === 'P-k3'), { prompt: 'P-k3', completion: 'X-k3', label: true });
});

test('unpaired export from comparisons (opt-in): winner desirable, loser undesirable, conversational kept', () => {
  const s = store();
  s.record({ recordId: 'r3', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'rejected' } });
  const reader = memoryReader(preferenceData);
  const none = outFile();
  assert.equal(exportUnpaired(none, reader, s.view()).written, 0);
  const out = outFile();
  exportUnpaired(out, reader, s.view(), { comparisons: true });
  assert.deepEqual(readRows(out), [
    { prompt: msgs('user', 'Q3'), completion: msgs('assistant', 'A3'), label: false },
    { prompt: msgs('user', 'Q3'), completion: msgs('assistant', 'B3'), label: true },
  ]);
});

test('export over the real dataset through the JSONL index: conversational rows taken straight from the file', { skip: REAL_DATA_SKIP }, async () => {
  const file = realDataFile('dpo_en_demo.trl.jsonl');
  const index = await JsonlIndex.build(file);
  assert.throws(() => readerFromIndex(index), /scan/);
  await index.scan();
  const s = store();
  s.record({ recordId: 'dpo-en-001', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' } });
  s.record({ recordId: 'dpo-en-000', type: 'comparison', payload: { mode: 'pair', order: ['rejected', 'chosen'], preferred: 'rejected' } });
  const out = outFile();
  const rep = exportPreference(out, readerFromIndex(index), s.view());
  assert.equal(rep.written, 2);
  const lines = readFileSync(file, 'utf8').split('\n');
  const src0 = JSON.parse(lines[0]) as Row;
  const src1 = JSON.parse(lines[1]) as Row;
  assert.deepEqual(readRows(out), [
    { prompt: src0.prompt, chosen: src0.rejected, rejected: src0.chosen },
    { prompt: src1.prompt, chosen: src1.chosen, rejected: src1.rejected },
  ]);
});
