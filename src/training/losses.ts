/**
 * Preference and reward losses as graph functions (the tracing API of src/engine/graph): each takes per-sequence
 * log-prob tensors (or reward scores) and returns the scalar loss, the per-example losses and TRL's metrics as
 * scalar tensors, all in the caller's graph, so a trainer adds `grad(loss, params)` and outputs the metrics.
 *
 * Notation (ALIGNMENT_REFERENCE.md section 4): l(y) = sum over completion tokens of log pi_theta(y_t | x, y_<t)
 * (the `sum` of `logprobs()` in src/engine/models/transformer.ts); rho(y) = l_theta(y) - l_ref(y);
 * h = rho(y+) - rho(y-). Shapes: every per-example tensor is [B]; token counts are float [B] (`count`).
 *
 * Each function mirrors the float64 reference of the same name in ./lossReference.ts (the tests compare them
 * value by value and gradient by gradient); the papers and equations are cited there and again per branch here.
 * Reference log-probs come from a frozen model: callers pass them as graph inputs (no gradient flows to them
 * from the trainer's parameters), but the functions do not detach them, so the gradient checks can cover them.
 */
import type { Tensor } from '../engine/graph/graph';
import * as nn from '../engine/graph/nn';
import * as op from '../engine/graph/ops';
import type { CpoConfig, DpoConfig, KtoConfig, OrpoConfig, SimpoConfig } from './lossReference';

export type { CpoConfig, DpoConfig, DpoLossType, KtoConfig, OrpoConfig, SimpoConfig } from './lossReference';

/** Per-pair log-prob tensors, all [B] of one float dtype. */
export interface PairLogpTensors {
  /** l_theta(y+), summed over the chosen completion's tokens. */
  readonly policyChosen: Tensor;
  readonly policyRejected: Tensor;
  /** l_ref(y+), l_ref(y-) (required by DPO; ignored by the reference-free losses). */
  readonly refChosen?: Tensor;
  readonly refRejected?: Tensor;
  /** Completion token counts |y+|, |y-| as floats. */
  readonly chosenTokens: Tensor;
  readonly rejectedTokens: Tensor;
  /** Optional mean raw logit per sequence (over its completion tokens and the vocabulary), for `logits/*`. */
  readonly chosenLogitsMean?: Tensor;
  readonly rejectedLogitsMean?: Tensor;
}

export interface LossTensors {
  /** Scalar batch loss. */
  readonly loss: Tensor;
  /** Per-example loss terms [B] (without batch-level auxiliary terms such as an NLL). */
  readonly losses: Tensor;
  /** TRL metric name -> scalar tensor. */
  readonly metrics: Record<string, Tensor>;
}

/** Batch mean of a [B] tensor, as a scalar. */
const mean = (x: Tensor): Tensor => op.mean(x);
/** 1.0 where a > b, else 0.0, in a's dtype. */
const gt = (a: Tensor, b: Tensor): Tensor => op.cast(op.greater(a, b), a.dtype);
/** Token-weighted mean of per-sequence means: sum(m_i n_i) / sum(n_i) (TRL's mean over all completion tokens). */
const tokenWeighted = (m: Tensor, n: Tensor): Tensor => op.div(op.sum(op.mul(m, n)), op.sum(n));

function pairMetrics(p: PairLogpTensors, lc: Tensor, lr: Tensor, rewC: Tensor, rewR: Tensor): Record<string, Tensor> {
  // Metrics are observations: cut them off from autodiff so nothing downstream can differentiate through them.
  const [c, r, a, b] = [rewC, rewR, lc, lr].map(op.stopGradient);
  const out: Record<string, Tensor> = {
    'rewards/chosen': mean(c),
    'rewards/rejected': mean(r),
    'rewards/accuracies': mean(gt(c, r)),
    'rewards/margins': mean(op.sub(c, r)),
    'logps/chosen': mean(a),
    'logps/rejected': mean(b),
  };
  if (p.chosenLogitsMean) out['logits/chosen'] = tokenWeighted(op.stopGradient(p.chosenLogitsMean), p.chosenTokens);
  if (p.rejectedLogitsMean) out['logits/rejected'] = tokenWeighted(op.stopGradient(p.rejectedLogitsMean), p.rejectedTokens);
  return out;
}

