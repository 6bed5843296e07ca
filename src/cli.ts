/**
 * `alignment`: the training jobs from a terminal (bundled as dist/cli.js, the package's bin).
 *
 *   alignment train <spec.json> [--run-dir DIR] [--json] [--threads N]
 *   alignment train --method dpo --data pairs.jsonl [--model builtin | --model <HF folder>] [--steps N]
 *                   [--epochs N] [--batch-size N] [--lr X] [--max-length N] [--eval-split F] [--set name=value]...
 *                   [--run-dir DIR] [--json]
 *   alignment demo [--out demo-output] [--quick] [--json] [--threads N]
 *   alignment eval <model folder | run folder> --data pairs.jsonl [--reference <folder>] [--json]
 *
 * In a terminal a progress bar shows the step, the loss and the time left; `--json` prints every session event as
 * one JSON line on stdout instead (for other programs). Invalid specs list every bad field. Ctrl-C (or SIGTERM)
 * stops a training run after it writes a checkpoint; running the same command with the same --run-dir resumes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { heldOutAccuracy } from './core/eval/accuracy';
import type { PreferenceExample } from './core/datasets/examples';
import { loadDatasetFile } from './core/datasets/formats';
import { newRunId, runPaths, runsRoot } from './core/runs/layout';
import { resolveRunSpec } from './core/runs/spec';
import { isMethodId, METHOD_IDS, type HyperparameterValue } from './core/methods';
import { formatEvent, type SessionEvent } from './protocol/session';
import { loadHfModel } from './engine/models/hfMapping';
import { buildModel } from './engine/models/transformer';
import { TextTokenizer } from './engine/tokenizer/tokenizer';
import { promptCompletionRow } from './engine/trainers/batching';
import { encodePairs } from './engine/trainers/encode';
import { SequenceScorer } from './engine/trainers/evaluate';
import { DEMO_SCALES, runDemo } from './session/demo';
import { EventSink } from './session/events';
import { defaultCacheDir } from './session/model';
import { runSession } from './session/runSession';
import { runJudgeCli } from './cli/judgeCommands';

interface Parsed {
  positional: string[];
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(['json', 'quick', 'help', 'ids-stdin']);

function parse(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const value = eq > 0 ? a.slice(eq + 1) : BOOLEAN_FLAGS.has(name) ? 'true' : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, [...(flags.get(name) ?? []), value]);
    } else positional.push(a);
  }
  return { positional, flags };
}

class UsageError extends Error {}

const USAGE = `usage:
  alignment train <spec.json> [--run-dir DIR] [--json] [--threads N]
  alignment train --method <${METHOD_IDS.slice(0, 8).join('|')}> --data <file> [--model builtin|<HF folder>]
                  [--steps N] [--epochs N] [--batch-size N] [--lr X] [--max-length N] [--eval-split F]
                  [--set name=value]... [--run-dir DIR] [--json]
  alignment demo [--out demo-output] [--quick] [--sft-from <SFT model folder>] [--json] [--threads N]
  alignment eval <model or run folder> --data <pairs file> [--reference <folder>] [--json]`;

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
    } else if (e.type === 'error') {
      this.line(`error: ${e.params.message}${e.params.detail && !e.params.detail.startsWith('Error') ? `\n${e.params.detail}` : ''}`);
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

function one(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return v ? v[v.length - 1] : undefined;
}

function num(p: Parsed, name: string): number | undefined {
  const v = one(p, name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`--${name}: expected a number, got ${JSON.stringify(v)}`);
  return x;
}

function hyperValue(v: string): HyperparameterValue {
  if (v === 'true') return true;
  if (v === 'false') return false;
  const x = Number(v);
  return v.trim() !== '' && Number.isFinite(x) ? x : v;
}

/** A spec from command-line flags. */
export function specFromFlags(p: Parsed): Record<string, unknown> {
  const method = one(p, 'method');
  if (!method) throw new UsageError('train: give a spec file or --method and --data');
  if (!isMethodId(method)) throw new UsageError(`--method: unknown method ${JSON.stringify(method)} (one of ${METHOD_IDS.join(', ')})`);
  const model = one(p, 'model') ?? 'builtin';
  const hyper: Record<string, HyperparameterValue> = {};
  for (const s of p.flags.get('set') ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected name=value, got ${JSON.stringify(s)}`);
    hyper[s.slice(0, eq)] = hyperValue(s.slice(eq + 1));
  }
  const data: Record<string, unknown> = { path: one(p, 'data') };
  if (num(p, 'max-length') !== undefined) data.maxLength = num(p, 'max-length');
  if (num(p, 'eval-split') !== undefined) data.evalSplit = num(p, 'eval-split');
  const opt: Record<string, unknown> = {};
  if (num(p, 'lr') !== undefined) opt.learningRate = num(p, 'lr');
  return {
    method,
    model: model === 'builtin' ? { kind: 'builtin' } : { kind: 'hf', path: model },
    data,
    ...(Object.keys(hyper).length ? { hyperparameters: hyper } : {}),
    ...(num(p, 'steps') !== undefined ? { maxSteps: num(p, 'steps') } : {}),
    ...(num(p, 'epochs') !== undefined ? { epochs: num(p, 'epochs') } : {}),
    ...(num(p, 'batch-size') !== undefined ? { batchSize: num(p, 'batch-size') } : {}),
    ...(Object.keys(opt).length ? { optimizer: opt } : {}),
  };
}

function attachOutput(sink: EventSink, json: boolean, label: string): void {
  if (json) sink.on((e) => process.stdout.write(formatEvent(e)));
  else {
    const bar = new Progress(process.stderr, label);
    sink.on((e) => bar.event(e));
  }
}

async function train(p: Parsed): Promise<number> {
  const json = one(p, 'json') === 'true';
  let raw: Record<string, unknown>;
  const file = p.positional[1];
  if (file) {
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`cannot read the run spec ${file}: ${(e as Error).message}`);
    }
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
  const paths = runPaths(runDir);
  fs.writeFileSync(paths.spec, JSON.stringify(r.spec, null, 2) + '\n');
  if (!json) process.stderr.write(`run folder: ${runDir}\n`);
  const sink = new EventSink(paths.events);
  attachOutput(sink, json, r.spec.method);
  let stop = false;
  const onSignal = (): void => {
    if (!json) process.stderr.write('\nstopping after this step (writing a checkpoint)...\n');
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const threads = num(p, 'threads');
    const res = await runSession(r.spec, { runDir, cacheDir: defaultCacheDir(), sink, stopRequested: () => stop, ...(threads ? { threads } : {}) });
    return res.reason === 'failed' ? 1 : 0;
  } finally {
    sink.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function demo(p: Parsed): Promise<number> {
  const json = one(p, 'json') === 'true';
  const out = path.resolve(one(p, 'out') ?? 'demo-output');
  const threads = num(p, 'threads');
  const bars = new Map<string, Progress>();
  const t0 = Date.now();
  const report = await runDemo({
    outDir: out,
    cacheDir: one(p, 'cache') ?? defaultCacheDir(),
    scale: one(p, 'quick') === 'true' ? DEMO_SCALES.quick : DEMO_SCALES.full,
    ...(one(p, 'sft-from') ? { sftDir: one(p, 'sft-from') as string } : {}),
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
    reward_model_eval_accuracy: report.reward_model.eval_accuracy,
    seconds: (Date.now() - t0) / 1000,
  };
  if (json) process.stdout.write(JSON.stringify({ type: 'demo-report', params: summary }) + '\n');
  else {
    process.stdout.write(
      `\nDemo finished in ${summary.seconds.toFixed(0)} s. Report: ${path.join(out, 'report.html')}\n` +
        `  mean proxy reward  SFT ${report.proxy_reward_sft.toFixed(3)} -> DPO ${report.proxy_reward_aligned.toFixed(3)} (SimPO ${report.policies['simpo']?.proxy_reward.toFixed(3)})\n` +
        `  win rate vs SFT    DPO ${report.win_rate_vs_sft.toFixed(3)} (SimPO ${report.policies['simpo']?.win_rate_vs_sft.toFixed(3)})\n` +
        `  KL to SFT          DPO ${report.kl_to_sft.toFixed(3)} nats (SimPO ${report.policies['simpo']?.kl_to_sft.toFixed(3)})\n` +
        `  reward model held-out accuracy ${report.reward_model.eval_accuracy?.toFixed(3) ?? 'n/a'}\n`,
    );
  }
  return 0;
}

/**
 * Scores a preference file with a model folder (or a run's final/): a reward model ranks by its reward; a policy
 * by its implicit reward log pi(y|x) - log pi_ref(y|x) when --reference is given, else by log pi(y|x) per token.
 */
async function evaluate(p: Parsed): Promise<number> {
  const json = one(p, 'json') === 'true';
  const target = p.positional[1];
  const dataFile = one(p, 'data');
  if (!target || !dataFile) throw new UsageError('eval: give a model (or run) folder and --data <pairs file>');
  let dir = path.resolve(target);
  if (!fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'final', 'config.json'))) dir = path.join(dir, 'final');
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new UsageError(`eval: ${dir} is not a model folder or a run folder with final/`);
  const data = await loadDatasetFile(path.resolve(dataFile));
  for (const s of data.skipped) process.stderr.write(`skipped ${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}\n`);
  const pairsEx = data.examples.filter((e): e is PreferenceExample => e.kind === 'preference');
  if (!pairsEx.length) throw new UsageError(`eval: ${dataFile} has no preference pairs (it is ${data.kind} data)`);
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
    const ref = one(p, 'reference');
    if (kind === 'logps' && ref) {
      const rl = loadHfModel(path.resolve(ref), 'lm');
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
  let p: Parsed;
  try {
    p = parse(argv);
    const cmd = p.positional[0];
    if (!cmd || one(p, 'help') === 'true') {
      process.stdout.write(USAGE + '\n');
      return cmd ? 0 : 2;
    }
    if (cmd === 'judge' || cmd === 'eval-rm' || cmd === 'rm-score') return await runJudgeCli(cmd, argv.slice(argv.indexOf(cmd) + 1));
    if (cmd === 'train') return await train(p);
    if (cmd === 'demo') return await demo(p);
    if (cmd === 'eval') return await evaluate(p);
    throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  cliMain(process.argv.slice(2)).then((code) => process.exit(code));
}
