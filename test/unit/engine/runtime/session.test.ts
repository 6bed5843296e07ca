import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../../../src/engine/graph/graph';
import * as op from '../../../../src/engine/graph/ops';
import { loop } from '../../../../src/engine/graph/control';
import { toOnnx } from '../../../../src/engine/graph/emit';
import { howToInstall, parseDeviceRequest, probeDevices } from '../../../../src/engine/runtime/devices';
import { DeviceUnavailableError, RuntimeError } from '../../../../src/engine/runtime/errors';
import { probeModelBytes } from '../../../../src/engine/runtime/probeModel';
import { RuntimeSession } from '../../../../src/engine/runtime/ortSession';
import { f32 } from '../../../../src/engine/runtime/tensor';

/** y = x + x on float32 [4] (the runtime's own probe model). */
const probe = probeModelBytes();

test('cpu session runs in a worker; resident inputs and carry keep state off the caller thread', async () => {
  const s = await RuntimeSession.create(probe, { device: 'cpu', threads: 1 });
  try {
    assert.equal(s.device, 'cpu');
    assert.deepEqual(s.inputNames, ['x']);
    const out = await s.run({ x: f32([4], [1, 2, 3, 4]) });
    assert.deepEqual(Array.from(out['y']!.data as Float32Array), [2, 4, 6, 8]);
    await s.setResident({ x: f32([4], [1, 1, 1, 1]) });
    await s.run({}, { carry: { y: 'x' }, fetch: [] });
    await s.run({}, { carry: { y: 'x' }, fetch: [] });
    const r = await s.getResident(['x']);
    assert.deepEqual(Array.from(r['x']!.data as Float32Array), [4, 4, 4, 4]);
  } finally {
    await s.dispose();
  }
});

test('auto picks a device that works and reports what each probe said', async () => {
  const s = await RuntimeSession.create(probe, { device: 'auto', threads: 1 });
  try {
    assert.ok(['cpu', 'cuda', 'webgpu'].includes(s.device));
    const last = s.probes[s.probes.length - 1]!;
    assert.equal(last.device, s.device);
    assert.equal(last.available, true);
    for (const p of s.probes.slice(0, -1)) assert.ok(p.reason && p.reason.length > 0, `${p.device} unavailable without a reason`);
  } finally {
    await s.dispose();
  }
});

test('cuda and webgpu are selectable and, where unavailable, fail with install instructions (no fallback)', async () => {
  const probes = await probeDevices();
  assert.deepEqual(probes.map((p) => p.device), ['cpu', 'cuda', 'webgpu']);
  assert.equal(probes[0]!.available, true);
  for (const device of ['cuda', 'webgpu'] as const) {
    const p = probes.find((x) => x.device === device)!;
    if (p.available) {
      const s = await RuntimeSession.create(probe, { device });
      assert.equal(s.device, device);
      await s.dispose();
      continue;
    }
    await assert.rejects(RuntimeSession.create(probe, { device }), (e: unknown) => {
      assert.ok(e instanceof DeviceUnavailableError, String(e));
      assert.equal(e.device, device);
      assert.ok(e.message.includes(`device '${device}' is not available`));
      assert.ok(e.message.includes(howToInstall(device)));
      return true;
    });
  }
  assert.match(howToInstall('cuda'), /ONNXRUNTIME_NODE_INSTALL=cuda12 npm install/);
  assert.match(howToInstall('cuda'), /cuDNN 9/);
  assert.match(howToInstall('webgpu'), /Vulkan/);
  assert.equal(parseDeviceRequest('webgpu'), 'webgpu');
  assert.throws(() => parseDeviceRequest('gpu', 'run.device'), /run\.device: expected one of "auto", "cpu", "cuda", "webgpu", got "gpu"/);
});

