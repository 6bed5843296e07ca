/**
 * Control flow: ONNX Loop (opset 19+ semantics) and If, built from body graphs nested in the parent graph.
 * A body may read any tensor of the enclosing graphs directly (outer-scope reference), e.g. a [K, B, T] batch
 * tensor indexed by the iteration number.
 *
 * ONNX Loop: inputs (M trip count int64 scalar, cond bool scalar, v_initial...); body inputs
 * (iteration_num, cond_in, v_in...); body outputs (cond_out, v_out..., scan_out...); node outputs
 * (v_final..., scan_outputs stacked along a new leading axis of length = number of iterations run).
 */
import { Dim, Graph, Shape, Tensor, fmtShape } from './graph';
import { shapesEqual } from './ops';

export interface LoopBodyArgs {
  /** The body graph (build constants/sources in it: `zeros(body, ...)`). */
  body: Graph;
  /** Iteration number, int64 scalar, 0-based. */
  iter: Tensor;
  /** Loop-carried values for this iteration, shaped like the initial values. */
  carried: Tensor[];
}

export interface LoopBodyResult {
  /** Next values of the carried state (same shapes and dtypes as the initial values). */
  carried: readonly Tensor[];
  /** Per-iteration values stacked along a new leading axis in the loop's outputs (e.g. per-step losses). */
  scans?: readonly Tensor[];
  /** Continue condition (bool scalar); default: always continue until the trip count. */
  cond?: Tensor;
}

export interface LoopResult {
  /** Final carried values. */
  carried: Tensor[];
  /** Scan outputs, each [iterations, ...]. */
  scans: Tensor[];
}

/**
 * Appends a Loop node running `build` `tripCount` times with loop-carried `initial` state.
 * @param tripCount a number, or an int64 scalar tensor of the parent graph (the scan outputs' leading dim is
 *   then symbolic, named `${name}_iters`).
 */
export function loop(
  parent: Graph,
  name: string,
  tripCount: number | Tensor,
  initial: readonly Tensor[],
  build: (args: LoopBodyArgs) => LoopBodyResult,
): LoopResult {
  for (const t of initial) if (!parent.sees(t.graph)) throw new Error(`loop '${name}': initial value ${t} is not visible from graph '${parent.name}'`);
  const body = parent.subgraph(name);
  const iter = body.input(`${name}_iter`, [], 'int64');
  const condIn = body.input(`${name}_cond_in`, [], 'bool');
  const carriedIn = initial.map((t, i) => body.input(`${name}_carried${i}_in`, t.shape, t.dtype));
  const res = build({ body, iter, carried: carriedIn });
  if (res.carried.length !== initial.length) {
    throw new Error(`loop '${name}': body returned ${res.carried.length} carried values, expected ${initial.length}`);
  }
  res.carried.forEach((t, i) => {
    if (!shapesEqual(t.shape, initial[i].shape) || t.dtype !== initial[i].dtype) {
      throw new Error(`loop '${name}': carried value ${i} changes from ${initial[i].dtype}${fmtShape(initial[i].shape)} to ${t.dtype}${fmtShape(t.shape)}`);
    }
  });
  const cond = res.cond ?? condIn;
  if (cond.dtype !== 'bool' || cond.rank !== 0) throw new Error(`loop '${name}': cond must be a bool scalar, got ${cond}`);
  body.output(`${name}_cond_out`, cond);
  res.carried.forEach((t, i) => body.output(`${name}_carried${i}_out`, t));
  const scans = res.scans ?? [];
  scans.forEach((t, i) => body.output(`${name}_scan${i}_out`, t));
  return loopNode(parent, name, body, tripCount, initial);
}

/**
 * Lower level: the Loop node for a body graph built by hand (inputs: iter int64 [], cond bool [], carried...;
 * outputs: cond, carried..., scans...). Returns the node's outputs.
 */
export function loopNode(parent: Graph, name: string, body: Graph, tripCount: number | Tensor, initial: readonly Tensor[]): LoopResult {
  if (body.parent !== parent) throw new Error(`loop '${name}': body graph '${body.name}' is not a subgraph of '${parent.name}'`);
  const nc = initial.length;
  if (body.inputs.length !== nc + 2) throw new Error(`loop '${name}': body has ${body.inputs.length} inputs, expected ${nc + 2} (iter, cond, carried)`);
  if (body.outputs.length < nc + 1) throw new Error(`loop '${name}': body has ${body.outputs.length} outputs, expected at least ${nc + 1}`);
  const m = typeof tripCount === 'number' ? parent.scalar(tripCount, 'int64') : tripCount;
  if (m.dtype !== 'int64' || m.rank !== 0) throw new Error(`loop '${name}': trip count must be an int64 scalar, got ${m}`);
  const iters: Dim = typeof tripCount === 'number' ? tripCount : `${name}_iters`;
  const outs: { shape: Shape; dtype: Tensor['dtype'] }[] = [
    ...initial.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    ...body.outputs.slice(nc + 1).map((t) => ({ shape: [iters, ...t.shape], dtype: t.dtype })),
  ];
  const o = parent.addNode('Loop', [m, parent.scalar(1, 'bool'), ...initial], { body: { kind: 'graph', value: body } }, outs, name);
  return { carried: o.slice(0, nc), scans: o.slice(nc) };
}

/**
 * If: runs `thenBranch` or `elseBranch` (each building in its own body graph) depending on a bool scalar.
 * Both branches must return the same number of tensors with equal dtypes and shapes.
 */
export function ifElse(
  parent: Graph,
  name: string,
  cond: Tensor,
  thenBranch: (body: Graph) => readonly Tensor[],
  elseBranch: (body: Graph) => readonly Tensor[],
): Tensor[] {
  if (cond.dtype !== 'bool' || cond.rank !== 0) throw new Error(`if '${name}': cond must be a bool scalar, got ${cond}`);
  const tb = parent.subgraph(`${name}_then`);
  const eb = parent.subgraph(`${name}_else`);
  const to = thenBranch(tb);
  const eo = elseBranch(eb);
  if (to.length !== eo.length) throw new Error(`if '${name}': branches return ${to.length} and ${eo.length} values`);
  to.forEach((t, i) => {
    if (t.dtype !== eo[i].dtype || !shapesEqual(t.shape, eo[i].shape)) {
      throw new Error(`if '${name}': output ${i} differs between branches: ${t.dtype}${fmtShape(t.shape)} vs ${eo[i].dtype}${fmtShape(eo[i].shape)}`);
    }
  });
  to.forEach((t, i) => tb.output(`${name}_then_out${i}`, t));
  eo.forEach((t, i) => eb.output(`${name}_else_out${i}`, t));
  return parent.addNode(
    'If',
    [cond],
    { then_branch: { kind: 'graph', value: tb }, else_branch: { kind: 'graph', value: eb } },
    to.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    name,
  );
}
