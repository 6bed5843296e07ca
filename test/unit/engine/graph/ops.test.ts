/**
 * One line per op: input shapes (and how to fill them), the op, a float64 reference for the forward (where
 * there is one), tolerances. Each case checks
 *  - forward (float64 through onnxruntime) against the reference,
 *  - the gradient of every float input against float64 central finite differences,
 *  - that the float32 model loads and agrees with the float64 one.
 * The per-op max relative gradient error is printed as a table at the end.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../../src/engine/graph/graph';
import * as op from '../../../../src/engine/graph/ops';
import * as nn from '../../../../src/engine/graph/nn';
import { InputSpec, forward32, gradCheck, relErr } from './gradcheck';
import * as R from './ref';
import { Nd } from './ref';

interface Case {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  ref?: (...xs: Nd[]) => Nd;
  /** Max relative gradient error allowed (default 1e-6). */
  tol?: number;
  eps?: number;
}

const F = (shape: number[], gen?: InputSpec['gen']): InputSpec => ({ shape, gen });
const I = (shape: number[], ints: number, min = 0): InputSpec => ({ shape, dtype: 'int64', gen: { ints, min } });
const IV = (shape: number[], values: number[]): InputSpec => ({ shape, dtype: 'int64', gen: { values } });
const B = (shape: number[]): InputSpec => ({ shape, dtype: 'bool' });
const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const softplusR = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/** Cumulative sum along the last axis of a 2-D array. */
function cumsumRef(a: Nd, exclusive: boolean, reverse: boolean): Nd {
  const [r, c] = a.dims;
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < r; i++) {
    let acc = 0;
    for (let k = 0; k < c; k++) {
      const j = reverse ? c - 1 - k : k;
      if (!exclusive) acc += a.data[i * c + j];
      out[i * c + j] = acc;
      if (exclusive) acc += a.data[i * c + j];
    }
  }
  return { data: out, dims: [r, c] };
}

