/**
 * Reverse-mode autodiff over the tracing IR: one table of vector-Jacobian products (VJP), one short rule per
 * primitive op. `grad(loss, wrt)` walks the nodes between `wrt` and `loss` in reverse creation order, calls each
 * node's rule with the output gradient, sums gradients of tensors used more than once (fan-out), and appends
 * the backward nodes to the same graph, so forward + backward form one ONNX model.
 *
 * Broadcasting: a rule returns gradients in the broadcast (output) shape; `unbroadcast` sums them back to each
 * input's shape. Integer/bool inputs (indices, masks) receive no gradient; StopGradient ends a path.
 */
import { isFloat } from './dtype';
import { Node, Shape, Tensor, fmtShape } from './graph';
import * as op from './ops';

/** A VJP rule: output gradient g (output's shape), the node's inputs and output -> one gradient per input. */
type Vjp = (g: Tensor, x: readonly (Tensor | null)[], y: Tensor, node: Node) => readonly (Tensor | null)[];

const attrInt = (n: Node, name: string): number => {
  const a = n.attrs[name];
  if (!a || a.kind !== 'int') throw new Error(`autodiff: node ${n.op} lacks int attribute ${name}`);
  return a.value;
};
const attrInts = (n: Node, name: string): readonly number[] => {
  const a = n.attrs[name];
  if (!a || a.kind !== 'ints') throw new Error(`autodiff: node ${n.op} lacks ints attribute ${name}`);
  return a.value;
};

/** Reads a small int64 constant input (axes, starts, pads) back as numbers. */
function constInts(t: Tensor | null, where: string): number[] {
  const p = t?.producer;
  const v = p && p.op === 'Constant' ? p.attrs.value : undefined;
  if (!v || v.kind !== 'tensor' || !(v.value.data instanceof BigInt64Array)) {
    throw new Error(`autodiff: ${where} needs a constant int64 input`);
  }
  return Array.from(v.value.data, (b) => Number(b));
}

/** True when t is the output of a Transpose that swaps its last two axes and keeps the others in place. */
function swapsLastTwo(t: Tensor): boolean {
  const p = t.producer;
  const a = p?.op === 'Transpose' ? p.attrs.perm : undefined;
  if (!a || a.kind !== 'ints' || t.rank < 2) return false;
  const r = t.rank;
  return a.value.every((v, i) => (i < r - 2 ? v === i : v === (i === r - 2 ? r - 1 : r - 2)));
}

/** Sums a gradient of a broadcast shape back to `shape` (the inverse of numpy broadcasting). */
export function unbroadcast(g: Tensor, shape: Shape, like?: Tensor): Tensor {
  if (op.shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`autodiff: cannot unbroadcast ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
  let r = lead > 0 ? op.sum(g, [...Array(lead).keys()]) : g;
  const axes = shape.flatMap((d, i) => (d === 1 && r.shape[i] !== 1 ? [i] : []));
  if (axes.length) r = op.sum(r, axes, true);
  if (!op.shapesEqual(r.shape, shape)) {
    if (like) return op.reshapeLike(r, like);
    throw new Error(`autodiff: cannot unbroadcast ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
  }
  return r;
}

/** Unbroadcast to the shape of input t. */
const unb = (g: Tensor, t: Tensor | null): Tensor => unbroadcast(g, t!.shape, t!);

/** Expands a reduced gradient (reduced over `axes`) back to x's shape. */
function expandReduced(g: Tensor, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  const kept = keepdims ? g : op.unsqueeze(g, axes);
  return op.expandLike(kept, x);
}

/** The number of elements reduced, as a scalar of x's dtype (static or from the run-time shape). */
function countOf(x: Tensor, axes: readonly number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) return x.graph.scalar((dims as number[]).reduce((a, b) => a * b, 1), x.dtype);
  // Product of the run-time sizes of the reduced axes (ReduceProd over an int64 slice of Shape(x)).
  const s = op.gather(op.shapeOf(x), x.graph.constant(axes, 'int64', [axes.length]), 0);
  const n = x.graph.addNode('ReduceProd', [s], { keepdims: { kind: 'int', value: 0 } }, [{ shape: [], dtype: 'int64' }])[0];
  return op.cast(n, x.dtype);
}

