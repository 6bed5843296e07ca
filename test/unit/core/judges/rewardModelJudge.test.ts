import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { JudgeError } from '../../../../src/core/judges/judgeTypes';
import { runLabelJob, type AiPairLabel, type AiSource, type LabelSink, type PairItem } from '../../../../src/core/judges/labelJob';
import { RewardModelJudge, rewardModelDisplayName, rewardModelJudgeName, rewardModelRuns } from '../../../../src/core/judges/rewardModelJudge';
import { createRun } from '../../../../src/core/runs/registry';
import { parseRmEventLine } from '../../../../src/protocol/rewardScoring';

const FAKE = path.resolve(__dirname, '../../../fixtures/judges/fakeRmScore.cjs');

function judge(mode: string, warnings: string[] = []): RewardModelJudge {
  return new RewardModelJudge({
    name: rewardModelJudgeName('fake rm'),
    modelDir: '/models/fake-rm',
    dataset: '/data/pairs.jsonl',
    command: process.execPath,
    commandArgs: [FAKE],
    env: { ...process.env, FAKE_RM: mode },
    onWarning: (w) => warnings.push(w),
  });
}

function pairs(ids: readonly string[]): PairItem[] {
  return ids.map((id) => ({ recordId: id, prompt: `prompt ${id}`, a: { key: 'chosen', text: `good ${id}` }, b: { key: 'rejected', text: `bad ${id}` } }));
}

class MemorySink implements LabelSink {
  readonly labels: AiPairLabel[] = [];
  constructor(private readonly before: readonly AiPairLabel[] = []) {
    this.labels.push(...before);
  }
  labeledRecordIds(source: AiSource): ReadonlySet<string> {
    return new Set(this.labels.filter((l) => l.source === source).map((l) => l.recordId));
  }
  append(label: AiPairLabel): void {
    this.labels.push(label);
  }
}

