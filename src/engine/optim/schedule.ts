/**
 * Learning-rate schedules, as multipliers λ(t) of the base learning rate, with t = the number of
 * optimizer steps already taken (0 for the first update). Semantics follow Hugging Face transformers'
 * `get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup` and
 * `get_cosine_with_min_lr_schedule_with_warmup` (num_cycles = 0.5), i.e. the LambdaLR schedules TRL
 * trainers use: the first update of a warmup runs at lr * 0 / W.
 *
 *   warmup  (t < W):  λ = t / max(1, W)
 *   constant:         λ = 1
 *   linear:           λ = r + (1 - r) · max(0, (T - t) / max(1, T - W))
 *   cosine:           λ = r + (1 - r) · ½ (1 + cos(π · p)),   p = clamp((t - W) / max(1, T - W), 0, 1)
 *
 * with W = warmupSteps, T = totalSteps, r = minLrRatio (0 = decay to zero, as HF's defaults). Past T the
 * cosine stays at r (HF's would rise again); that is the only deviation.
 *
 * `lrMultiplier` evaluates λ in float64 (reference and for plots); `lrMultiplierGraph` builds the same
 * expression inside an ONNX graph from the step counter, so K steps in one Loop each get their own lr.
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';

export type LrSchedule =
  | { readonly kind: 'constant'; readonly warmupSteps?: number }
  | { readonly kind: 'linear'; readonly warmupSteps?: number; readonly totalSteps: number; readonly minLrRatio?: number }
  | { readonly kind: 'cosine'; readonly warmupSteps?: number; readonly totalSteps: number; readonly minLrRatio?: number };

/** Checks a schedule config, naming the bad field. */
export function validateSchedule(s: LrSchedule, where = 'schedule'): void {
  const w = s.warmupSteps ?? 0;
  if (!Number.isInteger(w) || w < 0) throw new Error(`${where}.warmupSteps: expected a non-negative integer, got ${String(s.warmupSteps)}`);
  if (s.kind === 'constant') return;
  if (s.kind !== 'linear' && s.kind !== 'cosine') throw new Error(`${where}.kind: expected "constant", "linear" or "cosine", got ${JSON.stringify((s as { kind: unknown }).kind)}`);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new Error(`${where}.totalSteps: expected a positive integer, got ${String(s.totalSteps)}`);
  if (w > s.totalSteps) throw new Error(`${where}.warmupSteps (${w}) exceeds totalSteps (${s.totalSteps})`);
  const r = s.minLrRatio ?? 0;
  if (!(r >= 0 && r <= 1)) throw new Error(`${where}.minLrRatio: expected a number in [0, 1], got ${String(s.minLrRatio)}`);
}

/** λ(t) in float64. */
export function lrMultiplier(s: LrSchedule, t: number): number {
  const w = s.warmupSteps ?? 0;
  if (t < w) return t / Math.max(1, w);
  if (s.kind === 'constant') return 1;
  const r = s.minLrRatio ?? 0;
  if (s.kind === 'linear') return r + (1 - r) * Math.max(0, (s.totalSteps - t) / Math.max(1, s.totalSteps - w));
  const p = Math.min(1, Math.max(0, (t - w) / Math.max(1, s.totalSteps - w)));
  return r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * p));
}

/** Cos is not differentiated (the schedule has no gradient), so a plain node suffices. */
function cos(x: Tensor): Tensor {
  const [y] = x.graph.addNode('Cos', [x], {}, [{ shape: x.shape, dtype: x.dtype }], 'cos');
  return y as Tensor;
}

/**
 * λ(t) as float32 graph ops, from `t` (float32 scalar = steps already taken, in the graph that needs it).
 * Float32 represents integer t exactly up to 2^24 steps.
 */
export function lrMultiplierGraph(s: LrSchedule, t: Tensor): Tensor {
  const w = s.warmupSteps ?? 0;
  let decay: Tensor;
  if (s.kind === 'constant') {
    decay = op.add(op.mul(t, 0), 1); // 1, shaped like t
  } else {
    const r = s.minLrRatio ?? 0;
    const span = Math.max(1, s.totalSteps - w);
    let f: Tensor;
    if (s.kind === 'linear') {
      f = op.maximum(op.div(op.sub(s.totalSteps, t), span), 0);
    } else {
      const p = op.minimum(op.maximum(op.div(op.sub(t, w), span), 0), 1);
      f = op.mul(op.add(cos(op.mul(p, Math.PI)), 1), 0.5);
    }
    decay = r === 0 ? f : op.add(op.mul(f, 1 - r), r);
  }
  if (w === 0) return decay;
  return op.where(op.less(t, w), op.div(t, Math.max(1, w)), decay);
}
