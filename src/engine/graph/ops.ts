/**
 * Primitive ops: each appends one ONNX node (opset 20 semantics) to the innermost graph of its inputs and infers
 * the output shape at build time. Broadcasting follows numpy; a mismatch throws an error naming the op and both
 * shapes. Every differentiable primitive here has exactly one VJP rule in autodiff.ts.
 *
 * Numbers are accepted wherever a tensor operand is (`add(x, 1)`), becoming scalar constants of the other
 * operand's dtype.
 */
import { DType, isFloat, toTypedArray } from './dtype';
import { Attr, Dim, Graph, Shape, Tensor, fmtShape, graphOf, staticShape } from './graph';

export type TensorLike = Tensor | number;

// ---------------------------------------------------------------------------------------------------------------
// Shape helpers

export function dimsEqual(a: Dim, b: Dim): boolean {
  return a === b;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** numpy broadcasting of two shapes; throws `op: cannot broadcast shapes [..] and [..]`. */
export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else throw new Error(`${op}: cannot broadcast shapes ${fmtShape(a)} and ${fmtShape(b)} (dimension ${da} vs ${db})`);
  }
  return out;
}

/** Normalizes a possibly negative axis; throws naming the op if out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new Error(`${op}: repeated axis in [${axes.join(', ')}]`);
  return out.sort((a, b) => a - b);
}

const int = (value: number): Attr => ({ kind: 'int', value });
const ints = (value: readonly number[]): Attr => ({ kind: 'ints', value });

function requireFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (!isFloat(t.dtype)) throw new Error(`${op}: needs a floating-point tensor, got ${t.dtype} (${t.name})`);
}

function lift(g: Graph, x: TensorLike, dtype: DType): Tensor {
  return typeof x === 'number' ? g.scalar(x, dtype) : x;
}

/** Resolves two operands (one may be a number) to tensors of one dtype in one graph. */
function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor, Graph] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const g = graphOf(op, [typeof a === 'number' ? null : a, typeof b === 'number' ? null : b]);
  const dtype = typeof a === 'number' ? (b as Tensor).dtype : a.dtype;
  const ta = lift(g, a, dtype);
  const tb = lift(g, b, dtype);
  if (ta.dtype !== tb.dtype) throw new Error(`${op}: dtype mismatch ${ta.dtype} ${fmtShape(ta.shape)} vs ${tb.dtype} ${fmtShape(tb.shape)}`);
  return [ta, tb, g];
}

/** An int64 1-D constant (shapes, axes, indices for Slice/Reshape). */
function i64(g: Graph, values: readonly number[]): Tensor {
  return g.constant(values, 'int64', [values.length]);
}