describe('reward-model judge (scoring process)', () => {
  it('names its labels rm:<name> and a run folder by its run', () => {
    assert.equal(rewardModelJudgeName('my run/v2'), 'rm:my_run_v2');
    assert.equal(rewardModelDisplayName('/ws/.alignment/runs/reward-20261122-abc/final'), 'reward-20261122-abc');
    assert.equal(rewardModelDisplayName('/models/my-rm'), 'my-rm');
  });

  it('offers the workspace\'s reward-model runs that saved final/, named by the run (by its id when names clash)', async () => {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'rm-runs-'));
    try {
      const run = async (spec: Record<string, unknown>, withFinal: boolean) => {
        const r = await createRun(ws, { model: { kind: 'builtin' }, data: { path: 'data/pairs.jsonl' }, maxSteps: 2, ...spec });
        assert.ok(r.ok, JSON.stringify(r));
        if (withFinal) {
          fs.mkdirSync(path.join(r.dir, 'final'), { recursive: true });
          fs.writeFileSync(path.join(r.dir, 'final', 'config.json'), '{}');
        }
        return r.id;
      };
      await run({ method: 'reward', name: 'helpful-rm' }, true);
      const reg = await run({ method: 'reward-regression' }, true);
      await run({ method: 'dpo', name: 'policy' }, true); // a policy, not a reward model
      await run({ method: 'reward', name: 'unfinished' }, false); // nothing saved yet
      const a = await run({ method: 'reward', name: 'twin' }, true);
      const b = await run({ method: 'reward', name: 'twin' }, true);
      const got = await rewardModelRuns(ws);
      assert.deepEqual(got.map((r) => r.name).sort(), ['helpful-rm', reg, a, b].sort());
      const h = got.find((r) => r.name === 'helpful-rm');
      assert.equal(h?.method, 'reward');
      assert.equal(h?.dir, path.join(ws, '.alignment', 'runs', h?.runId ?? '', 'final'));
      assert.deepEqual(await rewardModelRuns(path.join(ws, 'no-such-folder')), []);
    } finally {
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('labels each pair by the higher reward, skips what it cannot score as an error, and ignores invalid output lines', async () => {
    const warnings: string[] = [];
    const j = judge('ok', warnings);
    const ids = ['r1', 'r22', 'flip-3', 'skip-4', 'r5'];
    const ready = await j.start(ids);
    assert.equal(ready.pairs, ids.length);
    const sink = new MemorySink();
    const res = await runLabelJob({ judge: j, pairs: pairs(ids), sink, concurrency: 3 });
    assert.equal(res.status, 'completed');
    assert.equal(res.labeled, 4);
    assert.equal(res.failed, 1);
    assert.equal(res.errors[0]?.recordId, 'skip-4');
    assert.equal(res.errors[0]?.kind, 'model');
    assert.match(res.errors[0]?.message ?? '', /not a preference pair/);
    const by = new Map(sink.labels.map((l) => [l.recordId, l]));
    assert.equal(by.get('r1')?.source, 'ai:rm:fake_rm');
    assert.equal(by.get('r1')?.preferred, 'chosen');
    assert.equal(by.get('flip-3')?.preferred, 'rejected');
    assert.equal(by.get('r22')?.judgement.mode, 'score');
    // 'r22'.length % 3 = 0 -> reward 1 vs 0: confidence sigmoid(1)
    assert.ok(Math.abs((by.get('r22')?.judgement.confidence ?? 0) - 1 / (1 + Math.exp(-1))) < 1e-12);
    assert.deepEqual(by.get('r22')?.judgement.scores, { a: 1, b: 0 });
    assert.equal(j.invalidLines, 2, 'the noise line and the score event without rewards');
    assert.equal(warnings.length, 2);
    await waitFor(() => !j.running);
  });

  it('maps rewards to A and B when the pair lists rejected first', async () => {
    const j = judge('ok');
    await j.start(['r1']);
    const v = await j.judgePair({ prompt: 'p', responseA: 'bad', responseB: 'good', record: { id: 'r1', keys: ['rejected', 'chosen'] } });
    assert.equal(v.winner, 'B');
    assert.deepEqual(v.scores, { a: 0, b: 3 }); // 'r1': reward 1 + (2 % 3)
    await assert.rejects(j.judgePair({ prompt: 'p', responseA: 'x', responseB: 'y' }), (e: unknown) => e instanceof JudgeError && e.kind === 'model');
    await assert.rejects(j.judgePair({ prompt: 'p', responseA: 'x', responseB: 'y', record: { id: 'r1', keys: ['responses[0]', 'responses[1]'] } }), /chosen\/rejected/);
    j.dispose();
  });

  it('stops the job when the scoring process crashes, keeping the labels written before, with the exit code and the error', async () => {
    const j = judge('crash:3');
    const ids = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'];
    await j.start(ids);
    const sink = new MemorySink();
    const res = await runLabelJob({ judge: j, pairs: pairs(ids), sink, concurrency: 2 });
    assert.equal(res.status, 'stopped');
    assert.match(res.stopReason ?? '', /reward model \/models\/fake-rm: the scoring process exited with code 3: .*RuntimeError: fake scorer ran out of memory/);
    assert.equal(res.labeled, 3);
    assert.deepEqual(sink.labels.map((l) => l.recordId), ['a1', 'a2', 'a3']);
    assert.ok(res.failed <= 1, `a crash is one stop, not an error per pair (failed ${res.failed})`);
  });

  it('fails to start with a fatal error naming the model folder when the folder is not a model', async () => {
    const j = judge('bad-model');
    await assert.rejects(j.start(['a1']), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.equal(e.kind, 'model');
      assert.equal(e.details.fatal, true);
      assert.match(e.message, /exited with code 2: rm-score: \/models\/fake-rm is not a model folder \(no config\.json\)/);
      return true;
    });
  });

  it('cancels: the job ends as cancelled and the scoring process is stopped', async () => {
    const j = judge('slow');
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10'];
    await j.start(ids);
    const abort = new AbortController();
    const sink = new MemorySink();
    const res = await runLabelJob({ judge: j, pairs: pairs(ids), sink, signal: abort.signal, onLabel: () => abort.abort(new Error('cancelled by the user')) });
    j.dispose();
    assert.equal(res.status, 'cancelled');
    assert.ok(res.labeled >= 1 && res.labeled < ids.length, `labeled ${res.labeled}`);
    assert.equal(res.failed, 0);
    await waitFor(() => !j.running);
  });

  it('cancels while the model loads', async () => {
    const j = judge('slow');
    const abort = new AbortController();
    abort.abort(new Error('cancelled by the user'));
    await assert.rejects(j.start(['s1'], abort.signal), /cancelled by the user/);
  });

  it('validates each event line', () => {
    assert.equal((parseRmEventLine('{"type":"score","params":{"recordId":"a","chosen":1,"rejected":"2"}}') as { warning: string }).warning, 'invalid "score" event: params.rejected: expected a finite number');
    assert.deepEqual(parseRmEventLine('{"type":"done","params":{"scored":2,"skipped":0}}'), { type: 'done', params: { scored: 2, skipped: 0 } });
    assert.match((parseRmEventLine('[1]') as { warning: string }).warning, /not a JSON object/);
    assert.match((parseRmEventLine('{"type":"telemetry"}') as { warning: string }).warning, /unknown event type/);
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
