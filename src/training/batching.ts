/**
 * Collation into the static shapes the training graph is compiled for, and the seeded order in which a run
 * visits its examples.
 *
 * Rows are right-padded to T tokens: `ids` [N, T] int64 (pad = the tokenizer's pad id), `mask` [N, T] int64
 * (1 = real token), `cmask` [N, T] int64 (1 = completion token whose log-prob counts). The transformer's positions
 * are cumsum(mask) - 1, so right padding does not shift real tokens.
 *
 * Example order: the k-th example drawn by a run (k = 0, 1, ...) is `perm_e[k mod n]` with e = floor(k / n) and
 * perm_e a permutation seeded by (seed, e). A run's position in its data is therefore just k, which is what makes
 * resuming from a checkpoint exact: step s consumed examples [s * perStep, (s + 1) * perStep).
 */
import { Rng } from '../engine/rng';

/** One row before padding: tokens and which of them are scored. */
export interface Row {
  readonly ids: readonly number[];
  /** Per token: true = completion token (its log-prob is part of the sequence log-prob / loss). */
  readonly scored: readonly boolean[];
}

/** Prompt + completion as one row; completion tokens are scored. */
export function promptCompletionRow(prompt: readonly number[], completion: readonly number[]): Row {
  return { ids: [...prompt, ...completion], scored: [...prompt.map(() => false), ...completion.map(() => true)] };
}

/** Padded int64 arrays of N rows of T tokens. */
export interface PaddedRows {
  readonly ids: BigInt64Array;
  readonly mask: BigInt64Array;
  readonly cmask: BigInt64Array;
  /** Real tokens in all rows. */
  readonly tokens: number;
}

/** Writes `rows` into [rows.length, T] arrays (rows longer than T are cut at T). */
export function padRows(rows: readonly Row[], T: number, padId: number): PaddedRows {
  const n = rows.length;
  const ids = new BigInt64Array(n * T).fill(BigInt(padId));
  const mask = new BigInt64Array(n * T);
  const cmask = new BigInt64Array(n * T);
  let tokens = 0;
  rows.forEach((r, i) => {
    const len = Math.min(r.ids.length, T);
    tokens += len;
    for (let t = 0; t < len; t++) {
      ids[i * T + t] = BigInt(r.ids[t] as number);
      mask[i * T + t] = 1n;
      cmask[i * T + t] = r.scored[t] ? 1n : 0n;
    }
  });
  return { ids, mask, cmask, tokens };
}

/** Several sequences packed back to back in one row (SFT packing, src/core/datasets/prepare.ts `Pack`). */
export interface PackedRow extends Row {
  /** Start of each sequence in the row, then the row's length: `[0, n1, n1 + n2, ..., length]`. */
  readonly boundaries: readonly number[];
}

/**
 * Packed rows into [rows.length, T] arrays: `ids`/`mask`/`cmask` as {@link padRows}, plus `segments` (k = the
 * k-th sequence of the row, from 1; 0 = padding) for the block-diagonal attention mask. The first token of every
 * sequence is unscored (cmask 0): it follows the previous sequence's last token, which must not predict it
 * (TRL's padding-free collation masks the same label).
 */
export function padPackedRows(rows: readonly PackedRow[], T: number, padId: number): PaddedRows & { readonly segments: BigInt64Array } {
  const r = padRows(rows, T, padId);
  const segments = new BigInt64Array(rows.length * T);
  rows.forEach((row, i) => {
    const b = row.boundaries;
    if (b[0] !== 0 || b[b.length - 1] !== row.ids.length) throw new RangeError(`packed row ${i}: boundaries [${b.join(', ')}] do not span its ${row.ids.length} tokens`);
    for (let k = 0; k + 1 < b.length; k++) {
      const start = b[k] as number;
      const end = Math.min(b[k + 1] as number, T);
      if (start >= T) break;
      r.cmask[i * T + start] = 0n;
      for (let t = start; t < end; t++) segments[i * T + t] = BigInt(k + 1);
    }
  });
  return { ...r, segments };
}

/** Smallest multiple of `multiple` >= the longest row, capped at `maxLength` (the static T of the graphs). */
export function sequenceLength(lengths: Iterable<number>, maxLength: number, multiple = 8): number {
  let longest = 2;
  for (const l of lengths) if (l > longest) longest = l;
  return Math.min(maxLength, Math.ceil(longest / multiple) * multiple);
}

/** The seeded epoch-by-epoch order of a run's examples (see module comment). */
export class ExampleOrder {
  private cache = new Map<number, number[]>();

  constructor(
    readonly size: number,
    private readonly seed: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`ExampleOrder: needs at least one example, got ${size}`);
  }

  /** The example index drawn k-th (k >= 0). */
  at(k: number): number {
    const epoch = Math.floor(k / this.size);
    let perm = this.cache.get(epoch);
    if (!perm) {
      perm = new Rng(this.seed).derive(`data-epoch-${epoch}`).permutation(this.size);
      if (this.cache.size > 4) this.cache.clear();
      this.cache.set(epoch, perm);
    }
    return perm[k - epoch * this.size] as number;
  }

  /** `count` example indices starting at draw k. */
  slice(k: number, count: number): number[] {
    return Array.from({ length: count }, (_, i) => this.at(k + i));
  }
}

/** Concatenates int64 arrays (e.g. the micro-batches of K steps into one [K, A, ...] feed). */
export function concatI64(parts: readonly BigInt64Array[]): BigInt64Array {
  const out = new BigInt64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Concatenates float32 arrays. */
export function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
