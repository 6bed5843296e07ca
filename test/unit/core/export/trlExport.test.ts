/**
 * The TRL export: every method that exports gives a train.py that compiles (`python3 -m py_compile`) and uses
 * only TRL names checked against TRL's current source (huggingface/trl, main, July 2026), listed below with the
 * file each was seen in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliMain } from '../../../../src/cli/main';
import type { Example } from '../../../../src/core/datasets/examples';
import { TRL_EXPORT_METHODS, TRL_NAMES, TrlExportError, trlExportFiles } from '../../../../src/core/export/trlExport';
import { resolveRunSpec, type RunSpec } from '../../../../src/core/runs/spec';

/** TRL names, checked in TRL's source: name -> the file that defines it. */
const CHECKED: Record<string, Record<string, string>> = {
  trl: {
    DPOConfig: 'trl/__init__.py (_import_structure["trainer"]), trl/trainer/dpo_config.py',
    DPOTrainer: 'trl/__init__.py, trl/trainer/dpo_trainer.py',
    'DPOConfig.beta': 'trl/trainer/dpo_config.py',
    'DPOConfig.loss_type': 'trl/trainer/dpo_config.py (list[str]; sigmoid, hinge, ipo, robust, sigmoid_norm, ...; no cdpo)',
    'DPOConfig.label_smoothing': 'trl/trainer/dpo_config.py (Robust DPO flip rate in [0, 0.5))',
    'DPOConfig.precompute_ref_log_probs': 'trl/trainer/dpo_config.py',
    'DPOConfig.max_length': 'trl/trainer/dpo_config.py',
    KTOConfig: 'trl/__init__.py, trl/trainer/kto_config.py',
    KTOTrainer: 'trl/__init__.py, trl/trainer/kto_trainer.py',
    'KTOConfig.beta': 'trl/trainer/kto_config.py',
    'KTOConfig.desirable_weight': 'trl/trainer/kto_config.py',
    'KTOConfig.undesirable_weight': 'trl/trainer/kto_config.py',
    'KTOConfig.precompute_ref_log_probs': 'trl/trainer/kto_config.py',
    'KTOConfig.max_length': 'trl/trainer/kto_config.py',
    SFTConfig: 'trl/__init__.py, trl/trainer/sft_config.py',
    SFTTrainer: 'trl/__init__.py, trl/trainer/sft_trainer.py',
    'SFTConfig.completion_only_loss': 'trl/trainer/sft_config.py',
    'SFTConfig.assistant_only_loss': 'trl/trainer/sft_config.py',
    'SFTConfig.packing': 'trl/trainer/sft_config.py',
    'SFTConfig.max_length': 'trl/trainer/sft_config.py',
    RewardConfig: 'trl/__init__.py, trl/trainer/reward_config.py',
    RewardTrainer: 'trl/__init__.py, trl/trainer/reward_trainer.py',
    'RewardConfig.center_rewards_coefficient': 'trl/trainer/reward_config.py',
    'RewardConfig.max_length': 'trl/trainer/reward_config.py',
  },
  'trl.experimental.cpo': {
    CPOConfig: 'trl/experimental/cpo/__init__.py, cpo_config.py',
    CPOTrainer: 'trl/experimental/cpo/__init__.py, cpo_trainer.py',
    'CPOConfig.beta': 'trl/experimental/cpo/cpo_config.py',
    'CPOConfig.cpo_alpha': 'trl/experimental/cpo/cpo_config.py',
    'CPOConfig.simpo_gamma': 'trl/experimental/cpo/cpo_config.py',
    'CPOConfig.label_smoothing': 'trl/experimental/cpo/cpo_config.py',
    'CPOConfig.loss_type': 'trl/experimental/cpo/cpo_config.py ("simpo")',
    'CPOConfig.max_length': 'trl/experimental/cpo/cpo_config.py',
  },
  'trl.experimental.orpo': {
    ORPOConfig: 'trl/experimental/orpo/__init__.py, orpo_config.py',
    ORPOTrainer: 'trl/experimental/orpo/__init__.py, orpo_trainer.py',
    'ORPOConfig.beta': 'trl/experimental/orpo/orpo_config.py',
    'ORPOConfig.max_length': 'trl/experimental/orpo/orpo_config.py',
  },
};

