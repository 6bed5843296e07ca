/**
 * Global gradient norm and clipping, as torch.nn.utils.clip_grad_norm_ (norm_type 2):
 *   total = ‖(g_1, ..., g_n)‖₂ ;  coef = min(1, max_norm / (total + 1e-6)) ;  g_i ← g_i · coef
 * torch multiplies by the clamped coefficient unconditionally; so does this.
 */

import { Tensor } from '../graph/graph';
import * as op from '../graph/ops';

/** Σ x² over all elements, as one ReduceSumSquare node (not differentiated: used on gradients only). */
export function sumOfSquares(x: Tensor): Tensor {
  const [y] = x.graph.addNode('ReduceSumSquare', [x], { keepdims: { kind: 'int', value: 0 } }, [{ shape: [], dtype: x.dtype }], 'sumsq');
  return y as Tensor;
}

/** ‖g‖₂ over several flat gradient buffers. */
export function globalNorm(grads: readonly Tensor[]): Tensor {
  if (grads.length === 0) throw new Error('globalNorm: no gradients');
  let s = sumOfSquares(grads[0] as Tensor);
  for (const g of grads.slice(1)) s = op.add(s, sumOfSquares(g));
  return op.sqrt(s);
}

/** The clip coefficient min(1, maxNorm / (norm + 1e-6)). */
export function clipCoefficient(norm: Tensor, maxNorm: number): Tensor {
  return op.minimum(op.div(maxNorm, op.add(norm, 1e-6)), 1);
}
