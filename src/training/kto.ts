/**
 * KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization", arXiv 2402.01306): its
 * config, its loss graph ({@link ktoLossGraph}) and its trainer plan, on completions labeled desirable /
 * undesirable. The reference
 * point z0 is estimated on mismatched pairs within the micro-batch: prompt i with the completion of another
 * example (TRL's shift: its KL dataset pairs prompt i with completion i-1 once, before training; see
 * {@link ktoKlPartners}). One [2B, T] forward carries the matched rows (0..B-1) and the mismatched rows (B..2B-1)
 * through the policy. The reference log-probs of both come from a frozen reference inside the graph, or are
 * precomputed once before training (`precompute_ref_log_probs`; the pairing is fixed per example, so every row
 * the reference must score is known up front) and fed as `ref_logps` / `ref_kl` [B].
 */
import * as op from '../engine/graph/ops';
import type { Tensor } from '../engine/graph/graph';
import type { HostTensor } from '../engine/runtime/tensor';
import { padRows, promptCompletionRow, type Row } from './batching';
import type { EncodedCompletion } from './encode';
import { hyperparameters, type Hyperparameters } from './hyper';
import { pick, type PlanOptions, type Splits } from './pairs';
import { f32Field, field, halves, referenceLookup, referenceModel, referenceParams, type ReferenceRequest, type TrainerPlan } from './plan';
import { batchMean, implicitReward, implicitRewardRule, sequenceLogps, type LossTensors } from './shared';
import type { ParamSpec } from '../engine/step/compile';

/** What the KTO loss needs. */
export interface KtoLossConfig {
  readonly beta: number;
  /** lambda_D, lambda_U: the weights of desirable and undesirable examples. */
  readonly desirableWeight: number;
  readonly undesirableWeight: number;
}

export interface KtoTrainerConfig extends KtoLossConfig {
  /** Compute the reference log-probs (of every completion and of its mismatched KL pair) once before training. */
  readonly precomputeRefLogProbs?: boolean;
}

export function ktoConfig(h: Hyperparameters = {}): KtoTrainerConfig {
  const r = hyperparameters('kto', h);
  return { beta: r.number('beta'), desirableWeight: r.number('desirable_weight'), undesirableWeight: r.number('undesirable_weight'), precomputeRefLogProbs: r.boolean('precompute_ref_log_probs') };
}

export interface KtoTensors {
  /** l_theta(y_i | x_i), l_ref(y_i | x_i): [B]. */
  readonly policy: Tensor;
  readonly ref: Tensor;
  /** The same for the mismatched pairs (x_i, y_j), j = i's KL partner ({@link ktoKlPartners}; TRL: i-1), [B]. */
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
 * loss = mean over the batch. Metrics: `kl` = z0, rewards = beta * rho (the implicit reward) and logps averaged
 * over each label's examples (0 when a batch has none: see `count/chosen`, `count/rejected`).
 */
export function ktoLossGraph(k: KtoTensors, cfg: KtoLossConfig): LossTensors {
  const dt = k.policy.dtype;
  const z0 = op.stopGradient(op.relu(batchMean(op.sub(k.policyKl, k.refKl))));
  const rho = op.sub(k.policy, k.ref);
  const d = op.cast(k.labels, dt); // 1 desirable, 0 undesirable
  const u = op.sub(1, d);
  const desirable = op.mul(op.sub(1, op.sigmoid(op.mul(op.sub(rho, z0), cfg.beta))), cfg.desirableWeight);
  const undesirable = op.mul(op.sub(1, op.sigmoid(op.mul(op.sub(z0, rho), cfg.beta))), cfg.undesirableWeight);
  const losses = op.add(op.mul(d, desirable), op.mul(u, undesirable));
  return { loss: batchMean(losses), losses, metrics: ktoMetrics(k, cfg, z0, d, u) };
}

/** KTO's metrics (see {@link ktoLossGraph}); d, u are the desirable / undesirable masks [B]. */
function ktoMetrics(k: KtoTensors, cfg: KtoLossConfig, z0: Tensor, d: Tensor, u: Tensor): Record<string, Tensor> {
  // Mean of x over the examples selected by mask m, 0 when none: sum(m x) / max(sum m, 1).
  const nd = op.sum(d);
  const nu = op.sum(u);
  const maskedMean = (x: Tensor, m: Tensor, n: Tensor): Tensor => op.div(op.sum(op.mul(op.stopGradient(x), m)), op.maximum(n, 1));
  const reward = implicitReward(implicitRewardRule('kto', cfg.beta), { policy: k.policy, ref: k.ref });
  const rewC = maskedMean(reward, d, nd);
  const rewR = maskedMean(reward, u, nu);
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
  return metrics;
}

/**
 * The example whose completion is paired with example i's prompt for the z0 estimate: the nearest earlier one
 * (cyclically: i-1, i-2, ...) with a different prompt, so that a pair unpaired into a desirable and an undesirable
 * row of one prompt is not "mismatched" with itself; i-1 when every prompt is the same (TRL's plain shift).
 * Fixed per example, as TRL fixes its KL dataset before training.
 */
export function ktoKlPartners(items: readonly Pick<EncodedCompletion, 'prompt'>[]): number[] {
  const n = items.length;
  const key = items.map((e) => e.prompt.join(','));
  return key.map((k, i) => {
    for (let s = 1; s < n; s++) {
      const j = (i - s + n) % n;
      if (key[j] !== k) return j;
    }
    return (i - 1 + n) % n;
  });
}

/** Matched rows (prompt i + completion i) and mismatched rows (prompt i + completion of its KL partner). */
function ktoRows(items: readonly EncodedCompletion[], partners: readonly number[], indices: readonly number[]): { matched: Row[]; mismatched: Row[] } {
  const at = (i: number): EncodedCompletion => items[i] as EncodedCompletion;
  return {
    matched: indices.map((i) => promptCompletionRow(at(i).prompt, at(i).completion)),
    mismatched: indices.map((i) => promptCompletionRow(at(i).prompt, at(partners[i] as number).completion)),
  };
}

/** Precomputed reference log-probs of every example's completion and of its mismatched KL row, per split. */
class KtoReference {
  private readonly values: Record<'train' | 'eval', { ref: Float32Array; kl: Float32Array; ready: boolean }>;

