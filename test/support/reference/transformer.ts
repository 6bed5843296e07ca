/**
 * Plain-TypeScript float64 reference forward for the GPT-2 and Llama families, written for clarity, not speed.
 * Tests check the ONNX models' outputs against it (float32 vs float64, to about 1e-4).
 *
 * Per layer (pre-norm residual blocks, as in both families):
 *   x = x + Attn(Norm1(x));  x = x + MLP(Norm2(x))
 *   Attn: q = x Wq + bq, k = x Wk + bk, v = x Wv + bv; qwen3: RMSNorm over each head's E dims of q and k
 *         (weights q_norm, k_norm); RoPE(q, k) for llama; head h reads kv head h / (H / K);
 *         softmax(q k^T / sqrt(E) + causal/pad mask) v, where mistral's sliding window W also masks keys j
 *         with i - j >= W (sequence indices); then Wo (+ bo).
 *   gemma3: embeddings times sqrt(D); every RMSNorm scales by (1 + w); scores scale by query_pre_attn_scalar^-1/2;
 *         x = x + PostAttnNorm(Attn(Norm1(x))); x = x + PostFfnNorm(MLP(Norm2(x))); local layers use the sliding
 *         window and the local RoPE, global layers full causal attention and the main RoPE.
 *   MLP : gpt2  act(x Wfc + bfc) Wproj + bproj
 *         llama (act(x Wgate) * (x Wup)) Wdown   (SwiGLU when act = silu; Shazeer 2020)
 *   Norm: gpt2 LayerNorm (Ba et al. 2016), llama RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x^2) + eps) * g
 * RoPE (Su et al. 2021) in transformers' "rotate_half" layout: dims i and i + R/2 of the R rotated dims form a
 * pair rotated by angle pos * inv_freq[i]; cos and sin are multiplied by the rope scaling's attention factor.
 */
import { Activation, ModelConfig, ropeFrequencies } from '../../../src/engine/models/config';
import { HeadKind, Weights } from '../../../src/engine/models/params';

export interface ReferenceOutput {
  /** Final hidden states after the last norm, [B, T, D]. */
  hidden: Float64Array;
  /** LM logits [B, T, V] (heads 'lm' and 'lm+value'). */
  logits?: Float64Array;
  /** Classifier scores [B, T, L] at every position (head 'score'). */
  scores?: Float64Array;
  /** Value head outputs [B, T] (head 'lm+value'). */
  values?: Float64Array;
}

/** erf to about 1e-15: Maclaurin series for |x| <= 3, continued fraction for erfc beyond (A&S 7.1.5, 7.1.14). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax <= 3) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** The activation function named as in transformers' ACT2FN. */
export function activation(name: Activation): (x: number) => number {
  switch (name) {
    case 'gelu':
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      // Hendrycks & Gimpel 2016 tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'silu':
      return (x) => x / (1 + Math.exp(-x));
    case 'relu':
      return (x) => (x > 0 ? x : 0);
  }
}

/** Position ids for a mask row: cumsum(mask) - 1, clamped at 0 (so left padding does not shift positions). */
export function positionIdsFromMask(mask: readonly number[]): number[] {
  let c = 0;
  return mask.map((m) => {
    c += m ? 1 : 0;
    return Math.max(0, c - 1);
  });
}

/** Index of the last position with mask 1 (the token a reward head reads), or -1 for an all-pad row. */
export function lastTokenIndex(mask: readonly number[]): number {
  for (let t = mask.length - 1; t >= 0; t--) if (mask[t]) return t;
  return -1;
}

