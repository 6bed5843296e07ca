/**
 * A run handed to TRL for scale-out: the files of an export folder (README.md lists them and the launch
 * commands), made from the run's spec and its data split:
 *
 *   train.jsonl, eval.jsonl   the run's train/eval split in TRL's dataset format (the same seeded split the session
 *                             trains on): preference {prompt, chosen, rejected[, margin]}, unpaired {prompt,
 *                             completion, label}, SFT {prompt, completion} or {messages}
 *   train.py                  the run's method and hyperparameters with TRL's current API (trl/trainer/*_config.py;
 *                             CPO, SimPO and ORPO from trl.experimental, where current TRL keeps them)
 *   accelerate/*.yaml         multi-GPU (DDP), DeepSpeed ZeRO-2 and ZeRO-3 configs, as TRL's
 *                             examples/accelerate_configs
 *
 * Each TRL name the script uses is in TRL_NAMES, which the test checks against TRL's source. Only the offline
 * methods TRL has a trainer for export; the others are refused with the reason.
 */
import type { Example, Message } from '../datasets/examples';
import type { HyperparameterValue, MethodId } from '../methods';
import type { RunSpec } from '../runs/spec';
import { UserError } from '../../util/errors';

/** The TRL trainer a method runs on, where it is imported from, and the config fields our hyperparameters fill. */
interface TrlTarget {
  readonly module: 'trl' | 'trl.experimental.cpo' | 'trl.experimental.orpo';
  readonly config: string;
  readonly trainer: string;
  /** Our hyperparameter names that are the config's fields of the same name. */
  readonly fields: readonly string[];
  /** Config fields the method fixes (SimPO is CPO with loss_type "simpo"). */
  readonly fixed?: Readonly<Record<string, HyperparameterValue>>;
}

const TARGETS: Partial<Record<MethodId, TrlTarget>> = {
  sft: { module: 'trl', config: 'SFTConfig', trainer: 'SFTTrainer', fields: ['completion_only_loss', 'assistant_only_loss', 'packing'] },
  reward: { module: 'trl', config: 'RewardConfig', trainer: 'RewardTrainer', fields: ['center_rewards_coefficient'] },
  dpo: { module: 'trl', config: 'DPOConfig', trainer: 'DPOTrainer', fields: ['beta', 'loss_type', 'label_smoothing', 'precompute_ref_log_probs'] },
  kto: { module: 'trl', config: 'KTOConfig', trainer: 'KTOTrainer', fields: ['beta', 'desirable_weight', 'undesirable_weight', 'precompute_ref_log_probs'] },
  cpo: { module: 'trl.experimental.cpo', config: 'CPOConfig', trainer: 'CPOTrainer', fields: ['beta', 'cpo_alpha', 'label_smoothing'] },
  simpo: { module: 'trl.experimental.cpo', config: 'CPOConfig', trainer: 'CPOTrainer', fields: ['beta', 'simpo_gamma', 'cpo_alpha'], fixed: { loss_type: 'simpo' } },
  orpo: { module: 'trl.experimental.orpo', config: 'ORPOConfig', trainer: 'ORPOTrainer', fields: ['beta'] },
};

/** Methods that export. */
export const TRL_EXPORT_METHODS: readonly MethodId[] = Object.keys(TARGETS) as MethodId[];

/**
 * Every name of TRL the generated scripts use: module -> names. Config fields count as names of their config
 * class; TrainingArguments fields (output_dir, learning_rate, ...) belong to transformers and are not listed.
 */
