/**
 * `alignment judge` and `alignment eval-rm`:
 *
 *   alignment judge <dataset.jsonl> --base-url URL --model NAME [--name JUDGE] [--mode pairwise|rating]
 *                   [--concurrency N] [--limit N] [--timeout-ms N] [--max-retries N] [--scores-out FILE] [--json]
 *     Labels the dataset's pairs with an OpenAI-compatible judge: one `ai:<judge>` comparison per pair in the
 *     dataset's label journal (the same one the editor uses; pairs this judge labeled before are skipped, human
 *     labels are never touched). The API key is read from the ALIGNMENT_JUDGE_API_KEY environment variable (never a
 *     flag, so it stays out of shell history). In rating mode, --scores-out writes the ratings as a scores file
 *     for `eval-rm` and the evaluation panel.
 *
 *   alignment eval-rm <scores.jsonl> [--compare other.scores.jsonl]... [--json]
 *   alignment eval-rm --model <reward model folder | run folder> --data <pairs.jsonl> [--out scores.jsonl]
 *                     [--max-length N] [--compare ...] [--json]
 *     Evaluates a reward model: held-out accuracy overall and per section, calibration (ECE, Brier), reward
 *     histograms, length correlation, and EPIC / STARC / EPIC-like distances to the --compare files.
 *
 * Exit codes: 0 done, 1 failed or stopped early, 2 bad usage.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanJsonl } from '../core/datasets/jsonlScan';
import { loadDatasetFile } from '../core/datasets/formats';
import type { PreferenceExample } from '../core/datasets/examples';
import { pairOf } from '../core/feedback/comparisonQueue';
import { FeedbackStore } from '../core/feedback/store';
import { feedbackStoreSink } from '../core/judges/feedbackSink';
import { aiSource, completionText, renderConversation, runLabelJob, type AiPairLabel, type PairItem } from '../core/judges/labelJob';
import { MissingApiKeyError, redactSecret } from '../core/judges/endpoint';
import { OpenAiJudge } from '../core/judges/openaiJudge';
import { appendJudgement, judgementRecord } from '../core/judges/judgeRecords';
import { buildEvaluationReport, readScoresFile, type ScoredPairRecord } from '../core/eval/report';
import { formatScores } from '../core/eval/scoring';
import { compareScores } from '../core/eval/compareScores';
import type { EvaluationReport } from '../protocol/evaluation';
import { loadHfModel } from '../engine/models/hfMapping';
import { buildModel } from '../engine/models/transformer';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { promptCompletionRow } from '../engine/trainers/batching';
import { encodePairs } from '../engine/trainers/encode';
import { SequenceScorer } from '../engine/trainers/evaluate';

/** Bad command-line input: printed with the usage, exit code 2. */
export class JudgeUsageError extends Error {}

export const JUDGE_USAGE = `  alignment judge <dataset.jsonl> --base-url <url> --model <name> [--name <judge>] [--mode pairwise|rating]
                  [--concurrency N] [--limit N] [--timeout-ms N] [--max-retries N] [--scores-out <file>] [--json]
                  (API key, if the endpoint needs one: environment variable ALIGNMENT_JUDGE_API_KEY)
  alignment eval-rm <scores.jsonl> [--compare <scores.jsonl>]... [--json]
  alignment eval-rm --model <reward model folder> --data <pairs.jsonl> [--out <scores.jsonl>] [--compare ...] [--json]`;

interface Args {
  readonly positional: string[];
  readonly flags: Map<string, string[]>;
}

const BOOLEAN = new Set(['json']);

function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : BOOLEAN.has(name) ? 'true' : argv[++i];
    if (value === undefined) throw new JudgeUsageError(`--${name} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { positional, flags };
}

function one(a: Args, name: string): string | undefined {
  const v = a.flags.get(name);
  return v?.[v.length - 1];
}

function int(a: Args, name: string, min: number): number | undefined {
  const s = one(a, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new JudgeUsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(s)})`);
  return n;
}

function checkFlags(a: Args, allowed: readonly string[], cmd: string): void {
  for (const k of a.flags.keys()) if (!allowed.includes(k)) throw new JudgeUsageError(`${cmd}: unknown option --${k}`);
}

/** Runs `judge` or `eval-rm` with the arguments after the command name; resolves to the exit code. */
export async function runJudgeCli(cmd: 'judge' | 'eval-rm', argv: readonly string[]): Promise<number> {
  try {
    const a = parseArgs(argv);
    return await (cmd === 'judge' ? judge(a) : evalRm(a));
  } catch (e) {
    if (!(e instanceof JudgeUsageError)) throw e;
    process.stderr.write(`${e.message}\nusage:\n${JUDGE_USAGE}\n`);
    return 2;
  }
}

