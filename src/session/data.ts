/**
 * A run's data: the data file loaded (skipped rows reported with file:line, the first 20 listed), then split into
 * train and eval sets by a seeded split that keeps all examples of one prompt on the same side.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Example } from '../core/datasets/examples';
import { DatasetFormatError, loadDatasetFile, type LoadResult } from '../core/datasets/formats';
import type { Split } from '../core/datasets/prepare';
import { runSplit } from '../core/runs/evalSplit';
import type { RunSpec } from '../core/runs/spec';
import type { EventSink } from './events';
import { SessionInputError } from './types';

/** Skipped (or duplicate-id) rows listed one per line in a warning; the rest are counted. */
const SKIPPED_LISTED = 20;

/** Loads and splits the run's data; throws SessionInputError when nothing usable is left to train on. */
export async function loadSplit(spec: RunSpec, baseDir: string, sink: EventSink): Promise<Split<Example>> {
  const data = await loadData(spec, baseDir);
  reportSkipped(data, sink);
  reportDuplicates(data, sink);
  if (data.examples.length === 0) throw new SessionInputError(`data.path: no usable rows in ${spec.data.path} (${data.skipped.length} skipped)`);
  const split = runSplit(data.examples, spec);
  if (split.train.length === 0) throw new SessionInputError(`data.evalSplit ${spec.data.evalSplit} leaves no training examples of the ${data.examples.length} in ${spec.data.path}`);
  return split;
}

/** Loads the data file; throws SessionInputError when unusable. Skipped rows come back for reporting. */
async function loadData(spec: RunSpec, baseDir: string): Promise<LoadResult> {
  const file = path.resolve(baseDir, spec.data.path);
  if (!fs.existsSync(file)) throw new SessionInputError(`data.path: ${file} does not exist`);
  try {
    return await loadDatasetFile(file, spec.data.format ? { format: spec.data.format } : {});
  } catch (e) {
    if (e instanceof DatasetFormatError) throw new SessionInputError(`data.path: ${e.message}`);
    throw e;
  }
}

/** Rows that share an id train as separate examples; each repeat is named with both lines (as the editor does). */
function reportDuplicates(data: LoadResult, sink: EventSink): void {
  const d = data.duplicates;
  if (!d.length) return;
  const more = d.length > SKIPPED_LISTED ? `\n... and ${d.length - SKIPPED_LISTED} more` : '';
  sink.warning({ message: `${d.length === 1 ? '1 row repeats' : `${d.length} rows repeat`} an earlier row's id:\n${d.slice(0, SKIPPED_LISTED).map((x) => x.message).join('\n')}${more}` });
}

function reportSkipped(data: LoadResult, sink: EventSink): void {
  if (!data.skipped.length) return;
  const lines = data.skipped.slice(0, SKIPPED_LISTED).map((s) => `${s.where}${s.field ? ` ${s.field}` : ''}: ${s.reason}`);
  const more = data.skipped.length > SKIPPED_LISTED ? `\n... and ${data.skipped.length - SKIPPED_LISTED} more` : '';
  sink.warning({ message: `${data.skipped.length} of ${data.counts.rows} rows skipped:\n${lines.join('\n')}${more}`, dataLoss: { rows: data.counts.rows, rowsSkipped: data.skipped.length } });
}
