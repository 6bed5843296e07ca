/**
 * A dataset file as the editor and the judges see it: indexed (JSON Lines or a JSON array), its format detected by
 * the format registry that training uses (`formats.ts`), and every record checked by that format's parser. So the
 * Problems panel, CodeLens, the comparison panel, judges, statistics and export see the rows that training loads,
 * and rows of LLaMA-Factory ShareGPT, HH-RLHF or UltraFeedback files are labeled under their TRL view (`trlRow.ts`).
 */
import * as fs from 'node:fs';
import { detectRowFormat, type FormatInfo } from './formats';
import { JsonArrayIndex } from './jsonArrayIndex';
import { JsonlIndex, type DatasetIndex, type JsonlScanOptions, type JsonlScanResult, type JsonlShape } from './jsonlScan';
import { rowFormat } from './trlRow';

/** Rows the format is detected from (as training detects it: the first 50 object rows vote). */
const DETECT_ROWS = 50;

export interface DatasetScanResult extends JsonlScanResult {
  readonly index: DatasetIndex;
  readonly container: 'jsonl' | 'json-array';
  /** The format the rows were checked as; undefined when no format of the registry fits (then `shape` did). */
  readonly format?: FormatInfo;
}

/** True when the file's first non-space byte opens a JSON array. */
export function startsWithArray(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '');
    return head.trimStart().startsWith('[');
  } finally {
    fs.closeSync(fd);
  }
}

/** Indexes `file` as a JSON array or JSON Lines, by its first byte. */
export async function buildDatasetIndex(file: string, options: Pick<JsonlScanOptions, 'signal'> = {}): Promise<DatasetIndex> {
  return startsWithArray(file) ? JsonArrayIndex.build(file) : JsonlIndex.build(file, options);
}

/** The values of the first records that parse (for format detection). */
function firstValues(index: DatasetIndex): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < index.count && out.length < DETECT_ROWS; i++) {
    const r = index.readRecord(i, { shape: 'any' });
    if (r.ok) out.push(r.record.value);
  }
  return out;
}

/**
 * Where no format of the registry fits, the shape the records are checked against: pairs when they have
 * `chosen`/`rejected`, TRL's unpaired form when they have `completion` + `label`, else any object (triplets, k-way
 * `responses`), so such files get no false "missing field" errors.
 */
export function fallbackShape(values: readonly unknown[]): JsonlShape {
  const v = values.find((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
  if (!v) return 'preference';
  if ('chosen' in v || 'rejected' in v) return 'preference';
  if ('completion' in v && 'label' in v) return 'unpaired';
  return 'any';
}

/** How an index's records are checked: the detected format of the registry, else a {@link fallbackShape}. */
export interface DatasetChecks {
  readonly format?: FormatInfo;
  readonly checks: Pick<JsonlScanOptions, 'shape' | 'rows'>;
}

/** Detects the format from the index's first records (reads at most 50 of them). */
export function datasetChecks(index: DatasetIndex): DatasetChecks {
  const values = firstValues(index);
  const format = detectRowFormat(values);
  return format ? { format, checks: { rows: rowFormat(format.id, index.file, format.keys) } } : { checks: { shape: fallbackShape(values) } };
}

/** Scans an index with the checks of its detected format. */
export async function scanIndex(index: DatasetIndex, options: Omit<JsonlScanOptions, 'shape' | 'rows'> = {}): Promise<DatasetScanResult> {
  const { format, checks } = datasetChecks(index);
  const result = await index.scan({ ...options, ...checks });
  return { ...result, index, container: index instanceof JsonArrayIndex ? 'json-array' : 'jsonl', ...(format ? { format } : {}) };
}

/** Indexes, detects the format of and scans a dataset file. Rejects only when the file cannot be read. */
export async function scanDataset(file: string, options: Omit<JsonlScanOptions, 'shape' | 'rows'> = {}): Promise<DatasetScanResult> {
  return scanIndex(await buildDatasetIndex(file, options), options);
}