function one(g: Graph, op: string, inputs: (Tensor | null)[], attrs: Record<string, Attr>, shape: Shape, dtype: DType): Tensor {
  return g.addNode(op, inputs, attrs, [{ shape, dtype }])[0];
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise binary

function binary(op: string, a: TensorLike, b: TensorLike, float = true): Tensor {
  const [ta, tb, g] = operands(op, a, b);
  if (float) requireFloat(op, ta);
  return one(g, op, [ta, tb], {}, broadcastShapes(op, ta.shape, tb.shape), ta.dtype);
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('Add', a, b, false);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('Sub', a, b, false);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('Mul', a, b, false);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('Div', a, b, false);
/** a ** b (float). */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('Pow', a, b);
/** Elementwise max of two tensors (numpy `maximum`). */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('Max', a, b, false);
/** Elementwise min of two tensors (numpy `minimum`). */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('Min', a, b, false);

function compare(op: string, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb, g] = operands(op, a, b);
  return one(g, op, [ta, tb], {}, broadcastShapes(op, ta.shape, tb.shape), 'bool');
}

export const equal = (a: TensorLike, b: TensorLike): Tensor => compare('Equal', a, b);
export const less = (a: TensorLike, b: TensorLike): Tensor => compare('Less', a, b);
export const lessEqual = (a: TensorLike, b: TensorLike): Tensor => compare('LessOrEqual', a, b);
export const greater = (a: TensorLike, b: TensorLike): Tensor => compare('Greater', a, b);
export const greaterEqual = (a: TensorLike, b: TensorLike): Tensor => compare('GreaterOrEqual', a, b);

function logical(op: string, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool') throw new Error(`${op}: needs bool tensors, got ${a.dtype} and ${b.dtype}`);
  const g = graphOf(op, [a, b]);
  return one(g, op, [a, b], {}, broadcastShapes(op, a.shape, b.shape), 'bool');
}
export const and = (a: Tensor, b: Tensor): Tensor => logical('And', a, b);
export const or = (a: Tensor, b: Tensor): Tensor => logical('Or', a, b);
export function not(a: Tensor): Tensor {
  if (a.dtype !== 'bool') throw new Error(`Not: needs a bool tensor, got ${a.dtype}`);
  return one(a.graph, 'Not', [a], {}, a.shape, 'bool');
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise unary

function unary(op: string, x: Tensor, float = true): Tensor {
  if (float) requireFloat(op, x);
  return one(x.graph, op, [x], {}, x.shape, x.dtype);
}

export const neg = (x: Tensor): Tensor => unary('Neg', x, false);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const log = (x: Tensor): Tensor => unary('Log', x);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const reciprocal = (x: Tensor): Tensor => unary('Reciprocal', x);
/** 1 / sqrt(x). */
export const rsqrt = (x: Tensor): Tensor => reciprocal(sqrt(x));
export const abs = (x: Tensor): Tensor => unary('Abs', x, false);
/** -1, 0 or 1 (zero gradient). */
export const sign = (x: Tensor): Tensor => unary('Sign', x, false);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
/** Gauss error function. In float64 graphs it is lowered to a series at emission (no float64 Erf kernel). */
export const erf = (x: Tensor): Tensor => unary('Erf', x);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const sin = (x: Tensor): Tensor => unary('Sin', x);
export const cos = (x: Tensor): Tensor => unary('Cos', x);
/** Elementwise NaN test (bool, no gradient). */
export function isNaN(x: Tensor): Tensor {
  requireFloat('IsNaN', x);
  return one(x.graph, 'IsNaN', [x], {}, x.shape, 'bool');
}
/** Elementwise +-infinity test (bool, no gradient). */
export function isInf(x: Tensor): Tensor {
  requireFloat('IsInf', x);
  return one(x.graph, 'IsInf', [x], {}, x.shape, 'bool');
}
/** Zero gradient. */
export const floor = (x: Tensor): Tensor => unary('Floor', x);
export const identity = (x: Tensor): Tensor => one(x.graph, 'Identity', [x], {}, x.shape, x.dtype);
/** Identity in the forward pass; blocks gradients (autodiff treats the output as a constant). */
export const stopGradient = (x: Tensor): Tensor => one(x.graph, 'StopGradient', [x], {}, x.shape, x.dtype);

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return one(x.graph, 'Cast', [x], { to: { kind: 'int', value: dtypeCode(dtype) } }, x.shape, dtype);
}

/** ONNX code of a dtype, for Cast's `to` attribute (kept local to avoid exposing onnx codes from graph.ts). */
function dtypeCode(d: DType): number {
  return { float32: 1, float16: 10, float64: 11, int64: 7, int32: 6, bool: 9 }[d];
}

/** Select: where cond is true take a, else b (broadcast). */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (cond.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${cond.dtype}`);
  const g0 = graphOf('Where', [cond, typeof a === 'number' ? null : a, typeof b === 'number' ? null : b]);
  if (typeof a === 'number' && typeof b === 'number') throw new Error('Where: at least one branch must be a tensor');
  const dtype = typeof a === 'number' ? (b as Tensor).dtype : a.dtype;
  const ta = lift(g0, a, dtype);
  const tb = lift(g0, b, dtype);
  if (ta.dtype !== tb.dtype) throw new Error(`Where: branch dtypes differ: ${ta.dtype} vs ${tb.dtype}`);
  const shape = broadcastShapes('Where', cond.shape, broadcastShapes('Where', ta.shape, tb.shape));
  return one(g0, 'Where', [cond, ta, tb], {}, shape, dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// Matrix product

/**
 * Batched matrix product a @ b with a [..., M, K] and b [..., K, N] (both rank >= 2; batch dims broadcast).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const g = graphOf('MatMul', [a, b]);
  if (a.rank < 2 || b.rank < 2) throw new Error(`MatMul: both operands need rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  if (a.dtype !== b.dtype) throw new Error(`MatMul: dtype mismatch ${a.dtype} vs ${b.dtype}`);
  requireFloat('MatMul', a);
  const k1 = a.shape[a.rank - 1];
  const k2 = b.shape[b.rank - 2];
  if (!dimsEqual(k1, k2)) {
    throw new Error(`MatMul: inner dimensions differ (${k1} vs ${k2}) for shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return one(g, 'MatMul', [a, b], {}, [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]], a.dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// Shape ops

/** The shape of x as an int64 1-D tensor (run-time value; use for symbolic dims). */
export function shapeOf(x: Tensor): Tensor {
  return one(x.graph, 'Shape', [x], {}, [x.rank], 'int64');
}

/**
 * Reshape to `shape`. Entries: fixed sizes, at most one -1 (inferred), or a symbolic dim of x (looked up at run
 * time from x's shape). Element counts are checked when both shapes are static.
 */
export function reshape(x: Tensor, shape: readonly Dim[]): Tensor {
  const where = `Reshape ${fmtShape(x.shape)} -> ${fmtShape(shape)}`;
  if (shape.filter((d) => d === -1).length > 1) throw new Error(`${where}: at most one -1`);
  const out: Dim[] = [...shape];
  const neg1 = shape.indexOf(-1);
  if (x.isStatic && shape.every((d) => typeof d === 'number')) {
    const total = x.size;
    const known = (shape as number[]).filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (neg1 >= 0) {
      if (known === 0 || total % known !== 0) throw new Error(`${where}: ${total} elements cannot fill the shape`);
      out[neg1] = total / known;
    } else if (known !== total) throw new Error(`${where}: element counts differ (${total} vs ${known})`);
  } else if (neg1 >= 0) {
    // -1 with symbolic dims: infer when the other dims match x's exactly except one position.
    out[neg1] = inferMinusOne(x.shape, shape, neg1, where);
  }
  for (const d of out) if (typeof d === 'number' && d < 0) throw new Error(`${where}: invalid target dimension ${d}`);
  if (shapesEqual(out, x.shape)) return x;
  return one(x.graph, 'Reshape', [x, shapeTensor(x, shape, where)], {}, out, x.dtype);
}

function inferMinusOne(inShape: Shape, target: readonly Dim[], at: number, where: string): Dim {
  const remaining = [...inShape];
  for (let i = 0; i < target.length; i++) {
    if (i === at) continue;
    const k = remaining.indexOf(target[i]);
    if (k < 0) throw new Error(`${where}: cannot infer -1 with symbolic dimensions`);
    remaining.splice(k, 1);
  }
  if (remaining.length === 1) return remaining[0];
  if (remaining.every((d) => typeof d === 'number')) return (remaining as number[]).reduce((a, b) => a * b, 1);
  // A product of symbolic dims: a derived symbol named after its factors, so that reshapes of tensors sharing
  // those dims (e.g. [B, T, K] and [B, T, N] to [-1, K] and [-1, N]) agree on it.
  return remaining.join('*');
}

/** An int64 shape tensor for `shape`, pulling symbolic dims from `like`'s run-time shape. */
function shapeTensor(like: Tensor, shape: readonly Dim[], where: string): Tensor {
  const g = like.graph;
  if (shape.every((d) => typeof d === 'number')) return i64(g, shape as number[]);
  const parts: Tensor[] = [];
  let s: Tensor | undefined;
  for (const d of shape) {
    if (typeof d === 'number') parts.push(i64(g, [d]));
    else {
      const k = like.shape.indexOf(d);
      if (k < 0) throw new Error(`${where}: symbolic dimension '${d}' does not occur in ${fmtShape(like.shape)}`);
      s ??= shapeOf(like);
      parts.push(gather(s, i64(g, [k]), 0));
    }
  }
  return concat(parts, 0);
}

/** Reshape x to the shape of `like` (same element count). */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  if (shapesEqual(x.shape, like.shape)) return x;
  if (like.isStatic) return reshape(x, like.shape);
  const g = graphOf('Reshape', [x, like]);
  return one(g, 'Reshape', [x, shapeOf(like)], {}, like.shape, x.dtype);
}

/** Flattens to 1-D. */
export function flatten(x: Tensor): Tensor {
  return reshape(x, [-1]);
}

/** Permutes axes; default reverses them. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => normAxis('Transpose', a, x.rank)) : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new Error(`Transpose: perm [${perm?.join(', ')}] is not a permutation of ${x.rank} axes`);
  }
  if (p.every((a, i) => a === i)) return x;
  // transpose(transpose(y, p1), p2) with p1[p2[i]] = i is y itself: a transpose undone (e.g. by the VJP of a
  // transposed matmul operand) costs nothing. Other compositions are left as two nodes, since onnxruntime folds
  // a swap of the last two axes into the next GEMM, which a composed permutation could prevent.
  const inner = x.producer;
  const p1 = inner?.op === 'Transpose' ? inner.attrs.perm : undefined;
  if (inner && p1 && p1.kind === 'ints' && p.every((v, i) => p1.value[v] === i)) return inner.inputs[0] as Tensor;
  return one(x.graph, 'Transpose', [x], { perm: ints(p) }, p.map((a) => x.shape[a]), x.dtype);
}

/** Swaps two axes. */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const i = normAxis('swapAxes', a, x.rank);
  const j = normAxis('swapAxes', b, x.rank);
  perm[i] = j;
  perm[j] = i;
  return transpose(x, perm);
}

/**
 * Slice with step 1: for each listed axis keep [start, end). Negative start/end count from the end; values are
 * clamped like numpy. The sliced axes need static sizes.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Tensor {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis('Slice', a, x.rank));
  if (starts.length !== ax.length || ends.length !== ax.length) {
    throw new Error(`Slice: starts, ends and axes need equal lengths, got ${starts.length}, ${ends.length}, ${ax.length}`);
  }
  const shape: Dim[] = [...x.shape];
  const s0: number[] = [];
  const e0: number[] = [];
  ax.forEach((a, i) => {
    const n = x.shape[a];
    if (typeof n !== 'number') throw new Error(`Slice: axis ${a} of ${fmtShape(x.shape)} is symbolic`);
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const s = clamp(starts[i]);
    const e = Math.max(clamp(ends[i]), s);
    s0.push(s);
    e0.push(e);
    shape[a] = e - s;
  });
  if (ax.every((a, i) => s0[i] === 0 && e0[i] === x.shape[a])) return x;
  const g = x.graph;
  return one(g, 'Slice', [x, i64(g, s0), i64(g, e0), i64(g, ax)], {}, shape, x.dtype);
}

/** Takes `length` entries of `axis` starting at `start`. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  return slice(x, [start], [start + length], [axis]);
}

/**
 * Splits `axis` into consecutive pieces of the given sizes: one ONNX Split node with one output per piece,
 * whose VJP is a single Concat of the pieces' gradients (zeros for unused pieces), not a zero-padded
 * full-size buffer per piece.
 */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const n = x.shape[a];
  const total = sizes.reduce((p, q) => p + q, 0);
  if (n !== total) throw new Error(`split: sizes [${sizes.join(', ')}] sum to ${total}, axis ${a} of ${fmtShape(x.shape)} has ${n}`);
  if (sizes.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`split: sizes [${sizes.join(', ')}] must be non-negative integers`);
  if (sizes.length === 1) return [x];
  const g = x.graph;
  return g.addNode(
    'Split',
    [x, i64(g, sizes)],
    { axis: int(a) },
    sizes.map((s) => ({ shape: x.shape.map((d, i) => (i === a ? s : d)), dtype: x.dtype })),
  );
}

/** Zero-padding: pads = [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] (ONNX order), non-negative. */
export function pad(x: Tensor, pads: readonly number[]): Tensor {
  if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new Error(`Pad: needs ${2 * x.rank} non-negative pads for ${fmtShape(x.shape)}, got [${pads.join(', ')}]`);
  }
  if (pads.every((p) => p === 0)) return x;
  const shape = x.shape.map((d, i) => {
    if (pads[i] === 0 && pads[i + x.rank] === 0) return d;
    if (typeof d !== 'number') throw new Error(`Pad: padded axis ${i} of ${fmtShape(x.shape)} is symbolic`);
    return d + pads[i] + pads[i + x.rank];
  });
  return one(x.graph, 'Pad', [x, i64(x.graph, pads)], { mode: { kind: 'string', value: 'constant' } }, shape, x.dtype);
}

/** Concatenates along `axis`; other dims must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('Concat: needs at least one tensor');
  if (xs.length === 1) return xs[0];
  const g = graphOf('Concat', xs);
  const r = xs[0].rank;
  const a = normAxis('Concat', axis, r);
  let along: Dim = 0;
  for (const t of xs) {
    if (t.rank !== r || t.dtype !== xs[0].dtype || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`Concat: shapes ${xs.map((q) => q.dtype + fmtShape(q.shape)).join(', ')} do not match outside axis ${a}`);
    }
    const d = t.shape[a];
    along = typeof along === 'number' && typeof d === 'number' ? along + d : `${along}+${d}`;
  }
  const shape = [...xs[0].shape];
  shape[a] = along;
  return one(g, 'Concat', [...xs], { axis: int(a) }, shape, xs[0].dtype);
}

/** Broadcasts x to `shape` (numpy rules; the result has the broadcast of both shapes). */
export function expand(x: Tensor, shape: readonly Dim[]): Tensor {
  const out = broadcastShapes('Expand', x.shape, shape);
  if (shapesEqual(out, x.shape)) return x;
  const g = x.graph;
  if (!shape.every((d) => typeof d === 'number')) {
    throw new Error(`Expand: target ${fmtShape(shape)} has symbolic dims; use expandLike with a tensor of that shape`);
  }
  return one(g, 'Expand', [x, i64(g, shape as number[])], {}, out, x.dtype);
}

/** Broadcasts x to the shape of `like` (works with symbolic dims via like's run-time shape). */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  const out = broadcastShapes('Expand', x.shape, like.shape);
  if (shapesEqual(out, x.shape)) return x;
  if (like.isStatic) return expand(x, like.shape);
  const g = graphOf('Expand', [x, like]);
  return one(g, 'Expand', [x, shapeOf(like)], {}, out, x.dtype);
}

/** Removes size-1 axes. */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const ax = normAxes('Squeeze', axes, x.rank);
  for (const a of ax) if (x.shape[a] !== 1) throw new Error(`Squeeze: axis ${a} of ${fmtShape(x.shape)} is not 1`);
  if (ax.length === 0) return x;
  return one(x.graph, 'Squeeze', [x, i64(x.graph, ax)], {}, x.shape.filter((_, i) => !ax.includes(i)), x.dtype);
}

/** Inserts size-1 axes at the given positions of the output. */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const r = x.rank + axes.length;
  const ax = normAxes('Unsqueeze', axes, r);
  if (ax.length === 0) return x;
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
  return one(x.graph, 'Unsqueeze', [x, i64(x.graph, ax)], {}, shape, x.dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// Gather / scatter

function requireIndex(op: string, idx: Tensor): void {
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error(`${op}: indices must be int64 or int32, got ${idx.dtype}`);
}

/** numpy `take`: out shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  requireIndex('Gather', indices);
  const a = normAxis('Gather', axis, x.rank);
  const g = graphOf('Gather', [x, indices]);
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return one(g, 'Gather', [x, indices], { axis: int(a) }, shape, x.dtype);
}

/** out[i][j] = x[idx[i][j]][j] along `axis` (like torch.gather); output has indices' shape. */
export function gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor {
  requireIndex('GatherElements', indices);
  const a = normAxis('GatherElements', axis, x.rank);
  if (indices.rank !== x.rank) throw new Error(`GatherElements: indices ${fmtShape(indices.shape)} and data ${fmtShape(x.shape)} need equal rank`);
  const g = graphOf('GatherElements', [x, indices]);
  return one(g, 'GatherElements', [x, indices], { axis: int(a) }, indices.shape, x.dtype);
}

/** GatherND (batch_dims 0): indices [..., k] index the first k axes of x. */
export function gatherND(x: Tensor, indices: Tensor): Tensor {
  requireIndex('GatherND', indices);
  const k = indices.shape[indices.rank - 1];
  if (typeof k !== 'number' || k > x.rank) throw new Error(`GatherND: last indices dim ${k} must be a number <= rank of ${fmtShape(x.shape)}`);
  const g = graphOf('GatherND', [x, indices]);
  return one(g, 'GatherND', [x, indices], {}, [...indices.shape.slice(0, -1), ...x.shape.slice(k)], x.dtype);
}

/** data with `updates` added at positions indices along `axis` (ScatterElements, reduction='add'). */
export function scatterElementsAdd(data: Tensor, indices: Tensor, updates: Tensor, axis: number): Tensor {
  requireIndex('ScatterElements', indices);
  const a = normAxis('ScatterElements', axis, data.rank);
  if (!shapesEqual(indices.shape, updates.shape)) {
    throw new Error(`ScatterElements: indices ${fmtShape(indices.shape)} and updates ${fmtShape(updates.shape)} must have one shape`);
  }
  if (data.dtype !== updates.dtype) throw new Error(`ScatterElements: dtype mismatch ${data.dtype} vs ${updates.dtype}`);
  const g = graphOf('ScatterElements', [data, indices, updates]);
  return one(g, 'ScatterElements', [data, indices, updates], { axis: int(a), reduction: { kind: 'string', value: 'add' } }, data.shape, data.dtype);
}

/** data with `updates` added at the index tuples (ScatterND, reduction='add'); updates = indices.shape[:-1] + data.shape[k:]. */
export function scatterNDAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  requireIndex('ScatterND', indices);
  const k = indices.shape[indices.rank - 1];
  if (typeof k !== 'number' || k > data.rank) throw new Error(`ScatterND: last indices dim ${k} must be <= rank of ${fmtShape(data.shape)}`);
  const want = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
  if (!shapesEqual(want, updates.shape)) {
    throw new Error(`ScatterND: updates ${fmtShape(updates.shape)} must have shape ${fmtShape(want)} (indices ${fmtShape(indices.shape)}, data ${fmtShape(data.shape)})`);
  }
  if (data.dtype !== updates.dtype) throw new Error(`ScatterND: dtype mismatch ${data.dtype} vs ${updates.dtype}`);
  const g = graphOf('ScatterND', [data, indices, updates]);
  return one(g, 'ScatterND', [data, indices, updates], { reduction: { kind: 'string', value: 'add' } }, data.shape, data.dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// Reductions and normalizers

function reduce(op: string, x: Tensor, axes: readonly number[] | undefined, keepdims: boolean): Tensor {
  const ax = axes === undefined ? x.shape.map((_, i) => i) : normAxes(op, axes, x.rank);
  if (ax.length === 0) return x;
  const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
  return one(x.graph, op, [x, i64(x.graph, ax)], { keepdims: int(keepdims ? 1 : 0) }, shape, x.dtype);
}

/** Sum over `axes` (default: all). */
export const sum = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => reduce('ReduceSum', x, axes, keepdims);
/** Mean over `axes` (default: all). */
export const mean = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => {
  requireFloat('ReduceMean', x);
  return reduce('ReduceMean', x, axes, keepdims);
};
/** Max over `axes`; the gradient is split evenly among tied maxima. */
export const max = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => reduce('ReduceMax', x, axes, keepdims);
/** Sum of squares over `axes` (default: all), one ReduceSumSquare node (e.g. for gradient norms). */
export const sumSquare = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => {
  requireFloat('ReduceSumSquare', x);
  return reduce('ReduceSumSquare', x, axes, keepdims);
};
/** Min over `axes`; the gradient is split evenly among tied minima. */
export const min = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => reduce('ReduceMin', x, axes, keepdims);
/** log(sum(exp(x))) over `axes`, computed stably. */
export const logsumexp = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor => {
  requireFloat('ReduceLogSumExp', x);
  return reduce('ReduceLogSumExp', x, axes, keepdims);
};

/** Index of the maximum along `axis` (int64, first occurrence on ties; no gradient). */
export function argmax(x: Tensor, axis = -1, keepdims = false): Tensor {
  const a = normAxis('ArgMax', axis, x.rank);
  const shape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return one(x.graph, 'ArgMax', [x], { axis: int(a), keepdims: int(keepdims ? 1 : 0), select_last_index: int(0) }, shape, 'int64');
}

/**
 * Cumulative sum along `axis`. exclusive: y_i = sum_{j<i} x_j; reverse: sums from the end
 * (y_i = sum_{j>=i} x_j).
 */
export function cumsum(x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  const a = normAxis('CumSum', axis, x.rank);
  return one(
    x.graph,
    'CumSum',
    [x, x.graph.scalar(a, 'int64')],
    { exclusive: int(opts.exclusive ? 1 : 0), reverse: int(opts.reverse ? 1 : 0) },
    x.shape,
    x.dtype,
  );
}

export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('Softmax', x);
  return one(x.graph, 'Softmax', [x], { axis: int(normAxis('Softmax', axis, x.rank)) }, x.shape, x.dtype);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('LogSoftmax', x);
  return one(x.graph, 'LogSoftmax', [x], { axis: int(normAxis('LogSoftmax', axis, x.rank)) }, x.shape, x.dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// Sources (no tensor inputs: the graph is explicit)

/** A tensor of `shape` filled with `value` (ConstantOfShape: tiny in the model file, whatever the size). */
export function full(g: Graph, shape: readonly number[], value: number, dtype: DType): Tensor {
  const sh = staticShape(shape, 'full');
  if (sh.length === 0) return g.scalar(value, dtype);
  return one(
    g,
    'ConstantOfShape',
    [i64(g, sh)],
    { value: { kind: 'tensor', value: { shape: [1], dtype, data: toTypedArray([value], dtype) } } },
    sh,
    dtype,
  );
}

export const zeros = (g: Graph, shape: readonly number[], dtype: DType): Tensor => full(g, shape, 0, dtype);
export const ones = (g: Graph, shape: readonly number[], dtype: DType): Tensor => full(g, shape, 1, dtype);

/** Zeros of x's shape and dtype (symbolic shapes allowed). */
export function zerosLike(x: Tensor): Tensor {
  if (x.isStatic) return zeros(x.graph, x.shape as number[], x.dtype);
  return expandLike(x.graph.scalar(0, x.dtype), x);
}

let symbolCount = 0;

/**
 * [start, start+delta, ...) below limit, int64 (ONNX Range). start/limit may be int64 scalar tensors (e.g.
 * `dim(x, 1)`); the length is then a fresh symbolic dim.
 */
export function range(g: Graph, start: number | Tensor, limit: number | Tensor, delta = 1): Tensor {
  for (const t of [start, limit]) {
    if (typeof t !== 'number' && (t.dtype !== 'int64' || t.rank !== 0)) throw new Error(`Range: start/limit must be int64 scalars, got ${t}`);
  }
  const n: Dim =
    typeof start === 'number' && typeof limit === 'number' ? Math.max(Math.ceil((limit - start) / delta), 0) : `range_${++symbolCount}`;
  const gg = graphOf('Range', [g.scalar(0, 'int64'), typeof start === 'number' ? null : start, typeof limit === 'number' ? null : limit]);
  return one(gg, 'Range', [lift(gg, start, 'int64'), lift(gg, limit, 'int64'), gg.scalar(delta, 'int64')], {}, [n], 'int64');
}

/** The run-time size of one axis as an int64 scalar (a constant when the dim is static). */
export function dim(x: Tensor, axis: number): Tensor {
  const a = normAxis('dim', axis, x.rank);
  const d = x.shape[a];
  if (typeof d === 'number') return x.graph.scalar(d, 'int64');
  return one(x.graph, 'Gather', [shapeOf(x), x.graph.scalar(a, 'int64')], { axis: int(0) }, [], 'int64');
}
