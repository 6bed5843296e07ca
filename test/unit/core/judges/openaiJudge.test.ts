import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { checkEndpoint, chatCompletionsUrl, InvalidEndpointError, MissingApiKeyError } from '../../../../src/core/judges/endpoint';
import { JudgeError } from '../../../../src/core/judges/judgeTypes';
import type { RetryInfo } from '../../../../src/core/judges/chatClient';
import { OpenAiJudge, type OpenAiJudgeOptions } from '../../../../src/core/judges/openaiJudge';
import { TemplateError } from '../../../../src/core/judges/rubric';
import {
  failWith,
  heuristicJudge,
  malformed,
  malformedFirst,
  PREFER_MARKER,
  prefersFirst,
  proxyHtmlPage,
  rateLimited,
  serverError,
  slow,
  startJudgeServer,
  type JudgeServer,
} from '../../../support/judgeServer';

const servers: JudgeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(behaviour = heuristicJudge()): Promise<JudgeServer> {
  const s = await startJudgeServer({ behaviour, lifetimeMs: 30_000 });
  servers.push(s);
  return s;
}

/** A judge whose waits are recorded instead of slept. */
function judge(s: JudgeServer, extra: Partial<OpenAiJudgeOptions> = {}): { judge: OpenAiJudge; sleeps: number[]; retries: RetryInfo[] } {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const j = new OpenAiJudge({
    baseUrl: s.baseUrl,
    model: 'test-judge',
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    onRetry: (r) => retries.push(r),
    ...extra,
  });
  return { judge: j, sleeps, retries };
}

const pair = { prompt: 'How do I boil an egg?', responseA: 'Put it in water.', responseB: `${PREFER_MARKER} Bring water to a boil, lower the egg in, cook 9 minutes, cool in ice water.` };

