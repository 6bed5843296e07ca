import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { api, until, workspaceRoot } from './helpers';

describe('Datasets view', () => {
  it('lists the workspace JSONL datasets with their record counts', async () => {
    const { datasets } = await api();
    datasets.refresh();
    const items = await datasets.datasets();
    const byName = new Map(items.map((i) => [String(i.label), String(i.description)]));
    // scripts/e2e.sh copies the 300 real pairs and the 300 KTO examples from ../shared/data into the workspace.
    assert.equal(byName.get('dpo_en_demo.trl.jsonl'), '300 records');
    assert.equal(byName.get('kto_en_demo.trl.jsonl'), '300 records');
    assert.equal(byName.get('dpo_en_demo.sharegpt.json'), '300 records');
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
    const file = vscode.Uri.file(path.join(workspaceRoot().fsPath, 'data', 'dpo_en_demo.trl.jsonl'));
    await vscode.commands.executeCommand('alignment.previewDataset', file);
    await until(() => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'Preview: dpo_en_demo.trl.jsonl'), 10_000, 'the preview tab');
    assert.equal(liveDisposables().DatasetPreviewPanel ?? 0, before + 1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await until(() => (liveDisposables().DatasetPreviewPanel ?? 0) === before, 10_000, 'the panel to be disposed');
  });
});
