/**
 * Gradient checking against float64 central finite differences, with every forward evaluated by onnxruntime
 * from the emitted model (so the check covers shape inference, VJP rules, emission and the kernels).
 *
 * For f: inputs -> y we check the scalar L = sum(y * W) with a fixed random W (so every output element matters
 * with a different weight). Analytic: grad(L, inputs) from one run. Numeric: dL/dx_i = (L(x + eps e_i) -
 * L(x - eps e_i)) / (2 eps), one pair of runs per input element. Error: max_i |analytic_i - numeric_i| divided by
 * max_i |numeric_i| (relative to the gradient's scale, robust to zero entries).
 */
import { DType } from '../../../../src/engine/graph/dtype';
import { Graph, Tensor } from '../../../../src/engine/graph/graph';
import * as op from '../../../../src/engine/graph/ops';
import { grad } from '../../../../src/engine/graph/autodiff';
import { toOnnx } from '../../../../src/engine/graph/emit';
import { Rng } from '../../../../src/engine/graph/params';
import { Feed, FeedValue, OrtModel } from './ortRun';

/** How to fill an input. */
export type Gen =
  | 'normal' // N(0, 1)
  | 'positive' // uniform [0.5, 2]
  | 'away' // N(0,1) pushed away from 0 by 0.2 (kinks at 0: abs, relu, ...)
  | { ints: number; min?: number } // int64 uniform in [min, ints)
  | { values: readonly number[] }
  | { uniform: [number, number] };

export interface InputSpec {
  shape: readonly number[];
  dtype?: 'float64' | 'int64' | 'bool';
  gen?: Gen;
  /** Exclude from the gradient check (e.g. a mask-like float). */
  noGrad?: boolean;
}

export interface CheckResult {
  /** Max relative gradient error over all checked inputs. */
  gradErr: number;
  /** Per-input relative gradient errors (NaN for non-float or noGrad inputs). */
  perInput: number[];
  /** Output y from the float64 run. */
  y: Float64Array;
  yDims: readonly number[];
  inputs: FeedValue[];
  analytic: (Float64Array | null)[];
}

function numel(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

export function makeInputs(specs: readonly InputSpec[], seed: number): FeedValue[] {
  const rng = new Rng(seed);
  return specs.map((s) => {
    const n = numel(s.shape);
    const gen = s.gen ?? 'normal';
    if (s.dtype === 'int64') {
      if (typeof gen === 'object' && 'values' in gen) return { data: BigInt64Array.from(gen.values, (v) => BigInt(v)), dims: s.shape };
      if (typeof gen !== 'object' || !('ints' in gen)) throw new Error('int64 input needs gen {ints} or {values}');
      const lo = gen.min ?? 0;
      return { data: BigInt64Array.from({ length: n }, () => BigInt(lo + Math.floor(rng.next() * (gen.ints - lo)))), dims: s.shape };
    }
    if (s.dtype === 'bool') {
      if (typeof gen === 'object' && 'values' in gen) return { data: Uint8Array.from(gen.values), dims: s.shape };
      return { data: Uint8Array.from({ length: n }, () => (rng.next() < 0.5 ? 1 : 0)), dims: s.shape };
    }
    const d = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (gen === 'normal') d[i] = rng.normal();
      else if (gen === 'positive') d[i] = 0.5 + 1.5 * rng.next();
      else if (gen === 'away') {
        const v = rng.normal();
        d[i] = v + (v < 0 ? -0.2 : 0.2);
      } else if ('values' in gen) d[i] = gen.values[i];
      else if ('uniform' in gen) d[i] = gen.uniform[0] + (gen.uniform[1] - gen.uniform[0]) * rng.next();
      else throw new Error('float input cannot use gen {ints}');
    }
    return { data: d, dims: s.shape };
  });
}

/** Builds inputs named in0, in1, ... of the given float dtype (float specs) and applies fn. */
function build(g: Graph, specs: readonly InputSpec[], floatType: DType, fn: (...xs: Tensor[]) => Tensor): { xs: Tensor[]; y: Tensor } {
  const xs = specs.map((s, i) => g.input(`in${i}`, s.shape, s.dtype === 'int64' ? 'int64' : s.dtype === 'bool' ? 'bool' : floatType));
  return { xs, y: fn(...xs) };
}