const cases: Case[] = [
  { name: 'add', inputs: [F([2, 3]), F([3])], fn: op.add, ref: (a, b) => R.ew((x, y) => x + y, a, b) },
  { name: 'add [2,1]+[1,3]', inputs: [F([2, 1]), F([1, 3])], fn: op.add, ref: (a, b) => R.ew((x, y) => x + y, a, b) },
  { name: 'sub', inputs: [F([2, 3]), F([2, 1])], fn: op.sub, ref: (a, b) => R.ew((x, y) => x - y, a, b) },
  { name: 'mul', inputs: [F([4, 1, 3]), F([2, 3])], fn: op.mul, ref: (a, b) => R.ew((x, y) => x * y, a, b) },
  { name: 'div', inputs: [F([2, 3]), F([3], 'positive')], fn: op.div, ref: (a, b) => R.ew((x, y) => x / y, a, b) },
  { name: 'pow', inputs: [F([2, 3], 'positive'), F([2, 3])], fn: op.pow, ref: (a, b) => R.ew((x, y) => x ** y, a, b) },
  { name: 'pow scalar exponent', inputs: [F([5], 'positive')], fn: (x) => op.pow(x, 3), ref: (a) => R.ew((x) => x ** 3, a) },
  { name: 'maximum', inputs: [F([2, 3]), F([3])], fn: op.maximum, ref: (a, b) => R.ew(Math.max, a, b) },
  { name: 'minimum', inputs: [F([2, 3]), F([2, 3])], fn: op.minimum, ref: (a, b) => R.ew(Math.min, a, b) },
  { name: 'neg', inputs: [F([2, 3])], fn: op.neg, ref: (a) => R.ew((x) => -x, a) },
  { name: 'exp', inputs: [F([2, 3])], fn: op.exp, ref: (a) => R.ew(Math.exp, a) },
  { name: 'log', inputs: [F([2, 3], 'positive')], fn: op.log, ref: (a) => R.ew(Math.log, a) },
  { name: 'sqrt', inputs: [F([2, 3], 'positive')], fn: op.sqrt, ref: (a) => R.ew(Math.sqrt, a) },
  { name: 'rsqrt', inputs: [F([2, 3], 'positive')], fn: op.rsqrt, ref: (a) => R.ew((x) => 1 / Math.sqrt(x), a) },
  { name: 'reciprocal', inputs: [F([2, 3], 'away')], fn: op.reciprocal, ref: (a) => R.ew((x) => 1 / x, a) },
  { name: 'abs', inputs: [F([2, 3], 'away')], fn: op.abs, ref: (a) => R.ew(Math.abs, a) },
  { name: 'tanh', inputs: [F([2, 3])], fn: op.tanh, ref: (a) => R.ew(Math.tanh, a) },
  { name: 'sigmoid', inputs: [F([2, 3])], fn: op.sigmoid, ref: (a) => R.ew(sig, a) },
  { name: 'erf', inputs: [F([12], { uniform: [-3.5, 3.5] })], fn: op.erf, ref: (a) => R.ew(R.erf, a) },
  { name: 'sin', inputs: [F([2, 3])], fn: op.sin, ref: (a) => R.ew(Math.sin, a) },
  { name: 'cos', inputs: [F([2, 3])], fn: op.cos, ref: (a) => R.ew(Math.cos, a) },
  { name: 'relu', inputs: [F([2, 3], 'away')], fn: op.relu, ref: (a) => R.ew((x) => Math.max(x, 0), a) },
  { name: 'softplus', inputs: [F([8], { values: [-40, -5, -1, -0.1, 0.3, 2, 8, 40] })], fn: nn.softplus, ref: (a) => R.ew(softplusR, a) },
  { name: 'logSigmoid', inputs: [F([8], { values: [-40, -5, -1, -0.1, 0.3, 2, 8, 40] })], fn: nn.logSigmoid, ref: (a) => R.ew((x) => -softplusR(-x), a) },
  { name: 'gelu (erf)', inputs: [F([3, 4], { uniform: [-4, 4] })], fn: (x) => nn.gelu(x), ref: (a) => R.ew((x) => 0.5 * x * (1 + R.erf(x / Math.SQRT2)), a) },
  {
    name: 'gelu (tanh), wide range',
    inputs: [F([16], { values: [-9, -6, -4, -3, -2, -1.5, -1, -0.5, 0, 0.25, 0.7, 1.3, 2.2, 3.1, 5, 9] })],
    fn: (x) => nn.gelu(x, 'tanh'),
    ref: (a) => R.ew((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), a),
  },
  {
    name: 'gelu (tanh)',
    inputs: [F([3, 4], { uniform: [-4, 4] })],
    fn: (x) => nn.gelu(x, 'tanh'),
    ref: (a) => R.ew((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), a),
  },
  { name: 'silu', inputs: [F([2, 3])], fn: nn.silu, ref: (a) => R.ew((x) => x * sig(x), a) },
  { name: 'clip', inputs: [F([3, 4], { uniform: [-2, 2] })], fn: (x) => nn.clip(x, -0.5, 0.7), ref: (a) => R.ew((x) => Math.min(Math.max(x, -0.5), 0.7), a) },
  { name: 'where', inputs: [B([2, 3]), F([2, 3]), F([3])], fn: (c, a, b) => op.where(c, a, b), ref: (c, a, b) => R.ew((q, x, y) => (q ? x : y), c, a, b) },
  { name: 'cast f64->f32->f64', inputs: [F([4])], fn: (x) => op.cast(op.mul(op.cast(x, 'float32'), 2), 'float64'), tol: 1e-5, eps: 1e-2 },
  { name: 'cast bool->float (mask)', inputs: [F([2, 3])], fn: (x) => op.mul(x, op.cast(op.greater(x, 0), x.dtype)), ref: (a) => R.ew((x) => (x > 0 ? x : 0), a) },
  { name: 'matmul', inputs: [F([2, 3]), F([3, 4])], fn: op.matmul, ref: R.matmul },
  { name: 'matmul batched + broadcast', inputs: [F([2, 2, 3]), F([3, 4])], fn: op.matmul, ref: R.matmul },
  { name: 'matmul batch broadcast [2,1,2,3]@[3,3,2]', inputs: [F([2, 1, 2, 3]), F([3, 3, 2])], fn: op.matmul, ref: R.matmul },
  { name: 'reshape', inputs: [F([2, 3, 2])], fn: (x) => op.reshape(x, [3, -1]), ref: (a) => ({ data: a.data, dims: [3, 4] }) },
  { name: 'transpose', inputs: [F([2, 3, 4])], fn: (x) => op.transpose(x, [2, 0, 1]), ref: (a) => R.transpose(a, [2, 0, 1]) },
  { name: 'slice', inputs: [F([4, 5])], fn: (x) => op.slice(x, [1, -3], [3, 5], [0, 1]), ref: (a) => R.slice(a, [1, 2], [3, 5], [0, 1]) },
  { name: 'pad', inputs: [F([2, 3])], fn: (x) => op.pad(x, [1, 0, 0, 2]), ref: (a) => R.concat([R.nd(new Array(5).fill(0), [1, 5]), R.concat([a, R.nd([0, 0, 0, 0], [2, 2])], 1)], 0) },
  { name: 'concat', inputs: [F([2, 3]), F([2, 1]), F([2, 2])], fn: (a, b, c) => op.concat([a, b, c], 1), ref: (a, b, c) => R.concat([a, b, c], 1) },
  { name: 'split', inputs: [F([5, 2])], fn: (x) => { const [a, b] = op.split(x, 0, [2, 3]); return op.add(op.sum(a, [0]), op.sum(op.mul(b, b), [0])); } },
  {
    name: 'split 3 ways, a piece unused, one used twice',
    inputs: [F([2, 7, 3])],
    fn: (x) => {
      const [a, , c] = op.split(x, 1, [2, 4, 1]);
      return op.add(op.mul(op.sum(a, [1]), op.sum(c, [1])), op.sum(op.mul(a, a), [1]));
    },
  },
  {
    name: 'transpose of a transpose (cancels)',
    inputs: [F([2, 3, 4])],
    fn: (x) => op.transpose(op.transpose(x, [1, 2, 0]), [2, 0, 1]),
    ref: (a) => a,
  },
  {
    name: 'transpose of a transpose (not identity)',
    inputs: [F([2, 3, 4])],
    fn: (x) => op.transpose(op.transpose(x, [1, 0, 2]), [0, 2, 1]),
    ref: (a) => R.transpose(R.transpose(a, [1, 0, 2]), [0, 2, 1]),
  },
  { name: 'matmul a @ swapAxes(b) (attention q k^T)', inputs: [F([2, 2, 3, 4]), F([2, 2, 5, 4])], fn: (a, b) => op.matmul(a, op.swapAxes(b, -1, -2)) },
  { name: 'matmul swapAxes(a) @ b', inputs: [F([2, 4, 3]), F([2, 4, 5])], fn: (a, b) => op.matmul(op.swapAxes(a, -1, -2), b) },
  { name: 'matmul swapAxes(a) @ swapAxes(b), b broadcast', inputs: [F([2, 4, 3]), F([5, 4])], fn: (a, b) => op.matmul(op.swapAxes(a, -1, -2), op.transpose(b)) },
  { name: 'matmul [2,3,4] @ transpose(w [5,4]) (tied head)', inputs: [F([2, 3, 4]), F([5, 4])], fn: (a, w) => op.matmul(a, op.transpose(w)), ref: (a, w) => R.matmul(a, R.transpose(w, [1, 0])) },
  { name: 'matmul transposed b, broadcast batch', inputs: [F([2, 3, 4]), F([1, 5, 4])], fn: (a, b) => op.matmul(a, op.swapAxes(b, -1, -2)) },
  { name: 'expand', inputs: [F([3, 1])], fn: (x) => op.expand(x, [2, 3, 4]), ref: (a) => R.ew((x) => x, a, R.nd(new Array(24).fill(0), [2, 3, 4])) },
  { name: 'squeeze', inputs: [F([2, 1, 3])], fn: (x) => op.squeeze(x, [1]), ref: (a) => ({ data: a.data, dims: [2, 3] }) },
  { name: 'unsqueeze', inputs: [F([2, 3])], fn: (x) => op.unsqueeze(x, [0, 3]), ref: (a) => ({ data: a.data, dims: [1, 2, 3, 1] }) },
  { name: 'gather axis 0 (repeated ids)', inputs: [F([5, 3]), IV([2, 3], [0, 4, 4, 1, 0, 0])], fn: (t, i) => op.gather(t, i, 0), ref: (t, i) => R.gather(t, i, 0) },
  { name: 'gather axis 1', inputs: [F([2, 4, 3]), IV([2, 2], [3, 1, 1, 0])], fn: (t, i) => op.gather(t, i, 1), ref: (t, i) => R.gather(t, i, 1) },
  { name: 'embedding', inputs: [F([6, 4]), I([2, 3], 6)], fn: nn.embedding, ref: (t, i) => R.gather(t, i, 0) },
  { name: 'gatherElements', inputs: [F([3, 4]), IV([3, 2], [0, 3, 3, 3, 1, 2])], fn: (x, i) => op.gatherElements(x, i, 1) },
  { name: 'gatherND', inputs: [F([3, 4, 2]), IV([2, 2], [0, 1, 2, 3])], fn: (x, i) => op.gatherND(x, i) },
  { name: 'scatterElementsAdd', inputs: [F([3, 4]), IV([3, 2], [0, 3, 3, 3, 1, 2]), F([3, 2])], fn: (d, i, u) => op.scatterElementsAdd(d, i, u, 1) },
  { name: 'scatterNDAdd', inputs: [F([4, 3]), IV([3, 1], [1, 3, 1]), F([3, 3])], fn: (d, i, u) => op.scatterNDAdd(d, i, u) },
  { name: 'sum axes', inputs: [F([2, 3, 4])], fn: (x) => op.sum(x, [0, 2]), ref: (a) => R.reduce(a, [0, 2], false, R.sumF) },
  { name: 'sum keepdims', inputs: [F([2, 3])], fn: (x) => op.sum(x, [1], true), ref: (a) => R.reduce(a, [1], true, R.sumF) },
  { name: 'sum all', inputs: [F([2, 3])], fn: (x) => op.sum(x), ref: (a) => R.reduce(a, [0, 1], false, R.sumF) },
  { name: 'sumSquare', inputs: [F([2, 3, 4])], fn: (x) => op.sumSquare(x, [1, 2]), ref: (a) => R.reduce(a, [1, 2], false, (v) => R.sumF(v.map((t) => t * t))) },
  { name: 'mean', inputs: [F([2, 3, 4])], fn: (x) => op.mean(x, [-1]), ref: (a) => R.reduce(a, [-1], false, R.meanF) },
  { name: 'max', inputs: [F([3, 4])], fn: (x) => op.max(x, [1]), ref: (a) => R.reduce(a, [1], false, R.maxF) },
  { name: 'min', inputs: [F([3, 4])], fn: (x) => op.min(x, [0]), ref: (a) => R.reduce(a, [0], false, (v) => Math.min(...v)) },
  { name: 'cumsum', inputs: [F([2, 4])], fn: (x) => op.cumsum(x, 1), ref: (a) => cumsumRef(a, false, false) },
  { name: 'cumsum exclusive', inputs: [F([2, 4])], fn: (x) => op.cumsum(x, -1, { exclusive: true }), ref: (a) => cumsumRef(a, true, false) },
  { name: 'cumsum reverse', inputs: [F([2, 4])], fn: (x) => op.cumsum(x, 1, { reverse: true }), ref: (a) => cumsumRef(a, false, true) },
  { name: 'logsumexp', inputs: [F([3, 4])], fn: (x) => op.logsumexp(x, [1], true), ref: (a) => R.reduce(a, [1], true, R.lseF) },
  { name: 'softmax', inputs: [F([2, 5])], fn: (x) => op.softmax(x, -1), ref: (a) => R.softmax(a, -1) },
  { name: 'softmax axis 0', inputs: [F([3, 2])], fn: (x) => op.softmax(x, 0), ref: (a) => R.softmax(a, 0) },
  { name: 'logSoftmax', inputs: [F([2, 5])], fn: (x) => op.logSoftmax(x, -1), ref: (a) => R.softmax(a, -1, true) },
  { name: 'layerNorm', inputs: [F([2, 3, 5]), F([5]), F([5])], fn: (x, g, b) => nn.layerNorm(x, g, b, 1e-5), ref: (x, g, b) => R.layerNorm(x, g, b, 1e-5) },
  { name: 'layerNorm (no beta)', inputs: [F([3, 4]), F([4])], fn: (x, g) => nn.layerNorm(x, g, null), ref: (x, g) => R.layerNorm(x, g, R.nd([0, 0, 0, 0], [4]), 1e-5) },
  {
    name: 'rmsNorm',
    inputs: [F([2, 5]), F([5])],
    fn: (x, g) => nn.rmsNorm(x, g, 1e-6),
    ref: (x, g) => R.ew((a, ms, gg) => (a / Math.sqrt(ms + 1e-6)) * gg, x, R.reduce(x, [-1], true, (v) => R.meanF(v.map((t) => t * t))), g),
  },
  { name: 'linear', inputs: [F([2, 3]), F([3, 4]), F([4])], fn: (x, w, b) => nn.linear(x, w, b), ref: (x, w, b) => R.ew((p, q) => p + q, R.matmul(x, w), b) },
  { name: 'attention (causal)', inputs: [F([1, 2, 3, 4]), F([1, 2, 3, 4]), F([1, 2, 3, 4])], fn: (q, k, v) => nn.attention(q, k, v, 'causal') },
  {
    name: 'crossEntropy mean (ignore_index)',
    inputs: [F([2, 3, 5]), IV([2, 3], [1, 4, -100, 0, -100, 2])],
    fn: (l, t) => nn.crossEntropy(l, t).mean,
    ref: (l, t) => {
      const lp = R.softmax(l, -1, true);
      let s = 0;
      let n = 0;
      t.data.forEach((v, i) => {
        if (v !== -100) {
          s -= lp.data[i * 5 + v];
          n++;
        }
      });
      return R.nd([s / n], []);
    },
  },
  {
    name: 'tokenLogProbs',
    inputs: [F([2, 3, 5]), IV([2, 3], [1, 4, 0, 0, 3, 2])],
    fn: (l, t) => nn.tokenLogProbs(l, t),
    ref: (l, t) => {
      const lp = R.softmax(l, -1, true);
      return R.nd(Array.from(t.data, (v, i) => lp.data[i * 5 + v]), [2, 3]);
    },
  },
  // The chunked head: 7 rows in chunks of 3, 3, 1; untied w [D, V] and a tied [V, D] table read transposed.
  {
    name: 'linearTokenLogProbs (chunks of 3)',
    inputs: [F([7, 4]), F([4, 5]), IV([7], [1, 4, 0, 0, 3, 2, 4])],
    fn: (x, w, t) => nn.linearTokenLogProbs(x, w, t, 3),
    ref: (x, w, t) => {
      const lp = R.softmax(R.matmul(x, w), -1, true);
      return R.nd(Array.from(t.data, (v, i) => lp.data[i * 5 + v]), [7]);
    },
  },
  {
    name: 'linearTokenLogProbs tied (chunks of 2)',
    inputs: [F([5, 4]), F([6, 4]), IV([5], [5, 0, 3, 3, 1])],
    fn: (x, e, t) => nn.linearTokenLogProbs(x, op.transpose(e), t, 2),
    ref: (x, e, t) => {
      const lp = R.softmax(R.matmul(x, R.transpose(e, [1, 0])), -1, true);
      return R.nd(Array.from(t.data, (v, i) => lp.data[i * 6 + v]), [5]);
    },
  },
  { name: 'crossEntropy perToken', inputs: [F([4, 3]), IV([4], [2, -100, 0, 1])], fn: (l, t) => nn.crossEntropy(l, t).perToken },
  { name: 'fan-out x*x + exp(x)', inputs: [F([3])], fn: (x) => op.add(op.mul(x, x), op.exp(x)), ref: (a) => R.ew((x) => x * x + Math.exp(x), a) },
];

