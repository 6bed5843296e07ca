/**
 * A run's train/eval split, in one place: the session trains on it (src/session/data.ts) and "Evaluate" scores a
 * reward model on its eval side, so "held out" means the pairs the run never trained on.
 */
import * as path from 'node:path';
import type { Example } from '../datasets/examples';
import { loadDatasetFile } from '../datasets/formats';
import { splitTrainEval, type Split } from '../datasets/prepare';
import { exampleAsTrlRow } from '../datasets/trlRow';
import type { RunSpec } from './spec';

/** The run's seeded split of its examples: all examples of one prompt on the same side. */
export function runSplit<E extends Example>(examples: readonly E[], spec: Pick<RunSpec, 'data' | 'seed'>): Split<E> {
  return splitTrainEval(examples, { evalFraction: spec.data.evalSplit, seed: spec.seed, groupBy: 'prompt' });
}

/**
 * The eval side of a run's split as TRL preference rows (`{id, prompt, chosen, rejected}`), read from the run's
 * data file as it is now (a file edited since the run splits differently), and the size of the train side.
 */
export async function runEvalRows(spec: RunSpec, baseDir: string): Promise<{ rows: Record<string, unknown>[]; train: number }> {
  const data = await loadDatasetFile(path.resolve(baseDir, spec.data.path), spec.data.format ? { format: spec.data.format } : {});
  const split = runSplit(data.examples, spec);
  return { rows: split.eval.filter((e) => e.kind === 'preference').map((e) => exampleAsTrlRow(e, { id: e.id })), train: split.train.length };
}
