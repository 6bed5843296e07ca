import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadDatasetFile } from '../../../../src/core/datasets/formats';
import type { PreferenceExample } from '../../../../src/core/datasets/examples';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { FileJudgeCache, type JudgeCache } from '../../../../src/core/judges/judgeCache';
import { feedbackStoreSink } from '../../../../src/core/judges/feedbackSink';
import { MemoryJudgeCache } from '../../../../src/core/judges/judgeCache';
import { LabelJobBusyError, pairItemFromPreference, runLabelJob, renderConversation, type AiPairLabel, type AiSource, type LabelJobProgress, type LabelSink, type PairItem } from '../../../../src/core/judges/labelJob';
import { isCachedAnswer, OpenAiJudge, type CachedAnswer } from '../../../../src/core/judges/openaiJudge';
import { downAfter, heuristicJudge, heuristicScore, malformed, PREFER_MARKER, prefersFirst, proxyHtmlPage, serverError, slow, startJudgeServer, type JudgeServer } from '../../../support/judgeServer';
import { REAL_DATA_SKIP, realDataFile } from '../../../support/realData';

const servers: JudgeServer[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(behaviour = heuristicJudge()): Promise<JudgeServer> {
  const s = await startJudgeServer({ behaviour, lifetimeMs: 30_000 });
  servers.push(s);
  return s;
}

function newJudge(s: JudgeServer, cache: JudgeCache<CachedAnswer> = new MemoryJudgeCache<CachedAnswer>()): OpenAiJudge {
  return new OpenAiJudge({ baseUrl: s.baseUrl, model: 'test-judge', name: 'local-judge', cache, concurrency: 2, maxRetries: 1, sleep: async () => undefined });
}

/** Pairs whose better answer (marked) alternates between A and B. */
function makePairs(n: number): PairItem[] {
  return Array.from({ length: n }, (_, i) => {
    const good = `${PREFER_MARKER} A careful answer to question ${i}.`;
    const bad = `A weak answer ${i}.`;
    const aGood = i % 2 === 0;
    return { recordId: `r${i}`, prompt: `Question ${i}?`, a: { key: 'chosen', text: aGood ? good : bad }, b: { key: 'rejected', text: aGood ? bad : good } };
  });
}

class MemorySink implements LabelSink {
  readonly labels: AiPairLabel[] = [];
  labeledRecordIds(source: AiSource): ReadonlySet<string> {
    return new Set(this.labels.filter((l) => l.source === source).map((l) => l.recordId));
  }
  append(label: AiPairLabel): void {
    this.labels.push(label);
  }
}

describe('runLabelJob', () => {
  it('labels every pair once with progress callbacks', async () => {
    const s = await server();
    const sink = new MemorySink();
    const pairs = makePairs(6);
    const seen: LabelJobProgress[] = [];
    const r = await runLabelJob({ judge: newJudge(s), sink, pairs, onProgress: (p) => seen.push(p) });
    assert.equal(r.status, 'completed');
    assert.equal(r.labeled, 6);
    assert.equal(sink.labels.length, 6);
    for (const l of sink.labels) {
      const i = Number(l.recordId.slice(1));
      assert.equal(l.preferred, i % 2 === 0 ? 'chosen' : 'rejected', l.recordId);
      assert.equal(l.source, 'ai:local-judge');
      assert.deepEqual(l.order, ['chosen', 'rejected']);
    }
    assert.deepEqual(seen[0], { total: 6, skipped: 0, labeled: 0, failed: 0, remaining: 6 });
    assert.deepEqual(seen[seen.length - 1], { total: 6, skipped: 0, labeled: 6, failed: 0, remaining: 0 });
    assert.equal(s.requests.length, 12);
  });

  it('judges a pair listed twice only once', async () => {
    const s = await server();
    const sink = new MemorySink();
    const pairs = makePairs(2);
    const r = await runLabelJob({ judge: newJudge(s), sink, pairs: [...pairs, pairs[0]] });
    assert.equal(r.total, 2);
    assert.equal(sink.labels.length, 2);
  });

  it('records malformed answers as errors, never as labels', async () => {
    const s = await server(malformed());
    const sink = new MemorySink();
    const errors: string[] = [];
    const r = await runLabelJob({ judge: newJudge(s), sink, pairs: makePairs(3), onError: (e) => errors.push(e.kind) });
    assert.equal(r.status, 'completed');
    assert.equal(r.failed, 3);
    assert.equal(sink.labels.length, 0);
    assert.deepEqual(errors, ['unparseable', 'unparseable', 'unparseable']);
  });

  it('stops after server errors in a row, and says that the endpoint keeps answering with server errors', async () => {
    const s = await server(serverError(500, 'model crashed'));
    const sink = new MemorySink();
    const errors: string[] = [];
    const r = await runLabelJob({ judge: newJudge(s), sink, pairs: makePairs(8), concurrency: 1, onError: (e) => errors.push(`${e.kind}: ${e.message}`) });
    assert.equal(r.status, 'stopped');
    assert.equal(r.failed, 3);
    assert.match(r.stopReason ?? '', /^3 pairs in a row failed \(server-error\): the endpoint keeps answering with server errors\./);
    assert.match(errors[0] as string, /^server-error: judge local-judge: HTTP 500 Internal Server Error from \S+: model crashed/);
  });

  it('stops after pairs in a row that got no chat completion (a proxy page each time)', async () => {
    const s = await server(proxyHtmlPage(Infinity));
    const r = await runLabelJob({ judge: newJudge(s), sink: new MemorySink(), pairs: makePairs(8), concurrency: 1 });
    assert.equal(r.status, 'stopped');
    assert.match(r.stopReason ?? '', /\(invalid-response\): the endpoint keeps answering with something that is not a chat completion/);
  });

  it('records ties for a judge that always prefers the first position', async () => {
    const s = await server(prefersFirst());
    const sink = new MemorySink();
    const r = await runLabelJob({ judge: newJudge(s), sink, pairs: makePairs(4) });
    assert.equal(r.labeled, 4);
    assert.ok(sink.labels.every((l) => l.preferred === null && l.judgement.positionFollowed === true));
  });

  it('stops when the server goes down mid-run and resumes to exactly one AI label per pair, human labels untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labeljob-'));
    dirs.push(dir);
    const datasetPath = join(dir, 'pairs.jsonl');
    const pairs = makePairs(10);
    const store = FeedbackStore.open({ datasetPath, writerId: 'window-1', annotator: 'alice' });
    // A person labeled three pairs before the judge ran; one of them against the judge's opinion.
    for (const [rid, pref] of [['r0', 'chosen'], ['r3', 'chosen'], ['r7', 'rejected']] as const) {
      store.record({ recordId: rid, type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: pref } });
    }
    const humanBefore = store.entries().filter((e) => e.source === 'human').map((e) => JSON.stringify(e));

    const cache = new MemoryJudgeCache<CachedAnswer>();
    const s1 = await server(downAfter(7));
    const first = await runLabelJob({ judge: newJudge(s1, cache), sink: feedbackStoreSink(store), pairs, concurrency: 2, maxConsecutiveFailures: 2 });
    assert.equal(first.status, 'stopped');
    assert.match(first.stopReason ?? '', /endpoint looks down/);
    assert.ok(first.labeled >= 1 && first.labeled < 10, `labeled ${first.labeled}`);
    assert.ok(s1.stopped);

    // The server is back (on a new port). A second window's store reads the same journals.
    const s2 = await server();
    const store2 = FeedbackStore.open({ datasetPath, writerId: 'window-1', annotator: 'alice' });
    const second = await runLabelJob({ judge: newJudge(s2, cache), sink: feedbackStoreSink(store2), pairs });
    assert.equal(second.status, 'completed');
    assert.equal(second.skipped, first.labeled);
    assert.equal(second.labeled, 10 - first.labeled);
    assert.equal(second.failed, 0);

    // A third run has nothing left to do and sends nothing.
    const before = s2.requests.length;
    const third = await runLabelJob({ judge: newJudge(s2, cache), sink: feedbackStoreSink(store2), pairs });
    assert.equal(third.skipped, 10);
    assert.equal(third.labeled, 0);
    assert.equal(s2.requests.length, before);

    const reread = FeedbackStore.open({ datasetPath, writerId: 'reader', annotator: 'bob' });
    const ai = reread.entries().filter((e) => e.source === 'ai:local-judge');
    const perRecord = new Map<string, number>();
    for (const e of ai) perRecord.set(e.recordId, (perRecord.get(e.recordId) ?? 0) + 1);
    assert.deepEqual([...perRecord.keys()].sort(), pairs.map((p) => p.recordId).sort());
    assert.ok([...perRecord.values()].every((n) => n === 1), JSON.stringify([...perRecord]));
    for (const e of ai) {
      assert.equal(e.type, 'comparison');
      const i = Number(e.recordId.slice(1));
      assert.deepEqual(e.payload, { mode: 'pair', order: ['chosen', 'rejected'], preferred: i % 2 === 0 ? 'chosen' : 'rejected' });
    }
    assert.deepEqual(reread.entries().filter((e) => e.source === 'human').map((e) => JSON.stringify(e)), humanBefore);
    assert.deepEqual(reread.problems, []);
    store.close();
    store2.close();
    reread.close();
  });

  it('cancels through the AbortSignal and resumes where it stopped', async () => {
    const s = await server(slow(30));
    const sink = new MemorySink();
    const pairs = makePairs(8);
    const ac = new AbortController();
    const r = await runLabelJob({
      judge: newJudge(s),
      sink,
      pairs,
      concurrency: 1,
      signal: ac.signal,
      onLabel: () => ac.abort(),
    });
    assert.equal(r.status, 'cancelled');
    assert.equal(r.labeled, 1);
    assert.equal(r.failed, 0);
    assert.equal(r.remaining, 7);
    const rest = await runLabelJob({ judge: newJudge(s), sink, pairs });
    assert.equal(rest.skipped, 1);
    assert.equal(rest.labeled, 7);
    assert.equal(new Set(sink.labels.map((l) => l.recordId)).size, 8);
    assert.equal(sink.labels.length, 8);
  });
});

