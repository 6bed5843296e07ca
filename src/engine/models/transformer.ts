/**
 * Graph-built decoder-only transformers (GPT-2 and the Llama family) on the tracing API, with LM, reward
 * (sequence-classification) and value heads, LoRA adapters and an optional KV cache.
 *
 * One forward serves training (static [B, T], traced inside the training compiler's Loop, parameters as views of
 * a flat buffer or frozen inputs) and inference (symbolic [batch, seq], weights as initializers, past key/values
 * as inputs and present key/values as outputs). The math is the float64 reference's
 * (test/support/reference/transformer.ts); shapes:
 * B batch, T new tokens, P cached tokens, S = P + T keys, D hidden, H heads, K kv heads, G = H / K, E head dim,
 * V vocab, L labels, R rotated dims.
 */
import { Dim, Graph, Tensor, graphOf } from '../graph/graph';
import * as nn from '../graph/nn';
import * as op from '../graph/ops';
import { ModelConfig, ropeFrequencies } from './config';
import { HeadKind, ParamSpec, paramSpecs, Weights } from './params';

/** LoRA (Hu et al. 2021): W x + (alpha / r) B A x, with A [r, in] random, B [out, r] zero, W frozen. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  /**
   * Modules to adapt, in Hugging Face / PEFT names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
   * GPT-2: c_attn = q, k, v; c_proj = attention and MLP output; c_fc), in this engine's names (q, k, v, o, gate,
   * up, down, fc, proj), or 'all-linear'.
   */
  targetModules: readonly string[];
  /** Train the reward / value head too (PEFT's modules_to_save); default true for 'score' and 'lm+value'. */
  trainHead?: boolean;
}

/** A module of a block that LoRA can adapt, in our names. */
export type LoraModule = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down' | 'fc' | 'proj';

export interface TransformerModel {
  config: ModelConfig;
  head: HeadKind;
  lora: (LoraConfig & { modules: LoraModule[]; scale: number }) | null;
  /** Every tensor the forward reads: base weights (frozen under LoRA) then adapters. */
  params: ParamSpec[];
  /** Longest sequence (positions) the graph supports: RoPE tables / learned positions are this long. */
  maxLength: number;
  /**
   * Gradient checkpointing: each block is a Graph.checkpoint region, so the backward recomputes a block's
   * activations from its input instead of keeping them (about one more forward of compute, and activation
   * memory of one block instead of all of them).
   */
  gradientCheckpointing?: boolean;
}

export class ModelBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelBuildError';
  }
}

const HF_TO_OURS: Record<string, LoraModule[]> = {
  q_proj: ['q'],
  k_proj: ['k'],
  v_proj: ['v'],
  o_proj: ['o'],
  gate_proj: ['gate'],
  up_proj: ['up'],
  down_proj: ['down'],
  c_attn: ['q', 'k', 'v'],
  c_proj: ['o', 'proj'],
  c_fc: ['fc'],
};

function moduleShape(cfg: ModelConfig, m: LoraModule): [number, number] {
  const D = cfg.hiddenSize;
  const Q = cfg.numHeads * cfg.headDim;
  const KV = cfg.numKvHeads * cfg.headDim;
  const F = cfg.intermediateSize;
  switch (m) {
    case 'q':
      return [D, Q];
    case 'k':
    case 'v':
      return [D, KV];
    case 'o':
      return [Q, D];
    case 'gate':
    case 'up':
    case 'fc':
      return [D, F];
    case 'down':
    case 'proj':
      return [F, D];
  }
}

function modulePath(m: LoraModule): string {
  return m === 'q' || m === 'k' || m === 'v' || m === 'o' ? `attn.${m}` : `mlp.${m}`;
}

function resolveLoraModules(cfg: ModelConfig, targets: readonly string[]): LoraModule[] {
  const available: LoraModule[] = cfg.family === 'gpt2' ? ['q', 'k', 'v', 'o', 'fc', 'proj'] : ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];
  const out = new Set<LoraModule>();
  for (const t of targets) {
    if (t === 'all-linear') available.forEach((m) => out.add(m));
    else if ((available as string[]).includes(t)) out.add(t as LoraModule);
    else if (HF_TO_OURS[t] && HF_TO_OURS[t].some((m) => available.includes(m))) HF_TO_OURS[t].filter((m) => available.includes(m)).forEach((m) => out.add(m));
    else {
      const hfNames = Object.keys(HF_TO_OURS).filter((k) => HF_TO_OURS[k].some((m) => available.includes(m)));
      throw new ModelBuildError(
        `LoRA target module "${t}" does not exist in a ${cfg.modelType} model; use one of: ${[...hfNames, ...available, 'all-linear'].join(', ')}`,
      );
    }
  }
  if (out.size === 0) throw new ModelBuildError('LoRA needs at least one target module');
  return available.filter((m) => out.has(m));
}

