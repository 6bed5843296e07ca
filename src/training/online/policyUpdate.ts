/**
 * The update step of GRPO and RLOO as a compiled training graph (src/engine/step: forward + autodiff + AdamW in one
 * ONNX model), and the collation of scored completions into its batch fields. The forward recomputes log pi of
 * every sampled token under the current parameters, at the sampling temperature (TRL divides the logits by it in
 * the same way), and applies the method's loss from ../lossesRl.ts.
 *
 * Rows are prompt + completion, right-padded to T tokens. Position t of a per-token field [B, T-1] is the
 * prediction of token t + 1, so completion token j of a row whose prompt has P tokens sits at index P + j - 1.
 *
 *   ids, mask       int64   [B, T]     tokens, 1 = real token
 *   cmask           float32 [B, T-1]   1 = a completion token that counts in the loss (0: padding, prompt,
 *                                      skipped samples, truncated completions under mask_truncated_completions)
 *   old_logp        float32 [B, T-1]   log pi_old of the sampled tokens (the sampler's)
 *   advantages      float32 [B]        one per completion
 *   ref_logp        float32 [B, T-1]   log pi_ref (GRPO with beta > 0)
 *   active_tokens   float32 [1]        GRPO `dapo`: active tokens of the whole step / micro-batches
 */
import type { Tensor } from '../../engine/graph/graph';
import * as op from '../../engine/graph/ops';
import { forward, tokenLogprobs, type ParamLookup, type TransformerModel } from '../../engine/models/transformer';
import type { HostTensor } from '../../engine/runtime/tensor';
import type { BatchFieldSpec, ForwardFn } from '../../engine/step/compile';
import { clippedPolicyLossGraph, sequencePolicyLossGraph, type ClippedPolicyConfig, type SequencePolicyConfig } from '../lossesRl';
import { field } from '../plan';

/** The policy loss of a method: GRPO's per-token clipped loss or RLOO's sequence-level one. */
export type PolicyLossSpec = { readonly kind: 'clipped'; readonly cfg: ClippedPolicyConfig } | { readonly kind: 'sequence'; readonly cfg: SequencePolicyConfig };

/** Static shapes of one update: B rows per micro-batch of T tokens, A micro-batches per optimizer step. */
export interface UpdateShape {
  readonly rows: number;
  readonly seqLen: number;
  readonly microBatches: number;
}

/** What the policy's distribution is over: its sampling temperature and the ids it may produce. */
export interface PolicyDistribution {
  readonly temperature: number;
  /**
   * Only ids below this can be sampled (the tokenizer's vocabulary when the embedding has padding rows): the
   * generator draws from the softmax over these ids, so the log-probs here are over them too. Default: all.
   */
  readonly vocabLimit?: number;
}

/** Added to the logits of ids the policy cannot produce: exp underflows to exactly 0, and 0 * it stays finite. */
const EXCLUDED_LOGIT = -1e9;

/**
 * log pi(ids[t + 1] | ids[..t]) at temperature tau over the producible ids, [B, T-1], and the scaled logits
 * [B, T, V]: the same math for the update and the reference scorer, and the distribution the sampler draws from.
 */
export function policyTokenLogprobs(model: TransformerModel, params: ParamLookup, ids: Tensor, mask: Tensor, dist: PolicyDistribution): { logp: Tensor; scaled: Tensor } {
  const { logits } = forward(model, params, { ids, mask });
  if (!logits) throw new Error(`policy log-probs: the model's head is "${model.head}", which has no LM logits`);
  let scaled = dist.temperature === 1 ? logits : op.mul(logits, 1 / dist.temperature);
  const V = logits.shape[2] as number;
  if (dist.vocabLimit !== undefined && dist.vocabLimit < V) {
    const bias = new Float32Array(V).fill(EXCLUDED_LOGIT, dist.vocabLimit);
    scaled = op.add(scaled, scaled.graph.constant(bias, 'float32', [V]));
  }
  return { logp: tokenLogprobs(scaled, ids), scaled };
}

/** Mean entropy -sum_v p log p of the predicted distributions at the masked positions (TRL's `entropy`). */
export function maskedEntropy(scaled: Tensor, cmask: Tensor): Tensor {
  const T = scaled.shape[1] as number;
  const lp = op.logSoftmax(op.stopGradient(op.narrow(scaled, 1, 0, T - 1)), -1);
  const h = op.neg(op.sum(op.mul(op.exp(lp), lp), [2])); // [B, T-1]
  return op.div(op.sum(op.mul(h, cmask)), op.maximum(op.sum(cmask), 1));
}

const needsRef = (loss: PolicyLossSpec): boolean => loss.kind === 'clipped' && loss.cfg.beta !== 0;
const needsActiveTokens = (loss: PolicyLossSpec): boolean => loss.kind === 'clipped' && loss.cfg.lossType === 'dapo';

