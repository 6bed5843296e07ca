/**
 * Gradient check of a whole small GPT-2-style transformer: token + position embedding -> LayerNorm ->
 * causal multi-head self-attention -> residual -> LayerNorm -> MLP (GELU) -> residual -> LayerNorm -> tied
 * LM head -> cross-entropy with ignored positions. Every parameter's gradient is compared with float64
 * central finite differences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, Tensor } from '../../../../src/engine/graph/graph';
import { grad } from '../../../../src/engine/graph/autodiff';
import * as op from '../../../../src/engine/graph/ops';
import * as nn from '../../../../src/engine/graph/nn';
import { InputSpec, gradCheck } from './gradcheck';

// B batch, T sequence, C channels, H heads, D = C / H head size, V vocab.
const B = 2;
const T = 3;
const C = 4;
const H = 2;
const D = C / H;
const V = 5;

const params: [string, number[]][] = [
  ['wte', [V, C]],
  ['wpe', [T, C]],
  ['ln1.g', [C]],
  ['ln1.b', [C]],
  ['attn.w', [C, 3 * C]],
  ['attn.b', [3 * C]],
  ['proj.w', [C, C]],
  ['proj.b', [C]],
  ['ln2.g', [C]],
  ['ln2.b', [C]],
  ['fc.w', [C, 4 * C]],
  ['fc.b', [4 * C]],
  ['fc2.w', [4 * C, C]],
  ['fc2.b', [C]],
  ['lnf.g', [C]],
  ['lnf.b', [C]],
];

/** The block; `region` wraps the attention and MLP sublayers (Graph.checkpoint for gradient checkpointing). */
function forwardWith(region: (f: () => Tensor) => Tensor, ids: Tensor, targets: Tensor, ...p: Tensor[]): Tensor {
  const w = Object.fromEntries(params.map(([n], i) => [n, p[i]]));
  const g = ids.graph;
  const pos = op.range(g, 0, T);
  const x0 = op.add(nn.embedding(w.wte, ids), nn.embedding(w.wpe, pos)); // [B, T, C]
  const x = region(() => sublayers(w, x0));
  const logits = op.matmul(nn.layerNorm(x, w['lnf.g'], w['lnf.b']), op.transpose(w.wte)); // [B, T, V]
  return nn.crossEntropy(logits, targets).mean;
}

function sublayers(w: Record<string, Tensor>, x0: Tensor): Tensor {
  let x = x0;
  // Attention: qkv [B, T, 3C] -> q, k, v [B, H, T, D]
  const h = nn.layerNorm(x, w['ln1.g'], w['ln1.b']);
  const qkv = nn.linear(h, w['attn.w'], w['attn.b']);
  const heads = (t: Tensor): Tensor => op.transpose(op.reshape(t, [B, T, H, D]), [0, 2, 1, 3]);
  const [q, k, v] = op.split(qkv, 2, [C, C, C]).map(heads);
  const a = nn.attention(q, k, v, 'causal'); // [B, H, T, D]
  const merged = op.reshape(op.transpose(a, [0, 2, 1, 3]), [B, T, C]);
  x = op.add(x, nn.linear(merged, w['proj.w'], w['proj.b']));
  // MLP
  const h2 = nn.layerNorm(x, w['ln2.g'], w['ln2.b']);
  return op.add(x, nn.linear(nn.gelu(nn.linear(h2, w['fc.w'], w['fc.b']), 'tanh'), w['fc2.w'], w['fc2.b']));
}

const forward = (ids: Tensor, targets: Tensor, ...p: Tensor[]): Tensor => forwardWith((f) => f(), ids, targets, ...p);

const specs: InputSpec[] = [
  { shape: [B, T], dtype: 'int64', gen: { values: [0, 3, 4, 2, 2, 1] } },
  { shape: [B, T], dtype: 'int64', gen: { values: [3, 4, -100, 2, 1, 0] } },
  ...params.map(([n, s]): InputSpec => ({ shape: s, gen: n.endsWith('.g') ? { uniform: [0.5, 1.5] } : 'normal' })),
];

test('transformer block: every parameter gradient matches float64 finite differences', async () => {
  const res = await gradCheck(specs, forward, { seed: 7 });
  const rows = params.map(([n], i) => `${n.padEnd(8)} ${res.perInput[i + 2].toExponential(2)}`);
  console.log(`transformer block, max relative gradient error per parameter:\n${rows.join('\n')}\nmax ${res.gradErr.toExponential(2)}`);
  assert.ok(Number.isFinite(res.y[0]) && res.y[0] > 0, `loss ${res.y[0]}`);
  assert.ok(res.gradErr < 1e-6, `max relative gradient error ${res.gradErr}`);
  // The ignored position's target must not matter: every parameter got a nonzero gradient.
  for (let i = 2; i < res.analytic.length; i++) assert.ok(res.analytic[i]!.some((v) => v !== 0), `${params[i - 2][0]} has a zero gradient`);
});

test('gradient checkpointing: the block recomputed in the backward gives float64 finite-difference gradients', async () => {
  const checkpointed = (ids: Tensor, targets: Tensor, ...p: Tensor[]): Tensor => forwardWith((f) => ids.graph.checkpoint(f), ids, targets, ...p);
  const res = await gradCheck(specs, checkpointed, { seed: 7 });
  assert.ok(res.gradErr < 1e-6, `max relative gradient error ${res.gradErr}`);
  for (let i = 2; i < res.analytic.length; i++) assert.ok(res.analytic[i]!.some((v) => v !== 0), `${params[i - 2][0]} has a zero gradient`);
  // The backward reads a recomputed copy: one more MatMul per sublayer GEMM, and its input waits for the
  // output gradient (the tie Add), so the forward's intermediates are not read by any backward node.
  const count = (f: typeof forward): { matmuls: number; readByBackward: Set<Tensor>; regionOutput: Tensor | undefined } => {
    const g = new Graph();
    const xs = specs.map((s, i) => g.input(`x${i}`, s.shape, s.dtype ?? 'float64'));
    const loss = f(...(xs as [Tensor, Tensor, ...Tensor[]]));
    const before = new Set(g.nodes);
    const inRegion = new Set(g.nodes.filter((n) => n.region !== undefined).flatMap((n) => n.outputs));
    grad(loss, xs.slice(2));
    const backward = g.nodes.filter((n) => !before.has(n));
    return {
      matmuls: g.nodes.filter((n) => n.op === 'MatMul').length,
      readByBackward: new Set(backward.flatMap((n) => n.inputs.filter((i): i is Tensor => i !== null && inRegion.has(i) && i.producer?.op !== 'Constant'))),
      regionOutput: [...before].filter((n) => n.region !== undefined).pop()?.outputs[0],
    };
  };
  const plain = count(forward);
  const ckpt = count(checkpointed);
  assert.ok(ckpt.matmuls > plain.matmuls, `recompute adds MatMuls: ${plain.matmuls} -> ${ckpt.matmuls}`);
  assert.deepEqual([...ckpt.readByBackward], [ckpt.regionOutput], 'of the region, backward nodes read only its output (the block output)');
  assert.ok(plain.readByBackward.size === 0 && plain.regionOutput === undefined);
});
