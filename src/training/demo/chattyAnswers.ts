/**
 * The demo's SFT data: the synthetic dialogue corpus (src/engine/tokenizer/demoCorpus.ts), where a share of the
 * answers carry a filler sentence before or after the answer ("Sure thing! The capital of Peru is Lima.", "3 plus
 * 4 is 7. I hope that helps you!"), as instruction data collected from many writers often does. The SFT model
 * learns both styles, so its replies vary in a way the proxy reward (proxyReward.ts) cares about: the filler
 * lowers the word-F1 against the concise reference answer (precision) and costs 0.1 per word past the reference's
 * length + 2. Sampled pairs then carry a signal a tiny model can pick up in a few dozen preference steps, besides
 * the correctness signal (wrong facts), which needs knowledge the model mostly does not have.
 *
 * The reference answers used by the proxy reward stay the corpus's concise answers.
 */
import { Rng } from '../../engine/rng';

/** Sentences put before the answer. */
export const FILLER_OPENINGS: readonly string[] = ['Sure thing!', 'Good question!', 'Let me think about that.'];
/** Sentences put after the answer. */
export const FILLER_CLOSINGS: readonly string[] = ['I hope that helps you!', 'Let me know if you need more.', 'Is there anything else?'];

/**
 * `answer` with a filler sentence with probability `rate` (half of those before the answer, half after), drawing
 * from `rng`. Deterministic for a given generator state.
 */
export function withFiller(answer: string, rng: Rng, rate: number): string {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`withFiller: rate must be in [0, 1], got ${rate}`);
  if (rng.uniform() >= rate) return answer;
  if (rng.int(2) === 0) return `${FILLER_OPENINGS[rng.int(FILLER_OPENINGS.length)] as string} ${answer}`;
  return `${answer} ${FILLER_CLOSINGS[rng.int(FILLER_CLOSINGS.length)] as string}`;
}