export const TRL_NAMES: Readonly<Record<string, readonly string[]>> = (() => {
  const out: Record<string, Set<string>> = {};
  for (const t of Object.values(TARGETS)) {
    const s = (out[t.module] ??= new Set());
    s.add(t.config).add(t.trainer);
    for (const f of [...t.fields, ...Object.keys(t.fixed ?? {})]) s.add(`${t.config}.${f}`);
    s.add(`${t.config}.max_length`);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
})();

export class TrlExportError extends UserError {}

/** A file of the export folder: path relative to it, and its text. */
export interface ExportFile {
  readonly path: string;
  readonly text: string;
}

export interface TrlExportInput {
  readonly spec: RunSpec;
  /** The run's id or name, for comments. */
  readonly runLabel: string;
  /** The base model: a local folder or a Hub id, the script's default `--model`. */
  readonly model: string;
  readonly split: { readonly train: readonly Example[]; readonly eval: readonly Example[] };
}

/** The files of the export folder (see module comment). Throws TrlExportError for a method TRL cannot run. */
export function trlExportFiles(input: TrlExportInput): ExportFile[] {
  const { spec } = input;
  const target = TARGETS[spec.method];
  if (!target) throw new TrlExportError(`${spec.method} runs cannot be exported for TRL: exports cover ${TRL_EXPORT_METHODS.join(', ')}`);
  const { args, notes } = configArgs(spec, target);
  return [
    { path: 'train.jsonl', text: jsonl(input.split.train, spec) },
    { path: 'eval.jsonl', text: jsonl(input.split.eval, spec) },
    { path: 'train.py', text: script(input, target, args, notes) },
    { path: 'accelerate/multi_gpu.yaml', text: accelerateYaml(null) },
    { path: 'accelerate/deepspeed_zero2.yaml', text: accelerateYaml(2) },
    { path: 'accelerate/deepspeed_zero3.yaml', text: accelerateYaml(3) },
    { path: 'README.md', text: readme(input, target, notes) },
  ];
}

/** One TRL-format row of an example (module comment). */
export function trlRow(e: Example, withMargin: boolean): Record<string, unknown> {
  const msgs = (m: readonly Message[]): { role: string; content: string }[] => m.map((x) => ({ role: x.role, content: x.content }));
  const v = (x: string | readonly Message[]): unknown => (typeof x === 'string' ? x : msgs(x));
  switch (e.kind) {
    case 'preference':
      return { prompt: v(e.prompt), chosen: v(e.chosen), rejected: v(e.rejected), ...(withMargin && e.margin !== undefined ? { margin: e.margin } : {}) };
    case 'unpaired':
      return { prompt: v(e.prompt), completion: v(e.completion), label: e.label };
    case 'sft':
      return e.style === 'messages' ? { messages: msgs(e.messages) } : { prompt: v(e.prompt), completion: v(e.completion) };
    case 'prompt':
      return { prompt: v(e.prompt) };
  }
}

function jsonl(rows: readonly Example[], spec: RunSpec): string {
  const margin = spec.hyperparameters.use_margin === true;
  return rows.map((e) => JSON.stringify(trlRow(e, margin)) + '\n').join('');
}

/** A Python literal of a JSON-like value. */
function py(v: HyperparameterValue | readonly string[]): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
}

/** The config's keyword arguments, and notes on what was translated or left out. */
function configArgs(spec: RunSpec, t: TrlTarget): { args: [string, string][]; notes: string[] } {
  const notes: string[] = [];
  const sched = spec.maxSteps > 0 ? [['max_steps', py(spec.maxSteps)]] : [['num_train_epochs', py(spec.epochs)]];
  const o = spec.optimizer;
  const every = spec.intervals;
  const args: [string, string][] = [
    ['output_dir', 'cli.output_dir'],
    ...(sched as [string, string][]),
    ['per_device_train_batch_size', py(spec.batchSize)],
    ['gradient_accumulation_steps', py(spec.gradientAccumulationSteps)],
    ['learning_rate', py(o.learningRate)],
    ['lr_scheduler_type', py(o.schedule)],
    ['warmup_ratio', py(o.warmupRatio)],
    ['weight_decay', py(o.weightDecay)],
    ['max_grad_norm', py(o.maxGradNorm)],
    ['logging_steps', py(every.logging)],
    ...(every.eval > 0 && spec.data.evalSplit > 0 ? ([['eval_strategy', '"steps"'], ['eval_steps', py(every.eval)]] as [string, string][]) : []),
    ...(every.checkpoint > 0 ? ([['save_steps', py(every.checkpoint)]] as [string, string][]) : []),
    ['seed', py(spec.seed)],
    ['bf16', 'cli.bf16'],
    ['max_length', py(spec.data.maxLength)],
  ];
  if (o.paramGroups?.length) notes.push(`optimizer.paramGroups (${o.paramGroups.map((g) => `${g.params.join(', ')} at lr ${g.learningRate}`).join('; ')}) is not exported: TRL's config has one learning rate (pass the groups to the trainer's optimizer yourself)`);
  if (spec.data.maxPromptLength !== undefined) notes.push(`maxPromptLength ${spec.data.maxPromptLength} is not exported: current TRL truncates prompt + completion to max_length only`);
  for (const [k, v] of Object.entries(spec.hyperparameters)) {
    if (!t.fields.includes(k)) {
      if (k === 'use_margin') notes.push(v === true ? 'use_margin: each row carries its margin column, which RewardTrainer subtracts' : 'use_margin off: rows carry no margin column');
      else notes.push(`${k} = ${String(v)} has no field in TRL's ${t.config} and is not exported`);
      continue;
    }
    if (k === 'loss_type' && t.config === 'DPOConfig') args.push([k, py([dpoLossType(v, spec, notes)])]);
    else args.push([k, py(v)]);
  }
  for (const [k, v] of Object.entries(t.fixed ?? {})) args.push([k, py(v)]);
  return { args, notes };
}

