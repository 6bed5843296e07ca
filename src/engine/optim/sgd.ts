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
 * d is 1 on the first update and (1 − τ) afterwards.
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import type { ResolvedSgd } from './config';

export interface SgdStepInputs {
  readonly param: Tensor;
  readonly grad: Tensor;
  /** Momentum buffer [P]; required when momentum > 0. */
  readonly momentumBuffer?: Tensor;
  readonly lr: Tensor;
  /** 1-based update count (float32 scalar). */
  readonly t: Tensor;
  readonly decay: boolean;
}

export interface SgdStepOutputs {
  readonly param: Tensor;
  readonly momentumBuffer?: Tensor;
}

export function sgdStep(c: ResolvedSgd, x: SgdStepInputs): SgdStepOutputs {
  let d = x.decay && c.weightDecay > 0 ? op.add(x.grad, op.mul(x.param, c.weightDecay)) : x.grad;
  let buf: Tensor | undefined;
  if (c.momentum > 0) {
    if (!x.momentumBuffer) throw new Error('sgdStep: momentum > 0 needs a momentum buffer');
    // coefficient of d: 1 when t == 1 (first update), 1 - dampening afterwards
    const coef = c.dampening === 0 ? null : op.where(op.lessEqual(x.t, 1), 1, x.t.graph.scalar(1 - c.dampening, x.t.dtype));
    buf = op.add(op.mul(x.momentumBuffer, c.momentum), coef ? op.mul(d, coef) : d);
    d = c.nesterov ? op.add(d, op.mul(buf, c.momentum)) : buf;
  }
  const p = op.sub(x.param, op.mul(d, x.lr));
  return buf ? { param: p, momentumBuffer: buf } : { param: p };
}
