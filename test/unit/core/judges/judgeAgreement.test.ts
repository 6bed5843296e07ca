import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { feedbackStoreSink } from '../../../../src/core/judges/feedbackSink';
import { judgeConsistency, judgeVsHuman } from '../../../../src/core/judges/judgeAgreement';
import { runLabelJob, type PairItem } from '../../../../src/core/judges/labelJob';
import { OpenAiJudge } from '../../../../src/core/judges/openaiJudge';
import { heuristicJudge, PREFER_MARKER, prefersFirst, startJudgeServer, type JudgeServer } from '../../../support/judgeServer';

const servers: JudgeServer[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pairs(n: number): PairItem[] {
  return Array.from({ length: n }, (_, i) => {
    const good = `${PREFER_MARKER} good answer ${i}`;
    const bad = `bad answer ${i}`;
    return { recordId: `r${i}`, prompt: `q${i}`, a: { key: 'chosen', text: i % 2 ? bad : good }, b: { key: 'rejected', text: i % 2 ? good : bad } };
  });
}

async function judged(behaviour: ReturnType<typeof heuristicJudge>, n: number) {
  const s = await startJudgeServer({ behaviour, lifetimeMs: 30_000 });
  servers.push(s);
  const judge = new OpenAiJudge({ baseUrl: s.baseUrl, model: 'm', name: 'j' });
  return Promise.all(pairs(n).map((p) => judge.judgePair({ prompt: p.prompt, responseA: p.a.text, responseB: p.b.text })));
}

describe('judge consistency and position bias', () => {
  it('a judge that always prefers the first position: all ties, position-bias rate 100%, consistency 0', async () => {
    const r = judgeConsistency(await judged(prefersFirst(), 6));
    assert.equal(r.n, 6);
    assert.equal(r.positionBiasRate, 1);
    assert.equal(r.consistencyRate, 0);
    assert.equal(r.tieRate, 1);
    assert.equal(r.firstPositionRate, 1);
    assert.equal(r.meanConfidence, 0);
  });

  it('a content-driven judge: consistent, no position bias, first position half the time', async () => {
    const r = judgeConsistency(await judged(heuristicJudge(), 6));
    assert.equal(r.consistencyRate, 1);
    assert.equal(r.positionBiasRate, 0);
    assert.equal(r.firstPositionRate, 0.5);
    assert.equal(r.tieRate, 0);
  });
});

describe('judge vs human', () => {
  it('computes accuracy and Cohen kappa of one judge against the human labels (hand-computed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'judgeagree-'));
    dirs.push(dir);
    const store = FeedbackStore.open({ datasetPath: join(dir, 'd.jsonl'), writerId: 'w', annotator: 'alice' });
    const order = ['chosen', 'rejected'] as const;
    // human: r0 chosen, r1 chosen, r2 chosen, r3 tie; the heuristic judge prefers the marked answer:
    // r0 chosen, r1 rejected, r2 chosen, r3 rejected.
    const human: Array<[string, string | null]> = [['r0', 'chosen'], ['r1', 'chosen'], ['r2', 'chosen'], ['r3', null]];
    for (const [rid, pref] of human) store.record({ recordId: rid, type: 'comparison', payload: { mode: 'pair', order: [...order], preferred: pref } });
    // A second judge that must not be counted.
    store.record({ recordId: 'r0', type: 'comparison', payload: { mode: 'pair', order: [...order], preferred: 'rejected' }, source: 'ai:other', annotator: 'ai:other' });
    const s = await startJudgeServer({ lifetimeMs: 30_000 });
    servers.push(s);
    const judge = new OpenAiJudge({ baseUrl: s.baseUrl, model: 'm', name: 'j' });
    const job = await runLabelJob({ judge, sink: feedbackStoreSink(store), pairs: pairs(4) });
    assert.equal(job.labeled, 4);
    const r = judgeVsHuman(store.view(), 'ai:j');
    // pairs (human, judge): (c,c) (c,r) (c,c) (tie,r) -> p_o = 2/4;
    // human marginals c 3/4, tie 1/4; judge c 2/4, r 2/4 -> p_e = 3/4 * 2/4 = 6/16; kappa = (8/16 - 6/16) / (10/16) = 0.2.
    assert.equal(r.n, 4);
    assert.equal(r.accuracy, 0.5);
    assert.ok(r.kappa.kappa !== null && Math.abs(r.kappa.kappa - 0.2) < 1e-12, `kappa ${r.kappa.kappa}`);
    assert.deepEqual(r.confusion, { chosen: { chosen: 2, rejected: 1 }, tie: { rejected: 1 } });
    store.close();
  });
});
