/**
 * Reward inspection (src/protocol/rewardInspection.ts): a reward model's dense, shaping-equivalent reward of every
 * token of a response, from one forward pass, placed on the response's characters and words.
 *
 * Potential: Φ(x, y≤t) = the reward model's score of the prompt and the first t response tokens, scored as a
 * finished response: followed by the response's end tokens (EOS for a text completion, the chat template's
 * end-of-turn for a message), since a reward model is trained on, and pools at the last token of, finished
 * responses. Φ(x, ∅) is the score of the empty response, and the end tokens themselves add nothing (Φ after them is
 * R(x, y)). Without end tokens (a tokenizer without EOS, a cut response) a prefix is scored as it is. Dense reward:
 *   d_t = Φ(x, y≤t) − Φ(x, y<t),  t = 1..n,  so  Σ_t d_t = R(x, y) − Φ(x, ∅)
 * (a telescoping sum). This is potential shaping of the sparse reward that pays R(x, y) at the end (Ng et al.
 * 1999), the equivalence PRFI (Jenner & Gleave) keeps.
 *
 * One pass: the row holds the prompt and response, then one copy of the end tokens per prefix, each attending
 * only its prefix and itself at the positions that follow the prefix (an explicit attention pattern,
 * ForwardInputs.pattern), so the head at a copy's last token is exactly that prefix's finished-response score.
 * Reading the head at every position of the plain row instead scores prefixes that end mid-response, which a
 * reward model never saw: a tiny model trained to like a word then shows the reward on the token after it.
 *
 * PRFI's other preprocessing, the potential that makes the shaped reward sparsest, is not offered: over one
 * response (a path, no shared prefixes) every potential that puts the whole sum on any single token is equally
 * sparse, so sparsity alone cannot say which token earned the reward; over several responses of a prompt the
 * sparsest potential puts the reward where they first differ, a fact of the data, not of the reward model.
 */
import { Graph } from '../engine/graph/graph';
import { SESSION_EMIT, toOnnx } from '../engine/graph/emit';
import type { PreferenceExample } from '../core/datasets/examples';
import { completionText } from '../core/judges/labelJob';
import { promptMeans, segmentRewards } from '../core/eval/rewardSpans';
import type { ModelConfig } from '../engine/models/config';
import { buildModel, type TransformerModel } from '../engine/models/transformer';
import { RuntimeSession } from '../engine/runtime/ortSession';
import type { TextTokenizer } from '../engine/tokenizer/tokenizer';
import type { RecordInspection, ResponseInspection, TokenReward } from '../protocol/rewardInspection';
import { UserError } from '../util/errors';
import { encodeWithPrompt, type EncodedPair } from './encode';
import { patternScores } from './reward';
import { paramFeeds, paramInputs } from './weightInputs';

export interface DenseReward {
  /** R(x, y) = Φ(x, y≤n). */
  readonly reward: number;
  /** Φ(x, ∅). */
  readonly emptyPrefix: number;
  /** d_t for t = 1..n. */
  readonly dense: Float64Array;
}

/** Dense rewards from the potentials phi[t] = Φ(x, y≤t), t = 0..n. */
export function denseRewards(phi: ArrayLike<number>): DenseReward {
  if (phi.length < 1) throw new Error('denseRewards: needs Φ(x, ∅) at least');
  const dense = new Float64Array(phi.length - 1);
  for (let t = 1; t < phi.length; t++) dense[t - 1] = (phi[t] as number) - (phi[t - 1] as number);
  return { reward: phi[phi.length - 1] as number, emptyPrefix: phi[0] as number, dense };
}

/**
 * One row of the one-pass layout (see the module comment): token ids, each token's position and the keys it
 * attends (keys 0..limit-1 of the prompt and response, plus its own copy's tokens from `copyStart` to itself), and
 * where Φ(x, y≤t) is read for t = 0..n (-1: an empty prompt and prefix, Φ = 0).
 */
export interface PrefixLayout {
  readonly ids: readonly number[];
  readonly positions: readonly number[];
  readonly limit: readonly number[];
  readonly copyStart: readonly number[];
  readonly reads: readonly number[];
}

/**
 * The layout of prompt + completion whose last `endTokens` tokens are its end tokens: a copy of them after each
 * prefix of the content (t = 0..n − endTokens); later prefixes (inside the end tokens) are read in place.
 */
export function prefixLayout(prompt: readonly number[], completion: readonly number[], endTokens: number): PrefixLayout {
  const P = prompt.length;
  const n = completion.length;
  const L = Math.max(0, Math.min(endTokens, n));
  const end = completion.slice(n - L);
  const ids = [...prompt, ...completion];
  const positions = ids.map((_, i) => i);
  const limit = ids.map((_, i) => i + 1);
  const copyStart = ids.map(() => -1);
  const reads: number[] = [];
  for (let t = 0; t <= n; t++) {
    if (L > 0 && t <= n - L) {
      const start = ids.length;
      end.forEach((id, k) => {
        ids.push(id);
        positions.push(P + t + k);
        limit.push(P + t);
        copyStart.push(start);
      });
      reads.push(ids.length - 1);
    } else reads.push(P + t - 1);
  }
  return { ids, positions, limit, copyStart, reads };
}

