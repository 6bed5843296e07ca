/**
 * Graph -> ONNX ModelProto bytes. Only nodes that the graph's outputs depend on are emitted (dead code from
 * tracing, e.g. forward values the backward does not need, is dropped). Body graphs (Loop/If) are emitted as
 * GRAPH attributes; their outer-scope references keep the producing nodes of enclosing graphs alive.
 *
 * IR-only ops are lowered here: StopGradient -> Identity; Erf on float64 (onnxruntime's CPU provider has no
 * float64 Erf kernel) -> a Taylor series for |x| < 2 and a continued fraction for erfc beyond, both accurate to
 * about 1e-15.
 */
import { ONNX_DTYPE } from './dtype';
import { Attr, ConstantValue, Graph, Node, Tensor } from './graph';
import { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto, encodeModel } from '../onnx/onnxProto';

export interface EmitOptions {
  /** Default opset 20 (IR version 9). */
  opset?: number;
  producerName?: string;
}

/** ONNX IR version that goes with an opset (onnx/docs/Versioning.md). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function tensorProto(v: ConstantValue, name?: string): TensorProto {
  const d = v.data;
  return {
    name,
    dims: v.shape,
    dataType: ONNX_DTYPE[v.dtype],
    rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength),
  };
}

function valueInfo(t: Tensor, name = t.name): ValueInfoProto {
  return { name, elemType: ONNX_DTYPE[t.dtype], shape: t.shape };
}

function attrProto(name: string, a: Attr, opts: Required<EmitOptions>): AttributeProto {
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

function graphProto(g: Graph, opts: Required<EmitOptions>): GraphProto {
  const nodes: NodeProto[] = [];
  for (const n of liveNodes(g)) nodes.push(...lowerNode(n, opts));
  return {
    name: g.name,
    nodes,
    initializers: g.initializers.map((i) => tensorProto(i.value, i.tensor.name)),
    inputs: g.inputs.map((t) => valueInfo(t)),
    outputs: g.outputs.map((t) => valueInfo(t)),
  };
}

function plainNode(n: Node, opts: Required<EmitOptions>, opType = n.op): NodeProto {
  return {
    name: n.outputs[0]?.name,
    opType,
    inputs: n.inputs.map((i) => (i ? i.name : '')),
    outputs: n.outputs.map((o) => o.name),
    attributes: Object.entries(n.attrs).map(([k, a]) => attrProto(k, a, opts)),
  };
}

function lowerNode(n: Node, opts: Required<EmitOptions>): NodeProto[] {
  if (n.op === 'StopGradient') return [plainNode(n, opts, 'Identity')];
  if (n.op === 'Erf' && n.outputs[0].dtype === 'float64') return erfFloat64(n.inputs[0]!.name, n.outputs[0].name);
  return [plainNode(n, opts)];
}

/**
 * erf(x) for float64 from primitive ops:
 *  a = |x|;  small: erf(a) = 2/sqrt(pi) * a * sum_n (-1)^n a^(2n) / (n! (2n+1))   (Taylor, 40 terms, a < 2)
 *            large: erf(a) = 1 - exp(-a^2)/sqrt(pi) / K(a),  K(a) = a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))
 *                   (Laplace's continued fraction for erfc, 40 levels, evaluated at max(a, 2))
 *  erf(x) = sign(x) * (a < 2 ? small : large)
 */
function erfFloat64(x: string, out: string): NodeProto[] {
  const nodes: NodeProto[] = [];
  let k = 0;
  const fresh = (): string => `${out}__erf${k++}`;
  const node = (opType: string, inputs: string[], attributes: AttributeProto[] = []): string => {
    const o = fresh();
    nodes.push({ name: o, opType, inputs, outputs: [o], attributes });
    return o;
  };
  const c = (v: number): string =>
    node('Constant', [], [{ name: 'value', type: 'tensor', t: { dims: [], dataType: ONNX_DTYPE.float64, rawData: new Uint8Array(Float64Array.of(v).buffer) } }]);
  const a = node('Abs', [x]);
  // Taylor branch on min(a, 2): Horner in z = a^2.
  const as = node('Min', [a, c(2)]);
  const z = node('Mul', [as, as]);
  const N = 40;
  const coef = (n: number): number => {
    let f = 1;
    for (let i = 1; i <= n; i++) f *= i;
    return ((n % 2 ? -1 : 1) / (f * (2 * n + 1))) * (2 / Math.sqrt(Math.PI));
  };
  let s = c(coef(N));
  for (let n = N - 1; n >= 0; n--) s = node('Add', [node('Mul', [s, z]), c(coef(n))]);
  const small = node('Mul', [s, as]);
  // Continued-fraction branch on max(a, 2).
  const al = node('Max', [a, c(2)]);
  let t = al;
  for (let j = N; j >= 1; j--) t = node('Add', [al, node('Div', [c(j / 2), t])]);
  const e = node('Exp', [node('Neg', [node('Mul', [al, al])])]);
  const large = node('Sub', [c(1), node('Div', [e, node('Mul', [t, c(Math.sqrt(Math.PI))])])]);
  const r = node('Where', [node('Less', [a, c(2)]), small, large]);
  // Odd function: negate where x < 0.
  nodes.push({ name: out, opType: 'Where', inputs: [node('Less', [x, c(0)]), node('Neg', [r]), r], outputs: [out], attributes: [] });
  return nodes;
}

/** The ModelProto (plain objects) for a main graph. */
export function toModelProto(g: Graph, options: EmitOptions = {}): ModelProto {
  if (g.parent) throw new Error(`toModelProto: graph '${g.name}' is a body graph; emit its main graph`);
  if (g.outputs.length === 0) throw new Error(`toModelProto: graph '${g.name}' has no outputs (call graph.output(name, tensor))`);
  const opts: Required<EmitOptions> = { opset: options.opset ?? 20, producerName: options.producerName ?? 'alignment-studio' };
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
