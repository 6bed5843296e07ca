/**
 * ONNX `Loop` built on the tracing IR (graph.subgraph + a node with a GRAPH attribute).
 *
 *   outputs = Loop(M, cond, v_initial...)  with body(iter, cond_in, v_in...) -> (cond_out, v_out..., scan...)
 *
 * Carried values thread through the iterations; each scan value is stacked along a new leading axis, so a
 * scalar scanned over M iterations comes out as [M]. The body may read any tensor of the enclosing graphs
 * (ONNX outer-scope references), e.g. the [K, ...] batch it slices with `iter`.
 */

import { Graph, Tensor } from '../graph/graph';

export interface LoopBodyResult {
  /** Next values of the carried tensors, same order/shapes/dtypes as the initial ones. */
  readonly carried: readonly Tensor[];
  /** Per-iteration values, stacked into [M, ...] outputs. */
  readonly scan: readonly Tensor[];
}

export interface LoopResult {
  readonly carried: Tensor[];
  readonly scan: Tensor[];
}

let loopCounter = 0;

/**
 * Appends a Loop of `trips` iterations to `parent` (always running all of them: cond stays true).
 * `build` receives the iteration number (int64 scalar) and the carried values as body inputs.
 */
export function loop(
  parent: Graph,
  trips: number,
  initial: readonly Tensor[],
  build: (iter: Tensor, carried: Tensor[], body: Graph) => LoopBodyResult,
  name = 'loop',
): LoopResult {
  if (!Number.isInteger(trips) || trips < 1) throw new Error(`${name}: trip count must be a positive integer, got ${trips}`);
  const id = `${name}${loopCounter++}`;
  const body = parent.subgraph(id);
  const iter = body.input(`${id}.iter`, [], 'int64');
  const condIn = body.input(`${id}.cond`, [], 'bool');
  const carriedIn = initial.map((t, i) => body.input(`${id}.in${i}`, t.shape, t.dtype));
  const r = build(iter, carriedIn, body);
  if (r.carried.length !== initial.length) throw new Error(`${name}: body returned ${r.carried.length} carried values, expected ${initial.length}`);
  r.carried.forEach((t, i) => {
    const want = initial[i] as Tensor;
    if (t.dtype !== want.dtype || t.shape.length !== want.shape.length || t.shape.some((d, k) => d !== want.shape[k])) {
      throw new Error(`${name}: carried value ${i} changes from ${want} to ${t}`);
    }
  });
  // cond passes through unchanged (true): a fixed trip count.
  body.output(`${id}.cond_out`, condIn);
  r.carried.forEach((t, i) => body.output(`${id}.out${i}`, t));
  r.scan.forEach((t, i) => body.output(`${id}.scan${i}`, t));
  const m = parent.constant(BigInt64Array.of(BigInt(trips)), 'int64', []);
  const cond = parent.constant(Uint8Array.of(1), 'bool', []);
  const outs = parent.addNode(
    'Loop',
    [m, cond, ...initial],
    { body: { kind: 'graph', value: body } },
    [...initial.map((t) => ({ shape: t.shape, dtype: t.dtype })), ...r.scan.map((t) => ({ shape: [trips, ...t.shape], dtype: t.dtype }))],
    id,
  );
  return { carried: outs.slice(0, initial.length), scan: outs.slice(initial.length) };
}
