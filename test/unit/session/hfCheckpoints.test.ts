/**
 * Checkpoints and final folders that transformers, PEFT and TRL read: Python's standard library (json + struct,
 * no torch; hf_folder_check.py) reads them and checks HF tensor names and shapes, transformers' config keys for
 * the model_type, PEFT's adapter names and TrainerState's schema. Our own trainer-state reader (the dashboard's
 * "Open Trainer State") reads the same files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findTrainerState, readTrainerState, trainerStateLabel } from '../../../src/core/runs/trainerState';
import { resolveRunSpec, type RunSpec } from '../../../src/core/runs/spec';
import { loadHfModel } from '../../../src/engine/models/hfMapping';
import { runSession } from '../../../src/session/runSession';
import { cliMain } from '../../../src/cli/main';
import { tinySpec, workspace } from './sessionFixtures';

const CHECK = path.join(__dirname, 'hf_folder_check.py');

function resolve(raw: Record<string, unknown>): RunSpec {
  const r = resolveRunSpec(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

/** Runs hf_folder_check.py; returns what it read (fails the test with its stderr when the layout is wrong). */
function python(kind: 'model' | 'adapter' | 'state', folder: string): Record<string, unknown> {
  const r = spawnSync('python3', [CHECK, kind, folder], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${kind} ${folder}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface LogRecord {
  readonly step: number;
  readonly [k: string]: unknown;
}

test('a DPO run\'s checkpoints and final folder are Hugging Face folders with a TRL trainer_state.json', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const res = await runSession(resolve(tinySpec(ws, runDir)), { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const step4 = path.join(runDir, 'checkpoints', 'step-4');
  const final = path.join(runDir, 'final');
  for (const dir of [step4, final]) {
    const m = python('model', dir);
    assert.equal(m.model_type, 'llama');
    assert.deepEqual(m.dtypes, ['F32']);
  }
  const s4 = python('state', step4) as { global_step: number; max_steps: number; log_history: LogRecord[] };
  assert.equal(s4.global_step, 4);
  assert.equal(s4.max_steps, 6);
  // Logged at 2 and 4 (train) and 3 (eval), in step order; the eval at 6 comes after this checkpoint.
  assert.deepEqual(s4.log_history.map((r) => r.step), [2, 3, 4]);
  for (const k of ['loss', 'grad_norm', 'learning_rate', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'epoch']) assert.ok(k in (s4.log_history[0] as LogRecord), k);
  assert.ok('eval_loss' in (s4.log_history[1] as LogRecord) && 'eval_rewards/accuracies' in (s4.log_history[1] as LogRecord));
  const sf = python('state', final) as { global_step: number; log_history: LogRecord[] };
  assert.equal(sf.global_step, 6);
  assert.deepEqual(sf.log_history.map((r) => r.step), [2, 3, 4, 6, 6]);
  // The engine loads its own checkpoint folder as a model too.
  assert.equal(loadHfModel(step4).head, 'lm');

  // "Open Trainer State" on the run folder, a checkpoint folder and the file.
  assert.equal(await findTrainerState(runDir), path.join(final, 'trainer_state.json'));
  const st = await readTrainerState(step4);
  assert.deepEqual(st.series.loss?.step, [2, 4]);
  assert.deepEqual(st.series.eval_loss?.step, [3]);
  assert.equal(st.globalStep, 4);
  assert.equal(trainerStateLabel(path.join(step4, 'trainer_state.json')), 'run/step-4');
  assert.equal(trainerStateLabel(path.join(final, 'trainer_state.json')), 'run/final');
});

test('a LoRA run saves PEFT adapters in its checkpoints and <run>/adapter, and the merged model in final', async () => {
  const ws = workspace();
  const runDir = path.join(ws.dir, 'run');
  const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
  const res = await runSession(resolve(tinySpec(ws, runDir, { lora, maxSteps: 4, intervals: { logging: 2, eval: 0, checkpoint: 2, sample: 0 } })), { runDir, cacheDir: ws.dir, threads: 1 });
  assert.equal(res.reason, 'completed', res.error);
  const step2 = path.join(runDir, 'checkpoints', 'step-2');
  const a = python('adapter', step2) as { r: number; target_modules: string[]; tensors: string[] };
  assert.equal(a.r, 4);
  assert.deepEqual(a.target_modules, ['q_proj', 'v_proj']);
  assert.ok(a.tensors.includes('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'), a.tensors.join(', '));
  assert.ok(!fs.existsSync(path.join(step2, 'model.safetensors')), 'a LoRA checkpoint holds the adapter, as TRL saves a PEFT run');
  assert.ok(fs.existsSync(path.join(step2, 'tokenizer.json')));
  python('state', step2);
  python('model', path.join(runDir, 'final'));
  python('adapter', path.join(runDir, 'adapter'));
  assert.ok(!fs.existsSync(path.join(runDir, 'final', 'adapter_config.json')), 'no adapter config at the root, where transformers would read the folder as an adapter');

  // Merged on request: the final adapter merged into its base is the final merged model, tensor for tensor.
  const merged = path.join(ws.dir, 'merged');
  assert.equal(await cliMain(['merge-lora', path.join(runDir, 'adapter'), '--out', merged]), 0);
  python('model', merged);
  const a1 = loadHfModel(merged).weights;
  const a2 = loadHfModel(path.join(runDir, 'final')).weights;
  assert.deepEqual([...a1.keys()].sort(), [...a2.keys()].sort());
  for (const [k, t] of a1) assert.deepEqual(t.data, a2.get(k)?.data, k);
  // A checkpoint's adapter merges too, and differs from the base (the adapters trained).
  const mergedStep2 = path.join(ws.dir, 'merged-2');
  assert.equal(await cliMain(['merge-lora', step2, '--out', mergedStep2]), 0);
  const base = loadHfModel(ws.model).weights;
  const q = 'layers.0.attn.q.weight';
  assert.notDeepEqual(loadHfModel(mergedStep2).weights.get(q)?.data, base.get(q)?.data);
  assert.equal(await cliMain(['merge-lora', ws.dir, '--out', mergedStep2]), 1, 'a folder without an adapter is a clear error');
});