function reducedAxes(n: Node, x: Tensor): number[] {
  return n.inputs[1] ? constInts(n.inputs[1], n.op) : x.shape.map((_, i) => i);
}

/** The rule table. Ops absent here are non-differentiable (comparisons, Shape, Range, ...). */
export const VJP: Record<string, Vjp> = {
  Identity: (g) => [g],
  Add: (g, [a, b]) => [unb(g, a), unb(g, b)],
  Sub: (g, [a, b]) => [unb(g, a), unb(op.neg(g), b)],
  Mul: (g, [a, b]) => [unb(op.mul(g, b!), a), unb(op.mul(g, a!), b)],
  Div: (g, [a, b], y) => [unb(op.div(g, b!), a), unb(op.neg(op.div(op.mul(g, y), b!)), b)],
  // d(a^b) = b a^(b-1) da + a^b log(a) db
  Pow: (g, [a, b], y) => [unb(op.mul(g, op.mul(b!, op.pow(a!, op.sub(b!, 1)))), a), unb(op.mul(g, op.mul(y, op.log(a!))), b)],
  // Ties go to the first operand (measure-zero for continuous inputs).
  Max: (g, [a, b]) => {
    const m = op.greaterEqual(a!, b!);
    return [unb(op.where(m, g, 0), a), unb(op.where(m, 0, g), b)];
  },
  Min: (g, [a, b]) => {
    const m = op.lessEqual(a!, b!);
    return [unb(op.where(m, g, 0), a), unb(op.where(m, 0, g), b)];
  },
  Neg: (g) => [op.neg(g)],
  Exp: (g, _x, y) => [op.mul(g, y)],
  Log: (g, [x]) => [op.div(g, x!)],
  Sqrt: (g, _x, y) => [op.div(g, op.mul(y, 2))],
  Reciprocal: (g, _x, y) => [op.neg(op.mul(g, op.mul(y, y)))],
  Abs: (g, [x]) => [op.mul(g, op.sign(x!))],
  Sign: () => [null],
  Floor: () => [null],
  Tanh: (g, _x, y) => [op.mul(g, op.sub(1, op.mul(y, y)))],
  Sigmoid: (g, _x, y) => [op.mul(g, op.mul(y, op.sub(1, y)))],
  // d erf(x) = 2/sqrt(pi) exp(-x^2)
  Erf: (g, [x]) => [op.mul(g, op.mul(op.exp(op.neg(op.mul(x!, x!))), 2 / Math.sqrt(Math.PI)))],
  Relu: (g, [x]) => [op.where(op.greater(x!, 0), g, 0)],
  Cast: (g, [x]) => [isFloat(x!.dtype) ? op.cast(g, x!.dtype) : null],
  Where: (g, [c, a, b]) => [null, unb(op.where(c!, g, 0), a), unb(op.where(c!, 0, g), b)],
  // (..., M, K) @ (..., K, N): dA = G B^T, dB = A^T G, summed over broadcast batch dims.
  // When an operand is itself a transpose of its last two axes (k^T in attention, wte^T in a tied head), its
  // gradient is built transposed, (G^T A)^T or (B G^T)^T, so that the Transpose's VJP composes with it into
  // nothing (ops.transpose composes transposes) instead of transposing the gradient back.
  MatMul: (g, [a, b]) => {
    const at = a!;
    const bt = b!;
    const sameBatch = (t: Tensor): boolean => op.shapesEqual(t.shape.slice(0, -2), g.shape.slice(0, -2));
    const ga = swapsLastTwo(at) && sameBatch(at)
      ? op.swapAxes(op.matmul(bt, op.swapAxes(g, -1, -2)), -1, -2)
      : unb(op.matmul(g, op.swapAxes(bt, -1, -2)), at);
    if (bt.rank === 2 && at.rank > 2) {
      // Weight [K, N] shared across batch dims: one GEMM over all rows, A'^T G' with A' = a as [rows, K] and
      // G' = g as [rows, N], instead of a batched [..., K, N] product followed by a ReduceSum.
      const k = at.shape[at.rank - 1];
      const n = g.shape[g.rank - 1];
      const a2 = op.reshape(at, [-1, k]);
      const g2 = op.reshape(g, [-1, n]);
      return [ga, swapsLastTwo(bt) ? op.transpose(op.matmul(op.transpose(g2), a2)) : op.matmul(op.transpose(a2), g2)];
    }
    const gb = swapsLastTwo(bt) && sameBatch(bt)
      ? op.swapAxes(op.matmul(op.swapAxes(g, -1, -2), at), -1, -2)
      : unb(op.matmul(op.swapAxes(at, -1, -2), g), bt);
    return [ga, gb];
  },
  Reshape: (g, [x]) => [op.reshapeLike(g, x!), null],
  Squeeze: (g, [x]) => [op.reshapeLike(g, x!), null],
  Unsqueeze: (g, [x]) => [op.reshapeLike(g, x!), null],
  Transpose: (g, _x, _y, n) => {
    const p = attrInts(n, 'perm');
    const inv = p.map((_, i) => p.indexOf(i));
    return [op.transpose(g, inv)];
  },
  Expand: (g, [x]) => [unb(g, x), null],
  // Slice (step 1) -> zero-pad the gradient back to the input's extent.
  Slice: (g, [x, s, e, a]) => {
    const starts = constInts(s, 'Slice starts');
    const axes = constInts(a, 'Slice axes');
    void e;
    const xs = x!.shape;
    const pads = new Array<number>(2 * x!.rank).fill(0);
    axes.forEach((ax, i) => {
      pads[ax] = starts[i];
      pads[ax + x!.rank] = (xs[ax] as number) - starts[i] - (g.shape[ax] as number);
    });
    return [op.pad(g, pads), null, null, null];
  },
  Pad: (g, [x, p]) => {
    const pads = constInts(p, 'Pad pads');
    const r = x!.rank;
    const axes = [...Array(r).keys()];
    return [op.slice(g, axes.map((i) => pads[i]), axes.map((i) => pads[i] + (x!.shape[i] as number)), axes), null];
  },
  Concat: (g, xs, _y, n) => {
    const axis = attrInt(n, 'axis');
    const sizes = xs.map((t) => t!.shape[axis]);
    if (sizes.some((d) => typeof d !== 'number')) throw new Error('autodiff: Concat gradient needs static sizes along the axis');
    return op.split(g, axis, sizes as number[]);
  },
  // Gather along axis: scatter-add the gradient rows into zeros of x's shape.
  Gather: (g, [x, idx], _y, n) => {
    const axis = attrInt(n, 'axis');
    const xt = x!;
    const ir = idx!.rank;
    // Move the gathered axis (and the indices' dims in g) to the front: g -> [idx..., pre..., post...].
    const pre = [...Array(axis).keys()];
    const idxDims = [...Array(ir).keys()].map((i) => axis + i);
    const post = [...Array(xt.rank - axis - 1).keys()].map((i) => axis + ir + i);
    const gT = op.transpose(g, [...idxDims, ...pre, ...post]);
    const xPerm = [axis, ...pre, ...post.map((_, i) => axis + 1 + i)];
    const xTShape = xPerm.map((a) => xt.shape[a]);
    const base = op.zeros(xt.graph, xTShape as number[], xt.dtype);
    const flatIdx = op.reshape(idx!, [-1, 1]);
    const upd = op.reshape(gT, [-1, ...xTShape.slice(1)]);
    const scat = op.scatterNDAdd(base, flatIdx, upd);
    const inv = xPerm.map((_, i) => xPerm.indexOf(i));
    return [op.transpose(scat, inv), null];
  },
  GatherElements: (g, [x, idx], _y, n) => [op.scatterElementsAdd(op.zerosLike(x!), idx!, g, attrInt(n, 'axis')), null],
  GatherND: (g, [x, idx]) => [op.scatterNDAdd(op.zerosLike(x!), idx!, g), null],
  ScatterElements: (g, [, idx], _y, n) => [g, null, op.gatherElements(g, idx!, attrInt(n, 'axis'))],
  ScatterND: (g, [, idx]) => [g, null, op.gatherND(g, idx!)],
  ReduceSum: (g, [x], _y, n) => [expandReduced(g, x!, reducedAxes(n, x!), attrInt(n, 'keepdims') === 1), null],
  // d sum(x^2) = 2 x
  ReduceSumSquare: (g, [x], _y, n) => [op.mul(expandReduced(g, x!, reducedAxes(n, x!), attrInt(n, 'keepdims') === 1), op.mul(x!, 2)), null],
  ReduceMean: (g, [x], _y, n) => {
    const axes = reducedAxes(n, x!);
    return [op.div(expandReduced(g, x!, axes, attrInt(n, 'keepdims') === 1), countOf(x!, axes)), null];
  },
  // Gradient flows to the maxima, split evenly among ties.
  ReduceMax: (g, [x], y, n) => {
    const axes = reducedAxes(n, x!);
    const keep = attrInt(n, 'keepdims') === 1;
    const hit = op.cast(op.equal(x!, expandReduced(y, x!, axes, keep)), x!.dtype);
    const share = op.div(hit, op.sum(hit, axes, true));
    return [op.mul(share, expandReduced(g, x!, axes, keep)), null];
  },
  ReduceMin: (g, [x], y, n) => {
    const axes = reducedAxes(n, x!);
    const keep = attrInt(n, 'keepdims') === 1;
    const hit = op.cast(op.equal(x!, expandReduced(y, x!, axes, keep)), x!.dtype);
    const share = op.div(hit, op.sum(hit, axes, true));
    return [op.mul(share, expandReduced(g, x!, axes, keep)), null];
  },
  // y = cumsum(x): dx_j = sum_{i >= j} g_i, the cumsum of g in the opposite direction (same exclusivity).
  CumSum: (g, [, a], _y, n) => [
    op.cumsum(g, constInts(a, 'CumSum axis')[0], { exclusive: attrInt(n, 'exclusive') === 1, reverse: attrInt(n, 'reverse') !== 1 }),
    null,
  ],
  // Fused LayerNormalization over the last axis (outputs Y, Mean, InvStdDev; Mean/InvStdDev float32):
  //   xhat = (x - mean) * rstd,  y = xhat * gamma + beta
  //   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * gamma
  //   dgamma = sum over rows of g * xhat,  dbeta = sum over rows of g
  LayerNormalization: (g, [x, gamma, beta], _y, n) => {
    const xt = x!;
    const mean = op.cast(n.outputs[1], xt.dtype);
    const rstd = op.cast(n.outputs[2], xt.dtype);
    const xhat = op.mul(op.sub(xt, mean), rstd);
    const dxhat = op.mul(g, gamma!);
    const dx = op.mul(rstd, op.sub(op.sub(dxhat, op.mean(dxhat, [-1], true)), op.mul(xhat, op.mean(op.mul(dxhat, xhat), [-1], true))));
    const rows = [...Array(xt.rank - 1).keys()];
    return [dx, op.sum(op.mul(g, xhat), rows), beta ? op.sum(g, rows) : null];
  },
  // RMSNorm (outputs Y, InvRms r): xhat = x r, y = xhat * gamma
  //   dx = r * (dxhat - xhat * mean(dxhat * xhat)),  dxhat = g * gamma;  dgamma = sum over rows of g * xhat
  RMSNorm: (g, [x, gamma], _y, n) => {
    const xt = x!;
    const r = n.outputs[1];
    const xhat = op.mul(xt, r);
    const dxhat = op.mul(g, gamma!);
    const dx = op.mul(r, op.sub(dxhat, op.mul(xhat, op.mean(op.mul(dxhat, xhat), [-1], true))));
    return [dx, op.sum(op.mul(g, xhat), [...Array(xt.rank - 1).keys()])];
  },
  // TokenLogProb (lp = log softmax(logits)[t]):  d logits = g (onehot(t) - softmax(logits)); the softmax is
  // one fused Softmax kernel over [..., V].
  TokenLogProb: (g, [logits, t]) => {
    const gk = op.unsqueeze(g, [-1]); // [..., 1]
    const idx = op.unsqueeze(t!, [-1]);
    const p = op.softmax(logits!, -1);
    return [op.scatterElementsAdd(op.mul(p, op.neg(gk)), idx, gk, -1), null];
  },
  // LinearTokenLogProb (lp = log softmax(x W)[t], W = w, or w^T with transB): the chunk's logits are recomputed
  // here from x tied to g (x + 0 g[0]), so onnxruntime runs the GEMM in the backward, chunk after chunk, rather
  // than early in the forward, where every chunk's [rows, V] logits would stay alive until the backward.
  //   d logits = g (onehot(t) - softmax(x W)),  dx = d logits W^T,  dW = x^T d logits.
  LinearTokenLogProb: (g, [x, w, t], _y, n) => {
    const transB = attrInt(n, 'transB') === 1;
    const xr = op.add(x!, zeroAfter(g));
    const logits = transB ? gemmNT(xr, w!) : op.matmul(xr, w!);
    const gk = op.unsqueeze(g, [-1]);
    const dl = op.scatterElementsAdd(op.mul(op.softmax(logits, -1), op.neg(gk)), op.unsqueeze(t!, [-1]), gk, -1);
    const dx = transB ? op.matmul(dl, w!) : op.matmul(dl, op.transpose(w!));
    const dw = transB ? op.matmul(op.transpose(dl), xr) : op.matmul(op.transpose(xr), dl);
    return [dx, dw, null];
  },
  // Fused GELU (opset 20). Exact: d/dx x Phi(x) = Phi(x) + x phi(x).
  // Tanh form, written with s = sigmoid(v) = (1 + tanh(v / 2)) / 2, v = 2 sqrt(2/pi) (x + 0.044715 x^3), so
  // that y = x s and
  //   d/dx = s + x s (1 - s) v' = s + y (1 - s) v',   v' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2)
  // which reuses the forward output y: 12 elementwise passes instead of 18 for the tanh form.
  Gelu: (g, [x], y, n) => {
    const xt = x!;
    const a = n.attrs.approximate;
    if (a && a.kind === 'string' && a.value === 'tanh') {
      const c2 = 2 * Math.sqrt(2 / Math.PI);
      const k = 0.044715;
      const x2 = op.mul(xt, xt);
      const s = op.sigmoid(op.mul(xt, op.add(op.mul(x2, c2 * k), c2)));
      const dv = op.add(op.mul(x2, 3 * c2 * k), c2);
      return [op.mul(g, op.add(op.mul(op.mul(y, op.sub(1, s)), dv), s))];
    }
    const cdf = op.mul(op.add(op.erf(op.mul(xt, Math.SQRT1_2)), 1), 0.5);
    const pdf = op.mul(op.exp(op.mul(op.mul(xt, xt), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [op.mul(g, op.add(cdf, op.mul(xt, pdf)))];
  },
  // Inverted dropout: y = x * mask / (1 - p)  =>  dx = g * mask / (1 - p); ratio and training_mode get none.
  Dropout: (g, [x, ratio], _y, n) => [op.div(op.mul(g, op.cast(n.outputs[1], x!.dtype)), op.sub(1, ratio!)), null, null],
  Sin: (g, [x]) => [op.mul(g, op.cos(x!))],
  Cos: (g, [x]) => [op.neg(op.mul(g, op.sin(x!)))],
  // d logsumexp(x) = softmax(x) along the reduced axes.
  ReduceLogSumExp: (g, [x], y, n) => {
    const axes = reducedAxes(n, x!);
    const keep = attrInt(n, 'keepdims') === 1;
    const p = op.exp(op.sub(x!, expandReduced(y, x!, axes, keep)));
    return [op.mul(p, expandReduced(g, x!, axes, keep)), null];
  },
  // y = softmax(x): dx = y * (g - sum(g * y))
  Softmax: (g, _x, y, n) => {
    const a = attrInt(n, 'axis');
    return [op.mul(y, op.sub(g, op.sum(op.mul(g, y), [a], true)))];
  },
  // y = log_softmax(x): dx = g - exp(y) * sum(g)
  LogSoftmax: (g, _x, y, n) => {
    const a = attrInt(n, 'axis');
    return [op.sub(g, op.mul(op.exp(y), op.sum(g, [a], true)))];
  },
};

/**
 * VJP rules of ops with several differentiable outputs: one gradient per output (null where an output got
 * none) -> one gradient per input.
 */
type VjpMulti = (gs: readonly (Tensor | null)[], x: readonly (Tensor | null)[], node: Node) => readonly (Tensor | null)[];

export const VJP_MULTI: Record<string, VjpMulti> = {
  // y_1..y_n = split(x): dx = concat(dy_1, ..., dy_n), zeros for pieces nobody used.
  Split: (gs, _x, n) => {
    const axis = attrInt(n, 'axis');
    const parts = n.outputs.map((o, i) => gs[i] ?? op.zerosLike(o));
    return [op.concat(parts, axis), null];
  },
};

/** Ops whose outputs carry no gradient even when an input does (comparisons, shapes, sources). */
const NON_DIFFERENTIABLE = new Set([
  'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'IsNaN', 'IsInf',
  'ArgMax', 'Shape', 'Range', 'ConstantOfShape', 'Constant',
]);

export interface GradOptions {
  /** Gradient of the output (default: 1, which needs a scalar `y`). */
  seed?: Tensor;
}

/** A scalar 0 computed from g's first element: what reads it cannot run before g exists (in the backward). */
function zeroAfter(g: Tensor): Tensor {
  let first = g;
  for (let a = 0; a < g.rank; a++) first = op.narrow(first, a, 0, 1);
  return op.mul(g.rank ? op.sum(first, [...Array(g.rank).keys()]) : first, 0);
}

/** a [M, K] b[N, K]^T as one Gemm (transB): the backward's recompute of a tied head's logits, no copy of b. */
function gemmNT(a: Tensor, b: Tensor): Tensor {
  return a.graph.addNode('Gemm', [a, b], { transB: { kind: 'int', value: 1 } }, [{ shape: [a.shape[0], b.shape[0]], dtype: a.dtype }])[0];
}

/**
 * Gradient checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"): the VJP rules of
 * a node traced inside Graph.checkpoint read a recomputed copy of the region's forward instead of the tensors
 * the forward made, so those die after the forward and only the region's inputs live until the backward.
 *
 * The copy is traced when the backward first reaches the region (its last node, in reverse order), and it
 * depends on the output gradient g arriving there: each float input the region takes from an earlier
 * (non-constant) node x is read as x + 0 * sum(g[0, ..., 0]). That data dependency makes onnxruntime run the
 * copy during the backward rather than during the forward (where it would be kept alive just as before); it
 * adds one elementwise pass per such input. Nodes of the copy that read none of those inputs (weight
 * transposes, constants) may still run early: they are small.
 */
function checkpointRecompute(ancestors: readonly Node[]): {
  inputs(n: Node, g: Tensor): readonly (Tensor | null)[];
  value(n: Node, t: Tensor): Tensor;
  node(n: Node): Node;
} {
  const regions = new Map<number, Node[]>();
  for (const n of ancestors) if (n.region !== undefined) regions.set(n.region, [...(regions.get(n.region) ?? []), n]);
  const copies = new Map<number, Map<Tensor, Tensor>>();
  const nodeCopies = new Map<Node, Node>();
  const copyOf = (region: number, g: Tensor): Map<Tensor, Tensor> => {
    const done = copies.get(region);
    if (done) return done;
    const nodes = regions.get(region) as Node[];
    const inside = new Set(nodes);
    const zero = zeroAfter(g);
    const map = new Map<Tensor, Tensor>();
    const read = (t: Tensor): Tensor => {
      const m = map.get(t);
      if (m) return m;
      const p = t.producer;
      if (!p || inside.has(p) || p.op === 'Constant' || !isFloat(t.dtype)) return t;
      const tied = op.add(t, zero.dtype === t.dtype ? zero : op.cast(zero, t.dtype));
      map.set(t, tied);
      return tied;
    };
    for (const n of nodes) {
      if (Object.values(n.attrs).some((a) => a.kind === 'graph')) throw new Error(`grad: a checkpoint region cannot hold ${n.op} (a node with a body graph)`);
      const outs = g.graph.addNode(n.op, n.inputs.map((i) => (i ? read(i) : null)), { ...n.attrs }, n.outputs.map((o) => ({ shape: o.shape, dtype: o.dtype })), 'rc');
      n.outputs.forEach((o, k) => map.set(o, outs[k] as Tensor));
      nodeCopies.set(n, (outs[0] as Tensor).producer as Node);
    }
    copies.set(region, map);
    return map;
  };
  return {
    inputs: (n, g) => (n.region === undefined ? n.inputs : n.inputs.map((i) => (i ? (copyOf(n.region as number, g).get(i) ?? i) : null))),
    value: (n, t) => (n.region === undefined ? t : (copies.get(n.region)?.get(t) ?? t)),
    // Rules that read a node's other outputs (LayerNormalization's mean and 1/std) read the copy's.
    node: (n) => nodeCopies.get(n) ?? n,
  };
}

/**
 * Gradients of `y` with respect to each tensor in `wrt`, as new tensors in y's graph. A `wrt` tensor that y
 * does not depend on (or only through StopGradient / integer paths) gets zeros.
 */
export function grad(y: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  if (!isFloat(y.dtype)) throw new Error(`grad: output ${y} is not floating-point`);
  let seed = opts.seed;
  if (seed) {
    if (!op.shapesEqual(seed.shape, y.shape) || seed.dtype !== y.dtype) {
      throw new Error(`grad: seed ${seed} must match output ${y}`);
    }
  } else {
    if (y.rank !== 0) throw new Error(`grad: output ${y} is not a scalar; reduce it or pass a seed`);
    seed = y.graph.scalar(1, y.dtype);
  }
  for (const w of wrt) if (!isFloat(w.dtype)) throw new Error(`grad: wrt tensor ${w} is not floating-point`);

  // Nodes that y depends on (ancestors), in creation order.
  const ancestors: Node[] = [];
  const seen = new Set<Node>();
  const stack: Tensor[] = [y];
  while (stack.length) {
    const t = stack.pop()!;
    const p = t.producer;
    if (!p || seen.has(p)) continue;
    seen.add(p);
    ancestors.push(p);
    for (const i of p.inputs) if (i) stack.push(i);
  }
  ancestors.sort((a, b) => a.outputs[0].id - b.outputs[0].id);

  // Tensors that depend on some wrt tensor through differentiable float paths.
  const active = new Set<Tensor>(wrt);
  for (const n of ancestors) {
    if (n.op === 'StopGradient' || !n.inputs.some((i) => i && active.has(i))) continue;
    if (!VJP[n.op] && !VJP_MULTI[n.op]) {
      if (NON_DIFFERENTIABLE.has(n.op) || !n.outputs.some((o) => isFloat(o.dtype))) continue;
      throw new Error(`grad: no gradient rule for op ${n.op} (producing ${n.outputs[0]}), which lies between the inputs and the output`);
    }
    for (const o of n.outputs) if (isFloat(o.dtype)) active.add(o);
  }

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (!op.shapesEqual(g.shape, t.shape)) {
      throw new Error(`autodiff: gradient for ${t} has shape ${fmtShape(g.shape)} (rule of ${t.producer?.op ?? 'input'} is wrong)`);
    }
    const prev = grads.get(t);
    grads.set(t, prev ? op.add(prev, g) : g);
  };
  if (active.has(y)) accumulate(y, seed);

  const recompute = checkpointRecompute(ancestors);
  for (let k = ancestors.length - 1; k >= 0; k--) {
    const n = ancestors[k];
    const multi = VJP_MULTI[n.op];
    if (multi) {
      const gs = n.outputs.map((o) => grads.get(o) ?? null);
      if (gs.every((q) => q === null) || !n.inputs.some((i) => i && active.has(i))) continue;
      const gx = multi(gs, recompute.inputs(n, gs.find((q) => q !== null) as Tensor), recompute.node(n));
      n.inputs.forEach((i, j) => {
        const gi = gx[j];
        if (i && gi && active.has(i)) accumulate(i, gi);
      });
      continue;
    }
    // Other multi-output ops (LayerNormalization's Mean/InvStdDev) are differentiated through output 0 only.
    for (const o of n.outputs.slice(1)) {
      if (grads.has(o)) throw new Error(`grad: output ${n.outputs.indexOf(o)} of ${n.op} (${o}) is not differentiable; wrap it in stopGradient`);
    }
    const yOut = n.outputs[0];
    const g = grads.get(yOut);
    if (!g || !n.inputs.some((i) => i && active.has(i))) continue;
    const rule = VJP[n.op];
    if (!rule) continue; // non-differentiable op (activity analysis already excluded it)
    const gx = rule(g, recompute.inputs(n, g), recompute.value(n, yOut), recompute.node(n));
    n.inputs.forEach((i, j) => {
      const gi = gx[j];
      if (i && gi && active.has(i)) accumulate(i, gi);
    });
  }
  return wrt.map((w) => grads.get(w) ?? op.zerosLike(w));
}