/** transformers' TrainingArguments fields the scripts set (training_args.py), which every TRL config inherits. */
const TRAINING_ARGUMENTS = new Set([
  'output_dir', 'num_train_epochs', 'max_steps', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'learning_rate',
  'lr_scheduler_type', 'warmup_ratio', 'weight_decay', 'max_grad_norm', 'logging_steps', 'eval_strategy', 'eval_steps', 'save_steps', 'seed', 'bf16',
]);

const source = { file: 'data.jsonl', line: 1 };
const EXAMPLES: Record<string, Example[]> = {
  preference: [
    { id: 'a', source, format: 'trl-preference', kind: 'preference', style: 'conversational', prompt: [{ role: 'user', content: 'Say "yes"' }], chosen: [{ role: 'assistant', content: 'yes' }], rejected: [{ role: 'assistant', content: 'no' }], margin: 2 },
    { id: 'b', source, format: 'trl-preference', kind: 'preference', style: 'text', prompt: 'Q: 2+2?', chosen: ' 4', rejected: ' 5' },
  ],
  unpaired: [{ id: 'u', source, format: 'trl-unpaired', kind: 'unpaired', label: false, style: 'text', prompt: 'Q:', completion: ' no' }],
  sft: [{ id: 's', source, format: 'trl-messages', kind: 'sft', style: 'messages', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] }],
};

