import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveRunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents } from '../../../src/protocol/session';
import { runSession } from '../../../src/session/runSession';
import { REAL_DATA_SKIP, realDataFile } from '../../support/realData';

test('real data: a short DPO run on the shared TRL pairs, end to end with the built-in model and its tokenizer', { skip: REAL_DATA_SKIP }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-dpo-'));
  const runDir = path.join(dir, 'run');
  const r = resolveRunSpec({
    method: 'dpo',
    model: { kind: 'builtin' },
    data: { path: realDataFile('dpo_en_demo.trl.jsonl'), maxLength: 64, maxPromptLength: 32, evalSplit: 0.02 },
    batchSize: 2,
    maxSteps: 2,
    optimizer: { learningRate: 1e-4, weightDecay: 0.01 },
    intervals: { logging: 1, eval: 2, checkpoint: 0, sample: 0 },
    outputDir: runDir,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const res = await runSession(r.spec, { runDir, cacheDir: path.join(dir, 'cache'), threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const events = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  const started = events.find((e) => e.type === 'started');
  assert.ok(started?.type === 'started');
  // 300 pairs, none skipped: all of them are split between train and eval.
  assert.equal(started.params.examples.train + started.params.examples.eval, 300);
  assert.ok(!events.some((e) => e.type === 'warning' && /rows skipped/.test(e.params.message)));
  // Long multi-turn pairs are truncated to maxLength, and the session says how many.
  assert.ok(events.some((e) => e.type === 'warning' && /^truncation/.test(e.params.message)));
  const metrics = events.filter((e) => e.type === 'metrics');
  assert.equal(metrics.length, 2);
  for (const m of metrics) if (m.type === 'metrics') assert.ok(Number.isFinite(m.params.metrics['loss']) && Number.isFinite(m.params.metrics['logps/chosen']));
  assert.ok(events.some((e) => e.type === 'eval'));
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'tokenizer.json')));
});