function getW(w: Weights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference forward: missing parameter ${name}`);
  return t.data;
}

/** y[T, N] = x[T, M] W[M, N] (+ b[N]). */
function linear(x: Float64Array, T: number, M: number, W: Float32Array, N: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const yo = t * N;
    if (b) for (let n = 0; n < N; n++) y[yo + n] = b[n];
    for (let m = 0; m < M; m++) {
      const xv = x[t * M + m];
      if (xv === 0) continue;
      const wo = m * N;
      for (let n = 0; n < N; n++) y[yo + n] += xv * W[wo + n];
    }
  }
  return y;
}

function norm(cfg: ModelConfig, x: Float64Array, T: number, D: number, g: Float32Array, b?: Float32Array): Float64Array {
  const y = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    const o = t * D;
    if (cfg.family === 'gpt2') {
      let mean = 0;
      for (let d = 0; d < D; d++) mean += x[o + d];
      mean /= D;
      let v = 0;
      for (let d = 0; d < D; d++) v += (x[o + d] - mean) ** 2;
      v /= D;
      const r = 1 / Math.sqrt(v + cfg.normEps);
      for (let d = 0; d < D; d++) y[o + d] = (x[o + d] - mean) * r * g[d] + (b ? b[d] : 0);
    } else {
      let ms = 0;
      for (let d = 0; d < D; d++) ms += x[o + d] * x[o + d];
      const r = 1 / Math.sqrt(ms / D + cfg.normEps);
      const off = cfg.gemma ? 1 : 0; // Gemma's weights are offsets from 1
      for (let d = 0; d < D; d++) y[o + d] = x[o + d] * r * (off + g[d]);
    }
  }
  return y;
}

/** Applies RoPE in place to `x` [T, nHeads * E] at positions `pos`. */
function rope(cfg: ModelConfig, x: Float64Array, T: number, nHeads: number, pos: readonly number[], invFreq: Float64Array, scale: number): void {
  const E = cfg.headDim;
  const half = invFreq.length;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const o = t * nHeads * E + h * E;
      for (let i = 0; i < half; i++) {
        const a = pos[t] * invFreq[i];
        const c = Math.cos(a) * scale;
        const s = Math.sin(a) * scale;
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        x[o + i] = x1 * c - x2 * s;
        x[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

/** What the layers read about one row besides the weights. */
interface RowContext {
  /** Sequence length. */
  T: number;
  /** Attention mask of the row (1 = token, 0 = pad). */
  mask: readonly number[];
  /** Position of each token. */
  pos: readonly number[];
  /** RoPE inverse frequencies and cos/sin scale (used by the Llama family only). */
  rope: { invFreq: Float64Array; attentionScaling: number };
  /** Gemma's local layers' RoPE (null otherwise). */
  ropeLocal: { invFreq: Float64Array; attentionScaling: number } | null;
}

/** Token embeddings of one row [T, D], plus learned absolute positions for GPT-2. */
function embedRow(cfg: ModelConfig, weights: Weights, ids: readonly number[], b: number, row: RowContext): Float64Array {
  const D = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const emb = getW(weights, 'embed.weight');
  const x = new Float64Array(row.T * D);
  for (let t = 0; t < row.T; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < V)) throw new Error(`reference forward: token id ${id} at [${b}, ${t}] is outside the vocabulary (0..${V - 1})`);
    const scale = cfg.gemma ? Math.sqrt(D) : 1;
    for (let d = 0; d < D; d++) x[t * D + d] = emb[id * D + d] * scale;
    if (cfg.family === 'gpt2') {
      const pe = getW(weights, 'pos_embed.weight');
      for (let d = 0; d < D; d++) x[t * D + d] += pe[row.pos[t] * D + d];
    }
  }
  return x;
}

/**
 * softmax(q k^T / sqrt(E) + causal/pad mask) v for q [T, H * E] and k, v [T, K * E]; head h reads kv head
 * h / (H / K). A query that sees no key keeps a zero output. Returns [T, H * E].
 */
function causalAttention(cfg: ModelConfig, q: Float64Array, k: Float64Array, v: Float64Array, row: RowContext, window: number | null): Float64Array {
  const { T, mask: m } = row;
  const H = cfg.numHeads;
  const K = cfg.numKvHeads;
  const E = cfg.headDim;
  const group = H / K;
  const att = new Float64Array(T * H * E);
  const scale = 1 / Math.sqrt(cfg.gemma ? cfg.gemma.queryPreAttnScalar : E);
  const sc = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / group);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        if (!m[j] || (window !== null && i - j >= window)) {
          sc[j] = -Infinity;
          continue;
        }
        let s = 0;
        for (let e = 0; e < E; e++) s += q[i * H * E + h * E + e] * k[j * K * E + kh * E + e];
        sc[j] = s * scale;
        if (sc[j] > max) max = sc[j];
      }
      if (max === -Infinity) continue; // no visible key
      let z = 0;
      for (let j = 0; j <= i; j++) {
        sc[j] = sc[j] === -Infinity ? 0 : Math.exp(sc[j] - max);
        z += sc[j];
      }
      for (let j = 0; j <= i; j++) {
        const pj = sc[j] / z;
        if (pj === 0) continue;
        for (let e = 0; e < E; e++) att[i * H * E + h * E + e] += pj * v[j * K * E + kh * E + e];
      }
    }
  }
  return att;
}

/** In place: RMSNorm over each of the `rows` consecutive E-dim head vectors of x, times g [E] (Qwen3's q/k norms). */
function headNorm(cfg: ModelConfig, x: Float64Array, rows: number, g: Float32Array): void {
  const E = cfg.headDim;
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let e = 0; e < E; e++) ms += x[r * E + e] ** 2;
    const inv = 1 / Math.sqrt(ms / E + cfg.normEps);
    for (let e = 0; e < E; e++) x[r * E + e] *= inv * ((cfg.gemma ? 1 : 0) + g[e]);
  }
}

/** Attention of layer prefix `p` on the normed input h [T, D]: projections, RoPE (Llama family), attention, Wo. */
function attentionBlock(cfg: ModelConfig, weights: Weights, layer: number, h: Float64Array, row: RowContext): Float64Array {
  const { T, pos } = row;
  const p = `layers.${layer}.`;
  const local = cfg.gemma?.slidingLayers[layer] === true;
  const D = cfg.hiddenSize;
  const H = cfg.numHeads;
  const K = cfg.numKvHeads;
  const E = cfg.headDim;
  const opt = (n: string): Float32Array | undefined => weights.get(n)?.data;
  const q = linear(h, T, D, getW(weights, p + 'attn.q.weight'), H * E, opt(p + 'attn.q.bias'));
  const k = linear(h, T, D, getW(weights, p + 'attn.k.weight'), K * E, opt(p + 'attn.k.bias'));
  const v = linear(h, T, D, getW(weights, p + 'attn.v.weight'), K * E, opt(p + 'attn.v.bias'));
  if (cfg.qkNorm) {
    headNorm(cfg, q, T * H, getW(weights, p + 'attn.q_norm.weight'));
    headNorm(cfg, k, T * K, getW(weights, p + 'attn.k_norm.weight'));
  }
  if (cfg.family !== 'gpt2') {
    const { invFreq, attentionScaling } = local ? row.ropeLocal! : row.rope;
    rope(cfg, q, T, H, pos, invFreq, attentionScaling);
    rope(cfg, k, T, K, pos, invFreq, attentionScaling);
  }
  const att = causalAttention(cfg, q, k, v, row, cfg.gemma && !local ? null : cfg.slidingWindow);
  return linear(att, T, H * E, getW(weights, p + 'attn.o.weight'), D, opt(p + 'attn.o.bias'));
}

/** MLP of layer prefix `p` on the normed input h [T, D] (see the module comment). */
function mlpBlock(cfg: ModelConfig, weights: Weights, p: string, h: Float64Array, T: number): Float64Array {
  const D = cfg.hiddenSize;
  const F = cfg.intermediateSize;
  const act = activation(cfg.activation);
  const opt = (n: string): Float32Array | undefined => weights.get(n)?.data;
  if (cfg.family === 'gpt2') {
    const a = linear(h, T, D, getW(weights, p + 'mlp.fc.weight'), F, opt(p + 'mlp.fc.bias'));
    for (let i = 0; i < a.length; i++) a[i] = act(a[i]);
    return linear(a, T, F, getW(weights, p + 'mlp.proj.weight'), D, opt(p + 'mlp.proj.bias'));
  }
  const g = linear(h, T, D, getW(weights, p + 'mlp.gate.weight'), F, opt(p + 'mlp.gate.bias'));
  const u = linear(h, T, D, getW(weights, p + 'mlp.up.weight'), F, opt(p + 'mlp.up.bias'));
  for (let i = 0; i < g.length; i++) g[i] = act(g[i]) * u[i];
  return linear(g, T, F, getW(weights, p + 'mlp.down.weight'), D, opt(p + 'mlp.down.bias'));
}

/** The final hidden states of one row [T, D]: the residual blocks, then the final norm. */
function rowHidden(cfg: ModelConfig, weights: Weights, x: Float64Array, row: RowContext): Float64Array {
  const { T } = row;
  const D = cfg.hiddenSize;
  const opt = (n: string): Float32Array | undefined => weights.get(n)?.data;
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `layers.${l}.`;
    const h1 = norm(cfg, x, T, D, getW(weights, p + 'norm1.weight'), opt(p + 'norm1.bias'));
    let ao = attentionBlock(cfg, weights, l, h1, row);
    if (cfg.gemma) ao = norm(cfg, ao, T, D, getW(weights, p + 'norm1_post.weight'));
    for (let i = 0; i < T * D; i++) x[i] += ao[i];
    const h2 = norm(cfg, x, T, D, getW(weights, p + 'norm2.weight'), opt(p + 'norm2.bias'));
    let mo = mlpBlock(cfg, weights, p, h2, T);
    if (cfg.gemma) mo = norm(cfg, mo, T, D, getW(weights, p + 'norm2_post.weight'));
    for (let i = 0; i < T * D; i++) x[i] += mo[i];
  }
  return norm(cfg, x, T, D, getW(weights, 'norm_f.weight'), opt('norm_f.bias'));
}

/** LM logits of one row [T, V], written at row b of `logits` [B, T, V]. */
function rowLogits(cfg: ModelConfig, weights: Weights, x: Float64Array, T: number, b: number, logits: Float64Array): void {
  const D = cfg.hiddenSize;
  const V = cfg.vocabSize;
  if (!cfg.tieWordEmbeddings) {
    logits.set(linear(x, T, D, getW(weights, 'lm_head.weight'), V), b * T * V);
    return;
  }
  // logits = x E^T with the embedding matrix E [V, D]
  const emb = getW(weights, 'embed.weight');
  for (let t = 0; t < T; t++) {
    for (let vv = 0; vv < V; vv++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += x[t * D + d] * emb[vv * D + d];
      logits[(b * T + t) * V + vv] = s;
    }
  }
}

/**
 * Float64 forward of a batch of equal-length rows. `mask` (1 = token, 0 = pad) defaults to all ones;
 * `positionIds` default to {@link positionIdsFromMask}. Padded key positions are excluded from attention; a
 * query that sees no key (a left-pad position) gets a zero attention output.
 */
export function referenceForward(
  cfg: ModelConfig,
  head: HeadKind,
  weights: Weights,
  ids: readonly (readonly number[])[],
  mask?: readonly (readonly number[])[],
  positionIds?: readonly (readonly number[])[],
): ReferenceOutput {
  const B = ids.length;
  const T = ids[0]?.length ?? 0;
  const D = cfg.hiddenSize;
  const hiddenAll = new Float64Array(B * T * D);
  const logits = head !== 'score' ? new Float64Array(B * T * cfg.vocabSize) : undefined;
  const scores = head === 'score' ? new Float64Array(B * T * cfg.numLabels) : undefined;
  const values = head === 'lm+value' ? new Float64Array(B * T) : undefined;
  const ropeFreqs = ropeFrequencies(cfg);
  const g = cfg.gemma;
  const ropeLocal = g ? ropeFrequencies({ ...cfg, ropeTheta: g.localRopeTheta, ropeScaling: g.localRopeScaling }) : null;
  for (let b = 0; b < B; b++) {
    if (ids[b].length !== T) throw new Error(`reference forward: row ${b} has ${ids[b].length} tokens, row 0 has ${T}`);
    const m = mask?.[b] ?? new Array<number>(T).fill(1);
    const row: RowContext = { T, mask: m, pos: positionIds?.[b] ?? positionIdsFromMask(m), rope: ropeFreqs, ropeLocal };
    const x = rowHidden(cfg, weights, embedRow(cfg, weights, ids[b], b, row), row);
    hiddenAll.set(x, b * T * D);
    if (logits) rowLogits(cfg, weights, x, T, b, logits);
    if (scores) scores.set(linear(x, T, D, getW(weights, 'score.weight'), cfg.numLabels), b * T * cfg.numLabels);
    if (values) values.set(linear(x, T, D, getW(weights, 'v_head.weight'), 1, getW(weights, 'v_head.bias')), b * T);
  }
  return { hidden: hiddenAll, logits, scores, values };
}

/** Per-token log-softmax of logits [B, T, V] at the given next tokens: out[b][t] = log p(ids[b][t+1] | ids[b][..t]). */
export function referenceTokenLogprobs(logits: Float64Array, ids: readonly (readonly number[])[], V: number): number[][] {
  const T = ids[0].length;
  return ids.map((row, b) => {
    const out: number[] = [];
    for (let t = 0; t + 1 < T; t++) {
      const o = (b * T + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[o + v] - max);
      out.push(logits[o + row[t + 1]] - max - Math.log(z));
    }
    return out;
  });
}