async function judge(a: Args): Promise<number> {
  checkFlags(a, ['base-url', 'model', 'name', 'mode', 'concurrency', 'limit', 'timeout-ms', 'max-retries', 'scores-out', 'json'], 'judge');
  const json = one(a, 'json') === 'true';
  const dataset = a.positional[0];
  const baseUrl = one(a, 'base-url');
  const model = one(a, 'model');
  if (!dataset || !baseUrl || !model) throw new JudgeUsageError('judge: give a dataset file, --base-url and --model');
  const mode = one(a, 'mode') ?? 'pairwise';
  if (mode !== 'pairwise' && mode !== 'rating') throw new JudgeUsageError(`judge: --mode must be pairwise or rating (got ${JSON.stringify(mode)})`);
  const file = path.resolve(dataset);
  if (!fs.existsSync(file)) throw new JudgeUsageError(`judge: no dataset at ${file}`);
  const apiKey = process.env['ALIGNMENT_JUDGE_API_KEY'] || undefined;
  let judgeImpl: OpenAiJudge;
  try {
    judgeImpl = new OpenAiJudge({
      baseUrl,
      model,
      apiKey,
      mode,
      ...(one(a, 'name') ? { name: one(a, 'name') } : {}),
      ...(int(a, 'concurrency', 1) ? { concurrency: int(a, 'concurrency', 1) } : {}),
      ...(int(a, 'timeout-ms', 1) ? { timeoutMs: int(a, 'timeout-ms', 1) } : {}),
      ...(int(a, 'max-retries', 0) !== undefined ? { maxRetries: int(a, 'max-retries', 0) } : {}),
      onRetry: (r) => {
        if (!json) process.stderr.write(`retry ${r.attempt} in ${Math.round(r.delayMs)} ms (${r.reason}${r.status ? ` ${r.status}` : ''})\n`);
      },
    });
  } catch (e) {
    if (e instanceof MissingApiKeyError) throw new JudgeUsageError(`${e.message} Set the environment variable ALIGNMENT_JUDGE_API_KEY.`);
    throw e;
  }
  for (const w of judgeImpl.endpoint.warnings) process.stderr.write(`warning: ${w}\n`);

  const scan = await scanJsonl(file);
  const limit = int(a, 'limit', 1);
  const pairs: PairItem[] = [];
  let notPairs = 0;
  for (const rec of scan.records) {
    if (limit !== undefined && pairs.length >= limit) break;
    const read = rec.valid ? scan.index.readRecord(rec.index, { shape: 'any' }) : undefined;
    const p = read?.ok ? pairOf(read.record.value) : undefined;
    if (!p) {
      notPairs++;
      continue;
    }
    pairs.push({ recordId: rec.id, prompt: renderConversation(p.prompt), a: { key: 'chosen', text: p.texts.chosen }, b: { key: 'rejected', text: p.texts.rejected } });
  }
  for (const d of scan.diagnostics.filter((x) => x.severity === 'error').slice(0, 20)) process.stderr.write(`${d.file}:${d.line}: ${d.message}\n`);
  if (!pairs.length) throw new JudgeUsageError(`judge: ${file} has no prompt/chosen/rejected pairs`);

  // Each CLI process writes its own journal in the dataset's labels folder; editors pick it up.
  const store = FeedbackStore.open({ datasetPath: file, writerId: `cli-${os.hostname().replace(/[^\w.-]/g, '_')}-${process.pid}`, annotator: aiSource(judgeImpl) });
  const sink = feedbackStoreSink(store);
  const labels: AiPairLabel[] = [];
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('interrupted'));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result;
  try {
    result = await runLabelJob({
      judge: judgeImpl,
      pairs,
      sink: {
        id: sink.id,
        labeledRecordIds: (s) => sink.labeledRecordIds(s),
        append: (label) => {
          sink.append(label);
          appendJudgement(file, judgementRecord(label));
          labels.push(label);
        },
      },
      signal: abort.signal,
      onError: (e) => {
        const m = redactSecret(e.message, apiKey);
        if (json) process.stdout.write(JSON.stringify({ type: 'error', recordId: e.recordId, kind: e.kind, message: m }) + '\n');
        else process.stderr.write(`judge error on ${e.recordId} (${e.kind}): ${m}\n`);
      },
      onProgress: (p) => {
        if (!json && process.stderr.isTTY) process.stderr.write(`\r${p.labeled + p.failed}/${p.total - p.skipped} judged, ${p.failed} errors`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    store.close();
  }
  const scoresOut = one(a, 'scores-out');
  if (scoresOut) {
    const rows: ScoredPairRecord[] = labels
      .filter((l) => l.judgement.scores)
      .map((l) => {
        const p = pairs.find((x) => x.recordId === l.recordId) as PairItem;
        return { id: l.recordId, chosen: l.judgement.scores?.a as number, rejected: l.judgement.scores?.b as number, chosenLength: p.a.text.length, rejectedLength: p.b.text.length };
      });
    if (mode !== 'rating') process.stderr.write('warning: --scores-out needs --mode rating (pairwise verdicts have no scores); nothing written\n');
    else fs.writeFileSync(path.resolve(scoresOut), formatScores(rows));
  }
  const errorsByKind: Record<string, number> = {};
  for (const e of result.errors) errorsByKind[e.kind] = (errorsByKind[e.kind] ?? 0) + 1;
  const summary = {
    dataset: file,
    source: aiSource(judgeImpl),
    status: result.status,
    ...(result.stopReason ? { stopReason: result.stopReason } : {}),
    total: result.total,
    labeled: result.labeled,
    skipped: result.skipped,
    failed: result.failed,
    notPairs,
    errorsByKind,
    usage: judgeImpl.usage,
  };
  if (json) process.stdout.write(JSON.stringify({ type: 'summary', ...summary }) + '\n');
  else {
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(
      `${summary.source}: labeled ${summary.labeled} of ${summary.total} pairs (${summary.skipped} labeled before, ${summary.failed} judge errors${summary.failed ? `: ${Object.entries(errorsByKind).map(([k, n]) => `${n} ${k}`).join(', ')}` : ''})` +
        `${result.status !== 'completed' ? `; ${result.status}${result.stopReason ? `: ${result.stopReason}` : ''}` : ''}\n` +
        `tokens: ${summary.usage.promptTokens} prompt + ${summary.usage.completionTokens} completion in ${summary.usage.requests} requests\n`,
    );
  }
  return result.status === 'completed' ? 0 : 1;
}

/** Scores held-out pairs with a reward model folder (a `score` head), in this process. */
async function scoreWithRewardModel(modelDir: string, dataFile: string, maxLength: number): Promise<{ pairs: ScoredPairRecord[]; skipped: string[] }> {
  let dir = path.resolve(modelDir);
  if (!fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'final', 'config.json'))) dir = path.join(dir, 'final');
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new JudgeUsageError(`eval-rm: ${dir} is not a model folder (no config.json) or a run folder with final/`);
  const data = await loadDatasetFile(path.resolve(dataFile));
  const skipped = data.skipped.map((s) => `${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}`);
  const examples = data.examples.filter((e): e is PreferenceExample => e.kind === 'preference');
  if (!examples.length) throw new JudgeUsageError(`eval-rm: ${dataFile} has no preference pairs (it is ${data.kind} data)`);
  const loaded = loadHfModel(dir);
  if (loaded.head !== 'score') throw new JudgeUsageError(`eval-rm: ${dir} is not a reward model (its head is "${loaded.head}", not a sequence-classification "score" head)`);
  const tok = TextTokenizer.fromFolder(dir);
  const limit = Math.min(maxLength, loaded.config.maxPositions);
  const { pairs } = encodePairs(tok, examples, { maxLength: limit });
  const longest = Math.max(...pairs.flatMap((x) => [x.prompt.length + x.chosen.length, x.prompt.length + x.rejected.length]));
  const seqLen = Math.min(limit, Math.ceil(longest / 8) * 8);
  const model = buildModel(loaded.config, loaded.head, { maxLength: seqLen });
  const scorer = await SequenceScorer.create(model, 'reward', { batch: 8, seqLen, padId: tok.padTokenId ?? 0 });
  try {
    await scorer.setWeights(new Map([...loaded.weights].map(([k, v]) => [k, v.data])));
    const rows = [...pairs.map((x) => promptCompletionRow(x.prompt, x.chosen)), ...pairs.map((x) => promptCompletionRow(x.prompt, x.rejected))];
    const s = await scorer.score(rows);
    const n = pairs.length;
    return {
      pairs: examples.map((e, i) => ({
        id: e.id,
        section: e.section,
        tags: e.tags,
        chosen: s[i] as number,
        rejected: s[n + i] as number,
        chosenLength: completionText(e.chosen).length,
        rejectedLength: completionText(e.rejected).length,
      })),
      skipped,
    };
  } finally {
    await scorer.dispose();
  }
}

const f3 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));

