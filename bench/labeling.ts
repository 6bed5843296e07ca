/**
 * Labeling latency: how fast the first comparison pair of a large dataset is on screen, and how long persisting
 * one decision (append + fsync) takes.
 *
 *   node --import tsx bench/labeling.ts [--records 100000] [--decisions 300]
 *
 * Generates a ~100 MB JSONL of 100k preference pairs in a temp dir, then measures
 *  - first_pair_ms: JsonlIndex.build (newline scan of the whole file) + readRecord(0) + the pair's fields checked;
 *  - scan_ms: the full parse/diagnostics pass (informational; the UI runs it after the first pair is shown);
 *  - persist_ms_median / p95: FeedbackStore.record of one comparison (validate, write, fsync, read back).
 * There is no external tool to compare with; the targets (1.5 s, 20 ms) are printed alongside as the ratio.
 * Note: the file was just written, so it is in the page cache (a warm read, as when a user opens a file they have
 * just generated); a cold first read adds the disk's sequential read time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonlIndex } from '../src/core/datasets/jsonlScan';
import { FeedbackStore } from '../src/core/feedback/store';

const TARGET_FIRST_PAIR_MS = 1500;
const TARGET_PERSIST_MS = 20;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Deterministic xorshift32, so every run writes the same file. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const WORDS = 'the model should answer clearly and cite sources when asked about history science code math policy safety reasoning step result because therefore however example'.split(' ');

function sentence(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)]);
  return out.join(' ');
}

async function generate(file: string, records: number): Promise<number> {
  const r = rng(42);
  const ws = fs.createWriteStream(file);
  let bytes = 0;
  for (let i = 0; i < records; i++) {
    const line =
      JSON.stringify({
        id: `rec-${i}`,
        prompt: [{ role: 'user', content: sentence(r, 30) }],
        chosen: [{ role: 'assistant', content: sentence(r, 52) }],
        rejected: [{ role: 'assistant', content: sentence(r, 52) }],
      }) + '\n';
    bytes += Buffer.byteLength(line);
    if (!ws.write(line)) await new Promise<void>((res) => ws.once('drain', () => res()));
  }
  await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
  return bytes;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function main(): Promise<void> {
  const records = arg('records', 100_000);
  const decisions = arg('decisions', 300);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-labeling-'));
  try {
    const file = path.join(dir, 'pairs.jsonl');
    const bytes = await generate(file, records);
    console.log(`dataset: ${records} records, ${(bytes / 1e6).toFixed(1)} MB`);

    // first pair: index + first record
    const t0 = performance.now();
    const index = await JsonlIndex.build(file);
    const tIndexed = performance.now();
    const first = index.readRecord(0);
    const t1 = performance.now();
    if (!first.ok || first.record.problems.length > 0 || index.count !== records) throw new Error('benchmark dataset did not index as expected');
    const firstPairMs = t1 - t0;

    const t2 = performance.now();
    const scan = await index.scan();
    const scanMs = performance.now() - t2;
    if (scan.diagnostics.length !== 0 || scan.records.length !== records) throw new Error(`scan found ${scan.diagnostics.length} diagnostics`);

    // random access to a late record
    const t3 = performance.now();
    const late = index.readRecord(index.indexOfId(`rec-${records - 1}`) ?? -1);
    const randomReadMs = performance.now() - t3;
    if (!late.ok) throw new Error('could not read the last record');

    // persisting decisions
    const store = FeedbackStore.open({ datasetPath: file, writerId: 'bench', annotator: 'bench' });
    const times: number[] = [];
    for (let i = 0; i < decisions; i++) {
      const a = performance.now();
      store.record({
        recordId: `rec-${i}`,
        type: 'comparison',
        payload: { mode: 'pair', order: i % 2 ? ['chosen', 'rejected'] : ['rejected', 'chosen'], preferred: i % 3 ? 'chosen' : null },
        seconds: 3.2,
      });
      times.push(performance.now() - a);
    }
    store.close();
    const persistMedian = percentile(times, 0.5);
    const persistP95 = percentile(times, 0.95);

    const result = {
      records,
      dataset_mb: Number((bytes / 1e6).toFixed(1)),
      first_pair_ms: Number(firstPairMs.toFixed(1)),
      first_pair_target_ms: TARGET_FIRST_PAIR_MS,
      first_pair_ratio_to_target: Number((firstPairMs / TARGET_FIRST_PAIR_MS).toFixed(3)),
      // Where the first pair's time goes: the newline scan of the whole file, then parsing and checking record 0.
      first_pair_breakdown_ms: { index_build: Number((tIndexed - t0).toFixed(1)), read_and_check_first: Number((t1 - tIndexed).toFixed(1)) },
      scan_ms: Number(scanMs.toFixed(1)),
      random_read_ms: Number(randomReadMs.toFixed(2)),
      persist_ms_median: Number(persistMedian.toFixed(2)),
      persist_ms_p95: Number(persistP95.toFixed(2)),
      persist_target_ms: TARGET_PERSIST_MS,
      persist_ratio_to_target: Number((persistMedian / TARGET_PERSIST_MS).toFixed(3)),
      decisions,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}, ${os.cpus().length} cpus`,
      date: new Date().toISOString(),
    };
    console.log(`first pair available: ${result.first_pair_ms} ms (target < ${TARGET_FIRST_PAIR_MS} ms, ratio ${result.first_pair_ratio_to_target})`);
    console.log(`  where it goes: index build (newline scan of the file) ${result.first_pair_breakdown_ms.index_build} ms, reading and checking record 0 ${result.first_pair_breakdown_ms.read_and_check_first} ms`);
    console.log(`full scan (ids, diagnostics): ${result.scan_ms} ms; random read of the last record: ${result.random_read_ms} ms`);
    console.log(`persist one decision (fsync): median ${result.persist_ms_median} ms, p95 ${result.persist_ms_p95} ms (target < ${TARGET_PERSIST_MS} ms, ratio ${result.persist_ratio_to_target})`);
    fs.mkdirSync('bench-results', { recursive: true });
    fs.writeFileSync(path.join('bench-results', 'labeling.json'), JSON.stringify(result, null, 2) + '\n');
    console.log('wrote bench-results/labeling.json');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