function spec(method: string, over: Record<string, unknown> = {}): RunSpec {
  const r = resolveRunSpec({ method, model: { kind: 'hf', path: '/models/tiny' }, data: { path: 'data.jsonl', evalSplit: 0.5 }, outputDir: '/runs/r1', ...over });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

function examplesFor(method: string): Example[] {
  return method === 'kto' ? (EXAMPLES.unpaired as Example[]) : method === 'sft' ? (EXAMPLES.sft as Example[]) : (EXAMPLES.preference as Example[]);
}

/** Writes the export and checks train.py: compiles, and each TRL name it imports or sets is a checked one. */
function checkScript(s: RunSpec): string {
  const ex = examplesFor(s.method);
  const files = trlExportFiles({ spec: s, runLabel: 'r1', model: '/models/tiny', split: { train: ex, eval: ex.slice(0, 1) } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-export-'));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, f.path), f.text);
  }
  const py = spawnSync('python3', ['-m', 'py_compile', path.join(dir, 'train.py')], { encoding: 'utf8' });
  assert.equal(py.status, 0, `${s.method}: ${py.stderr}`);
  const text = files.find((f) => f.path === 'train.py')?.text ?? '';
  const imports = [...text.matchAll(/^from (trl[\w.]*) import (.+)$/gm)];
  assert.equal(imports.length, 1, text);
  const [, mod, names] = imports[0] as RegExpMatchArray;
  const config = (names as string).split(', ')[0] as string;
  for (const n of (names as string).split(', ')) assert.ok(CHECKED[mod as string]?.[n], `${mod}.${n} is not a checked TRL name`);
  const kwargs = [...(/args = \w+\(\n([\s\S]*?)\n {4}\)/.exec(text)?.[1] ?? '').matchAll(/^ {8}(\w+)=/gm)].map((m) => m[1] as string);
  assert.ok(kwargs.length > 5);
  for (const k of kwargs) assert.ok(TRAINING_ARGUMENTS.has(k) || CHECKED[mod as string]?.[`${config}.${k}`], `${s.method}: ${config}(${k}=...) is neither a TrainingArguments field nor a checked ${config} field`);
  for (const f of ['train.jsonl', 'eval.jsonl', 'README.md', 'accelerate/multi_gpu.yaml', 'accelerate/deepspeed_zero2.yaml', 'accelerate/deepspeed_zero3.yaml']) assert.ok(files.some((x) => x.path === f), f);
  return text;
}

test('every TRL name the exporter can use is in the checked list', () => {
  for (const [mod, names] of Object.entries(TRL_NAMES)) for (const n of names) assert.ok(CHECKED[mod]?.[n], `${mod}: ${n}`);
});

test('each exported method gives a train.py that compiles and uses only checked TRL names', () => {
  assert.deepEqual([...TRL_EXPORT_METHODS].sort(), ['cpo', 'dpo', 'kto', 'orpo', 'reward', 'sft', 'simpo']);
  for (const m of TRL_EXPORT_METHODS) checkScript(spec(m));
  const simpo = checkScript(spec('simpo'));
  assert.match(simpo, /from trl\.experimental\.cpo import CPOConfig, CPOTrainer/);
  assert.match(simpo, /loss_type="simpo"/);
  assert.match(checkScript(spec('orpo')), /from trl\.experimental\.orpo import ORPOConfig, ORPOTrainer/);
  const lora = checkScript(spec('reward', { lora: { r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj'] } }));
  assert.match(lora, /LoraConfig\(\n\s+r=8, lora_alpha=16, lora_dropout=0,\n\s+target_modules=\["q_proj", "k_proj"\], task_type="SEQ_CLS"/);
});

test('DPO: cdpo becomes TRL\'s robust loss with the same label smoothing; the rest keep their names', () => {
  const cdpo = checkScript(spec('dpo', { hyperparameters: { loss_type: 'cdpo', label_smoothing: 0.1, beta: 0.2 } }));
  assert.match(cdpo, /loss_type=\["robust"\],/);
  assert.match(cdpo, /label_smoothing=0\.1,/);
  assert.match(cdpo, /beta=0\.2,/);
  assert.match(cdpo, /# loss_type cdpo exported as robust/);
  assert.match(checkScript(spec('dpo', { hyperparameters: { loss_type: 'ipo' } })), /loss_type=\["ipo"\],/);
});

test('optimizer.paramGroups, which a TRL config cannot hold, is a note naming the groups', () => {
  const s = checkScript(spec('sft', { optimizer: { learningRate: 1e-4, paramGroups: [{ params: ['model.norm.weight'], learningRate: 0.1 }] } }));
  assert.match(s, /learning_rate=0\.0001,/);
  assert.match(s, /# optimizer\.paramGroups \(model\.norm\.weight at lr 0\.1\) is not exported/);
});

test('methods without a TRL trainer here are refused with the list of those that export', () => {
  const s = spec('reward-regression');
  assert.throws(() => trlExportFiles({ spec: s, runLabel: 'r', model: 'm', split: { train: [], eval: [] } }), (e: Error) => e instanceof TrlExportError && /reward-regression runs cannot be exported for TRL: exports cover sft, reward, dpo/.test(e.message));
});

test('alignment export-trl writes the run\'s split in TRL format from its run folder', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'trl-export-run-'));
  const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ prompt: `q${i}`, chosen: ' yes', rejected: ' no' }));
  fs.writeFileSync(path.join(ws, 'data.jsonl'), rows.join('\n') + '\n');
  const runDir = path.join(ws, 'run');
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify({ method: 'dpo', model: { kind: 'hf', path: path.join(ws, 'model') }, data: { path: path.join(ws, 'data.jsonl'), evalSplit: 0.2 } }));
  const out = path.join(ws, 'export');
  assert.equal(await cliMain(['export-trl', runDir, '--out', out]), 0);
  const read = (f: string): Record<string, unknown>[] => fs.readFileSync(path.join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const train = read('train.jsonl');
  const evalRows = read('eval.jsonl');
  assert.equal(train.length + evalRows.length, 10);
  assert.equal(evalRows.length, 2);
  assert.deepEqual(Object.keys(train[0] as object), ['prompt', 'chosen', 'rejected']);
  assert.equal(spawnSync('python3', ['-m', 'py_compile', path.join(out, 'train.py')]).status, 0);
  assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /accelerate launch --config_file accelerate\/deepspeed_zero3\.yaml train\.py/);
  // The dashboard follows the TRL run: train.py writes output/trainer_state.json at every log.
  const script = fs.readFileSync(path.join(out, 'train.py'), 'utf8');
  assert.match(script, /state\.save_to_json\(os\.path\.join\(args\.output_dir, "trainer_state\.json"\)\)/);
  assert.match(script, /callbacks=\[SaveStateOnLog\(\)\],/);
  assert.equal(await cliMain(['export-trl', ws, '--out', out]), 1, 'a folder without spec.json is a clear error');
});
