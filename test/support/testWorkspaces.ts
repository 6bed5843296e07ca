/**
 * Dataset workspaces for the tests that run in a real VS Code (test/e2e, test/integration).
 *
 * The generated datasets are made by the project itself from its seeded demo generator
 * (src/engine/tokenizer/demoCorpus.ts): the same seed gives the same files, byte for byte, on every machine, so
 * the tests that open them run from a fresh clone. The real data (test/support/realData.ts) is copied into a
 * throw-away workspace only where it exists, for the tests marked as real-data tests.
 *
 * No test-framework or VS Code imports: the e2e runner loads this file through tsx, and test/runElectron.ts
 * builds its workspace with it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateDemoPreferences } from '../../src/engine/tokenizer/demoCorpus';
import { REAL_DATA_DIR, REAL_DATA_SKIP } from './realData';

/** The generated datasets in a workspace's `data/` folder. */
export const GENERATED = {
  /** `records` preference pairs in TRL's conversational format (prompt / chosen / rejected), ids from {@link generatedId}. */
  pairs: 'pairs.trl.jsonl',
  /** `records` unpaired examples in TRL's format (prompt / completion / label): pair i's chosen reply for even i, its rejected one for odd i. */
  unpaired: 'unpaired.trl.jsonl',
  /** The same pairs in LLaMA-Factory's ShareGPT preference format (one JSON array). */
  sharegpt: 'pairs.sharegpt.json',
  /** Prompt-only rows for online methods (GRPO, RLOO): pair i's prompt, with its chosen reply as the reference `answer` (ids `prompt-000`...). */
  prompts: 'prompts.trl.jsonl',
  /** Records in each file. */
  records: 300,
  /** Seed of the demo preference generator. */
  seed: 4321,
} as const;

/** The id of generated pair `i` (0-based), as written in {@link GENERATED}.pairs. */
export function generatedId(i: number): string {
  return `pair-${String(i).padStart(3, '0')}`;
}

/** Writes the generated datasets into `dataDir` (created if needed). */
export function writeGeneratedData(dataDir: string): void {
  const pairs = generateDemoPreferences(GENERATED.records, GENERATED.seed);
  fs.mkdirSync(dataDir, { recursive: true });
  const jsonl = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  fs.writeFileSync(path.join(dataDir, GENERATED.pairs), jsonl(pairs.map((p, i) => ({ id: generatedId(i), prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }))));
  fs.writeFileSync(
    path.join(dataDir, GENERATED.unpaired),
    jsonl(pairs.map((p, i) => ({ id: `unpaired-${String(i).padStart(3, '0')}`, prompt: p.prompt, completion: i % 2 === 0 ? p.chosen : p.rejected, label: i % 2 === 0 }))),
  );
  const sharegpt = pairs.map((p) => ({
    conversations: p.prompt.map((m) => ({ from: m.role === 'user' ? 'human' : m.role === 'assistant' ? 'gpt' : m.role, value: m.content })),
    chosen: { from: 'gpt', value: p.chosen[0]?.content ?? '' },
    rejected: { from: 'gpt', value: p.rejected[0]?.content ?? '' },
  }));
  fs.writeFileSync(path.join(dataDir, GENERATED.sharegpt), JSON.stringify(sharegpt, null, 2) + '\n');
  fs.writeFileSync(path.join(dataDir, GENERATED.prompts), jsonl(pairs.map((p, i) => ({ id: `prompt-${String(i).padStart(3, '0')}`, prompt: p.prompt, answer: p.chosen[0]?.content ?? '' }))));
}

/**
 * Copies the real data files into `dataDir` where they exist; returns false (and copies nothing) where they do
 * not, with {@link REAL_DATA_SKIP} saying why.
 */
export function copyRealData(dataDir: string): boolean {
  if (REAL_DATA_SKIP) return false;
  fs.mkdirSync(dataDir, { recursive: true });
  for (const f of fs.readdirSync(REAL_DATA_DIR)) {
    if (/\.(jsonl|json)$/.test(f)) fs.copyFileSync(path.join(REAL_DATA_DIR, f), path.join(dataDir, f));
  }
  return true;
}

/** Folder of the real data in the API suite's workspace (test/integration/api/helpers.ts reads it). */
export const API_REAL_DATA_FOLDER = 'real-data';

/**
 * The API suite's workspace: the generated datasets in `data/`, and the real data in `real-data/` where it exists.
 * Returns the environment the extension host needs: `ALIGNMENT_REAL_DATA_SKIP` says why the real-data tests skip.
 */
export function writeApiWorkspace(ws: string): Record<string, string> {
  writeGeneratedData(path.join(ws, 'data'));
  const real = copyRealData(path.join(ws, API_REAL_DATA_FOLDER));
  return real ? {} : { ALIGNMENT_REAL_DATA_SKIP: REAL_DATA_SKIP || 'real data absent' };
}
