/**
 * A scanned JSONL dataset as the pairs a judge labels: the one place that turns scan records into
 * {@link PairItem}s, shared by the editor's "AI-Label Dataset" and the `alignment judge` CLI, so both label the
 * same pairs under the same record ids (the feedback store's ids).
 */
import type { DatasetIndex, JsonlScanResult } from '../datasets/jsonlScan';
import { pairOf } from '../feedback/comparisonQueue';
import { renderConversation, type PairItem } from './labelJob';

/** A pair to judge together with the 1-based line of its record in the dataset file. */
export type DatasetPairItem = PairItem & { readonly line: number };

export interface DatasetPairs {
  /** The prompt/chosen/rejected pairs in file order (A = `chosen`, B = `rejected`). */
  readonly pairs: DatasetPairItem[];
  /** Records looked at that are invalid or not pairs (skipped; the scan's diagnostics say why). */
  readonly notPairs: number;
}

/**
 * The dataset's records as pairs to judge, keyed by the scan's record ids. With `limit`, stops after that many
 * pairs (in dataset order).
 */
export function datasetPairItems(scan: JsonlScanResult & { readonly index: DatasetIndex }, limit?: number): DatasetPairs {
  const pairs: DatasetPairItem[] = [];
  let notPairs = 0;
  for (const rec of scan.records) {
    if (limit !== undefined && pairs.length >= limit) break;
    const read = rec.valid ? scan.index.readRecord(rec.index) : undefined;
    const p = read?.ok ? pairOf(read.record.row) : undefined;
    if (!p) {
      notPairs++;
      continue;
    }
    pairs.push({ recordId: rec.id, line: rec.line, prompt: renderConversation(p.prompt), a: { key: 'chosen', text: p.texts.chosen }, b: { key: 'rejected', text: p.texts.rejected } });
  }
  return { pairs, notPairs };
}
