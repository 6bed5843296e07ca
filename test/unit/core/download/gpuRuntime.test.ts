/**
 * Install GPU Support (src/core/download/gpuRuntime.ts) against a loopback server that answers like NuGet's v3
 * API: the package is found through the service index, registration and catalog, downloaded (resuming a dropped
 * connection), checked against the catalog's SHA-512, and its CUDA provider libraries installed beside a copy of
 * the running onnxruntime-node. A session pointed at the copy (ALIGNMENT_ORT_MODULE) runs on the CPU from it and
 * looks for the CUDA provider in the copy's folder. A corrupt download or a missing version is a plain error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CUDA_PROVIDER_LIBS, GPU_MARKER, GPU_PACKAGE, installedGpuRuntime, installGpuRuntime, packageDirOf } from '../../../../src/core/download/gpuRuntime';
import { ORT_MODULE_ENV } from '../../../../src/util/ortModule';
import { UserError } from '../../../../src/util/errors';
import { makeZip, startNugetServer } from '../../../support/nugetServer';

const ortDir = packageDirOf('onnxruntime-node');
const commonDir = packageDirOf('onnxruntime-common', ortDir);
const version = (JSON.parse(fs.readFileSync(path.join(ortDir, 'package.json'), 'utf8')) as { version: string }).version;
// Stand-ins for the provider libraries (not loadable: this machine has no GPU to load real ones on).
const fakeBytes = new Map(CUDA_PROVIDER_LIBS.map((l) => [l, Buffer.concat([Buffer.from(`not really ${l}\n`), crypto.randomBytes(20_000)])]));
const fakeLib = (name: string): Buffer => fakeBytes.get(name as (typeof CUDA_PROVIDER_LIBS)[number]) as Buffer;
const nupkg = makeZip({
  [`${GPU_PACKAGE}.nuspec`]: Buffer.from('<package/>'),
  ...Object.fromEntries(CUDA_PROVIDER_LIBS.map((l) => [`runtimes/linux-x64/native/${l}`, fakeLib(l)])),
});
const noWait = async (): Promise<void> => {};
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-'));

test('installs the CUDA provider beside a copy of onnxruntime-node, and a session loads the copy', async () => {
  const nuget = await startNugetServer({ id: GPU_PACKAGE, version, nupkg, drop: { after: 4000, times: 1 } });
  try {
    const dest = tmp();
    const stages: string[] = [];
    const rt = await installGpuRuntime({ ortPackageDir: ortDir, ortCommonDir: commonDir, dest, nugetIndex: nuget.index, sleep: noWait, onProgress: (p) => stages.push(p.stage) });
    assert.equal(rt.version, version);
    assert.deepEqual(installedGpuRuntime(dest, version), rt);
    assert.equal(installedGpuRuntime(dest, '0.0.1'), undefined, 'another onnxruntime version needs its own provider');
    const bin = path.join(rt.ortModule, 'bin', 'napi-v6', 'linux', 'x64');
    for (const l of CUDA_PROVIDER_LIBS) assert.deepEqual(fs.readFileSync(path.join(bin, l)), fakeLib(l));
    assert.ok(fs.existsSync(path.join(bin, 'onnxruntime_binding.node')));
    assert.ok(nuget.log.some((l) => /\.nupkg bytes=4000-$/.test(l)), `the dropped download resumed:\n${nuget.log.join('\n')}`);
    assert.ok(stages.includes('Installing'));
    assert.equal(fs.existsSync(path.join(dest, 'download')), false, 'the package is deleted once installed');

    // The engine loads the copy: the CPU runs from it, and CUDA is looked for beside it.
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'devices', '--json'], { encoding: 'utf8', env: { ...process.env, [ORT_MODULE_ENV]: rt.ortModule, ALIGNMENT_ORT_LOG: 'error' } });
    const report = JSON.parse(r.stdout) as { params: { devices: { device: string; available: boolean; reason?: string }[] } };
    const byDevice = new Map(report.params.devices.map((d) => [d.device, d]));
    assert.equal(byDevice.get('cpu')?.available, true);
    assert.equal(byDevice.get('cuda')?.available, false);
    assert.ok(r.stderr.includes(bin), `onnxruntime looked for the provider in ${bin}:\n${r.stderr.slice(0, 2000)}`);
  } finally {
    await nuget.close();
  }
});

test('a corrupt download fails its SHA-512 check and installs nothing', async () => {
  const nuget = await startNugetServer({ id: GPU_PACKAGE, version, nupkg, corrupt: true });
  try {
    const dest = tmp();
    await assert.rejects(installGpuRuntime({ ortPackageDir: ortDir, ortCommonDir: commonDir, dest, nugetIndex: nuget.index, sleep: noWait }), (e: unknown) => e instanceof UserError && /checksum mismatch \(sha512 [0-9a-f]{128}, expected [0-9a-f]{128}\)/.test(e.message));
    assert.equal(fs.existsSync(path.join(dest, GPU_MARKER)), false);
    assert.equal(fs.existsSync(path.join(dest, 'node_modules')), false);
  } finally {
    await nuget.close();
  }
});

test('a version NuGet lacks, a connection that keeps dropping and another platform each say what happened', async () => {
  const other = await startNugetServer({ id: GPU_PACKAGE, version: '0.0.1', nupkg });
  const flaky = await startNugetServer({ id: GPU_PACKAGE, version, nupkg, drop: { after: 1000, times: 10 } });
  try {
    await assert.rejects(installGpuRuntime({ ortPackageDir: ortDir, ortCommonDir: commonDir, dest: tmp(), nugetIndex: other.index }), new RegExp(`NuGet has no ${GPU_PACKAGE.replace(/\./g, '\\.')} for this onnxruntime version`));
    await assert.rejects(installGpuRuntime({ ortPackageDir: ortDir, ortCommonDir: commonDir, dest: tmp(), nugetIndex: flaky.index, sleep: noWait, maxRetries: 2 }), /failed after 3 tries.*run the download again to resume/i);
    await assert.rejects(installGpuRuntime({ ortPackageDir: ortDir, ortCommonDir: commonDir, dest: tmp(), platform: 'darwin/arm64' }), /Linux x64 only.*darwin\/arm64/);
  } finally {
    await other.close();
    await flaky.close();
  }
});
