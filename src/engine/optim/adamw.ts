/**
 * AdamW as graph ops on flat float32 buffers, matching torch.optim.AdamW (`_single_tensor_adamw`,
 * amsgrad=False, maximize=False). The algorithm in torch's documentation:
 *
 *   θ_t ← θ_{t-1} − γ λ θ_{t-1}                       (decoupled weight decay, Loshchilov & Hutter 2019)
 *   m_t ← β1 m_{t-1} + (1 − β1) g_t
 *   v_t ← β2 v_{t-1} + (1 − β2) g_t²
 *   m̂_t ← m_t / (1 − β1^t),   v̂_t ← v_t / (1 − β2^t)
 *   θ_t ← θ_t − γ m̂_t / (√v̂_t + ε)
 *
 * with torch's placement of ε: outside the square root of the bias-corrected v, i.e.
 *   denom = √v_t / √(1 − β2^t) + ε ,   θ_t ← θ_t − (γ / (1 − β1^t)) · m_t / denom.
 *
 * Computed here in the algebraically identical form that needs fewer passes over the [P] buffers:
 *   θ_t ← θ_t − (γ √(1 − β2^t) / (1 − β1^t)) · m_t / (√v_t + ε √(1 − β2^t))
 * and with gradient clipping folded into the moment coefficients (g = c · g_raw, c the clip coefficient):
 *   m_t ← β1 m + ((1 − β1) c) g_raw ,   v_t ← β2 v + ((1 − β2) c²) g_raw²
 * so clipping costs no pass of its own. 13 elementwise passes per parameter group (12 without decay).
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import type { ResolvedAdamW } from './config';

export interface AdamWStepInputs {
  /** Flat parameters, raw (unclipped) gradients and moments, all float32 [P]. */
  readonly param: Tensor;
  readonly grad: Tensor;
  readonly expAvg: Tensor;
  readonly expAvgSq: Tensor;
  /**
   * Learning rate for this step (float32 scalar, schedule applied). Every constant of the update is
   * created in lr's graph, so building this inside an If branch from a branch-local lr keeps the whole
   * update in that branch.
   */
  readonly lr: Tensor;
  /** 1-based update count t for the bias corrections (float32 scalar). */
  readonly t: Tensor;
  /** Gradient scale (clip coefficient) as a float32 scalar, or null for none. */
  readonly gradScale: Tensor | null;
  /** Whether this group gets weight decay (biases and norm gains usually do not). */
  readonly decay: boolean;
}

export interface AdamWStepOutputs {
  readonly param: Tensor;
  readonly expAvg: Tensor;
  readonly expAvgSq: Tensor;
}

/** One AdamW update of a flat parameter group. */
export function adamwStep(c: ResolvedAdamW, x: AdamWStepInputs): AdamWStepOutputs {
  const g = x.lr.graph;
  const k = (v: number): Tensor => g.scalar(v, 'float32');
  // Scalars (cheap): bias corrections, step size, moment coefficients.
  const bc1 = op.sub(k(1), op.pow(k(c.beta1), x.t)); // 1 − β1^t
  const sqrtBc2 = op.sqrt(op.sub(k(1), op.pow(k(c.beta2), x.t))); // √(1 − β2^t)
  const stepSize = op.div(op.mul(x.lr, sqrtBc2), bc1); // γ √(1 − β2^t) / (1 − β1^t)
  const epsHat = op.mul(sqrtBc2, c.eps); // ε √(1 − β2^t)
  const s = x.gradScale;
  const cm = s ? op.mul(s, 1 - c.beta1) : k(1 - c.beta1); // (1 − β1) c
  const cv = s ? op.mul(op.mul(s, s), 1 - c.beta2) : k(1 - c.beta2); // (1 − β2) c²

  // [P] passes.
  const m = op.add(op.mul(x.expAvg, k(c.beta1)), op.mul(x.grad, cm)); // β1 m + (1 − β1) c g
  const v = op.add(op.mul(x.expAvgSq, k(c.beta2)), op.mul(op.mul(x.grad, cv), x.grad)); // β2 v + (1 − β2) c² g²
  const update = op.mul(op.div(m, op.add(op.sqrt(v), epsHat)), stepSize);
  const p0 = x.decay && c.weightDecay > 0 ? op.mul(x.param, op.sub(k(1), op.mul(x.lr, c.weightDecay))) : x.param; // θ (1 − γλ)
  return { param: op.sub(p0, update), expAvg: m, expAvgSq: v };
}
