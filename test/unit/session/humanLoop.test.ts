/**
 * A run with a person (`human-dpo`) on the tiny fixture model, labeled by a scripted labeler that writes to the
 * batches' journals as the comparison panel does: rounds are published, waited on, closed with the labels taken
 * and trained on; the next batch is published while the current one waits; judge-audit records the judge's labels
 * and the agreement; a labeler who walks away gets the timeout behaviour with a message; a judge that fails in
 * mixed mode falls back to waiting for the person, and says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildDatasetIndex, scanIndex } from '../../../src/core/datasets/datasetScan';
import { listRounds, openRoundLabels, readBatch, readRoundPairs, roundDecisions, roundPaths } from '../../../src/core/runs/rounds';
import { events, metricsByStep, promptRows } from './onlineFixtures';
import { humanSpec, runWithLabeler, vowelDecide } from './humanFixtures';
import { workspace } from './sessionFixtures';

test('two rounds with a person: published, labeled through the journal, closed, trained, with the human metrics', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const res = await runWithLabeler(humanSpec(ws, runDir), runDir, vowelDecide);
  assert.equal(res.reason, 'completed', res.error);
  assert.deepEqual(listRounds(runDir), [1, 2]);
  for (const r of [1, 2]) {
    const b = readBatch(runDir, r);
    assert.equal(b.state, 'closed');
    assert.equal(b.pairs, 4);
    // Prefetch: round 2 was sampled while round 1 waited, from the starting policy too.
    assert.equal(b.policyRound, 0);
    assert.equal(b.closed?.reason, 'labeled');
    assert.equal(b.closed?.human, 4);
    const pairs = readRoundPairs(runDir, r);
    assert.ok(pairs.every((p) => p.selection.method === 'active' && typeof p.selection.probabilities.implicit === 'number'));
    // pairs.jsonl is a dataset the comparison panel (and the export) read: every line a valid pair, no diagnostics.
    const scan = await scanIndex(await buildDatasetIndex(roundPaths(runDir, r).pairs));
    assert.deepEqual(scan.diagnostics.map((x) => x.message), []);
    assert.equal(scan.records.filter((x) => x.valid).length, 4);
    const store = openRoundLabels(runDir, r, 'reader');
    const d = roundDecisions(store.view(), pairs);
    store.close();
    assert.equal(d.person.size, 4);
    // used.json took exactly the person's decisive labels.
    const used = JSON.parse(fs.readFileSync(path.join(roundPaths(runDir, r).dir, 'used.json'), 'utf8')) as { labels: { id: string; entryId: string; weight: number }[] };
    const decisive = [...d.person.values()].filter((x) => x.preferred !== null);
    assert.deepEqual(used.labels.map((l) => [l.id, l.entryId, l.weight]), decisive.map((x) => [x.recordId, x.entryId, 1]));
  }
  const byStep = metricsByStep(events(runDir));
  assert.deepEqual([...byStep.keys()], [2, 4]);
  const m = byStep.get(2) as Record<string, number | null>;
  assert.equal(m['human/round'], 1);
  assert.equal(m['human/labels'], 4);
  assert.ok((m['human/labels_trained'] as number) <= 4);
  assert.ok(Number.isFinite(m.loss) && Number.isFinite(m['human/win_rate_vs_previous']), JSON.stringify(m));
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')));
});

test('judge-audit: the judge labels every pair, the person audits a sample and wins; agreement is recorded', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const spec = { ...humanSpec(ws, runDir, { feedback_mode: 'judge-audit', audit_fraction: 0.5, rounds: 1 }), rewards: { functions: [{ kind: 'regex', pattern: '[aeiou]', name: 'vowel' }] } };
  // The person labels only the first two pairs of each batch (the audit asks for 2 of 4).
  const res = await runWithLabeler(spec, runDir, (p) => (/-p[01]$/.test(p.id) ? vowelDecide(p) : undefined));
  assert.equal(res.reason, 'completed', res.error);
  const b = readBatch(runDir, 1);
  assert.equal(b.wanted, 2);
  assert.equal(b.closed?.reason, 'judged');
  const store = openRoundLabels(runDir, 1, 'reader');
  const d = roundDecisions(store.view(), readRoundPairs(runDir, 1));
  store.close();
  assert.equal(d.ai.size, 4);
  assert.ok([...d.ai.values()].every((x) => x.source === 'ai:vowel'));
  const m = [...metricsByStep(events(runDir)).values()][0] as Record<string, number | null>;
  assert.equal(typeof m['human/ai_agreement'], 'number');
  assert.equal(m['human/labels'], d.person.size);
  assert.equal(m['human/labels_trained'], [...d.person.values()].filter((x) => x.preferred !== null).length);
});

test('a labeler who walks away: at the timeout the run trains on what it has and says so', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const res = await runWithLabeler(humanSpec(ws, runDir, { round_timeout_seconds: 0.2, rounds: 1 }), runDir, undefined);
  assert.equal(res.reason, 'completed', res.error);
  assert.equal(readBatch(runDir, 1).closed?.reason, 'timeout');
  const warnings = events(runDir).flatMap((e) => (e.type === 'warning' ? [e.params.message] : []));
  assert.ok(warnings.some((w) => /^round 1: the timeout \(0\.2 s\) passed with 0 of 4 pairs labeled by the person; training on the labeled pairs/.test(w)), warnings.join('\n'));
  assert.ok(warnings.includes('round 1: no labeled pairs to train on; the policy is unchanged'));
});

test('on_timeout "stop" stops with a message, and the run resumes at that round with the labels given', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  const first = await runWithLabeler(humanSpec(ws, runDir, { round_timeout_seconds: 0.2, on_timeout: 'stop', rounds: 1 }), runDir, undefined);
  assert.equal(first.reason, 'stopped');
  assert.ok(events(runDir).some((e) => e.type === 'warning' && /the run stops \(on_timeout "stop"\) and resumes at this round/.test(e.params.message)));
  assert.equal(readBatch(runDir, 1).state, 'waiting');
  const second = await runWithLabeler(humanSpec(ws, runDir, { round_timeout_seconds: 30, on_timeout: 'stop', rounds: 1 }), runDir, vowelDecide);
  assert.equal(second.reason, 'completed', second.error);
  assert.equal(readBatch(runDir, 1).closed?.reason, 'labeled');
});

test('a judge that fails in human-then-judge falls back to waiting for the person, and says so', async () => {
  const ws = workspace(promptRows(6));
  const runDir = path.join(ws.dir, 'run');
  // A judge at a closed port: every call fails (onError "stop" makes it a RewardError).
  const spec = { ...humanSpec(ws, runDir, { feedback_mode: 'human-then-judge', human_labels_per_round: 1, rounds: 1 }), rewards: { functions: [{ kind: 'judge', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', name: 'judge' }], timeoutSeconds: 5 } };
  // The person labels one pair (the budget); once the judge has failed, the rest.
  const judgeFailed = (): boolean => fs.existsSync(path.join(runDir, 'events.jsonl')) && fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').includes('the AI judge failed');
  const res = await runWithLabeler(spec, runDir, (p) => (p.id.endsWith('-p0') || judgeFailed() ? vowelDecide(p) : undefined));
  assert.equal(res.reason, 'completed', res.error);
  const warnings = events(runDir).flatMap((e) => (e.type === 'warning' ? [e.params.message] : []));
  assert.ok(warnings.some((w) => /^round 1: the AI judge failed \(.*\); waiting for the person to label the remaining pairs instead$/.test(w)), warnings.join('\n'));
  assert.equal(readBatch(runDir, 1).closed?.reason, 'labeled');
});
