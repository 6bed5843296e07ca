import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canResume, describeDataLoss, EMPTY_RUN_STATE, foldRunEvents, WARNING_LINES } from '../../../../src/core/runs/runState';
import type { SessionEvent } from '../../../../src/protocol/session';

const started = (time: number): SessionEvent => ({ type: 'started', params: { time, runId: 'r', method: 'dpo', device: 'cpu', model: 'builtin:tiny', totalSteps: 10, examples: { train: 8, eval: 2 } } });
const warning = (message: string, dataLoss?: Record<string, number>): SessionEvent => ({ type: 'warning', params: { time: 1, message, ...(dataLoss ? { dataLoss } : {}) } });
const fatal = (expected: boolean): SessionEvent => ({ type: 'error', params: { time: 2, message: 'data.path: no usable rows', fatal: true, ...(expected ? { expected } : {}) } });

test('data loss: each kind as its latest warning counted it, so a resumed session does not double it', () => {
  const skipped = warning('4 of 20 rows skipped:\nfile:3: bad', { rows: 20, rowsSkipped: 4 });
  const cut = warning('truncation (data.maxLength 32): 3 prompts and 5 completions cut, 70 tokens dropped', { promptsTruncated: 3, completionsTruncated: 5, tokensDropped: 70 });
  const once = foldRunEvents(EMPTY_RUN_STATE, [skipped, cut, started(3)]);
  const resumed = foldRunEvents(once, [skipped, cut, started(4)]);
  assert.deepEqual(resumed.dataLoss, { rows: 20, rowsSkipped: 4, promptsTruncated: 3, completionsTruncated: 5, tokensDropped: 70 });
  assert.deepEqual(describeDataLoss(resumed.dataLoss), ['4 of 20 rows skipped', '3 prompts and 5 completions cut (70 tokens dropped)']);
  assert.deepEqual(resumed.warningLines, ['4 of 20 rows skipped:', 'truncation (data.maxLength 32): 3 prompts and 5 completions cut, 70 tokens dropped'], 'first lines, each once');
  assert.equal(resumed.warnings, 4);
  assert.deepEqual(describeDataLoss(undefined), []);
  assert.deepEqual(describeDataLoss({ examplesUnusable: 2 }), ['2 examples not usable by the method']);
  const many = foldRunEvents(EMPTY_RUN_STATE, Array.from({ length: 30 }, (_, i) => warning(`w${i}`)));
  assert.equal(many.warningLines.length, WARNING_LINES);
});

test('resume is offered where it can work: stopped runs; failed runs with a checkpoint or an unexpected failure', () => {
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1), { type: 'finished', params: { time: 2, reason: 'stopped', step: 3, metrics: {}, path: '' } }])), true);
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1), fatal(true)])), false, 'bad data fails the same way again');
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1), fatal(false)])), true, 'a crash may not repeat');
  const checkpoint: SessionEvent = { type: 'checkpoint', params: { time: 2, step: 4, path: 'checkpoints/step-4' } };
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1), checkpoint, fatal(true)])), true, 'continues from its checkpoint');
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1)])), false, 'running');
  assert.equal(canResume(foldRunEvents(EMPTY_RUN_STATE, [started(1), { type: 'finished', params: { time: 2, reason: 'completed', step: 10, metrics: {}, path: 'final' } }])), false, 'finished: clone instead');
});