/** The update's batch fields (see module comment). */
export function updateBatchFields(loss: PolicyLossSpec, shape: UpdateShape): BatchFieldSpec[] {
  const { rows: B, seqLen: T } = shape;
  return [
    field('ids', [B, T], 'int64'),
    field('mask', [B, T], 'int64'),
    field('cmask', [B, T - 1], 'float32'),
    field('old_logp', [B, T - 1], 'float32'),
    field('advantages', [B], 'float32'),
    ...(needsRef(loss) ? [field('ref_logp', [B, T - 1], 'float32')] : []),
    ...(needsActiveTokens(loss) ? [field('active_tokens', [1], 'float32')] : []),
  ];
}

/** The traced forward of the update: policy log-probs -> the method's loss; metrics + `entropy`. */
export function updateForward(model: TransformerModel, loss: PolicyLossSpec, dist: PolicyDistribution): ForwardFn {
  return (params, b) => {
    const t = (name: string): Tensor => b[name] as Tensor;
    const { logp, scaled } = policyTokenLogprobs(model, params, t('ids'), t('mask'), dist);
    const x = {
      logp,
      oldLogp: t('old_logp'),
      advantages: t('advantages'),
      mask: t('cmask'),
      ...(needsRef(loss) ? { refLogp: t('ref_logp') } : {}),
      ...(needsActiveTokens(loss) ? { activeTokens: t('active_tokens') } : {}),
    };
    const out = loss.kind === 'clipped' ? clippedPolicyLossGraph(x, loss.cfg) : sequencePolicyLossGraph(x, loss.cfg);
    return { loss: out.loss, metrics: { ...out.metrics, entropy: maskedEntropy(scaled, t('cmask')) } };
  };
}

/** One completion as the update sees it. */
export interface UpdateRow {
  readonly promptIds: readonly number[];
  readonly completionIds: readonly number[];
  /** log pi_old per completion token. */
  readonly oldLogprobs: readonly number[];
  /** log pi_ref per completion token (when the loss needs it). */
  readonly refLogprobs?: readonly number[];
  readonly advantage: number;
  /** false: the row takes no part in the loss (skipped sample, or a masked truncated completion). */
  readonly active: boolean;
}

/**
 * The feeds of one optimizer step (K = 1): every field [1, A, ...field shape], rows in order, micro-batch a
 * holding rows [a B, a B + B). `rows.length` must be A * B.
 */
export function collateUpdate(rows: readonly UpdateRow[], loss: PolicyLossSpec, shape: UpdateShape, padId: number): Record<string, HostTensor> {
  const { rows: B, seqLen: T, microBatches: A } = shape;
  if (rows.length !== A * B) throw new RangeError(`collateUpdate: ${rows.length} rows for ${A} micro-batches of ${B}`);
  const N = rows.length;
  const ids = new BigInt64Array(N * T).fill(BigInt(padId));
  const mask = new BigInt64Array(N * T);
  const cmask = new Float32Array(N * (T - 1));
  const old = new Float32Array(N * (T - 1));
  const ref = new Float32Array(N * (T - 1));
  const adv = Float32Array.from(rows, (r) => r.advantage);
  rows.forEach((r, i) => {
    const P = r.promptIds.length;
    const seq = [...r.promptIds, ...r.completionIds];
    if (seq.length > T) throw new RangeError(`collateUpdate: row ${i} has ${seq.length} tokens, the update holds ${T}`);
    seq.forEach((tok, t) => {
      ids[i * T + t] = BigInt(tok);
      mask[i * T + t] = 1n;
    });
    r.completionIds.forEach((_, j) => {
      const at = i * (T - 1) + P + j - 1;
      cmask[at] = r.active ? 1 : 0;
      old[at] = r.oldLogprobs[j] as number;
      ref[at] = r.refLogprobs?.[j] ?? 0;
    });
  });
  const lead = [1, A, B];
  const feeds: Record<string, HostTensor> = {
    ids: { dtype: 'int64', shape: [...lead, T], data: ids },
    mask: { dtype: 'int64', shape: [...lead, T], data: mask },
    cmask: { dtype: 'float32', shape: [...lead, T - 1], data: cmask },
    old_logp: { dtype: 'float32', shape: [...lead, T - 1], data: old },
    advantages: { dtype: 'float32', shape: lead, data: adv },
  };
  if (needsRef(loss)) feeds.ref_logp = { dtype: 'float32', shape: [...lead, T - 1], data: ref };
  if (needsActiveTokens(loss)) {
    const active = cmask.reduce((s, x) => s + x, 0);
    feeds.active_tokens = { dtype: 'float32', shape: [1, A, 1], data: new Float32Array(A).fill(Math.max(active, 1) / A) };
  }
  return feeds;
}
