/**
 * Composite ops for transformers and alignment losses, built from the primitives in ops.ts (so their gradients
 * come from the primitive VJP rules). Shapes: B batch, T sequence, C channels, H heads, D head size, V vocab.
 */
import { DType, isFloat } from './dtype';
import { Attr, Graph, Tensor, fmtShape, graphOf } from './graph';
import * as op from './ops';

/** softplus(x) = log(1 + e^x), stable for large |x|: max(x, 0) + log(1 + e^-|x|). */
export function softplus(x: Tensor): Tensor {
  // max(x, 0) is written 0.5 (x + |x|) rather than relu(x): both have value 0 at x = 0, but with the kinks of
  // relu and |x| each given derivative 0 there, relu's form would make softplus'(0) = 0 instead of 1/2. That
  // point matters: DPO's first step has policy == reference, so h = 0 exactly and -log sigmoid(beta h) would
  // get no gradient at all.
  return op.add(op.mul(op.add(x, op.abs(x)), 0.5), op.log(op.add(op.exp(op.neg(op.abs(x))), 1)));
}

/** log sigmoid(x) = -softplus(-x), stable for large |x| (DPO's -log sigmoid(beta h) is softplus(-beta h)). */
export function logSigmoid(x: Tensor): Tensor {
  return op.neg(softplus(op.neg(x)));
}

/**
 * GELU (Hendrycks & Gimpel 2016). 'none': x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (BERT, Llama-family MLPs
 * that use exact GELU); 'tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's gelu_new).
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (!isFloat(x.dtype)) throw new Error(`gelu: needs a floating-point tensor, got ${x.dtype}`);
  // One fused ONNX Gelu node (opset 20) with its own VJP rule (autodiff.ts); emit.ts expands it in float64.
  return x.graph.addNode('Gelu', [x], { approximate: { kind: 'string', value: approximate } }, [{ shape: x.shape, dtype: x.dtype }])[0];
}

/** SiLU / swish: x * sigmoid(x) (Llama's MLP gate). */
export function silu(x: Tensor): Tensor {
  return op.mul(x, op.sigmoid(x));
}

/**
 * Inverted dropout (Srivastava et al. 2014): zeroes each element with probability p and scales the rest by
 * 1/(1-p), a fresh mask on every run (and every Loop iteration). One ONNX Dropout node in training mode; its
 * mask output feeds the VJP (g * mask / (1-p)). `seed` fixes onnxruntime's generator for reproducible runs.
 * Returns x unchanged for p = 0.
 */
export function dropout(x: Tensor, p: number, seed?: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!isFloat(x.dtype)) throw new Error(`dropout: needs a floating-point tensor, got ${x.dtype}`);
  if (p === 0) return x;
  const g = x.graph;
  const attrs: Record<string, Attr> = seed === undefined ? {} : { seed: { kind: 'int', value: seed } };
  const [y] = g.addNode('Dropout', [x, g.scalar(p, x.dtype), g.scalar(1, 'bool')], attrs, [
    { shape: x.shape, dtype: x.dtype },
    { shape: x.shape, dtype: 'bool' },
  ]);
  return y;
}

/** clip(x, lo, hi) = min(max(x, lo), hi); gradient 1 inside, 0 outside. */
export function clip(x: Tensor, lo: number | Tensor, hi: number | Tensor): Tensor {
  return op.minimum(op.maximum(x, lo), hi);
}

