/**
 * The rounds of a run "with a person" (src/core/runs/rounds.ts): a published batch is a preference dataset the
 * comparison panel opens as it opens any other; the panel's decisions, written to the batch's ordinary labels
 * journal, come back as the person's decisions; bad files are refused naming file, line and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanJsonl } from '../../../../src/core/datasets/jsonlScan';
import { ComparisonQueue } from '../../../../src/core/feedback/comparisonQueue';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { closeBatch, listRounds, pairsFileRound, openRoundLabels, publishBatch, readBatch, readRoundPairs, roundDecisions, roundPaths, SIMULATED_LABELER_SOURCE, waitingBatches } from '../../../../src/core/runs/rounds';
import { roundCandidate, roundPairId, type RoundBatch, type RoundPair } from '../../../../src/protocol/humanLoop';
import { UserError } from '../../../../src/util/errors';
import { resolveRunSpec } from '../../../../src/core/runs/spec';
import { exportPreference, readerFromIndex } from '../../../../src/core/feedback/export';

function tmpRun(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rounds-'));
}

function pair(round: number, i: number): RoundPair {
  return {
    id: roundPairId(round, i),
    prompt: [{ role: 'user', content: `question ${i}?` }],
    chosen: roundCandidate(`answer a${i}`),
    rejected: roundCandidate(`answer b${i}`),
    round,
    policy_round: round - 1,
    prompt_id: `q${i}`,
    selection: { method: 'active', score: 0.5 + i / 10, probabilities: { implicit: 0.5 } },
  };
}

function batch(round: number, pairs: number, over: Partial<RoundBatch> = {}): RoundBatch {
  return { v: 1, round, policyRound: round - 1, policyStep: 0, state: 'waiting', pairs, wanted: pairs, mode: 'human', selection: 'active', publishedAt: 1_700_000_000_000, deadline: null, onTimeout: 'stop', ...over };
}

test('a published batch opens in the comparison queue, and the panel’s decisions come back as the person’s', async () => {
  const run = tmpRun();
  const pairs = [pair(1, 0), pair(1, 1), pair(1, 2)];
  publishBatch(run, batch(1, 3), pairs);
  assert.deepEqual(listRounds(run), [1]);
  assert.deepEqual(readRoundPairs(run, 1), pairs);
  // The panel's path: scan the dataset, queue its pairs, record a comparison with the window's writer.
  const scan = await scanJsonl(roundPaths(run, 1).pairs, { shape: 'preference' });
  assert.deepEqual(scan.records.map((r) => [r.id, r.valid]), pairs.map((p) => [p.id, true]));
  const window = FeedbackStore.open({ datasetPath: roundPaths(run, 1).pairs, writerId: 'window-1', annotator: 'ana' });
  const queue = new ComparisonQueue(scan.index, scan, () => window.view(), 'ana', () => 0.7);
  const shown = queue.next();
  assert.ok(shown);
  assert.equal(shown.recordId, 'r1-p0');
  assert.deepEqual(shown.order, ['rejected', 'chosen']);
  window.record({ recordId: shown.recordId, type: 'comparison', payload: { mode: 'pair', order: shown.order, preferred: 'rejected' } });
  window.record({ recordId: 'r1-p1', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: null } });
  assert.deepEqual(waitingBatches(run).map((w) => [w.round, w.pairs, w.labeled, w.waiting]), [[1, 3, 2, 1]]);
  // The session reads them as its own writer; an AI label on the third pair is the judge's, not the person's.
  const session = openRoundLabels(run, 1, 'session');
  session.record({ recordId: 'r1-p2', type: 'comparison', source: 'ai:judge', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' } });
  session.record({ recordId: 'r1-p2', type: 'comparison', source: SIMULATED_LABELER_SOURCE, annotator: 'sim', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'rejected' } });
  const d = roundDecisions(session.view(), pairs);
  assert.deepEqual([...d.person.values()].map((x) => [x.recordId, x.preferred]), [['r1-p0', 'rejected'], ['r1-p1', null], ['r1-p2', 'rejected']]);
  assert.deepEqual([...d.ai.values()].map((x) => [x.recordId, x.preferred, x.source]), [['r1-p2', 'chosen', 'ai:judge']]);
  // Undo in the panel retracts the decision: it is no longer current.
  window.undo();
  session.refresh();
  assert.deepEqual([...roundDecisions(session.view(), pairs).person.keys()], ['r1-p0', 'r1-p2']);
  window.close();
  session.close();
  // Closing keeps pairs and labels; the batch no longer counts as waiting.
  const closed = closeBatch(run, 1, { at: 1_700_000_100_000, reason: 'labeled', human: 2, ai: 0, unlabeled: 1, message: 'two of three labeled' });
  assert.equal(closed.state, 'closed');
  assert.deepEqual(readBatch(run, 1), closed);
  assert.deepEqual(waitingBatches(run), []);
});

test('a published batch is never replaced, and an invalid one is never written', () => {
  const run = tmpRun();
  publishBatch(run, batch(1, 1), [pair(1, 0)]);
  assert.throws(() => publishBatch(run, batch(1, 1), [pair(1, 0)]), /round 1 is already published/);
  assert.throws(() => publishBatch(run, batch(2, 2, { wanted: 3 }), [pair(2, 0), pair(2, 1)]), /batch.wanted: 3 is more than the batch's 2 pairs/);
  assert.throws(() => publishBatch(run, batch(2, 1), [pair(2, 1)]), /pairs\[0\]\.id: expected "r2-p0"/);
  assert.equal(fs.existsSync(roundPaths(run, 2).dir), false);
});

test('a bad batch.json or pairs line is a UserError naming the file, line and field', () => {
  const run = tmpRun();
  publishBatch(run, batch(1, 2), [pair(1, 0), pair(1, 1)]);
  const p = roundPaths(run, 1);
  fs.writeFileSync(p.batch, JSON.stringify({ ...batch(1, 2), state: 'done' }));
  assert.throws(() => readBatch(run, 1), (e: unknown) => e instanceof UserError && e.message === `${p.batch}: batch.state: expected one of "waiting", "closed"`);
  fs.writeFileSync(p.batch, JSON.stringify({ ...batch(1, 2), v: 2 }));
  assert.throws(() => readBatch(run, 1), /batch\.v: written by a newer version/);
  fs.writeFileSync(p.pairs, JSON.stringify(pair(1, 0)) + '\n' + JSON.stringify({ ...pair(1, 1), chosen: 3 }) + '\n');
  assert.throws(() => readRoundPairs(run, 1), (e: unknown) => e instanceof UserError && e.message === `${p.pairs}:2: pair.chosen: expected an array`);
  fs.writeFileSync(p.pairs, JSON.stringify({ ...pair(1, 0), rejected: [{ role: 'user', content: 'b' }] }) + '\n');
  assert.throws(() => readRoundPairs(run, 1), (e: unknown) => e instanceof UserError && e.message === `${p.pairs}:1: pair.rejected[0].role: expected one of "assistant"`);
  fs.writeFileSync(p.pairs, JSON.stringify({ ...pair(1, 0), rejected: [] }) + '\n');
  assert.throws(() => readRoundPairs(run, 1), (e: unknown) => e instanceof UserError && e.message === `${p.pairs}:1: pair.rejected: expected one assistant message`);
  fs.writeFileSync(p.pairs, JSON.stringify(pair(1, 0)) + '\n{"id": "r1-');
  assert.throws(() => readRoundPairs(run, 1), new RegExp(`^UserError: ${p.pairs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not valid JSON`));
});

test('a human-dpo spec needs no reward functions unless a hyperparameter hands pairs to the judge', () => {
  const base = { method: 'human-dpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, outputDir: 'o' };
  const plain = resolveRunSpec(base);
  assert.ok(plain.ok && plain.spec.rewards === undefined);
  // The launch form sends an empty list when no function is ticked.
  const empty = resolveRunSpec({ ...base, rewards: { functions: [] } });
  assert.ok(empty.ok && empty.spec.rewards === undefined);
  const mixed = resolveRunSpec({ ...base, hyperparameters: { feedback_mode: 'judge-audit', on_timeout: 'judge' } });
  assert.ok(!mixed.ok);
  assert.deepEqual(mixed.problems.map((p) => p.path), ['hyperparameters.feedback_mode', 'hyperparameters.on_timeout']);
  const judged = resolveRunSpec({ ...base, hyperparameters: { feedback_mode: 'judge-audit' }, rewards: { functions: [{ kind: 'regex', pattern: 'x' }] } });
  assert.ok(judged.ok);
});

test('a round exports like any labeled dataset: the person’s choice becomes chosen', async () => {
  const run = tmpRun();
  publishBatch(run, batch(1, 2), [pair(1, 0), pair(1, 1)]);
  const window = FeedbackStore.open({ datasetPath: roundPaths(run, 1).pairs, writerId: 'window-1', annotator: 'ana' });
  window.record({ recordId: 'r1-p0', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'rejected' } });
  const scan = await scanJsonl(roundPaths(run, 1).pairs, { shape: 'preference' });
  const out = path.join(run, 'export.jsonl');
  const report = exportPreference(out, readerFromIndex(scan.index), window.view());
  window.close();
  assert.equal(report.written, 1);
  const row = JSON.parse(fs.readFileSync(out, 'utf8').trim()) as Record<string, unknown>;
  // The candidate the person preferred ("answer b0", stored under `rejected`) is the exported chosen.
  assert.equal(JSON.stringify(row.chosen).includes('answer b0'), true, JSON.stringify(row));
  assert.equal(JSON.stringify(row.rejected).includes('answer a0'), true, JSON.stringify(row));
});

test('pairsFileRound names the run folder and round of a round\'s pairs.jsonl, and nothing else', () => {
  const run = path.join(os.tmpdir(), 'runs', 'r-1');
  assert.deepEqual(pairsFileRound(roundPaths(run, 3).pairs), { runDir: run, round: 3 });
  assert.equal(pairsFileRound(path.join(run, 'rounds', 'round-3', 'other.jsonl')), undefined);
  assert.equal(pairsFileRound(path.join(run, 'rounds', 'round-0', 'pairs.jsonl')), undefined);
  assert.equal(pairsFileRound(path.join(run, 'data', 'round-3', 'pairs.jsonl')), undefined);
  assert.equal(pairsFileRound(path.join(run, 'pairs.jsonl')), undefined);
});
