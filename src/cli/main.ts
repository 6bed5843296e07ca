/**
 * `alignment`: the training jobs from a terminal (bundled as dist/cli.js, the package's bin).
 *
 *   alignment train <spec.json> [--run-dir DIR] [--json] [--threads N]
 *   alignment train --method dpo --data pairs.jsonl [--model builtin | --model <HF folder>] [--steps N]
 *                   [--epochs N] [--batch-size N] [--lr X] [--max-length N] [--eval-split F] [--set name=value]...
 *                   [--run-dir DIR] [--json]
 *   alignment train --method grpo --data prompts.jsonl --reward numeric_match [--reward regex=PATTERN]...
 *                   [--reward-weight W]... [--max-new-tokens N] [--temperature X] [--top-k N] [--top-p X] [--stop TEXT]...
 *   alignment demo [--out demo-output] [--quick] [--json] [--threads N]
 *   alignment eval <model folder | run folder> --data pairs.jsonl [--reference <folder>] [--max-length N] [--json]
 *   alignment judge | eval-rm | rm-score ...      (src/cli/judgeCommands.ts)
 *   alignment inspect-rm <reward model> --data pairs.jsonl [--out FILE] [--record ID]...   (src/cli/inspectRm.ts)
 *   alignment merge-lora <adapter folder> --out <dir> [--base <model folder>]
 *   alignment export-trl <run folder> --out <dir>
 *   alignment devices [--json]
 *   alignment preflight <spec.json | -> [--base-dir DIR] [--json]   (data left out, measured step time)
 *   alignment --help, alignment <command> --help, alignment help <command>
 *
 * In a terminal a progress bar shows the step, the loss and the time left; `--json` prints every session event as
 * one JSON line on stdout instead (for other programs). `train` exits 0 when the run ends, 1 when it fails, 3 when
 * it ends but diverged (a `diverged` event: its model may be ruined). Invalid specs list every bad field. Ctrl-C (or SIGTERM)
 * stops a training run after it writes a checkpoint; running the same command with the same --run-dir resumes.
 * Bad options (unknown names, missing or malformed values, stray arguments) are reported all at once, each with
 * what is wrong, followed by the command's usage; exit code 2.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { heldOutAccuracy } from '../core/eval/accuracy';
import type { PreferenceExample } from '../core/datasets/examples';
import { loadDatasetFile } from '../core/datasets/formats';
import { newRunId, runPaths, runsRoot } from '../core/runs/layout';
import { resolveRunSpec, trainableMethodIds, type RunSpec } from '../core/runs/spec';
import { REWARD_FUNCTION_KINDS, usesRewardFunctions } from '../core/runs/specRewards';
import { acquireRunLock, releaseRunLock } from '../core/runs/runLock';
import { SIMULATED_LABELER_SOURCE } from '../core/runs/rounds';
import { isMethodId, methodCard, type HyperparameterValue, type MethodId } from '../core/methods';
import { formatEvent, type SessionEvent } from '../protocol/session';
import { PreflightReportMsg } from '../protocol/preflight';
import { describeDataLoss } from '../core/runs/runState';
import { preflight } from '../session/preflight';
import { DevicesReportMsg, type DevicesReport } from '../protocol/devices';
import { AUTO_ORDER, howToInstall, probeDevices } from '../engine/runtime/devices';
import { loadHfModel } from '../engine/models/hfMapping';
import { mergePeftFolder } from '../engine/models/peft';
import { buildModel } from '../engine/models/transformer';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { promptCompletionRow } from '../training/batching';
import { encodePairs } from '../training/encode';
import { SequenceScorer } from '../training/evaluate';
import { DEMO_SCALES, runDemo, type DemoReport } from './demo';
import { EventSink } from '../session/events';
import { CHAT_MODEL_FOLDER, defaultCacheDir, modelFolder } from '../session/model';
import { buildChatModel } from './chatModel';
import { exportRunForTrl } from '../core/export/exportRun';
import { runSession } from '../session/runSession';
import { sessionExitCode, type SessionResult } from '../session/types';
import { formatError, joinDetail, UserError } from '../util/errors';
import { JUDGE_USAGE, runJudgeCli } from './judgeCommands';
import { inspectRm } from './inspectRm';
import { noPreferencePairsMessage } from './pairsNeeded';
import { one, type ParsedArgs } from './args';
import { answersFromPromptFile, HeadlessLabeler, simulatedDecider, StreamDecisions } from './humanLabels';

class UsageError extends UserError {
  constructor(
    message: string,
    /** The command whose usage follows the message (the overview when absent). */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** How an option's value is read: a switch, text (once or repeated), a number, or a whole number >= 1. */
type OptionKind = 'switch' | 'text' | 'texts' | 'number' | 'count';

interface OptionSpec {
  readonly kind: OptionKind;
  readonly help: string;
  /** The value's placeholder in help (e.g. N, DIR). */
  readonly value?: string;
}

interface CommandSpec {
  /** One line: what the command does. */
  readonly summary: string;
  readonly usage: string;
  /** This module parses the command's options (the judge commands parse their own, src/cli/judgeCommands.ts). */
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Positional arguments after the command name: [min, max] and what they are. */
  readonly positional?: { readonly min: number; readonly max: number; readonly what: string };
  readonly run: (p: ParsedArgs, rest: readonly string[]) => Promise<number>;
}

const JSON_OPTION: OptionSpec = { kind: 'switch', help: 'print machine-readable JSON lines on stdout instead of text' };
const THREADS_OPTION: OptionSpec = { kind: 'count', value: 'N', help: 'onnxruntime threads (default: all cores)' };

/** The lines of `usage` that belong to `cmd` (a line starting `alignment <cmd>` and its continuation lines). */
function usageOf(usage: string, cmd: string): string {
  let mine = false;
  const out: string[] = [];
  for (const line of usage.split('\n')) {
    const m = /^\s*alignment (\S+)/.exec(line);
    if (m) mine = m[1] === cmd;
    if (mine) out.push(line.startsWith('  ') ? line : `  ${line}`);
  }
  return out.length ? out.join('\n') : usage;
}

/** The methods `alignment train` accepts (the trainable method cards). */
const TRAINABLE = trainableMethodIds();

