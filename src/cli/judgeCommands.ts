/**
 * `alignment judge` and `alignment eval-rm`:
 *
 *   alignment judge <dataset.jsonl> --base-url URL --model NAME [--name JUDGE] [--mode pairwise|rating]
 *                   [--concurrency N] [--limit N] [--timeout-ms N] [--max-retries N] [--pair-timeout-ms N]
 *                   [--scores-out FILE] [--json]
 *     Labels the dataset's pairs with an OpenAI-compatible judge: one `ai:<judge>` comparison per pair in the
 *     dataset's label journal (the same one the editor uses; pairs this judge labeled before are skipped, human
 *     labels are never touched). The API key is read from the ALIGNMENT_JUDGE_API_KEY environment variable (never a
 *     flag, so it stays out of shell history). In rating mode, --scores-out writes the ratings as a scores file
 *     for `eval-rm` and the evaluation panel. --timeout-ms bounds one request; --pair-timeout-ms bounds one pair, with
 *     every request, retry and wait (Retry-After included) it takes; a pair that would run past it fails, saying so.
 *
 *   alignment eval-rm <scores.jsonl> [--compare other.scores.jsonl]... [--json]
 *   alignment eval-rm --model <reward model folder | run folder> --data <pairs.jsonl> [--out scores.jsonl]
 *                     [--max-length N] [--compare ...] [--json]
 *     Evaluates a reward model: held-out accuracy overall and per section, calibration (ECE, Brier), reward
 *     histograms, length correlation, and EPIC / STARC / EPIC-like distances to the --compare files.
 *
 *   alignment rm-score --model <reward model folder | run folder> --data <pairs.jsonl> [--ids-stdin] [--max-length N] [--json]
 *     Scores each pair's chosen and rejected response with the reward model, 4 pairs per batch, and prints one
 *     result per record as soon as its batch is done (`recordId<TAB>chosen<TAB>rejected`; with --json the events
 *     of src/protocol/rewardScoring.ts). --ids-stdin scores only the record ids read from stdin (one JSON string
 *     per line), as the editor's reward-model judge sends them.
 *
 * Exit codes: 0 done (`judge`: every pair labeled, now or before), 1 failed, stopped early or (`judge`) some pair
 * failed, 2 bad usage.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanDataset } from '../core/datasets/datasetScan';
import { loadDatasetFile } from '../core/datasets/formats';
import type { PreferenceExample } from '../core/datasets/examples';
import { FeedbackStore } from '../core/feedback/store';
import { feedbackStoreSink } from '../core/judges/feedbackSink';
import { aiSource, completionText, runLabelJob, type AiPairLabel, type LabelJobResult, type PairItem } from '../core/judges/labelJob';
import { datasetPairItems } from '../core/judges/datasetPairs';
import { noPreferencePairsMessage } from './pairsNeeded';
import { one, type ParsedArgs } from './args';
import { MissingApiKeyError, redactSecret } from '../core/judges/endpoint';
import { OpenAiJudge } from '../core/judges/openaiJudge';
import { appendJudgement, judgementRecord } from '../core/judges/judgeRecords';
import { buildEvaluationReport, readScoresFile, type ScoredPairRecord } from '../core/eval/report';
import { formatScores, isScoresFile, SCORES_FILE_SUFFIX } from '../core/eval/scoring';
import { compareScores } from '../core/eval/compareScores';
import type { EvaluationReport } from '../protocol/evaluation';
import { loadHfModel } from '../engine/models/hfMapping';
import { buildModel } from '../engine/models/transformer';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import { promptCompletionRow } from '../training/batching';
import { encodePairs, type EncodedPair } from '../training/encode';
import { formatRmEvent, RmDone, RmError, RmReady, RmScore, RmSkip, type RmEvent, type RmSkipParams } from '../protocol/rewardScoring';
import { SequenceScorer } from '../training/evaluate';

/** Bad command-line input: printed with the usage, exit code 2. */
export class JudgeUsageError extends Error {}

export const JUDGE_USAGE = `  alignment judge <dataset.jsonl> --base-url <url> --model <name> [--name <judge>] [--mode pairwise|rating]
                  [--concurrency N] [--limit N] [--timeout-ms N] [--max-retries N] [--pair-timeout-ms N]
                  [--scores-out <file>] [--json]
                  (API key, if the endpoint needs one: environment variable ALIGNMENT_JUDGE_API_KEY)
  alignment eval-rm <scores.jsonl> [--compare <scores.jsonl>]... [--json]
  alignment eval-rm --model <reward model folder> --data <pairs.jsonl> [--out <scores.jsonl>] [--compare ...] [--json]
  alignment rm-score --model <reward model folder> --data <pairs.jsonl> [--ids-stdin] [--max-length N] [--json]`;

