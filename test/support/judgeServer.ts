/**
 * A real local HTTP server speaking the OpenAI chat-completions protocol (POST /v1/chat/completions and
 * /chat/completions), with scriptable behaviours for judge tests: a deterministic heuristic judge, malformed
 * answers, 429 with Retry-After, 5xx with a reason, a proxy's HTML page in place of the API, slow answers, going
 * down mid-run, always preferring the first position, and per-prompt choices between behaviours.
 *
 * Listens on 127.0.0.1 on an ephemeral port. Bounded: it stops by itself after `lifetimeMs` or `maxRequests`,
 * and its timers never keep the process alive. Reusable by the VS Code UI tests (no test-framework imports).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface JudgeServerMessage {
  readonly role: string;
  readonly content: string;
}

/** One request as the server saw it. */
export interface JudgeServerRequest {
  /** 0-based arrival index. */
  readonly index: number;
  readonly path: string;
  readonly model: string;
  readonly messages: readonly JudgeServerMessage[];
  /** The Authorization header, if any. */
  readonly authorization?: string;
}

export type JudgeReply =
  /** 200 with a chat completion whose content is `content` (after `delayMs`, if given). */
  | { readonly kind: 'answer'; readonly content: string; readonly delayMs?: number }
  /** Any status with any body, e.g. 429 with `retry-after`, or 200 with an HTML page (`content-type` in `headers`). */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  /** Never answers (until the client gives up or the server stops). */
  | { readonly kind: 'hang' }
  /** Drops this connection and shuts the whole server down: "the server went away mid-run". */
  | { readonly kind: 'close' };

/** Decides the reply to one request. `state` is shared across requests of one server. */
export type JudgeBehaviour = (req: JudgeServerRequest, state: BehaviourState) => JudgeReply;

export interface BehaviourState {
  /** Requests answered by this behaviour so far (per behaviour object, see the combinators). */
  readonly counters: Map<JudgeBehaviour, number>;
}

export interface JudgeServerOptions {
  readonly behaviour?: JudgeBehaviour;
  /** Stops by itself after this long (default 60 s). */
  readonly lifetimeMs?: number;
  /** Stops by itself after this many requests (default 5000). */
  readonly maxRequests?: number;
}

export interface JudgeServer {
  /** e.g. http://127.0.0.1:43123/v1 */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: JudgeServerRequest[];
  /** The behaviour for the next requests (may be swapped mid-test). */
  behaviour: JudgeBehaviour;
  /** True once stopped (by `stop()`, a `close` reply, the lifetime or the request cap). */
  readonly stopped: boolean;
  stop(): Promise<void>;
}

