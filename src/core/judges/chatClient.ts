/**
 * A client for OpenAI-compatible chat-completions servers (OpenAI, llama.cpp's server, Ollama, vLLM), shared by
 * the judges and the paraphrase probe: request concurrency limit, per-request timeout, retries with exponential
 * backoff and jitter that honour `Retry-After` on 429/503, cancellation, and token accounting from `usage`.
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
  /** Per-request timeout, ms, default 120 000. */
  readonly timeoutMs?: number;
  /** Retries after 429/5xx/timeout/network errors, default 4. */
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

export interface RetryInfo {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: 'rate-limit' | 'server-error' | 'timeout' | 'network';
  readonly status?: number;
  /** True when the delay came from the server's Retry-After header. */
  readonly fromRetryAfter: boolean;
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** HTTP traffic totals; tokens from the servers' `usage` fields. */
export interface ChatUsage {
  /** HTTP requests sent (retries included). */
  readonly requests: number;
  /** Requests that were retried (429/5xx/timeout/network). */
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

export class ChatClient {
  readonly endpoint: EndpointCheck;
  private readonly semaphore: Semaphore;
  private readonly doFetch: typeof fetch;
  private readonly doSleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
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
  }

  get usage(): ChatUsage {
    return { ...this.totals };
  }

  /** Redacts the API key from a text shown to people. */
  redact(text: string): string {
    return redactSecret(text, this.opts.apiKey);
  }

  /** One chat completion, with the semaphore, a per-request timeout and retries on transient failures. */
  async complete(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<string> {
    const maxRetries = this.opts.maxRetries ?? 4;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      try {
        return await this.semaphore.run(() => this.post(messages, signal), signal);
      } catch (e) {
        if (!(e instanceof TransientFailure)) throw e;
        if (attempt >= maxRetries) {
          const kind: JudgeErrorKind = e.reason === 'timeout' ? 'timeout' : e.reason === 'rate-limit' ? 'rate-limit' : 'network';
          throw new JudgeError(kind, `${this.name}: ${e.message} (gave up after ${attempt + 1} attempts)`, { status: e.status, attempts: attempt + 1 });
        }
        const fromRetryAfter = e.retryAfterMs !== undefined;
        const delayMs = fromRetryAfter
          ? Math.min(e.retryAfterMs as number, this.opts.maxRetryAfterMs ?? 300_000)
          : backoffDelay(attempt, this.opts.backoff ?? DEFAULT_BACKOFF, this.random);
        this.totals.retries++;
        this.opts.onRetry?.({ attempt, delayMs, reason: e.reason, status: e.status, fromRetryAfter });
        await this.doSleep(delayMs, signal);
      }
    }
  }

  /** One HTTP attempt. Throws TransientFailure (retry), JudgeError (give up) or the cancel reason. */
  private async post(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    const key = this.opts.apiKey;
    const controller = new AbortController();
    let timedOut = false;
    const timeoutMs = this.opts.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.totals.requests++;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
      if (key) headers.authorization = `Bearer ${key}`;
      const body = JSON.stringify({
        model: this.opts.model,
        messages,
        temperature: this.opts.temperature ?? 0,
        max_tokens: this.opts.maxTokens ?? 1024,
        stream: false,
      });
      const res = await this.doFetch(this.endpoint.chatCompletionsUrl, { method: 'POST', headers, body, signal: controller.signal });
      const raw = await res.text();
      if (!res.ok) {
        const snippet = redactSecret(raw.slice(0, 300), key);
        if (res.status === 429 || res.status === 503) {
          const ra = parseRetryAfter(res.headers.get('retry-after'), this.now());
          throw new TransientFailure(res.status === 429 ? 'rate-limit' : 'server-error', `HTTP ${res.status} from ${this.endpoint.chatCompletionsUrl}`, res.status, ra);
        }
        if (res.status === 500 || res.status === 502 || res.status === 504 || res.status === 408) {
          throw new TransientFailure('server-error', `HTTP ${res.status} from ${this.endpoint.chatCompletionsUrl}: ${snippet}`, res.status);
        }
        if (res.status === 401 || res.status === 403) {
          throw new JudgeError('auth', `${this.name}: HTTP ${res.status} from ${this.endpoint.chatCompletionsUrl}: the API key was refused: ${snippet}`, { status: res.status, attempts: 1 });
        }
        throw new JudgeError('http', `${this.name}: HTTP ${res.status} from ${this.endpoint.chatCompletionsUrl}: ${snippet}`, { status: res.status, attempts: 1 });
      }
      return this.readCompletion(raw);
    } catch (e) {
      if (e instanceof TransientFailure || e instanceof JudgeError) throw e;
      if (signal?.aborted) throw abortReason(signal);
      if (timedOut) throw new TransientFailure('timeout', `no answer from ${this.endpoint.chatCompletionsUrl} within ${timeoutMs} ms`);
      const cause = e instanceof Error ? ((e.cause as { code?: string } | undefined)?.code ?? e.message) : String(e);
      throw new TransientFailure('network', `cannot reach ${this.endpoint.chatCompletionsUrl}: ${redactSecret(String(cause), key)}`);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Reads `choices[0].message.content` and adds `usage` to the totals. */
  private readCompletion(raw: string): string {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new JudgeError('invalid-response', `${this.name}: the server's answer is not JSON: ${JSON.stringify(redactSecret(raw.slice(0, 200), this.opts.apiKey))}`);
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