const BOOLEAN = new Set(['json', 'ids-stdin']);

function parseArgs(argv: readonly string[]): ParsedArgs {
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

function int(a: ParsedArgs, name: string, min: number): number | undefined {
  const s = one(a, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new JudgeUsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(s)})`);
  return n;
}

/** Every unknown option at once, with the command's valid ones. */
function checkFlags(a: ParsedArgs, allowed: readonly string[], cmd: string): void {
  const bad = [...a.flags.keys()].filter((k) => !allowed.includes(k));
  if (bad.length) throw new JudgeUsageError(`${cmd}: unknown option${bad.length > 1 ? 's' : ''} ${bad.map((k) => `--${k}`).join(', ')} (valid: ${allowed.map((k) => `--${k}`).join(', ')})`);
}

/** Runs `judge` or `eval-rm` with the arguments after the command name; resolves to the exit code. */
export async function runJudgeCli(cmd: 'judge' | 'eval-rm' | 'rm-score', argv: readonly string[]): Promise<number> {
  try {
    const a = parseArgs(argv);
    return await (cmd === 'judge' ? judge(a) : cmd === 'rm-score' ? rmScore(a) : evalRm(a));
  } catch (e) {
    if (!(e instanceof JudgeUsageError)) throw e;
    process.stderr.write(`${e.message}\nusage:\n${JUDGE_USAGE}\n`);
    return 2;
  }
}

/** `judge`'s options, checked; the API key comes from the environment, never from a flag. */
interface JudgeOptions {
  readonly json: boolean;
  /** The dataset, resolved; it exists. */
  readonly file: string;
  readonly baseUrl: string;
  readonly model: string;
  readonly mode: 'pairwise' | 'rating';
  readonly apiKey: string | undefined;
}

/** `alignment judge`: labels a dataset's pairs with an OpenAI-compatible judge (see the header). */
async function judge(a: ParsedArgs): Promise<number> {
  const o = judgeOptions(a);
  const judgeImpl = openJudge(a, o);
  for (const w of judgeImpl.endpoint.warnings) process.stderr.write(`warning: ${w}\n`);

  const scan = await scanDataset(o.file);
  const { pairs, notPairs } = datasetPairItems(scan, int(a, 'limit', 1));
  for (const d of scan.diagnostics.filter((x) => x.severity === 'error').slice(0, 20)) process.stderr.write(`${d.file}:${d.line}: ${d.message}\n`);
  if (!pairs.length) throw new JudgeUsageError(`judge: ${o.file} has no prompt/chosen/rejected pairs`);

  const result = await labelPairs(o, judgeImpl, pairs);
  const scoresOut = one(a, 'scores-out');
  if (scoresOut) writeJudgeScores(scoresOut, o.mode, result.labels, pairs);
  printJudgeSummary(o, judgeImpl, result, notPairs);
  return result.status === 'completed' && result.failed === 0 ? 0 : 1;
}

function judgeOptions(a: ParsedArgs): JudgeOptions {
  checkFlags(a, ['base-url', 'model', 'name', 'mode', 'concurrency', 'limit', 'timeout-ms', 'max-retries', 'pair-timeout-ms', 'scores-out', 'json'], 'judge');
  const json = one(a, 'json') === 'true';
  const dataset = a.positional[0];
  const baseUrl = one(a, 'base-url');
  const model = one(a, 'model');
  if (!dataset || !baseUrl || !model) throw new JudgeUsageError('judge: give a dataset file, --base-url and --model');
  const mode = one(a, 'mode') ?? 'pairwise';
  if (mode !== 'pairwise' && mode !== 'rating') throw new JudgeUsageError(`judge: --mode must be pairwise or rating (got ${JSON.stringify(mode)})`);
  const file = path.resolve(dataset);
  if (!fs.existsSync(file)) throw new JudgeUsageError(`judge: no dataset at ${file}`);
  return { json, file, baseUrl, model, mode, apiKey: process.env['ALIGNMENT_JUDGE_API_KEY'] || undefined };
}

/** The judge the options describe; a missing API key is a usage error that names the environment variable. */
function openJudge(a: ParsedArgs, o: JudgeOptions): OpenAiJudge {
  try {
    return new OpenAiJudge({
      baseUrl: o.baseUrl,
      model: o.model,
      apiKey: o.apiKey,
      mode: o.mode,
      ...(one(a, 'name') ? { name: one(a, 'name') } : {}),
      ...(int(a, 'concurrency', 1) ? { concurrency: int(a, 'concurrency', 1) } : {}),
      ...(int(a, 'timeout-ms', 1) ? { timeoutMs: int(a, 'timeout-ms', 1) } : {}),
      ...(int(a, 'max-retries', 0) !== undefined ? { maxRetries: int(a, 'max-retries', 0) } : {}),
      ...(int(a, 'pair-timeout-ms', 1) ? { pairTimeoutMs: int(a, 'pair-timeout-ms', 1) } : {}),
      onRetry: (r) => {
        if (!o.json) process.stderr.write(`retry ${r.attempt} in ${Math.round(r.delayMs)} ms (${r.reason}${r.status ? ` ${r.status}` : ''})\n`);
      },
    });
  } catch (e) {
    if (e instanceof MissingApiKeyError) throw new JudgeUsageError(`${e.message} Set the environment variable ALIGNMENT_JUDGE_API_KEY.`);
    throw e;
  }
}

/**
 * Runs the label job into the dataset's label journal and the judgements file beside it. SIGINT / SIGTERM stop it
 * between pairs, with the labels so far kept.
 */
async function labelPairs(o: JudgeOptions, judgeImpl: OpenAiJudge, pairs: readonly PairItem[]): Promise<LabelJobResult> {
  // Each CLI process writes its own journal in the dataset's labels folder; editors pick it up.
  const store = FeedbackStore.open({ datasetPath: o.file, writerId: `cli-${os.hostname().replace(/[^\w.-]/g, '_')}-${process.pid}`, annotator: aiSource(judgeImpl) });
  const sink = feedbackStoreSink(store);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('interrupted'));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runLabelJob({
      judge: judgeImpl,
      pairs,
      sink: {
        id: sink.id,
        labeledRecordIds: (s) => sink.labeledRecordIds(s),
        append: (label) => {
          sink.append(label);
          appendJudgement(o.file, judgementRecord(label));
        },
      },
      signal: abort.signal,
      onError: (e) => {
        const m = redactSecret(e.message, o.apiKey);
        if (o.json) process.stdout.write(JSON.stringify({ type: 'error', recordId: e.recordId, kind: e.kind, message: m }) + '\n');
        else process.stderr.write(`judge error on ${e.recordId} (${e.kind}): ${m}\n`);
      },
      onProgress: (p) => {
        if (!o.json && process.stderr.isTTY) process.stderr.write(`\r${p.labeled + p.failed}/${p.total - p.skipped} judged, ${p.failed} errors`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    store.close();
  }
}

/** `--scores-out`: the ratings of this run's labels as a scores file (rating mode only; pairwise verdicts have none). */
function writeJudgeScores(scoresOut: string, mode: JudgeOptions['mode'], labels: readonly AiPairLabel[], pairs: readonly PairItem[]): void {
  const rows: ScoredPairRecord[] = labels
    .filter((l) => l.judgement.scores)
    .map((l) => {
      const p = pairs.find((x) => x.recordId === l.recordId) as PairItem;
      return { id: l.recordId, chosen: l.judgement.scores?.a as number, rejected: l.judgement.scores?.b as number, chosenLength: p.a.text.length, rejectedLength: p.b.text.length };
    });
  if (mode !== 'rating') process.stderr.write('warning: --scores-out needs --mode rating (pairwise verdicts have no scores); nothing written\n');
  else {
    fs.writeFileSync(path.resolve(scoresOut), formatScores(rows));
    if (!isScoresFile(scoresOut)) process.stderr.write(`note: name scores files *${SCORES_FILE_SUFFIX} so the editor does not list ${path.basename(scoresOut)} as a dataset\n`);
  }
}

/** The job's summary: one JSON line with --json, else two lines for a person (with the judge's token usage). */
function printJudgeSummary(o: JudgeOptions, judgeImpl: OpenAiJudge, result: LabelJobResult, notPairs: number): void {
  const errorsByKind: Record<string, number> = {};
  for (const e of result.errors) errorsByKind[e.kind] = (errorsByKind[e.kind] ?? 0) + 1;
  const summary = {
    dataset: o.file,
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
  if (o.json) {
    process.stdout.write(JSON.stringify({ type: 'summary', ...summary }) + '\n');
    return;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(
    `${summary.source}: labeled ${summary.labeled} of ${summary.total} pairs (${summary.skipped} labeled before, ${summary.failed} judge errors${summary.failed ? `: ${Object.entries(errorsByKind).map(([k, n]) => `${n} ${k}`).join(', ')}` : ''})` +
      `${result.status !== 'completed' ? `; ${result.status}${result.stopReason ? `: ${result.stopReason}` : ''}` : ''}\n` +
      `tokens: ${summary.usage.promptTokens} prompt + ${summary.usage.completionTokens} completion in ${summary.usage.requests} requests\n` +
      failuresText(result, judgeImpl, o.apiKey),
  );
}

/**
 * Why the exit status is 1 because of failed pairs: how many failed, and per kind how many and the first message; with
 * the time limits when a pair failed for time. Empty when no pair failed.
 */
function failuresText(result: LabelJobResult, judgeImpl: OpenAiJudge, apiKey: string | undefined): string {
  if (!result.failed) return '';
  const first = new Map<string, { n: number; message: string }>();
  for (const e of result.errors) {
    const k = first.get(e.kind);
    if (k) k.n++;
    else first.set(e.kind, { n: 1, message: redactSecret(e.message, apiKey) });
  }
  const lines = [`${result.failed} of ${result.total} pairs failed (exit status 1); they are not labeled, and a rerun judges only them:`];
  for (const [kind, { n, message }] of first) lines.push(`  ${n} ${kind}, first: ${message}`);
  if (first.has('timeout') || first.has('rate-limit')) {
    lines.push(`  each pair may take ${judgeImpl.pairTimeoutMs} ms in all (--pair-timeout-ms), each request ${judgeImpl.client.requestTimeoutMs} ms (--timeout-ms)`);
  }
  return lines.join('\n') + '\n';
}

/** A reward model folder, or a run folder whose `final/` is one; a clear usage error otherwise. */
function rewardModelDir(modelDir: string, cmd: string): string {
  let dir = path.resolve(modelDir);
  if (!fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'final', 'config.json'))) dir = path.join(dir, 'final');
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new JudgeUsageError(`${cmd}: ${dir} is not a model folder (no config.json) or a run folder with final/`);
  return dir;
}

/** A reward model loaded and ready to score given pairs (rows sized to the longest of them). */
interface RewardScoring {
  readonly scorer: SequenceScorer;
  readonly encoded: readonly EncodedPair[];
  readonly seqLen: number;
}

/** Loads the model in `dir` (which must have a sequence-classification `score` head) for scoring `examples`. */
async function openRewardScoring(dir: string, examples: readonly PreferenceExample[], maxLength: number, cmd: string): Promise<RewardScoring> {
  const loaded = loadHfModel(dir);
  if (loaded.head !== 'score') throw new JudgeUsageError(`${cmd}: ${dir} is not a reward model (its head is "${loaded.head}", not a sequence-classification "score" head)`);
  const tok = TextTokenizer.fromFolder(dir);
  const limit = Math.min(maxLength, loaded.config.maxPositions);
  const { pairs } = encodePairs(tok, examples, { maxLength: limit });
  const longest = Math.max(8, ...pairs.flatMap((x) => [x.prompt.length + x.chosen.length, x.prompt.length + x.rejected.length]));
  const seqLen = Math.min(limit, Math.ceil(longest / 8) * 8);
  const model = buildModel(loaded.config, loaded.head, { maxLength: seqLen });
  const scorer = await SequenceScorer.create(model, 'reward', { batch: SCORE_BATCH, seqLen, padId: tok.padTokenId ?? 0 });
  try {
    await scorer.setWeights(new Map([...loaded.weights].map(([k, v]) => [k, v.data])));
  } catch (e) {
    await scorer.dispose();
    throw e;
  }
  return { scorer, encoded: pairs, seqLen };
}

/** Rows per scorer run: 4 pairs (chosen and rejected of each). */
const SCORE_BATCH = 8;

/** Scores held-out pairs with a reward model folder (a `score` head), in this process. */
async function scoreWithRewardModel(modelDir: string, dataFile: string, maxLength: number): Promise<{ pairs: ScoredPairRecord[]; skipped: string[] }> {
  const dir = rewardModelDir(modelDir, 'eval-rm');
  const data = await loadDatasetFile(path.resolve(dataFile));
  const skipped = data.skipped.map((s) => `${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}`);
  const examples = data.examples.filter((e): e is PreferenceExample => e.kind === 'preference');
  if (!examples.length) throw new JudgeUsageError(noPreferencePairsMessage('eval-rm', dataFile, data));
  const { scorer, encoded: pairs } = await openRewardScoring(dir, examples, maxLength, 'eval-rm');
  try {
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

/** Record ids from stdin, one JSON string per line. */
async function idsFromStdin(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const ids: string[] = [];
  Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        v = undefined;
      }
      if (typeof v !== 'string') throw new JudgeUsageError(`rm-score: stdin line ${i + 1}: expected a record id as a JSON string, got ${JSON.stringify(line.slice(0, 80))}`);
      ids.push(v);
    });
  return ids;
}

/**
 * `alignment rm-score`: a reward model scores a dataset's pairs in batches and streams one result per record as
 * it is done (the editor's reward-model judge reads them; see src/protocol/rewardScoring.ts). Records are named by
 * the dataset scan's ids (the label store's), so results match labels even when the file was reordered.
 */
async function rmScore(a: ParsedArgs): Promise<number> {
  checkFlags(a, ['model', 'data', 'ids-stdin', 'max-length', 'json'], 'rm-score');
  const json = one(a, 'json') === 'true';
  const emit = (e: RmEvent): void => {
    if (json) process.stdout.write(formatRmEvent(e));
  };
  const modelArg = one(a, 'model');
  const dataArg = one(a, 'data');
  if (!modelArg || !dataArg) throw new JudgeUsageError('rm-score: give --model <reward model folder> and --data <pairs.jsonl>');
  try {
    const dir = rewardModelDir(modelArg, 'rm-score');
    const file = path.resolve(dataArg);
    if (!fs.existsSync(file)) throw new JudgeUsageError(`rm-score: no dataset at ${file}`);
    const maxLength = int(a, 'max-length', 8) ?? 512;
    const scan = await scanDataset(file);
    const wanted = one(a, 'ids-stdin') === 'true' ? await idsFromStdin() : scan.records.map((r) => r.id);
    const lineOf = new Map(scan.records.map((r) => [r.id, r.line]));
    const data = await loadDatasetFile(file);
    if (data.kind !== 'preference') throw new JudgeUsageError(`rm-score: ${file} is ${data.kind} data, not preference pairs`);
    const byLine = new Map<number, PreferenceExample>();
    for (const e of data.examples) if (e.kind === 'preference') byLine.set(e.source.line, e);
    const whyNot = new Map(data.skipped.map((s) => [s.source.line, `${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}`]));
    const selected: { recordId: string; example: PreferenceExample }[] = [];
    const skips: RmSkipParams[] = [];
    for (const recordId of new Set(wanted)) {
      const line = lineOf.get(recordId);
      const example = line === undefined ? undefined : byLine.get(line);
      if (example) selected.push({ recordId, example });
      else skips.push({ recordId, reason: line === undefined ? `no record with id ${JSON.stringify(recordId)} in ${file} (was the file changed?)` : (whyNot.get(line) ?? `${file}:${line}: not a preference pair`) });
    }
    let scored = 0;
    if (selected.length) {
      const { scorer, encoded, seqLen } = await openRewardScoring(dir, selected.map((x) => x.example), maxLength, 'rm-score');
      try {
        emit(RmReady.create({ model: dir, pairs: selected.length, seqLen }));
        for (const s of skips) emit(RmSkip.create(s));
        const per = SCORE_BATCH / 2;
        for (let start = 0; start < encoded.length; start += per) {
          const chunk = encoded.slice(start, start + per);
          const rows = chunk.flatMap((x) => [promptCompletionRow(x.prompt, x.chosen), promptCompletionRow(x.prompt, x.rejected)]);
          const r = await scorer.score(rows);
          chunk.forEach((_, k) => {
            const { recordId } = selected[start + k] as { recordId: string };
            const chosen = r[2 * k] as number;
            const rejected = r[2 * k + 1] as number;
            if (json) emit(RmScore.create({ recordId, chosen, rejected }));
            else process.stdout.write(`${recordId}\t${chosen.toFixed(6)}\t${rejected.toFixed(6)}\n`);
            scored++;
          });
        }
      } finally {
        await scorer.dispose();
      }
    } else {
      emit(RmReady.create({ model: dir, pairs: 0, seqLen: 8 }));
      for (const s of skips) emit(RmSkip.create(s));
    }
    if (!json) for (const s of skips) process.stderr.write(`skipped ${s.recordId}: ${s.reason}\n`);
    emit(RmDone.create({ scored, skipped: skips.length }));
    if (!json) process.stderr.write(`${scored} pairs scored, ${skips.length} skipped\n`);
    return 0;
  } catch (e) {
    // With --json the reader gets the reason as an event too (stderr also carries it, with the usage for bad input).
    emit(RmError.create({ message: e instanceof Error ? e.message : String(e) }));
    throw e;
  }
}

const f3 = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));

async function evalRm(a: ParsedArgs): Promise<number> {
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
      if (!isScoresFile(source)) process.stderr.write(`note: name scores files *${SCORES_FILE_SUFFIX} so the editor does not list ${path.basename(source)} as a dataset\n`);
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