/**
 * Describes a model: config, head, optional LoRA. With LoRA the base weights are frozen (trainable: false) and
 * the adapters `<module>.lora_A` [in, r] / `<module>.lora_B` [r, out] are the trainable parameters (plus the head
 * when `trainHead`). `maxLength` (default: the config's max positions, capped at 4096) sizes the RoPE tables.
 */
export function buildModel(config: ModelConfig, head: HeadKind = 'lm', opts: { lora?: LoraConfig; maxLength?: number } = {}): TransformerModel {
  const maxLength = Math.min(opts.maxLength ?? Math.min(config.maxPositions, 4096), config.maxPositions);
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new ModelBuildError(`maxLength must be a positive integer, got ${opts.maxLength}`);
  const base = paramSpecs(config, head);
  if (!opts.lora) return { config, head, lora: null, params: base, maxLength };
  const { rank, alpha } = opts.lora;
  if (!Number.isInteger(rank) || rank < 1) throw new ModelBuildError(`LoRA rank must be a positive integer, got ${rank}`);
  if (!(alpha > 0)) throw new ModelBuildError(`LoRA alpha must be positive, got ${alpha}`);
  const modules = resolveLoraModules(config, opts.lora.targetModules);
  const trainHead = opts.lora.trainHead ?? head !== 'lm';
  const isHead = (n: string): boolean => n.startsWith('score.') || n.startsWith('v_head.');
  const params: ParamSpec[] = base.map((p) => ({ ...p, trainable: trainHead && isHead(p.name) }));
  for (let i = 0; i < config.numLayers; i++) {
    for (const m of modules) {
      const [inDim, outDim] = moduleShape(config, m);
      const name = `layers.${i}.${modulePath(m)}`;
      // PEFT's init: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)); B = 0, so the adapted model
      // starts equal to the base model.
      const bound = 1 / Math.sqrt(inDim);
      params.push({ name: `${name}.lora_A`, shape: [inDim, rank], init: { kind: 'uniform', low: -bound, high: bound }, weightDecay: true, trainable: true });
      params.push({ name: `${name}.lora_B`, shape: [rank, outDim], init: { kind: 'zeros' }, weightDecay: true, trainable: true });
    }
  }
  return { config, head, lora: { ...opts.lora, modules, scale: alpha / rank }, params, maxLength };
}

/** The trainable subset of a model's parameters (what the optimizer updates). */
export function trainableParams(model: TransformerModel): ParamSpec[] {
  return model.params.filter((p) => p.trainable);
}

/** Parameter tensors by name (a Map, or a record such as the training compiler's views). */
export type ParamLookup = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Cached keys/values of one layer, [B, K, P, E]. */
export interface KvPair {
  key: Tensor;
  value: Tensor;
}

export interface ForwardInputs {
  /** Token ids [B, T] int64. */
  ids: Tensor;
  /**
   * Attention mask [B, S] int64, 1 = token, 0 = padding, over cached + new tokens (S = P + T). Optional without a
   * cache (then every token is real). Positions are cumsum(mask) - 1, so left padding works.
   */
  mask?: Tensor;
  /** Per-layer cache from earlier calls (inference); S's symbolic name must be `${P}+${T}` (see generate). */
  past?: readonly KvPair[];
  /**
   * Packed rows (SFT packing): segment id [B, T] int64 per token, k > 0 = the k-th sequence packed into the row,
   * 0 = padding. Token i attends key j iff j <= i and both are in the same segment (a block-diagonal causal mask),
   * and positions restart at 0 at each segment's first token, so every packed sequence is computed exactly as it
   * would be alone in its own row. Replaces the mask for attention and positions. Static T, no cache.
   */
  segments?: Tensor;
  /**
   * An explicit attention pattern (replaces the mask's and segments' one): visible[b, i, j] != 0 iff token i
   * attends key j, int64 [B, T, T], with each token's position `positionIds` [B, T] int64. Lets one pass score
   * sequences that share a prefix, e.g. every prefix of a response followed by its end tokens (reward inspection):
   * a token attends exactly the keys of its own sequence. Static T, no cache.
   */
  pattern?: { readonly visible: Tensor; readonly positionIds: Tensor };
}

export interface ForwardOutputs {
  /** Final hidden states after the last norm, [B, T, D]. */
  hidden: Tensor;
  /** LM logits [B, T, V]. */
  logits?: Tensor;
  /** Classifier scores at every position [B, T, L] (reward: pool with {@link pooledScores}; PPO value: as is). */
  scores?: Tensor;
  /** Value head outputs [B, T] (head 'lm+value'). */
  values?: Tensor;
  /** Keys/values of all S positions per layer (feed back as `past`). */
  present: KvPair[];
}