/** Scores every position of {@link PrefixLayout} rows with a score-head model, `batch` rows of `seqLen` per run. */
export class PrefixScorer {
  private constructor(
    private readonly model: TransformerModel,
    private readonly session: RuntimeSession,
    readonly batch: number,
    readonly seqLen: number,
    private readonly padId: number,
  ) {}

  static async create(model: TransformerModel, shape: { batch: number; seqLen: number; padId: number }): Promise<PrefixScorer> {
    const g = new Graph('prefix-rewards');
    const params = paramInputs(g, model.params);
    const { batch: B, seqLen: T } = shape;
    const ids = g.input('ids', [B, T], 'int64');
    const visible = g.input('visible', [B, T, T], 'int64');
    const positionIds = g.input('positions', [B, T], 'int64');
    g.output('scores', patternScores(model, params, ids, { visible, positionIds }));
    return new PrefixScorer(model, await RuntimeSession.create(toOnnx(g, SESSION_EMIT), {}), B, T, shape.padId);
  }

  /**
   * A scorer sized for `layouts`: rows as long as the longest (rounded up to 8), the model's positions as far as
   * the furthest position; `batch` rows per run.
   */
  static async forLayouts(config: ModelConfig, layouts: readonly PrefixLayout[], padId: number, batch = 2): Promise<PrefixScorer> {
    const seqLen = Math.ceil(Math.max(8, ...layouts.map((l) => l.ids.length)) / 8) * 8;
    const furthest = Math.max(1, ...layouts.flatMap((l) => l.positions)) + 1;
    const model = buildModel(config, 'score', { maxLength: Math.min(config.maxPositions, Math.ceil(furthest / 8) * 8) });
    return PrefixScorer.create(model, { batch: Math.max(1, Math.min(batch, layouts.length)), seqLen, padId });
  }