describe('OpenAiJudge against a local chat-completions server', () => {
  it('judges a pair in both orders and agrees with the heuristic judge, with token totals from usage', async () => {
    const s = await server();
    const { judge: j } = judge(s);
    const r = await j.judgePair(pair);
    assert.equal(r.winner, 'B');
    assert.equal(r.consistent, true);
    assert.equal(r.positionFollowed, false);
    assert.equal(r.confidence, 1);
    assert.equal(r.forward?.position, 'second');
    assert.equal(r.reversed?.position, 'first');
    assert.equal(s.requests.length, 2);
    // Both orders were really shown: the marked response is B in one request and A in the other.
    const shownFirst = s.requests.map((q) => /\[Response A\]\n([\s\S]*?)\n\[End of Response A\]/.exec(q.messages[0].content)?.[1]);
    assert.deepEqual(new Set(shownFirst), new Set([pair.responseA, pair.responseB]));
    const expectedPrompt = s.requests.reduce((n, q) => n + Math.ceil(q.messages.reduce((m, x) => m + x.content.length, 0) / 4), 0);
    assert.equal(j.usage.promptTokens, expectedPrompt);
    assert.ok(j.usage.completionTokens > 0);
    assert.equal(j.usage.requests, 2);
  });

  it('serves a repeated pair from the cache without new requests', async () => {
    const s = await server();
    const { judge: j } = judge(s);
    await j.judgePair(pair);
    const again = await j.judgePair(pair);
    assert.equal(s.requests.length, 2);
    assert.equal(j.usage.cacheHits, 2);
    assert.equal(again.forward?.cached, true);
    assert.equal(again.winner, 'B');
  });

  it('re-asks after a malformed answer and then parses the verdict', async () => {
    const s = await server(malformedFirst(1));
    const { judge: j } = judge(s, { concurrency: 1 });
    const r = await j.judgePair(pair);
    assert.equal(r.winner, 'B');
    assert.equal(s.requests.length, 3);
    const reasked = s.requests.find((q) => q.messages.length === 3);
    assert.ok(reasked, 'one request carries the judge answer and the re-ask');
    assert.equal(reasked.messages[1].role, 'assistant');
    assert.match(reasked.messages[2].content, /Verdict: A/);
    assert.equal(j.usage.reasks, 1);
  });

  it('records an always-malformed judge as an unparseable JudgeError after the re-asks', async () => {
    const s = await server(malformed());
    const { judge: j } = judge(s, { maxParseRetries: 2 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'unparseable' && e.details.attempts === 3);
    // Both orders ran and each used 1 + 2 re-asks.
    assert.equal(s.requests.length, 6);
  });

  it('honours retry-after in seconds on 429', async () => {
    const s = await server(rateLimited(2, '3'));
    const { judge: j, sleeps, retries } = judge(s, { concurrency: 1 });
    const r = await j.judgePair(pair);
    assert.equal(r.winner, 'B');
    assert.deepEqual(sleeps, [3000, 3000]);
    assert.ok(retries.every((x) => x.fromRetryAfter && x.status === 429 && x.reason === 'rate-limit'));
    assert.equal(j.usage.retries, 2);
  });

  it('honours retry-after as an HTTP-date on 503, measured with the injected clock', async () => {
    const now = Date.parse('Sat, 21 Nov 2026 10:00:00 GMT');
    const s = await server(rateLimited(1, 'Sat, 21 Nov 2026 10:00:07 GMT', heuristicJudge(), 503));
    const { judge: j, sleeps, retries } = judge(s, { concurrency: 1, now: () => now });
    await j.judgePair(pair);
    assert.deepEqual(sleeps, [7000]);
    assert.equal(retries[0].status, 503);
  });

  it('uses exponential backoff with jitter when no retry-after is given', async () => {
    const s = await server(rateLimited(3, 'soon'));
    const { judge: j, sleeps } = judge(s, { backoff: { baseMs: 100, maxMs: 10_000 } });
    const r = await j.rate(pair.prompt, pair.responseB);
    assert.equal(r.rating, 5);
    // random() = 0.5: half of 100, 200, 400.
    assert.deepEqual(sleeps, [50, 100, 200]);
  });

  it('gives up with a rate-limit JudgeError when the server keeps answering 429', async () => {
    const s = await server(rateLimited(1000, '1'));
    const { judge: j, sleeps } = judge(s, { concurrency: 1, maxRetries: 2 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'rate-limit' && e.details.status === 429);
    assert.ok(sleeps.length >= 2);
  });

  it('times a slow request out and records a timeout error after the retries', async () => {
    const s = await server(slow(5_000));
    const { judge: j, retries } = judge(s, { timeoutMs: 80, maxRetries: 1 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'timeout');
    assert.ok(retries.some((r) => r.reason === 'timeout'));
  });

  it('cancels in-flight requests through the AbortSignal', async () => {
    const s = await server(slow(5_000));
    const { judge: j } = judge(s, { timeoutMs: 60_000 });
    const ac = new AbortController();
    const p = j.judgePair(pair, ac.signal);
    setTimeout(() => ac.abort(new Error('user cancelled')), 50);
    await assert.rejects(p, /user cancelled/);
  });

  it('never holds more requests in flight than the concurrency limit', async () => {
    const s = await server(slow(20));
    let inFlight = 0;
    let peak = 0;
    const counting: typeof fetch = async (input, init) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    const { judge: j } = judge(s, { concurrency: 2, fetch: counting });
    const pairs = Array.from({ length: 5 }, (_, i) => ({ ...pair, prompt: `question ${i}` }));
    await Promise.all(pairs.map((p) => j.judgePair(p)));
    assert.equal(s.requests.length, 10);
    assert.equal(peak, 2);
  });

  it('turns a judge that always prefers the first position into low-confidence ties', async () => {
    const s = await server(prefersFirst());
    const { judge: j } = judge(s);
    const r = await j.judgePair(pair);
    assert.equal(r.winner, 'tie');
    assert.equal(r.consistent, false);
    assert.equal(r.positionFollowed, true);
    assert.equal(r.confidence, 0);
  });

  it('rates responses in rating mode and picks the higher rating', async () => {
    const s = await server();
    const { judge: j } = judge(s, { mode: 'rating', ratingScale: 10 });
    const r = await j.judgePair(pair);
    assert.equal(r.mode, 'rating');
    assert.equal(r.winner, 'B');
    assert.deepEqual(r.scores, { a: 1, b: 10 });
    assert.equal(r.confidence, 1);
    assert.match(s.requests[0].messages[0].content, /integer from 1 to 10/);
  });

  it('sends the key as a bearer token and redacts it from error messages', async () => {
    const key = 'sk-test-SECRET-123456';
    const s = await server(failWith(400, `bad request for key ${key}`));
    const { judge: j } = judge(s, { apiKey: key });
    await assert.rejects(j.judgePair(pair), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.equal(e.kind, 'http');
      assert.ok(!e.message.includes(key), e.message);
      assert.match(e.message, /\*\*\*/);
      return true;
    });
    assert.equal(s.requests[0].authorization, `Bearer ${key}`);
  });

  it('reports 401 as an auth error without retrying', async () => {
    const s = await server(failWith(401, 'invalid key'));
    const { judge: j, sleeps } = judge(s, { apiKey: 'k', concurrency: 1 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'auth');
    assert.equal(sleeps.length, 0);
  });

  it('retries a 200 answer that is not JSON (a proxy page) with the backoff, then judges', async () => {
    const s = await server(proxyHtmlPage(2));
    const { judge: j, sleeps, retries } = judge(s, { concurrency: 1 });
    const r = await j.judgePair(pair);
    assert.equal(r.winner, 'B');
    // Both orders' first request got the page; random() = 0.5: half of the default first backoff of 500 ms.
    assert.deepEqual(sleeps, [250, 250]);
    assert.deepEqual(retries.map((x) => [x.reason, x.status, x.fromRetryAfter]), [['not-json', 200, false], ['not-json', 200, false]]);
    assert.equal(s.requests.length, 4);
  });

  it('gives up on an endpoint that keeps answering HTML, naming the content-type and the first bytes, never the key', async () => {
    const key = 'sk-test-SECRET-987654';
    const s = await server(proxyHtmlPage(Infinity));
    const { judge: j, sleeps } = judge(s, { concurrency: 1, maxRetries: 2, apiKey: key });
    await assert.rejects(j.judgePair(pair), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.equal(e.kind, 'invalid-response');
      assert.match(e.message, /answered HTTP 200 with non-JSON \(a proxy or login page answering in place of the API\?\)/);
      assert.match(e.message, /content-type text\/html; charset=utf-8, first bytes "<!DOCTYPE html>\\n<html><head><title>Sign in to the network/);
      assert.match(e.message, /gave up after 3 attempts/);
      assert.ok(!e.message.includes(key), e.message);
      return true;
    });
    assert.equal(sleeps.length, 4, 'both orders retried twice');
  });

  it('reports HTTP 500 as a server error with its status and reason, not as a network failure', async () => {
    const s = await server(serverError(500, 'CUDA error: out of memory'));
    const { judge: j, sleeps } = judge(s, { concurrency: 1, maxRetries: 1 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.equal(e.kind, 'server-error');
      assert.equal(e.details.status, 500);
      assert.match(e.message, /^judge test-judge: HTTP 500 Internal Server Error from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: CUDA error: out of memory \(gave up after 2 attempts\)$/);
      return true;
    });
    assert.equal(sleeps.length, 2);
  });

  it('gives the text of an HTML error page as the reason of a 502, without its markup', async () => {
    const page = '<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>';
    const s = await server(failWith(502, page));
    const { judge: j } = judge(s, { maxRetries: 0 });
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'server-error' && /HTTP 502 Bad Gateway from \S+: 502 Bad Gateway 502 Bad Gateway nginx \(gave up after 1 attempt\)/.test(e.message));
  });

  it('does not wait out a Retry-After past the pair\'s time limit: it fails the pair at once and says so', async () => {
    const s = await server(rateLimited(Infinity, '3600'));
    // The default limit: timeoutMs x (maxRetries + 1) + the backoff ceilings = 1 s x 5 + (0.5 + 1 + 2 + 4) s.
    const { judge: j, sleeps } = judge(s, { timeoutMs: 1000, maxRetries: 4 });
    assert.equal(j.pairTimeoutMs, 12_500);
    await assert.rejects(j.judgePair(pair), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.equal(e.kind, 'rate-limit');
      assert.match(e.message, /HTTP 429 Too Many Requests from \S+: rate limited \(the server asked to wait 3600 s \(Retry-After\) before another try, more than the \d+(\.\d)? s left of this pair's time limit \(12\.5 s\); gave up after 1 attempt\)/);
      return true;
    });
    assert.deepEqual(sleeps, [], 'no 300 s wait');
  });

  it('counts every wait of a pair against its time limit (one clock for retries and Retry-After)', async () => {
    const s = await server(rateLimited(Infinity, '2'));
    let clock = 0;
    const { judge: j, sleeps } = judge(s, { pairTimeoutMs: 5000, maxRetries: 10, mode: 'rating', now: () => clock, sleep: async (ms) => void (sleeps.push(ms), (clock += ms)) });
    await assert.rejects(j.rate(pair.prompt, pair.responseA), (e: unknown) => e instanceof JudgeError && e.kind === 'rate-limit' && /wait 2 s \(Retry-After\) before another try, more than the 1 s left of this pair's time limit \(5 s\); gave up after 3 attempts/.test(e.message));
    assert.deepEqual(sleeps, [2000, 2000]);
  });

  it('stops a slow request when the pair\'s time limit runs out, before the per-request timeout', async () => {
    const s = await server(slow(5_000));
    const { judge: j } = judge(s, { timeoutMs: 60_000, pairTimeoutMs: 150 });
    const t0 = Date.now();
    await assert.rejects(j.judgePair(pair), (e: unknown) => e instanceof JudgeError && e.kind === 'timeout' && /within \d+ ms, when this pair's time limit \(150 ms\) ran out/.test(e.message));
    assert.ok(Date.now() - t0 < 2_000, `took ${Date.now() - t0} ms`);
  });

  it('rejects templates with unknown or missing template variables', () => {
    assert.throws(() => new OpenAiJudge({ baseUrl: 'http://127.0.0.1:1', model: 'm', pairwiseTemplate: '{{prompt}} {{response_a}} {{answer_b}}' }), (e: unknown) => e instanceof TemplateError && /answer_b/.test(e.message) && /response_b/.test(e.message));
  });
});

describe('endpoints', () => {
  it('resolves the chat-completions URL with or without /v1', () => {
    assert.equal(chatCompletionsUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://localhost:11434/v1/'), 'http://localhost:11434/v1/chat/completions');
    assert.equal(chatCompletionsUrl('https://api.example.com/v1/chat/completions'), 'https://api.example.com/v1/chat/completions');
    assert.equal(chatCompletionsUrl('https://proxy.example.com/api/openai'), 'https://proxy.example.com/api/openai/chat/completions');
  });

  it('warns for an endpoint that is neither loopback nor https', () => {
    const c = checkEndpoint('http://judge.lan:8000/v1');
    assert.equal(c.loopback, false);
    assert.equal(c.https, false);
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0], /unencrypted/);
    assert.deepEqual(checkEndpoint('https://api.example.com/v1').warnings, []);
    for (const local of ['http://localhost:8080', 'http://127.0.0.1:8080', 'http://127.3.2.1', 'http://[::1]:8000/v1']) {
      const l = checkEndpoint(local);
      assert.equal(l.loopback, true, local);
      assert.deepEqual(l.warnings, [], local);
    }
  });

  it('rejects URLs that are not http(s) or carry credentials', () => {
    assert.throws(() => checkEndpoint('ftp://x/v1'), InvalidEndpointError);
    assert.throws(() => checkEndpoint('not a url'), InvalidEndpointError);
    assert.throws(() => checkEndpoint('https://user:pw@x/v1'), InvalidEndpointError);
  });

  it('raises MissingApiKeyError for a remote endpoint without a key, and not for loopback', () => {
    assert.throws(() => new OpenAiJudge({ baseUrl: 'https://api.example.com/v1', model: 'm' }), MissingApiKeyError);
    assert.doesNotThrow(() => new OpenAiJudge({ baseUrl: 'https://api.example.com/v1', model: 'm', apiKey: 'k' }));
    assert.doesNotThrow(() => new OpenAiJudge({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm' }));
  });
});