function rootGraph(g: Graph): Graph {
  let r = g;
  while (r.parent) r = r.parent;
  return r;
}

/** int64 scalar dimension `axis` of x at run time. */
function dimOf(x: Tensor, axis: number): Tensor {
  return op.gather(op.shapeOf(x), x.graph.constant(BigInt64Array.of(BigInt(axis)), 'int64', []), 0);
}

/** [start, limit) as int64 of declared length `len` (ONNX Range with run-time bounds; indices only, no gradient). */
function dynRange(start: Tensor, limit: Tensor, len: Dim): Tensor {
  const g = graphOf('Range', [start, limit]);
  return g.addNode('Range', [start, limit, g.scalar(1, 'int64')], {}, [{ shape: [len], dtype: 'int64' }], 'range')[0];
}

/** Cumulative sum over `axis` (ONNX CumSum; used on int64 masks only). */
function cumsum(x: Tensor, axis: number): Tensor {
  return x.graph.addNode('CumSum', [x, x.graph.constant(BigInt64Array.of(BigInt(axis)), 'int64', [])], {}, [{ shape: x.shape, dtype: x.dtype }], 'cumsum')[0];
}

/** Cache concat along the sequence axis, declared with the mask's key-length dim S so shapes line up. */
function concatSeq(pastT: Tensor, cur: Tensor, S: Dim): Tensor {
  const g = graphOf('Concat', [pastT, cur]);
  const shape = [cur.shape[0], cur.shape[1], S, cur.shape[3]];
  return g.addNode('Concat', [pastT, cur], { axis: { kind: 'int', value: 2 } }, [{ shape, dtype: cur.dtype }], 'kv')[0];
}

function lookup(params: ParamLookup, name: string): Tensor | undefined {
  return params instanceof Map ? params.get(name) : (params as Readonly<Record<string, Tensor>>)[name];
}

/** Throws a ModelBuildError naming the first input that the forward cannot take. */
function checkForwardInputs(model: TransformerModel, inputs: ForwardInputs): void {
  const cfg = model.config;
  const { ids, mask, past, segments } = inputs;
  if (ids.rank !== 2 || ids.dtype !== 'int64') throw new ModelBuildError(`forward: ids must be int64 [B, T], got ${ids}`);
  if (segments && (segments.rank !== 2 || segments.dtype !== 'int64')) throw new ModelBuildError(`forward: segments must be int64 [B, T], got ${segments}`);
  if (segments && (past || typeof ids.shape[1] !== 'number')) throw new ModelBuildError('forward: packed segments need a static sequence length and no KV cache');
  if (inputs.pattern && (past || segments || typeof ids.shape[1] !== 'number')) throw new ModelBuildError('forward: an attention pattern needs a static sequence length, no KV cache and no segments');
  if (inputs.pattern && (inputs.pattern.visible.rank !== 3 || inputs.pattern.positionIds.rank !== 2)) throw new ModelBuildError('forward: an attention pattern is visible [B, T, T] and positionIds [B, T]');
  if (mask && (mask.rank !== 2 || mask.dtype !== 'int64')) throw new ModelBuildError(`forward: mask must be int64 [B, S], got ${mask}`);
  if (past && past.length !== cfg.numLayers) throw new ModelBuildError(`forward: past has ${past.length} layers, the model has ${cfg.numLayers}`);
  if (past && !mask) throw new ModelBuildError('forward: a KV cache needs the attention mask over cached + new tokens');
}

/** Where the new tokens sit, and what attention needs to know about them. */
interface TokenPositions {
  /** Position of each new token, [B, T] (from a mask or segments) or [T]. */
  positions: Tensor;
  /** [T] indices of the new tokens among the S keys (KV cache only). */
  qIndex: Tensor | null;
  /** Packed rows: within[b, i, j] = j <= i and seg[b, i] = seg[b, j] (block-diagonal causal), [B, T, T]. */
  within: Tensor | null;
}

/**
 * Positions are cumsum(mask) - 1 clamped at 0 for every key; the new tokens are the last T of them. In packed
 * rows, row i of `within` holds exactly the keys 0..i of its own segment, so its count - 1 is i's position
 * inside the segment.
 */