/**
 * LayerNorm over the last axis (Ba et al. 2016): (x - mean) / sqrt(var + eps) * gamma + beta, with the biased
 * variance as in PyTorch. x [..., C], gamma/beta [C].
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor | null, eps = 1e-5): Tensor {
  const c = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || gamma.shape[0] !== c || (beta && (beta.rank !== 1 || beta.shape[0] !== c))) {
    throw new Error(`layerNorm: gamma ${fmtShape(gamma.shape)} / beta ${beta ? fmtShape(beta.shape) : '-'} must be [${c}] for x ${fmtShape(x.shape)}`);
  }
  if (!isFloat(x.dtype) || gamma.dtype !== x.dtype || (beta && beta.dtype !== x.dtype)) {
    throw new Error(`layerNorm: x, gamma, beta need one floating-point dtype, got ${x.dtype}, ${gamma.dtype}, ${beta?.dtype ?? '-'}`);
  }
  // One fused ONNX LayerNormalization node; its Mean and InvStdDev outputs (float32, [..., 1]) feed the VJP
  // rule in autodiff.ts. emit.ts expands it into primitives in float64.
  const stats = [...x.shape.slice(0, -1), 1];
  // ONNX allows float32 (stash_type 1) statistics only; float64 graphs are expanded at emission and keep float64.
  const statsType: DType = x.dtype === 'float64' ? 'float64' : 'float32';
  const [y] = x.graph.addNode(
    'LayerNormalization',
    [x, gamma, beta],
    { axis: { kind: 'int', value: -1 }, epsilon: { kind: 'float', value: eps } },
    [
      { shape: x.shape, dtype: x.dtype },
      { shape: stats, dtype: statsType },
      { shape: stats, dtype: statsType },
    ],
  );
  return y;
}

/** RMSNorm over the last axis (Zhang & Sennrich 2019; Llama): x / sqrt(mean(x^2) + eps) * gamma. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  const c = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || gamma.shape[0] !== c) throw new Error(`rmsNorm: gamma ${fmtShape(gamma.shape)} must be [${c}] for x ${fmtShape(x.shape)}`);
  if (!isFloat(x.dtype) || gamma.dtype !== x.dtype) throw new Error(`rmsNorm: x and gamma need one floating-point dtype, got ${x.dtype}, ${gamma.dtype}`);
  // One IR node with outputs [Y, InvRms [..., 1]] and its own VJP rule (autodiff.ts); emit.ts expands it into
  // primitives (ONNX's RMSNormalization needs opset 23).
  const [y] = x.graph.addNode('RMSNorm', [x, gamma], { epsilon: { kind: 'float', value: eps } }, [
    { shape: x.shape, dtype: x.dtype },
    { shape: [...x.shape.slice(0, -1), 1], dtype: x.dtype },
  ]);
  return y;
}

/** Token embedding: table [V, C], ids [...] int64 -> [..., C]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  return op.gather(table, ids, 0);
}

/** x @ w (+ b) with w [in, out] (HF GPT-2 Conv1D layout; transpose nn.Linear's [out, in] weights first). */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  if (w.rank !== 2) throw new Error(`linear: weight must be 2-D, got ${fmtShape(w.shape)}`);
  const y = op.matmul(x.rank === 1 ? op.unsqueeze(x, [0]) : x, w);
  const r = x.rank === 1 ? op.squeeze(y, [0]) : y;
  return b ? op.add(r, b) : r;
}

/** Lower-triangular bool mask [T, T]: entry (i, j) is true where query i may attend to key j (j <= i). */
export function causalMask(g: Graph, t: number): Tensor {
  const r = op.range(g, 0, t);
  return op.lessEqual(op.unsqueeze(r, [0]), op.unsqueeze(r, [1]));
}

/**
 * Causal mask [Tq, Tk] for attention scores [..., Tq, Tk] whose queries are the last Tq of Tk positions (a KV
 * cache holds Tk - Tq earlier keys): query i may attend key j iff j <= i + (Tk - Tq). Works with symbolic Tq/Tk.
 */
export function causalMaskFor(scores: Tensor): Tensor {
  const tq = scores.shape[scores.rank - 2];
  const tk = scores.shape[scores.rank - 1];
  const g = scores.graph;
  if (typeof tq === 'number' && typeof tk === 'number') {
    const rows = op.add(op.range(g, 0, tq), tk - tq);
    return op.lessEqual(op.unsqueeze(op.range(g, 0, tk), [0]), op.unsqueeze(rows, [1]));
  }
  const nq = op.dim(scores, -2);
  const nk = op.dim(scores, -1);
  // Build with explicit shapes so the mask carries the scores' own symbolic dims.
  const rows = g.addNode('Range', [op.sub(nk, nq), nk, g.scalar(1, 'int64')], {}, [{ shape: [tq], dtype: 'int64' }])[0];
  const cols = g.addNode('Range', [g.scalar(0, 'int64'), nk, g.scalar(1, 'int64')], {}, [{ shape: [tk], dtype: 'int64' }])[0];
  return op.lessEqual(op.unsqueeze(cols, [0]), op.unsqueeze(rows, [1]));
}