/**
 * TRL's DPO `loss_type` for ours. Current TRL has no `cdpo`: its label-noise loss is `robust` (Robust DPO, label
 * flip rate `label_smoothing` in [0, 0.5)), which TRL documents for noisy preferences; its `sigmoid` loss takes no
 * label smoothing any more, so `robust` is the one that keeps the assumed flip rate.
 */
function dpoLossType(v: HyperparameterValue, spec: RunSpec, notes: string[]): string {
  if (v !== 'cdpo') return String(v);
  const eps = spec.hyperparameters.label_smoothing;
  if (typeof eps === 'number' && eps >= 0.5) throw new TrlExportError(`hyperparameters.label_smoothing ${eps}: TRL's robust loss, which stands in for cdpo, needs a flip rate below 0.5`);
  notes.push('loss_type cdpo exported as robust: current TRL has no cdpo; robust (Robust DPO) is its loss for a label-flip rate label_smoothing');
  return 'robust';
}

function script(input: TrlExportInput, t: TrlTarget, args: readonly [string, string][], notes: readonly string[]): string {
  const { spec } = input;
  const lora = spec.lora;
  const taskType = spec.method === 'reward' ? 'SEQ_CLS' : 'CAUSAL_LM';
  const hasEval = input.split.eval.length > 0;
  const lines = [
    `"""${spec.method} run ${input.runLabel}, exported by Alignment Studio for TRL. Launch commands: README.md."""`,
    'import argparse',
    'import os',
    '',
    'from datasets import load_dataset',
    'from transformers import TrainerCallback',
    ...(lora ? ['from peft import LoraConfig'] : []),
    `from ${t.module} import ${t.config}, ${t.trainer}`,
    '',
    'HERE = os.path.dirname(os.path.abspath(__file__))',
    '',
    '',
    'class SaveStateOnLog(TrainerCallback):',
    '    """Writes trainer_state.json into output_dir at every log, so a dashboard pointed there follows the run."""',
    '',
    '    def on_log(self, args, state, control, **kwargs):',
    '        if state.is_world_process_zero:',
    '            os.makedirs(args.output_dir, exist_ok=True)',
    '            state.save_to_json(os.path.join(args.output_dir, "trainer_state.json"))',
    '',
    '',
    'def main():',
    '    parser = argparse.ArgumentParser()',
    input.model
      ? `    parser.add_argument("--model", default=${JSON.stringify(input.model)}, help="base model: a local folder or a Hub id")`
      : '    parser.add_argument("--model", required=True, help="base model: a local folder or a Hub id (the run used the built-in model: alignment export-trl writes its folder here)")',
    '    parser.add_argument("--output_dir", default=os.path.join(HERE, "output"))',
    '    parser.add_argument("--fp32", action="store_true", help="train in float32 instead of bfloat16")',
    '    cli = parser.parse_args()',
    '    cli.bf16 = not cli.fp32',
    `    files = {"train": os.path.join(HERE, "train.jsonl")${hasEval ? ', "eval": os.path.join(HERE, "eval.jsonl")' : ''}}`,
    '    data = load_dataset("json", data_files=files)',
    ...notes.map((n) => `    # ${n}`),
    `    args = ${t.config}(`,
    ...args.map(([k, v]) => `        ${k}=${v},`),
    '    )',
    ...(lora
      ? [
          '    peft_config = LoraConfig(',
          `        r=${lora.r}, lora_alpha=${py(lora.alpha)}, lora_dropout=${py(lora.dropout)},`,
          `        target_modules=${py(lora.targetModules.length ? lora.targetModules : ['q_proj', 'v_proj'])}, task_type=${JSON.stringify(taskType)},`,
          '    )',
        ]
      : []),
    `    trainer = ${t.trainer}(`,
    '        model=cli.model,',
    '        args=args,',
    '        train_dataset=data["train"],',
    ...(hasEval ? ['        eval_dataset=data["eval"],'] : []),
    ...(lora ? ['        peft_config=peft_config,'] : []),
    '        callbacks=[SaveStateOnLog()],',
    '    )',
    '    trainer.train()',
    '    trainer.save_model(args.output_dir)',
    '',
    '',
    'if __name__ == "__main__":',
    '    main()',
    '',
  ];
  return lines.join('\n');
}

