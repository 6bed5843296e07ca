/**
 * Probing the devices writes nothing to stderr: a provider whose native code logs on its own (Dawn, behind
 * webgpu, prints a Vulkan warning with a C++ source path on a machine without Vulkan) is probed in a child process
 * whose output is captured. Run in a separate process, since native writes bypass process.stderr.write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const devices = path.resolve(__dirname, '../../../../src/engine/runtime/devices.ts');

test('probing every device prints nothing on stderr, and each unavailable one still has its reason', () => {
  const script = `require(${JSON.stringify(devices)}).probeDevices().then((p) => process.stdout.write(JSON.stringify(p)))`;
  const env = { ...process.env };
  delete env['ALIGNMENT_ORT_LOG'];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', env, timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const probes = JSON.parse(r.stdout) as { device: string; available: boolean; reason?: string }[];
  assert.deepEqual(probes.map((p) => p.device), ['cpu', 'cuda', 'webgpu']);
  assert.equal(probes[0]?.available, true);
  for (const p of probes) if (!p.available) assert.ok(p.reason && !/\n/.test(p.reason), JSON.stringify(p));
});