/** Starts a server; resolves once it listens. */
export async function startJudgeServer(opts: JudgeServerOptions = {}): Promise<JudgeServer> {
  const requests: JudgeServerRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: BehaviourState = { counters: new Map() };
  const maxRequests = opts.maxRequests ?? 5000;
  let stopped = false;
  let stopPromise: Promise<void> | undefined;

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const stop = (): Promise<void> => {
    if (stopPromise) return stopPromise;
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    stopPromise = new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
    });
    return stopPromise;
  };

  const api: JudgeServer = {
    baseUrl: '',
    port: 0,
    requests,
    behaviour: opts.behaviour ?? heuristicJudge(),
    get stopped() {
      return stopped;
    },
    stop,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || !/^(\/v1)?\/chat\/completions$/.test(path)) {
      send(res, 404, { error: { message: `no route ${req.method} ${path}` } });
      return;
    }
    let body: { model?: unknown; messages?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      send(res, 400, { error: { message: 'body is not JSON' } });
      return;
    }
    if (!Array.isArray(body.messages)) {
      send(res, 400, { error: { message: 'messages must be an array' } });
      return;
    }
    const messages = (body.messages as unknown[]).map((m) => {
      const r = m as { role?: unknown; content?: unknown };
      return { role: String(r.role), content: String(r.content) };
    });
    const request: JudgeServerRequest = {
      index: requests.length,
      path,
      model: String(body.model),
      messages,
      authorization: req.headers.authorization,
    };
    requests.push(request);
    if (requests.length >= maxRequests) setImmediate(() => void stop());
    const reply = api.behaviour(request, state);
    switch (reply.kind) {
      case 'status':
        res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
        res.end(reply.body ?? JSON.stringify({ error: { message: `status ${reply.status}` } }));
        return;
      case 'hang':
        return;
      case 'close':
        req.socket.destroy();
        void stop();
        return;
      case 'answer': {
        const respond = (): void => {
          if (res.destroyed || stopped) return;
          const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
          send(res, 200, {
            id: `chatcmpl-${request.index}`,
            object: 'chat.completion',
            created: 0,
            model: request.model,
            choices: [{ index: 0, message: { role: 'assistant', content: reply.content }, finish_reason: 'stop' }],
            // Roughly 4 characters a token; deterministic so tests can check the totals.
            usage: { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(reply.content.length / 4), total_tokens: Math.ceil(promptChars / 4) + Math.ceil(reply.content.length / 4) },
          });
        };
        if (reply.delayMs) {
          const t = setTimeout(() => {
            timers.delete(t);
            respond();
          }, reply.delayMs);
          t.unref();
          timers.add(t);
          res.on('close', () => {
            clearTimeout(t);
            timers.delete(t);
          });
        } else respond();
        return;
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  (api as { port: number }).port = port;
  (api as { baseUrl: string }).baseUrl = `http://127.0.0.1:${port}/v1`;
  const life = setTimeout(() => void stop(), opts.lifetimeMs ?? 60_000);
  life.unref();
  timers.add(life);
  return api;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 8 * 1024 * 1024) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, obj: unknown): void {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

// ---------------------------------------------------------------------------------------------------------
// Behaviours

/** Hidden preference marker: a response containing it is preferred by {@link heuristicJudge}. */
export const PREFER_MARKER = '[[better]]';

/** The first user message (the rendered rubric), which re-asks do not repeat. */
function rubricText(req: JudgeServerRequest): string {
  return req.messages.find((m) => m.role === 'user')?.content ?? '';
}

function section(text: string, name: string): string | undefined {
  const re = new RegExp(`\\[${name}\\]\\n([\\s\\S]*?)\\n\\[End of ${name}\\]`);
  return re.exec(text)?.[1];
}

/** Heuristic quality: the hidden marker wins outright; otherwise longer and more structured is better. */
export function heuristicScore(response: string): number {
  if (response.includes(PREFER_MARKER)) return 1e6;
  const structured = response.split('\n').filter((l) => /^\s*([-*]\s|\d+[.)]\s|#+\s)/.test(l)).length;
  return response.length + 40 * structured;
}

/**
 * A deterministic judge: pairwise prompts get `Verdict: A|B|tie` by {@link heuristicScore}; rating prompts
 * get `Rating: n` (the scale's top for a marked response, else 1 + length/200 capped at the scale).
 */
export function heuristicJudge(): JudgeBehaviour {
  return (req) => {
    const text = rubricText(req);
    const a = section(text, 'Response A');
    const b = section(text, 'Response B');
    if (a !== undefined && b !== undefined) {
      const sa = heuristicScore(a);
      const sb = heuristicScore(b);
      const v = sa > sb ? 'A' : sb > sa ? 'B' : 'tie';
      return { kind: 'answer', content: `Comparing both answers on helpfulness and clarity.\nVerdict: ${v}` };
    }
    const r = section(text, 'Response');
    if (r !== undefined) {
      const scale = Number(/integer from 1 to (\d+)/.exec(text)?.[1] ?? '5');
      const rating = r.includes(PREFER_MARKER) ? scale : Math.min(scale, 1 + Math.floor(r.length / 200));
      return { kind: 'answer', content: `The response is adequate.\nRating: ${rating}` };
    }
    return { kind: 'answer', content: 'I cannot find the responses to judge.' };
  };
}

/** Always picks whichever response is shown first: a maximally position-biased judge. */
export function prefersFirst(): JudgeBehaviour {
  return () => ({ kind: 'answer', content: 'The first one reads better.\nVerdict: A' });
}

/** Never gives a verdict line. */
export function malformed(): JudgeBehaviour {
  return () => ({ kind: 'answer', content: 'Both responses have merits; it depends on what you value.' });
}

/** Counts calls per behaviour object and hands over to `then` after the first `times`. */
function firstN(times: number, first: JudgeBehaviour, then: JudgeBehaviour): JudgeBehaviour {
  const self: JudgeBehaviour = (req, state) => {
    const n = state.counters.get(self) ?? 0;
    state.counters.set(self, n + 1);
    return n < times ? first(req, state) : then(req, state);
  };
  return self;
}

/** The first `times` answers are malformed, then `then` answers. */
export function malformedFirst(times: number, then: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  return firstN(times, malformed(), then);
}

/** The first `times` requests get 429 with `retry-after: <retryAfter>` (seconds or an HTTP-date), then `then`. */
export function rateLimited(times: number, retryAfter: string, then: JudgeBehaviour = heuristicJudge(), status = 429): JudgeBehaviour {
  return firstN(times, () => ({ kind: 'status', status, headers: { 'retry-after': retryAfter }, body: JSON.stringify({ error: { message: 'rate limited' } }) }), then);
}

/** Every answer from `then` is delayed by `delayMs`. */
export function slow(delayMs: number, then: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  return (req, state) => {
    const r = then(req, state);
    return r.kind === 'answer' ? { ...r, delayMs } : r;
  };
}

/** Answers `answered` requests with `then`, and on the next request drops it and shuts the server down. */
export function downAfter(answered: number, then: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  return firstN(answered, then, () => ({ kind: 'close' }));
}

/** A deterministic "paraphraser": answers the [Text] section of the first user message in upper case. */
export function upperCaseParaphraser(): JudgeBehaviour {
  return (req) => {
    const t = section(rubricText(req), 'Text');
    return { kind: 'answer', content: t === undefined ? '' : t.toUpperCase() };
  };
}

/** Answers every request with the given HTTP status and body. */
export function failWith(status: number, body: string): JudgeBehaviour {
  return () => ({ kind: 'status', status, body });
}

/**
 * A 200 answer that is an HTML page (`content-type: text/html`), as a captive portal or a corporate proxy's login
 * page gives in place of the API, for the first `times` requests; then `then`.
 */
export function proxyHtmlPage(times: number, then: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  const page = '<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head><body><h1>Proxy authentication required</h1></body></html>';
  return firstN(times, () => ({ kind: 'status', status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: page }), then);
}

/** HTTP `status` (e.g. 500) with an OpenAI-style JSON error whose message is `reason`, for the first `times` requests; then `then`. */
export function serverError(status: number, reason: string, times = Infinity, then: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  return firstN(times, () => ({ kind: 'status', status, body: JSON.stringify({ error: { message: reason, type: 'server_error' } }) }), then);
}

/** Requests whose rendered rubric (the first user message) contains `marker` get `matched`; the others get `otherwise`. */
export function whenRubricHas(marker: string, matched: JudgeBehaviour, otherwise: JudgeBehaviour = heuristicJudge()): JudgeBehaviour {
  return (req, state) => (rubricText(req).includes(marker) ? matched(req, state) : otherwise(req, state));
}
