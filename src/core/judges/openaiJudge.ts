/**
 * An AI judge over any OpenAI-compatible chat-completions server (OpenAI, llama.cpp's server, Ollama, vLLM).
 *
 * Pairwise mode asks for every pair in both presentation orders and combines them, which cancels the
 * position bias LLM judges are known to have (Zheng et al. 2023, "Judging LLM-as-a-Judge", section 3.3:
 * swap positions and call it a tie when the verdicts disagree). Rating mode asks for a Likert score of each
 * response separately, which has no position to be biased by.
 *
 * The API key is passed in by the host (which keeps it in SecretStorage), sent only in the Authorization
 * header, and redacted from every error message.
 */
import { ChatClient, type ChatClientOptions, type ChatMessage, type Deadline } from './chatClient';
import type { EndpointCheck } from './endpoint';
import { cacheKey, MemoryJudgeCache, type JudgeCache } from './judgeCache';
import { JudgeError, type JudgeUsage, type OrderVerdict, type PairJudge, type PairJudgement, type PairToJudge, type PairVerdict } from './judgeTypes';
import {
  DEFAULT_PAIRWISE_RUBRIC,
  DEFAULT_RATING_RUBRIC,
  PAIRWISE_FORMAT_INSTRUCTION,
  pairwiseReask,
  parsePairVerdict,
  parseRating,
  ratingFormatInstruction,
  ratingReask,
  renderTemplate,
  TemplateError,
  validateTemplate,
} from './rubric';

/** What the cache keeps for one single-order pairwise call or one rating call. */
export type CachedAnswer =
  | { readonly kind: 'pair'; readonly verdict: PairVerdict; readonly confidence?: number; readonly text: string }
  | { readonly kind: 'rating'; readonly rating: number; readonly text: string };

export function isCachedAnswer(v: unknown): v is CachedAnswer {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (typeof r.text !== 'string') return false;
  if (r.kind === 'pair') return r.verdict === 'A' || r.verdict === 'B' || r.verdict === 'tie';
  if (r.kind === 'rating') return typeof r.rating === 'number';
  return false;
}

export interface OpenAiJudgeOptions extends ChatClientOptions {
  /** Labels are recorded as `ai:<name>`; defaults to the model name. */
  readonly name?: string;
  /** 'pairwise' (default): both orders; 'rating': a Likert score per response. */
  readonly mode?: 'pairwise' | 'rating';
  /** Pairwise template with {{prompt}}, {{response_a}}, {{response_b}}. Default {@link DEFAULT_PAIRWISE_RUBRIC}. */
  readonly pairwiseTemplate?: string;
  /** Rating template with {{prompt}}, {{response}} and optionally {{scale}}. Default {@link DEFAULT_RATING_RUBRIC}. */
  readonly ratingTemplate?: string;
  /** Top of the Likert scale: 5 (default) or 10. */
  readonly ratingScale?: 5 | 10;
  /** Optional system message. */
  readonly systemPrompt?: string;
  /** Re-asks after an answer without a parseable verdict, default 2. */
  readonly maxParseRetries?: number;
  /**
   * Longest time one pair may take, ms: every request of both orders (or both ratings), retries, re-asks and waits,
   * Retry-After included. Default {@link ChatClient.allTriesMs}: the time all tries of one request and the backoff
   * waits between them may take (`timeoutMs` × (`maxRetries` + 1) + the backoff ceilings).
   * A wait that would end past it is not started: the pair fails at once, and the error says so.
   */
  readonly pairTimeoutMs?: number;
  /**
   * Cache of single-order answers; default an in-memory cache private to this judge. Keys hash the model name,
   * template, system prompt, temperature and the texts in their shown order, not the endpoint URL, so a server that
   * moved (new port) keeps its answers; give different models different names.
   */
  readonly cache?: JudgeCache<CachedAnswer>;
}

/** One rating-mode answer. */
export interface Rating {
  readonly rating: number;
  readonly scale: number;
  readonly text: string;
  readonly cached: boolean;
}

export class OpenAiJudge implements PairJudge {
  readonly name: string;
  readonly mode: 'pairwise' | 'rating';
  readonly ratingScale: 5 | 10;
  /** The time limit of one pair, ms (see {@link OpenAiJudgeOptions.pairTimeoutMs}). */
  readonly pairTimeoutMs: number;
  /** The HTTP side: endpoint, retries, timeouts, token totals. */
  readonly client: ChatClient;
  private readonly opts: OpenAiJudgeOptions;
  private readonly pairwiseTemplate: string;
  private readonly ratingTemplate: string;
  private readonly cache: JudgeCache<CachedAnswer>;
  private readonly counts = { cacheHits: 0, reasks: 0 };

