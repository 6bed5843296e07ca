import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { api, until } from './helpers';
import { RunManager } from '../../../src/host/runs/runManager';
import { WaitingPairs } from '../../../src/host/runs/waitingPairs';
import { closeBatch, openRoundLabels, publishBatch, roundPaths } from '../../../src/core/runs/rounds';
import { roundCandidate, roundPairId, type RoundBatch, type RoundPair } from '../../../src/protocol/humanLoop';

/**
 * The editor's side of runs "with a person" (docs/human-loop.md): the pairs a run's waiting batch holds are
 * counted from disk, fall as labels arrive in the batch's journal, disappear when the session closes the batch,
 * and open in the comparison panel; a second WaitingPairs (a reloaded window) sees the same batch.
 */
describe('Pairs waiting for a person', function () {
  this.timeout(60_000);
  let ws: string;
  let log: vscode.LogOutputChannel;
  const owned: vscode.Disposable[] = [];

  const pair = (round: number, i: number): RoundPair => ({
    id: roundPairId(round, i),
    prompt: [{ role: 'user', content: `问题 ${i}: what is ${i} + ${i}?` }],
    chosen: roundCandidate(`It is ${2 * i}.`),
    rejected: roundCandidate(`Maybe ${2 * i + 1}.`),
    round,
    policy_round: round - 1,
    prompt_id: `q${i}`,
    selection: { method: 'active', score: 0.9 - i / 10, probabilities: { implicit: 0.5 } },
  });
  const batch = (round: number, pairs: number): RoundBatch => ({ v: 1, round, policyRound: round - 1, policyStep: 4, state: 'waiting', pairs, wanted: pairs, mode: 'human', selection: 'active', publishedAt: Date.now(), deadline: null, onTimeout: 'stop' });

  before(async () => {
    await api();
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'as-human-'));
    log = vscode.window.createOutputChannel('Alignment Human Loop (test)', { log: true });
    owned.push(log);
  });
  after(async () => {
    for (const d of owned.reverse()) d.dispose();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(ws, { recursive: true, force: true });
  });

  it('counts a waiting batch, follows labels and closing, survives a reload, and opens the pairs in the panel', async () => {
    const runDir = path.join(ws, '.alignment', 'runs', 'run-human');
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify({ name: 'with a person', method: 'online-dpo', model: { kind: 'builtin' }, data: { path: 'prompts.jsonl' } }));
    publishBatch(runDir, batch(1, 3), [pair(1, 0), pair(1, 1), pair(1, 2)]);
    const manager = new RunManager({ workspaceDir: ws, sessionScript: '/nonexistent/session.js', nodePath: process.execPath, log, pollMs: 200 });
    owned.push(manager);
    const waiting = new WaitingPairs(manager, log);
    owned.push(waiting);
    await until(() => waiting.total() === 3, 10_000, `3 pairs waiting (have ${waiting.total()})`);
    assert.deepEqual(waiting.waiting('run-human').map((b) => [b.round, b.labeled, b.waiting]), [[1, 0, 3]]);

    // A label from any writer (another window, the CLI) counts once it is in the journal.
    const labels = openRoundLabels(runDir, 1, 'other-window', 'ana');
    labels.record({ recordId: 'r1-p1', type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' } });
    labels.close();
    await until(() => waiting.total() === 2, 10_000, `2 pairs waiting (have ${waiting.total()})`);

    // A reloaded window reads the same batch from disk.
    const reloaded = new WaitingPairs(manager, log);
    owned.push(reloaded);
    await until(() => reloaded.total() === 2, 10_000, 'the reloaded window to see 2 pairs waiting');

    // The panel opens on the batch's pairs file.
    assert.equal(await waiting.openOldest('run-human'), true);
    await until(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputWebview && /comparison/i.test(t.input.viewType)), 10_000, 'the comparison panel');

    // A second round published while the first waits adds to the count; closing round 1 removes its pairs.
    publishBatch(runDir, batch(2, 2), [pair(2, 0), pair(2, 1)]);
    await until(() => waiting.total() === 4, 10_000, `4 pairs waiting (have ${waiting.total()})`);
    closeBatch(runDir, 1, { at: Date.now(), reason: 'budget', human: 1, ai: 0, unlabeled: 2, message: 'took the one label there was' });
    await until(() => waiting.total() === 2, 10_000, `2 pairs waiting after round 1 closed (have ${waiting.total()})`);
    assert.deepEqual(waiting.waiting('run-human').map((b) => b.round), [2]);
    assert.ok(fs.existsSync(roundPaths(runDir, 1).pairs), 'a closed batch keeps its pairs');
  });

  it('reports a hand-broken batch.json in the log once, and keeps counting the other runs', async () => {
    const good = path.join(ws, '.alignment', 'runs', 'run-good');
    const bad = path.join(ws, '.alignment', 'runs', 'run-bad');
    for (const d of [good, bad]) {
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'spec.json'), JSON.stringify({ name: path.basename(d), method: 'online-dpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' } }));
    }
    publishBatch(good, batch(1, 1), [pair(1, 0)]);
    publishBatch(bad, batch(1, 1), [pair(1, 0)]);
    fs.writeFileSync(roundPaths(bad, 1).batch, '{"v": 1, "round": 1, "state": "done"}');
    const manager = new RunManager({ workspaceDir: ws, sessionScript: '/nonexistent/session.js', nodePath: process.execPath, log, pollMs: 200 });
    owned.push(manager);
    const waiting = new WaitingPairs(manager, log);
    owned.push(waiting);
    await until(() => waiting.waiting('run-good').length === 1, 10_000, 'the good run to be counted');
    assert.deepEqual(waiting.waiting('run-bad'), []);
  });
});
