/**
 * SGD as graph ops on flat float32 buffers, matching torch.optim.SGD (`_single_tensor_sgd`):
 *
 *   d = g + λ θ                                   (coupled L2 weight decay)
 *   if μ ≠ 0:  b = d                   on the first update (torch clones d into the buffer)
 *              b = μ b + (1 − τ) d      afterwards                 (τ = dampening)
 *              d = d + μ b  (Nesterov)  or  d = b
 *   θ ← θ − γ d
 *
 * The first-update case is expressed without branching: the buffer starts at zero, and the coefficient of
 * d is 1 on the first update and (1 − τ) afterwards. g = c · g_raw with c the clip coefficient.
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import type { ResolvedSgd } from './config';

export interface SgdStepInputs {
  readonly param: Tensor;
  /** Raw (unclipped) flat gradient. */
  readonly grad: Tensor;
  /** Momentum buffer [P]; required when momentum > 0. */
  readonly momentumBuffer?: Tensor;
  /** Learning rate (float32 scalar); constants are created in its graph (see adamw.ts). */
  readonly lr: Tensor;
  /** 1-based update count (float32 scalar). */
  readonly t: Tensor;
  /** Clip coefficient, or null. */
  readonly gradScale: Tensor | null;
  readonly decay: boolean;
}

export interface SgdStepOutputs {
  readonly param: Tensor;
  readonly momentumBuffer?: Tensor;
}

export function sgdStep(c: ResolvedSgd, x: SgdStepInputs): SgdStepOutputs {
  const k = (v: number): Tensor => x.lr.graph.scalar(v, 'float32');
  const gs = x.gradScale ? op.mul(x.grad, x.gradScale) : x.grad;
  let d = x.decay && c.weightDecay > 0 ? op.add(gs, op.mul(x.param, k(c.weightDecay))) : gs;
  let buf: Tensor | undefined;
  if (c.momentum > 0) {
    if (!x.momentumBuffer) throw new Error('sgdStep: momentum > 0 needs a momentum buffer');
    // coefficient of d: 1 when t == 1 (first update), 1 − dampening afterwards
    const coef = c.dampening === 0 ? null : op.where(op.lessEqual(x.t, k(1)), k(1), k(1 - c.dampening));
    buf = op.add(op.mul(x.momentumBuffer, k(c.momentum)), coef ? op.mul(d, coef) : d);
    d = c.nesterov ? op.add(d, op.mul(buf, k(c.momentum))) : buf;
  }
  const p = op.sub(x.param, op.mul(d, x.lr));
  return buf ? { param: p, momentumBuffer: buf } : { param: p };
}
