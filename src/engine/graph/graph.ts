/**
 * The tracing IR: a Graph holds Nodes (one ONNX operator each) whose outputs are Tensors carrying a static
 * shape and dtype. Ops (ops.ts, nn.ts) append nodes and infer shapes at build time; autodiff.ts appends the
 * backward; emit.ts turns a Graph into ONNX ModelProto bytes.
 *
 * Graphs nest: `graph.subgraph(name)` makes a body graph (for ONNX Loop/If) whose nodes may read tensors of any
 * enclosing graph (ONNX outer-scope references). An op's node goes into the innermost graph among its inputs.
 */
import { DType, TensorData, checkTypedArray, toTypedArray } from './dtype';

/** A dimension: a fixed size, or a symbolic name (ONNX dim_param) for a size known only at run time. */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** Node attribute values (tagged so ints and floats stay distinct). */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: ConstantValue }
  | { kind: 'graph'; value: Graph };

/** A constant's contents. */
export interface ConstantValue {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly data: TensorData;
}

let nextId = 1;

/** A value in a graph: the output of a node, a graph input, an initializer or a constant. */
export class Tensor {
  readonly id: number;
  constructor(
    readonly graph: Graph,
    readonly shape: Shape,
    readonly dtype: DType,
    /** Producing node; null for graph inputs and initializers. */
    readonly producer: Node | null,
    readonly outputIndex: number,
    name: string,
  ) {
    this.id = nextId++;
    this.currentName = name;
  }

  private currentName: string;

  /** Name in the emitted ONNX graph; auto-generated (`_t<id>`) unless given, or set by `Graph.output`. */
  get name(): string {
    return this.currentName;
  }