const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  train: {
    summary: `Train a model (${TRAINABLE.join(', ')}) from a run spec file or from flags; resumable`,
    usage: `  alignment train <spec.json> [--run-dir DIR] [--json] [--threads N]
  alignment train --method <${TRAINABLE.join('|')}> --data <file> [--model builtin|<HF folder>]
                  [--steps N] [--epochs N] [--batch-size N] [--lr X] [--max-length N] [--eval-split F]
                  [--logging-steps N] [--set name=value]... [--run-dir DIR] [--json] [--threads N] [--restart-from-scratch]
  alignment train --method grpo|rloo|ppo|online-dpo --data <prompts file> --reward KIND[=ARG]... [--reward-weight W]...
                  [--on-reward-error stop|skip] [--reward-timeout S] [--max-new-tokens N] [--temperature X]
                  [--top-k N] [--top-p X] [--stop TEXT]... (and the options above)
  alignment train --method human-dpo --data <prompts file> [--labels FILE|-|simulated] [--label-noise F] [--reward ...]...`,
    positional: { min: 0, max: 1, what: 'a run spec file' },
    options: {
      method: { kind: 'text', value: 'METHOD', help: `training method (${TRAINABLE.join(', ')})` },
      data: { kind: 'text', value: 'FILE', help: 'dataset file (JSONL: TRL, HH-RLHF, UltraFeedback, ShareGPT or KTO formats)' },
      model: { kind: 'text', value: 'MODEL', help: '"builtin" (the tiny default model, untrained), "builtin:chat" (the tiny model trained on short dialogues) or a Hugging Face model folder' },
      steps: { kind: 'count', value: 'N', help: 'optimizer steps (instead of epochs)' },
      epochs: { kind: 'number', value: 'N', help: 'passes over the training data' },
      'batch-size': { kind: 'count', value: 'N', help: 'examples per micro-batch' },
      lr: { kind: 'number', value: 'X', help: 'learning rate' },
      'max-length': { kind: 'count', value: 'N', help: 'longest prompt + completion in tokens' },
      'eval-split': { kind: 'number', value: 'F', help: 'fraction of the data held out for evaluation' },
      'logging-steps': { kind: 'count', value: 'N', help: 'optimizer steps between metrics events (default 10)' },
      set: { kind: 'texts', value: 'name=value', help: "a method hyperparameter (TRL's name), repeatable" },
      reward: { kind: 'texts', value: 'KIND[=ARG]', help: `grpo/rloo: a reward function, repeatable (${REWARD_FUNCTION_KINDS.map((k) => k.kind).join(', ')}; regex=PATTERN, length_penalty=CACHE_TOKENS, exact_match/numeric_match/proxy=ANSWER_COLUMN; rm=PATH, module=PATH[#EXPORT], judge=MODEL@URL)` },
      'reward-weight': { kind: 'texts', value: 'W', help: 'grpo/rloo: the weight of each --reward, in order (default 1 each)' },
      'on-reward-error': { kind: 'text', value: 'stop|skip', help: 'grpo/rloo: a reward function that throws, returns NaN or hangs stops the run (default) or skips the sample' },
      'reward-timeout': { kind: 'number', value: 'S', help: 'grpo/rloo: seconds a reward function may take (default 60)' },
      'max-new-tokens': { kind: 'count', value: 'N', help: 'grpo/rloo: most tokens per sampled completion (max_completion_length)' },
      temperature: { kind: 'number', value: 'X', help: 'grpo/rloo: sampling temperature' },
      'top-k': { kind: 'number', value: 'N', help: 'grpo/rloo: sample among the N most likely tokens (0 = off)' },
      'top-p': { kind: 'number', value: 'X', help: 'grpo/rloo: nucleus sampling mass (1 = off)' },
      stop: { kind: 'texts', value: 'TEXT', help: 'grpo/rloo: a stop string, repeatable' },
      labels: { kind: 'text', value: 'FILE|-|simulated', help: 'human-dpo: where the pairs\' labels come from: JSON lines {"id", "preferred"} from a file or stdin (-), or a simulated labeler (the demo\'s proxy reward against each prompt\'s "answer")' },
      'label-noise': { kind: 'number', value: 'F', help: 'human-dpo with --labels simulated: share of the decisions flipped (default 0.15)' },
      'run-dir': { kind: 'text', value: 'DIR', help: 'run folder (spec.json, events.jsonl, checkpoints/, final/); an existing one resumes' },
      json: { kind: 'switch', help: 'print every session event as one JSON line on stdout instead of a progress bar' },
      threads: THREADS_OPTION,
      'restart-from-scratch': {
        kind: 'switch',
        help: 'when the run folder had checkpoints and none of them is readable, train from step 0 anyway (the unreadable ones stay in checkpoints/corrupt-*)',
      },
    },
    run: (p) => train(p),
  },
  demo: {
    summary: 'Run the end-to-end demo: SFT, pairs labeled by a rule-based proxy reward, a reward model, DPO and SimPO, GRPO on the proxy reward, PPO on the reward model, and an HTML report',
    usage: '  alignment demo [--out demo-output] [--quick] [--sft-from <SFT model folder>] [--seed N] [--cache DIR] [--json] [--threads N]',
    positional: { min: 0, max: 0, what: '' },
    options: {
      out: { kind: 'text', value: 'DIR', help: 'output folder for report.html and report.json (default demo-output)' },
      quick: { kind: 'switch', help: 'a scaled-down demo (a minute or two)' },
      'sft-from': { kind: 'text', value: 'DIR', help: 'start from this SFT model folder instead of training one' },
      seed: { kind: 'number', value: 'N', help: 'seed of every stage and of the evaluation (default 7, the README figures)' },
      cache: { kind: 'text', value: 'DIR', help: 'built-in model cache folder' },
      json: JSON_OPTION,
      threads: THREADS_OPTION,
    },
    run: (p) => demo(p),
  },
  eval: {
    summary: "Preference accuracy of a model or run folder on a pairs file: by a reward model's score, or a policy's log-probs",
    usage: '  alignment eval <model or run folder> --data <pairs file> [--reference <folder>] [--max-length N] [--json]',
    positional: { min: 1, max: 1, what: 'a model folder or a run folder with final/' },
    options: {
      data: { kind: 'text', value: 'FILE', help: 'preference pairs (prompt/chosen/rejected) to score' },
      reference: { kind: 'text', value: 'DIR', help: "a policy's reference model: rank by the implicit reward log pi - log pi_ref" },
      'max-length': { kind: 'count', value: 'N', help: 'longest prompt + completion in tokens (default 512)' },
      json: JSON_OPTION,
    },
    run: (p) => evaluate(p),
  },
  judge: {
    summary: "Label a dataset's pairs with an OpenAI-compatible AI judge (RLAIF), into the dataset's label journal",
    usage: usageOf(JUDGE_USAGE, 'judge'),
    run: (_p, rest) => runJudgeCli('judge', rest),
  },
  'eval-rm': {
    summary: 'Evaluate a reward model or scores files: accuracy, calibration, reward histograms, EPIC / STARC distances',
    usage: usageOf(JUDGE_USAGE, 'eval-rm'),
    run: (_p, rest) => runJudgeCli('eval-rm', rest),
  },
  'rm-score': {
    summary: "Stream a reward model's scores of a dataset's pairs, one line per record (used by the editor's reward-model judge)",
    usage: usageOf(JUDGE_USAGE, 'rm-score'),
    run: (_p, rest) => runJudgeCli('rm-score', rest),
  },
  'inspect-rm': {
    summary: "Write a reward model's dense per-token rewards of a dataset's pairs as JSONL: where in each response it gives and takes reward",
    usage: '  alignment inspect-rm <reward model or run folder> --data <pairs file> [--out FILE] [--record ID]... [--max-length N]',
    positional: { min: 1, max: 1, what: 'a reward model folder or a run folder with final/' },
    options: {
      data: { kind: 'text', value: 'FILE', help: 'preference pairs (prompt/chosen/rejected) whose responses to inspect' },
      out: { kind: 'text', value: 'FILE', help: 'write the JSONL here (default: stdout)' },
      record: { kind: 'texts', value: 'ID', help: 'inspect only this record id (as the editor names records), repeatable' },
      'max-length': { kind: 'count', value: 'N', help: 'longest prompt + response in tokens (default 512)' },
    },
    run: (p) => {
      const data = one(p, 'data');
      if (!data) throw new UsageError('alignment inspect-rm: give the pairs with --data <pairs file>', 'inspect-rm');
      const records = p.flags.get('record');
      const maxLength = num(p, 'max-length');
      const out = one(p, 'out');
      return inspectRm({ dir: modelDir(p.positional[1] as string, 'inspect-rm'), data, ...(out ? { out } : {}), ...(records ? { records } : {}), ...(maxLength ? { maxLength } : {}) });
    },
  },
  'merge-lora': {
    summary: "Merge a LoRA run's adapter (a checkpoint folder or <run>/adapter, PEFT format) into its base model and save a Hugging Face folder",
    usage: '  alignment merge-lora <adapter folder> --out <dir> [--base <model folder>]',
    positional: { min: 1, max: 1, what: 'a PEFT adapter folder (a LoRA run\'s checkpoints/step-<n> or adapter/)' },
    options: {
      out: { kind: 'text', value: 'DIR', help: 'where to write the merged model' },
      base: { kind: 'text', value: 'DIR', help: "the base model folder (default: the adapter's base_model_name_or_path)" },
    },
    run: (p) => {
      const out = one(p, 'out');
      if (!out) throw new UsageError('alignment merge-lora: give the output folder with --out <dir>', 'merge-lora');
      const base = one(p, 'base');
      const r = mergePeftFolder(path.resolve(p.positional[1] as string), path.resolve(out), base ? path.resolve(base) : undefined);
      process.stdout.write(`merged ${p.positional[1] as string} into ${r.base}: ${path.resolve(out)}\n`);
      return Promise.resolve(0);
    },
  },
  preflight: {
    summary: "Before a run: what its data preparation leaves out (rows skipped, prompts and completions cut, tokens dropped) and its measured time, from a few real steps of its configuration",
    usage: '  alignment preflight <spec.json | -> [--base-dir DIR] [--json] [--threads N]',
    positional: { min: 1, max: 1, what: 'a run spec file, or - to read it from stdin' },
    options: {
      'base-dir': { kind: 'text', value: 'DIR', help: "folder the spec's relative data and model paths start from (default: the current folder)" },
      json: { kind: 'switch', help: 'print the report as one JSON line ({"type": "preflight/report", ...}) instead of text' },
      threads: THREADS_OPTION,
    },
    run: (p) => runPreflight(p),
  },
  'build-chat-model': {
    summary: 'Rebuild the built-in chat model (the tiny model after the demo\'s SFT stage, float16) into media/models/chat',
    usage: '  alignment build-chat-model [--out DIR]',
    options: { out: { kind: 'text', value: 'DIR', help: 'where to write it (default media/models/chat)' } },
    run: async (p) => {
      await buildChatModel(path.resolve(one(p, 'out') ?? CHAT_MODEL_FOLDER), (line) => process.stderr.write(line + '\n'));
      return 0;
    },
  },
  'export-trl': {
    summary: "Export a run for TRL: its data split in TRL's format, a train.py with TRL's trainer for its method and hyperparameters, accelerate and DeepSpeed ZeRO-2/3 configs, launch commands",
    usage: '  alignment export-trl <run folder> --out <dir>',
    positional: { min: 1, max: 1, what: 'a run folder (with spec.json)' },
    options: { out: { kind: 'text', value: 'DIR', help: 'the export folder to write' } },
    run: async (p) => {
      const out = one(p, 'out');
      if (!out) throw new UsageError('alignment export-trl: give the export folder with --out <dir>', 'export-trl');
      const runDir = path.resolve(p.positional[1] as string);
      const raw = readSpecModel(runDir);
      const builtinModelDir = raw?.kind === 'builtin' ? modelFolder(typeof raw.name === 'string' ? { kind: 'builtin', name: raw.name } : { kind: 'builtin' }, defaultCacheDir()) : undefined;
      const files = await exportRunForTrl(runDir, path.resolve(out), { baseDir: process.cwd(), ...(builtinModelDir ? { builtinModelDir } : {}) });
      process.stdout.write(`wrote ${files.join(', ')} to ${path.resolve(out)} (see README.md there)\n`);
      return 0;
    },
  },
  devices: {
    summary: 'List the devices training can use here (cpu, cuda, webgpu), each probed by running a one-node onnxruntime session on it',
    usage: '  alignment devices [--json]',
    positional: { min: 0, max: 0, what: '' },
    options: { json: { kind: 'switch', help: 'print the report as one JSON line ({"type": "devices/report", ...}) instead of text' } },
    run: (p) => devices(p),
  },
};

