/**
 * `alignment inspect-rm <reward model | run folder> --data <pairs.jsonl> [--out FILE.rewards.jsonl] [--record ID]... [--max-length N]`
 *
 * Writes, for every preference record of the dataset (or the --record ids, as the dataset scan and the label store
 * name them), one JSON line with the reward model's dense per-token rewards of the chosen and rejected responses,
 * their words' rewards and their per-prompt canonical rewards (src/protocol/rewardInspection.ts has the format and
 * src/training/rewardInspection.ts the math). Lines go to --out, or to stdout. The editor's reward heat overlay and
 * Inspect Reward command run this command.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreferenceExample } from '../core/datasets/examples';
import { loadDatasetFile } from '../core/datasets/formats';
import { scanJsonl } from '../core/datasets/jsonlScan';
import { INSPECTION_FILE_SUFFIX } from '../core/eval/scoring';
import { headFromConfig, loadHfModel, readHfConfig } from '../engine/models/hfMapping';
import { TextTokenizer } from '../engine/tokenizer/tokenizer';
import type { RecordInspection } from '../protocol/rewardInspection';
import { encodePairs } from '../training/encode';
import { checkTokenizerFits, inspectPairs, layPairs, PrefixScorer, type InspectionItem } from '../training/rewardInspection';
import { UserError } from '../util/errors';
import { writeFileDurable } from '../util/durable';
import { noPreferencePairsMessage } from './pairsNeeded';

export interface InspectRmOptions {
  /** The reward model folder (a run folder already resolved to its final/). */
  readonly dir: string;
  readonly data: string;
  readonly out?: string;
  /** Only these record ids (the dataset scan's), in this order; default every preference record. */
  readonly records?: readonly string[];
  readonly maxLength?: number;
}

/** The dataset's preference records to inspect, with their scan ids; problems with asked-for ids are errors. */
async function selectRecords(file: string, records: readonly string[] | undefined): Promise<{ recordId: string; line: number; example: PreferenceExample }[]> {
  if (!fs.existsSync(file)) throw new UserError(`inspect-rm: no dataset at ${file}`);
  const data = await loadDatasetFile(file);
  const byLine = new Map<number, PreferenceExample>();
  for (const e of data.examples) if (e.kind === 'preference') byLine.set(e.source.line, e);
  if (byLine.size === 0) throw new UserError(noPreferencePairsMessage('inspect-rm', file, data));
  const scan = await scanJsonl(file);
  const lineOf = new Map(scan.records.map((r) => [r.id, r.line]));
  const ids = records ?? scan.records.filter((r) => byLine.has(r.line)).map((r) => r.id);
  return ids.map((recordId) => {
    const line = lineOf.get(recordId);
    if (line === undefined) throw new UserError(`inspect-rm: ${file} has no record with id ${JSON.stringify(recordId)} (was the file changed?)`);
    const example = byLine.get(line);
    if (!example) {
      const why = data.skipped.find((s) => s.source.line === line);
      throw new UserError(`inspect-rm: ${file}:${line}: ${why ? `${why.field ? `${why.field}: ` : ''}${why.reason}` : 'not a preference pair (prompt, chosen, rejected)'}`);
    }
    return { recordId, line, example };
  });
}

/** Refuses a model without a score head (a policy), naming what it is and what is needed. */
function checkRewardModel(dir: string): void {
  const head = headFromConfig(readHfConfig(dir));
  if (head !== 'score') {
    throw new UserError(
      `inspect-rm: ${dir} is not a reward model: its head is "${head}" (a policy's language-model head), and reward inspection reads a sequence-classification "score" head at every prefix. Give a reward model folder or a reward-model run (alignment train --method reward).`,
    );
  }
}

/** Runs the inspection and writes its JSONL; resolves to the exit code. */
export async function inspectRm(o: InspectRmOptions): Promise<number> {
  checkRewardModel(o.dir);
  const tok = TextTokenizer.fromFolder(o.dir);
  const loaded = loadHfModel(o.dir, 'score');
  checkTokenizerFits(tok, loaded.config, o.dir);
  const file = path.resolve(o.data);
  const selected = await selectRecords(file, o.records);
  const limit = Math.min(o.maxLength ?? 512, loaded.config.maxPositions);
  const { pairs } = encodePairs(tok, selected.map((s) => s.example), { maxLength: limit });
  const items: InspectionItem[] = selected.map((s, i) => ({ ...s, encoded: pairs[i] as InspectionItem['encoded'] }));
  const laid = layPairs(tok, items);
  const scorer = await PrefixScorer.forLayouts(loaded.config, laid.map((l) => l.layout), tok.padTokenId ?? 0);
  let out: RecordInspection[];
  try {
    await scorer.setWeights(new Map([...loaded.weights].map(([k, v]) => [k, v.data])));
    out = await inspectPairs(scorer, items, laid);
  } finally {
    await scorer.dispose();
  }
  const text = out.map((r) => JSON.stringify(r) + '\n').join('');
  if (o.out) {
    const dest = path.resolve(o.out);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    writeFileDurable(dest, text);
    process.stderr.write(`${out.length} records inspected: ${dest}\n`);
    if (!dest.toLowerCase().endsWith(INSPECTION_FILE_SUFFIX)) process.stderr.write(`note: name inspection files *${INSPECTION_FILE_SUFFIX} so the editor does not list ${path.basename(dest)} as a dataset\n`);
  } else process.stdout.write(text);
  return 0;
}
