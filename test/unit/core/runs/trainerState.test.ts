import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SessionEvent } from '../../../../src/protocol/session';
import { buildTrainerState, findTrainerState, parseTrainerState, pythonJsonToJson, readTrainerState, trainerStateLabel } from '../../../../src/core/runs/trainerState';

// Shaped like the trainer_state.json TRL's DPOTrainer writes (Transformers Trainer.state.save_to_json).
const DPO_STATE = `{
  "best_metric": null,
  "epoch": 1.0,
  "eval_steps": 20,
  "global_step": 40,
  "is_world_process_zero": true,
  "log_history": [
    {"epoch": 0.25, "grad_norm": 12.5, "learning_rate": 4.5e-07, "logits/chosen": -2.1, "logps/chosen": -310.2, "loss": 0.6931, "rewards/accuracies": 0.0, "rewards/margins": 0.0, "step": 10},
    {"epoch": 0.5, "grad_norm": NaN, "learning_rate": 3.3e-07, "loss": 0.6812, "rewards/accuracies": 0.625, "rewards/margins": 0.021, "step": 20},
    {"epoch": 0.5, "eval_loss": 0.675, "eval_rewards/margins": 0.03, "eval_runtime": 3.2, "step": 20},
    {"epoch": 1.0, "grad_norm": Infinity, "loss": 0.66, "rewards/margins": -Infinity, "note": "NaN inside a string stays", "step": 40},
    "not a record",
    {"epoch": 1.0, "step": 40, "total_flos": 0.0, "train_loss": 0.678, "train_runtime": 80.0, "train_samples_per_second": 4.0}
  ],
  "logging_steps": 10,
  "max_steps": 40,
  "num_train_epochs": 1,
  "train_batch_size": 8
}`;

test('reads log_history into per-metric series with TRL names, eval_ metrics and NaN/Infinity as null', () => {
  const st = parseTrainerState(DPO_STATE, 'out/trainer_state.json');
  assert.equal(st.globalStep, 40);
  assert.equal(st.maxSteps, 40);
  assert.deepEqual(st.series.loss.step, [10, 20, 40]);
  assert.deepEqual(st.series.loss.value, [0.6931, 0.6812, 0.66]);
  assert.deepEqual(st.series.grad_norm.value, [12.5, null, null]);
  assert.deepEqual(st.series['rewards/margins'].value, [0, 0.021, null]);
  assert.deepEqual(st.series.eval_loss.step, [20]);
  assert.ok(!('train_loss' in st.series) && !('total_flos' in st.series) && !('note' in st.series));
  assert.equal(st.summary.train_runtime, 80);
  // time spread evenly over train_runtime: step 20 of 40 -> 40 s
  assert.equal(st.series.loss.time[1], 40_000);
  assert.equal(st.settings.train_batch_size, 8);
  assert.deepEqual(st.warnings, ['log_history[4]: not an object (skipped)']);
});

test('NaN inside strings is kept; bare tokens become null', () => {
  assert.equal(pythonJsonToJson('{"a": NaN, "b": "NaN and \\"Infinity\\"", "c": -Infinity}'), '{"a": null, "b": "NaN and \\"Infinity\\"", "c": null}');
});

test('bad files get an error naming the file and position', () => {
  assert.throws(() => parseTrainerState('{\n  "log_history": [\n    {"step": 1,, }\n  ]\n}', 'x/trainer_state.json'), /x\/trainer_state\.json:3:\d+: not valid JSON/);
  assert.throws(() => parseTrainerState('{"global_step": 3}', 'y.json'), /y\.json: no "log_history" list/);
  assert.throws(() => parseTrainerState('[1]', 'z.json'), /z\.json: expected a JSON object/);
  const st = parseTrainerState('{"log_history": [{"loss": 1}, {"step": -1, "loss": 2}, {"step": 3, "loss": 0.5}]}', 'w.json');
  assert.deepEqual(st.series.loss.step, [3]);
  assert.equal(st.warnings.length, 2);
});

test('finds the state in an output folder or its newest checkpoint', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-'));
  try {
    for (const n of ['checkpoint-500', 'checkpoint-1000', 'checkpoint-90']) {
      fs.mkdirSync(path.join(dir, n));
      fs.writeFileSync(path.join(dir, n, 'trainer_state.json'), JSON.stringify({ global_step: Number(n.split('-')[1]), log_history: [{ step: 1, loss: 1 }] }));
    }
    assert.equal(await findTrainerState(dir), path.join(dir, 'checkpoint-1000', 'trainer_state.json'));
    assert.equal((await readTrainerState(dir)).globalStep, 1000);
    assert.equal(trainerStateLabel(path.join(dir, 'checkpoint-1000', 'trainer_state.json')), `${path.basename(dir)}/checkpoint-1000`);
    fs.writeFileSync(path.join(dir, 'trainer_state.json'), DPO_STATE);
    assert.equal(await findTrainerState(dir), path.join(dir, 'trainer_state.json'));
    await assert.rejects(findTrainerState(path.join(dir, 'checkpoint-90', 'nothing')), /ENOENT/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-empty-'));
    await assert.rejects(findTrainerState(empty), /no trainer_state\.json in the folder or in a checkpoint-<step> subfolder/);
    fs.rmSync(empty, { recursive: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('buildTrainerState: TrainerState keys, log_history in step order, a resumed run\'s repeated steps once, nothing past global_step', () => {
  const ev = (type: 'metrics' | 'eval', step: number, metrics: Record<string, number | null>): SessionEvent =>
    ({ type, params: { time: step, step, epoch: step / 10, metrics } }) as SessionEvent;
  const events: SessionEvent[] = [
    ev('metrics', 2, { loss: 0.9 }),
    ev('eval', 2, { eval_loss: 0.95 }),
    ev('metrics', 4, { loss: 0.8 }), // logged before a crash; the resume from step 2 logs step 4 again
    ev('metrics', 4, { loss: 0.7, 'rewards/margins': null }),
    ev('metrics', 6, { loss: 0.6 }), // past this checkpoint
  ];
  const info = { globalStep: 4, maxSteps: 10, epoch: 0.4, numTrainEpochs: 1, loggingSteps: 2, evalSteps: 2, saveSteps: 4, trainBatchSize: 8, numInputTokensSeen: 1234, bestMetric: 0.95 };
  const st = buildTrainerState(events, info);
  assert.deepEqual(st.log_history, [
    { epoch: 0.2, loss: 0.9, step: 2 },
    { epoch: 0.2, eval_loss: 0.95, step: 2 },
    { epoch: 0.4, loss: 0.7, 'rewards/margins': null, step: 4 },
  ]);
  assert.deepEqual(Object.keys(st), [...Object.keys(st)].sort(), 'keys sorted, as save_to_json(sort_keys=True)');
  assert.equal(st.global_step, 4);
  assert.equal(st.num_input_tokens_seen, 1234);
  assert.equal(st.best_metric, 0.95);
  // Our reader reads what we write.
  const back = parseTrainerState(JSON.stringify(st), 'trainer_state.json');
  assert.deepEqual(back.series.loss?.value, [0.9, 0.7]);
  assert.deepEqual(back.series.eval_loss?.step, [2]);
});