/** The most negative finite value used to mask logits in a dtype (finite, so masked rows stay NaN-free). */
export function maskValue(dtype: DType): number {
  return dtype === 'float16' ? -65504 : dtype === 'float32' ? -3.4028234663852886e38 : -1.7976931348623157e308;
}

/**
 * Scaled dot-product attention (Vaswani et al. 2017, eq. 1): softmax(q k^T / sqrt(D) + mask) v.
 * q [B, H, Tq, D], k/v [B, H, Tk, D]; `mask` bool broadcastable to [B, H, Tq, Tk] (true = attend), e.g.
 * causalMask(g, T) combined with a padding mask, or 'causal' (causalMaskFor: queries are the last Tq keys).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask?: Tensor | 'causal'): Tensor {
  const d = q.shape[q.rank - 1];
  if (typeof d !== 'number') throw new Error(`attention: head size of q ${fmtShape(q.shape)} must be static`);
  // Scale q ([.., Tq, D]) rather than the scores ([.., Tq, Tk]): fewer elements, same result.
  let scores = op.matmul(op.mul(q, 1 / Math.sqrt(d)), op.swapAxes(k, -1, -2));
  const m = mask === 'causal' ? causalMaskFor(scores) : mask;
  if (m) scores = op.where(m, scores, maskValue(q.dtype));
  return op.matmul(op.softmax(scores, -1), v);
}

/**
 * log softmax(logits)[target] along the last axis: logits [..., V], targets [...] int64 (valid indices) -> [...].
 * One IR node (`TokenLogProb`) whose forward is one fused LogSoftmax kernel and a GatherElements, and whose VJP
 * is
 *   d logits = g (onehot(target) - softmax(logits)),
 * one fused Softmax kernel recomputed from the logits: no [..., V] tensor stays alive from forward to backward.
 * Mask ignored positions yourself (replace their targets by any valid index, multiply the result by a mask).
 */
export function tokenLogProbs(logits: Tensor, targets: Tensor): Tensor {
  if (!isFloat(logits.dtype)) throw new Error(`tokenLogProbs: logits must be floating-point, got ${logits.dtype}`);
  if (targets.dtype !== 'int64') throw new Error(`tokenLogProbs: targets must be int64, got ${targets.dtype}`);
  if (!op.shapesEqual(logits.shape.slice(0, -1), targets.shape)) {
    throw new Error(`tokenLogProbs: logits ${fmtShape(logits.shape)} need targets of shape ${fmtShape(logits.shape.slice(0, -1))}, got ${fmtShape(targets.shape)}`);
  }
  const g = graphOf('TokenLogProb', [logits, targets]);
  return g.addNode('TokenLogProb', [logits, targets], {}, [{ shape: targets.shape, dtype: logits.dtype }])[0];
}

/** Elements of one chunk's [rows, V] logits in {@link linearTokenLogProbs} (128 MB in float32). */
export const HEAD_CHUNK_ELEMENTS = 1 << 25;

/**
 * log softmax(x W)[target] per row, without the [N, V] logits of all rows at once: x [N, D], w [D, V] (a
 * transpose of a [V, D] table, as a tied LM head's, is read in place), targets [N] int64 (valid indices) -> [N].
 * The rows go through the head in chunks of `chunkRows` (default: HEAD_CHUNK_ELEMENTS / V), each one IR node
 * (`LinearTokenLogProb`) whose forward is a GEMM, LogSoftmax and a gather, and whose VJP recomputes its chunk's
 * logits during the backward (autodiff.ts): d logits = g (onehot - softmax(x W)), dx = d logits W^T,
 * dW = x^T d logits. So at most one chunk's [rows, V] tensors are alive at a time, in the forward and the backward,
 * at the cost of the head's GEMM run twice. Mask ignored positions yourself, as for {@link tokenLogProbs}.
 */