/** Every command of the `alignment` CLI, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** `alignment --help`: every command with its one-line summary, then the usage of each. */
export function overviewHelp(): string {
  const w = Math.max(...COMMAND_NAMES.map((c) => c.length));
  return [
    'alignment: align language models from a terminal (train, evaluate, label with AI judges)',
    '',
    'commands:',
    ...COMMAND_NAMES.map((c) => `  ${c.padEnd(w)}  ${(COMMANDS[c] as CommandSpec).summary}`),
    '',
    'usage:',
    ...COMMAND_NAMES.map((c) => (COMMANDS[c] as CommandSpec).usage),
    '',
    "'alignment <command> --help' describes a command's options.",
  ].join('\n');
}

/** `alignment <cmd> --help`: what the command does, its usage and (for this module's commands) its options. */
export function commandHelp(cmd: string): string {
  const c = COMMANDS[cmd];
  if (!c) throw new UsageError(`unknown command ${JSON.stringify(cmd)} (one of ${COMMAND_NAMES.join(', ')})`);
  const lines = [`alignment ${cmd}: ${c.summary}`, '', 'usage:', c.usage];
  if (c.options) {
    const label = (n: string, o: OptionSpec): string => `--${n}${o.value ? ` ${o.value}` : ''}`;
    const w = Math.max(...Object.entries(c.options).map(([n, o]) => label(n, o).length));
    lines.push('', 'options:', ...Object.entries(c.options).map(([n, o]) => `  ${label(n, o).padEnd(w)}  ${o.help}`));
  }
  return lines.join('\n');
}

