import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { api, until, workspaceRoot } from './helpers';
import { publishBatch } from '../../../src/core/runs/rounds';
import { roundCandidate, roundPairId, type RoundPair } from '../../../src/protocol/humanLoop';

/**
 * Close All Editors while panels are busy posting to their webviews: the dashboard of a run with a long event log
 * (posted a few MiB at a time) and the comparison panel of one of its rounds. A panel is disposed the moment its
 * editor closes, and any later read of its `webview` throws "Webview is disposed"; the host must drop its late
 * posts (src/host/shared/webviewPost.ts), so no error reaches the extension host. The comparison panel of a round is
 * titled by its round and run. (Whether a close lands mid-post depends on timing, so this is a regression check over
 * several closing moments; test/unit/host/webviewPost.test.ts shows the guard itself on a panel as VS Code has it.)
 */
describe('Closing editors while panels post', function () {
  this.timeout(120_000);
  const runId = 'zz-dispose-race';
  let runDir: string;
  const rejections: string[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason instanceof Error ? `${reason.message}\n${reason.stack ?? ''}` : String(reason));
  };

  before(async () => {
    await api();
    runDir = path.join((await api()).runs.workspaceDir ?? workspaceRoot().fsPath, '.alignment', 'runs', runId);
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify({ name: 'dispose race', method: 'human-dpo', model: { kind: 'builtin' }, data: { path: 'prompts.jsonl' } }));
    // ~5 MiB of metrics: the dashboard posts it 2 MiB at a time, each slice read after an await.
    const lines: string[] = [];
    for (let s = 1; s <= 25_000; s++) lines.push(JSON.stringify({ type: 'metrics', params: { time: 1_700_000_000_000 + s, step: s, epoch: s / 1000, metrics: { loss: 1 / s, 'rewards/margins': Math.log(s), 'human/labels': s % 7, learning_rate: 1e-5, grad_norm: 0.5 + (s % 13) / 10 } } }));
    fs.writeFileSync(path.join(runDir, 'events.jsonl'), lines.join('\n') + '\n');
    const pair = (i: number): RoundPair => ({ id: roundPairId(3, i), prompt: [{ role: 'user', content: `q ${i}` }], chosen: roundCandidate(`a ${i}`), rejected: roundCandidate(`b ${i}`), round: 3, policy_round: 2, prompt_id: `q${i}`, selection: { method: 'active', score: 0.5, probabilities: { implicit: 0.5 } } });
    publishBatch(runDir, { v: 1, round: 3, policyRound: 2, policyStep: 4, state: 'waiting', pairs: 2, wanted: 2, mode: 'human', selection: 'active', publishedAt: Date.now(), deadline: null, onTimeout: 'stop' }, [pair(0), pair(1)]);
    process.on('unhandledRejection', onRejection);
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('closes the dashboard and a round\'s comparison panel mid-post, again and again, with no "Webview is disposed" error', async () => {
    const a = await api();
    // A listing already under way when the folder appeared may not hold it: list again until it does.
    await until(async () => (await a.runs.refresh(), a.runs.get(runId)), 30_000, `the run to be listed (runs: ${a.runs.snapshot().map((r) => r.id).join(', ')}; workspace ${String(a.runs.workspaceDir)})`);
    const pairs = vscode.Uri.file(path.join(runDir, 'rounds', 'round-3', 'pairs.jsonl'));
    const tabs = (): string[] => vscode.window.tabGroups.all.flatMap((g) => g.tabs.map((t) => t.label));
    for (const waitMs of [0, 150, 400, 800, 1200, 2000, 3000]) {
      await vscode.commands.executeCommand('alignment.openDashboard', runId);
      await vscode.commands.executeCommand('alignment.labelPairs', pairs);
      await until(() => tabs().includes('Round 3 · dispose race') && tabs().includes('Run Dashboard'), 10_000, `both panels open (tabs: ${tabs().join(', ')})`);
      await new Promise((r) => setTimeout(r, waitMs));
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await until(() => !a.liveDisposables().DashboardPanel && !a.liveDisposables().ComparisonPanel, 10_000, `the panels to be disposed (${JSON.stringify(a.liveDisposables())})`);
    }
    // Late posts would land after the close: give them time to fail.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(rejections.filter((r) => /disposed/i.test(r)), []);
  });
});
