/**
 * What an AI labeling run keeps beside the label journal: each judgement's per-order verdicts and confidence
 * (the journal's comparison payload holds only the order and the preferred key), so the agreement report can
 * show a judge's consistency across the two orders and its position-bias rate after the run, and a judge's
 * rating-mode scores can join the reward-model distance matrix.
 *
 * Layout: `<dataset dir>/.alignment/<dataset file>.judgements/<source>.jsonl`, one JSON object per judged pair,
 * appended; a later line for the same record replaces an earlier one. It sits beside the `.labels` folder, not in
 * it, so the journal readers never see it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LabelView } from '../feedback/labelView';
import { labelsDirFor } from '../feedback/store';
import { judgeConsistency, judgeVsHuman, type JudgeConsistency, type JudgeVsHuman } from './judgeAgreement';
import type { JudgeMode, OrderVerdict, PairJudgement, PairVerdict } from './judgeTypes';
import type { AiPairLabel, AiSource } from './labelJob';

/** One line of a judgements file. */
export interface JudgementRecord {
  readonly recordId: string;
  readonly source: AiSource;
  /** Candidate keys with A first, as in the label. */
  readonly order: readonly [string, string];
  readonly winner: PairVerdict;
  readonly confidence: number;
  readonly mode: JudgeMode;
  readonly forward?: { readonly winner: PairVerdict; readonly position: OrderVerdict['position'] };
  readonly reversed?: { readonly winner: PairVerdict; readonly position: OrderVerdict['position'] };
  readonly consistent?: boolean;
  readonly positionFollowed?: boolean;
  readonly scores?: { readonly a: number; readonly b: number };
  /** ISO time the judgement was written. */
  readonly time: string;
}

/** The folder of a dataset's judgement files. */
export function judgementsDirFor(datasetPath: string): string {
  return labelsDirFor(datasetPath).replace(/\.labels$/, '.judgements');
}

/** The judgements file of one judge (`ai:<name>`; characters unsafe in file names become `_`). */
export function judgementsFileFor(datasetPath: string, source: AiSource): string {
  return path.join(judgementsDirFor(datasetPath), `${source.replace(/[^\w.@-]/g, '_')}.jsonl`);
}

/** The record of one written label. */
export function judgementRecord(label: AiPairLabel, now: Date = new Date()): JudgementRecord {
  const j = label.judgement;
  const order = (o: OrderVerdict | undefined) => (o ? { winner: o.winner, position: o.position } : undefined);
  return {
    recordId: label.recordId,
    source: label.source,
    order: label.order,
    winner: j.winner,
    confidence: j.confidence,
    mode: j.mode,
    forward: order(j.forward),
    reversed: order(j.reversed),
    consistent: j.consistent,
    positionFollowed: j.positionFollowed,
    scores: j.scores,
    time: now.toISOString(),
  };
}

/** Appends one record (creating the folder); one `appendFileSync` per line, so a crash loses at most that line. */
export function appendJudgement(datasetPath: string, rec: JudgementRecord): void {
  const file = judgementsFileFor(datasetPath, rec.source);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify(rec) + '\n');
}

function isVerdict(x: unknown): x is PairVerdict {
  return x === 'A' || x === 'B' || x === 'tie';
}

function isOrder(x: unknown): boolean {
  if (x === undefined) return true;
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return isVerdict(o.winner) && (o.position === 'first' || o.position === 'second' || o.position === 'tie');
}

/**
 * Reads every judge's records of a dataset: the last line per record and judge wins. Bad lines are returned as
 * `file:line: reason` and skipped.
 */
