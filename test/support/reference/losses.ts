/**
 * Plain-TypeScript float64 reference implementations of the preference and reward losses
 * (ALIGNMENT_REFERENCE.md section 4) with TRL's logged metrics (section 5). They are the ground truth the
 * ONNX loss graphs of src/training (`<name>Graph` in each method's file) are tested against, value by value and
 * gradient by gradient (finite differences of these functions). They share only the config types with the code
 * under test: every formula here is written out again, so a mistake in one place does not pass unnoticed.
 *
 * Notation (as in the reference): l(y) = sum over completion tokens of log pi_theta(y_t | x, y_<t);
 * rho(y) = l_theta(y) - l_ref(y); h = rho(y+) - rho(y-). Every function takes batch arrays of length B and
 * returns the batch-mean loss, the per-example losses and the metrics averaged over the batch.
 */
import type { CpoLossConfig } from '../../../src/training/cpo';
import type { DpoLossConfig } from '../../../src/training/dpo';
import type { KtoLossConfig } from '../../../src/training/kto';
import type { OrpoTrainerConfig } from '../../../src/training/orpo';
import type { SimpoLossConfig } from '../../../src/training/simpo';

// ---------------------------------------------------------------------------------------------------------
// Numerics

/** log sigmoid(x) = -softplus(-x), computed without overflow for large |x|. */
export function logSigmoid(x: number): number {
  return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 - e^l) for l < 0 (Maechler 2012, "Accurately computing log(1 - exp(-|a|))"). */