async function evalRm(a: Args): Promise<number> {
  checkFlags(a, ['model', 'data', 'out', 'compare', 'max-length', 'json'], 'eval-rm');
  const json = one(a, 'json') === 'true';
  const modelDir = one(a, 'model');
  let pairs: ScoredPairRecord[];
  let skipped: string[];
  let source: string;
  let title: string;
  if (modelDir) {
    const data = one(a, 'data');
    if (!data) throw new JudgeUsageError('eval-rm: --model needs --data <pairs file>');
    if (a.positional.length) throw new JudgeUsageError('eval-rm: give either a scores file or --model with --data, not both');
    ({ pairs, skipped } = await scoreWithRewardModel(modelDir, data, int(a, 'max-length', 8) ?? 512));
    title = path.basename(path.resolve(modelDir));
    const out = one(a, 'out');
    source = out ? path.resolve(out) : '';
    if (out) {
      fs.mkdirSync(path.dirname(source), { recursive: true });
      fs.writeFileSync(source, formatScores(pairs));
      if (!json) process.stderr.write(`scores written to ${source}\n`);
    }
  } else {
    const file = a.positional[0];
    if (!file) throw new JudgeUsageError('eval-rm: give a scores file, or --model <folder> --data <pairs file>');
    source = path.resolve(file);
    if (!fs.existsSync(source)) throw new JudgeUsageError(`eval-rm: no scores file at ${source}`);
    ({ pairs, skipped } = await readScoresFile(source));
    title = path.basename(source).replace(/\.jsonl$/i, '').replace(/\.scores$/i, '');
  }
  if (!pairs.length) throw new JudgeUsageError(`eval-rm: no scored pairs${skipped.length ? ` (${skipped.length} rows skipped, first: ${skipped[0]})` : ''}`);
  const compare = a.flags.get('compare') ?? [];
  let distances: { metric: string; matrix: ReturnType<typeof compareScores>['distances'][number]['matrix'] }[] = [];
  const notes: string[] = [];
  if (compare.length) {
    const others = await Promise.all(compare.map(async (f) => ({ name: path.basename(f).replace(/\.jsonl$/i, '').replace(/\.scores$/i, ''), ...(await readScoresFile(path.resolve(f))) })));
    for (const o of others) skipped.push(...o.skipped);
    const cmp = compareScores([{ name: title, pairs }, ...others]);
    distances = [...cmp.distances];
    notes.push(...cmp.notes);
  }
  const report = buildEvaluationReport({ title, ...(source ? { source } : {}), pairs, skipped, distances });
  if (json) process.stdout.write(JSON.stringify({ ...report, notes }) + '\n');
  else process.stdout.write(formatReport(report, notes));
  return 0;
}

