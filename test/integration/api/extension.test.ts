import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import { api, EXTENSION_ID } from './helpers';

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

  it('writes to its log without errors and shows it on demand', async () => {
    await vscode.commands.executeCommand('alignment.showLog');
  });
});
