/**
 * Graph -> ONNX ModelProto bytes. Only nodes that the graph's outputs depend on are emitted (dead code from
 * tracing, e.g. forward values the backward does not need, is dropped). Body graphs (Loop/If) are emitted as
 * GRAPH attributes; their outer-scope references keep the producing nodes of enclosing graphs alive.
 *
 * IR-only ops are lowered here: StopGradient -> Identity, RMSNorm, TokenLogProb and LinearTokenLogProb -> primitives. In float64 graphs Erf (no
 * float64 kernel in onnxruntime's CPU provider), Gelu and LayerNormalization are expanded into float64 primitives.
 */
import { DType, ONNX_DTYPE, toTypedArray } from './dtype';
import { Attr, ConstantValue, Graph, Node, Tensor } from './graph';
import { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, encodeModel } from '../onnx/onnxProto';

export interface EmitOptions {
  /** Default opset 20 (IR version 9). */
  opset?: number;
  producerName?: string;
  /**
   * Emit onnxruntime's fused kernel where the IR has one instead of expanding it into standard ONNX primitives:
   * float32 RMSNorm -> SimplifiedLayerNormalization (one vectorized kernel instead of six; onnxruntime-only, so
   * off by default and for files written for other runtimes).
   */
  onnxruntimeKernels?: boolean;
}

/** Emission for graphs that only this project's onnxruntime sessions load (training steps, scoring). */
export const SESSION_EMIT: EmitOptions = { onnxruntimeKernels: true };

/** Where initializer data goes when it is stored outside the model file (see toOnnxExternal). */
interface ExternalSink {
  location: string;
  minBytes: number;
  chunks: Uint8Array[];
  length: number;
}

/** ONNX IR version that goes with an opset (onnx/docs/Versioning.md). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function tensorProto(v: ConstantValue, name?: string, sink?: ExternalSink): TensorProto {
  const d = v.data;
  const raw = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (sink && raw.byteLength >= sink.minBytes) {
    // Each tensor starts at a multiple of 4096 bytes (page-aligned for memory mapping).
    const pad = (4096 - (sink.length % 4096)) % 4096;
    if (pad) sink.chunks.push(new Uint8Array(pad));
    const offset = sink.length + pad;
    sink.chunks.push(raw);
    sink.length = offset + raw.byteLength;
    return { name, dims: v.shape, dataType: ONNX_DTYPE[v.dtype], rawData: new Uint8Array(0), external: { location: sink.location, offset, length: raw.byteLength } };
  }
  return { name, dims: v.shape, dataType: ONNX_DTYPE[v.dtype], rawData: raw };
}

function valueInfo(t: Tensor, name = t.name): ValueInfoProto {
  return { name, elemType: ONNX_DTYPE[t.dtype], shape: t.shape };
}

type Opts = Required<EmitOptions> & { sink?: ExternalSink };

function attrProto(name: string, a: Attr, opts: Opts): AttributeProto {
  switch (a.kind) {
    case 'int':
      return { name, type: 'int', i: a.value };
    case 'float':
      return { name, type: 'float', f: a.value };
    case 'ints':
      return { name, type: 'ints', ints: a.value };
    case 'floats':
      return { name, type: 'floats', floats: a.value };
    case 'string':
      return { name, type: 'string', s: a.value };
    case 'tensor':
      return { name, type: 'tensor', t: tensorProto(a.value) };
    case 'graph':
      return { name, type: 'graph', g: graphProto(a.value, opts) };
  }
}

/**
 * Tensors from graphs outside `g` that nodes of `g` (or of its nested bodies) read: a body's outer-scope
 * references. Only counts live nodes.
 */
function outerRefs(g: Graph): Set<Tensor> {
  const refs = new Set<Tensor>();
  for (const n of liveNodes(g)) {
    for (const i of n.inputs) if (i && i.graph !== g) refs.add(i);
    for (const a of Object.values(n.attrs)) {
      if (a.kind === 'graph') for (const r of outerRefs(a.value)) if (r.graph !== g) refs.add(r);
    }
  }
  return refs;
}

/** Nodes of g that its outputs depend on, in creation order. */
function liveNodes(g: Graph): Node[] {
  const live = new Set<Node>();
  const stack: Tensor[] = [...g.outputs];
  while (stack.length) {
    const t = stack.pop()!;
    const p = t.producer;
    if (!p || p.graph !== g || live.has(p)) continue;
    live.add(p);
    for (const i of p.inputs) if (i) stack.push(i);
    for (const a of Object.values(p.attrs)) if (a.kind === 'graph') for (const r of outerRefs(a.value)) stack.push(r);
  }
  return g.nodes.filter((n) => live.has(n));
}