function formatReport(r: EvaluationReport, notes: readonly string[]): string {
  const lines = [
    `${r.title}: ${r.n} held-out pairs`,
    `  accuracy ${f3(r.accuracy.micro)} (section-weighted ${f3(r.accuracy.overall)}), ${r.accuracy.ties} ties, mean margin ${f3(r.accuracy.meanMargin)}`,
    ...r.accuracy.sections.map((g) => `    ${g.name}: ${g.accuracy.toFixed(3)} (${g.correct}/${g.n})`),
    `  calibration of sigmoid(r+ - r-): ECE ${f3(r.calibration.ece)}, MCE ${f3(r.calibration.mce)}, Brier ${f3(r.calibration.brier)}`,
  ];
  if (r.length) lines.push(`  reward vs length: Pearson ${f3(r.length.pearson)}, Spearman ${f3(r.length.spearman)} (n=${r.length.n})`);
  for (const d of r.distances) {
    lines.push(`  ${d.metric} distances:`);
    const w = Math.max(...d.names.map((n) => n.length));
    for (let i = 0; i < d.names.length; i++) lines.push(`    ${d.names[i].padEnd(w)}  ${d.values[i].map((x) => x.toFixed(3)).join('  ')}`);
  }
  for (const n of notes) lines.push(`  note: ${n}`);
  if (r.skipped.length) lines.push(`  ${r.skipped.length} row(s) skipped, first: ${r.skipped[0]}`);
  return lines.join('\n') + '\n';
}