export function log1mExp(l: number): number {
  return l > -Math.LN2 ? Math.log(-Math.expm1(l)) : Math.log1p(-Math.exp(l));
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

function checkLengths(what: string, arrays: Record<string, readonly number[] | undefined>): number {
  let n = -1;
  for (const [k, a] of Object.entries(arrays)) {
    if (!a) continue;
    if (n < 0) n = a.length;
    else if (a.length !== n) throw new RangeError(`${what}: ${k} has ${a.length} entries, expected ${n}`);
  }
  if (n <= 0) throw new RangeError(`${what}: empty batch`);
  return n;
}

export interface LossOutput {
  /** The batch loss (mean over examples, plus any auxiliary term). */
  readonly loss: number;
  /** Per-example loss terms before the batch mean (without batch-level auxiliary terms). */
  readonly losses: number[];
  /** TRL metric name -> batch value. */
  readonly metrics: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------------------
// Reward models

export interface BradleyTerryInput {
  /** r(x, y+) per pair, [B]. */
  readonly chosen: readonly number[];
  /** r(x, y-) per pair, [B]. */
  readonly rejected: readonly number[];
  /** Optional per-pair margin m, [B] (Llama 2's margin loss). */
  readonly margin?: readonly number[];
  /** Optional completion token counts of both completions, summed, [B] (for `num_tokens`). */
  readonly numTokens?: readonly number[];
}

/**
 * Bradley-Terry reward-model loss (Bradley & Terry 1952; Ouyang et al. 2022 eq. 1; margin: Touvron et al. 2023
 * "Llama 2" eq. 2; centering: Eisenstein et al. 2023, as TRL's `center_rewards_coefficient`):
 *   loss = mean_i[-log sigmoid(r+_i - r-_i - m_i)] + c * mean_i[(r+_i + r-_i)^2].
 * Metrics (TRL RewardTrainer): accuracy = mean[r+ > r-], margin = mean[r+ - r-], min/mean/max over all 2B
 * rewards, num_tokens = sum of the given token counts.
 */
export function bradleyTerryLoss(input: BradleyTerryInput, centerRewardsCoefficient = 0): LossOutput {
  checkLengths('bradleyTerryLoss', { chosen: input.chosen, rejected: input.rejected, margin: input.margin, numTokens: input.numTokens });
  const losses = input.chosen.map((rc, i) => -logSigmoid(rc - input.rejected[i] - (input.margin?.[i] ?? 0)));
  const center = mean(input.chosen.map((rc, i) => (rc + input.rejected[i]) ** 2));
  const all = [...input.chosen, ...input.rejected];
  return {
    loss: mean(losses) + centerRewardsCoefficient * center,
    losses,
    metrics: {
      accuracy: mean(input.chosen.map((rc, i) => (rc > input.rejected[i] ? 1 : 0))),
      margin: mean(input.chosen.map((rc, i) => rc - input.rejected[i])),
      min_reward: Math.min(...all),
      mean_reward: mean(all),
      max_reward: Math.max(...all),
      ...(input.numTokens ? { num_tokens: input.numTokens.reduce((s, x) => s + x, 0) } : {}),
    },
  };
}

/**
 * Pointwise reward regression on ratings (e.g. UltraFeedback or a 1-10 critique score): loss = mean[(r - y)^2].
 * Metrics: loss, mean_reward, `mae` (mean absolute error), min/max reward.
 */
export function rewardRegressionLoss(rewards: readonly number[], ratings: readonly number[]): LossOutput {
  checkLengths('rewardRegressionLoss', { rewards, ratings });
  const losses = rewards.map((r, i) => (r - ratings[i]) ** 2);
  return {
    loss: mean(losses),
    losses,
    metrics: {
      mae: mean(rewards.map((r, i) => Math.abs(r - ratings[i]))),
      min_reward: Math.min(...rewards),
      mean_reward: mean(rewards),
      max_reward: Math.max(...rewards),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// DPO family (paired)

/** Per-pair sequence log-probabilities and token counts, all [B]. */
export interface PairLogps {
  /** l_theta(y+): summed log pi over chosen completion tokens. */
  readonly policyChosen: readonly number[];
  readonly policyRejected: readonly number[];
  /** l_ref(y+), l_ref(y-): the same under the frozen reference model (absent for reference-free losses). */
  readonly refChosen?: readonly number[];
  readonly refRejected?: readonly number[];
  /** Completion token counts |y+|, |y-| (for mean-token log-probs and token-weighted metrics). */
  readonly chosenTokens: readonly number[];
  readonly rejectedTokens: readonly number[];
  /**
   * Optional mean of the policy's raw logits over each completion's tokens and the vocabulary, [B]. The
   * `logits/chosen` metric is their token-weighted mean, which equals TRL's mean over all chosen tokens.
   */
  readonly chosenLogitsMean?: readonly number[];
  readonly rejectedLogitsMean?: readonly number[];
}

/** Token-weighted mean of per-sequence logit means (TRL's `logits/chosen`). */
function logitsMetric(means: readonly number[] | undefined, tokens: readonly number[]): number | undefined {
  if (!means) return undefined;
  const n = tokens.reduce((s, x) => s + x, 0);
  return means.reduce((s, m, i) => s + m * tokens[i], 0) / n;
}

function pairMetrics(
  p: PairLogps,
  lc: readonly number[],
  lr: readonly number[],
  rewardsChosen: readonly number[],
  rewardsRejected: readonly number[],
): Record<string, number> {
  const out: Record<string, number> = {
    'rewards/chosen': mean(rewardsChosen),
    'rewards/rejected': mean(rewardsRejected),
    'rewards/accuracies': mean(rewardsChosen.map((c, i) => (c > rewardsRejected[i] ? 1 : 0))),
    'rewards/margins': mean(rewardsChosen.map((c, i) => c - rewardsRejected[i])),
    'logps/chosen': mean(lc),
    'logps/rejected': mean(lr),
  };
  const gc = logitsMetric(p.chosenLogitsMean, p.chosenTokens);
  const gr = logitsMetric(p.rejectedLogitsMean, p.rejectedTokens);
  if (gc !== undefined) out['logits/chosen'] = gc;
  if (gr !== undefined) out['logits/rejected'] = gr;
  return out;
}

/**
 * DPO and its loss variants on h = beta * (rho(y+) - rho(y-)):
 * - `sigmoid` (Rafailov et al. 2023, eq. 7): -log sigmoid(beta h).
 * - `cdpo` (conservative DPO, Mitchell 2023 note "A note on DPO with noisy preferences"):
 *   -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h).
 * - `robust` (Chowdhury et al. 2024, "Provably Robust DPO", eq. 9 / unbiased loss):
 *   [-(1-eps) log sigmoid(beta h) + eps log sigmoid(-beta h)] / (1 - 2 eps), eps in [0, 0.5).
 * - `hinge` (SLiC, Zhao et al. 2023, eq. 2 with the calibration margin 1 and beta as scale): max(0, 1 - beta h).
 * - `ipo` (Azar et al. 2023, eq. 17): (h_bar - 1/(2 beta))^2 where rho uses mean-token log-probs (TRL divides
 *   each l by its completion token count for IPO).
 * - `sigmoid_norm`: the DPO sigmoid loss on length-normalized log-ratios, -log sigmoid(beta h_bar) with h_bar from
 *   mean-token rho (as in the length-normalized DPO of Meng et al. 2024, "SimPO", sec. 2.2 / the "LN-DPO" of
 *   Ahrabian et al. 2024): a DPO that does not favour longer completions.
 * Metrics (TRL's DPO trainer): rewards = beta * rho and logps = l on SUMMED log-probs for every loss type (the
 * mean-token division of `ipo` / `sigmoid_norm` only enters the loss), so runs with different loss types plot
 * on one scale.
 */
export function dpoLoss(p: PairLogps, cfg: DpoLossConfig): LossOutput {
  const B = checkLengths('dpoLoss', {
    policyChosen: p.policyChosen,
    policyRejected: p.policyRejected,
    refChosen: p.refChosen,
    refRejected: p.refRejected,
    chosenTokens: p.chosenTokens,
    rejectedTokens: p.rejectedTokens,
    chosenLogitsMean: p.chosenLogitsMean,
    rejectedLogitsMean: p.rejectedLogitsMean,
  });
  if (!p.refChosen || !p.refRejected) throw new RangeError('dpoLoss: refChosen and refRejected are required (DPO uses a reference model)');
  const { beta } = cfg;
  const eps = cfg.labelSmoothing ?? 0;
  if (cfg.lossType === 'robust' && !(eps >= 0 && eps < 0.5)) throw new RangeError(`robust DPO needs labelSmoothing in [0, 0.5), got ${eps}`);
  // ipo and sigmoid_norm divide each rho by its completion's token count.
  const norm = cfg.lossType === 'ipo' || cfg.lossType === 'sigmoid_norm';
  const { refChosen, refRejected } = p;
  const rhoC = p.policyChosen.map((x, i) => x - refChosen[i]);
  const rhoR = p.policyRejected.map((x, i) => x - refRejected[i]);
  const losses: number[] = [];
  for (let i = 0; i < B; i++) {
    // h = rho(y+) - rho(y-); mean-token rho (divided by each completion's token count) for ipo / sigmoid_norm.
    const h = norm ? rhoC[i] / p.chosenTokens[i] - rhoR[i] / p.rejectedTokens[i] : rhoC[i] - rhoR[i];
    switch (cfg.lossType) {
      case 'sigmoid':
      case 'sigmoid_norm':
        losses.push(-logSigmoid(beta * h));
        break;
      case 'cdpo':
        losses.push(-(1 - eps) * logSigmoid(beta * h) - eps * logSigmoid(-beta * h));
        break;
      case 'robust':
        losses.push((-(1 - eps) * logSigmoid(beta * h) + eps * logSigmoid(-beta * h)) / (1 - 2 * eps));
        break;
      case 'hinge':
        losses.push(Math.max(0, 1 - beta * h));
        break;
      case 'ipo':
        losses.push((h - 1 / (2 * beta)) ** 2);
        break;
    }
  }
  const rewC = rhoC.map((x) => beta * x);
  const rewR = rhoR.map((x) => beta * x);
  return { loss: mean(losses), losses, metrics: pairMetrics(p, p.policyChosen, p.policyRejected, rewC, rewR) };
}

/**
 * Negative log-likelihood of the chosen completions, TRL's convention for CPO and ORPO: the mean negative
 * log-prob over ALL chosen completion tokens of the batch, -sum_i l(y+_i) / sum_i |y+_i| (a token-level mean,
 * so long completions weigh more than in a per-sequence mean).
 */
export function chosenNll(policyChosen: readonly number[], chosenTokens: readonly number[]): number {
  const n = chosenTokens.reduce((s, x) => s + x, 0);
  return -policyChosen.reduce((s, x) => s + x, 0) / n;
}

/**
 * SimPO (Meng et al. 2024, eq. 6): u = l(y+)/|y+| - l(y-)/|y-| (mean-token log-probs, no reference model);
 * loss = -log sigmoid(beta u - gamma). Rewards are beta * mean-token log pi (TRL's CPO trainer logs them so).
 */
export function simpoLoss(p: PairLogps, cfg: SimpoLossConfig): LossOutput {
  checkLengths('simpoLoss', { policyChosen: p.policyChosen, policyRejected: p.policyRejected, chosenTokens: p.chosenTokens, rejectedTokens: p.rejectedTokens });
  const lc = p.policyChosen.map((x, i) => x / p.chosenTokens[i]);
  const lr = p.policyRejected.map((x, i) => x / p.rejectedTokens[i]);
  const losses = lc.map((c, i) => -logSigmoid(cfg.beta * (c - lr[i]) - cfg.gamma));
  const nll = chosenNll(p.policyChosen, p.chosenTokens);
  const w = cfg.nllWeight ?? 0;
  const metrics = pairMetrics(p, lc, lr, lc.map((x) => cfg.beta * x), lr.map((x) => cfg.beta * x));
  metrics.nll_loss = nll;
  return { loss: mean(losses) + w * nll, losses, metrics };
}

/**
 * CPO (Xu et al. 2024, "Contrastive Preference Optimization", eq. 3-4): the DPO sigmoid loss on SUMMED
 * log-probs with no reference model, -log sigmoid(beta (l(y+) - l(y-))), plus alpha * NLL(y+) with the
 * token-level NLL of {@link chosenNll}. Rewards are beta * l (summed), as TRL logs them.
 */
export function cpoLoss(p: PairLogps, cfg: CpoLossConfig): LossOutput {
  checkLengths('cpoLoss', { policyChosen: p.policyChosen, policyRejected: p.policyRejected, chosenTokens: p.chosenTokens, rejectedTokens: p.rejectedTokens });
  const eps = cfg.labelSmoothing ?? 0;
  const losses = p.policyChosen.map((c, i) => {
    const z = cfg.beta * (c - p.policyRejected[i]);
    return -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
  });
  const nll = chosenNll(p.policyChosen, p.chosenTokens);
  const metrics = pairMetrics(p, p.policyChosen, p.policyRejected, p.policyChosen.map((x) => cfg.beta * x), p.policyRejected.map((x) => cfg.beta * x));
  metrics.nll_loss = nll;
  return { loss: mean(losses) + cfg.alpha * nll, losses, metrics };
}

/**
 * ORPO (Hong et al. 2024, eq. 6-7): with p = exp(mean-token log pi(y)), logodds(y) = log p - log(1 - p);
 * loss = NLL(y+) - lambda * mean_i log sigmoid(logodds(y+_i) - logodds(y-_i)). NLL as in {@link chosenNll}.
 * Metrics as TRL's ORPO trainer: rewards = lambda * mean-token log pi, `log_odds_ratio` = mean log sigmoid(.),
 * `log_odds_chosen` = mean logodds difference, `nll_loss`.
 */
export function orpoLoss(p: PairLogps, cfg: OrpoTrainerConfig): LossOutput {
  checkLengths('orpoLoss', { policyChosen: p.policyChosen, policyRejected: p.policyRejected, chosenTokens: p.chosenTokens, rejectedTokens: p.rejectedTokens });
  const lc = p.policyChosen.map((x, i) => x / p.chosenTokens[i]);
  const lr = p.policyRejected.map((x, i) => x / p.rejectedTokens[i]);
  // logodds(y+) - logodds(y-) = (lc - lr) - (log(1 - e^lc) - log(1 - e^lr))
  const logOdds = lc.map((c, i) => c - lr[i] - (log1mExp(c) - log1mExp(lr[i])));
  const ratio = logOdds.map(logSigmoid);
  const nll = chosenNll(p.policyChosen, p.chosenTokens);
  const losses = ratio.map((r) => -cfg.lambda * r);
  const metrics = pairMetrics(p, lc, lr, lc.map((x) => cfg.lambda * x), lr.map((x) => cfg.lambda * x));
  metrics.nll_loss = nll;
  metrics.log_odds_ratio = mean(ratio);
  metrics.log_odds_chosen = mean(logOdds);
  return { loss: nll + mean(losses), losses, metrics };
}

// ---------------------------------------------------------------------------------------------------------
// KTO (unpaired)

export interface KtoInput {
  /** l_theta(y_i | x_i), summed, [B]. */
  readonly policy: readonly number[];
  readonly ref: readonly number[];
  /** l_theta and l_ref of the mismatched pairs (x_i, y_{i-1}) (see {@link ktoMismatchedIndex}), [B]. */
  readonly policyKl: readonly number[];
  readonly refKl: readonly number[];
  /** true = desirable. */
  readonly labels: readonly boolean[];
  readonly tokens?: readonly number[];
  readonly logitsMean?: readonly number[];
}

/** The completion paired with prompt i to estimate KTO's reference point: completion i-1 (TRL's shift). */
export function ktoMismatchedIndex(i: number, batchSize: number): number {
  return (i - 1 + batchSize) % batchSize;
}

/**
 * KTO (Ethayarajh et al. 2024, eq. 8; TRL's estimator). z0 = max(0, mean_i(l_theta - l_ref) over mismatched
 * pairs), detached (no gradient flows through it). With rho_i = l_theta(y_i) - l_ref(y_i):
 * desirable: lambda_D (1 - sigmoid(beta (rho - z0))); undesirable: lambda_U (1 - sigmoid(beta (z0 - rho))).
 * loss = mean over the batch. Metrics: `kl` = z0, rewards = beta * rho averaged over each label's examples (0 when
 * a batch has none: see `count/chosen`, `count/rejected`), `rewards/margins` = their difference, logps likewise.
 */
export function ktoLoss(k: KtoInput, cfg: KtoLossConfig): LossOutput {
  checkLengths('ktoLoss', { policy: k.policy, ref: k.ref, policyKl: k.policyKl, refKl: k.refKl, labels: k.labels.map(Number), tokens: k.tokens, logitsMean: k.logitsMean });
  const z0 = Math.max(0, mean(k.policyKl.map((x, i) => x - k.refKl[i])));
  const rho = k.policy.map((x, i) => x - k.ref[i]);
  const losses = rho.map((r, i) =>
    k.labels[i] ? cfg.desirableWeight * (1 - sigmoid(cfg.beta * (r - z0))) : cfg.undesirableWeight * (1 - sigmoid(cfg.beta * (z0 - r))),
  );
  const sel = (want: boolean, xs: readonly number[]): number[] => xs.filter((_, i) => k.labels[i] === want);
  const rewC = mean(sel(true, rho).map((x) => cfg.beta * x));
  const rewR = mean(sel(false, rho).map((x) => cfg.beta * x));
  const metrics: Record<string, number> = {
    kl: z0,
    'rewards/chosen': rewC,
    'rewards/rejected': rewR,
    'rewards/margins': rewC - rewR,
    'logps/chosen': mean(sel(true, k.policy)),
    'logps/rejected': mean(sel(false, k.policy)),
    'count/chosen': k.labels.filter((l) => l).length,
    'count/rejected': k.labels.filter((l) => !l).length,
  };
  if (k.logitsMean && k.tokens) {
    const tok = k.tokens;
    const lm = k.logitsMean;
    const w = (want: boolean): number => {
      let s = 0;
      let n = 0;
      for (let i = 0; i < lm.length; i++) {
        if (k.labels[i] !== want) continue;
        s += lm[i] * tok[i];
        n += tok[i];
      }
      return n ? s / n : 0;
    };
    metrics['logits/chosen'] = w(true);
    metrics['logits/rejected'] = w(false);
  }
  return { loss: mean(losses), losses, metrics };
}