/** Closest option name by edit distance (for "did you mean"), when close enough to be a typo. */
function closest(name: string, options: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) {
        const row = d[i] as number[];
        const prev = d[i - 1] as number[];
        row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      }
    return (d[a.length] as number[])[b.length] as number;
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const dd = dist(name, o);
    if (dd < bestD) [best, bestD] = [o, dd];
  }
  return bestD <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * Parses the arguments after a command against its options and lists every problem: unknown options (with the
 * nearest known one), missing values, malformed numbers, a switch given a value, a repeated single option, and
 * too many or too few positional arguments.
 */
function parseCommand(cmd: string, spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options = spec.options ?? {};
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--') || a === '--') {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const o = options[name];
    if (!o) {
      const near = closest(name, Object.keys(options));
      problems.push(`--${name}: unknown option${near ? ` (did you mean --${near}?)` : ''}`);
      // An unknown option's value, if it has one, is not an argument of its own.
      if (eq < 0 && argv[i + 1] !== undefined && !(argv[i + 1] as string).startsWith('--')) i++;
      continue;
    }
    let value: string;
    if (o.kind === 'switch') {
      if (eq > 0 && !['true', 'false'].includes(a.slice(eq + 1))) problems.push(`--${name}: a switch takes no value (got ${JSON.stringify(a.slice(eq + 1))})`);
      value = eq > 0 ? a.slice(eq + 1) : 'true';
    } else if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`--${name}: needs a value${o.value ? ` (${o.value})` : ''}`);
        continue;
      }
      value = next;
      i++;
    }
    if (o.kind === 'number' && !(value.trim() !== '' && Number.isFinite(Number(value)))) problems.push(`--${name}: expected a number, got ${JSON.stringify(value)}`);
    if (o.kind === 'count' && !(/^\d+$/.test(value.trim()) && Number(value) >= 1)) problems.push(`--${name}: expected a whole number >= 1, got ${JSON.stringify(value)}`);
    if (o.kind !== 'texts' && flags.has(name)) problems.push(`--${name}: given more than once`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  const pos = spec.positional ?? { min: 0, max: Infinity, what: '' };
  if (positional.length > pos.max) problems.push(`unexpected argument${positional.length - pos.max > 1 ? 's' : ''} ${positional.slice(pos.max).map((x) => JSON.stringify(x)).join(' ')}${pos.max ? ` (${cmd} takes ${pos.what})` : ''}`);
  if (positional.length < pos.min) problems.push(`missing ${pos.what}`);
  if (problems.length) throw new UsageError(`alignment ${cmd}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`} with the arguments:\n${problems.map((x) => `  ${x}`).join('\n')}`, cmd);
  return { positional: [cmd, ...positional], flags };
}

/** A one-line progress bar for a TTY. */
class Progress {
  private total = 0;
  private started = Date.now();
  private last = '';
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
  ) {}

  event(e: SessionEvent): void {
    if (e.type === 'started') {
      this.total = e.params.totalSteps;
      this.started = Date.now();
      this.draw(0, undefined);
    } else if (e.type === 'metrics') {
      this.draw(e.params.step, e.params.metrics['loss'] ?? undefined);
    } else if (e.type === 'eval') {
      this.line(`eval at step ${e.params.step}: ${Object.entries(e.params.metrics).slice(0, 4).map(([k, v]) => `${k} ${v === null ? 'NaN' : v.toFixed(4)}`).join(', ')}`);
    } else if (e.type === 'warning') {
      this.line(`warning: ${e.params.message}`);
    } else if (e.type === 'diverged') {
      this.line(`warning: training diverged? ${e.params.message}`);
    } else if (e.type === 'error') {
      this.line(`error: ${joinDetail(e.params.message, e.params.detail)}`);
    } else if (e.type === 'checkpoint') {
      this.last = ` [checkpoint ${e.params.path}]`;
    } else if (e.type === 'finished') {
      this.draw(e.params.step, e.params.metrics['loss'] ?? undefined);
      this.out.write(`\n${this.label}: ${e.params.reason} at step ${e.params.step}${e.params.path ? `, model in ${e.params.path}/` : ''}\n`);
    }
  }

  private draw(step: number, loss: number | undefined): void {
    const width = 24;
    const frac = this.total ? Math.min(1, step / this.total) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const el = (Date.now() - this.started) / 1000;
    const eta = frac > 0 ? (el / frac) * (1 - frac) : NaN;
    const t = (s: number): string => (Number.isFinite(s) ? (s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`) : '?');
    const text = `${this.label} [${bar}] ${step}/${this.total}${loss !== undefined ? ` loss ${loss.toFixed(4)}` : ''} ${t(el)} elapsed, ${t(eta)} left${this.last}`;
    this.out.write(this.out.isTTY ? `\r\x1b[K${text}` : `${text}\n`);
  }

  private line(text: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}

/** The `model` of a run folder's spec.json, when it reads. */
function readSpecModel(runDir: string): { kind?: unknown; name?: unknown } | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir, 'spec.json'), 'utf8')) as { model?: { kind?: unknown; name?: unknown } }).model;
  } catch {
    return undefined;
  }
}

function num(p: ParsedArgs, name: string): number | undefined {
  const v = one(p, name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`--${name}: expected a number, got ${JSON.stringify(v)}`);
  return x;
}

/** `{ [key]: the number of --flag }` when the flag is given, else {} (to spread into a spec). */
function numEntry(p: ParsedArgs, flag: string, key: string): Record<string, number> {
  const v = num(p, flag);
  return v === undefined ? {} : { [key]: v };
}

function hyperValue(v: string): HyperparameterValue {
  if (v === 'true') return true;
  if (v === 'false') return false;
  const x = Number(v);
  return v.trim() !== '' && Number.isFinite(x) ? x : v;
}

