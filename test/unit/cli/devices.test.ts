import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DevicesReportMsg } from '../../../src/protocol/devices';
import { alignment } from './cliCapture';

test('alignment devices --json prints one devices/report line: every device probed, install hints for the missing, what auto picks', async () => {
  const r = await alignment('devices', '--json');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1);
  const msg: unknown = JSON.parse(lines[0] as string);
  assert.deepEqual(DevicesReportMsg.problems(msg), []);
  assert.ok(DevicesReportMsg.is(msg));
  const { devices, auto } = msg.params;
  assert.deepEqual(devices.map((d) => d.device), ['cpu', 'cuda', 'webgpu']);
  assert.equal(devices[0]?.available, true, 'the CPU provider ships with onnxruntime-node');
  for (const d of devices) {
    if (d.available) assert.equal(d.install, undefined, d.device);
    else assert.ok(d.reason && d.install && d.install.length > 20, `${d.device}: a reason and how to install it`);
  }
  assert.deepEqual(auto.order, ['cuda', 'webgpu', 'cpu']);
  assert.equal(auto.device, auto.order.find((o) => devices.find((d) => d.device === o)?.available));
});

test('alignment devices (text) lists each device on its own line and says what auto picks', async () => {
  const r = await alignment('devices');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^cpu {5}available/m);
  assert.match(r.out, /^cuda {4}(available|unavailable: .+\n {6} {2}to use it: .+)/m);
  assert.match(r.out, /^webgpu {2}(available|unavailable: )/m);
  assert.match(r.out, /^auto picks (cuda|webgpu|cpu) here \(it tries cuda, then webgpu, then cpu\)$/m);
  const bad = await alignment('devices', 'extra');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unexpected argument "extra"/);
});
