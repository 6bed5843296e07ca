import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunSpec, totalSteps, trainableMethodIds } from '../../../../src/core/runs/spec';
import { METHOD_CARDS } from '../../../../src/core/methods';
import { estimateRun, type ModelShape } from '../../../../src/core/runs/estimate';

const minimal = { method: 'dpo', model: { kind: 'builtin' }, data: { path: 'data/pairs.jsonl' } };

test('a minimal spec gets every default from the method card and the run defaults', () => {
  const r = resolveRunSpec(minimal, '/ws/.alignment/runs/x');
  assert.ok(r.ok, JSON.stringify(r));
  const s = r.spec;
  assert.deepEqual(s.hyperparameters, { beta: 0.1, loss_type: 'sigmoid', label_smoothing: 0, precompute_ref_log_probs: false });
  assert.equal(s.optimizer.learningRate, 1e-6);
  assert.equal(s.data.maxLength, 1024);
  assert.equal(s.data.maxPromptLength, 512);
  assert.equal(s.data.evalSplit, 0.1);
  assert.equal(s.device, 'auto');
  assert.equal(s.seed, 42);
  assert.equal(s.outputDir, '/ws/.alignment/runs/x');
  assert.equal(s.batchSize, 8);
  assert.equal(s.intervals.logging, 10);
  // Resolving a resolved spec changes nothing.
  const again = resolveRunSpec(JSON.parse(JSON.stringify(s)));
  assert.ok(again.ok);
  assert.deepEqual(again.spec, s);
});

test('validation lists every bad field with its path', () => {
  const r = resolveRunSpec({
    method: 'dpo',
    model: { kind: 'hf' },
    data: { path: '', evalSplit: 1, maxLength: 128, maxPromptLength: 256, format: 'trl-unpaired' },
    hyperparameters: { beta: -1, loss_type: 'bogus', gamma: 3 },
    device: 'tpu',
    seed: 1.5,
    batchSize: 0,
    optimizer: { learningRate: 3, schedule: 'step' },
    intervals: { logging: 0 },
    earlyStopping: { metric: 'eval_loss', patience: 0 },
    colour: 'red',
  });
  assert.equal(r.ok, false);
  const paths = r.ok ? [] : r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'batchSize',
    'colour',
    'data.evalSplit',
    'data.format',
    'data.maxPromptLength',
    'data.path',
    'device',
    'earlyStopping.patience',
    'hyperparameters.beta',
    'hyperparameters.gamma',
    'hyperparameters.loss_type',
    'intervals.logging',
    'model.path',
    'optimizer.learningRate',
    'optimizer.schedule',
    'outputDir',
    'seed',
  ]);
  if (!r.ok) {
    const reason = (p: string): string => r.problems.find((x) => x.path === p)!.reason;
    assert.match(reason('data.format'), /trl-unpaired is unpaired data/);
    assert.match(reason('hyperparameters.beta'), /must be > 0/);
    assert.match(reason('colour'), /unknown field/);
  }
});

test('a method whose card is not trainable is refused by name, with the methods that train', () => {
  assert.deepEqual(trainableMethodIds(), METHOD_CARDS.filter((c) => c.trainable).map((c) => c.id));
  assert.ok(trainableMethodIds().includes('dpo'));
  for (const c of METHOD_CARDS.filter((x) => !x.trainable)) {
    const r = resolveRunSpec({ ...minimal, method: c.id, outputDir: 'o', rewardModel: { kind: 'run', runId: 'r1' } });
    assert.equal(r.ok, false, c.id);
    const method = r.ok ? undefined : r.problems.find((p) => p.path === 'method');
    assert.match(method?.reason ?? '', new RegExp(`${c.id}\\) cannot be trained in this version; the methods that train are ${trainableMethodIds().join(', ')}$`), c.id);
  }
  const unknown = resolveRunSpec({ ...minimal, method: 'ppo2', outputDir: 'o' });
  assert.match(unknown.ok ? '' : unknown.problems[0].reason, new RegExp(`unknown method "ppo2" \\(one of ${trainableMethodIds().join(', ')}\\)`));
});

