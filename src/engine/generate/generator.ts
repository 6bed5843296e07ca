/**
 * Batched autoregressive generation on the KV-cache inference model (inferenceGraph.ts), run through the
 * engine's runtime (a worker-thread onnxruntime session).
 *
 * Prompts are left-padded to one length; one prefill call computes the prompt's keys/values, then each step feeds
 * only the new token per row plus the cache. Rows that hit a stop token are finished: they keep feeding a
 * masked pad token (their outputs are ignored) until every row is done or max_new_tokens is reached.
 */
import type { DeviceRequest } from '../runtime/devices';
import { RuntimeSession } from '../runtime/ortSession';
import { HostTensor, tensor } from '../runtime/tensor';
import { Rng } from '../rng';
import { Weights } from '../models/params';
import { TransformerModel } from '../models/transformer';
import { buildInferenceOnnx } from './inferenceGraph';
import { checkSampling, pickToken, SamplingOptions } from './sampling';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate per row (>= 1). */
  maxNewTokens: number;
  /** Token ids that end a row (included in its output). Default: the config's eos_token_id(s). */
  stopTokens?: readonly number[];
  /** Token used for padding. Default: the config's pad_token_id, else the first stop token, else 0. */
  padTokenId?: number;
  /** Only ids below this can be produced (e.g. the tokenizer's vocabulary when the embedding is padded). */
  vocabLimit?: number;
  /** Seed of the sampling generator (default 0): same seed, same samples. */
  seed?: number;
  /** false: recompute the whole sequence every step instead of using the KV cache (slow; for checks). */
  useCache?: boolean;
}

export interface Generation {
  /** Generated token ids (a stop token, when hit, is the last one). */
  tokens: number[];
  /** log p of each generated token (see sampling.ts Pick.logprob). */
  logprobs: number[];
  finishReason: 'stop' | 'length';
}

export interface GeneratorOptions {
  device?: DeviceRequest;
  threads?: number;
}

export class Generator {
  private constructor(
    readonly model: TransformerModel,
    private readonly session: RuntimeSession,
  ) {}

  /** Builds the inference model for `weights` and starts its runtime session. */
  static async create(model: TransformerModel, weights: Weights, opts: GeneratorOptions = {}): Promise<Generator> {
    const bytes = buildInferenceOnnx(model, weights, { logits: 'last' });
    const session = await RuntimeSession.create(bytes, { device: opts.device ?? 'cpu', ...(opts.threads ? { threads: opts.threads } : {}) });
    return new Generator(model, session);
  }

  /** Generates a continuation for each prompt (token ids). Returns one result per prompt, in order. */
  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]> {
    const cfg = this.model.config;
    if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) throw new Error(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`);
    checkSampling(opts);
    if (prompts.length === 0) return [];
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`prompt ${i} is empty (generation needs at least one prompt token)`);
      p.forEach((t, j) => {
        if (!Number.isInteger(t) || t < 0 || t >= cfg.vocabSize) throw new Error(`prompt ${i}, position ${j}: token id ${t} is outside the vocabulary (0..${cfg.vocabSize - 1})`);
      });
    });
    const eos = cfg.eosTokenId === null ? [] : Array.isArray(cfg.eosTokenId) ? cfg.eosTokenId : [cfg.eosTokenId];
    const stop = new Set(opts.stopTokens ?? eos);
    const pad = opts.padTokenId ?? cfg.padTokenId ?? (stop.size ? [...stop][0] : 0);
    const B = prompts.length;
    const P = Math.max(...prompts.map((p) => p.length));
    if (P + opts.maxNewTokens > this.model.maxLength) {
      throw new Error(`prompt length ${P} + maxNewTokens ${opts.maxNewTokens} exceeds the model's maximum of ${this.model.maxLength} positions`);
    }
    const rng = new Rng(opts.seed ?? 0).derive('sampling');
    const useCache = opts.useCache ?? true;
    const K = cfg.numKvHeads;
    const E = cfg.headDim;

    // Full sequences (left-padded prompts + generated) and their masks, row-major [B][S].
    const seqs = prompts.map((p) => [...new Array<number>(P - p.length).fill(pad), ...p]);
    const masks = prompts.map((p) => [...new Array<number>(P - p.length).fill(0), ...p.map(() => 1)]);
    const results: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    const done = new Array<boolean>(B).fill(false);
    let past: Record<string, HostTensor> = this.emptyPast(B, K, E);
    let feedIds: number[][] = seqs.map((s) => [...s]);

    for (let step = 0; step < opts.maxNewTokens; step++) {
      const T = feedIds[0].length;
      const S = masks[0].length;
      const feeds: Record<string, HostTensor> = {
        input_ids: tensor('int64', [B, T], BigInt64Array.from(feedIds.flat(), (x) => BigInt(x))),
        attention_mask: tensor('int64', [B, S], BigInt64Array.from(masks.flat(), (x) => BigInt(x))),
        ...(useCache ? past : this.emptyPast(B, K, E)),
      };
      const out = await this.session.run(feeds);
      const logits = out.logits.data as Float32Array; // [B, V]
      const V = out.logits.shape[1];
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          next.push(pad);
          continue;
        }
        const pick = pickToken(logits.subarray(b * V, (b + 1) * V), opts, rng, opts.vocabLimit ?? V);
        results[b].tokens.push(pick.token);
        results[b].logprobs.push(pick.logprob);
        next.push(pick.token);
        if (stop.has(pick.token)) {
          done[b] = true;
          results[b].finishReason = 'stop';
        }
      }
      if (done.every((d) => d) || step === opts.maxNewTokens - 1) break;
      for (let b = 0; b < B; b++) {
        seqs[b].push(next[b]);
        // A row that just finished feeds its stop token with mask 0 from now on (not attended to).
        masks[b].push(done[b] ? 0 : 1);
      }
      if (useCache) {
        past = {};
        for (let i = 0; i < cfg.numLayers; i++) {
          past[`past_key_values.${i}.key`] = out[`present.${i}.key`];
          past[`past_key_values.${i}.value`] = out[`present.${i}.value`];
        }
        feedIds = next.map((t) => [t]);
      } else feedIds = seqs.map((s) => [...s]);
    }
    return results;
  }

  private emptyPast(B: number, K: number, E: number): Record<string, HostTensor> {
    const past: Record<string, HostTensor> = {};
    for (let i = 0; i < this.model.config.numLayers; i++) {
      past[`past_key_values.${i}.key`] = tensor('float32', [B, K, 0, E], new Float32Array(0));
      past[`past_key_values.${i}.value`] = tensor('float32', [B, K, 0, E], new Float32Array(0));
    }
    return past;
  }

  /** Ends the runtime session. */
  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