  /**
   * Throws {@link InvalidEndpointError} for a bad URL, {@link MissingApiKeyError} for a remote endpoint without
   * a key, {@link TemplateError} for a template with unknown or missing template variables.
   */
  constructor(opts: OpenAiJudgeOptions) {
    const name = (opts.name ?? opts.model).trim();
    if (!/^[\w.:/@-]+$/.test(name)) throw new TemplateError(`judge name ${JSON.stringify(name)} may only contain letters, digits and . : / @ _ -`);
    this.client = new ChatClient(opts, `judge ${name}`);
    this.opts = opts;
    this.name = name;
    this.mode = opts.mode ?? 'pairwise';
    this.ratingScale = opts.ratingScale ?? 5;
    this.pairTimeoutMs = opts.pairTimeoutMs ?? this.client.allTriesMs;
    this.pairwiseTemplate = opts.pairwiseTemplate ?? DEFAULT_PAIRWISE_RUBRIC;
    this.ratingTemplate = opts.ratingTemplate ?? DEFAULT_RATING_RUBRIC;
    const p1 = validateTemplate(this.pairwiseTemplate, ['prompt', 'response_a', 'response_b']);
    if (p1.length && this.mode === 'pairwise') throw new TemplateError(`pairwise judge template: ${p1.join('; ')}`);
    const p2 = validateTemplate(this.ratingTemplate, ['prompt', 'response']);
    if (p2.length && this.mode === 'rating') throw new TemplateError(`rating judge template: ${p2.join('; ')}`);
    this.cache = opts.cache ?? new MemoryJudgeCache<CachedAnswer>();
  }

  /** The endpoint check (URL requests go to, loopback/https, warnings). */
  get endpoint(): EndpointCheck {
    return this.client.endpoint;
  }

  /** Totals so far (tokens from the servers' `usage` fields). */
  get usage(): JudgeUsage {
    return { ...this.client.usage, ...this.counts };
  }

  /**
   * Judges one pair. Pairwise mode: asks with A first and with B first; if both verdicts agree, that is the
   * verdict, otherwise a tie (see {@link combineOrders} for the confidence). Rating mode: rates both responses.
   * Throws {@link JudgeError} when no verdict could be had, or the signal's reason when cancelled.
   */
  async judgePair(pair: PairToJudge, signal?: AbortSignal): Promise<PairJudgement> {
    const deadline = this.pairDeadline();
    if (this.mode === 'rating') {
      const [ra, rb] = await settleBoth(this.rate(pair.prompt, pair.responseA, signal, deadline), this.rate(pair.prompt, pair.responseB, signal, deadline));
      return combineRatings(ra.rating, rb.rating, this.ratingScale);
    }
    const [fwd, rev] = await settleBoth(
      this.askOrder(pair.prompt, pair.responseA, pair.responseB, signal, deadline),
      this.askOrder(pair.prompt, pair.responseB, pair.responseA, signal, deadline),
    );
    const forward: OrderVerdict = { ...fwd, winner: positionToLabel(fwd.position, 'AB') };
    const reversed: OrderVerdict = { ...rev, winner: positionToLabel(rev.position, 'BA') };
    return combineOrders(forward, reversed);
  }

  /** Rates one response on 1..ratingScale, within `deadline` (default: one pair's time limit from now). */
  async rate(prompt: string, response: string, signal?: AbortSignal, deadline: Deadline = this.pairDeadline()): Promise<Rating> {
    const scale = this.ratingScale;
    const key = cacheKey({ kind: 'rating', model: this.opts.model, template: this.ratingTemplate, system: this.opts.systemPrompt ?? null, temperature: this.opts.temperature ?? 0, scale, prompt, response });
    const hit = this.cache.get(key);
    if (hit && hit.kind === 'rating') {
      this.counts.cacheHits++;
      return { rating: hit.rating, scale, text: hit.text, cached: true };
    }
    const user = renderTemplate(this.ratingTemplate, { prompt, response, scale: String(scale) }) + '\n\n' + ratingFormatInstruction(scale);
    const { value, text } = await this.askUntilParsed(user, (t) => parseRating(t, scale), ratingReask(scale), signal, deadline);
    this.cache.set(key, { kind: 'rating', rating: value, text });
    return { rating: value, scale, text, cached: false };
  }