export function linearTokenLogProbs(x: Tensor, w: Tensor, targets: Tensor, chunkRows?: number): Tensor {
  const [N, D] = x.shape;
  const [D2, V] = w.shape;
  if (x.rank !== 2 || w.rank !== 2 || typeof N !== 'number' || typeof V !== 'number' || D !== D2) {
    throw new Error(`linearTokenLogProbs: needs static x [N, D] and w [D, V], got ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`);
  }
  if (targets.dtype !== 'int64' || !op.shapesEqual(targets.shape, [N])) throw new Error(`linearTokenLogProbs: targets must be int64 [${N}], got ${targets.dtype}${fmtShape(targets.shape)}`);
  if (!isFloat(x.dtype) || x.dtype !== w.dtype) throw new Error(`linearTokenLogProbs: x and w must share a float dtype, got ${x.dtype} and ${w.dtype}`);
  const rows = Math.max(1, Math.min(N, chunkRows ?? Math.floor(HEAD_CHUNK_ELEMENTS / V)));
  // A [V, D] table transposed is passed as is with transB = 1 (one Gemm reads it; no [D, V] copy is made).
  const tp = w.producer;
  const perm = tp?.op === 'Transpose' ? tp.attrs.perm : undefined;
  const tied = perm?.kind === 'ints' && perm.value[0] === 1 && perm.value[1] === 0;
  const wIn = tied ? (tp?.inputs[0] as Tensor) : w;
  const sizes = Array.from({ length: Math.ceil(N / rows) }, (_, i) => Math.min(rows, N - i * rows));
  const xs = op.split(x, 0, sizes);
  const ts = op.split(targets, 0, sizes);
  const g = graphOf('LinearTokenLogProb', [x, wIn, targets]);
  const attrs: Record<string, Attr> = { transB: { kind: 'int', value: tied ? 1 : 0 } };
  const lps = xs.map((xc, i) => g.addNode('LinearTokenLogProb', [xc, wIn, ts[i] as Tensor], attrs, [{ shape: [sizes[i] as number], dtype: x.dtype }])[0]);
  return op.concat(lps, 0);
}

export interface CrossEntropy {
  /** Per-token loss, 0 at ignored positions; targets' shape. */
  perToken: Tensor;
  /** Sum of per-token losses / number of non-ignored tokens (max 1): PyTorch's reduction='mean'. */
  mean: Tensor;
  /** Number of non-ignored tokens (float, logits' dtype). */
  count: Tensor;
  /** log p(target) per token, 0 at ignored positions (for DPO-family sequence log-probs). */
  logProbs: Tensor;
}

/**
 * Softmax cross-entropy: logits [..., V], targets [...] int64; targets equal to `ignoreIndex` (default -100,
 * PyTorch's) contribute nothing.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -100): CrossEntropy {
  if (targets.dtype !== 'int64') throw new Error(`crossEntropy: targets must be int64, got ${targets.dtype}`);
  if (!op.shapesEqual(logits.shape.slice(0, -1), targets.shape)) {
    throw new Error(`crossEntropy: logits ${fmtShape(logits.shape)} need targets of shape ${fmtShape(logits.shape.slice(0, -1))}, got ${fmtShape(targets.shape)}`);
  }
  const valid = op.not(op.equal(targets, ignoreIndex));
  const safe = op.where(valid, targets, 0);
  const picked = tokenLogProbs(logits, safe);
  const validF = op.cast(valid, logits.dtype);
  const logProbs = op.mul(picked, validF);
  const perToken = op.neg(logProbs);
  const count = op.sum(validF);
  const mean = op.div(op.sum(perToken), op.maximum(count, 1));
  return { perToken, mean, count, logProbs };
}
