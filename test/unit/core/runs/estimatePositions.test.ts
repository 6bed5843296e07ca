/**
 * The memory estimate sizes the sequences the model is built for: min(data.maxLength, the model's positions), and
 * says so when data.maxLength is longer. An eval split of 0 warns about intervals.eval only when the user set it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateRun, type ModelShape } from '../../../../src/core/runs/estimate';
import { resolveRunSpec } from '../../../../src/core/runs/spec';

test('--max-length 8192 on a 512-position model is sized at 512 tokens and says the model has 512 positions', () => {
  // GPT-2 small: 124M parameters, 12 layers, 768 wide, 12 heads, 1024 positions; here a 512-position variant.
  const model: ModelShape = { params: 124e6, layers: 12, hiddenSize: 768, heads: 12, vocabSize: 50257, maxPositions: 512 };
  const r = resolveRunSpec({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'x.jsonl', maxLength: 8192 }, outputDir: 'o' });
  assert.ok(r.ok);
  const dev = { memoryBytes: 64 * 1024 ** 3, flopsPerSecond: 1e12 };
  const est = estimateRun(model, r.spec, dev);
  const at512 = estimateRun(model, { ...r.spec, data: { ...r.spec.data, maxLength: 512 } }, dev);
  assert.equal(est.memory.total, at512.memory.total);
  assert.ok(est.fits, est.warnings.join(' '));
  assert.deepEqual(est.warnings, ["data.maxLength 8192 is longer than the model's 512 positions: sequences are cut to 512 tokens."]);
  // The method's default data.maxLength (1024 for DPO) is not the user's choice: no warning for it.
  const byDefault = resolveRunSpec({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'x.jsonl' }, outputDir: 'o' });
  assert.ok(byDefault.ok && byDefault.spec.data.maxLength > 512);
  assert.deepEqual(estimateRun(model, byDefault.spec, dev).warnings, []);
  // Without a known position limit the estimate is what it was.
  const { maxPositions: _unknown, ...noLimit } = model;
  assert.ok(estimateRun(noLimit, r.spec, dev).memory.total > est.memory.total);
});

test('--eval-split 0 warns about intervals.eval only when the spec sets it', () => {
  const base = { method: 'sft', model: { kind: 'builtin' }, outputDir: 'o' };
  const unset = resolveRunSpec({ ...base, data: { path: 'x.jsonl', evalSplit: 0 } });
  assert.ok(unset.ok);
  assert.deepEqual(unset.warnings.filter((w) => /intervals\.eval/.test(w)), []);
  const set = resolveRunSpec({ ...base, data: { path: 'x.jsonl', evalSplit: 0 }, intervals: { eval: 50 } });
  assert.ok(set.ok);
  assert.ok(set.warnings.some((w) => /intervals\.eval is set but data\.evalSplit is 0/.test(w)));
});