test('the caller\'s event loop keeps running while a heavy session runs', async () => {
  // 400 iterations of x = tanh(x @ w) on 192x192: a few hundred ms of onnxruntime work in one run().
  const g = new Graph();
  const x0 = g.input('x', [192, 192], 'float32');
  const w = g.input('w', [192, 192], 'float32');
  const r = loop(g, 'heavy', 400, [x0], ({ carried: [x] }) => ({ carried: [op.tanh(op.matmul(x!, w))] }));
  g.output('y', op.sum(r.carried[0]!));
  const s = await RuntimeSession.create(toOnnx(g), { device: 'cpu', threads: 1 });
  try {
    const n = 192 * 192;
    const feeds = { x: f32([192, 192], Float32Array.from({ length: n }, (_, i) => Math.sin(i))), w: f32([192, 192], Float32Array.from({ length: n }, (_, i) => Math.cos(i) / 14)) };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const pending = s.run(feeds);
    // Were run() blocking this thread, this timeout and the interval would only fire after it returned, and at
    // most once each.
    await new Promise((resolve) => setTimeout(resolve, 60));
    const ticksWhileRunning = ticks;
    const out = await pending;
    clearInterval(timer);
    assert.ok(Number.isFinite((out['y']!.data as Float32Array)[0]!));
    assert.ok(ticksWhileRunning >= 3, `only ${ticksWhileRunning} interval ticks while the session ran`);
    assert.ok(s.lastRunMs > 0);
  } finally {
    await s.dispose();
  }
});

test('out of memory and bad inputs are clear errors; the session stays usable', async () => {
  const g = new Graph();
  const shape = g.input('shape', [2], 'int64');
  const [z] = g.addNode('ConstantOfShape', [shape], { value: { kind: 'tensor', value: { shape: [1], dtype: 'float32', data: Float32Array.of(1) } } }, [{ shape: ['a', 'b'], dtype: 'float32' }]);
  g.output('s', op.sum(z!));
  const s = await RuntimeSession.create(toOnnx(g), { device: 'cpu', threads: 1 });
  try {
    const small = { shape: { dtype: 'int64' as const, shape: [2], data: BigInt64Array.of(3n, 4n) } };
    assert.equal((await s.run(small))['s']!.data[0], 12);
    await assert.rejects(s.run({ shape: { dtype: 'int64', shape: [2], data: BigInt64Array.of(10_000_000n, 10_000_000n) } }), (e: unknown) => {
      assert.ok(e instanceof RuntimeError);
      assert.equal(e.kind, 'out-of-memory');
      assert.match(e.message, /ran out of memory \(a buffer of \d+\.\d GiB was requested/);
      return true;
    });
    await assert.rejects(s.run({ nope: f32([1], [1]) }), /'nope' is not an input of this model \(inputs: shape\)/);
    await assert.rejects(s.run({}), /input 'shape' was neither fed nor resident/);
    await assert.rejects(s.run(small, { fetch: ['t'] }), /fetch: 't' is not an output/);
    await assert.rejects(s.run({ shape: f32([2], [1, 2]) }), (e: unknown) => e instanceof RuntimeError && e.kind === 'run');
    assert.equal((await s.run(small))['s']!.data[0], 12);
  } finally {
    await s.dispose();
  }
  await assert.rejects(s.run({}), (e: unknown) => e instanceof RuntimeError && e.kind === 'disposed');
});

test('an invalid model is a session-create error, and bad thread counts are rejected', async () => {
  await assert.rejects(RuntimeSession.create(new Uint8Array([1, 2, 3]), { device: 'cpu' }), (e: unknown) => {
    assert.ok(e instanceof RuntimeError);
    assert.equal(e.kind, 'session-create');
    assert.match(e.message, /creating the onnxruntime session failed: .*protobuf/);
    return true;
  });
  await assert.rejects(RuntimeSession.create(probe, { device: 'cpu', threads: 0 }), /threads must be a positive integer/);
});

test('a worker that dies rejects the call in flight and later calls with worker-exited (no hang, no crash)', async () => {
  const s = await RuntimeSession.create(probe, { device: 'cpu', threads: 1 });
  const worker = (s as unknown as { worker: { terminate(): Promise<number> } }).worker;
  const inFlight = s.run({ x: f32([4], [1, 2, 3, 4]) });
  await worker.terminate();
  await inFlight.then(
    (out) => assert.ok(out['y'], 'the run finished before the worker stopped'),
    (e: unknown) => assert.ok(e instanceof RuntimeError && e.kind === 'worker-exited', String(e)),
  );
  await assert.rejects(s.run({ x: f32([4], [1, 2, 3, 4]) }), (e: unknown) => e instanceof RuntimeError && e.kind === 'worker-exited' && /runtime worker exited/.test(e.message));
  await s.dispose();
});
