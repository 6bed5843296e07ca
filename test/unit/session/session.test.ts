import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { EventSink } from '../../../src/session/events';
import { listCheckpointSteps, loadRunCheckpoint } from '../../../src/session/checkpoints';
import { stepsPerRun } from '../../../src/session/plan';
import { runSession } from '../../../src/session/runSession';
import { pairRows, tinySpec, workspace } from './sessionFixtures';

function resolve(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

function events(runDir: string): SessionEvent[] {
  const parsed = parseSessionEvents(fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8'));
  assert.deepEqual(parsed.warnings, [], 'events.jsonl parses without warnings');
  return parsed.events;
}

test('samples come at every sample interval and once more at the end, so the last policy is always shown', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(resolve(tinySpec(ws, runDir, { intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 4 } })), { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  assert.equal(res.step, 6);
  assert.deepEqual(events(runDir).filter((e) => e.type === 'samples').map((e) => e.params.step), [4, 6]);
});

test('a DPO session writes the run folder and the event flow: started, metrics, eval, checkpoint, samples, finished', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const seen: string[] = [];
  const sink = new EventSink(path.join(runDir, 'events.jsonl'));
  sink.on((e) => seen.push(e.type));
  const res = await runSession(resolve(tinySpec(ws, runDir)), { runDir, cacheDir: ws.dir, sink, threads: 1 });
  sink.close();
  assert.equal(res.reason, 'completed', res.error);
  assert.equal(res.step, 6);
  const ev = events(runDir);
  assert.deepEqual(ev.map((e) => e.type), seen);
  assert.equal(ev.filter((e) => e.type === 'started').length, 1);
  assert.equal(ev[ev.length - 1]?.type, 'finished');
  const metrics = ev.filter((e) => e.type === 'metrics');
  assert.deepEqual(metrics.map((e) => e.params.step), [2, 4, 6]);
  for (const k of ['loss', 'grad_norm', 'learning_rate', 'tokens_per_second', 'step_time', 'rewards/margins', 'logps/chosen']) assert.ok(k in (metrics[0]?.params.metrics ?? {}), k);
  const evals = ev.filter((e) => e.type === 'eval');
  assert.deepEqual(evals.map((e) => e.params.step), [3, 6]);
  assert.ok('eval_rewards/accuracies' in (evals[0]?.params.metrics ?? {}));
  assert.deepEqual(ev.filter((e) => e.type === 'checkpoint').map((e) => e.params.path), ['checkpoints/step-2', 'checkpoints/step-4']);
  const samples = ev.find((e) => e.type === 'samples');
  assert.ok(samples && samples.params.samples.length > 0 && typeof samples.params.samples[0]?.reference === 'string');
  // Run folder layout.
  assert.ok(fs.existsSync(path.join(runDir, 'spec.json')));
  assert.deepEqual(listCheckpointSteps(runDir), [2, 4]);
  for (const s of [2, 4]) {
    const c = loadRunCheckpoint(runDir, s);
    assert.equal(c.state.step, s);
    assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', `step-${s}`, 'model.safetensors')));
  }
  const final = loadHfModel(path.join(runDir, 'final'));
  assert.equal(final.head, 'lm');
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'tokenizer.json')));
});

test('rows with missing or empty fields are reported with file:line and counted as skipped', async () => {
  const lines = pairRows(20);
  lines.splice(3, 0, JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: 'a' }] }));
  lines.splice(7, 0, JSON.stringify({ prompt: [{ role: 'user', content: 'q' }], chosen: [{ role: 'assistant', content: '' }], rejected: [{ role: 'assistant', content: 'b' }] }));
  lines.splice(9, 0, '{not json');
  const ws = workspace(lines);
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(resolve(tinySpec(ws, runDir, { maxSteps: 2, intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 } })), { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const warning = events(runDir).find((e) => e.type === 'warning' && /rows skipped/.test(e.params.message));
  assert.ok(warning && warning.type === 'warning', 'a warning lists the skipped rows');
  const msg = warning.params.message;
  assert.match(msg, /^3 of 23 rows skipped/);
  assert.match(msg, /data\.jsonl:4 rejected/);
  assert.match(msg, /data\.jsonl:8 chosen/);
  assert.match(msg, /data\.jsonl:10/);
  const started = events(runDir).find((e) => e.type === 'started');
  assert.equal(started?.type === 'started' && started.params.examples.train + started.params.examples.eval, 20);
});

test('a model too large for memory gets an estimate and a clear message before the session starts', async () => {
  const ws = workspace();
  const big = path.join(ws.dir, 'big-model');
  fs.mkdirSync(big);
  // Llama-2-70B's shape; no weights needed: the estimate is made from config.json before anything is loaded.
  fs.writeFileSync(path.join(big, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 32000, hidden_size: 8192, intermediate_size: 28672, num_hidden_layers: 80, num_attention_heads: 64, num_key_value_heads: 8, max_position_embeddings: 4096 }));
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(resolve(tinySpec(ws, runDir, { model: { kind: 'hf', path: big } })), { runDir, cacheDir: ws.dir, memoryBytes: 16 * 1024 ** 3 });
  assert.equal(res.reason, 'failed');
  const ev = events(runDir);
  assert.ok(!ev.some((e) => e.type === 'started'), 'nothing started');
  const err = ev.find((e) => e.type === 'error');
  assert.ok(err && err.type === 'error' && err.params.fatal);
  assert.match(err.params.message, /model too large for memory: the run needs about [\d.]+ GiB, the device has 16\.0+ GiB/);
  assert.match(err.params.message, /turn on LoRA/);
});

test('early stopping ends the run when the eval metric stops improving', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { maxSteps: 12, intervals: { logging: 1, eval: 1, checkpoint: 0, sample: 0 }, earlyStopping: { metric: 'eval_loss', patience: 2, minDelta: 100 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'early-stopped');
  // The first eval sets the best value; two evals without an improvement of 100 stop the run at step 3.
  assert.equal(res.step, 3);
  const fin = events(runDir).find((e) => e.type === 'finished');
  assert.equal(fin?.type === 'finished' && fin.params.reason, 'early-stopped');
  assert.ok(fs.existsSync(path.join(runDir, 'final', 'config.json')));
});

test('steps per runtime call divide every interval and the total', () => {
  assert.equal(stepsPerRun(100, [10, 50, 100, 0]), 5);
  assert.equal(stepsPerRun(7, [10, 0, 0, 0]), 1);
  assert.equal(stepsPerRun(64, [16, 32, 0, 0]), 8);
});

test('NaN guard: non-finite steps are skipped with a warning, and a run that keeps diverging fails with a clear message', async () => {
  // Ratings of 1e30 make the squared error overflow float32: every step's loss is infinite.
  const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `item ${i}: rate`, chosen: 'good', rejected: 'bad', score_chosen: 1e30, score_rejected: -1e30 }));
  const ws = workspace(lines);
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { method: 'reward-regression', hyperparameters: { normalize_ratings: false }, maxSteps: 20, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'failed');
  const ev = events(runDir);
  const guards = ev.filter((e) => e.type === 'warning' && /^NaN guard: non-finite loss or gradient at step/.test(e.params.message));
  assert.equal(guards.length, 5);
  const err = ev.find((e) => e.type === 'error');
  assert.ok(err?.type === 'error' && err.params.fatal);
  assert.match(err.params.message, /training diverged: 5 optimizer steps in a row had a non-finite loss or gradient/);
  // Non-finite metric values are logged as null, not dropped.
  const m = ev.find((e) => e.type === 'metrics');
  assert.ok(m?.type === 'metrics' && m.params.metrics['loss'] === null);
});
