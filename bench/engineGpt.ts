/**
 * A compact GPT-2-style decoder for the engine benchmark and the trainer tests, mirrored by
 * bench/engine_torch.py so the two runs compute the same function with the same parameters:
 *
 *   x = wte[ids] + wpe                                          [B, T, C]
 *   per layer:  x += proj(attn(ln1(x)))   causal MHA, H heads of D = C/H, q, k, v projections [C, C] each
 *               x += fc2(gelu_tanh(fc(ln2(x))))                 MLP 4C
 *   logits = ln_f(x) @ wteᵀ                                     [B, T, V]  (tied embeddings)
 *   loss = cross_entropy(logits, targets)                       mean over tokens
 *
 * Init as GPT-2 / nanoGPT: N(0, 0.02), residual projections N(0, 0.02/√(2L)), LayerNorm (1, 0), biases 0.
 *
 * q, k and v are three [C, C] linears, as in the engine's transformer (src/engine/models/transformer.ts,
 * where HF GPT-2's fused c_attn is split at load). PyTorch keeps nanoGPT's fused c_attn [C, 3C]: the same
 * function and parameter count, each side in its faster form. onnxruntime's GEMM runs the 3C-wide (1152)
 * projection at about 65 GFLOP/s on this CPU and the C-wide ones at about 100 (bench "gemms" section), so
 * three GEMMs beat one there; OpenBLAS runs the fused one slightly faster than three.
 *
 * The causal mask is additive (scores + M, M = 0 on and below the diagonal, −1e30 above) rather than a
 * Where: the same softmax (masked weights are exactly 0 in float32) but its backward is the identity, where
 * a Where costs a select over [B, H, T, T] in the forward and again in the backward.
 */

import { Tensor } from '../src/engine/graph/graph';
import * as nn from '../src/engine/graph/nn';
import * as op from '../src/engine/graph/ops';
import type { ParamSpec } from '../src/engine/graph/params';

export interface GptConfig {
  /** Vocabulary size V. */
  readonly vocab: number;
  /** Context length T (also the position table size). */
  readonly seq: number;
  /** Width C. */
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
}

/** Parameter list in HF GPT-2-like names (linear weights stored [in, out]). */
export function gptParams(c: GptConfig): ParamSpec[] {
  const C = c.dim;
  const resid = 0.02 / Math.sqrt(2 * c.layers);
  const ps: ParamSpec[] = [
    { name: 'wte', shape: [c.vocab, C], init: { kind: 'normal', std: 0.02 } },
    { name: 'wpe', shape: [c.seq, C], init: { kind: 'normal', std: 0.02 } },
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `h.${l}.`;
    ps.push(
      { name: `${p}ln_1.weight`, shape: [C], init: { kind: 'ones' } },
      { name: `${p}ln_1.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}attn.q.weight`, shape: [C, C], init: { kind: 'normal', std: 0.02 } },
      { name: `${p}attn.q.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}attn.k.weight`, shape: [C, C], init: { kind: 'normal', std: 0.02 } },
      { name: `${p}attn.k.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}attn.v.weight`, shape: [C, C], init: { kind: 'normal', std: 0.02 } },
      { name: `${p}attn.v.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}attn.c_proj.weight`, shape: [C, C], init: { kind: 'normal', std: resid } },
      { name: `${p}attn.c_proj.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}ln_2.weight`, shape: [C], init: { kind: 'ones' } },
      { name: `${p}ln_2.bias`, shape: [C], init: { kind: 'zeros' } },
      { name: `${p}mlp.c_fc.weight`, shape: [C, 4 * C], init: { kind: 'normal', std: 0.02 } },
      { name: `${p}mlp.c_fc.bias`, shape: [4 * C], init: { kind: 'zeros' } },
      { name: `${p}mlp.c_proj.weight`, shape: [4 * C, C], init: { kind: 'normal', std: resid } },
      { name: `${p}mlp.c_proj.bias`, shape: [C], init: { kind: 'zeros' } },
    );
  }
  ps.push({ name: 'ln_f.weight', shape: [C], init: { kind: 'ones' } }, { name: 'ln_f.bias', shape: [C], init: { kind: 'zeros' } });
  return ps;
}

/** Mean next-token cross-entropy of ids [B, T] against targets [B, T]. */
export function gptLoss(c: GptConfig, p: Readonly<Record<string, Tensor>>, ids: Tensor, targets: Tensor): Tensor {
  const P = (n: string): Tensor => {
    const t = p[n];
    if (!t) throw new Error(`gpt: missing parameter ${n}`);
    return t;
  };
  const [B, T] = ids.shape as number[];
  const C = c.dim;
  const H = c.heads;
  const D = C / H;
  let x = op.add(nn.embedding(P('wte'), ids), P('wpe')); // [B, T, C]
  const heads = (t: Tensor): Tensor => op.transpose(op.reshape(t, [B!, T!, H, D]), [0, 2, 1, 3]); // [B, H, T, D]
  const maskBias = new Float32Array(T! * T!);
  for (let i = 0; i < T!; i++) for (let j = i + 1; j < T!; j++) maskBias[i * T! + j] = -1e30;
  const mask = ids.graph.constant(maskBias, 'float32', [T!, T!]); // [T, T]
  // softmax(q kᵀ / √D + M) v  (Vaswani et al. 2017, eq. 1, causal)
  const attend = (q: Tensor, k: Tensor, v: Tensor): Tensor =>
    op.matmul(op.softmax(op.add(op.mul(op.matmul(q, op.swapAxes(k, -1, -2)), 1 / Math.sqrt(D)), mask), -1), v);
  for (let l = 0; l < c.layers; l++) {
    const pre = `h.${l}.`;
    const h = nn.layerNorm(x, P(`${pre}ln_1.weight`), P(`${pre}ln_1.bias`));
    const proj = (n: 'q' | 'k' | 'v'): Tensor => heads(nn.linear(h, P(`${pre}attn.${n}.weight`), P(`${pre}attn.${n}.bias`)));
    const a = attend(proj('q'), proj('k'), proj('v')); // [B, H, T, D]
    const merged = op.reshape(op.transpose(a, [0, 2, 1, 3]), [B!, T!, C]);
    x = op.add(x, nn.linear(merged, P(`${pre}attn.c_proj.weight`), P(`${pre}attn.c_proj.bias`)));
    const h2 = nn.layerNorm(x, P(`${pre}ln_2.weight`), P(`${pre}ln_2.bias`));
    const m = nn.gelu(nn.linear(h2, P(`${pre}mlp.c_fc.weight`), P(`${pre}mlp.c_fc.bias`)), 'tanh');
    x = op.add(x, nn.linear(m, P(`${pre}mlp.c_proj.weight`), P(`${pre}mlp.c_proj.bias`)));
  }
  const xf = nn.layerNorm(x, P('ln_f.weight'), P('ln_f.bias'));
  const logits = op.matmul(xf, op.transpose(P('wte'), [1, 0])); // [B, T, V]
  return nn.crossEntropy(logits, targets).mean;
}