function tokenPositions(g: Graph, inputs: ForwardInputs): TokenPositions {
  const { ids, mask, past, segments } = inputs;
  const T = ids.shape[1];
  if (inputs.pattern) return { positions: inputs.pattern.positionIds, qIndex: null, within: op.not(op.equal(inputs.pattern.visible, 0)) };
  if (segments) {
    const same = op.equal(op.unsqueeze(segments, [2]), op.unsqueeze(segments, [1])); // [B, T, T]
    const within = op.and(nn.causalMask(g, T as number), same);
    const positions = op.sub(op.sum(op.cast(within, 'int64'), [2]), 1); // [B, T], >= 0 (i always sees itself)
    return { positions, qIndex: null, within };
  }
  if (mask) {
    const all = op.maximum(op.sub(cumsum(mask, 1), 1), 0);
    if (!past) return { positions: all, qIndex: null, within: null };
    const sLen = dimOf(mask, 1);
    const qIndex = dynRange(op.sub(sLen, dimOf(ids, 1)), sLen, T);
    return { positions: op.gather(all, qIndex, 1), qIndex, within: null };
  }
  if (typeof T !== 'number') throw new ModelBuildError('forward: a symbolic sequence length needs an attention mask');
  return { positions: op.range(g, 0, T), qIndex: null, within: null };
}

/**
 * allowed[b, 1, 1, i, j]: new token i may attend key j (causal in absolute index, key not padding, and with a
 * sliding window W: i - j < W). A window at least as long as the model's positions allows every causal key, so
 * it adds no mask.
 */
function attentionAllowed(model: TransformerModel, g: Graph, inputs: ForwardInputs, at: TokenPositions, W: number | null): Tensor {
  const { ids, mask, past } = inputs;
  const T = ids.shape[1];
  const S: Dim = mask ? mask.shape[1] : T;
  // [T, S]: i - j < W, for query indices qIdx [T] and key indices kIdx [S].
  const band = (qIdx: Tensor, kIdx: Tensor, w: number): Tensor => op.less(op.sub(op.unsqueeze(qIdx, [1]), op.unsqueeze(kIdx, [0])), w);
  let allowed: Tensor;
  if (!past && typeof T === 'number') {
    allowed = at.within ?? nn.causalMask(g, T); // packed rows: [B, T, T]; padding (segment 0) only sees padding
    if (W !== null && W < model.maxLength) {
      // An explicit pattern's sequences are not contiguous in the row: the window counts their positions, [B, T, T].
      const pos = inputs.pattern?.positionIds;
      allowed = op.and(allowed, pos ? op.less(op.sub(op.unsqueeze(pos, [2]), op.unsqueeze(pos, [1])), W) : band(op.range(g, 0, T), op.range(g, 0, T), W));
    }
  } else {
    const sLen = dimOf(mask!, 1);
    const kIdx = dynRange(g.scalar(0, 'int64'), sLen, S);
    const qIdx = at.qIndex ?? kIdx;
    allowed = op.lessEqual(op.unsqueeze(kIdx, [0]), op.unsqueeze(qIdx, [1])); // [T, S]
    if (W !== null && W < model.maxLength) allowed = op.and(allowed, band(qIdx, kIdx, W));
  }
  if (at.within) return op.unsqueeze(allowed, [1, 2]); // [B, 1, 1, T, T]
  if (mask) allowed = op.and(allowed, op.unsqueeze(op.not(op.equal(mask, 0)), [1, 2, 3])); // [B, 1, 1, T, S]
  return allowed;
}

/** RoPE cos and sin at each new token's position, [B, 1, T, R/2] (or [1, 1, T, R/2] without a mask). */
interface RopeAngles {
  cos: Tensor;
  sin: Tensor;
}

/**
 * RoPE tables cos/sin [maxLength, R/2] as constants of the root graph (scaled by the rope type's attention
 * factor), gathered at `positions`.
 */
function ropeAngles(model: TransformerModel, root: Graph, positions: Tensor, rope: Pick<ModelConfig, 'ropeTheta' | 'ropeScaling'> = model.config): RopeAngles {
  const { invFreq, attentionScaling } = ropeFrequencies({ ...model.config, ...rope });
  const half = invFreq.length;
  const c = new Float32Array(model.maxLength * half);
  const s = new Float32Array(model.maxLength * half);
  for (let p = 0; p < model.maxLength; p++) {
    for (let i = 0; i < half; i++) {
      c[p * half + i] = Math.cos(p * invFreq[i]) * attentionScaling;
      s[p * half + i] = Math.sin(p * invFreq[i]) * attentionScaling;
    }
  }
  const cosTable = root.constant(c, 'float32', [model.maxLength, half]);
  const sinTable = root.constant(s, 'float32', [model.maxLength, half]);
  // [B, T, half] -> [B, 1, T, half] (or [T, half] -> [1, 1, T, half] without a mask)
  const expandHeads = (t: Tensor): Tensor => (positions.rank === 2 ? op.unsqueeze(t, [1]) : op.unsqueeze(t, [0, 1]));
  return { cos: expandHeads(op.gather(cosTable, positions, 0)), sin: expandHeads(op.gather(sinTable, positions, 0)) };
}

