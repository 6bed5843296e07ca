/**
 * Batched autoregressive generation on the engine's runtime (a worker-thread onnxruntime session).
 *
 * Prompts are left-padded to one length. By default the whole generation is one onnxruntime call on the decode
 * model (decodeGraph.ts): prefill, then an in-graph Loop over new tokens with the KV cache as loop-carried state
 * and the sampling inside the graph. `decode: 'steps'` runs the step-by-step path instead (inferenceGraph.ts: one
 * call per token, sampling in JavaScript with sampling.ts), which the tests hold the loop to.
 *
 * Random stream: the sampler draws one uniform per (step, row) up front from Rng(seed).derive('sampling'),
 * step-major ([max_new_tokens][rows], whether or not a row is still running); both paths sample row b at step s
 * with u[s][b], so the same seed gives the same samples on either path, and a generation is a pure function of
 * (weights, prompts, options, seed) - what checkpoint/resume relies on. Greedy decoding draws nothing.
 *
 * Rows that hit a stop token are finished: they feed a masked pad token (not attended to) until every row is
 * done or max_new_tokens is reached, so a row's tokens do not depend on the other rows of its batch.
 */
import type { DeviceRequest } from '../runtime/devices';
import { RuntimeSession } from '../runtime/ortSession';
import { HostTensor, tensor } from '../runtime/tensor';
import { Rng } from '../rng';
import { Weights } from '../models/params';
import { TransformerModel } from '../models/transformer';
import { buildDecodeOnnx } from './decodeGraph';
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
  /** 'loop' (default): one onnxruntime call for the whole generation; 'steps': one call per token (for checks). */
  decode?: 'loop' | 'steps';
  /** false: recompute the whole sequence every step instead of using the KV cache (slow; for checks; implies 'steps'). */
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
  /** onnxruntime writes a JSON op profile of the decode model with this path prefix (see {@link Generator.endProfiling}). */
  profilePrefix?: string;
}

/** A validated generation request: left-padded prompts, stop set, pad and the pre-drawn uniforms. */
interface Batch {
  readonly B: number;
  /** Prompt length after left padding. */
  readonly P: number;
  /** Left-padded prompts and their masks, row-major [B][P]. */
  readonly seqs: number[][];
  readonly masks: number[][];
  readonly stop: ReadonlySet<number>;
  readonly pad: number;
  /** u[s * B + b]: the draw of row b at step s (zeros for greedy). */
  readonly uniforms: Float64Array;
  readonly greedy: boolean;
}

export class Generator {
  private stepSession: Promise<RuntimeSession> | null = null;

  private constructor(
    readonly model: TransformerModel,
    private readonly weights: Weights,
    private readonly opts: GeneratorOptions,
    private readonly session: RuntimeSession,
  ) {}

  /** Builds the decode model for `weights` and starts its runtime session. */
  static async create(model: TransformerModel, weights: Weights, opts: GeneratorOptions = {}): Promise<Generator> {
    const session = await RuntimeSession.create(buildDecodeOnnx(model, weights), {
      ...Generator.sessionOptions(opts),
      ...(opts.profilePrefix ? { profilePrefix: opts.profilePrefix } : {}),
    });
    return new Generator(model, weights, opts, session);
  }

  private static sessionOptions(opts: GeneratorOptions): { device: DeviceRequest; threads?: number } {
    return { device: opts.device ?? 'cpu', ...(opts.threads ? { threads: opts.threads } : {}) };
  }

