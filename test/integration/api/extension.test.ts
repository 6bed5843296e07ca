import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import { api, EXTENSION_ID, until } from './helpers';

describe('Alignment Studio extension', () => {
  it('activates in the real extension host and declares its manifest', async () => {
    await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext?.isActive);
    const pkg = ext.packageJSON as { name: string; engines: { vscode: string }; capabilities: { untrustedWorkspaces: { supported: unknown } } };
    assert.equal(pkg.name, 'alignment-studio');
    assert.equal(pkg.engines.vscode, '^1.100.0');
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  });

  it('registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    const contributed = (ext?.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  it('its tree views have data: Datasets lists the workspace files, Models the built-in model', async () => {
    const { datasets, models } = await api();
    assert.ok((await datasets.getChildren()).length > 0, 'the Datasets view is empty in a workspace with datasets');
    const labels = (await models.getChildren()).map((n) => String(models.getTreeItem(n).label));
    assert.ok(labels.some((l) => l.includes('Built-in tiny model')), `Models view items: ${labels.join(', ')}`);
  });

  it('logs its activation without errors and shows the log in the Output panel on demand', async () => {
    await vscode.commands.executeCommand('alignment.showLog');
    // The Output panel's text model reaches the extension host as a document of scheme `output`.
    const doc = await until(
      () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'output' && d.getText().includes('Alignment Studio activated')),
      15_000,
      'the Alignment Studio log in the Output panel',
    );
    const errors = doc.getText().split('\n').filter((l) => /\[error\]/.test(l));
    assert.deepEqual(errors, [], 'the log has error lines');
  });
});
