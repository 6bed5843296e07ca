import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { JudgeError } from '../../../../src/core/judges/judgeTypes';
import { runLabelJob, type AiPairLabel } from '../../../../src/core/judges/labelJob';
import { ProxyJudge, UntrustedWorkspaceError } from '../../../../src/core/judges/proxyJudge';

const dir = mkdtempSync(join(tmpdir(), 'proxyjudge-'));
const judges: ProxyJudge[] = [];
after(async () => {
  await Promise.all(judges.map((j) => j.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

function scorer(file: string, source: string): string {
  const p = join(dir, file);
  writeFileSync(p, source);
  return p;
}

function judge(modulePath: string, timeoutMs = 5_000): ProxyJudge {
  const j = new ProxyJudge({ modulePath, trusted: true, timeoutMs });
  judges.push(j);
  return j;
}

describe('ProxyJudge', () => {
  it('refuses to run a scorer in an untrusted workspace, saying why', () => {
    const p = scorer('len.cjs', 'exports.score = (p, r) => r.length;');
    assert.throws(
      () => new ProxyJudge({ modulePath: p, trusted: false }),
      (e: unknown) => e instanceof UntrustedWorkspaceError && /not trusted/.test(e.message) && e.message.includes(p),
    );
  });

  it('scores with a CommonJS scorer in a worker thread and judges pairs by score', async () => {
    const j = judge(scorer('len2.cjs', 'exports.score = (prompt, response) => response.length - prompt.length;'));
    assert.equal(await j.score('ab', 'abcde'), 3);
    const r = await j.judgePair({ prompt: 'q', responseA: 'short', responseB: 'much longer answer' });
    assert.equal(r.winner, 'B');
    assert.deepEqual(r.scores, { a: 4, b: 17 });
    assert.ok(Math.abs(r.confidence - 1 / (1 + Math.exp(-13))) < 1e-12);
  });

  it('supports async ES-module scorers', async () => {
    const j = judge(scorer('kw.mjs', 'export async function score(prompt, response) { await new Promise((r) => setTimeout(r, 5)); return response.includes("good") ? 1 : 0; }'));
    const r = await j.judgePair({ prompt: 'q', responseA: 'a good one', responseB: 'meh' });
    assert.equal(r.winner, 'A');
    assert.equal((await j.judgePair({ prompt: 'q', responseA: 'x', responseB: 'y' })).winner, 'tie');
  });

  it('terminates a scorer that overruns its time limit and keeps working afterwards', async () => {
    const j = judge(scorer('loop.cjs', 'exports.score = (p, r) => { if (r === "loop") { for (;;) {} } return 1; };'), 300);
    await assert.rejects(j.score('q', 'loop'), (e: unknown) => e instanceof JudgeError && e.kind === 'scorer' && /longer than 300 ms/.test(e.message));
    assert.equal(await j.score('q', 'fine'), 1);
  });

  it('reports a throwing scorer, a non-number result and a missing export as scorer errors', async () => {
    const throwing = judge(scorer('throw.cjs', 'exports.score = () => { throw new Error("boom"); };'));
    await assert.rejects(throwing.score('q', 'r'), (e: unknown) => e instanceof JudgeError && /failed: boom/.test(e.message));
    const text = judge(scorer('text.cjs', 'exports.score = () => "high";'));
    await assert.rejects(text.score('q', 'r'), /returned a string, not a finite number/);
    const nan = judge(scorer('nan.cjs', 'exports.score = () => NaN;'));
    await assert.rejects(nan.score('q', 'r'), /returned NaN, not a finite number/);
    const none = judge(scorer('none.cjs', 'exports.other = () => 1;'));
    await assert.rejects(none.score('q', 'r'), /could not be loaded: the module does not export a function named "score"/);
  });

  it('reports a module that does not load, and loads it again once it is fixed', async () => {
    const p = scorer('broken.cjs', 'exports.score = (p, r) => {');
    const j = judge(p);
    await assert.rejects(j.score('q', 'r'), (e: unknown) => e instanceof JudgeError && e.kind === 'scorer' && /could not be loaded/.test(e.message));
    writeFileSync(p, 'exports.score = () => 42;');
    assert.equal(await j.score('q', 'r'), 42);
  });

  it('rejects a missing or relative module path', () => {
    assert.throws(() => new ProxyJudge({ modulePath: join(dir, 'nope.js'), trusted: true }), /no file at/);
    assert.throws(() => new ProxyJudge({ modulePath: 'scorer.js', trusted: true }), /must be absolute/);
  });

  it('labels pairs through the label job', async () => {
    const j = judge(scorer('len3.cjs', 'exports.score = (p, r) => r.length;'));
    const labels: AiPairLabel[] = [];
    const res = await runLabelJob({
      judge: j,
      sink: { labeledRecordIds: () => new Set(labels.map((l) => l.recordId)), append: (l) => void labels.push(l) },
      pairs: [
        { recordId: 'a', prompt: 'q', a: { key: 'chosen', text: 'long answer' }, b: { key: 'rejected', text: 'no' } },
        { recordId: 'b', prompt: 'q', a: { key: 'chosen', text: 'x' }, b: { key: 'rejected', text: 'yy' } },
      ],
    });
    assert.equal(res.labeled, 2);
    const got = labels.map((l) => [l.recordId, l.source, l.preferred]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    assert.deepEqual(got, [['a', 'ai:proxy', 'chosen'], ['b', 'ai:proxy', 'rejected']]);
  });
});
