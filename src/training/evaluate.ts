/**
 * Forward-only runners that share a plan's or a model's graph with the training run:
 * - `PlanEvaluator`: the plan's loss and metrics on the eval split with the current weights (TRL's `eval_*`),
 *   batch metrics averaged over batches weighted by their new examples, per-example metrics computed exactly;
 * - `SequenceScorer`: summed completion log-probs of rows under an LM (reference log-probs, KL estimates), or
 *   pooled rewards under a score-head model.
 * Weights are graph inputs kept resident in the runtime worker: `setWeights` sends them once per evaluation.
 */
import { Graph, type Tensor } from '../engine/graph/graph';
import * as op from '../engine/graph/ops';
import { SESSION_EMIT, toOnnx } from '../engine/graph/emit';
import type { TransformerModel } from '../engine/models/transformer';
import { runnerOptions, type RunnerOptions } from '../engine/runtime/devices';
import { RuntimeSession } from '../engine/runtime/ortSession';
import type { HostTensor } from '../engine/runtime/tensor';
import { padRows, type Row } from './batching';
import type { TrainerPlan } from './plan';
import { sequenceLogps } from './shared';
import { rewardScores } from './reward';
import { paramFeeds, paramInputs } from './weightInputs';

/** Evaluates a plan on its eval split (see module comment). */
export class PlanEvaluator {
  private constructor(
    private readonly plan: TrainerPlan,
    private readonly session: RuntimeSession,
    private readonly metricNames: string[],
    private readonly exampleNames: string[],
  ) {}

  static async create(plan: TrainerPlan, opts: RunnerOptions = {}): Promise<PlanEvaluator> {
    const g = new Graph('eval');
    const params = Object.fromEntries(paramInputs(g, plan.params));
    const batch: Record<string, Tensor> = {};
    for (const b of plan.batch) batch[b.name] = g.input(`b.${b.name}`, b.shape, b.dtype);
    const out = plan.forward(params, batch);
    g.output('loss', out.loss);
    const metricNames = Object.keys(out.metrics ?? {});
    for (const m of metricNames) g.output(`m.${m}`, op.cast((out.metrics as Record<string, Tensor>)[m] as Tensor, 'float32'));
    const exampleNames = Object.keys(out.perExample ?? {});
    for (const x of exampleNames) g.output(`x.${x}`, op.cast((out.perExample as Record<string, Tensor>)[x] as Tensor, 'float32'));
    const session = await RuntimeSession.create(toOnnx(g, SESSION_EMIT), runnerOptions(opts));
    const ev = new PlanEvaluator(plan, session, metricNames, exampleNames);
    const frozen = paramFeeds(plan.params.filter((p) => p.trainable === false), plan.initialParams, 'evaluator (frozen parameters)');
    if (Object.keys(frozen).length) await session.setResident(frozen);
    return ev;
  }

  /** Sets the trainable weights to evaluate. */
  async setWeights(weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): Promise<void> {
    const data = new Map([...weights].map(([name, w]) => [name, w.data]));
    await this.session.setResident(paramFeeds(this.plan.params.filter((p) => p.trainable !== false), data, 'evaluator'));
  }

  /** Loss and metrics over the whole eval split (names without the `eval_` prefix). Empty split: {}. */
  async evaluate(): Promise<Record<string, number>> {
    const n = this.plan.evalSize;
    const B = this.plan.batchSize;
    if (n === 0) return {};
    const sums: Record<string, number> = { loss: 0 };
    const perExample: Record<string, Float64Array> = Object.fromEntries(this.exampleNames.map((x) => [x, new Float64Array(n)]));
    let weight = 0;
    for (let start = 0; start < n; start += B) {
      // The last batch is filled up with the first examples again; only its new examples count.
      const idx = Array.from({ length: B }, (_, i) => (start + i) % n);
      const fresh = Math.min(B, n - start);
      const c = this.plan.collate('eval', idx);
      const feeds: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(c.fields)) feeds[`b.${k}`] = v;
      const out = await this.session.run(feeds);
      const val = (name: string): number => Number((out[name]?.data as Float32Array)[0]);
      sums.loss = (sums.loss as number) + val('loss') * fresh;
      for (const m of this.metricNames) sums[m] = (sums[m] ?? 0) + val(`m.${m}`) * fresh;
      for (const x of this.exampleNames) {
        const d = out[`x.${x}`]?.data as Float32Array;
        for (let i = 0; i < fresh; i++) (perExample[x] as Float64Array)[start + i] = d[i] as number;
      }
      weight += fresh;
    }
    const res: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) res[k] = v / weight;
    if (this.plan.perExampleMetrics && this.exampleNames.length) Object.assign(res, this.plan.perExampleMetrics(perExample));
    return res;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/** What a scorer computes per row. */
export type ScoreKind = 'logps' | 'reward';

/**
 * Scores rows in batches of `batch` rows of `seqLen` tokens: summed completion log-probs (kind `logps`, an LM) or
 * the reward at the last token (kind `reward`, a score-head model).
 */
export class SequenceScorer {
  private constructor(
    private readonly model: TransformerModel,
    private readonly session: RuntimeSession,
    readonly batch: number,
    readonly seqLen: number,
    private readonly padId: number,
    readonly kind: ScoreKind,
  ) {}

  static async create(model: TransformerModel, kind: ScoreKind, shape: { batch: number; seqLen: number; padId: number }, opts: RunnerOptions = {}): Promise<SequenceScorer> {
    const g = new Graph('score');
    const params = paramInputs(g, model.params);
    const ids = g.input('ids', [shape.batch, shape.seqLen], 'int64');
    const mask = g.input('mask', [shape.batch, shape.seqLen], 'int64');
    if (kind === 'logps') {
      const cmask = g.input('cmask', [shape.batch, shape.seqLen], 'int64');
      const s = sequenceLogps(model, params, ids, mask, cmask);
      g.output('out', s.sum);
    } else {
      g.output('out', rewardScores(model, params, ids, mask));
    }
    const session = await RuntimeSession.create(toOnnx(g, SESSION_EMIT), runnerOptions(opts));
    return new SequenceScorer(model, session, shape.batch, shape.seqLen, shape.padId, kind);
  }

  /** Sets the weights to score with (every parameter of the model). */
  async setWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.session.setResident(paramFeeds(this.model.params, weights, 'scorer'));
  }

  /** One value per row (rows longer than seqLen are cut). */
  async score(rows: readonly Row[]): Promise<Float64Array> {
    const out = new Float64Array(rows.length);
    const B = this.batch;
    const T = this.seqLen;
    for (let start = 0; start < rows.length; start += B) {
      const chunk = rows.slice(start, start + B);
      while (chunk.length < B) chunk.push(rows[0] as Row);
      const r = padRows(chunk, T, this.padId);
      const t = (d: BigInt64Array): HostTensor => ({ dtype: 'int64', shape: [B, T], data: d });
      const feeds: Record<string, HostTensor> = { ids: t(r.ids), mask: t(r.mask) };
      if (this.kind === 'logps') feeds.cmask = t(r.cmask);
      const res = await this.session.run(feeds, { fetch: ['out'] });
      const d = res.out?.data as Float32Array;
      for (let i = 0; i < Math.min(B, rows.length - start); i++) out[start + i] = d[i] as number;
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