const table: { name: string; gradErr: number; fwdErr: number; f32Err: number }[] = [];

for (const c of cases) {
  test(`op ${c.name}`, async () => {
    const res = await gradCheck(c.inputs, c.fn, { eps: c.eps });
    let fwdErr = NaN;
    if (c.ref) {
      const want = c.ref(...res.inputs.map((v) => R.nd(v.data as ArrayLike<number>, v.dims)));
      assert.deepEqual([...res.yDims], want.dims, `${c.name}: output shape`);
      fwdErr = relErr(res.y, want.data);
      assert.ok(fwdErr < 1e-12, `${c.name}: forward differs from the reference by ${fwdErr}`);
    }
    const y32 = await forward32(c.inputs, c.fn, res.inputs);
    const f32Err = relErr(Array.from(y32 as ArrayLike<number>, Number), res.y);
    assert.ok(f32Err < 1e-5, `${c.name}: float32 forward differs from float64 by ${f32Err}`);
    table.push({ name: c.name, gradErr: res.gradErr, fwdErr, f32Err });
    const tol = c.tol ?? 1e-6;
    assert.ok(res.gradErr < tol, `${c.name}: max relative gradient error ${res.gradErr} >= ${tol} (per input: ${res.perInput.join(', ')})`);
  });
}

test('stopGradient: x * stopGradient(x) has gradient stopGradient(x) = x, not 2x', async () => {
  const res = await gradCheck([F([4])], (x) => op.mul(x, op.stopGradient(x)));
  // With L = sum(y * W): dL/dx = W * x (the stopped branch is a constant); finite differences see 2 W x.
  assert.ok(Math.abs(res.gradErr - 0.5) < 1e-6, `expected the analytic gradient to be half the numeric one, rel err ${res.gradErr}`);
});

after(() => {
  const fmt = (v: number): string => (Number.isNaN(v) ? '   -    ' : v.toExponential(2));
  console.log('\nop                                        grad rel err   fwd vs ref   f32 vs f64');
  for (const r of table) console.log(`${r.name.padEnd(42)}${fmt(r.gradErr).padStart(12)}${fmt(r.fwdErr).padStart(13)}${fmt(r.f32Err).padStart(13)}`);
});