  /** One presentation order: `first` is shown as Response A, `second` as Response B. */
  private async askOrder(prompt: string, first: string, second: string, signal: AbortSignal | undefined, deadline: Deadline): Promise<Omit<OrderVerdict, 'winner'>> {
    const key = cacheKey({ kind: 'pair', model: this.opts.model, template: this.pairwiseTemplate, system: this.opts.systemPrompt ?? null, temperature: this.opts.temperature ?? 0, prompt, first, second });
    const hit = this.cache.get(key);
    if (hit && hit.kind === 'pair') {
      this.counts.cacheHits++;
      return { position: verdictToPosition(hit.verdict), confidence: hit.confidence ?? 1, text: hit.text, cached: true };
    }
    const user = renderTemplate(this.pairwiseTemplate, { prompt, response_a: first, response_b: second }) + '\n\n' + PAIRWISE_FORMAT_INSTRUCTION;
    const { value, text } = await this.askUntilParsed(user, parsePairVerdict, pairwiseReask(), signal, deadline);
    this.cache.set(key, { kind: 'pair', verdict: value.verdict, confidence: value.confidence, text });
    return { position: verdictToPosition(value.verdict), confidence: value.confidence ?? 1, text, cached: false };
  }

  /** Asks, and re-asks (showing the judge its own answer) until `parse` succeeds or the re-asks run out. */
  private async askUntilParsed<T>(user: string, parse: (text: string) => T | undefined, reask: string, signal: AbortSignal | undefined, deadline: Deadline): Promise<{ value: T; text: string }> {
    const messages: ChatMessage[] = [];
    if (this.opts.systemPrompt) messages.push({ role: 'system', content: this.opts.systemPrompt });
    messages.push({ role: 'user', content: user });
    const maxParse = this.opts.maxParseRetries ?? 2;
    let last = '';
    for (let attempt = 0; attempt <= maxParse; attempt++) {
      if (attempt > 0) this.counts.reasks++;
      const text = await this.client.complete(messages, signal, deadline);
      const value = parse(text);
      if (value !== undefined) return { value, text };
      last = text;
      messages.push({ role: 'assistant', content: text }, { role: 'user', content: reask });
    }
    const snippet = last.length > 200 ? last.slice(0, 200) + '...' : last;
    throw new JudgeError('unparseable', `judge ${this.name} gave no parseable verdict after ${maxParse + 1} answers; last answer: ${JSON.stringify(this.client.redact(snippet))}`, { attempts: maxParse + 1 });
  }

  private pairDeadline(): Deadline {
    return this.client.deadline(this.pairTimeoutMs, "this pair's time limit");
  }

}

/**
 * Waits for both calls to finish (so a failed pair leaves no request running behind it, and the call that did
 * succeed is cached for a resumed job), then returns both values or throws the first error.
 */
async function settleBoth<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

function verdictToPosition(v: PairVerdict): OrderVerdict['position'] {
  return v === 'A' ? 'first' : v === 'B' ? 'second' : 'tie';
}

function positionToLabel(position: OrderVerdict['position'], order: 'AB' | 'BA'): PairVerdict {
  if (position === 'tie') return 'tie';
  if (order === 'AB') return position === 'first' ? 'A' : 'B';
  return position === 'first' ? 'B' : 'A';
}

/**
 * Combines the two presentation orders. Each order's verdict v with stated confidence c is read as a
 * distribution over {A, B, tie}: mass c on v and (1 - c)/2 on each other outcome; the two are averaged.
 * If both orders agree, the verdict is theirs with confidence = its averaged mass (the mean of the two
 * confidences). If they disagree, the verdict is a tie with confidence = the averaged mass on "tie"; e.g.
 * A (c=1) against B (c=1) gives tie with confidence 0, A (c=1) against tie (c=1) gives tie with 0.5.
 */
export function combineOrders(forward: OrderVerdict, reversed: OrderVerdict): PairJudgement {
  const dist = (o: OrderVerdict): Record<PairVerdict, number> => {
    const rest = (1 - o.confidence) / 2;
    return { A: o.winner === 'A' ? o.confidence : rest, B: o.winner === 'B' ? o.confidence : rest, tie: o.winner === 'tie' ? o.confidence : rest };
  };
  const d1 = dist(forward);
  const d2 = dist(reversed);
  const mass = (v: PairVerdict): number => (d1[v] + d2[v]) / 2;
  const consistent = forward.winner === reversed.winner;
  const winner: PairVerdict = consistent ? forward.winner : 'tie';
  const positionFollowed = forward.position !== 'tie' && forward.position === reversed.position;
  return { winner, confidence: mass(winner), mode: 'pairwise', forward, reversed, consistent, positionFollowed };
}

/**
 * Rating mode: the higher rating wins, equal ratings tie. Confidence for a winner is 0.5 + 0.5 |ra - rb| / (scale - 1)
 * (a one-point gap on 1..5 gives 0.625, the full gap gives 1); a tie gets 0.5.
 */
export function combineRatings(ra: number, rb: number, scale: number): PairJudgement {
  const winner: PairVerdict = ra > rb ? 'A' : rb > ra ? 'B' : 'tie';
  const confidence = winner === 'tie' ? 0.5 : 0.5 + (0.5 * Math.abs(ra - rb)) / (scale - 1);
  return { winner, confidence, mode: 'rating', scores: { a: ra, b: rb } };
}
