import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FeedbackStore } from '../../../../src/core/feedback/store';
import { feedbackStoreSink } from '../../../../src/core/judges/feedbackSink';
import { runLabelJob, type PairItem } from '../../../../src/core/judges/labelJob';
import { OpenAiJudge } from '../../../../src/core/judges/openaiJudge';
import { appendJudgement, judgeAgreementMarkdown, judgeAgreementSummaries, judgementRecord, judgementsFileFor, readJudgements } from '../../../../src/core/judges/judgeRecords';
import { heuristicJudge, PREFER_MARKER, prefersFirst, startJudgeServer, type JudgeServer } from '../../../support/judgeServer';

const servers: JudgeServer[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pairs(n: number): PairItem[] {
  return Array.from({ length: n }, (_, i) => ({ recordId: `r${i}`, prompt: `q${i}`, a: { key: 'chosen', text: `${PREFER_MARKER} good ${i}` }, b: { key: 'rejected', text: `bad ${i}` } }));
}

async function label(dataset: string, store: FeedbackStore, behaviour: ReturnType<typeof heuristicJudge>, name: string, n: number): Promise<void> {
  const s = await startJudgeServer({ behaviour, lifetimeMs: 30_000 });
  servers.push(s);
  const sink = feedbackStoreSink(store);
  await runLabelJob({
    judge: new OpenAiJudge({ baseUrl: s.baseUrl, model: name }),
    pairs: pairs(n),
    sink: { id: sink.id, labeledRecordIds: (x) => sink.labeledRecordIds(x), append: (l) => { sink.append(l); appendJudgement(dataset, judgementRecord(l)); } },
  });
}

describe('judge records and the agreement section', () => {
  it('keeps per-order verdicts beside the journal and reports consistency, position bias and human agreement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-records-'));
    dirs.push(dir);
    const dataset = join(dir, 'pairs.jsonl');
    writeFileSync(dataset, '');
    const store = FeedbackStore.open({ datasetPath: dataset, writerId: 'w', annotator: 'tester' });
    for (const id of ['r0', 'r1']) store.record({ recordId: id, type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred: 'chosen' }, source: 'human', annotator: 'tester', seconds: 1 });
    await label(dataset, store, heuristicJudge(), 'good', 4);
    await label(dataset, store, prefersFirst(), 'biased', 3);

    const { judges, problems } = judgeAgreementSummaries(store.view(), dataset);
    assert.deepEqual(problems, []);
    const good = judges.find((j) => j.source === 'ai:good');
    const biased = judges.find((j) => j.source === 'ai:biased');
    assert.ok(good && biased);
    assert.equal(good.labels, 4);
    assert.equal(good.consistency.n, 4);
    assert.equal(good.consistency.consistencyRate, 1);
    assert.equal(good.consistency.positionBiasRate, 0);
    assert.equal(good.vsHuman.n, 2);
    assert.equal(good.vsHuman.accuracy, 1);
    assert.equal(biased.consistency.positionBiasRate, 1);
    assert.equal(biased.consistency.tieRate, 1);
    assert.equal(biased.vsHuman.accuracy, 0, 'ties against a human "chosen"');
    const md = judgeAgreementMarkdown(store.view(), dataset);
    assert.match(md, /\| ai:biased \| 3 \| 2 \| 0\.0% \|/);
    assert.match(md, /\| ai:good \| 4 \| 2 \| 100\.0% \|/);
    store.close();
  });

  it('reads the last record per pair and reports bad lines with file:line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-records-'));
    dirs.push(dir);
    const dataset = join(dir, 'd.jsonl');
    const base = { recordId: 'x', source: 'ai:j' as const, order: ['chosen', 'rejected'] as const, confidence: 1, mode: 'pairwise' as const, time: '2026-01-01T00:00:00Z' };
    appendJudgement(dataset, { ...base, winner: 'A' });
    appendJudgement(dataset, { ...base, winner: 'tie' });
    const file = judgementsFileFor(dataset, 'ai:j');
    appendFileSync(file, 'not json\n{"recordId":"y","source":"ai:j","winner":"C","confidence":1}\n');
    const { bySource, problems } = readJudgements(dataset);
    assert.deepEqual(bySource.get('ai:j')?.map((r) => r.winner), ['tie']);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /d\.jsonl\.judgements\/ai_j\.jsonl:3: not valid JSON/);
    assert.match(problems[1], /:4: field "winner"/);
  });

  it('is empty when no judge labeled the dataset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-records-'));
    dirs.push(dir);
    const dataset = join(dir, 'e.jsonl');
    const store = FeedbackStore.open({ datasetPath: dataset, writerId: 'w', annotator: 'a' });
    assert.equal(judgeAgreementMarkdown(store.view(), dataset), '');
    store.close();
  });
});
