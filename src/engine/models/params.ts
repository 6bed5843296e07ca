/**
 * The parameter record of a model (llm.c style): every tensor with its name, shape and init, in one list that
 * the graph builder, the training compiler (flattening), checkpoints and the float64 reference all share.
 *
 * Layout convention ("ours"): every linear layer stores W as [in, out] so the forward is y = x @ W + b (ONNX
 * MatMul without a transpose). Hugging Face's torch.nn.Linear stores [out, in]; GPT-2's Conv1D stores [in, out]
 * with q, k, v fused. hfMapping.ts converts.
 *
 * Shapes use B = batch, T = sequence, D = hidden, H = heads, K = key/value heads, E = head dim, F = MLP inner,
 * V = vocab, P = max positions, L = labels.
 */
import { Rng } from '../rng';
import { ParamInit, ParamSpec as GraphParamSpec } from '../graph/params';
import { ModelConfig } from './config';

/** Which output heads a model has. */
export type HeadKind =
  /** Causal LM: logits [B, T, V]. */
  | 'lm'
  /** Sequence classification (reward model; also a PPO value model): `score.weight`, scores [B, T, L]. */
  | 'score'
  /** Causal LM plus TRL's scalar value head (`v_head.summary`), values [B, T]. */
  | 'lm+value';

/**
 * A parameter: the graph layer's ParamSpec (name, shape, init, weightDecay; accepted by graph/params.ts's
 * flatLayout/initFlat) plus `trainable` (false = frozen, e.g. base weights under LoRA), which is also the
 * shape the training compiler (train/compile.ts) takes.
 */
export interface ParamSpec extends GraphParamSpec {
  shape: number[];
  init: ParamInit;
  weightDecay: boolean;
  trainable: boolean;
}

/** One parameter's values (float32, row-major, layout as in {@link ParamSpec}). */
export interface ParamTensor {
  shape: number[];
  data: Float32Array;
}

/** Parameter values by name. */
export type Weights = Map<string, ParamTensor>;

const STD = 0.02;

/** The full parameter list of `cfg` with the given head, in a fixed order. */
export function paramSpecs(cfg: ModelConfig, head: HeadKind = 'lm'): ParamSpec[] {
  const D = cfg.hiddenSize;
  const Q = cfg.numHeads * cfg.headDim;
  const KV = cfg.numKvHeads * cfg.headDim;
  const F = cfg.intermediateSize;
  const specs: ParamSpec[] = [];
  const w = (name: string, shape: number[], std = STD): void => {
    specs.push({ name, shape, init: { kind: 'normal', std }, weightDecay: true, trainable: true });
  };
  const b = (name: string, shape: number[]): void => {
    specs.push({ name, shape, init: { kind: 'zeros' }, weightDecay: false, trainable: true });
  };
  const g = (name: string, shape: number[]): void => {
    specs.push({ name, shape, init: { kind: 'ones' }, weightDecay: false, trainable: true });
  };
  const gpt2 = cfg.family === 'gpt2';
  // Gemma's RMSNorms scale by (1 + w): their neutral weights are zeros.
  const n = cfg.gemma ? b : g;
  // GPT-2 scales the residual projections' init by 1/sqrt(2 L) (Radford et al. 2019, section 2.3).
  const residStd = STD / Math.sqrt(2 * cfg.numLayers);
  w('embed.weight', [cfg.vocabSize, D]);
  if (gpt2) w('pos_embed.weight', [cfg.maxPositions, D], 0.01);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `layers.${i}.`;
    n(p + 'norm1.weight', [D]);
    if (gpt2) b(p + 'norm1.bias', [D]);
    w(p + 'attn.q.weight', [D, Q]);
    if (cfg.qkvBias) b(p + 'attn.q.bias', [Q]);
    w(p + 'attn.k.weight', [D, KV]);
    if (cfg.qkvBias) b(p + 'attn.k.bias', [KV]);
    w(p + 'attn.v.weight', [D, KV]);
    if (cfg.qkvBias) b(p + 'attn.v.bias', [KV]);
    w(p + 'attn.o.weight', [Q, D], residStd);
    if (cfg.oBias) b(p + 'attn.o.bias', [D]);
    if (cfg.qkNorm) {
      n(p + 'attn.q_norm.weight', [cfg.headDim]);
      n(p + 'attn.k_norm.weight', [cfg.headDim]);
    }
    // Gemma's sandwich norms: norm1_post on the attention output, norm2_post on the MLP output.
    if (cfg.gemma) n(p + 'norm1_post.weight', [D]);
    n(p + 'norm2.weight', [D]);
    if (cfg.gemma) n(p + 'norm2_post.weight', [D]);
    if (gpt2) b(p + 'norm2.bias', [D]);
    if (gpt2) {
      w(p + 'mlp.fc.weight', [D, F]);
      if (cfg.mlpBias) b(p + 'mlp.fc.bias', [F]);
      w(p + 'mlp.proj.weight', [F, D], residStd);
      if (cfg.mlpBias) b(p + 'mlp.proj.bias', [D]);
    } else {
      w(p + 'mlp.gate.weight', [D, F]);
      if (cfg.mlpBias) b(p + 'mlp.gate.bias', [F]);
      w(p + 'mlp.up.weight', [D, F]);
      if (cfg.mlpBias) b(p + 'mlp.up.bias', [F]);
      w(p + 'mlp.down.weight', [F, D], residStd);
      if (cfg.mlpBias) b(p + 'mlp.down.bias', [D]);
    }
  }
  n('norm_f.weight', [D]);
  if (gpt2) b('norm_f.bias', [D]);
  if ((head === 'lm' || head === 'lm+value') && !cfg.tieWordEmbeddings) w('lm_head.weight', [D, cfg.vocabSize]);
  if (head === 'score') w('score.weight', [D, cfg.numLabels]);
  if (head === 'lm+value') {
    w('v_head.weight', [D, 1]);
    b('v_head.bias', [1]);
  }
  return specs;
}

/**
 * Fresh parameters drawn from `paramSpecs` inits with a seeded generator (same seed => same weights on every
 * machine). Each tensor draws from its own named sub-stream, so adding a head does not change the body.
 */
export function initWeights(cfg: ModelConfig, head: HeadKind, seed: number): Weights {
  return initParams(paramSpecs(cfg, head), seed);
}

/** Fresh values for any parameter list (e.g. LoRA adapters), one named sub-stream of `seed` per tensor. */
export function initParams(specs: readonly ParamSpec[], seed: number): Weights {
  const out: Weights = new Map();
  for (const s of specs) {
    const n = s.shape.reduce((a, c) => a * c, 1);
    const data = new Float32Array(n);
    const init = s.init;
    if (init.kind === 'ones') data.fill(1);
    else if (init.kind === 'constant') data.fill(init.value);
    else if (init.kind === 'normal') new Rng(seed).derive(s.name).fillNormal(data, init.mean ?? 0, init.std);
    else if (init.kind === 'uniform') new Rng(seed).derive(s.name).fillUniform(data, init.low, init.high);
    out.set(s.name, { shape: [...s.shape], data });
  }
  return out;
}

/** Total element count of a set of weights. */
export function weightCount(w: Weights): number {
  let n = 0;
  for (const t of w.values()) n += t.data.length;
  return n;
}