/** Casts float64 feeds to float32 (for the float32 forward run). */
export function toFloat32(f: FeedValue): FeedValue {
  return f.data instanceof Float64Array ? { data: Float32Array.from(f.data), dims: f.dims } : f;
}

export async function gradCheck(
  specs: readonly InputSpec[],
  fn: (...xs: Tensor[]) => Tensor,
  opts: { seed?: number; eps?: number } = {},
): Promise<CheckResult> {
  const eps = opts.eps ?? 1e-6;
  const inputs = makeInputs(specs, opts.seed ?? 1);
  const checked = specs.map((s) => (s.dtype === undefined || s.dtype === 'float64') && !s.noGrad);

  // Analytic run: y, L and dL/dx.
  const g = new Graph();
  const { xs, y } = build(g, specs, 'float64', fn);
  if (y.dtype !== 'float64') throw new Error(`gradCheck: output is ${y.dtype}`);
  const wRng = new Rng(12345);
  const yShape = y.shape as number[];
  const wData = Float64Array.from({ length: numel(yShape) }, () => wRng.normal());
  const W = g.constant(wData, 'float64', yShape);
  const L = op.sum(op.mul(y, W));
  const wrt = xs.filter((_, i) => checked[i]);
  const gs = grad(L, wrt);
  g.output('y', y);
  g.output('L', L);
  gs.forEach((t, i) => g.output(`g${i}`, t));
  const m = await OrtModel.load(toOnnx(g), 'basic');
  const feeds = (vals: FeedValue[]): Record<string, FeedValue> => Object.fromEntries(vals.map((v, i) => [`in${i}`, v]));
  const r = await m.run(feeds(inputs));
  await m.release();

  // Forward-only model for finite differences.
  const gf = new Graph();
  const f = build(gf, specs, 'float64', fn);
  const Wf = gf.constant(wData, 'float64', yShape);
  gf.output('L', op.sum(op.mul(f.y, Wf)));
  const mf = await OrtModel.load(toOnnx(gf), 'basic');

  const perInput: number[] = [];
  const analytic: (Float64Array | null)[] = [];
  let k = 0;
  for (let i = 0; i < specs.length; i++) {
    if (!checked[i]) {
      perInput.push(NaN);
      analytic.push(null);
      continue;
    }
    const a = r[`g${k++}`].data as Float64Array;
    analytic.push(a);
    const x = inputs[i].data as Float64Array;
    const num = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const orig = x[j];
      const h = eps * Math.max(1, Math.abs(orig));
      x[j] = orig + h;
      const lp = ((await mf.run(feeds(inputs))).L.data as Float64Array)[0];
      x[j] = orig - h;
      const lm = ((await mf.run(feeds(inputs))).L.data as Float64Array)[0];
      x[j] = orig;
      num[j] = (lp - lm) / (2 * h);
    }
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < x.length; j++) {
      diff = Math.max(diff, Math.abs(a[j] - num[j]));
      scale = Math.max(scale, Math.abs(num[j]));
    }
    perInput.push(scale > 0 ? diff / scale : diff);
  }
  await mf.release();
  const gradErr = Math.max(0, ...perInput.filter((e) => !Number.isNaN(e)));
  return { gradErr, perInput, y: r.y.data as Float64Array, yDims: r.y.dims, inputs, analytic };
}

/** Runs fn's forward in float32 on the same inputs (cast) and returns y. */
export async function forward32(specs: readonly InputSpec[], fn: (...xs: Tensor[]) => Tensor, inputs: FeedValue[]): Promise<Feed> {
  const g = new Graph();
  const { y } = build(g, specs, 'float32', fn);
  g.output('y', y);
  const m = await OrtModel.load(toOnnx(g));
  const r = await m.run(Object.fromEntries(inputs.map((v, i) => [`in${i}`, toFloat32(v)])));
  await m.release();
  return r.y.data;
}

/** max |a - b| / max(max |b|, 1e-30). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return Number.isNaN(d) ? Infinity : d / Math.max(s, 1e-30);
}
