/**
 * Graph API behaviour: error messages, emission (loading in onnxruntime, dead-code removal), Loop and If
 * bodies, symbolic dims, float16, flat parameter layouts, and the protobuf writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, Tensor } from '../../../../src/engine/graph/graph';
import * as op from '../../../../src/engine/graph/ops';
import * as nn from '../../../../src/engine/graph/nn';
import { grad } from '../../../../src/engine/graph/autodiff';
import { ifElse, loop } from '../../../../src/engine/graph/control';
import { toModelProto, toOnnx, toOnnxExternal } from '../../../../src/engine/graph/emit';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ParamSpec, flatLayout, flatten, initFlat, viewsOfFlat } from '../../../../src/engine/graph/params';
import { floatToHalfBits, halfBitsToFloat } from '../../../../src/engine/graph/dtype';
import { ProtoWriter } from '../../../../src/engine/onnx/protoWriter';
import { OrtModel } from './ortRun';

test('shape mismatches name the op and both shapes', () => {
  const g = new Graph();
  const a = g.input('a', [2, 3], 'float32');
  const b = g.input('b', [4], 'float32');
  const m = g.input('m', [4, 5], 'float32');
  assert.throws(() => op.add(a, b), /^Error: Add: cannot broadcast shapes \[2, 3\] and \[4\]/);
  assert.throws(() => op.mul(a, m), /Mul: cannot broadcast shapes \[2, 3\] and \[4, 5\]/);
  assert.throws(() => op.matmul(a, m), /MatMul: inner dimensions differ \(3 vs 4\) for shapes \[2, 3\] and \[4, 5\]/);
  assert.throws(() => op.concat([a, m], 0), /Concat: shapes float32\[2, 3\], float32\[4, 5\] do not match outside axis 0/);
  assert.throws(() => op.reshape(a, [4, 2]), /Reshape \[2, 3\] -> \[4, 2\]: element counts differ \(6 vs 8\)/);
  assert.throws(() => op.where(op.greater(b, 0), a, 0), /Where: cannot broadcast shapes \[4\] and \[2, 3\]/);
  assert.throws(() => op.softmax(a, 2), /Softmax: axis 2 is out of range for rank 2/);
  const i = g.input('i', [3], 'int64');
  assert.throws(() => op.add(a, i), /Add: dtype mismatch float32 \[2, 3\] vs int64 \[3\]/);
  assert.throws(() => op.exp(i), /Exp: needs a floating-point tensor, got int64/);
  assert.throws(() => nn.layerNorm(a, b, null), /layerNorm: gamma \[4\] \/ beta - must be \[3\] for x \[2, 3\]/);
  assert.throws(() => nn.crossEntropy(a, i), /crossEntropy: logits \[2, 3\] need targets of shape \[2\], got \[3\]/);
  assert.throws(() => g.input('a', [1], 'float32'), /tensor name 'a' is already used/);
});

test('grad: errors and zero gradients', () => {
  const g = new Graph();
  const x = g.input('x', [3], 'float32');
  const unused = g.input('u', [2], 'float32');
  assert.throws(() => grad(op.exp(x), [x]), /grad: output .* is not a scalar/);
  const [gu] = grad(op.sum(x), [unused]);
  assert.deepEqual(gu.shape, [2]);
  const [gs] = grad(op.sum(op.stopGradient(x)), [x]);
  assert.equal(gs.producer?.op, 'ConstantOfShape');
  // No rule through a Loop: a clear error instead of a silent zero.
  const r = loop(g, 'l', 2, [x], ({ carried: [c] }) => ({ carried: [op.mul(c, 2)] }));
  assert.throws(() => grad(op.sum(r.carried[0]), [x]), /grad: no gradient rule for op Loop/);
});

test('emitted model loads in onnxruntime; unused nodes are dropped', async () => {
  const g = new Graph();
  const x = g.input('x', [2, 3], 'float32');
  op.exp(op.exp(x)); // dead code
  const y = op.mul(op.add(x, 1), 2);
  g.output('y', y);
  g.output('y_again', y);
  const proto = toModelProto(g);
  assert.deepEqual(
    proto.graph.nodes.map((n) => n.opType).filter((o) => o !== 'Constant'),
    ['Add', 'Mul', 'Identity'], // y renames Mul's output in place; y_again needs an Identity
  );
  assert.equal(proto.graph.nodes.find((n) => n.opType === 'Mul')?.outputs[0], 'y');
  const m = await OrtModel.load(toOnnx(g));
  assert.deepEqual(m.inputNames, ['x']);
  const r = await m.run({ x: { data: Float32Array.of(0, 1, 2, 3, 4, 5), dims: [2, 3] } });
  assert.deepEqual(Array.from(r.y.data as Float32Array), [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(Array.from(r.y_again.data as Float32Array), [2, 4, 6, 8, 10, 12]);
  await m.release();
});

test("onnxruntimeKernels: RMSNorm's gradient through SimplifiedLayerNormalization's inverse-RMS output matches float64", async () => {
  // L = sum(w * rmsNorm(x, gamma)); the VJP reads the kernel's second output (1/rms, [rows, 1]).
  const rows = 5;
  const c = 16;
  const build = (dtype: 'float32' | 'float64'): Graph => {
    const g = new Graph();
    const x = g.input('x', [rows, c], dtype);
    const gamma = g.input('gamma', [c], dtype);
    const w = g.input('w', [rows, c], dtype);
    const loss = op.sum(op.mul(nn.rmsNorm(x, gamma, 1e-5), w));
    const [dx, dgamma] = grad(loss, [x, gamma]);
    g.output('dx', dx as Tensor);
    g.output('dgamma', dgamma as Tensor);
    return g;
  };
  const xs = Array.from({ length: rows * c }, (_, i) => Math.sin(i * 1.3) * (1 + (i % 7)));
  const gs = Array.from({ length: c }, (_, i) => 0.5 + i / c);
  const ws = Array.from({ length: rows * c }, (_, i) => Math.cos(i * 0.7));
  const run = async (g: Graph, kernels: boolean, arr: typeof Float32Array | typeof Float64Array): Promise<Record<string, number[]>> => {
    const model = toModelProto(g, { onnxruntimeKernels: kernels });
    assert.equal(model.graph.nodes.some((n) => n.opType === 'SimplifiedLayerNormalization'), kernels && arr === Float32Array);
    const m = await OrtModel.load(toOnnx(g, { onnxruntimeKernels: kernels }));
    const r = await m.run({ x: { data: arr.from(xs), dims: [rows, c] }, gamma: { data: arr.from(gs), dims: [c] }, w: { data: arr.from(ws), dims: [rows, c] } });
    await m.release();
    return { dx: Array.from(r.dx.data as Float32Array), dgamma: Array.from(r.dgamma.data as Float32Array) };
  };
  const ref = await run(build('float64'), true, Float64Array);
  const fused = await run(build('float32'), true, Float32Array);
  for (const k of ['dx', 'dgamma'] as const) {
    const scale = Math.max(...ref[k].map(Math.abs));
    const err = Math.max(...ref[k].map((v, i) => Math.abs(v - (fused[k][i] as number)))) / scale;
    assert.ok(err < 1e-5, `${k}: max error ${err.toExponential(2)} relative to the largest entry`);
  }
});

test("onnxruntimeKernels: RMSNorm becomes onnxruntime's SimplifiedLayerNormalization with the expanded form's output", async () => {
  const g = new Graph();
  const x = g.input('x', [3, 8], 'float32');
  const gamma = g.initializer('gamma', Float32Array.from({ length: 8 }, (_, i) => 0.5 + i / 8), [8], 'float32');
  g.output('y', nn.rmsNorm(x, gamma, 1e-5));
  const fused = toModelProto(g, { onnxruntimeKernels: true }).graph.nodes.map((n) => n.opType);
  assert.deepEqual(fused, ['SimplifiedLayerNormalization']);
  assert.ok(!toModelProto(g).graph.nodes.some((n) => n.opType === 'SimplifiedLayerNormalization'), 'standard ONNX by default');
  const xs = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
  const outs: Float32Array[] = [];
  for (const kernels of [false, true]) {
    const m = await OrtModel.load(toOnnx(g, { onnxruntimeKernels: kernels }));
    outs.push((await m.run({ x: { data: xs, dims: [3, 8] } })).y.data as Float32Array);
    await m.release();
  }
  for (let r = 0; r < 3; r++) {
    let ms = 0;
    for (let c = 0; c < 8; c++) ms += xs[r * 8 + c] ** 2 / 8;
    for (let c = 0; c < 8; c++) {
      const ref = (xs[r * 8 + c] / Math.sqrt(ms + 1e-5)) * (0.5 + c / 8);
      assert.ok(Math.abs(outs[0][r * 8 + c] - ref) < 1e-5 && Math.abs(outs[1][r * 8 + c] - ref) < 1e-5, `row ${r} col ${c}`);
    }
  }
});

test('initializers and constants are stored in the model', async () => {
  const g = new Graph();
  const w = g.initializer('w', Float32Array.of(1, 2, 3), [3], 'float32');
  const x = g.input('x', [3], 'float32');
  g.output('y', op.add(op.mul(x, w), g.constant([10, 20, 30], 'float32')));
  assert.throws(() => g.initializer('bad', Float32Array.of(1), [2], 'float32'), /shape \[2\] needs 2 elements, data has 1/);
  assert.throws(() => g.initializer('bad2', Float64Array.of(1), [1], 'float32'), /Float64Array, which does not hold dtype float32/);
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run({ x: { data: Float32Array.of(1, 1, 1), dims: [3] } });
  assert.deepEqual(Array.from(r.y.data as Float32Array), [11, 22, 33]);
  await m.release();
});

/** One SGD step of linear regression on batch k: returns the new weights and the loss. */
function sgdStep(w: Tensor, xs: Tensor, ys: Tensor, k: Tensor, lr: number): { w: Tensor; loss: Tensor } {
  const pick = (t: Tensor): Tensor => op.squeeze(op.gather(t, op.unsqueeze(k, [0]), 0), [0]);
  const d = op.sub(op.matmul(pick(xs), w), pick(ys));
  const loss = op.mean(op.mul(d, d));
  const [gw] = grad(loss, [w]);
  return { w: op.sub(w, op.mul(gw, lr)), loss };
}

