import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { GENERATED } from '../../support/testWorkspaces';
import { api, itRealData, until, workspaceRoot } from './helpers';

describe('Datasets view', () => {
  const recordCounts = async (): Promise<Map<string, string>> => {
    const { datasets } = await api();
    datasets.refresh();
    const items = await datasets.datasets();
    return new Map(items.map((i) => [String(i.label), String(i.description)]));
  };

  it('lists the workspace JSONL datasets with their record counts', async () => {
    // the generated pairs, their unpaired (KTO) form and their ShareGPT form (test/support/testWorkspaces.ts)
    const byName = await recordCounts();
    const want = `${GENERATED.records} records`;
    assert.deepEqual([byName.get(GENERATED.pairs), byName.get(GENERATED.unpaired), byName.get(GENERATED.sharegpt)], [want, want, want]);
  });

  itRealData('real data: lists the 300 real pairs and 300 KTO examples, in TRL and ShareGPT files, with their counts', async () => {
    const byName = await recordCounts();
    for (const f of ['dpo_en_demo.trl.jsonl', 'kto_en_demo.trl.jsonl', 'dpo_en_demo.sharegpt.json', 'kto_en_demo.sharegpt.json']) assert.equal(byName.get(f), '300 records', f);
  });

  it('notices a new dataset file and counts it', async () => {
    const { datasets } = await api();
    const file = path.join(workspaceRoot().fsPath, 'fresh', 'new-pairs.jsonl');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, '{"prompt":"a","chosen":"b","rejected":"c"}\n\n{"prompt":"d","chosen":"e","rejected":"f"}\n');
    try {
      await until(async () => (await datasets.datasets()).find((i) => i.label === 'new-pairs.jsonl' && i.description === '2 records'), 15_000, 'the new dataset in the view');
    } finally {
      await fsp.rm(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('creates the sample dataset in the workspace and lists it', async () => {
    const { datasets } = await api();
    const uri = await vscode.commands.executeCommand<vscode.Uri>('alignment.createSampleDataset');
    assert.ok(uri, 'the command returns the sample file');
    const text = await fsp.readFile(uri.fsPath, 'utf8');
    assert.equal(text.trim().split('\n').length, 10);
    await until(async () => (await datasets.datasets()).find((i) => i.label === 'preferences.sample.jsonl' && i.description === '10 records'), 15_000, 'the sample in the view');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('opens a dataset preview panel and disposes everything when it closes', async () => {
    const { liveDisposables } = await api();
    const before = liveDisposables().DatasetPreviewPanel ?? 0;
    const file = vscode.Uri.file(path.join(workspaceRoot().fsPath, 'data', GENERATED.pairs));
    await vscode.commands.executeCommand('alignment.previewDataset', file);
    await until(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === `Preview: ${GENERATED.pairs}`), 10_000, 'the preview tab');
    assert.equal(liveDisposables().DatasetPreviewPanel ?? 0, before + 1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await until(() => (liveDisposables().DatasetPreviewPanel ?? 0) === before, 10_000, 'the panel to be disposed');
  });
});
