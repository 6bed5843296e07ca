/**
 * The real preference data some tests read: LLaMA-Factory's DPO and KTO demo sets (300 pairs, 300 unpaired
 * examples, each in TRL JSONL and ShareGPT JSON), kept in `../shared/data` beside the repository. The project never
 * copies them in, so a fresh clone has no such folder.
 *
 * A test that reads them is a real-data test and says so by passing `{ skip: REAL_DATA_SKIP }` to node:test (the
 * e2e runner uses the same reason): where the folder exists the value is `false` and the test runs; where it is
 * absent the test is reported as skipped with the reason. Every other test runs on data the project makes itself.
 *
 * `ALIGNMENT_REAL_DATA=<folder>` points elsewhere (a folder that does not exist shows the skip path).
 * No test-framework imports: the e2e runner loads this file through tsx.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The folder holding the real data files (`dpo_en_demo.trl.jsonl`, ...), whether or not it exists. Found from
 * `__filename`: tsx's `tsImport` (the e2e runner) gives a directly imported file a wrong `__dirname`.
 */
export const REAL_DATA_DIR = path.resolve(process.env.ALIGNMENT_REAL_DATA || path.join(path.dirname(__filename), '..', '..', '..', 'shared', 'data'));

/** `false` where the real data is present; otherwise why the real-data tests do not run. */
export const REAL_DATA_SKIP: string | false = fs.existsSync(path.join(REAL_DATA_DIR, 'dpo_en_demo.trl.jsonl'))
  ? false
  : `real data absent: no ${REAL_DATA_DIR}/dpo_en_demo.trl.jsonl (../shared/data beside the repository; ALIGNMENT_REAL_DATA=<folder> points elsewhere)`;

/** The path of one real data file, e.g. `realDataFile('dpo_en_demo.trl.jsonl')`. */
export function realDataFile(name: string): string {
  return path.join(REAL_DATA_DIR, name);
}
