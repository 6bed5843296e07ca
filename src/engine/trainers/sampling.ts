/**
 * Sampling completions from an LM for sample events, pair generation and policy evaluation. Each new token reruns
 * the whole [N, T] forward without a KV cache (simple and exact; fine for the short completions of sample
 * previews and the demo): rows are right-padded, the graph returns the logits at each row's last real position,
 * and the next token is drawn on the host with temperature and top-k from a seeded generator, so the same seed
 * gives the same samples. A row stops at any of the stop ids (which are kept in its tokens) or at maxNewTokens.
 */
import { Graph, type Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import { toOnnx } from '../graph/emit';
import { forward, type TransformerModel } from '../models/transformer';
import { RuntimeSession } from '../runtime/session';
import type { HostTensor } from '../runtime/tensor';
import type { Rng } from '../rng';
import type { RunnerOptions } from './evaluate';

export interface SampleOptions {
  readonly maxNewTokens: number;
  /** 0 = greedy. */
  readonly temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  readonly topK?: number;
  /** Token ids that end a completion (e.g. EOS / `<|im_end|>`). */
  readonly stopIds: readonly number[];
}

export interface SampledCompletion {
  /** Generated ids (including the stop id when one ended it). */
  readonly tokens: number[];
  /** True when a stop id ended it (false: cut at maxNewTokens). */
  readonly stopped: boolean;
}

export class Sampler {
  private constructor(
    private readonly model: TransformerModel,
    private readonly session: RuntimeSession,
    readonly batch: number,
    readonly seqLen: number,
    private readonly padId: number,
    private readonly vocab: number,
  ) {}

  /**
   * A sampler for `batch` rows of `seqLen` tokens (prompt + completion). `vocab`: draw only ids below it (the
   * tokenizer's size; embedding matrices are often padded with rows no tokenizer produces).
   */
  static async create(model: TransformerModel, shape: { batch: number; seqLen: number; padId: number; vocab?: number }, opts: RunnerOptions = {}): Promise<Sampler> {
    const g = new Graph('sample');
    const params = new Map<string, Tensor>();
    for (const p of model.params) params.set(p.name, g.input(`p.${p.name}`, p.shape, 'float32'));
    const ids = g.input('ids', [shape.batch, shape.seqLen], 'int64');
    const mask = g.input('mask', [shape.batch, shape.seqLen], 'int64');
    const pos = g.input('pos', [shape.batch], 'int64');
    const out = forward(model, params, { ids, mask });
    if (!out.logits) throw new Error(`sampler: the model's head is "${model.head}", which has no LM logits`);
    // logits[b, pos[b], :] -> [N, V]
    const idx = op.expandLike(op.unsqueeze(pos, [1, 2]), op.narrow(out.logits, 1, 0, 1));
    g.output('logits', op.squeeze(op.gatherElements(out.logits, idx, 1), [1]));
    const session = await RuntimeSession.create(toOnnx(g), { ...(opts.device ? { device: opts.device } : {}), ...(opts.threads ? { threads: opts.threads } : {}) });
    return new Sampler(model, session, shape.batch, shape.seqLen, shape.padId, Math.min(shape.vocab ?? model.config.vocabSize, model.config.vocabSize));
  }

  /** Sets the LM weights to sample from. */
  async setWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    const feeds: Record<string, HostTensor> = {};
    for (const p of this.model.params) {
      const w = weights.get(p.name);
      if (!w) throw new Error(`sampler: missing weights for '${p.name}'`);
      feeds[`p.${p.name}`] = { dtype: 'float32', shape: p.shape, data: w };
    }
    await this.session.setResident(feeds);
  }

  /** Samples one completion per prompt (prompts longer than seqLen - maxNewTokens keep their end). */
  async generate(prompts: readonly (readonly number[])[], opts: SampleOptions, rng: Rng): Promise<SampledCompletion[]> {
    const out: SampledCompletion[] = [];
    for (let start = 0; start < prompts.length; start += this.batch) {
      out.push(...(await this.generateBatch(prompts.slice(start, start + this.batch), opts, rng)));
    }
    return out;
  }

  private async generateBatch(prompts: readonly (readonly number[])[], opts: SampleOptions, rng: Rng): Promise<SampledCompletion[]> {
    const N = this.batch;
    const T = this.seqLen;
    const maxNew = Math.max(1, Math.min(opts.maxNewTokens, T - 1));
    const room = T - maxNew;
    const rows = prompts.map((p) => (p.length > room ? p.slice(p.length - room) : [...p]));
    const gen: number[][] = rows.map(() => []);
    const done = rows.map(() => false);
    const stopped = rows.map(() => false);
    const stop = new Set(opts.stopIds);
    for (let step = 0; step < maxNew && done.some((d) => !d); step++) {
      const ids = new BigInt64Array(N * T).fill(BigInt(this.padId));
      const mask = new BigInt64Array(N * T);
      const pos = new BigInt64Array(N);
      for (let i = 0; i < N; i++) {
        const seq = i < rows.length ? [...(rows[i] as number[]), ...(gen[i] as number[])] : [this.padId];
        for (let t = 0; t < seq.length; t++) {
          ids[i * T + t] = BigInt(seq[t] as number);
          mask[i * T + t] = 1n;
        }
        pos[i] = BigInt(Math.max(0, seq.length - 1));
      }
      const res = await this.session.run({ ids: { dtype: 'int64', shape: [N, T], data: ids }, mask: { dtype: 'int64', shape: [N, T], data: mask }, pos: { dtype: 'int64', shape: [N], data: pos } });
      const logits = res.logits?.data as Float32Array;
      const V = logits.length / N;
      for (let i = 0; i < rows.length; i++) {
        if (done[i]) continue;
        const tok = drawToken(logits.subarray(i * V, (i + 1) * V), Math.min(V, this.vocab), opts, rng);
        (gen[i] as number[]).push(tok);
        if (stop.has(tok)) {
          done[i] = true;
          stopped[i] = true;
        }
      }
    }
    return rows.map((_, i) => ({ tokens: gen[i] as number[], stopped: stopped[i] as boolean }));
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/** One token from logits: argmax at temperature 0, else a draw from softmax(logits / temperature) over the top k. */
export function drawToken(logits: Float32Array, vocab: number, opts: Pick<SampleOptions, 'temperature' | 'topK'>, rng: Rng): number {
  if (opts.temperature <= 0) {
    let best = 0;
    for (let v = 1; v < vocab; v++) if ((logits[v] as number) > (logits[best] as number)) best = v;
    return best;
  }
  let cand = Array.from({ length: vocab }, (_, v) => v);
  const k = opts.topK ?? 0;
  if (k > 0 && k < vocab) cand = cand.sort((a, b) => (logits[b] as number) - (logits[a] as number)).slice(0, k);
  let mx = -Infinity;
  for (const v of cand) mx = Math.max(mx, logits[v] as number);
  const w = cand.map((v) => Math.exp(((logits[v] as number) - mx) / opts.temperature));
  const total = w.reduce((s, x) => s + x, 0);
  let u = rng.uniform() * total;
  for (let i = 0; i < cand.length; i++) {
    u -= w[i] as number;
    if (u <= 0) return cand[i] as number;
  }
  return cand[cand.length - 1] as number;
}