/** A spec from command-line flags. */
export function specFromFlags(p: ParsedArgs): Record<string, unknown> {
  const method = one(p, 'method');
  if (!method) throw new UsageError('alignment train: give a run spec file, or --method and --data', 'train');
  if (!isMethodId(method)) throw new UsageError(`--method: unknown method ${JSON.stringify(method)} (one of ${TRAINABLE.join(', ')})`, 'train');
  const model = one(p, 'model') ?? 'builtin';
  const hyper: Record<string, HyperparameterValue> = {};
  for (const s of p.flags.get('set') ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected name=value, got ${JSON.stringify(s)}`, 'train');
    hyper[s.slice(0, eq)] = hyperValue(s.slice(eq + 1));
  }
  const online = onlineFlags(p, method, hyper);
  const data = { path: one(p, 'data'), ...numEntry(p, 'max-length', 'maxLength'), ...numEntry(p, 'eval-split', 'evalSplit') };
  const opt = numEntry(p, 'lr', 'learningRate');
  const logging = numEntry(p, 'logging-steps', 'logging');
  return {
    method,
    model: model === 'builtin' ? { kind: 'builtin' } : model.startsWith('builtin:') ? { kind: 'builtin', name: model.slice('builtin:'.length) } : { kind: 'hf', path: model },
    data,
    ...(Object.keys(hyper).length ? { hyperparameters: hyper } : {}),
    ...online,
    ...numEntry(p, 'steps', 'maxSteps'),
    ...numEntry(p, 'epochs', 'epochs'),
    ...numEntry(p, 'batch-size', 'batchSize'),
    ...(Object.keys(opt).length ? { optimizer: opt } : {}),
    ...(Object.keys(logging).length ? { intervals: logging } : {}),
  };
}

/** The flags that only online methods take. */
const ONLINE_FLAGS = ['reward', 'reward-weight', 'on-reward-error', 'reward-timeout', 'max-new-tokens', 'temperature', 'top-k', 'top-p', 'stop'];

/** The `--reward` forms of the reward sources that are not built-in functions (src/core/runs/specRewardSources.ts). */
const REWARD_SOURCE_FLAGS: Readonly<Record<string, string>> = { rm: 'rm=PATH (a reward-model run or folder)', module: 'module=PATH[#EXPORT] (a JavaScript reward module)', judge: 'judge=MODEL@URL (an OpenAI-compatible judge; key in ALIGNMENT_JUDGE_API_KEY)' };

/** `--reward rm=PATH`, `module=PATH[#EXPORT]`, `judge=MODEL@URL` as a spec entry (its weight aside). */
function rewardSourceFlag(kind: string, arg: string | undefined): Record<string, unknown> {
  if (!arg) throw new UsageError(`--reward ${kind}: give ${REWARD_SOURCE_FLAGS[kind]}`, 'train');
  if (kind === 'rm') return { kind: 'reward_model', path: arg };
  if (kind === 'module') {
    const hash = arg.lastIndexOf('#');
    return hash < 0 ? { kind: 'module', path: arg } : { kind: 'module', path: arg.slice(0, hash), export: arg.slice(hash + 1) };
  }
  const at = arg.indexOf('@');
  if (at <= 0) throw new UsageError(`--reward judge: expected MODEL@URL, e.g. judge=qwen2.5@http://127.0.0.1:8080/v1 (got ${JSON.stringify(arg)})`, 'train');
  return { kind: 'judge', model: arg.slice(0, at), baseUrl: arg.slice(at + 1) };
}

/** One `--reward KIND[=ARG]` as a spec entry: ARG is the pattern (regex), cache (length_penalty) or answer column. */
function rewardFlag(s: string, weight: string | undefined): Record<string, unknown> {
  const eq = s.indexOf('=');
  const kind = eq < 0 ? s : s.slice(0, eq);
  const arg = eq < 0 ? undefined : s.slice(eq + 1);
  const w = weight === undefined ? {} : { weight: Number(weight) };
  if (weight !== undefined && !(weight.trim() !== '' && Number.isFinite(Number(weight)))) throw new UsageError(`--reward-weight: expected a number, got ${JSON.stringify(weight)}`, 'train');
  if (Object.hasOwn(REWARD_SOURCE_FLAGS, kind)) return { ...rewardSourceFlag(kind, arg), ...w };
  const info = REWARD_FUNCTION_KINDS.find((k) => k.kind === kind);
  if (!info) throw new UsageError(`--reward: unknown reward function ${JSON.stringify(kind)} (one of ${REWARD_FUNCTION_KINDS.map((k) => k.kind).join(', ')}, ${Object.values(REWARD_SOURCE_FLAGS).join(', ')})`, 'train');
  if (arg === undefined) return { kind, ...w };
  if (!info.arg) throw new UsageError(`--reward ${kind} takes no argument (got ${JSON.stringify(arg)})`, 'train');
  return { kind, [info.arg.field]: info.arg.kind === 'integer' ? hyperValue(arg) : arg, ...w };
}

/**
 * The spec parts of the online flags: `rewards`, `generation`, and the sampling hyperparameters (TRL's names,
 * added to `hyper`). Refused for the methods that do not sample.
 */
function onlineFlags(p: ParsedArgs, method: MethodId, hyper: Record<string, HyperparameterValue>): Record<string, unknown> {
  const given = ONLINE_FLAGS.filter((f) => p.flags.has(f));
  // A method that cannot train yet is refused by the spec reader, with the list of those that can.
  if (!usesRewardFunctions(methodCard(method)) || !methodCard(method).trainable) {
    if (given.length) throw new UsageError(`${given.map((f) => `--${f}`).join(', ')}: only for the online methods (--method ${TRAINABLE.filter((m) => usesRewardFunctions(methodCard(m))).join('|')})`, 'train');
    return {};
  }
  const rewards = p.flags.get('reward') ?? [];
  const weights = p.flags.get('reward-weight') ?? [];
  if (!rewards.length && !methodCard(method).rewardsOptional) throw new UsageError(`--method ${method} needs at least one --reward (${REWARD_FUNCTION_KINDS.map((k) => k.kind).join(', ')})`, 'train');
  if (weights.length && weights.length !== rewards.length) throw new UsageError(`--reward-weight: give one per --reward (${rewards.length}), or none; got ${weights.length}`, 'train');
  // The completion length is named as on the method's card (TRL: max_completion_length, PPO's response_length).
  const lengthName = ['max_completion_length', 'response_length', 'max_new_tokens'].find((n) => methodCard(method).hyperparameters.some((h) => h.name === n)) ?? 'max_completion_length';
  const sampling: [string, string][] = [['max-new-tokens', lengthName], ['temperature', 'temperature'], ['top-k', 'top_k'], ['top-p', 'top_p']];
  for (const [flag, name] of sampling) Object.assign(hyper, numEntry(p, flag, name));
  const onError = one(p, 'on-reward-error');
  const timeout = num(p, 'reward-timeout');
  const stop = p.flags.get('stop') ?? [];
  return {
    ...(rewards.length ? { rewards: { functions: rewards.map((r, i) => rewardFlag(r, weights[i])), ...(onError !== undefined ? { onError } : {}), ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}) } } : {}),
    ...(stop.length ? { generation: { stop } } : {}),
  };
}

function attachOutput(sink: EventSink, json: boolean, label: string): void {
  if (json) sink.on((e) => process.stdout.write(formatEvent(e)));
  else {
    const bar = new Progress(process.stderr, label);
    sink.on((e) => bar.event(e));
  }
}

/** A run spec file's JSON object (a leading BOM is allowed); a usage error naming the file otherwise. */
function readSpecFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    if (fs.statSync(file).isDirectory()) throw new Error('it is a folder; pass a run spec .json file');
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`cannot read the run spec ${file}: ${err.code === 'ENOENT' ? 'it does not exist' : err.message}`, 'train');
  }
  return parseSpecText(text, file);
}