  /** @internal Graph.output names an unnamed node output in place instead of adding an Identity copy. */
  setOutputName(name: string): void {
    this.currentName = name;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** True when every dimension is a fixed number. */
  get isStatic(): boolean {
    return this.shape.every((d) => typeof d === 'number');
  }

  /** Number of elements (throws for symbolic shapes). */
  get size(): number {
    return staticShape(this.shape, `tensor ${this.name}`).reduce((a, b) => a * b, 1);
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${fmtShape(this.shape)}`;
  }
}

export class Node {
  readonly outputs: Tensor[] = [];
  /** The gradient-checkpoint region this node was traced in (see Graph.checkpoint), if any. */
  region: number | undefined = undefined;
  constructor(
    readonly graph: Graph,
    /** ONNX op type, or an IR-only op (see emit.ts: 'StopGradient' lowers to Identity). */
    readonly op: string,
    /** Inputs; null marks an omitted optional ONNX input. */
    readonly inputs: readonly (Tensor | null)[],
    readonly attrs: Readonly<Record<string, Attr>>,
  ) {}
}

export function fmtShape(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Returns the shape as numbers, or throws naming `where` if a dimension is symbolic. */
export function staticShape(s: Shape, where: string): number[] {
  return s.map((d) => {
    if (typeof d !== 'number') throw new Error(`${where}: needs a static shape, got ${fmtShape(s)}`);
    return d;
  });
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers: { tensor: Tensor; value: ConstantValue }[] = [];
  private readonly names = new Set<string>();
  private readonly scalarCache = new Map<string, Tensor>();
  private activeRegion: number | undefined = undefined;
  private regionCount = 0;

  /** @param parent the enclosing graph for Loop/If bodies; undefined for the model's main graph. */
  constructor(
    readonly name = 'main',
    readonly parent?: Graph,
  ) {}

  /** Nesting depth: 0 for the main graph. */
  get depth(): number {
    return this.parent ? this.parent.depth + 1 : 0;
  }

  /** True when `other` is this graph or encloses it (so its tensors are visible here). */
  sees(other: Graph): boolean {
    return this === other || (this.parent !== undefined && this.parent.sees(other));
  }

  /** A body graph nested in this one (for Loop/If). */
  subgraph(name: string): Graph {
    return new Graph(name, this);
  }

  private root(): Graph {
    return this.parent ? this.parent.root() : this;
  }

  /** Reserves a unique value name across the whole model (all nested graphs share one namespace). */
  reserveName(name: string, where: string): string {
    const root = this.root();
    if (!/^[A-Za-z_][A-Za-z0-9_.:/-]*$/.test(name)) {
      throw new Error(`${where}: invalid tensor name '${name}' (use letters, digits, _ . : / -, not starting with a digit)`);
    }
    if (root.names.has(name)) throw new Error(`${where}: tensor name '${name}' is already used in this model`);
    root.names.add(name);
    return name;
  }

  private autoName(prefix: string): string {
    const root = this.root();
    let name = `_${prefix}${nextId}`;
    while (root.names.has(name)) name = `_${prefix}${nextId}_${Math.floor(Math.random() * 1e9)}`;
    root.names.add(name);
    return name;
  }

  /** Declares a graph input (a value fed at run time; for a Loop body, its iteration/cond/carried inputs). */
  input(name: string, shape: Shape, dtype: DType): Tensor {
    checkShape(shape, `input '${name}'`);
    const t = new Tensor(this, [...shape], dtype, null, 0, this.reserveName(name, `input '${name}'`));
    this.inputs.push(t);
    return t;
  }

  /**
   * Marks `t` as a graph output named `name`, and returns the output tensor. An unnamed node output of this graph
   * is renamed in place (no copy); otherwise (inputs, initializers, outer-scope tensors, a tensor already output
   * or named) an Identity node gives the output its own name, so any tensor may be output several times.
   */
  output(name: string, t: Tensor): Tensor {
    if (!this.sees(t.graph)) throw new Error(`output '${name}': tensor ${t.name} belongs to graph '${t.graph.name}', not visible from '${this.name}'`);
    if (t.graph === this && t.producer && t.producer.op !== 'Constant' && t.name.startsWith('_') && !this.outputs.includes(t)) {
      t.setOutputName(this.reserveName(name, `output '${name}'`));
      this.outputs.push(t);
      return t;
    }
    const node = new Node(this, 'Identity', [t], {});
    const out = new Tensor(this, t.shape, t.dtype, node, 0, this.reserveName(name, `output '${name}'`));
    node.outputs.push(out);
    this.nodes.push(node);
    this.outputs.push(out);
    return out;
  }

  /** A named initializer (weights stored inside the model file). Main graph only. */
  initializer(name: string, data: TensorData, shape: readonly number[], dtype: DType): Tensor {
    if (this.parent) throw new Error(`initializer '${name}': initializers belong to the main graph, not body graph '${this.name}'`);
    checkTypedArray(data, dtype, `initializer '${name}'`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`initializer '${name}': shape ${fmtShape(shape)} needs ${n} elements, data has ${data.length}`);
    const t = new Tensor(this, [...shape], dtype, null, 0, this.reserveName(name, `initializer '${name}'`));
    this.initializers.push({ tensor: t, value: { shape: [...shape], dtype, data } });
    return t;
  }

  /**
   * A constant tensor (an ONNX Constant node in this graph). `values` may be plain numbers (converted to
   * `dtype`) or a typed array matching `dtype`. `shape` defaults to [values.length] (or [] for one number).
   */
  constant(values: number | ArrayLike<number> | TensorData, dtype: DType, shape?: readonly number[]): Tensor {
    let data: TensorData;
    if (typeof values === 'number') data = toTypedArray([values], dtype);
    else if (ArrayBuffer.isView(values)) {
      checkTypedArray(values as TensorData, dtype, 'constant');
      data = values as TensorData;
    } else data = toTypedArray(values, dtype);
    const sh = shape ?? (typeof values === 'number' ? [] : [data.length]);
    const n = sh.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`constant: shape ${fmtShape(sh)} needs ${n} elements, got ${data.length}`);
    const value: ConstantValue = { shape: [...sh], dtype, data };
    return this.addNode('Constant', [], { value: { kind: 'tensor', value } }, [{ shape: sh, dtype }], 'const')[0];
  }

  /** A cached scalar constant (one node per value and dtype per graph). */
  scalar(value: number, dtype: DType): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : String(value)}`;
    let t = this.scalarCache.get(key);
    if (!t) {
      t = this.constant(value, dtype);
      this.scalarCache.set(key, t);
    }
    return t;
  }

  /**
   * Gradient checkpointing: the nodes `f` traces form one region whose intermediate tensors are not kept for
   * the backward pass; grad() recomputes the region from its inputs when the backward reaches it (autodiff.ts).
   */
  checkpoint<T>(f: () => T): T {
    const root = this.root();
    const prev = root.activeRegion;
    root.activeRegion = ++root.regionCount;
    try {
      return f();
    } finally {
      root.activeRegion = prev;
    }
  }

  /** Appends a node with the given output types; used by the op builders. */
  addNode(
    op: string,
    inputs: readonly (Tensor | null)[],
    attrs: Record<string, Attr>,
    outs: readonly { shape: Shape; dtype: DType }[],
    namePrefix = 't',
  ): Tensor[] {
    for (const i of inputs) {
      if (i && !this.sees(i.graph)) {
        throw new Error(`${op}: input ${i.name} belongs to graph '${i.graph.name}', which is not visible from '${this.name}'`);
      }
    }
    const node = new Node(this, op, inputs, attrs);
    node.region = this.root().activeRegion;
    outs.forEach((o, k) => {
      checkShape(o.shape, op);
      node.outputs.push(new Tensor(this, [...o.shape], o.dtype, node, k, this.autoName(namePrefix)));
    });
    this.nodes.push(node);
    return node.outputs;
  }
}

function checkShape(shape: Shape, where: string): void {
  for (const d of shape) {
    if (typeof d === 'number' ? !(Number.isInteger(d) && d >= 0) : d.length === 0) {
      throw new Error(`${where}: invalid dimension ${JSON.stringify(d)} in shape ${fmtShape(shape)}`);
    }
  }
}

/**
 * The innermost graph among the inputs' graphs; throws if they are not on one nesting chain.
 * Ops call this to decide where their node lives.
 */
export function graphOf(op: string, inputs: readonly (Tensor | null | undefined)[]): Graph {
  let g: Graph | undefined;
  for (const t of inputs) {
    if (!t) continue;
    if (!g || t.graph.sees(g)) g = t.graph;
    else if (!g.sees(t.graph)) throw new Error(`${op}: inputs come from unrelated graphs '${g.name}' and '${t.graph.name}'`);
  }
  if (!g) throw new Error(`${op}: needs at least one tensor input`);
  return g;
}
