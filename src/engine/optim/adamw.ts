/**
 * AdamW as graph ops on flat float32 buffers, matching torch.optim.AdamW (torch 1.13+/2.x,
 * `_single_tensor_adamw`, amsgrad=False, maximize=False). The algorithm in torch's documentation:
 *
 *   θ_t ← θ_{t-1} − γ λ θ_{t-1}                       (decoupled weight decay, Loshchilov & Hutter 2019)
 *   m_t ← β1 m_{t-1} + (1 − β1) g_t
 *   v_t ← β2 v_{t-1} + (1 − β2) g_t²
 *   m̂_t ← m_t / (1 − β1^t),   v̂_t ← v_t / (1 − β2^t)
 *   θ_t ← θ_t − γ m̂_t / (√v̂_t + ε)
 *
 * and torch's code order, which places ε outside the square root of the bias-corrected v:
 *   param *= 1 - lr*wd;  exp_avg.lerp_(g, 1-β1);  exp_avg_sq = β2*exp_avg_sq + (1-β2)*g*g
 *   denom = sqrt(exp_avg_sq) / sqrt(1-β2^t) + eps;  param -= (lr / (1-β1^t)) * exp_avg / denom
 *
 * Each line is one or two elementwise ops over the whole flat buffer ([P]), so the update is ~13 ops per
 * parameter group however many tensors the model has.
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import type { ResolvedAdamW } from './config';

export interface AdamWStepInputs {
  /** Flat parameters, gradients and moments, all float32 [P]. */
  readonly param: Tensor;
  readonly grad: Tensor;
  readonly expAvg: Tensor;
  readonly expAvgSq: Tensor;
  /** Learning rate for this step (float32 scalar, schedule already applied). */
  readonly lr: Tensor;
  /** 1-based update count t for the bias corrections (float32 scalar). */
  readonly t: Tensor;
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
  // Scalars first (cheap): bias corrections and the step size.
  const bc1 = op.sub(1, op.pow(c.beta1, x.t)); // 1 - β1^t
  const bc2 = op.sub(1, op.pow(c.beta2, x.t)); // 1 - β2^t
  const stepSize = op.div(x.lr, bc1); // γ / (1 - β1^t)
  const invBc2Sqrt = op.reciprocal(op.sqrt(bc2)); // 1 / sqrt(1 - β2^t)

  // θ ← θ (1 − γλ)
  const p0 = x.decay && c.weightDecay > 0 ? op.mul(x.param, op.sub(1, op.mul(x.lr, c.weightDecay))) : x.param;
  // m ← m + (1 − β1)(g − m)   (torch's lerp form of β1 m + (1 − β1) g)
  const m = op.add(x.expAvg, op.mul(op.sub(x.grad, x.expAvg), 1 - c.beta1));
  // v ← β2 v + (1 − β2) g²
  const v = op.add(op.mul(x.expAvgSq, c.beta2), op.mul(op.mul(x.grad, x.grad), 1 - c.beta2));
  // denom = √v / √(1 − β2^t) + ε
  const denom = op.add(op.mul(op.sqrt(v), invBc2Sqrt), c.eps);
  // θ ← θ − (γ / (1 − β1^t)) · m / denom
  const p = op.sub(p0, op.mul(op.div(m, denom), stepSize));
  return { param: p, expAvg: m, expAvgSq: v };
}