  /** Sets the weights to score with (every parameter of the model). */
  async setWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.session.setResident(paramFeeds(this.model.params, weights, 'prefix scorer'));
  }

  /** Φ(x, y≤t), t = 0..n, of each layout (rows longer than seqLen are refused). */
  async potentials(layouts: readonly PrefixLayout[]): Promise<Float64Array[]> {
    const { batch: B, seqLen: T } = this;
    const out: Float64Array[] = [];
    for (let start = 0; start < layouts.length; start += B) {
      const chunk = layouts.slice(start, start + B);
      const ids = new BigInt64Array(B * T).fill(BigInt(this.padId));
      const positions = new BigInt64Array(B * T);
      const visible = new BigInt64Array(B * T * T);
      chunk.forEach((l, b) => {
        if (l.ids.length > T) throw new Error(`prefix scorer: a layout of ${l.ids.length} tokens does not fit rows of ${T}`);
        for (let i = 0; i < T; i++) {
          const row = (b * T + i) * T;
          if (i >= l.ids.length) {
            visible[row + i] = 1n; // padding sees itself only
            continue;
          }
          ids[b * T + i] = BigInt(l.ids[i] as number);
          positions[b * T + i] = BigInt(l.positions[i] as number);
          for (let j = 0; j < (l.limit[i] as number); j++) visible[row + j] = 1n;
          for (let j = l.copyStart[i] as number; j >= 0 && j <= i; j++) visible[row + j] = 1n;
        }
      });
      const res = await this.session.run({ ids: { dtype: 'int64', shape: [B, T], data: ids }, positions: { dtype: 'int64', shape: [B, T], data: positions }, visible: { dtype: 'int64', shape: [B, T, T], data: visible } }, { fetch: ['scores'] });
      const d = res.scores?.data as Float32Array;
      chunk.forEach((l, b) => out.push(Float64Array.from(l.reads, (r) => (r < 0 ? 0 : (d[b * T + r] as number)))));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/** Length of the common prefix of a and b. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The characters of `text` each token of `ids` completes, as {@link TokenReward}'s start/end. The decoded text of
 * the first k tokens agrees with the whole decoded text up to the end of the last character they complete (a
 * byte-level token that stops inside a character decodes to U+FFFD there), so token k covers the characters
 * between the agreements after k and k + 1 tokens. `text` is found in the decoded completion (which may add
 * chat-template markup around it); tokens outside it get -1.
 */
export function tokenSpans(tok: TextTokenizer, ids: readonly number[], text: string): { start: number; end: number }[] {
  const decode = (k: number): string => tok.decode(ids.slice(0, k), { skipSpecialTokens: true });
  const full = decode(ids.length);
  const at = full.indexOf(text);
  const bounds = [0];
  for (let k = 1; k <= ids.length; k++) bounds.push(Math.max(bounds[k - 1] as number, commonPrefix(decode(k), full)));
  return ids.map((_, k) => {
    // In the decoded text's offsets, token k covers [b, e); an empty one sits at the character b it helps complete.
    const b = bounds[k] as number;
    const e = bounds[k + 1] as number;
    const inside = at >= 0 && (e > b ? b < at + text.length && e > at : b >= at && b < at + text.length);
    return inside ? { start: Math.max(0, b - at), end: Math.min(text.length, e - at) } : { start: -1, end: -1 };
  });
}

/**
 * Refuses a tokenizer whose ids the model's embedding cannot hold (it belongs to another model): the model would
 * read rows that do not exist or that mean other tokens.
 */
export function checkTokenizerFits(tok: TextTokenizer, config: ModelConfig, dir: string): void {
  if (tok.vocabSize > config.vocabSize) {
    throw new UserError(
      `${dir}: the tokenizer (${tok.source}) has ${tok.vocabSize} tokens but the model's embedding has ${config.vocabSize} rows, so it is not this model's tokenizer; copy the tokenizer files the reward model was trained with into its folder`,
    );
  }
}

/** A pair to inspect: its record id, line and example, and the example encoded by the model's tokenizer. */
export interface InspectionItem {
  readonly recordId: string;
  readonly line: number;
  readonly example: PreferenceExample;
  readonly encoded: EncodedPair;
}

/** A response's layout and where its tokens lie in its text. */
interface Laid {
  readonly text: string;
  readonly layout: PrefixLayout;
  readonly spans: readonly { start: number; end: number }[];
  readonly truncated: boolean;
}

/** The end tokens are the completion's trailing tokens outside its text (none when no token is inside it). */
function layResponse(tok: TextTokenizer, prompt: readonly number[], completion: readonly number[], side: 'chosen' | 'rejected', example: PreferenceExample): Laid {
  const y = example[side];
  const text = completionText(y);
  const spans = tokenSpans(tok, completion, text);
  let endTokens = 0;
  while (endTokens < spans.length && (spans[spans.length - 1 - endTokens] as { start: number }).start < 0) endTokens++;
  if (endTokens === spans.length) endTokens = 0;
  const whole = example.style === 'text' ? encodeWithPrompt(tok, example.prompt, [example[side]]) : encodeWithPrompt(tok, example.prompt, [example[side]]);
  const truncated = completion.length < (whole.completions[0] as number[]).length;
  return { text, layout: prefixLayout(prompt, completion, truncated ? 0 : endTokens), spans, truncated };
}

type Response = Omit<ResponseInspection, 'canonicalReward'>;

function inspectResponse(laid: Laid, completion: readonly number[], phi: Float64Array): Response {
  const { reward, emptyPrefix, dense } = denseRewards(phi);
  const tokens: TokenReward[] = completion.map((id, t) => ({ id, ...(laid.spans[t] as { start: number; end: number }), reward: dense[t] as number }));
  const seg = segmentRewards(laid.text, tokens);
  return { text: laid.text, reward, emptyPrefix, tokens, spans: seg.spans, outside: seg.outside, truncated: laid.truncated };
}

/** Laid-out responses of `items` (chosen, rejected of each), for sizing the scorer before {@link inspectPairs}. */
export function layPairs(tok: TextTokenizer, items: readonly InspectionItem[]): Laid[] {
  return items.flatMap((it) => [
    layResponse(tok, it.encoded.prompt, it.encoded.chosen, 'chosen', it.example),
    layResponse(tok, it.encoded.prompt, it.encoded.rejected, 'rejected', it.example),
  ]);
}

/**
 * Inspects pairs (laid out by {@link layPairs}): every response's dense rewards on its tokens and words, and its
 * reward canonicalized by the mean reward of its prompt's responses among `items`.
 */
export async function inspectPairs(scorer: PrefixScorer, items: readonly InspectionItem[], laid: readonly Laid[]): Promise<RecordInspection[]> {
  const phi = await scorer.potentials(laid.map((l) => l.layout));
  const responses = items.map((it, i) => ({
    chosen: inspectResponse(laid[2 * i] as Laid, it.encoded.chosen, phi[2 * i] as Float64Array),
    rejected: inspectResponse(laid[2 * i + 1] as Laid, it.encoded.rejected, phi[2 * i + 1] as Float64Array),
  }));
  const key = (i: number): string => JSON.stringify((items[i] as InspectionItem).example.prompt);
  const means = promptMeans(items.map((_, i) => i), key, (i) => [(responses[i] as { chosen: Response }).chosen.reward, (responses[i] as { rejected: Response }).rejected.reward]);
  return items.map((it, i) => {
    const r = responses[i] as { chosen: Response; rejected: Response };
    const mean = means.get(key(i)) as number;
    return { recordId: it.recordId, line: it.line, promptMean: mean, chosen: { ...r.chosen, canonicalReward: r.chosen.reward - mean }, rejected: { ...r.rejected, canonicalReward: r.rejected.reward - mean } };
  });
}