/** x [B, n, T, E]; pairs (i, i + R/2) rotate by angle pos * inv_freq[i]; dims >= R pass through. */
function applyRope(x: Tensor, { cos, sin }: RopeAngles, E: number): Tensor {
  const half = cos.shape[3] as number;
  const x1 = op.narrow(x, 3, 0, half);
  const x2 = op.narrow(x, 3, half, half);
  const r1 = op.sub(op.mul(x1, cos), op.mul(x2, sin));
  const r2 = op.add(op.mul(x2, cos), op.mul(x1, sin));
  const parts = [r1, r2];
  if (2 * half < E) parts.push(op.narrow(x, 3, 2 * half, E - 2 * half));
  return op.concat(parts, 3);
}

/** What every layer of one traced forward reads. */
interface Trace {
  readonly model: TransformerModel;
  readonly cfg: ModelConfig;
  /** The parameter tensor `name`; throws when the lookup has none. */
  readonly P: (name: string) => Tensor;
  readonly has: (name: string) => boolean;
  readonly B: Dim;
  readonly T: Dim;
  /** Keys per row: cached + new (the mask's length), or T without a mask. */
  readonly S: Dim;
  /**
   * Added to the scores [B, K, G, T, S] (broadcast): 0 where a query may attend a key, maskValue / 2 elsewhere
   * (finite, so fully masked rows stay NaN-free, and half the lowest value, so adding a score cannot overflow).
   * An Add instead of a Where on the scores: onnxruntime's broadcasting Where took 39% of the kernel time of a
   * SmolLM2-135M LoRA-DPO step, and an Add's gradient is the output gradient itself.
   */
  readonly bias: Tensor;
  /** Gemma's local layers: `bias` with the sliding window. */
  readonly biasLocal: Tensor | null;
  /** Null for GPT-2 (learned absolute positions). */
  readonly rope: RopeAngles | null;
  /** Gemma's local layers: their own RoPE. */
  readonly ropeLocal: RopeAngles | null;
}

/** A block's linear module: W x (+ b), plus (alpha / r) B A x where LoRA adapts the module. */
function project(t: Trace, x: Tensor, prefix: string, m: LoraModule): Tensor {
  const name = `${prefix}${modulePath(m)}`;
  const lora = t.model.lora;
  let y = nn.linear(x, t.P(`${name}.weight`), t.has(`${name}.bias`) ? t.P(`${name}.bias`) : null);
  if (lora && lora.modules.includes(m)) {
    // (alpha / r) scales the rank-r activations x A, not the [.., out] product: the same function with the
    // multiply (and its backward) over r columns instead of out.
    y = op.add(y, op.matmul(op.mul(op.matmul(x, t.P(`${name}.lora_A`)), lora.scale), t.P(`${name}.lora_B`)));
  }
  return y;
}

/** GPT-2: LayerNorm with bias; Llama family: RMSNorm. */
function normalize(t: Trace, x: Tensor, name: string): Tensor {
  const cfg = t.cfg;
  return cfg.family === 'gpt2' ? nn.layerNorm(x, t.P(`${name}.weight`), t.P(`${name}.bias`), cfg.normEps) : nn.rmsNorm(x, rmsGain(t, name), cfg.normEps);
}

/** The gain of RMSNorm `name`: its weight, or 1 + weight for Gemma (whose weights are offsets from 1). */
function rmsGain(t: Trace, name: string): Tensor {
  const w = t.P(`${name}.weight`);
  return t.cfg.gemma ? op.add(w, 1) : w;
}

/** The activation function named as in transformers' ACT2FN. */
function activate(cfg: ModelConfig, x: Tensor): Tensor {
  switch (cfg.activation) {
    case 'gelu':
      return nn.gelu(x, 'none');
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return nn.gelu(x, 'tanh');
    case 'silu':
      return nn.silu(x);
    case 'relu':
      return op.relu(x);
  }
}

/** Token embeddings [B, T, D], plus learned absolute positions for GPT-2. */
function embed(cfg: ModelConfig, P: (name: string) => Tensor, ids: Tensor, positions: Tensor): Tensor {
  let x = nn.embedding(P('embed.weight'), ids); // [B, T, D]
  if (cfg.gemma) x = op.mul(x, Math.sqrt(cfg.hiddenSize)); // Gemma scales embeddings by sqrt(D)
  return cfg.family === 'gpt2' ? op.add(x, op.gather(P('pos_embed.weight'), positions, 0)) : x;
}

/**
 * Causal self-attention of layer `p` on normed input h [B, T, D], with RoPE (Llama family) and the KV cache.
 * Returns the output projection [B, T, D] and the layer's keys/values over all S positions, [B, K, S, E].
 */