/**
 * Negative log-likelihood of the chosen completions with TRL's convention for CPO and ORPO: the mean over ALL
 * chosen completion tokens of the batch, -sum_i l(y+_i) / sum_i |y+_i|.
 */
export function chosenNllGraph(policyChosen: Tensor, chosenTokens: Tensor): Tensor {
  return op.neg(op.div(op.sum(policyChosen), op.sum(chosenTokens)));
}

// ---------------------------------------------------------------------------------------------------------
// Reward models

export interface BradleyTerryTensors {
  /** r(x, y+), r(x, y-): [B]. */
  readonly chosen: Tensor;
  readonly rejected: Tensor;
  /** Optional per-pair margin m [B]. */
  readonly margin?: Tensor;
  /** Optional token counts of each pair (both completions), [B], for `num_tokens`. */
  readonly numTokens?: Tensor;
}

/**
 * Bradley-Terry reward loss (Bradley & Terry 1952; Ouyang et al. 2022 eq. 1), with the optional margin of
 * Llama 2 (Touvron et al. 2023, eq. 2) and reward centering (Eisenstein et al. 2023, eq. 2):
 *   loss = mean[-log sigmoid(r+ - r- - m)] + c * mean[(r+ + r-)^2].
 */
export function bradleyTerryLossGraph(t: BradleyTerryTensors, centerRewardsCoefficient = 0): LossTensors {
  const diff = op.sub(t.chosen, t.rejected);
  const z = t.margin ? op.sub(diff, t.margin) : diff;
  const losses = op.neg(nn.logSigmoid(z));
  let loss = mean(losses);
  if (centerRewardsCoefficient !== 0) {
    const s = op.add(t.chosen, t.rejected);
    loss = op.add(loss, op.mul(mean(op.mul(s, s)), centerRewardsCoefficient));
  }
  const c = op.stopGradient(t.chosen);
  const r = op.stopGradient(t.rejected);
  const all = op.concat([c, r], 0);
  const metrics: Record<string, Tensor> = {
    accuracy: mean(gt(c, r)),
    margin: mean(op.sub(c, r)),
    min_reward: op.min(all),
    mean_reward: mean(all),
    max_reward: op.max(all),
  };
  if (t.numTokens) metrics.num_tokens = op.sum(t.numTokens);
  return { loss, losses, metrics };
}