  constructor(
    private readonly data: Splits<EncodedCompletion>,
    private readonly partners: Record<'train' | 'eval', readonly number[]>,
  ) {
    const empty = (n: number) => ({ ref: new Float32Array(n), kl: new Float32Array(n), ready: false });
    this.values = { train: empty(data.train.length), eval: empty(data.eval.length) };
  }

  request(split: 'train' | 'eval'): ReferenceRequest {
    const items = this.data[split];
    const all = items.map((_, i) => i);
    const { matched, mismatched } = ktoRows(items, this.partners[split], all);
    return {
      rows: [...matched, ...mismatched],
      accept: (logps) => {
        const n = items.length;
        if (logps.length !== 2 * n) throw new RangeError(`KTO reference log-probs: expected ${2 * n} values, got ${logps.length}`);
        const v = this.values[split];
        for (let i = 0; i < n; i++) {
          v.ref[i] = logps[i] as number;
          v.kl[i] = logps[n + i] as number;
        }
        v.ready = true;
      },
    };
  }

  fields(split: 'train' | 'eval', indices: readonly number[]): Record<string, HostTensor> {
    const v = this.values[split];
    if (!v.ready) throw new Error(`KTO reference log-probs of the ${split} split were not computed before use`);
    return { ref_logps: f32Field(indices.map((i) => v.ref[i] as number)), ref_kl: f32Field(indices.map((i) => v.kl[i] as number)) };
  }
}

export function createKtoPlan(opts: PlanOptions<EncodedCompletion>, cfg: KtoTrainerConfig): TrainerPlan {
  const { model, batchSize: B, seqLen: T, padId, data } = opts;
  if (B < 2) throw new Error('KTO needs a batch size > 1 (its reference point z0 is estimated within the batch)');
  const partners = { train: ktoKlPartners(data.train), eval: ktoKlPartners(data.eval) };
  const precomputed = cfg.precomputeRefLogProbs ? new KtoReference(data, partners) : undefined;
  const params: ParamSpec[] = model.params.map((p) => ({ name: p.name, shape: p.shape, trainable: p.trainable, weightDecay: p.weightDecay }));
  const initialParams = new Map(opts.weights);
  if (!precomputed) {
    const ref = referenceParams(model, opts.weights);
    params.push(...ref.specs);
    for (const [k, v] of ref.values) initialParams.set(k, v);
  }
  return {
    method: 'kto',
    batchSize: B,
    seqLen: T,
    params,
    initialParams,
    batch: [
      field('ids', [2 * B, T], 'int64'),
      field('mask', [2 * B, T], 'int64'),
      field('cmask', [2 * B, T], 'int64'),
      field('labels', [B], 'bool'),
      ...(precomputed ? [field('ref_logps', [B], 'float32'), field('ref_kl', [B], 'float32')] : []),
    ],
    trainSize: data.train.length,
    evalSize: data.eval.length,
    forward: (p, b) => {
      const ids = b.ids as Tensor;
      const mask = b.mask as Tensor;
      const cmask = b.cmask as Tensor;
      const pol = sequenceLogps(model, p, ids, mask, cmask);
      const [policy, policyKl] = halves(pol.sum, B);
      let refLp: Tensor;
      let refKl: Tensor;
      if (precomputed) [refLp, refKl] = [b.ref_logps as Tensor, b.ref_kl as Tensor];
      else [refLp, refKl] = halves(op.stopGradient(sequenceLogps(referenceModel(model), referenceLookup(model, p), ids, mask, cmask).sum), B);
      const [tokens] = halves(pol.count, B);
      const [logitsMean] = halves(pol.logitsMean, B);
      const l = ktoLossGraph({ policy, ref: refLp, policyKl, refKl, labels: b.labels as Tensor, tokens, logitsMean }, cfg);
      const reward = op.stopGradient(implicitReward(implicitRewardRule('kto', cfg.beta), { policy, ref: refLp }));
      return { loss: l.loss, metrics: l.metrics, perExample: { reward } };
    },
    collate: (split, indices) => {
      const items = pick(data, split, indices);
      const { matched, mismatched } = ktoRows(data[split], partners[split], indices);
      const r = padRows([...matched, ...mismatched], T, padId);
      const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [2 * B, T], data: d });
      const labels: HostTensor = { dtype: 'bool', shape: [B], data: Uint8Array.from(items, (e) => (e.label ? 1 : 0)) };
      // The mismatched rows only estimate z0; tokens counts the matched ones plus them (both are computed).
      const fields: Record<string, HostTensor> = { ids: t(r.ids), mask: t(r.mask), cmask: t(r.cmask), labels };
      return { fields: precomputed ? { ...fields, ...precomputed.fields(split, indices) } : fields, tokens: r.tokens };
    },
    ...(precomputed ? { reference: { train: precomputed.request('train'), eval: precomputed.request('eval') } } : {}),
  };
}