function selfAttention(t: Trace, h: Tensor, layer: number, past: KvPair | undefined): { out: Tensor; present: KvPair } {
  const p = `layers.${layer}.`;
  const local = t.cfg.gemma?.slidingLayers[layer] === true;
  const rope = local ? t.ropeLocal : t.rope;
  const { cfg, B, T, S } = t;
  const H = cfg.numHeads;
  const K = cfg.numKvHeads;
  const G = H / K;
  const E = cfg.headDim;
  const heads = (x: Tensor, n: number): Tensor => op.transpose(op.reshape(x, [B, T, n, E]), [0, 2, 1, 3]); // [B, n, T, E]
  let q = heads(project(t, h, p, 'q'), H);
  let k = heads(project(t, h, p, 'k'), K);
  let v = heads(project(t, h, p, 'v'), K);
  if (cfg.qkNorm) {
    // Qwen3: RMSNorm over each head's E dims, before RoPE.
    q = nn.rmsNorm(q, rmsGain(t, `${p}attn.q_norm`), cfg.normEps);
    k = nn.rmsNorm(k, rmsGain(t, `${p}attn.k_norm`), cfg.normEps);
  }
  if (rope) {
    q = applyRope(q, rope, E);
    k = applyRope(k, rope, E);
  }
  if (past) {
    k = concatSeq(past.key, k, S); // [B, K, S, E]
    v = concatSeq(past.value, v, S);
  }
  // Grouped-query attention: query head h = kv * G + j reads kv head `kv` (transformers' repeat_kv order).
  const q5 = op.reshape(q, [B, K, G, T, E]);
  const k5 = op.unsqueeze(k, [2]); // [B, K, 1, S, E]
  const v5 = op.unsqueeze(v, [2]);
  // Scores scale by 1/sqrt(E), or by query_pre_attn_scalar^-1/2 for Gemma.
  const scale = 1 / Math.sqrt(cfg.gemma ? cfg.gemma.queryPreAttnScalar : E);
  let scores = op.mul(op.matmul(q5, op.swapAxes(k5, -1, -2)), scale); // [B, K, G, T, S]
  scores = op.add(scores, local ? t.biasLocal! : t.bias);
  const o5 = op.matmul(op.softmax(scores, -1), v5); // [B, K, G, T, E]
  const o = op.reshape(op.transpose(op.reshape(o5, [B, H, T, E]), [0, 2, 1, 3]), [B, T, H * E]);
  return { out: project(t, o, p, 'o'), present: { key: k, value: v } };
}

/** GPT-2: act(x Wfc + bfc) Wproj + bproj; Llama family: (act(x Wgate) * (x Wup)) Wdown (SwiGLU when act = silu). */
function mlp(t: Trace, h: Tensor, p: string): Tensor {
  if (t.cfg.family === 'gpt2') return project(t, activate(t.cfg, project(t, h, p, 'fc')), p, 'proj');
  return project(t, op.mul(activate(t.cfg, project(t, h, p, 'gate')), project(t, h, p, 'up')), p, 'down');
}

/** One pre-norm residual block: x + Attn(Norm1(x)), then + MLP(Norm2(x)). Appends the layer's keys/values to `present`. */
function block(t: Trace, x: Tensor, layer: number, past: KvPair | undefined, present: KvPair[]): Tensor {
  const p = `layers.${layer}.`;
  const attn = selfAttention(t, normalize(t, x, `${p}norm1`), layer, past);
  present.push(attn.present);
  // Gemma norms each sublayer's output too before adding it to the residual stream.
  const y = op.add(x, t.cfg.gemma ? normalize(t, attn.out, `${p}norm1_post`) : attn.out);
  const m = mlp(t, normalize(t, y, `${p}norm2`), p);
  return op.add(y, t.cfg.gemma ? normalize(t, m, `${p}norm2_post`) : m);
}

/** The head's outputs on the final hidden states [B, T, D]. */
function headOutputs(t: Trace, params: ParamLookup, hidden: Tensor, present: KvPair[]): ForwardOutputs {
  const { model, P } = t;
  const out: ForwardOutputs = { hidden, present };
  if (model.head === 'lm' || model.head === 'lm+value') out.logits = lmHead(model, params, hidden);
  if (model.head === 'score') out.scores = op.matmul(hidden, P('score.weight'));
  if (model.head === 'lm+value') out.values = op.squeeze(nn.linear(hidden, P('v_head.weight'), P('v_head.bias')), [2]);
  return out;
}

/**
 * Traces the forward pass. Returns hidden states, the head's outputs and the present key/values.
 */