/** Pointwise reward regression: loss = mean[(r - y)^2] on ratings y. Metrics: mae, min/mean/max reward. */
export function rewardRegressionLossGraph(rewards: Tensor, ratings: Tensor): LossTensors {
  const d = op.sub(rewards, ratings);
  const losses = op.mul(d, d);
  const r = op.stopGradient(rewards);
  return {
    loss: mean(losses),
    losses,
    metrics: { mae: mean(op.abs(op.stopGradient(d))), min_reward: op.min(r), mean_reward: mean(r), max_reward: op.max(r) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// DPO family

/**
 * DPO and its variants on h = rho(y+) - rho(y-) (see `dpoLoss` in ./lossReference.ts for the full notes).
 * Metrics use summed log-probs for every loss type, as TRL logs them.
 */
export function dpoLossGraph(p: PairLogpTensors, cfg: DpoConfig): LossTensors {
  if (!p.refChosen || !p.refRejected) throw new Error('dpoLossGraph: refChosen and refRejected are required (DPO uses a reference model)');
  const { beta } = cfg;
  const eps = cfg.labelSmoothing ?? 0;
  if (cfg.lossType === 'robust' && !(eps >= 0 && eps < 0.5)) throw new RangeError(`robust DPO needs labelSmoothing in [0, 0.5), got ${eps}`);
  const rhoC = op.sub(p.policyChosen, p.refChosen);
  const rhoR = op.sub(p.policyRejected, p.refRejected);
  // ipo / sigmoid_norm: each rho divided by its completion's token count (mean-token log-ratios).
  const norm = cfg.lossType === 'ipo' || cfg.lossType === 'sigmoid_norm';
  const h = norm ? op.sub(op.div(rhoC, p.chosenTokens), op.div(rhoR, p.rejectedTokens)) : op.sub(rhoC, rhoR);
  const bh = op.mul(h, beta);
  let losses: Tensor;
  switch (cfg.lossType) {
    case 'sigmoid':
    case 'sigmoid_norm':
      // Rafailov et al. 2023, eq. 7: -log sigmoid(beta h). sigmoid_norm: the same on mean-token rho
      // (length normalization, Meng et al. 2024 "SimPO" sec. 2.2; TRL's loss_type="sigmoid_norm").
      losses = op.neg(nn.logSigmoid(bh));
      break;
    case 'cdpo':
      // Conservative DPO (Mitchell 2023): -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h).
      losses = op.sub(op.mul(nn.logSigmoid(bh), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(bh)), eps));
      break;
    case 'robust':
      // Robust DPO (Chowdhury et al. 2024, eq. 9): [-(1-eps) log sig(beta h) + eps log sig(-beta h)] / (1 - 2 eps).
      losses = op.div(op.add(op.mul(nn.logSigmoid(bh), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(bh)), eps)), 1 - 2 * eps);
      break;
    case 'hinge':
      // SLiC (Zhao et al. 2023, eq. 2): max(0, 1 - beta h).
      losses = op.relu(op.sub(1, bh));
      break;
    case 'ipo': {
      // IPO (Azar et al. 2023, eq. 17): (h_bar - 1/(2 beta))^2 with mean-token log-ratios (TRL's choice).
      const d = op.sub(h, 1 / (2 * beta));
      losses = op.mul(d, d);
      break;
    }
  }
  return { loss: mean(losses), losses, metrics: pairMetrics(p, p.policyChosen, p.policyRejected, op.mul(rhoC, beta), op.mul(rhoR, beta)) };
}

/**
 * SimPO (Meng et al. 2024, eq. 6): u = l(y+)/|y+| - l(y-)/|y-|; loss = -log sigmoid(beta u - gamma), no reference
 * model; plus nllWeight * NLL(y+) when set (CPO-SimPO).
 */
export function simpoLossGraph(p: PairLogpTensors, cfg: SimpoConfig): LossTensors {
  const lc = op.div(p.policyChosen, p.chosenTokens);
  const lr = op.div(p.policyRejected, p.rejectedTokens);
  const losses = op.neg(nn.logSigmoid(op.sub(op.mul(op.sub(lc, lr), cfg.beta), cfg.gamma)));
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const w = cfg.nllWeight ?? 0;
  const loss = w !== 0 ? op.add(mean(losses), op.mul(nll, w)) : mean(losses);
  const metrics = pairMetrics(p, lc, lr, op.mul(lc, cfg.beta), op.mul(lr, cfg.beta));
  metrics.nll_loss = op.stopGradient(nll);
  return { loss, losses, metrics };
}

/**
 * CPO (Xu et al. 2024, eq. 3-4): -log sigmoid(beta (l(y+) - l(y-))) on summed log-probs, no reference, plus
 * alpha * NLL(y+) (token-level mean, {@link chosenNllGraph}); optional label smoothing as in cDPO.
 */
export function cpoLossGraph(p: PairLogpTensors, cfg: CpoConfig): LossTensors {
  const eps = cfg.labelSmoothing ?? 0;
  const z = op.mul(op.sub(p.policyChosen, p.policyRejected), cfg.beta);
  let losses = op.neg(nn.logSigmoid(z));
  if (eps !== 0) losses = op.sub(op.mul(nn.logSigmoid(z), -(1 - eps)), op.mul(nn.logSigmoid(op.neg(z)), eps));
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const loss = op.add(mean(losses), op.mul(nll, cfg.alpha));
  const metrics = pairMetrics(p, p.policyChosen, p.policyRejected, op.mul(p.policyChosen, cfg.beta), op.mul(p.policyRejected, cfg.beta));
  metrics.nll_loss = op.stopGradient(nll);
  return { loss, losses, metrics };
}

/**
 * ORPO (Hong et al. 2024, eq. 6-7): with p = exp(mean-token log pi), logodds = log p - log(1 - p);
 * loss = NLL(y+) - lambda * mean log sigmoid(logodds(y+) - logodds(y-)).
 * log(1 - e^l) is computed directly (as TRL's log1p(-exp(l))): fine for mean-token log-probs below about -1e-4
 * in float32; closer to 0 (a completion with probability ~1 per token) loses relative precision.
 */
export function orpoLossGraph(p: PairLogpTensors, cfg: OrpoConfig): LossTensors {
  const lc = op.div(p.policyChosen, p.chosenTokens);
  const lr = op.div(p.policyRejected, p.rejectedTokens);
  const log1mExp = (l: Tensor): Tensor => op.log(op.sub(1, op.exp(l)));
  const logOdds = op.sub(op.sub(lc, lr), op.sub(log1mExp(lc), log1mExp(lr)));
  const ratio = nn.logSigmoid(logOdds);
  const losses = op.mul(ratio, -cfg.lambda);
  const nll = chosenNllGraph(p.policyChosen, p.chosenTokens);
  const metrics = pairMetrics(p, lc, lr, op.mul(lc, cfg.lambda), op.mul(lr, cfg.lambda));
  metrics.nll_loss = op.stopGradient(nll);
  metrics.log_odds_ratio = mean(op.stopGradient(ratio));
  metrics.log_odds_chosen = mean(op.stopGradient(logOdds));
  return { loss: op.add(nll, mean(losses)), losses, metrics };
}

// ---------------------------------------------------------------------------------------------------------
// KTO

export interface KtoTensors {
  /** l_theta(y_i | x_i), l_ref(y_i | x_i): [B]. */
  readonly policy: Tensor;
  readonly ref: Tensor;
  /** The same for the mismatched pairs (x_i, y_j), j = i's KL partner (./kto.ts ktoKlPartners; TRL: i-1), [B]. */
  readonly policyKl: Tensor;
  readonly refKl: Tensor;
  /** bool [B]: true = desirable. */
  readonly labels: Tensor;
  readonly tokens?: Tensor;
  readonly logitsMean?: Tensor;
}

/**
 * KTO (Ethayarajh et al. 2024, eq. 8; TRL's estimator): z0 = max(0, mean(l_theta - l_ref) over mismatched
 * pairs), DETACHED (stopGradient: the reference point is not optimized); rho = l_theta - l_ref;
 * desirable: lambda_D (1 - sigmoid(beta (rho - z0))); undesirable: lambda_U (1 - sigmoid(beta (z0 - rho)));
 * loss = mean over the batch. Per-label metrics are means over that label's examples (0 when none).
 */
export function ktoLossGraph(k: KtoTensors, cfg: KtoConfig): LossTensors {
  const dt = k.policy.dtype;
  const z0 = op.stopGradient(op.relu(mean(op.sub(k.policyKl, k.refKl))));
  const rho = op.sub(k.policy, k.ref);
  const d = op.cast(k.labels, dt); // 1 desirable, 0 undesirable
  const u = op.sub(1, d);
  const desirable = op.mul(op.sub(1, op.sigmoid(op.mul(op.sub(rho, z0), cfg.beta))), cfg.desirableWeight);
  const undesirable = op.mul(op.sub(1, op.sigmoid(op.mul(op.sub(z0, rho), cfg.beta))), cfg.undesirableWeight);
  const losses = op.add(op.mul(d, desirable), op.mul(u, undesirable));
  // Mean of x over the examples selected by mask m, 0 when none: sum(m x) / max(sum m, 1).
  const nd = op.sum(d);
  const nu = op.sum(u);
  const maskedMean = (x: Tensor, m: Tensor, n: Tensor): Tensor => op.div(op.sum(op.mul(op.stopGradient(x), m)), op.maximum(n, 1));
  const rewC = maskedMean(op.mul(rho, cfg.beta), d, nd);
  const rewR = maskedMean(op.mul(rho, cfg.beta), u, nu);
  const metrics: Record<string, Tensor> = {
    kl: z0,
    'rewards/chosen': rewC,
    'rewards/rejected': rewR,
    'rewards/margins': op.sub(rewC, rewR),
    'logps/chosen': maskedMean(k.policy, d, nd),
    'logps/rejected': maskedMean(k.policy, u, nu),
    'count/chosen': nd,
    'count/rejected': nu,
  };
  if (k.logitsMean && k.tokens) {
    const w = op.mul(op.stopGradient(k.logitsMean), k.tokens);
    metrics['logits/chosen'] = op.div(op.sum(op.mul(w, d)), op.maximum(op.sum(op.mul(k.tokens, d)), 1));
    metrics['logits/rejected'] = op.div(op.sum(op.mul(w, u)), op.maximum(op.sum(op.mul(k.tokens, u)), 1));
  }
  return { loss: mean(losses), losses, metrics };
}