test('method-specific rules: reward model for online RL, KTO batch size, group size', () => {
  const notMethod = (r: ReturnType<typeof resolveRunSpec>): string[] => (r.ok ? [] : r.problems.map((p) => p.path).filter((p) => p !== 'method'));
  // PPO is scored by the run's reward functions (a reward model among them), as GRPO and RLOO.
  const ppo = resolveRunSpec({ ...minimal, method: 'ppo', outputDir: 'o' });
  assert.equal(ppo.ok, false);
  assert.deepEqual(ppo.ok ? [] : ppo.problems.map((p) => p.path), ['rewards']);
  const ok = resolveRunSpec({ ...minimal, method: 'ppo', outputDir: 'o', rewards: { functions: [{ kind: 'reward_model', path: 'runs/rm-1' }] } });
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  const kto = resolveRunSpec({ ...minimal, method: 'kto', outputDir: 'o', batchSize: 1 });
  assert.deepEqual(kto.ok ? [] : kto.problems.map((p) => p.path), ['batchSize']);
  const grpo = resolveRunSpec({ ...minimal, method: 'grpo', outputDir: 'o', batchSize: 12, rewards: { functions: [{ kind: 'json_valid' }] } });
  assert.deepEqual(notMethod(grpo), ['batchSize']);
  const cdpo = resolveRunSpec({ ...minimal, outputDir: 'o', hyperparameters: { loss_type: 'cdpo' } });
  assert.ok(cdpo.ok && cdpo.warnings.some((w) => /label_smoothing 0 is plain DPO/.test(w)));
  const none = resolveRunSpec({ model: { kind: 'builtin' }, data: { path: 'x' }, outputDir: 'o' });
  assert.deepEqual(none.ok ? [] : none.problems.map((p) => p.path), ['method']);
  assert.deepEqual(resolveRunSpec(null).ok, false);
});

test('early stopping on an eval metric needs evaluations', () => {
  const r = resolveRunSpec({ ...minimal, outputDir: 'o', data: { path: 'x', evalSplit: 0 }, earlyStopping: { metric: 'eval_loss' } });
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.problems.map((p) => `${p.path}: ${p.reason}`).join(), /earlyStopping\.metric: eval_loss needs evaluations/);
  const ok = resolveRunSpec({ ...minimal, outputDir: 'o', earlyStopping: { metric: 'eval_rewards/accuracies' } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.spec.earlyStopping, { metric: 'eval_rewards/accuracies', patience: 3, mode: 'max', minDelta: 0 });
  const small = resolveRunSpec({ ...minimal, outputDir: 'o', data: { path: 'x', maxLength: 256 } });
  assert.ok(small.ok);
  assert.equal(small.spec.data.maxPromptLength, 128);
});

test('steps from epochs or maxSteps', () => {
  assert.equal(totalSteps({ epochs: 3, maxSteps: 0, batchSize: 8, gradientAccumulationSteps: 2 }, 270), 3 * 17);
  assert.equal(totalSteps({ epochs: 3, maxSteps: 100, batchSize: 8, gradientAccumulationSteps: 1 }, 270), 100);
});

test('memory estimate: components, LoRA savings and the "too large" warning', () => {
  // A 1.1B Llama-like model (TinyLlama shape).
  const model: ModelShape = { params: 1.1e9, layers: 22, hiddenSize: 2048, heads: 32, vocabSize: 32000 };
  const r = resolveRunSpec({ ...minimal, outputDir: 'o', batchSize: 2, data: { path: 'x', maxLength: 512 } });
  assert.ok(r.ok);
  const dev = { memoryBytes: 32 * 1024 ** 3, flopsPerSecond: 1e12 };
  const full = estimateRun(model, r.spec, dev);
  assert.equal(full.sequencesPerMicroBatch, 4);
  assert.equal(full.memory.weights, 4.4e9);
  assert.equal(full.memory.reference, 4.4e9);
  assert.equal(full.memory.optimizer, 8.8e9);
  assert.equal(full.memory.activations, 22 * 512 * 4 * 2048 * (34 + (5 * 32 * 512) / 2048) * 2);
  assert.equal(full.fits, false);
  assert.match(full.warnings[0], /model too large for memory: the run needs about .* GiB, the device has 32\.0 GiB/);
  assert.match(full.warnings[0], /turn on LoRA/);
  const lora = estimateRun(model, { ...r.spec, lora: { r: 16, alpha: 32, dropout: 0, targetModules: [] } }, dev);
  assert.equal(lora.trainableParams, 22 * 2 * 16 * 2 * 2048);
  assert.equal(lora.memory.reference, 0);
  assert.ok(lora.memory.total < full.memory.total * 0.6);
  assert.ok(lora.fits);
  // Time: ~ (6N + attention) per token + 2N per token for the reference forward.
  const tokens = 4 * 512;
  assert.equal(full.flopsPerStep, (6 * 1.1e9 + 6 * 22 * 512 * 2048) * tokens + 2 * 1.1e9 * tokens);
  assert.equal(full.secondsPerStep, full.flopsPerStep / 1e12);
});
