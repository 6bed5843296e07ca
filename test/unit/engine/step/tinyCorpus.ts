/**
 * Test helpers: a character-level corpus from the project's own seeded dialogue generator (assistant replies of
 * the demo corpus, src/engine/tokenizer/demoCorpus.ts) and seeded batches of next-token windows from it.
 */
import { Rng } from '../../../../src/engine/rng';
import { generateDemoDialogues } from '../../../../src/engine/tokenizer/demoCorpus';
import type { HostTensor } from '../../../../src/engine/runtime/tensor';

/** 95 printable ASCII characters + 1 for everything else. */
export const CHAR_VOCAB = 96;

/** Token ids of the first `maxChars` characters of the demo corpus's assistant replies (seed 1234). */
export function loadCorpus(maxChars = 40_000): Int32Array {
  let text = '';
  // about 28 characters of replies per dialogue: maxChars / 20 dialogues hold more than maxChars
  for (const d of generateDemoDialogues(Math.ceil(maxChars / 20))) {
    text += d.messages.filter((m) => m.role === 'assistant').map((m) => m.content).join('\n') + '\n';
    if (text.length >= maxChars) break;
  }
  if (text.length < maxChars) throw new Error(`loadCorpus: the demo corpus gave ${text.length} of ${maxChars} characters`);
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