test('loop: K training steps in one ONNX Loop equal K single-step runs', async () => {
  const K = 4;
  const xsData = Float64Array.from({ length: K * 5 * 3 }, (_, i) => Math.sin(i * 1.3));
  const ysData = Float64Array.from({ length: K * 5 * 2 }, (_, i) => Math.cos(i * 0.7));
  const w0 = Float64Array.from({ length: 6 }, (_, i) => 0.1 * i - 0.2);

  const g = new Graph();
  const wIn = g.input('w', [3, 2], 'float64');
  const xs = g.input('xs', [K, 5, 3], 'float64');
  const ys = g.input('ys', [K, 5, 2], 'float64');
  const res = loop(g, 'train', K, [wIn], ({ iter, carried: [w] }) => {
    const s = sgdStep(w, xs, ys, iter, 0.1);
    return { carried: [s.w], scans: [s.loss] };
  });
  assert.deepEqual(res.scans[0].shape, [K]);
  g.output('w_out', res.carried[0]);
  g.output('losses', res.scans[0]);
  const m = await OrtModel.load(toOnnx(g), 'basic');
  const r = await m.run({ w: { data: w0, dims: [3, 2] }, xs: { data: xsData, dims: [K, 5, 3] }, ys: { data: ysData, dims: [K, 5, 2] } });
  await m.release();

  const g1 = new Graph();
  const w1 = g1.input('w', [3, 2], 'float64');
  const k1 = g1.input('k', [], 'int64');
  const s = sgdStep(w1, g1.input('xs', [K, 5, 3], 'float64'), g1.input('ys', [K, 5, 2], 'float64'), k1, 0.1);
  g1.output('w_out', s.w);
  g1.output('loss', s.loss);
  const m1 = await OrtModel.load(toOnnx(g1), 'basic');
  let w: Float64Array = w0;
  const losses: number[] = [];
  for (let k = 0; k < K; k++) {
    const o = await m1.run({
      w: { data: w, dims: [3, 2] },
      k: { data: BigInt64Array.of(BigInt(k)), dims: [] },
      xs: { data: xsData, dims: [K, 5, 3] },
      ys: { data: ysData, dims: [K, 5, 2] },
    });
    w = Float64Array.from(o.w_out.data as Float64Array);
    losses.push((o.loss.data as Float64Array)[0]);
  }
  await m1.release();
  assert.deepEqual(Array.from(r.losses.data as Float64Array), losses);
  assert.deepEqual(Array.from(r.w_out.data as Float64Array), Array.from(w));
  assert.ok(losses[K - 1] !== losses[0]);
});

