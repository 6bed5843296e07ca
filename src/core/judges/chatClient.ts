/**
 * A client for OpenAI-compatible chat-completions servers (OpenAI, llama.cpp's server, Ollama, vLLM), shared by
 * the judges and the paraphrase probe: request concurrency limit, per-request timeout, retries with exponential
 * backoff and jitter that honour `Retry-After` on 429/503, an optional {@link Deadline} over several calls (a
 * judged pair's time limit, waits included), cancellation, and token accounting from `usage`.
 *
 * Retried: 429, 5xx, 408, timeouts, network failures, and a 2xx body that is not JSON (a proxy's or captive
 * portal's HTML page answering in the API's place). Errors name the HTTP status and the server's short reason.
 *
 * The API key is passed in by the host (which keeps it in SecretStorage), sent only in the Authorization header,
 * and redacted from every error message.
 */
import { backoffDelay, DEFAULT_BACKOFF, abortReason, parseRetryAfter, sleep as defaultSleep, throwIfAborted, type BackoffOptions } from './backoff';
import { checkEndpoint, MissingApiKeyError, redactSecret, type EndpointCheck } from './endpoint';
import { JudgeError, type JudgeErrorKind } from './judgeTypes';
import { Semaphore } from './semaphore';

export interface ChatClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080` (llama.cpp), `http://localhost:11434/v1` (Ollama), `https://api.openai.com/v1`. See {@link chatCompletionsUrl}. */
  readonly baseUrl: string;
  readonly model: string;
  /** Required for non-loopback endpoints ({@link MissingApiKeyError} otherwise). */
  readonly apiKey?: string;
  /** Sampling temperature, default 0. */
  readonly temperature?: number;
  /** max_tokens per answer, default 1024. */
  readonly maxTokens?: number;
  /** Requests in flight at once, default 4. */
  readonly concurrency?: number;
  /** Per-request timeout, ms, default {@link DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Retries after 429/5xx/timeout/network errors and non-JSON answers, default {@link DEFAULT_MAX_RETRIES}. */
  readonly maxRetries?: number;
  readonly backoff?: BackoffOptions;
  /** Longest `Retry-After` honoured, ms (default 300 000); longer values are capped. */
  readonly maxRetryAfterMs?: number;
  /** Injectables, for tests and for hosts with their own clock. */
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
  /** Told before each retry wait. */
  readonly onRetry?: (info: RetryInfo) => void;
}

export const DEFAULT_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_RETRIES = 4;

export interface RetryInfo {
  readonly attempt: number;
  readonly delayMs: number;
  /** `not-json`: a 2xx answer whose body is not JSON. */
  readonly reason: 'rate-limit' | 'server-error' | 'timeout' | 'network' | 'not-json';
  readonly status?: number;
  /** True when the delay came from the server's Retry-After header. */
  readonly fromRetryAfter: boolean;
}

/**
 * A time limit shared by several calls (e.g. all requests of one judged pair). A call made with it sends no
 * request and starts no wait (Retry-After or backoff) that would end after `atMs`; it gives up at once with a
 * {@link JudgeError} that names the limit.
 */
