/**
 * Parameter declarations. A model lists its tensors as ParamSpecs; a trainer decides how they enter the graph:
 * one graph input per tensor (`declareParams`), or all float32 parameters packed in one flat buffer and sliced
 * into named views inside the graph (`flatLayout` + `viewsOfFlat`), so that an optimizer can update the whole
 * buffer with a handful of elementwise ops instead of a dozen per tensor (see recipes/onnx-training.md).
 */
import { DType } from './dtype';
import { Graph, Tensor, fmtShape } from './graph';
import * as op from './ops';

export type ParamInit =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number; mean?: number }
  | { kind: 'uniform'; low: number; high: number };

export interface ParamSpec {
  /** Unique name, e.g. 'h.0.attn.c_attn.weight' (HF checkpoint names where a model has them). */
  name: string;
  shape: readonly number[];
  /** Default float32. */
  dtype?: DType;
  init: ParamInit;
  /** Whether AdamW applies weight decay; default true for rank >= 2 (matrices, embeddings), false otherwise. */
  weightDecay?: boolean;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function decays(p: ParamSpec): boolean {
  return p.weightDecay ?? p.shape.length >= 2;
}

export interface FlatEntry {
  spec: ParamSpec;
  /** Element offset in the flat buffer. */
  offset: number;
  size: number;
}

export interface FlatLayout {
  dtype: DType;
  /** Total elements, including alignment padding. */
  total: number;
  entries: FlatEntry[];
}

/**
 * Packs specs (all of one dtype) into one flat buffer, each tensor starting at a multiple of `align` elements.
 * Throws on duplicate names or mixed dtypes.
 */
export function flatLayout(specs: readonly ParamSpec[], align = 1): FlatLayout {
  const names = new Set<string>();
  const dtype = specs[0]?.dtype ?? 'float32';
  let off = 0;
  const entries: FlatEntry[] = [];
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`flatLayout: duplicate parameter name '${s.name}'`);
    names.add(s.name);
    if ((s.dtype ?? 'float32') !== dtype) throw new Error(`flatLayout: parameter '${s.name}' is ${s.dtype ?? 'float32'}, others are ${dtype}`);
    if (s.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`flatLayout: parameter '${s.name}' has invalid shape ${fmtShape(s.shape)}`);
    off = Math.ceil(off / align) * align;
    const size = numel(s.shape);
    entries.push({ spec: s, offset: off, size });
    off += size;
  }
  return { dtype, total: Math.ceil(off / align) * align, entries };
}

/** Named views (Slice + Reshape) of a flat parameter tensor [total] laid out by `layout`. */
export function viewsOfFlat(flat: Tensor, layout: FlatLayout): Map<string, Tensor> {
  if (flat.rank !== 1 || flat.shape[0] !== layout.total || flat.dtype !== layout.dtype) {
    throw new Error(`viewsOfFlat: flat tensor ${flat} does not match layout ${layout.dtype}[${layout.total}]`);
  }
  const views = new Map<string, Tensor>();
  for (const e of layout.entries) views.set(e.spec.name, op.reshape(op.narrow(flat, 0, e.offset, e.size), e.spec.shape));
  return views;
}

/**
 * Concatenates per-parameter tensors (e.g. gradients w.r.t. the views) back into one flat [total] tensor in
 * layout order, zero-filling alignment gaps.
 */
export function flatten(parts: ReadonlyMap<string, Tensor>, layout: FlatLayout): Tensor {
  const pieces: Tensor[] = [];
  let off = 0;
  let g: Graph | undefined;
  for (const e of layout.entries) {
    const t = parts.get(e.spec.name);
    if (!t) throw new Error(`flatten: no tensor for parameter '${e.spec.name}'`);
    if (!op.shapesEqual(t.shape, e.spec.shape)) throw new Error(`flatten: '${e.spec.name}' has shape ${fmtShape(t.shape)}, layout says ${fmtShape(e.spec.shape)}`);
    g = g && g.sees(t.graph) ? g : t.graph;
    if (e.offset > off) pieces.push(op.zeros(t.graph, [e.offset - off], layout.dtype));
    pieces.push(op.reshape(t, [e.size]));
    off = e.offset + e.size;
  }
  if (!g) throw new Error('flatten: empty layout');
  if (layout.total > off) pieces.push(op.zeros(g, [layout.total - off], layout.dtype));
  return op.concat(pieces, 0);
}

/** Declares one graph input per parameter (named by the spec). */
export function declareParams(g: Graph, specs: readonly ParamSpec[]): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const s of specs) m.set(s.name, g.input(s.name, s.shape, s.dtype ?? 'float32'));
  return m;
}

/** Deterministic PRNG (mulberry32) and Box-Muller normals, for reproducible initialization. */
export class Rng {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Fills `out` per the init rule. */
export function fillInit(out: Float32Array | Float64Array, init: ParamInit, rng: Rng): void {
  for (let i = 0; i < out.length; i++) {
    switch (init.kind) {
      case 'zeros':
        out[i] = 0;
        break;
      case 'ones':
        out[i] = 1;
        break;
      case 'constant':
        out[i] = init.value;
        break;
      case 'normal':
        out[i] = (init.mean ?? 0) + init.std * rng.normal();
        break;
      case 'uniform':
        out[i] = init.low + (init.high - init.low) * rng.next();
        break;
    }
  }
}

/** A flat float32 buffer initialized per the layout's specs (tensors in layout order; one seed for all). */
export function initFlat(layout: FlatLayout, seed: number): Float32Array {
  if (layout.dtype !== 'float32') throw new Error(`initFlat: layout dtype ${layout.dtype} is not float32`);
  const buf = new Float32Array(layout.total);
  const rng = new Rng(seed);
  for (const e of layout.entries) fillInit(buf.subarray(e.offset, e.offset + e.size), e.spec.init, rng);
  return buf;
}
