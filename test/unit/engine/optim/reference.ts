/**
 * Plain-TypeScript float64 references of torch.optim.AdamW / torch.optim.SGD / clip_grad_norm_ / the HF
 * schedules, written from torch's documented algorithms, for comparing the in-graph optimizers against.
 */

import { lrMultiplier, type LrSchedule } from '../../../../src/engine/optim/schedule';

export interface RefAdamW {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface RefSgd {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

export interface RefParam {
  name: string;
  data: Float64Array;
  decay: boolean;
}

/** torch.nn.utils.clip_grad_norm_: returns the total norm and scales grads in place. */
export function refClip(grads: Float64Array[], maxNorm: number | undefined): number {
  let s = 0;
  for (const g of grads) for (const x of g) s += x * x;
  const norm = Math.sqrt(s);
  if (maxNorm) {
    const coef = Math.min(1, maxNorm / (norm + 1e-6));
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= coef;
  }
  return norm;
}

/** One torch AdamW step (t is 1-based), updating p, m, v in place. */
export function refAdamWStep(c: RefAdamW, lr: number, t: number, p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, decay: boolean): void {
  const bc1 = 1 - c.beta1 ** t;
  const bc2 = 1 - c.beta2 ** t;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    if (decay) p[i] = p[i]! * (1 - lr * c.weightDecay);
    m[i] = m[i]! + (g[i]! - m[i]!) * (1 - c.beta1);
    v[i] = v[i]! * c.beta2 + (1 - c.beta2) * g[i]! * g[i]!;
    const denom = Math.sqrt(v[i]!) / bc2Sqrt + c.eps;
    p[i] = p[i]! - stepSize * (m[i]! / denom);
  }
}

/** One torch SGD step; `buf` undefined when momentum is 0; `first` = no momentum buffer yet. */
export function refSgdStep(c: RefSgd, lr: number, first: boolean, p: Float64Array, g: Float64Array, buf: Float64Array | undefined, decay: boolean): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i]! + (decay ? c.weightDecay * p[i]! : 0);
    if (c.momentum !== 0 && buf) {
      buf[i] = first ? d : c.momentum * buf[i]! + (1 - c.dampening) * d;
      d = c.nesterov ? d + c.momentum * buf[i]! : buf[i]!;
    }
    p[i] = p[i]! - lr * d;
  }
}

export function refLr(base: number, s: LrSchedule | undefined, t: number): number {
  return base * lrMultiplier(s ?? { kind: 'constant' }, t);
}