export interface Deadline {
  /** When the limit runs out, on the client's clock (`now`). */
  readonly atMs: number;
  /** The whole limit, ms, as messages state it. */
  readonly limitMs: number;
  /** What the limit is for, e.g. "this pair's time limit". */
  readonly what: string;
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** HTTP traffic totals; tokens from the servers' `usage` fields. */
export interface ChatUsage {
  /** HTTP requests sent (retries included). */
  readonly requests: number;
  /** Requests that were retried (429/5xx/timeout/network/non-JSON). */
  readonly retries: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Transient failure of one HTTP attempt; retried by {@link ChatClient.complete}. */
class TransientFailure extends Error {
  constructor(
    readonly reason: RetryInfo['reason'],
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The judge error kind a transient failure becomes once the retries (or the deadline) run out. */
const GIVE_UP_KIND: Record<RetryInfo['reason'], JudgeErrorKind> = {
  'rate-limit': 'rate-limit',
  'server-error': 'server-error',
  timeout: 'timeout',
  network: 'network',
  'not-json': 'invalid-response',
};

export class ChatClient {
  readonly endpoint: EndpointCheck;
  private readonly semaphore: Semaphore;
  private readonly doFetch: typeof fetch;
  private readonly doSleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  /** Per-request timeout, ms. */
  readonly requestTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly totals = { requests: 0, retries: 0, promptTokens: 0, completionTokens: 0 };

  /**
   * Throws {@link InvalidEndpointError} for a bad URL and {@link MissingApiKeyError} for a remote endpoint without a
   * key. `name` prefixes error messages (e.g. `judge llama3`).
   */
  constructor(
    private readonly opts: ChatClientOptions,
    readonly name: string = opts.model,
  ) {
    this.endpoint = checkEndpoint(opts.baseUrl);
    if (!this.endpoint.loopback && !opts.apiKey) throw new MissingApiKeyError(this.endpoint.baseUrl);
    if (!opts.model.trim()) throw new RangeError('the chat model name is empty');
    this.semaphore = new Semaphore(opts.concurrency ?? 4);
    this.doFetch = opts.fetch ?? fetch;
    this.doSleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.requestTimeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  }

  get usage(): ChatUsage {
    return { ...this.totals };
  }

  /**
   * The longest that every try of one request may take when each one times out, ms: the timeout of each try plus
   * the longest backoff wait before each retry (server-set Retry-After waits not counted).
   */
  get allTriesMs(): number {
    let ms = this.requestTimeoutMs * (this.maxRetries + 1);
    for (let attempt = 0; attempt < this.maxRetries; attempt++) ms += backoffDelay(attempt, this.opts.backoff ?? DEFAULT_BACKOFF, () => 1);
    return ms;
  }

  /** A deadline `limitMs` from now on this client's clock. */
  deadline(limitMs: number, what: string): Deadline {
    return { atMs: this.now() + limitMs, limitMs, what };
  }

  /** Redacts the API key from a text shown to people. */
  redact(text: string): string {
    return redactSecret(text, this.opts.apiKey);
  }

  /**
   * One chat completion, with the semaphore, a per-request timeout and retries on transient failures, all within
   * `deadline` when one is given.
   */
  async complete(messages: readonly ChatMessage[], signal?: AbortSignal, deadline?: Deadline): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await this.semaphore.run(() => this.post(messages, signal, deadline), signal);
      } catch (e) {
        if (!(e instanceof TransientFailure)) throw e;
        const fromRetryAfter = e.retryAfterMs !== undefined;
        const delayMs = fromRetryAfter
          ? Math.min(e.retryAfterMs as number, this.opts.maxRetryAfterMs ?? 300_000)
          : backoffDelay(attempt, this.opts.backoff ?? DEFAULT_BACKOFF, this.random);
        const attempts = `gave up after ${attempt + 1} attempt${attempt ? 's' : ''}`;
        if (attempt >= this.maxRetries) throw this.gaveUp(e, attempt + 1, attempts);
        const late = deadline && this.waitPastDeadline(e, delayMs, deadline);
        if (late) throw this.gaveUp(e, attempt + 1, `${late}; ${attempts}`);
        this.totals.retries++;
        this.opts.onRetry?.({ attempt, delayMs, reason: e.reason, status: e.status, fromRetryAfter });
        await this.doSleep(delayMs, signal);
      }
    }
  }

  private gaveUp(e: TransientFailure, attempts: number, why: string): JudgeError {
    return new JudgeError(GIVE_UP_KIND[e.reason], `${this.name}: ${e.message} (${why})`, { status: e.status, attempts });
  }

  /**
   * Why the wait before the next try (and that try itself) cannot fit in `deadline`, or undefined when it can.
   * A Retry-After is compared as the server gave it: waiting less than it asked would only be refused again.
   */
  private waitPastDeadline(e: TransientFailure, delayMs: number, deadline: Deadline): string | undefined {
    const left = deadline.atMs - this.now();
    if (e.retryAfterMs !== undefined && e.retryAfterMs >= left) {
      return `the server asked to wait ${duration(e.retryAfterMs)} (Retry-After) before another try, more than the ${duration(Math.max(0, left))} left of ${deadline.what} (${duration(deadline.limitMs)})`;
    }
    if (delayMs >= left) return `${deadline.what} (${duration(deadline.limitMs)}) leaves no time for another try`;
    return undefined;
  }

