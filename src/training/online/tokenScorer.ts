/**
 * Per-token log-probs of completions under a fixed set of weights, forward only: the reference policy's log pi_ref
 * for GRPO's k3 penalty and RLOO's KL, computed once per rollout as TRL does (the reference is frozen). It runs
 * the same graph function as the update (policyUpdate.ts `policyTokenLogprobs`), on rows of B x T tokens; the
 * weights are graph inputs kept resident in the runtime worker.
 */
import { SESSION_EMIT, toOnnx } from '../../engine/graph/emit';
import { Graph } from '../../engine/graph/graph';
import type { TransformerModel } from '../../engine/models/transformer';
import { runnerOptions, type RunnerOptions } from '../../engine/runtime/devices';
import { RuntimeSession } from '../../engine/runtime/ortSession';
import { paramFeeds, paramInputs } from '../weightInputs';
import { policyTokenLogprobs, type PolicyDistribution } from './policyUpdate';

export interface ScoredRow {
  readonly promptIds: readonly number[];
  readonly completionIds: readonly number[];
}

/**
 * `fetch` (a [B, T-1] output of a graph with `ids` and `mask` inputs of [B, T]) read at each row's completion
 * tokens, in order. Position p's output belongs to token p + 1 (it predicts it, or values the state before it), so
 * completion token j of a row whose prompt has n tokens reads position n + j - 1. Rows run in chunks of B; the
 * unused rows of the last chunk attend to their first (padding) token only, so every row attends somewhere.
 */
export async function completionTokenOutputs(
  session: RuntimeSession,
  rows: readonly ScoredRow[],
  shape: { readonly rows: number; readonly seqLen: number; readonly padId: number },
  fetch: string,
  what: string,
): Promise<number[][]> {
  const { rows: B, seqLen: T } = shape;
  const out: number[][] = [];
  for (let start = 0; start < rows.length; start += B) {
    const chunk = rows.slice(start, start + B);
    const ids = new BigInt64Array(B * T).fill(BigInt(shape.padId));
    const mask = new BigInt64Array(B * T);
    chunk.forEach((r, i) => {
      const seq = [...r.promptIds, ...r.completionIds];
      if (seq.length > T) throw new RangeError(`${what}: a row of ${seq.length} tokens does not fit ${T}`);
      seq.forEach((t, j) => {
        ids[i * T + j] = BigInt(t);
        mask[i * T + j] = 1n;
      });
    });
    for (let i = chunk.length; i < B; i++) mask[i * T] = 1n;
    const res = await session.run({ ids: { dtype: 'int64', shape: [B, T], data: ids }, mask: { dtype: 'int64', shape: [B, T], data: mask } }, { fetch: [fetch] });
    const y = res[fetch]?.data as Float32Array;
    chunk.forEach((r, i) => out.push(r.completionIds.map((_, j) => y[i * (T - 1) + r.promptIds.length + j - 1] as number)));
  }
  return out;
}

export class TokenLogprobScorer {
  private constructor(
    private readonly session: RuntimeSession,
    readonly rows: number,
    readonly seqLen: number,
    private readonly padId: number,
  ) {}

  /** A scorer of `rows` x `seqLen` token rows for `model` with `weights` (every parameter of the model). */
  static async create(
    model: TransformerModel,
    weights: ReadonlyMap<string, Float32Array>,
    shape: { readonly rows: number; readonly seqLen: number; readonly padId: number } & PolicyDistribution,
    runner: RunnerOptions = {},
  ): Promise<TokenLogprobScorer> {
    const g = new Graph('token_logps');
    const params = paramInputs(g, model.params);
    const ids = g.input('ids', [shape.rows, shape.seqLen], 'int64');
    const mask = g.input('mask', [shape.rows, shape.seqLen], 'int64');
    g.output('logp', policyTokenLogprobs(model, params, ids, mask, shape).logp);
    const session = await RuntimeSession.create(toOnnx(g, SESSION_EMIT), runnerOptions(runner));
    const scorer = new TokenLogprobScorer(session, shape.rows, shape.seqLen, shape.padId);
    try {
      await scorer.setWeights(model, weights);
    } catch (e) {
      await session.dispose();
      throw e;
    }
    return scorer;
  }

  /** Replaces the scored model's weights (every parameter), e.g. with a policy's after its latest update. */
  async setWeights(model: TransformerModel, weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.session.setResident(paramFeeds(model.params, weights, 'token scorer'));
  }

  /** log pi of each completion token of each row, in order. */
  score(rows: readonly ScoredRow[]): Promise<number[][]> {
    return completionTokenOutputs(this.session, rows, { rows: this.rows, seqLen: this.seqLen, padId: this.padId }, 'logp', 'token scorer');
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