export function forward(model: TransformerModel, params: ParamLookup, inputs: ForwardInputs): ForwardOutputs {
  checkForwardInputs(model, inputs);
  const cfg = model.config;
  const { ids, mask, past } = inputs;
  const P = (name: string): Tensor => {
    const t = lookup(params, name);
    if (!t) throw new ModelBuildError(`forward: no tensor for parameter "${name}"`);
    return t;
  };
  const has = (name: string): boolean => lookup(params, name) !== undefined;
  const g = graphOf('forward', [ids, mask ?? null, P('embed.weight')]);
  const [B, T] = ids.shape;
  // An explicit pattern's row holds several sequences: its positions, not its length, must fit the model.
  if (typeof T === 'number' && T > model.maxLength && !inputs.pattern) {
    throw new ModelBuildError(`forward: sequence length ${T} exceeds the model's maximum of ${model.maxLength} positions`);
  }
  const at = tokenPositions(g, inputs);
  // Mistral's window applies to every layer; Gemma's to its local layers only, which also have their own RoPE.
  const gemma = cfg.gemma;
  const allowed = attentionAllowed(model, g, inputs, at, gemma ? null : cfg.slidingWindow);
  const allowedLocal = gemma ? attentionAllowed(model, g, inputs, at, cfg.slidingWindow) : null;
  const rope = cfg.family === 'llama' ? ropeAngles(model, rootGraph(g), at.positions) : null;
  const ropeLocal = gemma ? ropeAngles(model, rootGraph(g), at.positions, { ropeTheta: gemma.localRopeTheta, ropeScaling: gemma.localRopeScaling }) : null;
  let x = embed(cfg, P, ids, at.positions);
  const S = mask ? mask.shape[1] : T;
  const bias = (a: Tensor): Tensor => op.where(a, g.scalar(0, x.dtype), nn.maskValue(x.dtype) / 2);
  const t: Trace = { model, cfg, P, has, B, T, S, bias: bias(allowed), biasLocal: allowedLocal ? bias(allowedLocal) : null, rope, ropeLocal };
  const present: KvPair[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const input = x;
    x = model.gradientCheckpointing ? g.checkpoint(() => block(t, input, l, past?.[l], present)) : block(t, input, l, past?.[l], present);
  }
  return headOutputs(t, params, normalize(t, x, 'norm_f'), present);
}

/** LM logits [..., V] from final hidden states [..., D]: h E^T with tied embeddings E [V, D], else h W_lm [D, V]. */
export function lmHead(model: TransformerModel, params: ParamLookup, hidden: Tensor): Tensor {
  return op.matmul(hidden, lmHeadWeight(model, params));
}

/** The LM head as [D, V]: E^T for tied embeddings E [V, D] (a Transpose node), else W_lm. */
function lmHeadWeight(model: TransformerModel, params: ParamLookup): Tensor {
  const w = model.config.tieWordEmbeddings ? lookup(params, 'embed.weight') : lookup(params, 'lm_head.weight');
  if (!w) throw new ModelBuildError(`lmHead: no tensor for parameter "${model.config.tieWordEmbeddings ? 'embed.weight' : 'lm_head.weight'}"`);
  return model.config.tieWordEmbeddings ? op.transpose(w) : w;
}

/**
 * Per-token log-probabilities of the next token: out[b, t] = log softmax(logits[b, t])[ids[b, t + 1]], [B, T-1].
 * Static T.
 */
export function tokenLogprobs(logits: Tensor, ids: Tensor): Tensor {
  const T = ids.shape[1];
  if (typeof T !== 'number' || T < 2) throw new ModelBuildError(`tokenLogprobs: needs a static sequence length >= 2, got ${ids}`);
  // nn.tokenLogProbs keeps no [B, T-1, V] tensor from forward to backward (LogSoftmax + gather; VJP onehot - softmax).
  return nn.tokenLogProbs(op.narrow(logits, 1, 0, T - 1), op.narrow(ids, 1, 1, T - 1));
}

/**
 * tokenLogprobs of the LM head on final hidden states [B, T, D], without the [B, T-1, V] logits: the B (T-1)
 * positions go through the head and the log-softmax in chunks (nn.linearTokenLogProbs, whose backward
 * recomputes each chunk's logits), so a chunk's [rows, V] tensors are the largest the head makes. Needs static
 * B and T >= 2.
 */
export function headTokenLogprobs(model: TransformerModel, params: ParamLookup, hidden: Tensor, ids: Tensor): Tensor {
  const [B, T] = ids.shape;
  const D = hidden.shape[2] as number;
  if (typeof B !== 'number' || typeof T !== 'number' || T < 2) throw new ModelBuildError(`headTokenLogprobs: needs a static batch and sequence length >= 2, got ${ids}`);
  const w = lmHeadWeight(model, params);
  const h = op.reshape(op.narrow(hidden, 1, 0, T - 1), [B * (T - 1), D]);
  const lp = nn.linearTokenLogProbs(h, w, op.reshape(op.narrow(ids, 1, 1, T - 1), [B * (T - 1)]));
  return op.reshape(lp, [B, T - 1]);
}

/**
 * The mean LM logit over the vocabulary per position, [..., D] -> [...], without the logits: the head is
 * linear, so mean_v (h W)_v = h mean_v(W_:,v) (TRL's `logits/*` metric). No gradient flows through it.
 */