function graphProto(g: Graph, opts: Opts): GraphProto {
  const nodes: NodeProto[] = [];
  for (const n of liveNodes(g)) nodes.push(...lowerNode(n, opts));
  return {
    name: g.name,
    nodes,
    initializers: g.initializers.map((i) => tensorProto(i.value, i.tensor.name, opts.sink)),
    inputs: g.inputs.map((t) => valueInfo(t)),
    outputs: g.outputs.map((t) => valueInfo(t)),
  };
}

function plainNode(n: Node, opts: Opts, opType = n.op): NodeProto {
  // Trailing omitted optional inputs are dropped rather than written as '' (onnxruntime 1.30 crashes on a
  // LayerNormalization whose trailing bias is '').
  const inputs = n.inputs.map((i) => (i ? i.name : ''));
  while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
  return {
    name: n.outputs[0]?.name,
    opType,
    inputs,
    outputs: n.outputs.map((o) => o.name),
    attributes: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a, opts)),
  };
}

function lowerNode(n: Node, opts: Opts): NodeProto[] {
  if (n.op === 'StopGradient') return [plainNode(n, opts, 'Identity')];
  const out = n.outputs.map((o) => o.name);
  const ins = n.inputs.map((i) => (i ? i.name : ''));
  const dtype = n.outputs[0]?.dtype;
  if (n.op === 'RMSNorm') {
    // IR-only op (ONNX RMSNormalization needs opset 23): expanded, or onnxruntime's own kernel (outputs Y and
    // the inverse RMS, as the IR op).
    const eps = n.attrs.epsilon;
    if (opts.onnxruntimeKernels && dtype === 'float32') {
      const attributes: AttributeProto[] = [{ name: 'axis', type: 'int', i: -1 }, { name: 'epsilon', type: 'float', f: eps?.kind === 'float' ? eps.value : 1e-6 }];
      return [{ name: out[0], opType: 'SimplifiedLayerNormalization', inputs: ins, outputs: out, attributes }];
    }
    return expand(out[0], dtype, (b) => b.rmsNorm(ins[0], ins[1], eps?.kind === 'float' ? eps.value : 1e-6, out));
  }
  if (n.op === 'TokenLogProb') return expand(out[0], dtype, (b) => b.tokenLogProb(ins[0], ins[1], out));
  if (n.op === 'LinearTokenLogProb') {
    const tb = n.attrs.transB;
    return expand(out[0], dtype, (b) => b.linearTokenLogProb(ins[0], ins[1], ins[2], tb?.kind === 'int' ? tb.value : 0, out));
  }
  if (dtype === 'float64') {
    if (n.op === 'Erf') return expand(out[0], dtype, (b) => b.erf(ins[0], out[0]));
    if (n.op === 'Gelu') {
      const a = n.attrs.approximate;
      return expand(out[0], dtype, (b) => b.gelu(ins[0], a?.kind === 'string' && a.value === 'tanh', out[0]));
    }
    if (n.op === 'LayerNormalization') {
      const eps = n.attrs.epsilon;
      return expand(out[0], dtype, (b) => b.layerNorm(ins[0], ins[1], ins[2], eps?.kind === 'float' ? eps.value : 1e-5, out));
    }
  }
  return [plainNode(n, opts)];
}

function expand(prefix: string, dtype: DType, f: (b: Lowering) => void): NodeProto[] {
  const b = new Lowering(prefix, dtype);
  f(b);
  return b.nodes;
}

/**
 * Expands IR-only ops (RMSNorm) and, in float64, ops that onnxruntime's CPU provider lacks float64 kernels for
 * (Erf; Gelu and LayerNormalization are expanded too so float64 gradient checks run at full precision) into
 * primitives of the node's dtype.
 */
class Lowering {
  readonly nodes: NodeProto[] = [];
  private k = 0;
  constructor(
    private readonly prefix: string,
    private readonly dtype: DType,
  ) {}

  /** Appends a node; returns its output name (`out` or a fresh one). */
  node(opType: string, inputs: string[], out?: string, attributes: AttributeProto[] = []): string {
    const o = out ?? `${this.prefix}__f64_${this.k++}`;
    this.nodes.push({ name: o, opType, inputs, outputs: [o], attributes });
    return o;
  }

