import * as vscode from 'vscode';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { api, EXTENSION_ID } from './helpers';
import { startHubServer, type HubServer } from '../../support/hubServer';
import { makeZip, startNugetServer, type NugetServer } from '../../support/nugetServer';
import { CUDA_PROVIDER_LIBS, GPU_PACKAGE, packageDirOf } from '../../../src/core/download/gpuRuntime';

/**
 * Alignment: Download Model… in the editor, against a loopback server that answers like the Hub: the model lands
 * in global storage, verified, and the Models view lists it by repo id; a missing repo is an error message, not a
 * stack trace, and leaves nothing listed.
 */
describe('Download Model', function () {
  this.timeout(60_000);
  let hub: HubServer;
  const weights = crypto.randomBytes(200_000);
  const cfg = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('alignment');

  before(async () => {
    await api();
    hub = await startHubServer({
      'org/tiny-chat': { files: { 'config.json': JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 8, num_hidden_layers: 1, vocab_size: 16 }), 'tokenizer.json': '{}', 'model.safetensors': weights }, drop: { 'model.safetensors': { after: 50_000, times: 1 } } },
    });
    await cfg().update('hub.endpoint', hub.endpoint, vscode.ConfigurationTarget.Global);
  });
  after(async () => {
    await cfg().update('hub.endpoint', undefined, vscode.ConfigurationTarget.Global);
    await hub.close();
  });

  it('downloads a model (resuming a dropped connection) into global storage, and the Models view lists it', async () => {
    const dir = await vscode.commands.executeCommand<string | undefined>('alignment.downloadModel', 'org/tiny-chat');
    assert.ok(dir, 'the command returns the model folder');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'model.safetensors')), weights);
    assert.ok(hub.log.some((l) => l.endsWith('bytes=50000-')), 'the dropped transfer resumed with a Range request');
    const a = await api();
    const roots = await a.models.getChildren();
    const item = roots.find((r) => r.label === 'org/tiny-chat');
    assert.ok(item, `Models view rows: ${roots.map((r) => String(r.label)).join(', ')}`);
    assert.match(String(item.description), /llama.*downloaded/);
  });

  it('a repo the Hub does not have gives an error, and nothing is listed for it', async () => {
    const dir = await vscode.commands.executeCommand<string | undefined>('alignment.downloadModel', 'org/missing');
    assert.equal(dir, undefined);
    const roots = await (await api()).models.getChildren();
    assert.ok(!roots.some((r) => r.label === 'org/missing'));
  });
});

/**
 * Alignment: Install GPU Support in the editor, against a loopback server that answers like NuGet: the CUDA
 * provider is installed beside a copy of the extension's onnxruntime-node in global storage, and sessions get the
 * environment that loads that copy.
 */
describe('Install GPU Support', function () {
  this.timeout(120_000);
  let nuget: NugetServer;
  const cfg = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('alignment');

  before(async () => {
    await api();
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    const ortDir = packageDirOf('onnxruntime-node', ext.extensionPath);
    const version = (JSON.parse(fs.readFileSync(path.join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
    const nupkg = makeZip(Object.fromEntries(CUDA_PROVIDER_LIBS.map((l) => [`runtimes/linux-x64/native/${l}`, crypto.randomBytes(30_000)])));
    nuget = await startNugetServer({ id: GPU_PACKAGE, version, nupkg, drop: { after: 20_000, times: 1 } });
    await cfg().update('gpu.nugetIndex', nuget.index, vscode.ConfigurationTarget.Global);
  });
  after(async () => {
    await cfg().update('gpu.nugetIndex', undefined, vscode.ConfigurationTarget.Global);
    await nuget.close();
  });

  it('installs the CUDA provider beside a copy of onnxruntime-node in global storage', async () => {
    const ortModule = await vscode.commands.executeCommand<string | undefined>('alignment.installGpuSupport');
    assert.ok(ortModule, 'the command returns the onnxruntime-node copy sessions load');
    assert.ok(ortModule.startsWith(path.dirname(path.dirname(ortModule))) && fs.existsSync(path.join(ortModule, 'package.json')));
    for (const l of CUDA_PROVIDER_LIBS) assert.ok(fs.existsSync(path.join(ortModule, 'bin', 'napi-v6', 'linux', 'x64', l)), l);
    assert.ok(nuget.log.some((l) => l.endsWith('bytes=20000-')), 'the dropped download resumed');
  });
});