test('ifElse picks a branch at run time; branches read outer tensors', async () => {
  const g = new Graph();
  const x = g.input('x', [2], 'float32');
  const c = g.input('c', [], 'bool');
  const [y] = ifElse(g, 'branch', c, () => [op.mul(x, 2)], () => [op.neg(x)]);
  g.output('y', y);
  const m = await OrtModel.load(toOnnx(g));
  const xs = { data: Float32Array.of(1, 3), dims: [2] };
  assert.deepEqual(Array.from((await m.run({ x: xs, c: { data: Uint8Array.of(1), dims: [] } })).y.data as Float32Array), [2, 6]);
  assert.deepEqual(Array.from((await m.run({ x: xs, c: { data: Uint8Array.of(0), dims: [] } })).y.data as Float32Array), [-1, -3]);
  await m.release();
});

test('symbolic batch dimension: one model runs any batch size, gradients included', async () => {
  const g = new Graph();
  const x = g.input('x', ['batch', 3], 'float32');
  const w = g.input('w', [3, 2], 'float32');
  const y = op.matmul(x, w); // [batch, 2]
  const z = op.reshape(y, ['batch', 2, 1]);
  const loss = op.mean(op.mul(z, z));
  assert.deepEqual(z.shape, ['batch', 2, 1]);
  const [gw, gx] = grad(loss, [w, x]);
  g.output('loss', loss);
  g.output('gw', gw);
  g.output('gx', gx);
  const m = await OrtModel.load(toOnnx(g));
  const wData = Float32Array.of(1, 0, 0, 1, 1, 1);
  for (const n of [1, 4]) {
    const xData = Float32Array.from({ length: n * 3 }, (_, i) => i / 10);
    const r = await m.run({ x: { data: xData, dims: [n, 3] }, w: { data: wData, dims: [3, 2] } });
    // loss = mean over n*2 of (x w)^2; dL/dw = 2/(2n) x^T (x w)
    let l = 0;
    const gwRef = new Float64Array(6);
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < 2; j++) {
        let v = 0;
        for (let k = 0; k < 3; k++) v += xData[b * 3 + k] * wData[k * 2 + j];
        l += v * v;
        for (let k = 0; k < 3; k++) gwRef[k * 2 + j] += (2 / (2 * n)) * xData[b * 3 + k] * v;
      }
    }
    assert.ok(Math.abs((r.loss.data as Float32Array)[0] - l / (2 * n)) < 1e-5);
    (r.gw.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - gwRef[i]) < 1e-5, `gw[${i}] ${v} vs ${gwRef[i]}`));
    assert.deepEqual(r.gx.dims, [n, 3]);
  }
  await m.release();
});