  /** Generates a continuation for each prompt (token ids). Returns one result per prompt, in order. */
  async generate(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<Generation[]> {
    const batch = this.prepare(prompts, opts);
    if (!batch) return [];
    if (opts.useCache === false || opts.decode === 'steps') return this.generateSteps(batch, opts);
    return this.generateLoop(batch, opts);
  }

  /** Validates the request (naming the bad field) and pads the prompts; null for no prompts. */
  private prepare(prompts: readonly (readonly number[])[], opts: GenerateOptions): Batch | null {
    const cfg = this.model.config;
    if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1) throw new Error(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}`);
    checkSampling(opts);
    if (opts.vocabLimit !== undefined && !(Number.isInteger(opts.vocabLimit) && opts.vocabLimit >= 1)) throw new Error(`vocabLimit must be a positive integer, got ${opts.vocabLimit}`);
    if (prompts.length === 0) return null;
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
    const greedy = opts.greedy ?? (opts.temperature ?? 1) === 0;
    const uniforms = new Float64Array(opts.maxNewTokens * B);
    if (!greedy) {
      const rng = new Rng(opts.seed ?? 0).derive('sampling');
      for (let i = 0; i < uniforms.length; i++) uniforms[i] = rng.uniform();
    }
    const seqs = prompts.map((p) => [...new Array<number>(P - p.length).fill(pad), ...p]);
    const masks = prompts.map((p) => [...new Array<number>(P - p.length).fill(0), ...p.map(() => 1)]);
    return { B, P, seqs, masks, stop, pad, uniforms, greedy };
  }

  /** The whole generation in one call of the decode model. */
  private async generateLoop(batch: Batch, opts: GenerateOptions): Promise<Generation[]> {
    const { B, P, stop, greedy } = batch;
    const V = Math.min(opts.vocabLimit ?? this.model.config.vocabSize, this.model.config.vocabSize);
    const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
    const topP = opts.topP ?? 1;
    const i64 = (shape: number[], xs: readonly number[]): HostTensor => tensor('int64', shape, BigInt64Array.from(xs, (x) => BigInt(x)));
    const out = await this.session.run({
      input_ids: i64([B, P], batch.seqs.flat()),
      attention_mask: i64([B, P], batch.masks.flat()),
      steps: i64([], [opts.maxNewTokens - 1]),
      uniforms: tensor('float64', [opts.maxNewTokens, B], batch.uniforms),
      stop_ids: i64([stop.size + 1], [...stop, -1]),
      pad_id: i64([], [batch.pad]),
      vocab_limit: i64([1], [V]),
      greedy: tensor('bool', [], Uint8Array.of(greedy ? 1 : 0)),
      inv_temperature: tensor('float32', [], Float32Array.of(greedy ? 1 : 1 / (opts.temperature ?? 1))),
      truncate: tensor('bool', [], Uint8Array.of(k < V || topP < 1 ? 1 : 0)),
      top_k: i64([1], [k]),
      top_p: tensor('float64', [], Float64Array.of(topP)),
    });
    const tokens = out.tokens.data as BigInt64Array; // [n, B]
    const logprobs = out.logprobs.data as Float64Array;
    const n = out.tokens.shape[0];
    const results: Generation[] = [];
    for (let b = 0; b < B; b++) {
      const r: Generation = { tokens: [], logprobs: [], finishReason: 'length' };
      for (let s = 0; s < n; s++) {
        const t = Number(tokens[s * B + b]);
        r.tokens.push(t);
        r.logprobs.push(logprobs[s * B + b]);
        if (stop.has(t)) {
          r.finishReason = 'stop';
          break;
        }
      }
      results.push(r);
    }
    return results;
  }

  /** One call of the step model per token, sampling in JavaScript (the reference the loop is tested against). */
  private async generateSteps(batch: Batch, opts: GenerateOptions): Promise<Generation[]> {
    const cfg = this.model.config;
    const session = await this.stepModel();
    const { B, stop, pad, seqs, masks } = batch;
    const useCache = opts.useCache ?? true;
    const results: Generation[] = seqs.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' }));
    const done = new Array<boolean>(B).fill(false);
    let past: Record<string, HostTensor> = this.emptyPast(B);
    let feedIds: number[][] = seqs.map((s) => [...s]);
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const out = await session.run({
        input_ids: tensor('int64', [B, feedIds[0].length], BigInt64Array.from(feedIds.flat(), (x) => BigInt(x))),
        attention_mask: tensor('int64', [B, masks[0].length], BigInt64Array.from(masks.flat(), (x) => BigInt(x))),
        ...(useCache ? past : this.emptyPast(B)),
      });
      const logits = out.logits.data as Float32Array; // [B, V]
      const V = out.logits.shape[1];
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          next.push(pad);
          continue;
        }
        const u = batch.uniforms[step * B + b];
        const pick = pickToken(logits.subarray(b * V, (b + 1) * V), opts, { uniform: () => u }, opts.vocabLimit ?? V);
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

  /** The step-by-step inference model's session, started on first use. */
  private stepModel(): Promise<RuntimeSession> {
    this.stepSession ??= RuntimeSession.create(buildInferenceOnnx(this.model, this.weights, { logits: 'last' }), Generator.sessionOptions(this.opts));
    return this.stepSession;
  }

  private emptyPast(B: number): Record<string, HostTensor> {
    const { numLayers, numKvHeads: K, headDim: E } = this.model.config;
    const past: Record<string, HostTensor> = {};
    for (let i = 0; i < numLayers; i++) {
      past[`past_key_values.${i}.key`] = tensor('float32', [B, K, 0, E], new Float32Array(0));
      past[`past_key_values.${i}.value`] = tensor('float32', [B, K, 0, E], new Float32Array(0));
    }
    return past;
  }

  /** Ends onnxruntime profiling of the decode model (when `profilePrefix` was given) and writes the profile. */
  async endProfiling(): Promise<void> {
    await this.session.endProfiling();
  }

  /** Ends the runtime sessions. */
  async dispose(): Promise<void> {
    const step = this.stepSession;
    this.stepSession = null;
    await Promise.all([this.session.dispose(), step?.then((s) => s.dispose())]);
  }
}
