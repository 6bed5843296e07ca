/**
 * An `alignment inspect-rm` file (src/protocol/rewardInspection.ts) read as an evaluation: its records' rewards are
 * scored pairs for the report, and the records themselves, with their dense rewards, are the panel's examples.
 */
import { readFile } from 'node:fs/promises';
import { parseInspectionLine, type EvalExample, type RecordInspection } from '../../protocol/rewardInspection';
import type { ScoredPairRecord } from './report';

/** Examples the panel shows at most: the worst-ranked pairs first. */
export const MAX_EXAMPLES = 50;

export interface InspectionFile {
  readonly pairs: ScoredPairRecord[];
  readonly examples: EvalExample[];
  /** Lines that were skipped, as `file:line: reason`. */
  readonly skipped: string[];
}

/** The file as an inspection file, or undefined when its first record is not one (e.g. a scores file). */
export function parseInspectionFile(text: string, file: string): InspectionFile | undefined {
  const records: RecordInspection[] = [];
  const skipped: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.trim()) continue;
    const r = parseInspectionLine(line);
    if ('problems' in r) {
      if (records.length === 0 && skipped.length === 0) return undefined;
      skipped.push(`${file}:${i + 1}: ${r.problems.slice(0, 3).join('; ')}`);
    } else records.push(r);
  }
  if (records.length === 0) return undefined;
  const pairs = records.map((r): ScoredPairRecord => ({ id: r.recordId, chosen: r.chosen.reward, rejected: r.rejected.reward, chosenLength: r.chosen.text.length, rejectedLength: r.rejected.text.length }));
  const view = (y: RecordInspection['chosen']) => ({ reward: y.reward, canonicalReward: y.canonicalReward, spans: y.spans });
  const examples = records
    .map((r): EvalExample => ({ recordId: r.recordId, line: r.line, margin: r.chosen.reward - r.rejected.reward, chosen: view(r.chosen), rejected: view(r.rejected) }))
    .sort((a, b) => a.margin - b.margin)
    .slice(0, MAX_EXAMPLES);
  return { pairs, examples, skipped };
}

export async function readInspectionFile(file: string): Promise<InspectionFile | undefined> {
  return parseInspectionFile(await readFile(file, 'utf8'), file);
}
