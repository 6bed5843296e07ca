// `alignment judge` against a real local chat-completions server: the exit status and summary when pairs fail,
// and the judge's edge cases as a user sees them (HTTP 500, a proxy's HTML page, a long Retry-After).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { heuristicJudge, malformed, PREFER_MARKER, proxyHtmlPage, rateLimited, serverError, startJudgeServer, whenRubricHas, type JudgeBehaviour, type JudgeServer } from '../../support/judgeServer';
import { alignment } from './cliCapture';

const servers: JudgeServer[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function server(behaviour: JudgeBehaviour): Promise<JudgeServer> {
  const s = await startJudgeServer({ behaviour, lifetimeMs: 60_000 });
  servers.push(s);
  return s;
}

const FAIL = '[[no verdict]]';

/** `n` pairs p0..p(n-1); those whose index is in `failing` carry a marker the test server answers without a verdict. */
function dataset(n: number, failing: (i: number) => boolean = () => false): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-judge-'));
  dirs.push(dir);
  const file = path.join(dir, 'pairs.jsonl');
  const rows = Array.from({ length: n }, (_, i) => ({ id: `p${i}`, prompt: `Question ${i}?${failing(i) ? ` ${FAIL}` : ''}`, chosen: `${PREFER_MARKER} A careful answer ${i}.`, rejected: `A weak answer ${i}.` }));
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

function judgeArgs(file: string, s: JudgeServer, ...extra: string[]): string[] {
  return ['judge', file, '--base-url', s.baseUrl, '--model', 'm', ...extra];
}

test('alignment judge exits 1 when pairs failed, with a summary of how many and why; a rerun judges only those and exits 0', async () => {
  // 7 of 20 pairs (every third) never get a verdict.
  const file = dataset(20, (i) => i % 3 === 0);
  const s = await server(whenRubricHas(FAIL, malformed()));
  const r = await alignment(...judgeArgs(file, s));
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /^ai:m: labeled 13 of 20 pairs \(0 labeled before, 7 judge errors: 7 unparseable\)$/m);
  assert.match(r.out, /^7 of 20 pairs failed \(exit status 1\); they are not labeled, and a rerun judges only them:\n {2}7 unparseable, first: judge m gave no parseable verdict after 3 answers/m);

  s.behaviour = heuristicJudge();
  const again = await alignment(...judgeArgs(file, s));
  assert.equal(again.code, 0, again.out + again.err);
  assert.match(again.out, /^ai:m: labeled 7 of 20 pairs \(13 labeled before, 0 judge errors\)$/m);
  assert.doesNotMatch(again.out, /failed/);
});

test('alignment judge reports HTTP 500 with its status and reason, as a server error, not "(network)"', async () => {
  const file = dataset(2);
  const s = await server(serverError(500, 'CUDA error: out of memory'));
  const r = await alignment(...judgeArgs(file, s, '--max-retries', '1'));
  assert.equal(r.code, 1);
  assert.match(r.err, /^retry 0 in \d+ ms \(server-error 500\)$/m);
  assert.match(r.err, /^judge error on p0 \(server-error\): judge m: HTTP 500 Internal Server Error from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: CUDA error: out of memory \(gave up after 2 attempts\)$/m);
  assert.doesNotMatch(r.err + r.out, /network/);
  assert.match(r.out, /^ {2}2 server-error, first: judge m: HTTP 500 Internal Server Error/m);
});

test('alignment judge retries a proxy\'s HTML page, then names the content-type and the first bytes', async () => {
  const file = dataset(1);
  const s = await server(proxyHtmlPage(Infinity));
  const r = await alignment(...judgeArgs(file, s, '--max-retries', '1'));
  assert.equal(r.code, 1);
  assert.match(r.err, /^retry 0 in \d+ ms \(not-json 200\)$/m);
  assert.match(r.err, /judge error on p0 \(invalid-response\): judge m: the endpoint \S+ answered HTTP 200 with non-JSON \(a proxy or login page answering in place of the API\?\): content-type text\/html; charset=utf-8, first bytes "<!DOCTYPE html>/);
  // A page that goes away after a retry is no failure.
  s.behaviour = proxyHtmlPage(1);
  const ok = await alignment(...judgeArgs(file, s, '--max-retries', '1'));
  assert.equal(ok.code, 0, ok.out + ok.err);
});

test('alignment judge does not wait out Retry-After: 3600: the pair fails within its time limit, and the message says so', async () => {
  const file = dataset(2);
  const s = await server(rateLimited(Infinity, '3600'));
  const t0 = Date.now();
  const r = await alignment(...judgeArgs(file, s, '--timeout-ms', '1000', '--max-retries', '1'));
  assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
  assert.equal(r.code, 1);
  // Default limit: 2 tries of 1 s + the first backoff ceiling of 0.5 s.
  assert.match(r.err, /\(rate-limit\): judge m: HTTP 429 Too Many Requests from \S+: rate limited \(the server asked to wait 3600 s \(Retry-After\) before another try, more than the [\d.]+ s left of this pair's time limit \(2\.5 s\); gave up after 1 attempt\)/);
  assert.match(r.out, /^ {2}each pair may take 2500 ms in all \(--pair-timeout-ms\), each request 1000 ms \(--timeout-ms\)$/m);

  const own = await alignment(...judgeArgs(file, s, '--pair-timeout-ms', '7000'));
  assert.equal(own.code, 1);
  assert.match(own.err, /more than the [\d.]+ s left of this pair's time limit \(7 s\)/);
  assert.doesNotMatch(own.err, /^retry/m);
});