/** A run spec's JSON object from its text; a usage error naming where it came from otherwise. */
function parseSpecText(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UsageError(`cannot read the run spec ${file}: ${e instanceof Error ? e.message : String(e)}`, 'train');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`the run spec ${file} must be a JSON object ({"method": ..., "data": {...}, ...}), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`, 'train');
  }
  return value as Record<string, unknown>;
}

async function train(p: ParsedArgs): Promise<number> {
  const json = one(p, 'json') === 'true';
  let raw: Record<string, unknown>;
  const file = p.positional[1];
  if (file) {
    const unused = [...p.flags.keys()].filter((k) => !['run-dir', 'json', 'threads', 'restart-from-scratch', 'labels', 'label-noise'].includes(k));
    if (unused.length) throw new UsageError(`alignment train: ${unused.map((k) => `--${k}`).join(', ')} cannot be combined with a run spec file (${file}); set ${unused.length > 1 ? 'them' : 'it'} in the spec`, 'train');
    raw = readSpecFile(file);
  } else raw = specFromFlags(p);
  const method = typeof raw.method === 'string' ? raw.method : 'run';
  const runDir = path.resolve(one(p, 'run-dir') ?? (typeof raw.outputDir === 'string' ? raw.outputDir : path.join(runsRoot(process.cwd()), newRunId(method, new Date()))));
  const r = resolveRunSpec({ ...raw, outputDir: runDir }, runDir);
  if (!r.ok) {
    process.stderr.write(`invalid run spec${file ? ` ${file}` : ''}: ${r.problems.length} problem(s)\n${r.problems.map((x) => `  ${x.path || '(spec)'}: ${x.reason}`).join('\n')}\n`);
    return 2;
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  fs.mkdirSync(runDir, { recursive: true });
  // The run lock before anything is written: a second process on the same folder leaves the first one's spec,
  // events and checkpoints as they are.
  const lock = await acquireRunLock(runDir, 'alignment train');
  if (!lock.ok) {
    process.stderr.write(`alignment train: ${lock.message}\n`);
    return 1;
  }
  try {
    return await trainLocked(p, r.spec, runDir, json);
  } finally {
    await releaseRunLock(runDir);
  }
}

/** `alignment train` once it holds the run lock: the spec into the run folder, then the session. */
async function trainLocked(p: ParsedArgs, spec: RunSpec, runDir: string, json: boolean): Promise<number> {
  const paths = runPaths(runDir);
  fs.writeFileSync(paths.spec, JSON.stringify(spec, null, 2) + '\n');
  if (!json) process.stderr.write(`run folder: ${runDir}\n`);
  const sink = new EventSink(paths.events);
  attachOutput(sink, json, spec.method);
  let stop = false;
  let labelError: unknown;
  const onSignal = (): void => {
    if (!json) process.stderr.write('\nstopping after this step (writing a checkpoint)...\n');
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const threads = num(p, 'threads');
    const restartFromScratch = one(p, 'restart-from-scratch') === 'true';
    // The CLI runs what its user gives it, reward modules included: the workspace counts as trusted.
    const labeler = startLabeler(p, spec, runDir, (e) => {
      labelError = e;
      stop = true;
    });
    let res: SessionResult;
    try {
      res = await runSession(spec, { runDir, cacheDir: defaultCacheDir(), sink, stopRequested: () => stop, restartFromScratch, trustedWorkspace: true, ...(threads ? { threads } : {}) });
    } finally {
      labeler?.stop();
    }
    if (labelError !== undefined) throw labelError;
    return sessionExitCode(res);
  } finally {
    sink.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * `--labels` of a human-dpo run: a labeler that records decisions in the run's waiting batches (humanLabels.ts);
 * undefined without the flag (the run then waits for the editor's comparison panel). A labeler failure (a bad
 * line) stops the run, and `onError` gets it.
 */
function startLabeler(p: ParsedArgs, spec: RunSpec, runDir: string, onError: (e: unknown) => void): HeadlessLabeler | undefined {
  const from = one(p, 'labels');
  const noise = num(p, 'label-noise');
  if (from === undefined) {
    if (noise !== undefined) throw new UsageError('--label-noise: only with --labels simulated', 'train');
    return undefined;
  }
  if (spec.method !== 'human-dpo') throw new UsageError(`--labels: only for --method human-dpo (this run is ${spec.method})`, 'train');
  if (from === 'simulated') {
    const decide = simulatedDecider(answersFromPromptFile(path.resolve(spec.data.path)), noise ?? 0.15, spec.seed);
    const labeler = new HeadlessLabeler(runDir, decide, { writerId: 'cli', source: SIMULATED_LABELER_SOURCE, annotator: 'simulated-labeler' });
    labeler.start(200, onError);
    return labeler;
  }
  if (noise !== undefined) throw new UsageError('--label-noise: only with --labels simulated', 'train');
  const name = from === '-' ? 'stdin' : from;
  const stream = from === '-' ? process.stdin : fs.createReadStream(from);
  stream.on('error', onError);
  const decisions = new StreamDecisions(stream, name);
  const labeler = new HeadlessLabeler(runDir, decisions.decide, { writerId: 'cli', source: 'human', annotator: os.userInfo().username || 'cli' });
  // Labels that ran out would leave the run waiting with nobody to label: it stops instead, resumable at its round.
  labeler.start(200, onError, () => {
    const stuck = labeler.stuck;
    if (decisions.ended && stuck) throw new UserError(`--labels ${name}: ended while round ${stuck.round} still needs ${stuck.missing} label(s); the run stops and resumes at this round (alignment train --run-dir ${runDir} --labels <more labels>, or label its pairs in the editor)`);
  });
  return labeler;
}

async function demo(p: ParsedArgs): Promise<number> {
  const json = one(p, 'json') === 'true';
  const out = path.resolve(one(p, 'out') ?? 'demo-output');
  const threads = num(p, 'threads');
  const seed = num(p, 'seed');
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed: expected a non-negative integer, got ${seed}`);
  const bars = new Map<string, Progress>();
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const report = await runDemo({
    outDir: out,
    cacheDir: one(p, 'cache') ?? defaultCacheDir(),
    scale: one(p, 'quick') === 'true' ? DEMO_SCALES.quick : DEMO_SCALES.full,
    ...(one(p, 'sft-from') ? { sftDir: one(p, 'sft-from') as string } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(threads ? { threads } : {}),
    log: (line) => (json ? process.stdout.write(JSON.stringify({ type: 'demo', params: { time: Date.now(), message: line } }) + '\n') : process.stderr.write(line + '\n')),
    onEvent: (stage, e) => {
      if (json) process.stdout.write(JSON.stringify({ ...e, stage }) + '\n');
      else {
        let b = bars.get(stage);
        if (!b) bars.set(stage, (b = new Progress(process.stderr, stage)));
        if (e.type !== 'samples') b.event(e);
      }
    },
  });
  const summary = {
    proxy_reward_sft: report.proxy_reward_sft,
    proxy_reward_aligned: report.proxy_reward_aligned,
    win_rate_vs_sft: report.win_rate_vs_sft,
    kl_to_sft: report.kl_to_sft,
    simpo: report.policies['simpo'],
    ...Object.fromEntries(report.online.map((o) => [o.method, report.policies[o.method]])),
    best_method: report.best_method,
    best_win_rate_vs_sft: report.best_win_rate_vs_sft,
    best_kl_to_sft: report.best_kl_to_sft,
    reward_model_eval_accuracy: report.reward_model.eval_accuracy,
    seconds: (Date.now() - t0) / 1000,
    // onnxruntime's compute threads run in this process, so this is the whole demo's CPU time (user + system).
    cpu_seconds: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu0)),
  };
  if (json) process.stdout.write(JSON.stringify({ type: 'demo-report', params: summary }) + '\n');
  else {
    process.stdout.write(
      `\nDemo finished in ${summary.seconds.toFixed(0)} s (CPU time ${summary.cpu_seconds.toFixed(0)} s). Report: ${path.join(out, 'report.html')}\n` +
        `  mean proxy reward  SFT ${report.proxy_reward_sft.toFixed(3)} -> DPO ${report.proxy_reward_aligned.toFixed(3)} (SimPO ${report.policies['simpo']?.proxy_reward.toFixed(3)})\n` +
        `  win rate vs SFT    DPO ${report.win_rate_vs_sft.toFixed(3)} (SimPO ${report.policies['simpo']?.win_rate_vs_sft.toFixed(3)})\n` +
        `  KL to SFT          DPO ${report.kl_to_sft.toFixed(3)} nats (SimPO ${report.policies['simpo']?.kl_to_sft.toFixed(3)})\n` +
        `  exact answers      SFT ${report.policies['sft']?.exact_match.toFixed(2)} -> DPO ${report.policies['dpo']?.exact_match.toFixed(2)} (SimPO ${report.policies['simpo']?.exact_match.toFixed(2)}); extra words ${report.policies['sft']?.mean_extra_words.toFixed(2)} -> ${report.policies['dpo']?.mean_extra_words.toFixed(2)} (${report.policies['simpo']?.mean_extra_words.toFixed(2)})\n` +
        `  reward model held-out accuracy ${report.reward_model.eval_accuracy?.toFixed(3) ?? 'n/a'}\n` +
        onlineSummary(report),
    );
  }
  return 0;
}

/** The demo summary's lines for the online policies and the best policy of all. */
function onlineSummary(report: DemoReport): string {
  const lines = report.online.map((o) => {
    const p = report.policies[o.method];
    return p ? `  ${o.method.toUpperCase().padEnd(18)}proxy reward ${p.proxy_reward.toFixed(3)}, win rate vs SFT ${p.win_rate_vs_sft.toFixed(3)}, KL to SFT ${p.kl_to_sft.toFixed(3)} nats\n` : '';
  });
  return lines.join('') + `  best policy       ${report.best_method} (win rate vs SFT ${report.best_win_rate_vs_sft.toFixed(3)}, KL ${report.best_kl_to_sft.toFixed(3)} nats)\n`;
}

/** Probes every device the engine knows and reports each, with how to install the ones that do not work. */
/** `alignment preflight`: the calibration session of a spec (src/session/preflight.ts), as a report. */
async function runPreflight(p: ParsedArgs): Promise<number> {
  const file = p.positional[1] as string;
  const raw = file === '-' ? parseSpecText(fs.readFileSync(0, 'utf8'), 'stdin') : readSpecFile(file);
  const r = resolveRunSpec({ ...raw, outputDir: '(preflight)' }, '(preflight)');
  if (!r.ok) throw new UsageError(`invalid run spec ${file === '-' ? '(stdin)' : file}: ${r.problems.map((x) => `${x.path || '(spec)'}: ${x.reason}`).join('; ')}`, 'preflight');
  const threads = num(p, 'threads');
  const report = await preflight(r.spec, { cacheDir: defaultCacheDir(), baseDir: path.resolve(one(p, 'base-dir') ?? '.'), startedAt: performance.timeOrigin, ...(threads ? { threads } : {}) });
  if (one(p, 'json') === 'true') {
    process.stdout.write(JSON.stringify(PreflightReportMsg.create(report)) + '\n');
    return report.failure ? 1 : 0;
  }
  const lost = describeDataLoss(report.dataLoss);
  const t = report.timing;
  const lines = [
    report.examples ? `examples: ${report.examples.train} train, ${report.examples.eval} eval` : undefined,
    `data left out: ${lost.length ? lost.join('; ') : 'nothing'}`,
    t ? `measured on ${t.device}: ${t.secondsPerStep.toFixed(3)} s per step, setup ${t.setupSeconds.toFixed(1)} s${t.evalSeconds !== undefined ? `, eval ${t.evalSeconds.toFixed(2)} s` : ''}${t.sampleSeconds !== undefined ? `, samples ${t.sampleSeconds.toFixed(2)} s` : ''}` : undefined,
    report.failure ? `the run would fail: ${report.failure}` : undefined,
  ];
  process.stdout.write(lines.filter(Boolean).join('\n') + '\n');
  return report.failure ? 1 : 0;
}

async function devices(p: ParsedArgs): Promise<number> {
  const probes = await probeDevices();
  const works = new Set(probes.filter((d) => d.available).map((d) => d.device));
  const auto = AUTO_ORDER.find((d) => works.has(d));
  const report: DevicesReport = {
    devices: probes.map((d) => ({ ...d, ...(d.available ? {} : { install: howToInstall(d.device) }) })),
    auto: { order: [...AUTO_ORDER], ...(auto ? { device: auto } : {}) },
  };
  if (one(p, 'json') === 'true') {
    process.stdout.write(JSON.stringify(DevicesReportMsg.create(report)) + '\n');
    return 0;
  }
  const w = Math.max(...report.devices.map((d) => d.device.length));
  for (const d of report.devices) {
    if (d.available) process.stdout.write(`${d.device.padEnd(w)}  available${d.bundled ? ' (bundled with onnxruntime-node)' : ''}\n`);
    else process.stdout.write(`${d.device.padEnd(w)}  unavailable: ${d.reason ?? 'unknown reason'}\n${' '.repeat(w)}  to use it: ${d.install ?? ''}\n`);
  }
  process.stdout.write(`auto picks ${auto ?? 'nothing'} here (it tries ${AUTO_ORDER.join(', then ')})\n`);
  return 0;
}

/** A model folder, or a run folder's final/ model; a usage error naming the flag otherwise. */
function modelDir(arg: string, what: string): string {
  const dir = path.resolve(arg);
  if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  if (fs.existsSync(path.join(dir, 'final', 'config.json'))) return path.join(dir, 'final');
  const why = !fs.existsSync(dir) ? 'does not exist' : 'is not a model folder (no config.json) or a run folder with final/';
  throw new UsageError(`alignment ${what}: ${dir} ${why}`, what.split(' ')[0]);
}

/**
 * Scores a preference file with a model folder (or a run's final/): a reward model ranks by its reward; a policy
 * by its implicit reward log pi(y|x) - log pi_ref(y|x) when --reference is given, else by log pi(y|x) per token.
 */
async function evaluate(p: ParsedArgs): Promise<number> {
  const json = one(p, 'json') === 'true';
  const target = p.positional[1] as string;
  const dataFile = one(p, 'data');
  if (!dataFile) throw new UsageError('alignment eval: give the pairs to score with --data <pairs file>', 'eval');
  const dir = modelDir(target, 'eval');
  const refDir = one(p, 'reference') !== undefined ? modelDir(one(p, 'reference') as string, 'eval --reference') : undefined;
  if (!fs.existsSync(path.resolve(dataFile))) throw new UsageError(`alignment eval: --data ${dataFile} does not exist`, 'eval');
  const data = await loadDatasetFile(path.resolve(dataFile));
  for (const s of data.skipped) process.stderr.write(`skipped ${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}\n`);
  for (const d of data.duplicates) process.stderr.write(`warning: ${d.message}\n`);
  const pairsEx = data.examples.filter((e): e is PreferenceExample => e.kind === 'preference');
  if (!pairsEx.length) throw new UsageError(noPreferencePairsMessage('alignment eval', dataFile, data), 'eval');
  const loaded = loadHfModel(dir);
  const tok = TextTokenizer.fromFolder(dir);
  const maxLength = Math.min(num(p, 'max-length') ?? 512, loaded.config.maxPositions);
  const { pairs } = encodePairs(tok, pairsEx, { maxLength });
  const seqLen = Math.min(maxLength, Math.ceil(Math.max(...pairs.flatMap((x) => [x.prompt.length + x.chosen.length, x.prompt.length + x.rejected.length])) / 8) * 8);
  const model = buildModel(loaded.config, loaded.head, { maxLength: seqLen });
  const kind = loaded.head === 'score' ? 'reward' : 'logps';
  const scorer = await SequenceScorer.create(model, kind, { batch: 8, seqLen, padId: tok.padTokenId ?? 0 });
  const rows = [...pairs.map((x) => promptCompletionRow(x.prompt, x.chosen)), ...pairs.map((x) => promptCompletionRow(x.prompt, x.rejected))];
  try {
    await scorer.setWeights(new Map([...loaded.weights].map(([k, v]) => [k, v.data])));
    let s = await scorer.score(rows);
    let how = kind === 'reward' ? 'reward model score' : 'mean-token log-prob';
    if (kind === 'reward' && refDir) process.stderr.write(`warning: --reference is ignored for a reward model (${dir} has a score head)\n`);
    if (kind === 'logps' && refDir) {
      const rl = loadHfModel(refDir, 'lm');
      for (const q of model.params) {
        const w = rl.weights.get(q.name);
        if (!w || w.shape.join('x') !== q.shape.join('x')) throw new UsageError(`alignment eval: --reference ${refDir} is not the same architecture as ${dir} (${q.name}: ${w ? `[${w.shape.join(', ')}]` : 'missing'}, expected [${q.shape.join(', ')}])`, 'eval');
      }
      await scorer.setWeights(new Map([...rl.weights].map(([k, v]) => [k, v.data])));
      const r = await scorer.score(rows);
      s = s.map((x, i) => x - (r[i] as number));
      how = 'implicit reward log pi - log pi_ref';
    } else if (kind === 'logps') {
      const len = rows.map((r) => r.scored.filter(Boolean).length || 1);
      s = s.map((x, i) => x / (len[i] as number));
    }
    const n = pairs.length;
    const scored = pairsEx.map((e, i) => ({ chosen: s[i] as number, rejected: s[n + i] as number, ...(e.section ? { section: e.section } : {}) }));
    const acc = heldOutAccuracy(scored);
    const result = { model: dir, data: dataFile, scoredBy: how, pairs: n, skipped: data.skipped.length, accuracy: acc.micro, overall: acc.overall, meanMargin: acc.meanMargin, bySection: acc.bySection };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(`${n} pairs scored by ${how}: accuracy ${acc.micro.toFixed(4)}, mean margin ${acc.meanMargin.toFixed(4)}\n`);
      for (const g of acc.bySection) process.stdout.write(`  ${g.name}: ${g.accuracy.toFixed(4)} (${g.correct}/${g.n})\n`);
    }
    return 0;
  } finally {
    await scorer.dispose();
  }
}

/** The CLI; resolves to the exit code. */
export async function cliMain(argv: readonly string[]): Promise<number> {
  const isHelp = (a: string): boolean => a === '--help' || a === '-h';
  try {
    const at = argv.findIndex((a) => !a.startsWith('-'));
    const cmd = at >= 0 ? (argv[at] as string) : undefined;
    const before = at >= 0 ? argv.slice(0, at) : argv;
    const rest = at >= 0 ? argv.slice(at + 1) : [];
    if (before.some(isHelp) || cmd === 'help') {
      const topic = cmd === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
      process.stdout.write((topic ? commandHelp(topic) : overviewHelp()) + '\n');
      return 0;
    }
    const stray = before.filter((a) => !isHelp(a));
    if (!cmd) throw new UsageError(stray.length ? `options before a command: ${stray.join(' ')}` : 'give a command');
    const spec = COMMANDS[cmd];
    if (!spec) {
      const near = closest(cmd, COMMAND_NAMES);
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}${near ? ` (did you mean ${near}?)` : ''}; the commands are ${COMMAND_NAMES.join(', ')}`);
    }
    if (stray.length) throw new UsageError(`options go after the command: alignment ${cmd} ${stray.join(' ')}`, cmd);
    if (rest.some(isHelp)) {
      process.stdout.write(commandHelp(cmd) + '\n');
      return 0;
    }
    return await spec.run(spec.options ? parseCommand(cmd, spec, rest) : { positional: [cmd], flags: new Map() }, rest);
  } catch (e) {
    if (e instanceof UsageError) {
      const c = e.command ? COMMANDS[e.command] : undefined;
      process.stderr.write(`${e.message}\n\n${c ? `usage:\n${c.usage}\n('alignment ${e.command} --help' lists the options)` : overviewHelp()}\n`);
      return 2;
    }
    // An expected error (a UserError) is its message alone; anything else is a bug of ours and shows its stack.
    process.stderr.write(`error: ${formatError(e)}\n`);
    return 1;
  }
}

/**
 * Runs the CLI as this process and exits with its code. The bundle's entry (dist/cli.js, written by
 * scripts/build.mjs) turns on source maps before it loads this bundle: node reads the map of a file only when it
 * loads it, so turning them on here would be too late for this file's own stack frames.
 */
export function runCliProcess(): void {
  process.setSourceMapsEnabled(true);
  cliMain(process.argv.slice(2)).then((code) => process.exit(code));
}

if (require.main === module) runCliProcess();