export function meanVocabLogit(model: TransformerModel, params: ParamLookup, hidden: Tensor): Tensor {
  const w = lmHeadWeight(model, params); // [D, V]
  // Averaged from the stored table (E [V, D] over axis 0 when tied), so no transposed copy of it is made.
  const tied = w.producer?.op === 'Transpose' ? (w.producer.inputs[0] as Tensor) : null;
  const m = tied ? op.transpose(op.mean(tied, [0], true)) : op.mean(w, [1], true); // [D, 1]
  return op.squeeze(op.matmul(op.stopGradient(hidden), op.stopGradient(m)), [hidden.rank - 1]);
}

export interface Logprobs {
  /** log p(ids[t+1] | ids[..t]) at completion positions, 0 elsewhere, [B, T-1]. */
  perToken: Tensor;
  /** Sum over completion tokens, [B] (DPO's sequence log-prob). */
  sum: Tensor;
  /** Number of completion tokens per row, [B] (float). */
  count: Tensor;
  /**
   * The logits, for losses that need more (entropy, KL). The log-probs above do not read them (the head runs in
   * chunks, headTokenLogprobs), so they cost nothing unless used: emission drops unused nodes.
   */
  logits: Tensor;
  /** The final hidden states [B, T, D] (the head's input). */
  hidden: Tensor;
}

/**
 * Per-token log-probs of the completion tokens of `ids` [B, T] under the LM. `completionMask` [B, T] int64 marks
 * the tokens to score (1 = completion token); defaults to `mask` (every real token after the first). `segments`:
 * packed rows (see {@link ForwardInputs.segments}); the completion mask must then be 0 at each segment's first
 * token, which no token of its own sequence predicts.
 */
export function logprobs(model: TransformerModel, params: ParamLookup, ids: Tensor, mask: Tensor, completionMask?: Tensor, segments?: Tensor): Logprobs {
  const { logits, hidden } = forward(model, params, { ids, mask, ...(segments ? { segments } : {}) });
  if (!logits) throw new ModelBuildError(`logprobs: the model's head is "${model.head}", which has no LM logits`);
  const T = ids.shape[1] as number;
  const lp = typeof ids.shape[0] === 'number' ? headTokenLogprobs(model, params, hidden, ids) : tokenLogprobs(logits, ids);
  const sel = op.cast(op.not(op.equal(op.narrow(completionMask ?? mask, 1, 1, T - 1), 0)), lp.dtype);
  const perToken = op.mul(lp, sel);
  return { perToken, sum: op.sum(perToken, [1]), count: op.sum(sel, [1]), logits, hidden };
}

/**
 * Reward-model pooling: the scores [B, T, L] at each row's last real token (last position with mask 1, so both
 * left and right padding work; transformers' *ForSequenceClassification pools the same token). Returns [B, L].
 */
export function pooledScores(scores: Tensor, mask: Tensor): Tensor {
  const T = scores.shape[1];
  if (typeof T !== 'number') throw new ModelBuildError('pooledScores: needs a static sequence length');
  const idx = op.max(op.mul(mask, op.range(scores.graph, 0, T)), [1], true); // [B, 1]
  const gatherIdx = op.expandLike(op.unsqueeze(idx, [2]), op.narrow(scores, 1, 0, 1)); // [B, 1, L]
  return op.squeeze(op.gatherElements(scores, gatherIdx, 1), [1]);
}

/**
 * Folds LoRA adapters into the base weights: W' = W + (alpha / r) A B (ours layout [in, out]), giving a plain
 * model (no adapters) to save or export. `weights` holds base and adapter tensors; the result only base names.
 */
export function mergeLora(model: TransformerModel, weights: Weights): Weights {
  const out: Weights = new Map();
  for (const [name, t] of weights) if (!name.endsWith('.lora_A') && !name.endsWith('.lora_B')) out.set(name, { shape: [...t.shape], data: new Float32Array(t.data) });
  const lora = model.lora;
  if (!lora) return out;
  for (let i = 0; i < model.config.numLayers; i++) {
    for (const m of lora.modules) {
      const name = `layers.${i}.${modulePath(m)}`;
      const w = out.get(`${name}.weight`);
      const a = weights.get(`${name}.lora_A`);
      const b = weights.get(`${name}.lora_B`);
      if (!w || !a || !b) throw new ModelBuildError(`mergeLora: missing ${!w ? name + '.weight' : !a ? name + '.lora_A' : name + '.lora_B'}`);
      const [inDim, outDim] = w.shape;
      const r = lora.rank;
      for (let x = 0; x < inDim; x++) {
        for (let y = 0; y < outDim; y++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += a.data[x * r + k] * b.data[k * outDim + y];
          w.data[x * outDim + y] += lora.scale * s;
        }
      }
    }
  }
  return out;
}
