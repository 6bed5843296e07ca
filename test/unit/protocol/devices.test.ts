import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DevicesReportMsg } from '../../../src/protocol/devices';
import { LaunchDevices } from '../../../src/protocol/launch';

test('devices/report: every probed device with the documented fields, and what auto picks', () => {
  const report = { devices: [{ device: 'cpu' as const, available: true, bundled: true }], auto: { order: ['cuda' as const, 'cpu' as const], device: 'cpu' as const } };
  assert.deepEqual(DevicesReportMsg.problems(DevicesReportMsg.create(report)), []);
  assert.deepEqual(DevicesReportMsg.problems(DevicesReportMsg.create({ ...report, auto: { order: ['cpu'] } })), [], 'auto may pick nothing');
  assert.deepEqual(DevicesReportMsg.problems({ type: 'devices/report', params: { ...report, devices: [{ device: 'cpu', available: 'yes', bundled: true, reason: 3 }] } }), [
    'params.devices[0].available: expected a boolean',
    'params.devices[0].reason: expected a string',
  ]);
  assert.deepEqual(DevicesReportMsg.problems({ type: 'devices/report', params: { devices: [] } }), ['params.auto: expected an object']);
});

test('launch/devices: the auto choice may say which device it picks', () => {
  const auto = { id: 'auto' as const, available: true, note: 'cpu on this machine', picks: 'cpu' as const };
  assert.equal(LaunchDevices.is(LaunchDevices.create({ devices: [auto] })), true);
  assert.equal(LaunchDevices.is({ type: 'launch/devices', params: { devices: [{ ...auto, picks: 'auto' }] } }), false);
});
