import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runModelPlace } from '../../../../src/core/runs/layout';

test('a model folder inside a run folder is named by its run: final, or a checkpoint step', () => {
  assert.deepEqual(runModelPlace('/ws/.alignment/runs/20261206-031500-dpo-ab12/final'), { runDir: '/ws/.alignment/runs/20261206-031500-dpo-ab12', runId: '20261206-031500-dpo-ab12', what: 'final' });
  assert.deepEqual(runModelPlace('/ws/.alignment/runs/r1/checkpoints/step-40'), { runDir: '/ws/.alignment/runs/r1', runId: 'r1', what: 'step 40' });
  assert.equal(runModelPlace('/ws/models/final'), undefined);
  assert.equal(runModelPlace('/ws/models/tiny'), undefined);
  assert.equal(runModelPlace('/ws/.alignment/runs/r1/checkpoints/corrupt-step-4'), undefined);
});