describe('real preference data', () => {
  it('labels pairs loaded from the shared DPO demo data, with a file cache that a second job reuses', { skip: REAL_DATA_SKIP }, async () => {
    const loaded = await loadDatasetFile(realDataFile('dpo_en_demo.trl.jsonl'));
    const examples = loaded.examples.filter((e): e is PreferenceExample => e.kind === 'preference').slice(0, 8);
    assert.equal(examples.length, 8);
    const pairs = examples.map((e) => pairItemFromPreference(e));
    assert.equal(pairs[0].recordId, 'dpo-en-000');
    assert.match(pairs[0].prompt, /Angela/);
    const dir = mkdtempSync(join(tmpdir(), 'labeljob-real-'));
    dirs.push(dir);
    const cacheFile = join(dir, 'judge-cache.jsonl');
    const s = await server();
    const sink = new MemorySink();
    const first = await runLabelJob({ judge: newJudge(s, new FileJudgeCache<CachedAnswer>(cacheFile, isCachedAnswer)), sink, pairs });
    assert.equal(first.labeled, 8);
    assert.equal(s.requests.length, 16);
    assert.ok(s.requests.some((q) => q.messages[0].content.includes(pairs[0].a.text)), 'the real responses reached the judge');
    // The test judge prefers the longer, more structured answer: its labels must follow that heuristic.
    for (const l of sink.labels) {
      const p = pairs.find((x) => x.recordId === l.recordId);
      assert.ok(p);
      const sa = heuristicScore(p.a.text);
      const sb = heuristicScore(p.b.text);
      assert.equal(l.preferred, sa > sb ? 'chosen' : sb > sa ? 'rejected' : null, l.recordId);
    }
    // A new judge with the same cache file answers everything from the cache.
    const cache2 = new FileJudgeCache<CachedAnswer>(cacheFile, isCachedAnswer);
    assert.deepEqual(cache2.skipped, []);
    const judge2 = newJudge(s, cache2);
    const again = await runLabelJob({ judge: judge2, sink: new MemorySink(), pairs });
    assert.equal(again.labeled, 8);
    assert.equal(s.requests.length, 16);
    assert.equal(judge2.usage.cacheHits, 16);
    assert.deepEqual(again.labels.map((l) => [l.recordId, l.preferred]).sort(), sink.labels.map((l) => [l.recordId, l.preferred]).sort());
  });
});

