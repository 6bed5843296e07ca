/**
 * Optimizer configurations, with torch's defaults and names.
 */

import type { LrSchedule } from './schedule';
import { validateSchedule } from './schedule';

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019) exactly as
 * torch.optim.AdamW computes it (defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2).
 */
export interface AdamWConfig {
  readonly kind: 'adamw';
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

/** torch.optim.SGD: coupled L2 weight decay, optional (Nesterov) momentum with dampening. */
export interface SgdConfig {
  readonly kind: 'sgd';
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

export type OptimizerConfig = AdamWConfig | SgdConfig;

/**
 * A parameter group with a learning rate of its own, as a torch param group that sets only `lr`
 * (`torch.optim.AdamW([{'params': rest}, {'params': these, 'lr': lr}], lr=base)`): the schedule's multiplier
 * scales it as it scales the base lr, and every other setting (betas, eps, weight decay, clipping over all
 * parameters) is the optimizer's.
 */
export interface ParamGroupConfig {
  /** Names of trainable parameters; a parameter is in at most one group. */
  readonly params: readonly string[];
  readonly lr: number;
}

/** Everything about how gradients become updates. */
export interface OptimConfig {
  readonly optimizer: OptimizerConfig;
  /** Parameters with their own learning rate; the rest train at `optimizer.lr`. */
  readonly paramGroups?: readonly ParamGroupConfig[];
  /** Learning-rate schedule (default: constant). */
  readonly schedule?: LrSchedule;
  /**
   * Clip the global gradient norm to this value (torch.nn.utils.clip_grad_norm_: g *= min(1, max / (‖g‖ + 1e-6))).
   * Omit or 0 for no clipping.
   */
  readonly maxGradNorm?: number;
}

/** Defaults filled in. */
export type ResolvedAdamW = Required<AdamWConfig>;
export interface ResolvedSgd {
  readonly kind: 'sgd';
  readonly lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
}

function num(v: unknown, where: string, lo: number, hi: number, loOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (loOpen && v === lo)) {
    throw new Error(`${where}: expected a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Validates an optimizer config and fills torch's defaults; errors name the field. */
export function resolveOptimizer(c: OptimizerConfig, where = 'optimizer'): ResolvedAdamW | ResolvedSgd {
  if (c.kind === 'adamw') {
    return {
      kind: 'adamw',
      lr: num(c.lr, `${where}.lr`, 0, 1e3),
      beta1: num(c.beta1 ?? 0.9, `${where}.beta1`, 0, 1 - 1e-12),
      beta2: num(c.beta2 ?? 0.999, `${where}.beta2`, 0, 1 - 1e-12),
      eps: num(c.eps ?? 1e-8, `${where}.eps`, 0, 1, true),
      weightDecay: num(c.weightDecay ?? 0.01, `${where}.weightDecay`, 0, 1e3),
    };
  }
  if (c.kind === 'sgd') {
    const r: ResolvedSgd = {
      kind: 'sgd',
      lr: num(c.lr, `${where}.lr`, 0, 1e3),
      momentum: num(c.momentum ?? 0, `${where}.momentum`, 0, 1),
      dampening: num(c.dampening ?? 0, `${where}.dampening`, 0, 1),
      nesterov: c.nesterov ?? false,
      weightDecay: num(c.weightDecay ?? 0, `${where}.weightDecay`, 0, 1e3),
    };
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) throw new Error(`${where}.nesterov: needs momentum > 0 and dampening 0 (as torch.optim.SGD)`);
    return r;
  }
  throw new Error(`${where}.kind: expected "adamw" or "sgd", got ${JSON.stringify((c as { kind: unknown }).kind)}`);
}

/** Validates the whole optimization config. */
export function validateOptimConfig(c: OptimConfig, where = 'optim'): void {
  resolveOptimizer(c.optimizer, `${where}.optimizer`);
  if (c.schedule) validateSchedule(c.schedule, `${where}.schedule`);
  if (c.maxGradNorm !== undefined) num(c.maxGradNorm, `${where}.maxGradNorm`, 0, 1e12);
  const seen = new Set<string>();
  (c.paramGroups ?? []).forEach((g, i) => {
    const at = `${where}.paramGroups[${i}]`;
    num(g.lr, `${at}.lr`, 0, 1e3);
    if (!Array.isArray(g.params) || g.params.length === 0) throw new Error(`${at}.params: expected a non-empty list of parameter names`);
    for (const n of g.params) {
      if (seen.has(n)) throw new Error(`${at}.params: '${n}' is in an earlier group too`);
      seen.add(n);
    }
  });
}
