/**
 * onnxruntime profiles (SessionOptions.enableProfiling) summarized for the benchmarks: kernel time per op type
 * and per kind (matmul, elementwise, fused kernels, data movement, reductions) over one model run.
 */
import * as fs from 'node:fs';

export interface ProfileSummary {
  /** What was profiled: one K=1 run (one optimizer step) after a warm-up run, at this many threads. */
  threads: number;
  total_ms: number;
  /** GEMMs: MatMul, FusedMatMul, Gemm. */
  matmul_ms: number;
  /**
   * Kernels over the flat parameter buffers (an input is 1-D of a group's size): the optimizer update,
   * slicing the parameter views, concatenating the gradients and the gradient norm.
   */
  flat_buffer_ms: number;
  /** Kernel time by kind: matmul, elementwise, normalization/activation kernels, data movement, reductions. */
  by_kind_pct: Record<string, number>;
  /** The op types taking the most time, with their share. */
  top_ops: { op: string; ms: number; pct: number }[];
  by_op_ms: Record<string, number>;
}

const KIND: [string, RegExp][] = [
  ['matmul', /^(MatMul|FusedMatMul|Gemm)$/],
  ['fused kernels (LayerNorm, Gelu, Softmax, LogSoftmax)', /^(LayerNormalization|Gelu|Softmax|LogSoftmax)$/],
  ['elementwise', /^(Add|Sub|Mul|Div|Sqrt|Sigmoid|Tanh|Exp|Log|Neg|Pow|Where|Cast|Max|Min|Reciprocal|Erf|Equal|Not|Less)$/],
  ['data movement (Transpose, Split, Concat, gather/scatter)', /^(Transpose|Split|Concat|Slice|Pad|Gather|GatherElements|GatherND|ScatterND|ScatterElements|Expand|Reshape|Squeeze|Unsqueeze|Identity)$/],
  ['reductions', /^Reduce/],
];

/**
 * onnxruntime profile -> milliseconds per op type, over the LAST model run in the file (the first is a
 * warm-up whose first-touch allocations would distort small kernels). Loop/If are excluded: their bodies'
 * kernels are listed themselves.
 */
export function summarizeProfile(file: string, flatSizes: readonly number[], threads: number): ProfileSummary {
  type Ev = { cat?: string; name: string; ts: number; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] } };
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as Ev[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const from = runs.length ? (runs[runs.length - 1] as Ev).ts : 0;
  const by: Record<string, number> = {};
  let matmul = 0;
  let flat = 0;
  for (const e of events) {
    const opName = e.args?.op_name;
    if (e.ts < from || e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !opName || opName === 'Loop' || opName === 'If') continue;
    const ms = e.dur / 1000;
    by[opName] = (by[opName] ?? 0) + ms;
    if (/MatMul|Gemm/.test(opName)) matmul += ms;
    const shapes = (e.args?.input_type_shape ?? []).flatMap((o) => Object.values(o));
    if (shapes.some((sh) => sh.length === 1 && flatSizes.includes(sh[0] as number))) flat += ms;
  }
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  const pct = (x: number): number => Math.round((1000 * x) / Math.max(total, 1e-9)) / 10;
  const sorted = Object.entries(by).sort((a, b) => b[1] - a[1]);
  const kinds: Record<string, number> = {};
  for (const [o, ms] of sorted) {
    const kind = KIND.find(([, re]) => re.test(o))?.[0] ?? 'other';
    kinds[kind] = (kinds[kind] ?? 0) + ms;
  }
  return {
    threads,
    total_ms: Math.round(total),
    matmul_ms: Math.round(matmul),
    flat_buffer_ms: Math.round(flat),
    by_kind_pct: Object.fromEntries(Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)]).filter(([, v]) => (v as number) > 0)),
    top_ops: sorted.slice(0, 12).map(([o, ms]) => ({ op: o, ms: Math.round(ms), pct: pct(ms) })),
    by_op_ms: Object.fromEntries(sorted.map(([kk, v]) => [kk, Math.round(v)])),
  };
}
