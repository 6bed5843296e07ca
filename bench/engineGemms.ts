/**
 * The matrix multiplies of one training step of the benchmark GPT (bench/engineGpt.ts), as separate GEMMs, so
 * that bench/engine.ts can time onnxruntime's GEMM (MLAS) and PyTorch's (OpenBLAS) on exactly the shapes the
 * step runs, each in isolation, and split each side's step time into "GEMMs" and "everything else".
 *
 * Each case is C = op(A) op(B) with op(X) = Xᵀ where trans is set, A stored [k, m] if transA else [m, k] and B
 * stored [n, k] if transB else [k, n]: the layouts the step uses (weights stored [in, out], the head tied to
 * wte [V, C], per-head attention batched over B·H).
 */

import { Graph, type Tensor } from '../src/engine/graph/graph';
import * as op from '../src/engine/graph/ops';
import { toOnnx } from '../src/engine/graph/emit';
import { loadOrt } from '../src/engine/runtime/devices';
import type { GptConfig } from './engineGpt';

export interface GemmCase {
  readonly name: string;
  /** Independent GEMMs of this shape, run as one batched call (B·H for attention, 1 otherwise). */
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /**
   * How many times one training step runs this GEMM on each side. They differ only for the q, k, v
   * projections: three C-wide linears in the engine, PyTorch's fused 3C-wide c_attn (bench/engineGpt.ts).
   */
  readonly perStep: { readonly ours: number; readonly pytorch: number };
}

/** The GEMMs of one forward + backward of the GPT: per layer and for the tied head. */
export function stepGemms(c: GptConfig, batch: number): GemmCase[] {
  const N = batch * c.seq; // tokens
  const C = c.dim;
  const T = c.seq;
  const D = C / c.heads;
  const BH = batch * c.heads;
  const L = c.layers;
  const both = { ours: L, pytorch: L };
  const lin = (name: string, inF: number, outF: number, perStep = both): GemmCase[] => [
    { name: `${name} forward`, batch: 1, m: N, k: inF, n: outF, transA: false, transB: false, perStep }, // X W
    { name: `${name} dX`, batch: 1, m: N, k: outF, n: inF, transA: false, transB: true, perStep }, // G Wᵀ
    { name: `${name} dW`, batch: 1, m: inF, k: N, n: outF, transA: true, transB: false, perStep }, // Xᵀ G
  ];
  const once = { ours: 1, pytorch: 1 };
  const perLayer = (g: Omit<GemmCase, 'perStep'>): GemmCase => ({ ...g, perStep: both });
  return [
    ...lin('q, k, v (each)', C, C, { ours: 3 * L, pytorch: 0 }),
    ...lin('fused qkv', C, 3 * C, { ours: 0, pytorch: L }),
    ...lin('attn proj', C, C),
    ...lin('mlp fc', C, 4 * C),
    ...lin('mlp proj', 4 * C, C),
    perLayer({ name: 'scores q kᵀ', batch: BH, m: T, k: D, n: T, transA: false, transB: true }),
    perLayer({ name: 'attn v', batch: BH, m: T, k: T, n: D, transA: false, transB: false }),
    perLayer({ name: 'd attn = dY vᵀ', batch: BH, m: T, k: D, n: T, transA: false, transB: true }),
    perLayer({ name: 'dv = attnᵀ dY', batch: BH, m: T, k: T, n: D, transA: true, transB: false }),
    perLayer({ name: 'dq = dS k', batch: BH, m: T, k: T, n: D, transA: false, transB: false }),
    perLayer({ name: 'dk = dSᵀ q', batch: BH, m: T, k: T, n: D, transA: true, transB: false }),
    { name: 'head forward (x wteᵀ)', batch: 1, m: N, k: C, n: c.vocab, transA: false, transB: true, perStep: once },
    { name: 'head dX (dlogits wte)', batch: 1, m: N, k: c.vocab, n: C, transA: false, transB: false, perStep: once },
    { name: 'head dW (dlogitsᵀ x)', batch: 1, m: c.vocab, k: N, n: C, transA: true, transB: false, perStep: once },
  ];
}

/** Stored shapes of A and B for a case (see the module comment). */
export function operandShapes(g: GemmCase): { a: number[]; b: number[] } {
  const pre = g.batch > 1 ? [g.batch] : [];
  return { a: [...pre, ...(g.transA ? [g.k, g.m] : [g.m, g.k])], b: [...pre, ...(g.transB ? [g.n, g.k] : [g.k, g.n])] };
}

export function gemmFlops(g: GemmCase): number {
  return 2 * g.batch * g.m * g.k * g.n;
}

/** Distinct operand sets per timed call, used in rotation, so operands are not all hot in cache. */
export const GEMM_COPIES = 4;

/** Deterministic operand values in [-0.5, 0.5). */
export function gemmOperand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 4294967296 - 0.5;
  }
  return out;
}

/**
 * onnxruntime side: one session per case whose graph runs the case's (fused) MatMul on GEMM_COPIES distinct
 * operand pairs, so a timed call is GEMM_COPIES GEMMs and one run's overhead.
 * `time(i, calls)` gives process CPU seconds and wall seconds per GEMM.
 */
export async function oursGemmTimer(cases: readonly GemmCase[], threads: number): Promise<{
  time: (index: number, calls: number) => Promise<{ cpu: number; wall: number }>;
  dispose: () => Promise<void>;
}> {
  const ort = loadOrt();
  const numel = (s: number[]): number => s.reduce((x, y) => x * y, 1);
  type OrtTensor = InstanceType<typeof ort.Tensor>;
  const runs: { session: Awaited<ReturnType<typeof ort.InferenceSession.create>>; feeds: Record<string, OrtTensor> }[] = [];
  for (const c of cases) {
    const { a: as, b: bs } = operandShapes(c);
    const g = new Graph('gemm');
    const feeds: Record<string, OrtTensor> = {};
    const last2 = (t: Tensor): Tensor => op.swapAxes(t, -1, -2);
    for (let j = 0; j < GEMM_COPIES; j++) {
      const a = g.input(`a${j}`, as, 'float32');
      const b = g.input(`b${j}`, bs, 'float32');
      const y = op.matmul(c.transA ? last2(a) : a, c.transB ? last2(b) : b); // one FusedMatMul each
      // Only y's first element leaves the graph: y itself stays in onnxruntime's arena. As a graph output it
      // would be allocated (and page-faulted) on every run, or copied into a caller's buffer.
      g.output(`y${j}`, op.slice(op.reshape(y, [-1]), [0], [1], [0]));
      feeds[`a${j}`] = new ort.Tensor('float32', gemmOperand(numel(as), 2 * j + 1), as);
      feeds[`b${j}`] = new ort.Tensor('float32', gemmOperand(numel(bs), 2 * j + 2), bs);
    }
    const session = await ort.InferenceSession.create(toOnnx(g), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    await session.run(feeds); // warm-up
    runs.push({ session, feeds });
  }
  return {
    time: async (index, calls) => {
      const r = runs[index];
      if (!r) throw new Error(`gemm case ${index} does not exist`);
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let i = 0; i < calls; i++) await r.session.run(r.feeds);
      const c = process.cpuUsage(c0);
      const n = calls * GEMM_COPIES;
      return { cpu: (c.user + c.system) / 1e6 / n, wall: (performance.now() - w0) / 1000 / n };
    },
    dispose: async () => {
      for (const r of runs) await r.session.release();
    },
  };
}