describe('renderConversation', () => {
  it('keeps a lone user turn as is and labels a multi-turn transcript', () => {
    assert.equal(renderConversation([{ role: 'user', content: 'hi' }]), 'hi');
    assert.equal(
      renderConversation([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'bye' },
      ]),
      '[System]\nbe brief\n\n[User]\nhi\n\n[Assistant]\nhello\n\n[User]\nbye',
    );
  });
});

describe('runLabelJob and a failing sink', () => {
  it('stops at the first label that cannot be written, and does not count it', async () => {
    const s = await startJudgeServer({ lifetimeMs: 30_000 });
    servers.push(s);
    let writes = 0;
    const r = await runLabelJob({
      judge: newJudge(s),
      pairs: makePairs(5),
      concurrency: 1,
      sink: {
        labeledRecordIds: () => new Set<string>(),
        append: () => {
          if (++writes === 2) throw new Error('disk full');
        },
      },
    });
    assert.equal(r.status, 'stopped');
    assert.match(r.stopReason ?? '', /writing the label of r1 failed: disk full/);
    assert.equal(r.labeled, 1);
  });
});

describe('one job per store and judge', () => {
  it('refuses a second concurrent job on the same store and judge, and allows it afterwards', async () => {
    const s = await startJudgeServer({ behaviour: slow(20), lifetimeMs: 30_000 });
    servers.push(s);
    const labels = new MemorySink();
    const sink: LabelSink = { id: 'store-1', labeledRecordIds: (src) => labels.labeledRecordIds(src), append: (l) => labels.append(l) };
    const pairs = makePairs(3);
    const first = runLabelJob({ judge: newJudge(s), sink, pairs });
    await assert.rejects(runLabelJob({ judge: newJudge(s), sink, pairs }), (e: unknown) => e instanceof LabelJobBusyError && /already running on store-1/.test(e.message));
    assert.equal((await first).labeled, 3);
    assert.equal(labels.labels.length, 3);
    const again = await runLabelJob({ judge: newJudge(s), sink, pairs });
    assert.equal(again.skipped, 3);
  });
});
