import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { promises as fsp } from 'node:fs';
import { spawn } from 'node:child_process';
import { api, EXTENSION_ID, until, workspaceRoot } from './helpers';
import { GENERATED, generatedId } from '../../support/testWorkspaces';
import { downAfter, heuristicJudge, malformed, prefersFirst, rateLimited, startJudgeServer, type JudgeServer } from '../../support/judgeServer';
import type { AiLabelSummary } from '../../../src/host/judges/aiLabel';
import type { JudgeAgreementSummary } from '../../../src/core/judges/judgeRecords';

/** Every current comparison entry of the dataset, as plain data (id, source, record, preferred). */
async function comparisons(file: string): Promise<{ id: string; source: string; recordId: string; preferred: string | null }[]> {
  const { labels } = await api();
  const store = labels.get(file);
  store.refresh();
  return [...store.view().allOfType('comparison')].map((e) => ({ id: e.id, source: e.source, recordId: e.recordId, preferred: e.payload.mode === 'pair' ? e.payload.preferred : null }));
}

describe('AI judges', function () {
  this.timeout(60_000);
  let file: string;
  let server: JudgeServer | undefined;
  const cfg = () => vscode.workspace.getConfiguration('alignment');
  const aiLabel = (preset: Record<string, unknown> = {}) =>
    vscode.commands.executeCommand<AiLabelSummary | undefined>('alignment.aiLabelDataset', vscode.Uri.file(file), { maxRetries: 1, timeoutMs: 10_000, maxConsecutiveFailures: 2, ...preset });
  const useServer = async (s: JudgeServer, model: string) => {
    server = s;
    await cfg().update('judge.baseUrl', s.baseUrl, vscode.ConfigurationTarget.Workspace);
    await cfg().update('judge.model', model, vscode.ConfigurationTarget.Workspace);
  };

  before(async () => {
    await api();
    // 20 generated pairs, copied so other suites see the original untouched.
    const src = await fsp.readFile(path.join(workspaceRoot().fsPath, 'data', GENERATED.pairs), 'utf8');
    file = path.join(workspaceRoot().fsPath, 'judges', 'pairs20.jsonl');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, src.split('\n').filter((l) => l.trim()).slice(0, 20).join('\n') + '\n');
    await cfg().update('judge.concurrency', 2, vscode.ConfigurationTarget.Workspace);
    await cfg().update('judge.mode', 'pairwise', vscode.ConfigurationTarget.Workspace);
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  after(async () => {
    for (const k of ['judge.baseUrl', 'judge.model', 'judge.concurrency', 'judge.mode']) await cfg().update(k, undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('labels every pair exactly once across a server that goes down mid-run, without touching human labels', async () => {
    const { labels } = await api();
    const store = labels.get(file);
    // Three human decisions first; the judge must leave them exactly as they are.
    for (const [recordId, preferred] of [[generatedId(0), 'chosen'], [generatedId(1), 'rejected'], [generatedId(2), 'chosen']] as const) {
      store.record({ recordId, type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred }, source: 'human', annotator: 'tester', seconds: 2 });
    }
    labels.notify(file);
    const humansBefore = (await comparisons(file)).filter((e) => e.source === 'human');
    assert.equal(humansBefore.length, 3);

    // The server answers 16 requests (8 pairs, both orders) and then shuts down.
    await useServer(await startJudgeServer({ behaviour: downAfter(16), lifetimeMs: 110_000 }), 'test-judge');
    const first = await aiLabel();
    assert.ok(first, 'the command returned no summary');
    assert.equal(first.status, 'stopped', JSON.stringify(first));
    assert.equal(first.source, 'ai:test-judge');
    assert.ok(first.labeled >= 6 && first.labeled <= 8, `labeled ${first.labeled} before the server went down`);
    assert.ok((first.errorsByKind['network'] ?? 0) >= 1, JSON.stringify(first.errorsByKind));
    const afterDown = (await comparisons(file)).filter((e) => e.source === 'ai:test-judge');
    assert.equal(afterDown.length, first.labeled, 'failed pairs must not be written');

    // A new server (another port): the rerun does only what is left.
    await server?.stop();
    await useServer(await startJudgeServer({ behaviour: heuristicJudge(), lifetimeMs: 110_000 }), 'test-judge');
    const second = await aiLabel();
    assert.ok(second);
    assert.equal(second.status, 'completed', JSON.stringify(second));
    assert.equal(second.skipped, first.labeled);
    assert.equal(second.labeled, 20 - first.labeled);
    assert.equal(second.failed, 0);

    const all = await comparisons(file);
    const ai = all.filter((e) => e.source === 'ai:test-judge');
    assert.equal(ai.length, 20, 'exactly one AI label per pair');
    assert.equal(new Set(ai.map((e) => e.recordId)).size, 20, 'no pair labeled twice');
    assert.deepEqual(all.filter((e) => e.source === 'human'), humansBefore, 'human labels untouched');

    // A third run has nothing to do.
    const third = await aiLabel();
    assert.equal(third?.labeled, 0);
    assert.equal(third?.skipped, 20);
  });

  it('records unparseable answers as judge errors, never as labels', async () => {
    await useServer(await startJudgeServer({ behaviour: malformed(), lifetimeMs: 110_000 }), 'rambler');
    const r = await aiLabel({ limit: 3 });
    assert.ok(r);
    assert.equal(r.failed, 3);
    assert.equal(r.labeled, 0);
    assert.equal(r.errorsByKind['unparseable'], 3);
    assert.equal((await comparisons(file)).filter((e) => e.source === 'ai:rambler').length, 0);
  });

  it('waits out 429 with retry-after and labels', async () => {
    await useServer(await startJudgeServer({ behaviour: rateLimited(2, '1'), lifetimeMs: 110_000 }), 'throttled');
    const r = await aiLabel({ limit: 2, maxRetries: 3 });
    assert.equal(r?.labeled, 2, JSON.stringify(r));
    assert.equal(r?.failed, 0);
  });

  it('reports agreement with people, consistency across orders and a 100% position-bias rate for a first-position judge', async () => {
    await useServer(await startJudgeServer({ behaviour: prefersFirst(), lifetimeMs: 110_000 }), 'biased');
    const r = await aiLabel({ limit: 5 });
    assert.equal(r?.labeled, 5);
    const biasedLabels = (await comparisons(file)).filter((e) => e.source === 'ai:biased');
    assert.ok(biasedLabels.every((e) => e.preferred === null), 'a judge that follows the position ends in ties');

    const out = await vscode.commands.executeCommand<{ markdown: string; judges: JudgeAgreementSummary[] }>('alignment.showJudgeAgreement', vscode.Uri.file(file), { show: false });
    assert.ok(out);
    const biased = out.judges.find((j) => j.source === 'ai:biased');
    assert.ok(biased);
    assert.equal(biased.consistency.n, 5);
    assert.equal(biased.consistency.positionBiasRate, 1);
    assert.equal(biased.consistency.tieRate, 1);
    const good = out.judges.find((j) => j.source === 'ai:test-judge');
    assert.ok(good);
    assert.equal(good.labels, 20);
    assert.equal(good.consistency.n, 20);
    assert.equal(good.vsHuman.n, 3, 'three pairs have human labels');
    assert.ok(good.vsHuman.accuracy !== null);
    assert.match(out.markdown, /## AI judges/);
    assert.match(out.markdown, /ai:biased \| 5 \|/);
    assert.match(out.markdown, /100\.0%/);

    // The label statistics report carries the same section.
    const stats = await vscode.commands.executeCommand<string>('alignment.showLabelStats', vscode.Uri.file(file));
    assert.match(stats, /## AI judges/);
    // Shown read-only: a virtual document with the report, no untitled file that asks to be saved on close.
    const report = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'alignment-report' && d.uri.path.includes('Label statistics'));
    assert.ok(report, vscode.workspace.textDocuments.map((d) => d.uri.toString()).join(', '));
    assert.equal(report.getText(), stats);
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.isUntitled), 'no untitled document');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens the reward-model evaluation with a distance matrix across scores files', async () => {
    const dir = path.join(workspaceRoot().fsPath, 'judges');
    const rows = Array.from({ length: 12 }, (_, i) => ({ id: `p${i}`, section: i % 2 ? 'chat' : 'safety', chosen_reward: 1 + (i % 5), rejected_reward: (i * 7) % 4, chosen_length: 100 + i, rejected_length: 80 + 3 * i }));
    const a = path.join(dir, 'rm-a.scores.jsonl');
    const b = path.join(dir, 'rm-b.scores.jsonl');
    await fsp.writeFile(a, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    // b = 3a + per-pair shift: EPIC distance 0 to a.
    await fsp.writeFile(b, rows.map((r, i) => JSON.stringify({ ...r, chosen_reward: 3 * r.chosen_reward + i, rejected_reward: 3 * r.rejected_reward + i })).join('\n') + '\n');
    // Scores files are not datasets: the Datasets view leaves them out wherever they are saved.
    const { datasets } = await api();
    datasets.refresh();
    const listed = (await datasets.datasets()).map((d) => d.uri.fsPath);
    assert.ok(listed.includes(file), 'the Datasets view lists the judged dataset');
    assert.deepEqual(listed.filter((f) => f.endsWith('.scores.jsonl')), [], 'no scores file is listed as a dataset');
    const shown = await vscode.commands.executeCommand<vscode.Uri>('alignment.evaluateRewardModel', undefined, { scores: [a, b] });
    assert.equal(shown?.fsPath, a);
    const tab = await until(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label.startsWith('Evaluation: rm-a')), 15_000, 'the evaluation panel tab');
    assert.ok(tab.input instanceof vscode.TabInputWebview, 'the evaluation panel is a webview');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  it('labels pairs with a reward model from a short reward run, scored in a child process, without touching human labels', async function () {
    this.timeout(420_000);
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const cli = path.join(ext.extensionPath, 'dist', 'cli.js');
    assert.ok(fs.existsSync(cli), `${cli} is missing: run npm run build first`);
    // A tiny reward model: 2 steps of reward training on the built-in model with the extension's sample pairs.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'as-rm-judge-'));
    try {
      const runDir = path.join(tmp, 'run');
      const sample = path.join(ext.extensionPath, 'media', 'samples', 'preferences.sample.jsonl');
      const train = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [cli, 'train', '--method', 'reward', '--data', sample, '--model', 'builtin', '--steps', '2', '--batch-size', '2', '--max-length', '64', '--run-dir', runDir, '--json'], {
          env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(train.code, 0, `the reward run failed: ${train.stderr}`);
      assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')), 'the run saved final/');

      // Six generated pairs; a person labels one of them first.
      const src = await fsp.readFile(path.join(workspaceRoot().fsPath, 'data', GENERATED.pairs), 'utf8');
      const rmFile = path.join(workspaceRoot().fsPath, 'judges', 'rm-pairs.jsonl');
      await fsp.writeFile(rmFile, src.split('\n').filter((l) => l.trim()).slice(0, 6).join('\n') + '\n');
      const { labels } = await api();
      labels.get(rmFile).record({ recordId: generatedId(1), type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' }, source: 'human', annotator: 'tester', seconds: 3 });
      labels.notify(rmFile);
      const humansBefore = (await comparisons(rmFile)).filter((e) => e.source === 'human');
      assert.equal(humansBefore.length, 1);

      const label = (preset: Record<string, unknown>) => vscode.commands.executeCommand<AiLabelSummary | undefined>('alignment.aiLabelDataset', vscode.Uri.file(rmFile), preset);
      const r = await label({ judge: 'reward-model', rewardModel: runDir, rewardModelName: 'tiny-rm' });
      assert.ok(r, 'the command returned no summary');
      assert.equal(r.status, 'completed', JSON.stringify(r));
      assert.equal(r.source, 'ai:rm:tiny-rm');
      assert.equal(r.labeled, 6);
      assert.equal(r.failed, 0);

      const all = await comparisons(rmFile);
      const ai = all.filter((e) => e.source === 'ai:rm:tiny-rm');
      assert.equal(ai.length, 6, 'one reward-model label per pair');
      assert.deepEqual(new Set(ai.map((e) => e.recordId)), new Set([0, 1, 2, 3, 4, 5].map(generatedId)));
      assert.ok(ai.every((e) => e.preferred === 'chosen' || e.preferred === 'rejected' || e.preferred === null));
      assert.deepEqual(all.filter((e) => e.source === 'human'), humansBefore, 'the human label is unchanged');
      const agreement = await vscode.commands.executeCommand<{ judges: JudgeAgreementSummary[] }>('alignment.showJudgeAgreement', vscode.Uri.file(rmFile), { show: false });
      const rm = agreement?.judges.find((j) => j.source === 'ai:rm:tiny-rm');
      assert.equal(rm?.labels, 6);
      assert.equal(rm?.vsHuman.n, 1, 'compared with the one human label');

      // Again: nothing left to do, and no scoring process is needed.
      const again = await label({ judge: 'reward-model', rewardModel: runDir, rewardModelName: 'tiny-rm' });
      assert.equal(again?.labeled, 0);
      assert.equal(again?.skipped, 6);

      // A folder that is not a model: a clear error, no summary, no labels.
      const empty = path.join(tmp, 'not-a-model');
      fs.mkdirSync(empty);
      assert.equal(await label({ judge: 'reward-model', rewardModel: empty }), undefined);
      assert.equal((await comparisons(rmFile)).filter((e) => e.source === 'ai:rm:not-a-model').length, 0);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
