import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { buildEvaluationReport } from '../../../../src/core/eval/report';
import { runEvalRows } from '../../../../src/core/runs/evalSplit';
import { resolveRunSpec, type RunSpec } from '../../../../src/core/runs/spec';
import { EvalShowReport } from '../../../../src/protocol/evaluation';
import { loadSplit } from '../../../../src/session/data';
import { EventSink } from '../../../../src/session/events';
import { pairRows, tinySpec, workspace } from '../../session/sessionFixtures';

test("Evaluate scores a reward-model run on exactly the pairs its session held out", async () => {
  const ws = workspace(pairRows(40));
  const r = resolveRunSpec(tinySpec(ws, path.join(ws.dir, 'run'), { method: 'reward', data: { path: ws.data, evalSplit: 0.25 }, seed: 7 }));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  const spec: RunSpec = r.spec;
  const { rows, train } = await runEvalRows(spec, ws.dir);
  const session = await loadSplit(spec, ws.dir, new EventSink(undefined));
  assert.deepEqual(rows.map((x) => x.id), session.eval.map((e) => e.id));
  assert.equal(train, session.train.length);
  assert.ok(rows.length > 0 && rows.every((x) => 'prompt' in x && 'chosen' in x && 'rejected' in x));
  assert.equal(rows.length + train, 40);
});

test('the evaluation report says whether its pairs are held out, and the panel message carries it', () => {
  const heldOut = { status: 'not-held-out' as const, text: 'Not held out: the run trained on every one of these pairs.' };
  const report = buildEvaluationReport({ title: 't', pairs: [{ chosen: 1, rejected: 0 }], heldOut });
  assert.deepEqual(report.heldOut, heldOut);
  assert.ok(EvalShowReport.is(EvalShowReport.create(report)));
  assert.ok(!EvalShowReport.is(EvalShowReport.create({ ...report, heldOut: { status: 'maybe', text: '' } as never })));
});