/** An accelerate config as TRL's examples/accelerate_configs: DDP (`zero` null) or DeepSpeed ZeRO-2/3. */
function accelerateYaml(zero: 2 | 3 | null): string {
  const ds =
    zero === null
      ? ['distributed_type: MULTI_GPU', 'gpu_ids: all']
      : [
          'deepspeed_config:',
          '  deepspeed_multinode_launcher: standard',
          '  offload_optimizer_device: none',
          '  offload_param_device: none',
          `  zero3_init_flag: ${zero === 3}`,
          ...(zero === 3 ? ['  zero3_save_16bit_model: true'] : []),
          `  zero_stage: ${zero}`,
          'distributed_type: DEEPSPEED',
        ];
  return [
    'compute_environment: LOCAL_MACHINE',
    'debug: false',
    ...ds,
    "downcast_bf16: 'no'",
    'machine_rank: 0',
    'main_training_function: main',
    'mixed_precision: bf16',
    'num_machines: 1',
    'num_processes: 8',
    'rdzv_backend: static',
    'same_network: true',
    'tpu_env: []',
    'tpu_use_cluster: false',
    'tpu_use_sudo: false',
    'use_cpu: false',
    '',
  ].join('\n');
}

function readme(input: TrlExportInput, t: TrlTarget, notes: readonly string[]): string {
  const { spec } = input;
  return [
    `# ${spec.method} run ${input.runLabel} for TRL`,
    '',
    `Exported by Alignment Studio: the run's data split, its method as TRL's \`${t.trainer}\` (\`from ${t.module} import ${t.config}, ${t.trainer}\`) with the run's hyperparameters, and launch configs.`,
    '',
    '| File | What |',
    '| --- | --- |',
    `| \`train.jsonl\`, \`eval.jsonl\` | ${input.split.train.length} training and ${input.split.eval.length} evaluation rows in TRL's dataset format |`,
    '| `train.py` | the training script (`--model`, `--output_dir`, `--fp32`) |',
    '| `accelerate/multi_gpu.yaml` | data-parallel on one machine (8 GPUs; change `num_processes`) |',
    '| `accelerate/deepspeed_zero2.yaml` | DeepSpeed ZeRO-2: optimizer state and gradients sharded |',
    '| `accelerate/deepspeed_zero3.yaml` | DeepSpeed ZeRO-3: parameters sharded too, for models that do not fit one GPU |',
    '',
    '## Launch',
    '',
    '```sh',
    'pip install trl peft deepspeed accelerate',
    'python train.py                                                   # one GPU',
    'accelerate launch --config_file accelerate/multi_gpu.yaml train.py',
    'accelerate launch --config_file accelerate/deepspeed_zero2.yaml train.py',
    'accelerate launch --config_file accelerate/deepspeed_zero3.yaml train.py',
    '```',
    '',
    `${input.model ? `The base model defaults to \`${input.model}\`` : 'The run trained the built-in model: give its folder with `--model`'}; pass \`--model <folder or Hub id>\` on another machine. The run's \`output/\` holds TRL's checkpoints and a \`trainer_state.json\` that train.py rewrites at every log: open that folder with *Alignment: Open Trainer State* and the dashboard follows the run as it trains.`,
    ...(notes.length ? ['', '## Translated or left out', '', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}