export function readJudgements(datasetPath: string): { readonly bySource: Map<AiSource, JudgementRecord[]>; readonly problems: string[] } {
  const dir = judgementsDirFor(datasetPath);
  const bySource = new Map<AiSource, JudgementRecord[]>();
  const problems: string[] = [];
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    return { bySource, problems };
  }
  for (const f of files) {
    const file = path.join(dir, f);
    const latest = new Map<string, JudgementRecord>();
    fs.readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
      if (raw.trim() === '') return;
      const where = `${file}:${i + 1}`;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        problems.push(`${where}: not valid JSON`);
        return;
      }
      if (typeof r !== 'object' || r === null) return void problems.push(`${where}: expected a JSON object`);
      if (typeof r.recordId !== 'string') return void problems.push(`${where}: field "recordId" must be a string`);
      if (typeof r.source !== 'string' || !r.source.startsWith('ai:')) return void problems.push(`${where}: field "source" must be "ai:<judge>"`);
      if (!isVerdict(r.winner)) return void problems.push(`${where}: field "winner" must be "A", "B" or "tie"`);
      if (typeof r.confidence !== 'number') return void problems.push(`${where}: field "confidence" must be a number`);
      if (!isOrder(r.forward) || !isOrder(r.reversed)) return void problems.push(`${where}: fields "forward"/"reversed" must be {winner, position}`);
      latest.set(r.recordId, r as unknown as JudgementRecord);
    });
    for (const rec of latest.values()) {
      const list = bySource.get(rec.source) ?? [];
      list.push(rec);
      bySource.set(rec.source, list);
    }
  }
  return { bySource, problems };
}

/** A judgement record in the shape {@link judgeConsistency} reads (per-order texts are not kept). */
function asJudgement(r: JudgementRecord): PairJudgement {
  const order = (o: JudgementRecord['forward']): OrderVerdict | undefined => (o ? { winner: o.winner, position: o.position, confidence: 1, text: '', cached: false } : undefined);
  return { winner: r.winner, confidence: r.confidence, mode: r.mode, forward: order(r.forward), reversed: order(r.reversed), consistent: r.consistent, positionFollowed: r.positionFollowed, scores: r.scores };
}

/** Agreement figures of one judge. */
export interface JudgeAgreementSummary {
  readonly source: AiSource;
  /** Current AI comparison labels from this judge in the journal. */
  readonly labels: number;
  readonly vsHuman: JudgeVsHuman;
  /** From the judgements file; `n` is 0 when the judge ran in rating mode or no file exists. */
  readonly consistency: JudgeConsistency;
}

/** Every judge that labeled this dataset: agreement with people, consistency across orders, position bias. */
export function judgeAgreementSummaries(view: LabelView, datasetPath: string): { readonly judges: JudgeAgreementSummary[]; readonly problems: string[] } {
  const counts = new Map<AiSource, number>();
  for (const e of view.allOfType('comparison')) {
    if (e.source.startsWith('ai:')) counts.set(e.source as AiSource, (counts.get(e.source as AiSource) ?? 0) + 1);
  }
  const { bySource, problems } = readJudgements(datasetPath);
  const sources = [...new Set<AiSource>([...counts.keys(), ...bySource.keys()])].sort();
  const judges = sources.map((source) => ({
    source,
    labels: counts.get(source) ?? 0,
    vsHuman: judgeVsHuman(view, source),
    consistency: judgeConsistency((bySource.get(source) ?? []).map(asJudgement)),
  }));
  return { judges, problems };
}

const pct = (x: number | null): string => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null): string => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(3));

/**
 * The "AI judges" section of the label statistics report (Markdown); an empty string when no judge labeled the
 * dataset.
 */
export function judgeAgreementMarkdown(view: LabelView, datasetPath: string): string {
  const { judges, problems } = judgeAgreementSummaries(view, datasetPath);
  if (judges.length === 0) return '';
  const lines = ['## AI judges', ''];
  lines.push('| judge | AI labels | vs human: pairs | accuracy | Cohen\'s kappa | consistency across orders | position-bias rate | ties |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const j of judges) {
    const c = j.consistency;
    lines.push(
      `| ${j.source} | ${j.labels} | ${j.vsHuman.n} | ${pct(j.vsHuman.accuracy)} | ${num(j.vsHuman.kappa.kappa)} | ${c.n ? pct(c.consistencyRate) : 'n/a'} | ${c.n ? pct(c.positionBiasRate) : 'n/a'} | ${c.n ? pct(c.tieRate) : 'n/a'} |`,
    );
  }
  lines.push(
    '',
    'Accuracy and kappa compare the judge with the human majority label of each pair both labeled. Consistency: both presentation orders gave the same verdict. Position-bias rate: both orders picked the same position (first/first or second/second), so the verdict followed the position, not the content; such pairs are recorded as ties.',
    '',
  );
  if (problems.length) lines.push(`${problems.length} unreadable judgement line(s) skipped, first: ${problems[0]}`, '');
  return lines.join('\n');
}
