import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { foldRunEvents, EMPTY_RUN_STATE } from '../../../src/core/runs/runState';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { parseSessionEvents, type SessionEvent } from '../../../src/protocol/session';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../../src/engine/io/safetensors';
import { collapsedReply, DivergenceMonitor } from '../../../src/session/divergence';
import { runSession } from '../../../src/session/runSession';
import { sessionExitCode } from '../../../src/session/types';
import { tinySpec, workspace } from './sessionFixtures';

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

/** SFT rows (prompt / completion) for the tiny model. */
function sftRows(n: number): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `item ${1 + (i % 12)}: say ${i % 2 ? 'no' : 'yes'}`, completion: i % 2 ? ' no' : ' yes' }));
}

const sftSpec = (lr: number, maxGradNorm: number) => (ws: ReturnType<typeof workspace>, runDir: string) =>
  resolve(tinySpec(ws, runDir, { method: 'sft', maxSteps: 16, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, optimizer: { learningRate: lr, maxGradNorm }, intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 0 } }));

test('an SFT run at lr 0.99 without clipping is flagged as diverged: a diverged event, the result, the exit status and the run state say so', async () => {
  const ws = workspace(sftRows(32));
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(sftSpec(0.99, 0)(ws, runDir), { runDir, cacheDir: ws.dir, threads: 1 });
  const ev = events(runDir);
  const diverged = ev.filter((e) => e.type === 'diverged');
  assert.equal(res.reason, 'completed', res.error);
  const first = diverged[0];
  assert.ok(first?.type === 'diverged' && first.params.reason === 'loss-above-chance', JSON.stringify(diverged));
  assert.match(first.params.message, /^loss \S+ at step \d+ is above 2 x chance \(ln \d+ = /);
  assert.ok(res.diverged);
  assert.equal(sessionExitCode(res), 3);
  const state = foldRunEvents(EMPTY_RUN_STATE, ev);
  assert.equal(state.phase, 'finished');
  assert.ok(state.diverged);
  assert.match(state.detail ?? '', /; diverged\? /);
});

test('a normal SFT run is not flagged', async () => {
  const ws = workspace(sftRows(32));
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(sftSpec(1e-3, 1)(ws, runDir), { runDir, cacheDir: ws.dir, threads: 1 });
  const ev = events(runDir);
  assert.equal(res.reason, 'completed', res.error);
  assert.deepEqual(ev.filter((e) => e.type === 'diverged'), []);
  assert.equal(res.diverged, undefined);
  assert.equal(sessionExitCode(res), 0);
  assert.equal(foldRunEvents(EMPTY_RUN_STATE, ev).diverged, undefined);
});

// At lr 0.99 the trajectory is chaotic: which blow-up comes first (the loss, or the implicit rewards as the policy
// leaves the reference) changes with float rounding, so the test asks that one of the two rules flags the run.
test('a DPO run at lr 0.99 without clipping is flagged as diverged by its loss or its implicit rewards leaving the range of its first steps', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec(ws, runDir, { maxSteps: 32, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, optimizer: { learningRate: 0.99, maxGradNorm: 0 }, intervals: { logging: 2, eval: 0, checkpoint: 0, sample: 0 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  const ev = events(runDir);
  assert.equal(res.reason, 'completed', res.error);
  const reason = res.diverged?.reason;
  assert.ok(reason === 'loss-above-range' || reason === 'rewards-exploding', `diverged: ${JSON.stringify(res.diverged)}`);
  const message = reason === 'loss-above-range' ? /far above the range of the first steps/ : /the run's first steps were within/;
  assert.ok(ev.some((e) => e.type === 'diverged' && message.test(e.params.message)));
});

test('divergence rules: loss above the range of the first steps, gradient norm 0 three steps in a row or non-finite, non-finite weights; each reason once', () => {
  const m = new DivergenceMonitor();
  const healthy = [0.69, 0.3, 1.2, 0.8, 0.6, 0.9, 0.5, 0.4, 0.45, 0.3, 0.2, 1.5, 0.1];
  healthy.forEach((loss, i) => assert.deepEqual(m.step(i + 1, loss, 1 + i), [], `step ${i + 1}`));
  // Range of the first 3 steps: 0.3 to 1.2, so the limit is 1.2 + 10 * max(0.9, 1.2, 1) = 13.2.
  assert.deepEqual(m.step(14, 13.1, 1), []);
  assert.deepEqual(m.step(15, 13.3, 1).map((d) => d.reason), ['loss-above-range']);
  assert.deepEqual(m.step(16, 500, 1), [], 'reported once');
  assert.deepEqual(m.step(17, 0.5, 0), []);
  assert.deepEqual(m.step(18, 0.5, 0), []);
  assert.deepEqual(m.step(19, 0.5, 0).map((d) => [d.reason, d.step]), [['grad-norm-zero', 19]]);
  assert.deepEqual(m.step(20, NaN, Infinity).map((d) => d.reason), ['grad-norm-non-finite']);
  assert.deepEqual(m.weights(20, [['a', new Float32Array([1, 2])], ['b', new Float32Array([0, NaN])]]).map((d) => d.message), ['weight b[1] is NaN at step 20']);
  assert.deepEqual(m.weights(21, [['b', new Float32Array([Infinity])]]), []);
  // A blow-up in the second step is measured against the first, not folded into the range.
  const early = new DivergenceMonitor();
  assert.deepEqual(early.step(1, 0.69, 1), []);
  assert.deepEqual(early.step(2, 488, 1).map((d) => d.reason), ['loss-above-range']);
  // Token losses: above 2 x ln(V) (V = 1000: 13.8).
  const sft = new DivergenceMonitor({ tokenLossVocab: 1000 });
  assert.deepEqual(sft.step(1, 13.8, 1), []);
  assert.deepEqual(sft.step(2, 13.9, 1).map((d) => d.reason), ['loss-above-chance']);
});

test('a model whose embeddings are 1e30 (grad_norm exactly 0, empty samples) is flagged as diverged', async () => {
  const ws = workspace(sftRows(32));
  const model = path.join(ws.dir, 'model');
  fs.cpSync(ws.model, model, { recursive: true });
  const file = path.join(model, 'model.safetensors');
  const scaled = new Map<string, SafeTensor>();
  for (const [k, t] of readSafetensors(file).tensors) scaled.set(k, /embed/.test(k) && t.data instanceof Float32Array ? { ...t, data: t.data.map((x) => x * 1e30) } : t);
  assert.ok([...scaled.keys()].some((k) => /embed/.test(k)), 'the model has embeddings to scale');
  writeSafetensors(file, scaled);
  const runDir = path.join(ws.dir, 'run');
  const spec = resolve(tinySpec({ ...ws, model }, runDir, { method: 'sft', maxSteps: 8, data: { path: ws.data, maxLength: 32, evalSplit: 0 }, intervals: { logging: 1, eval: 0, checkpoint: 0, sample: 0 } }));
  const res = await runSession(spec, { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const gradNorms = events(runDir).flatMap((e) => (e.type === 'metrics' ? [e.params.metrics['grad_norm']] : []));
  assert.ok(gradNorms.every((g) => g === 0), `grad_norm ${gradNorms.join(', ')}`);
  assert.deepEqual(res.diverged && [res.diverged.reason, res.diverged.step], ['grad-norm-zero', 3]);
});

test('exploding implicit rewards and KL: beyond the first steps and beyond the floor; each reason once', () => {
  const m = new DivergenceMonitor();
  // DPO starts with rewards 0 (policy = reference); healthy drift stays far below the floor of 50.
  for (let s = 1; s <= 20; s++) assert.deepEqual(m.metrics(s, { 'rewards/chosen': -0.1 * s, 'rewards/rejected': -0.3 * s, 'rewards/margins': 0.2 * s }), [], `step ${s}`);
  const found = m.metrics(21, { 'rewards/chosen': 946, 'rewards/margins': 12 });
  assert.deepEqual(found.map((d) => [d.reason, d.step, d.value]), [['rewards-exploding', 21, 946]]);
  assert.match(found[0]?.message ?? '', /^rewards\/chosen 946 at step 21 is beyond ±50 /);
  assert.deepEqual(m.metrics(22, { 'rewards/rejected': -5000 }), [], 'reported once');
  assert.deepEqual(m.metrics(22, { 'objective/kl': 99 }), []);
  assert.deepEqual(m.metrics(23, { 'objective/kl': 5000 }).map((d) => d.reason), ['kl-exploding']);
  // SimPO-like rewards that start large (|x| about 14) get a wider limit from their first steps: 14 + 10 * 14.
  const simpo = new DivergenceMonitor();
  for (let s = 1; s <= 3; s++) assert.deepEqual(simpo.metrics(s, { 'rewards/chosen': -14 }), []);
  assert.deepEqual(simpo.metrics(4, { 'rewards/chosen': -150 }), []);
  assert.deepEqual(simpo.metrics(5, { 'rewards/chosen': -160 }).map((d) => d.reason), ['rewards-exploding']);
  // Non-finite values are the NaN guard's, and metrics not watched are ignored.
  assert.deepEqual(new DivergenceMonitor().metrics(1, { 'rewards/chosen': NaN, loss: 1e9 }), []);
});

test('collapsed samples: every reply empty or one repeated character, where the start model said something', () => {
  assert.ok(collapsedReply(''));
  assert.ok(collapsedReply('\n\n\n'));
  assert.ok(collapsedReply('!!!!!!'));
  assert.ok(collapsedReply('的的的的'));
  assert.ok(!collapsedReply('a'));
  assert.ok(!collapsedReply('no'));
  assert.ok(!collapsedReply('好的'));
  const m = new DivergenceMonitor();
  assert.deepEqual(m.samples(10, ['yes', '\n\n'], ['hello', 'hi']), [], 'one reply still says something');
  const d = m.samples(20, ['\n\n\n', '', '!!!!'], ['hello', 'hi', 'ok']);
  assert.deepEqual(d.map((x) => [x.reason, x.step]), [['samples-collapsed', 20]]);
  assert.match(d[0]?.message ?? '', /^all 3 sample replies at step 20 are empty or one repeated character/);
  assert.deepEqual(m.samples(30, ['', ''], ['hello', 'hi']), [], 'reported once');
  // A start model that cannot write (random weights: every reply "\n\n\n") is not a divergence.
  const mute = new DivergenceMonitor();
  assert.deepEqual(mute.samples(10, ['\n\n', '\n'], ['\n\n\n', '']), []);
  // Online runs have no start replies: their first sample set stands for the start.
  const online = new DivergenceMonitor();
  assert.deepEqual(online.samples(1, ['4', '5']), []);
  assert.deepEqual(online.samples(2, ['', '    ']).map((x) => x.reason), ['samples-collapsed']);
});
