import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BUILTIN_MODEL_SHAPE, deviceCapacity, estimateForm, launchMethods } from '../../../../src/core/runs/launchInfo';
import { seriesFromEvents } from '../../../../src/core/runs/metricSeries';
import { parseSessionEvents } from '../../../../src/protocol/session';

test('every method card reaches the form with its eight axes and hyperparameter defaults', () => {
  const ms = launchMethods();
  const dpo = ms.find((m) => m.id === 'dpo');
  assert.ok(dpo);
  assert.equal(dpo.axes.length, 8);
  assert.match(dpo.citation, /Rafailov et al\. \(2023\).*2305\.18290/);
  const beta = dpo.params.find((p) => p.name === 'beta');
  assert.equal(beta?.default, 0.1);
  assert.ok(beta && beta.help.length > 10);
  for (const m of ms) assert.equal(m.axes.length, 8, m.id);
});

test('the estimate reports spec problems by path, and memory/time for a valid spec', () => {
  const cap = deviceCapacity('cpu', 4, 16 * 1024 ** 3);
  const bad = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: '' }, hyperparameters: { beta: -1 } }, BUILTIN_MODEL_SHAPE, cap, undefined);
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['data.path', 'hyperparameters.beta']);
  const ok = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'pairs.jsonl', evalSplit: 0.1, maxLength: 128 }, batchSize: 4, epochs: 2 }, BUILTIN_MODEL_SHAPE, cap, 100);
  assert.equal(ok.ok, true);
  assert.equal(ok.totalSteps, 2 * Math.ceil(90 / 4));
  assert.ok((ok.memoryBytes ?? 0) > BUILTIN_MODEL_SHAPE.params * 4 * 2, 'weights + reference at least');
  assert.equal(ok.fits, true);
  assert.ok((ok.totalSeconds ?? 0) > 0);
  const tiny = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' } }, BUILTIN_MODEL_SHAPE, { name: 'tiny', memoryBytes: 1024, flopsPerSecond: 1e9 }, 10);
  assert.equal(tiny.fits, false);
  assert.ok(tiny.warnings.some((w) => /too large for memory/.test(w)));
});

test('session events become per-metric series (eval_ kept apart) and sample sets', () => {
  const t = [
    { type: 'metrics', params: { time: 1, step: 1, epoch: 0.1, metrics: { loss: 0.7, 'rewards/margins': 0 } } },
    { type: 'eval', params: { time: 2, step: 1, epoch: 0.1, metrics: { eval_loss: 0.69 } } },
    { type: 'metrics', params: { time: 3, step: 2, epoch: 0.2, metrics: { loss: null } } },
    { type: 'samples', params: { time: 4, step: 2, samples: [{ prompt: 'p', policy: 'a', reference: 'b', scores: { policy: 1 } }] } },
  ].map((e) => JSON.stringify(e)).join('\n');
  const { series, samples } = seriesFromEvents(parseSessionEvents(t).events);
  assert.deepEqual(series.loss, { step: [1, 2], time: [1, 3], value: [0.7, null] });
  assert.deepEqual(series['rewards/margins'].step, [1]);
  assert.deepEqual(series.eval_loss.value, [0.69]);
  assert.equal(samples.length, 1);
  assert.equal(samples[0].samples[0].reference, 'b');
});