  /** A scalar constant of the lowering's dtype. */
  c(v: number): string {
    const d = toTypedArray([v], this.dtype);
    const t: TensorProto = { dims: [], dataType: ONNX_DTYPE[this.dtype], rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
    return this.node('Constant', [], undefined, [{ name: 'value', type: 'tensor', t }]);
  }

  /**
   * erf(x):  a = |x|;  small: erf(a) = 2/sqrt(pi) * a * sum_n (-1)^n a^(2n) / (n! (2n+1))  (Taylor, 40 terms, a < 2)
   *          large: erf(a) = 1 - exp(-a^2)/sqrt(pi) / K(a),  K(a) = a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))
   *                 (Laplace's continued fraction for erfc, 40 levels, evaluated at max(a, 2))
   *  erf(x) = sign(x) * (a < 2 ? small : large); both branches agree with erf to about 1e-15.
   */
  erf(x: string, out?: string): string {
    const a = this.node('Abs', [x]);
    const as = this.node('Min', [a, this.c(2)]);
    const z = this.node('Mul', [as, as]);
    const N = 40;
    const coef = (n: number): number => {
      let f = 1;
      for (let i = 1; i <= n; i++) f *= i;
      return ((n % 2 ? -1 : 1) / (f * (2 * n + 1))) * (2 / Math.sqrt(Math.PI));
    };
    let s = this.c(coef(N));
    for (let n = N - 1; n >= 0; n--) s = this.node('Add', [this.node('Mul', [s, z]), this.c(coef(n))]);
    const small = this.node('Mul', [s, as]);
    const al = this.node('Max', [a, this.c(2)]);
    let t = al;
    for (let j = N; j >= 1; j--) t = this.node('Add', [al, this.node('Div', [this.c(j / 2), t])]);
    const e = this.node('Exp', [this.node('Neg', [this.node('Mul', [al, al])])]);
    const large = this.node('Sub', [this.c(1), this.node('Div', [e, this.node('Mul', [t, this.c(Math.sqrt(Math.PI))])])]);
    const r = this.node('Where', [this.node('Less', [a, this.c(2)]), small, large]);
    return this.node('Where', [this.node('Less', [x, this.c(0)]), this.node('Neg', [r]), r], out);
  }

  /** gelu(x) = 0.5 x (1 + erf(x / sqrt 2)), or with tanh(sqrt(2/pi) (x + 0.044715 x^3)) for the tanh form. */
  gelu(x: string, tanh: boolean, out: string): string {
    let inner: string;
    if (tanh) {
      const x3 = this.node('Mul', [this.node('Mul', [x, x]), x]);
      const u = this.node('Mul', [this.node('Add', [x, this.node('Mul', [x3, this.c(0.044715)])]), this.c(Math.sqrt(2 / Math.PI))]);
      inner = this.node('Tanh', [u]);
    } else inner = this.erf(this.node('Mul', [x, this.c(Math.SQRT1_2)]));
    return this.node('Mul', [this.node('Mul', [x, this.c(0.5)]), this.node('Add', [inner, this.c(1)])], out);
  }

  private lastAxis(): string {
    const axes: TensorProto = { dims: [1], dataType: ONNX_DTYPE.int64, rawData: new Uint8Array(BigInt64Array.of(-1n).buffer) };
    return this.node('Constant', [], undefined, [{ name: 'value', type: 'tensor', t: axes }]);
  }

  /**
   * TokenLogProb: lp = LogSoftmax(logits)[target] along the last axis. LogSoftmax is one vectorized kernel
   * (ReduceLogSumExp is several times slower in onnxruntime's CPU provider).
   */
  tokenLogProb(logits: string, targets: string, out: readonly string[]): void {
    const ax = this.lastAxis();
    const ls = this.node('LogSoftmax', [logits], undefined, [{ name: 'axis', type: 'int', i: -1 }]);
    const picked = this.node('GatherElements', [ls, this.node('Unsqueeze', [targets, ax])], undefined, [{ name: 'axis', type: 'int', i: -1 }]);
    this.node('Squeeze', [picked, ax], out[0]);
  }

  /** LinearTokenLogProb: lp = LogSoftmax(x W)[target], W = w or w^T (transB), the logits from one Gemm. */
  linearTokenLogProb(x: string, w: string, targets: string, transB: number, out: readonly string[]): void {
    const logits = this.node('Gemm', [x, w], undefined, [{ name: 'transB', type: 'int', i: transB }]);
    this.tokenLogProb(logits, targets, out);
  }

  /** RMSNorm over the last axis with outputs [Y, InvRms]: r = 1/sqrt(mean(x^2) + eps), y = x r gamma. */
  rmsNorm(x: string, scale: string, eps: number, out: readonly string[]): void {
    const axes: TensorProto = { dims: [1], dataType: ONNX_DTYPE.int64, rawData: new Uint8Array(BigInt64Array.of(-1n).buffer) };
    const ax = this.node('Constant', [], undefined, [{ name: 'value', type: 'tensor', t: axes }]);
    const ms = this.node('ReduceMean', [this.node('Mul', [x, x]), ax], undefined, [{ name: 'keepdims', type: 'int', i: 1 }]);
    const r = this.node('Reciprocal', [this.node('Sqrt', [this.node('Add', [ms, this.c(eps)])])], out[1]);
    this.node('Mul', [this.node('Mul', [x, r]), scale], out[0]);
  }

  /** LayerNormalization over the last axis with outputs [Y, Mean, InvStdDev]. */
  layerNorm(x: string, scale: string, bias: string, eps: number, out: readonly string[]): void {
    const axes: TensorProto = { dims: [1], dataType: ONNX_DTYPE.int64, rawData: new Uint8Array(BigInt64Array.of(-1n).buffer) };
    const ax = this.node('Constant', [], undefined, [{ name: 'value', type: 'tensor', t: axes }]);
    const keep: AttributeProto[] = [{ name: 'keepdims', type: 'int', i: 1 }];
    const mean = this.node('ReduceMean', [x, ax], out[1], keep);
    const xc = this.node('Sub', [x, mean]);
    const variance = this.node('ReduceMean', [this.node('Mul', [xc, xc]), ax], undefined, keep);
    const rstd = this.node('Reciprocal', [this.node('Sqrt', [this.node('Add', [variance, this.c(eps)])])], out[2]);
    const y = this.node('Mul', [this.node('Mul', [xc, rstd]), scale], bias ? undefined : out[0]);
    if (bias) this.node('Add', [y, bias], out[0]);
  }
}

/** The ModelProto (plain objects) for a main graph. */
export function toModelProto(g: Graph, options: EmitOptions = {}): ModelProto {
  return modelProto(g, { opset: options.opset ?? 20, producerName: options.producerName ?? 'alignment-studio', onnxruntimeKernels: options.onnxruntimeKernels ?? false });
}

function modelProto(g: Graph, opts: Opts): ModelProto {
  if (g.parent) throw new Error(`toModelProto: graph '${g.name}' is a body graph; emit its main graph`);
  if (g.outputs.length === 0) throw new Error(`toModelProto: graph '${g.name}' has no outputs (call graph.output(name, tensor))`);
  return {
    irVersion: irVersionFor(opts.opset),
    opsetImports: [{ domain: '', version: opts.opset }],
    producerName: opts.producerName,
    producerVersion: '0.1.0',
    graph: graphProto(g, opts),
  };
}

/** Serialized ONNX model bytes for `InferenceSession.create(bytes)`. */
export function toOnnx(g: Graph, options: EmitOptions = {}): Uint8Array {
  return encodeModel(toModelProto(g, options));
}

export interface ExternalModel {
  /** The model file's bytes (initializers of at least `minBytes` point into the data file). */
  model: Uint8Array;
  /** The data file's contents, in order (write them one after another to `location`). */
  data: Uint8Array[];
  /** Total data-file length in bytes. */
  dataLength: number;
}

/**
 * Like toOnnx, but initializers of `minBytes` or more (default 1 KiB) are stored in a side file named `location`
 * (relative to the model file; the ONNX external-data format), for models over protobuf's 2 GB limit. Load by
 * path: write `model` to e.g. dir/model.onnx and `data` to dir/<location>, then `InferenceSession.create(path)`.
 */
export function toOnnxExternal(g: Graph, location: string, options: EmitOptions & { minBytes?: number } = {}): ExternalModel {
  if (!/^[A-Za-z0-9_.-]+$/.test(location)) throw new Error(`toOnnxExternal: location '${location}' must be a plain file name`);
  const sink: ExternalSink = { location, minBytes: options.minBytes ?? 1024, chunks: [], length: 0 };
  const model = encodeModel(modelProto(g, { opset: options.opset ?? 20, producerName: options.producerName ?? 'alignment-studio', onnxruntimeKernels: options.onnxruntimeKernels ?? false, sink }));
  return { model, data: sink.chunks, dataLength: sink.length };
}
