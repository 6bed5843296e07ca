/**
 * Next-token selection from one row of logits, in transformers' order of logits processors:
 * temperature -> top-k -> top-p (nucleus, Holtzman et al. 2020) -> sample; or greedy (argmax).
 */

export interface SamplingOptions {
  /** true: argmax (ties -> lowest id). Default: greedy when temperature is 0. */
  greedy?: boolean;
  /** Softmax temperature (> 0; default 1). 0 means greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined = all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined = all). */
  topP?: number;
}

export interface Pick {
  token: number;
  /**
   * log p(token) under the temperature-scaled distribution before top-k/top-p truncation (what TRL's PPO/GRPO
   * recompute from logits / temperature); for greedy, under temperature 1.
   */
  logprob: number;
}

/** Validates sampling options, naming the bad field. */
export function checkSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) throw new Error(`temperature must be >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new Error(`topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`topP must be in (0, 1], got ${o.topP}`);
}

/** A source of uniform draws in [0, 1) (an Rng, or a row of a pre-drawn table). */
export interface UniformSource {
  uniform(): number;
}

/**
 * Picks the next token from `logits` (length V; only the first `vocabLimit` ids are eligible). Sampling takes one
 * draw from `rng` (inverse CDF over the candidates in order); greedy takes none.
 */
export function pickToken(logits: Float32Array, o: SamplingOptions, rng: UniformSource, vocabLimit = logits.length): Pick {
  const V = Math.min(vocabLimit, logits.length);
  const temperature = o.temperature ?? 1;
  const greedy = o.greedy ?? temperature === 0;
  const t = greedy ? 1 : temperature;
  // log-softmax of logits / t (float64)
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] / t > max) max = logits[i] / t;
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] / t - max);
  const logZ = max + Math.log(z);
  const lp = (i: number): number => logits[i] / t - logZ;
  if (greedy) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return { token: best, logprob: lp(best) };
  }
  // Candidates sorted by probability (desc), ties by id.
  let cand = Array.from({ length: V }, (_, i) => i);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, V) : V;
  const topP = o.topP ?? 1;
  if (k < V || topP < 1) {
    cand.sort((a, b) => logits[b] - logits[a] || a - b);
    cand = cand.slice(0, k);
    if (topP < 1) {
      // Renormalize over the top-k set, then keep tokens until the cumulative probability reaches topP
      // (the token that crosses the threshold is kept, as in transformers' TopPLogitsWarper).
      let zk = 0;
      for (const i of cand) zk += Math.exp(lp(i));
      let cum = 0;
      let keep = 0;
      for (const i of cand) {
        cum += Math.exp(lp(i)) / zk;
        keep++;
        if (cum >= topP) break;
      }
      cand = cand.slice(0, keep);
    }
  }
  let total = 0;
  for (const i of cand) total += Math.exp(lp(i));
  let u = rng.uniform() * total;
  for (const i of cand) {
    u -= Math.exp(lp(i));
    if (u <= 0) return { token: i, logprob: lp(i) };
  }
  const last = cand[cand.length - 1];
  return { token: last, logprob: lp(last) };
}