  /** One HTTP attempt. Throws TransientFailure (retry), JudgeError (give up) or the cancel reason. */
  private async post(messages: readonly ChatMessage[], signal?: AbortSignal, deadline?: Deadline): Promise<string> {
    throwIfAborted(signal);
    const key = this.opts.apiKey;
    const url = this.endpoint.chatCompletionsUrl;
    const left = deadline ? deadline.atMs - this.now() : Infinity;
    if (left <= 0) throw new JudgeError('timeout', `${this.name}: ${deadline?.what} (${duration(deadline?.limitMs ?? 0)}) ran out before a request to ${url} could be sent`);
    const timeoutMs = Math.min(this.requestTimeoutMs, left);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.totals.requests++;
    try {
      const res = await this.doFetch(url, { method: 'POST', headers: this.headers(), body: this.requestBody(messages), signal: controller.signal });
      const raw = await res.text();
      if (!res.ok) throw this.httpFailure(res, raw);
      return this.readCompletion(res, raw);
    } catch (e) {
      if (e instanceof TransientFailure || e instanceof JudgeError) throw e;
      if (signal?.aborted) throw abortReason(signal);
      if (timedOut && timeoutMs < this.requestTimeoutMs) {
        throw new JudgeError('timeout', `${this.name}: no answer from ${url} within ${timeoutMs} ms, when ${deadline?.what} (${duration(deadline?.limitMs ?? 0)}) ran out`);
      }
      if (timedOut) throw new TransientFailure('timeout', `no answer from ${url} within ${timeoutMs} ms`);
      const cause = e instanceof Error ? ((e.cause as { code?: string } | undefined)?.code ?? e.message) : String(e);
      throw new TransientFailure('network', `cannot reach ${url}: ${redactSecret(String(cause), key)}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    return headers;
  }

  private requestBody(messages: readonly ChatMessage[]): string {
    return JSON.stringify({
      model: this.opts.model,
      messages,
      temperature: this.opts.temperature ?? 0,
      max_tokens: this.opts.maxTokens ?? 1024,
      stream: false,
    });
  }

  /** The error for a non-2xx answer: transient (retried) for 429, 5xx and 408; final otherwise. */
  private httpFailure(res: Response, raw: string): TransientFailure | JudgeError {
    const url = this.endpoint.chatCompletionsUrl;
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const reason = this.redact(shortReason(raw));
    const what = `${status} from ${url}${reason ? `: ${reason}` : ''}`;
    if (res.status === 429 || res.status === 503) {
      const ra = parseRetryAfter(res.headers.get('retry-after'), this.now());
      return new TransientFailure(res.status === 429 ? 'rate-limit' : 'server-error', what, res.status, ra);
    }
    if (res.status >= 500 || res.status === 408) return new TransientFailure('server-error', what, res.status);
    if (res.status === 401 || res.status === 403) {
      return new JudgeError('auth', `${this.name}: ${status} from ${url}: the API key was refused${reason ? `: ${reason}` : ''}`, { status: res.status, attempts: 1 });
    }
    return new JudgeError('http', `${this.name}: ${what}`, { status: res.status, attempts: 1 });
  }

  /**
   * Reads `choices[0].message.content` and adds `usage` to the totals. A body that is not JSON is retried (a proxy
   * or portal page in the API's place may go away); JSON without the content is final.
   */
  private readCompletion(res: Response, raw: string): string {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      const type = res.headers.get('content-type') ?? 'none';
      const first = this.redact(raw.slice(0, 120)) + (raw.length > 120 ? '...' : '');
      const hint = /html/i.test(type) || /^\s*</.test(raw) ? ' (a proxy or login page answering in place of the API?)' : '';
      throw new TransientFailure('not-json', `the endpoint ${this.endpoint.chatCompletionsUrl} answered HTTP ${res.status} with non-JSON${hint}: content-type ${type}, first bytes ${JSON.stringify(first)}`, res.status);
    }
    const obj = json as { choices?: Array<{ message?: { content?: unknown } }>; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
    const content = obj.choices?.[0]?.message?.content;
    if (typeof content !== 'string') {
      throw new JudgeError('invalid-response', `${this.name}: the server's answer has no choices[0].message.content string`);
    }
    const pt = obj.usage?.prompt_tokens;
    const ct = obj.usage?.completion_tokens;
    if (typeof pt === 'number' && Number.isFinite(pt)) this.totals.promptTokens += pt;
    if (typeof ct === 'number' && Number.isFinite(ct)) this.totals.completionTokens += ct;
    return content;
  }
}

/**
 * A server's error body in a few words: the `error.message` (or `error`, `message`, `detail`) of a JSON body, else
 * the text of the body with HTML markup, scripts and styles dropped; at most 160 characters.
 */
export function shortReason(raw: string): string {
  let text: string | undefined;
  try {
    const j = JSON.parse(raw) as { error?: unknown; message?: unknown; detail?: unknown };
    const nested = typeof j.error === 'object' && j.error !== null ? (j.error as { message?: unknown }).message : undefined;
    text = [nested, j.error, j.message, j.detail].find((x): x is string => typeof x === 'string');
  } catch {
    // Not JSON: the body's own text is the reason.
  }
  const plain = (text ?? raw).replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > 160 ? `${plain.slice(0, 160)}...` : plain;
}

/** `1500` -> `1.5 s`, `3600000` -> `3600 s`, `80` -> `80 ms`. */
function duration(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Math.round(ms)} ms`;
}
