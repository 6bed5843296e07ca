// softplus and logSigmoid must have the true derivative at exactly 0 (1/2 and 1/2): DPO's first step evaluates
// -log sigmoid(beta h) at h = 0 exactly (policy == reference), and a zero gradient there stalls training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Graph } from '../../../../src/engine/graph/graph';
import * as op from '../../../../src/engine/graph/ops';
import { logSigmoid, softplus } from '../../../../src/engine/graph/nn';
import { grad } from '../../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../../src/engine/graph/emit';

test('softplus and logSigmoid have derivative 1/2 at x = 0', async () => {
  const g = new Graph('kink');
  const x = g.input('x', [3], 'float64');
  const y = op.add(op.sum(softplus(x)), op.sum(logSigmoid(x)));
  const [dx] = grad(y, [x]);
  g.output('dx', dx);
  const s = await ort.InferenceSession.create(toOnnx(g), { graphOptimizationLevel: 'basic' });
  const out = await s.run({ x: new ort.Tensor('float64', Float64Array.from([0, 2, -3]), [3]) });
  const d = Array.from(out.dx.data as Float64Array);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  // d/dx [softplus(x) + log sigmoid(x)] = sigmoid(x) + (1 - sigmoid(x)) = 1 everywhere, including 0
  for (const [i, v] of [0, 2, -3].entries()) assert.ok(Math.abs(d[i] - (sig(v) + 1 - sig(v))) < 1e-12, `x=${v}: ${d[i]}`);
});
