/**
 * Test helpers: a character-level corpus from the shared demo data (assistant replies of the DPO demo set)
 * and seeded batches of next-token windows from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../../../src/engine/rng';
import type { HostTensor } from '../../../../src/engine/runtime/tensor';

/** 95 printable ASCII characters + 1 for everything else. */
export const CHAR_VOCAB = 96;

const repoRoot = path.resolve(__dirname, '../../../..');

/** Token ids of the first `maxChars` characters of the demo set's chosen replies. */
export function loadCorpus(maxChars = 40_000): Int32Array {
  const file = path.join(repoRoot, '..', 'shared', 'data', 'dpo_en_demo.trl.jsonl');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  let text = '';
  for (const line of lines) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { chosen: { content: string }[] };
    text += row.chosen.map((m) => m.content).join('\n') + '\n';
    if (text.length >= maxChars) break;
  }
  text = text.slice(0, maxChars);
  const ids = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    ids[i] = c >= 32 && c <= 126 ? c - 32 : 95;
  }
  return ids;
}

/** K steps × A micro-batches × [B, T] windows (ids, next-token targets) at positions drawn from `rng`. */
export function windows(corpus: Int32Array, rng: Rng, K: number, A: number, B: number, T: number): { ids: HostTensor; targets: HostTensor } {
  const n = K * A * B;
  const ids = new BigInt64Array(n * T);
  const targets = new BigInt64Array(n * T);
  for (let r = 0; r < n; r++) {
    const start = rng.int(corpus.length - T - 1);
    for (let t = 0; t < T; t++) {
      ids[r * T + t] = BigInt(corpus[start + t]!);
      targets[r * T + t] = BigInt(corpus[start + t + 1]!);
    }
  }
  return {
    ids: { dtype: 'int64', shape: [K, A, B, T], data: ids },
    targets: { dtype: 'int64', shape: [K, A, B, T], data: targets },
  };
}
