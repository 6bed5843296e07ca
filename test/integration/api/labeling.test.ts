import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { GENERATED, generatedId } from '../../support/testWorkspaces';
import { api, until, workspaceRoot } from './helpers';

interface LensArg { file: string; recordId: string; line: number; candidates: string[] }

describe('Inline labeling', () => {
  let file: string;

  before(async () => {
    await api();
    // A copy of the generated pairs, so the other suites see the original untouched.
    file = path.join(workspaceRoot().fsPath, 'labeling', 'pairs.jsonl');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.copyFile(path.join(workspaceRoot().fsPath, 'data', GENERATED.pairs), file);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('shows CodeLens actions on every record and records decisions without touching the dataset', async () => {
    const before = await fsp.readFile(file, 'utf8');
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    const lenses = await until(async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 300);
      return l.length > 0 ? l : undefined;
    }, 20_000, 'CodeLens on the dataset');
    const titles = new Set(lenses.map((l) => l.command?.title));
    for (const t of ['A better', 'B better', 'Tie', 'Skip', 'Rate', 'Critique', 'Flag']) assert.ok(titles.has(t), `missing lens ${t}`);
    // Line 1 also carries the lens that turns labeling mode (the labeling keys) on, first.
    const mode = lenses.filter((l) => l.command?.command === 'alignment.toggleLabelingMode');
    assert.deepEqual(mode.map((l) => [l.range.start.line, l.command?.arguments]), [[0, [true]]]);
    const onLine1 = lenses.filter((l) => l.range.start.line === 0 && l !== mode[0]).map((l) => l.command?.title);
    assert.deepEqual(onLine1, ['A better', 'B better', 'Tie', 'Skip', 'Rate', 'Critique', 'Flag']);

    const aLens = lenses.find((l) => l.range.start.line === 0 && l.command?.title === 'A better');
    const bLens = lenses.find((l) => l.range.start.line === 1 && l.command?.title === 'B better');
    await vscode.commands.executeCommand('alignment.labelA', ...(aLens?.command?.arguments ?? []));
    await vscode.commands.executeCommand('alignment.labelB', ...(bLens?.command?.arguments ?? []));

    const { labels } = await api();
    const view = labels.get(file).view();
    const a = (aLens?.command?.arguments?.[0] as LensArg).recordId;
    const b = (bLens?.command?.arguments?.[0] as LensArg).recordId;
    assert.equal(a, generatedId(0));
    const ea = view.current(a).find((e) => e.type === 'comparison');
    const eb = view.current(b).find((e) => e.type === 'comparison');
    assert.ok(ea && ea.type === 'comparison' && ea.payload.mode === 'pair');
    assert.equal(ea.payload.preferred, 'chosen');
    assert.ok(eb && eb.type === 'comparison' && eb.payload.mode === 'pair');
    assert.equal(eb.payload.preferred, 'rejected');
    assert.equal(ea.source, 'human');
    // the lens row now starts with the label state
    const after = await until(async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 300);
      return l.find((x) => x.range.start.line === 0 && x.command?.title.startsWith('✓ A better'));
    }, 10_000, 'the label state lens');
    assert.ok(after);
    assert.equal(await fsp.readFile(file, 'utf8'), before, 'the dataset file must never be modified');
  });

  it('undo retracts the last decision, and export writes the labeled pairs in TRL format', async () => {
    const { labels } = await api();
    await vscode.commands.executeCommand('alignment.undoLabel', { file });
    const view = labels.get(file).view();
    assert.equal(view.current(generatedId(1)).filter((e) => e.type === 'comparison').length, 0, 'B on record 2 was undone');
    const out = path.join(path.dirname(file), 'exported.dpo.jsonl');
    const report = await vscode.commands.executeCommand<{ written: number }>('alignment.exportLabels', vscode.Uri.file(file), { format: 'preference', ties: 'drop', flagged: 'drop', out });
    assert.equal(report.written, 1);
    const rows = (await fsp.readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const source = JSON.parse((await fsp.readFile(file, 'utf8')).split('\n')[0]) as Record<string, unknown>;
    assert.deepEqual(rows[0].chosen, source.chosen);
    assert.deepEqual(rows[0].rejected, source.rejected);
    assert.deepEqual(rows[0].prompt, source.prompt);
  });

  it('reports malformed lines in the Problems panel with their line numbers', async () => {
    const bad = path.join(workspaceRoot().fsPath, 'labeling', 'bad.jsonl');
    await fsp.writeFile(bad, ['{"prompt":"p","chosen":"c","rejected":"r"}', 'not json at all', '{"prompt":"p","chosen":"c"}', '{"id":"x","prompt":"p","chosen":"c","rejected":"r"}', '{"id":"x","prompt":"q","chosen":"c","rejected":"r"}'].join('\n') + '\n');
    await vscode.window.showTextDocument(vscode.Uri.file(bad));
    const diags = await until(() => {
      const d = vscode.languages.getDiagnostics(vscode.Uri.file(bad));
      return d.length >= 3 ? d : undefined;
    }, 15_000, 'diagnostics for bad.jsonl');
    const byLine = new Map(diags.map((d) => [d.range.start.line + 1, d.message]));
    assert.match(byLine.get(2) ?? '', /JSON/i);
    assert.match(byLine.get(3) ?? '', /rejected/);
    assert.match(byLine.get(5) ?? '', /duplicate/i);
  });
});