test('float16: half conversion and a float16 graph', async () => {
  for (const v of [0, 1, -2.5, 65504, 1e-5, 0.1, -0.333]) {
    const back = halfBitsToFloat(floatToHalfBits(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 1e-3 + 6e-8, `${v} -> ${back}`);
  }
  assert.equal(floatToHalfBits(1e6), 0x7c00);
  const g = new Graph();
  const x = g.input('x', [3], 'float16');
  const y = op.cast(op.mul(op.cast(x, 'float32'), 2), 'float16');
  g.output('y', op.add(y, 1));
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run({ x: { data: Uint16Array.from([1, 2.5, -3].map(floatToHalfBits)), dims: [3] } });
  const out = r.y.data as unknown as ArrayLike<number>;
  const vals = Array.from(out, (h) => (r.y.data instanceof Uint16Array ? halfBitsToFloat(h) : h));
  assert.deepEqual(vals, [3, 6, -5]);
  await m.release();
});

test('params: flat layout, views and flatten round-trip', async () => {
  const specs: ParamSpec[] = [
    { name: 'a', shape: [2, 3], init: { kind: 'normal', std: 1 } },
    { name: 'b', shape: [3], init: { kind: 'ones' } },
    { name: 'c', shape: [1, 2], init: { kind: 'constant', value: 7 } },
  ];
  const layout = flatLayout(specs, 4);
  assert.deepEqual(layout.entries.map((e) => e.offset), [0, 8, 12]);
  assert.equal(layout.total, 16);
  assert.throws(() => flatLayout([...specs, specs[0]]), /duplicate parameter name 'a'/);
  const init = initFlat(layout, 3);
  assert.deepEqual(Array.from(initFlat(layout, 3)), Array.from(init));
  assert.deepEqual(Array.from(init.subarray(8, 11)), [1, 1, 1]);
  assert.deepEqual(Array.from(init.subarray(12, 14)), [7, 7]);

  const g = new Graph();
  const flat = g.input('flat', [layout.total], 'float32');
  const v = viewsOfFlat(flat, layout);
  assert.deepEqual(v.get('a')!.shape, [2, 3]);
  const doubled = new Map([...v].map(([k, t]) => [k, op.mul(t, 2)]));
  g.output('out', flatten(doubled, layout));
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run({ flat: { data: init, dims: [layout.total] } });
  const want = Array.from(init, (x, i) => (i < 6 || (i >= 8 && i < 11) || (i >= 12 && i < 14) ? 2 * x : 0));
  assert.deepEqual(Array.from(r.out.data as Float32Array), Array.from(Float32Array.from(want)));
  await m.release();
});

test('protobuf writer: varints, negative int64, packed fields', () => {
  const w = new ProtoWriter();
  w.varint(300);
  w.varint(-1);
  const b = w.finish();
  assert.deepEqual(Array.from(b.subarray(0, 2)), [0xac, 0x02]);
  assert.equal(b.length, 2 + 10);
  assert.deepEqual(Array.from(b.subarray(2)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const p = new ProtoWriter();
  p.packedInts(1, [1, 2]);
  assert.deepEqual(Array.from(p.finish()), [0x0a, 0x02, 0x01, 0x02]);
});

test('argmax, isNaN, isInf and a causal mask for queries after a KV cache', async () => {
  const g = new Graph();
  const x = g.input('x', [2, 3], 'float32');
  g.output('am', op.argmax(x, -1));
  g.output('nan', op.isNaN(x));
  g.output('inf', op.isInf(x));
  const scores = g.input('s', [1, 2, 4], 'float32');
  g.output('mask', nn.causalMaskFor(scores));
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run({
    x: { data: Float32Array.of(1, 5, 2, NaN, -Infinity, 0), dims: [2, 3] },
    s: { data: new Float32Array(8), dims: [1, 2, 4] },
  });
  assert.deepEqual(Array.from(r.am.data as BigInt64Array, Number)[0], 1);
  assert.deepEqual(Array.from(r.nan.data as Uint8Array, Number), [0, 0, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(r.inf.data as Uint8Array, Number), [0, 0, 0, 0, 1, 0]);
  // 2 new queries after 2 cached keys: query 0 sees keys 0..2, query 1 sees keys 0..3.
  assert.deepEqual(Array.from(r.mask.data as Uint8Array, Number), [1, 1, 1, 0, 1, 1, 1, 1]);
  await m.release();
});

test('causal attention with a symbolic sequence length matches the static model', async () => {
  const build = (t: number | string): Graph => {
    const g = new Graph();
    const q = g.input('q', [1, 2, t, 4], 'float32');
    const k = g.input('k', [1, 2, t, 4], 'float32');
    const v = g.input('v', [1, 2, t, 4], 'float32');
    const y = nn.attention(q, k, v, 'causal');
    const [gq] = grad(op.sum(op.mul(y, y)), [q]);
    g.output('y', y);
    g.output('gq', gq);
    return g;
  };
  const T = 3;
  const feed = (seed: number): { data: Float32Array; dims: number[] } => ({ data: Float32Array.from({ length: 2 * T * 4 }, (_, i) => Math.sin(seed * 10 + i)), dims: [1, 2, T, 4] });
  const feeds = { q: feed(1), k: feed(2), v: feed(3) };
  const ms = await OrtModel.load(toOnnx(build(T)));
  const md = await OrtModel.load(toOnnx(build('T')));
  const a = await ms.run(feeds);
  const b = await md.run(feeds);
  assert.deepEqual(Array.from(b.y.data as Float32Array), Array.from(a.y.data as Float32Array));
  assert.deepEqual(Array.from(b.gq.data as Float32Array), Array.from(a.gq.data as Float32Array));
  await ms.release();
  await md.release();
});

test('large initializers survive the chunked protobuf writer', async () => {
  const n = 300_000;
  const data = Float32Array.from({ length: n }, (_, i) => (i % 1000) / 7);
  const g = new Graph();
  const w = g.initializer('big', data, [n], 'float32');
  const x = g.input('x', [n], 'float32');
  g.output('y', op.add(w, x));
  const bytes = toOnnx(g);
  assert.ok(bytes.length > 4 * n);
  const m = await OrtModel.load(bytes);
  const r = await m.run({ x: { data: new Float32Array(n).fill(1), dims: [n] } });
  const y = r.y.data as Float32Array;
  for (const i of [0, 1, 999, 123_456, n - 1]) assert.equal(y[i], Math.fround(data[i] + 1));
  await m.release();
});

test('external data: big initializers in a side file, loaded by path', async () => {
  const g = new Graph();
  const a = Float32Array.from({ length: 5000 }, (_, i) => i);
  const b = Float32Array.from({ length: 3 }, (_, i) => 10 * i);
  const wa = g.initializer('a', a, [5000], 'float32');
  const wb = g.initializer('b', b, [3], 'float32'); // small: stays inline
  g.output('s', op.sum(wa));
  g.output('b_out', op.mul(wb, 1));
  const ext = toOnnxExternal(g, 'weights.bin');
  assert.ok(ext.model.length < 2000, `model is ${ext.model.length} bytes`);
  assert.equal(ext.dataLength, 20000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-ext-'));
  try {
    fs.writeFileSync(path.join(dir, 'model.onnx'), ext.model);
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(ext.data));
    const ort = await import('onnxruntime-node');
    const s = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
    const r = await s.run({});
    assert.equal((r.s.data as Float32Array)[0], (4999 * 5000) / 2);
    assert.deepEqual(Array.from(r.b_out.data as Float32Array), [0, 10, 20]);
    await s.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('dropout: about p of the elements are zeroed, the rest scaled; gradient uses the same mask', async () => {
  const n = 4000;
  const p = 0.25;
  const g = new Graph();
  const x = g.input('x', [n], 'float32');
  const y = nn.dropout(x, p, 7);
  const [gx] = grad(op.sum(op.mul(y, 3)), [x]);
  g.output('y', y);
  g.output('gx', gx);
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run({ x: { data: new Float32Array(n).fill(2), dims: [n] } });
  const yd = r.y.data as Float32Array;
  const gd = r.gx.data as Float32Array;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    if (yd[i] === 0) {
      zeros++;
      assert.equal(gd[i], 0);
    } else {
      assert.ok(Math.abs(yd[i] - 2 / (1 - p)) < 1e-5);
      assert.ok(Math.abs(gd[i] - 3 / (1 - p)) < 1e-5);
    }
  }
  assert.ok(Math.abs(zeros / n - p) < 0.03, `dropped ${zeros / n}`);
  assert.equal(nn.dropout(x, 0), x);
  assert.throws(() => nn.dropout(x, 1), /dropout: p must be in \[0, 1\)/);
  await m.release();
});

test('second-order: the gradient of a gradient', async () => {
  // f = sum(x^3 + gelu(x));  d/dx sum(df/dx) = 6x + gelu''(x)
  const g = new Graph();
  const x = g.input('x', [3], 'float64');
  const f = op.sum(op.add(op.pow(x, 3), nn.gelu(x)));
  const [dx] = grad(f, [x]);
  const [ddx] = grad(op.sum(dx), [x]);
  g.output('ddx', ddx);
  const m = await OrtModel.load(toOnnx(g), 'basic');
  const xs = [-1.2, 0.3, 2];
  const r = await m.run({ x: { data: Float64Array.from(xs), dims: [3] } });
  // gelu''(x) = 2 phi(x) - x^2 phi(x), phi the standard normal density
  const phi = (v: number): number => Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
  const want = xs.map((v) => 6 * v + (2 - v * v) * phi(v));
  (r.ddx.data as Float64Array).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `${v} vs ${want[i]}`));
  await m.release();
});

test('backward structure: split -> one Concat, transposed matmul operands -> no Transpose back, tokenLogProbs -> Softmax', () => {
  const ops = (g: Graph): string[] => toModelProto(g).graph.nodes.map((n) => n.opType).filter((o) => o !== 'Constant');
  const count = (xs: string[], o: string): number => xs.filter((v) => v === o).length;

  // qkv split of an attention block: the three gradients are concatenated once (no Pad + Add per piece).
  const g1 = new Graph();
  const qkv = g1.input('qkv', [2, 3, 12], 'float32');
  const [q, k, v] = op.split(qkv, -1, [4, 4, 4]);
  const [gq] = grad(op.sum(op.mul(op.mul(q, k), v)), [qkv]);
  g1.output('g', gq);
  const o1 = ops(g1);
  assert.equal(count(o1, 'Split'), 1);
  assert.equal(count(o1, 'Concat'), 1);
  assert.equal(count(o1, 'Pad'), 0);

  // q @ k^T and a tied head x @ wte^T: the gradients of k and wte come out in their own layout, so the only
  // Transposes left are the forward's k^T / wte^T and the ones onnxruntime folds into its GEMMs.
  const g2 = new Graph();
  const qa = g2.input('q', [2, 2, 3, 4], 'float32');
  const ka = g2.input('k', [2, 2, 3, 4], 'float32');
  const x = g2.input('x', [2, 3, 4], 'float32');
  const wte = g2.input('wte', [5, 4], 'float32');
  const loss = op.add(op.sum(op.exp(op.matmul(qa, op.swapAxes(ka, -1, -2)))), op.sum(op.exp(op.matmul(x, op.transpose(wte)))));
  const [gk, gw] = grad(loss, [ka, wte]);
  assert.equal(gk.producer?.op, 'MatMul');
  assert.equal(gw.producer?.op, 'MatMul');
  g2.output('gk', gk);
  g2.output('gw', gw);
  for (const t of [gk, gw]) {
    // what feeds each gradient GEMM: transposed forward inputs or gradients, never a transposed GEMM output
    for (const i of t.producer!.inputs) if (i?.producer?.op === 'Transpose') assert.notEqual(i.producer.inputs[0]?.producer?.op, 'MatMul');
  }

  const g3 = new Graph();
  const logits = g3.input('logits', [2, 3, 7], 'float32');
  const t3 = g3.input('t', [2, 3], 'int64');
  const [gl] = grad(op.sum(nn.tokenLogProbs(logits, t3)), [logits]);
  g3.output('gl', gl);
  const o3 = ops(g3);
  assert.deepEqual([count(o3, 'Softmax'), count(o3, 'LogSoftmax'), count(o3, 'ReduceLogSumExp')], [1, 0, 0]); // the forward is dead here
});
