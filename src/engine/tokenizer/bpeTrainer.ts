/**
 * A byte-level BPE trainer (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units";
 * byte-level variant of GPT-2, Radford et al. 2019) that writes a Hugging Face tokenizer.json.
 *
 * Algorithm:
 *   1. Split the text into pre-tokens with GPT-2's regex (the same split the ByteLevel pre-tokenizer makes at
 *      encode time) and count each distinct pre-token.
 *   2. Each pre-token starts as its UTF-8 bytes, one symbol per byte (256 base symbols, so nothing is ever
 *      out of vocabulary).
 *   3. Repeatedly merge the most frequent adjacent symbol pair (count weighted by pre-token frequency) into a new
 *      symbol, until the vocabulary is full or no pair occurs at least `minFrequency` times.
 * Ties are broken by the merged strings' code-unit order, so the same corpus always gives the same tokenizer.
 */

/** GPT-2's byte -> printable character table: bytes that are printable Latin-1 map to themselves, the rest to 256+. */
export function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  return table;
}

/** GPT-2's pre-tokenization pattern (contractions, letter runs, digit runs, punctuation runs, whitespace). */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface BpeTrainOptions {
  /** Target vocabulary size including the 256 byte symbols and the special tokens. */
  vocabSize: number;
  /** Special tokens, given ids 0..n-1 in this order. They are never split and never learned from the text. */
  specialTokens: readonly string[];
  /** Stop when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

/** The parts of tokenizer.json this trainer produces (the full object is what `toTokenizerJson` returns). */
export interface TrainedBpe {
  /** token string (byte-level alphabet) -> id */
  vocab: Map<string, number>;
  /** merges in priority order, as [left, right] */
  merges: [string, string][];
  specialTokens: readonly string[];
}

/** Trains byte-level BPE on `texts`. Special-token strings inside the texts are cut out before counting. */
export function trainByteLevelBpe(texts: Iterable<string>, opts: BpeTrainOptions): TrainedBpe {
  const minFreq = opts.minFrequency ?? 2;
  const nSpecial = opts.specialTokens.length;
  if (opts.vocabSize < nSpecial + 256) throw new Error(`BPE vocabSize ${opts.vocabSize} must be at least 256 + ${nSpecial} special tokens`);
  const byteChar = bytesToUnicode();
  const enc = new TextEncoder();
  const split = new RegExp(GPT2_SPLIT_PATTERN, 'gu');
  const specialSplit = nSpecial ? new RegExp(opts.specialTokens.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;

  // 1. pre-token counts
  const counts = new Map<string, number>();
  for (const text of texts) {
    const pieces = specialSplit ? text.split(specialSplit) : [text];
    for (const piece of pieces) {
      for (const m of piece.matchAll(split)) {
        const w = m[0];
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
  }

  // Symbols are ids into `symbols` (their byte-level strings).
  const symbols: string[] = [];
  const vocab = new Map<string, number>();
  opts.specialTokens.forEach((s) => {
    vocab.set(s, symbols.length);
    symbols.push(s);
  });
  const byteId: number[] = [];
  for (let b = 0; b < 256; b++) {
    byteId.push(symbols.length);
    vocab.set(byteChar[b], symbols.length);
    symbols.push(byteChar[b]);
  }

  // 2. words as symbol arrays, sorted for a stable order
  const keys = [...counts.keys()].sort();
  const words: number[][] = keys.map((w) => Array.from(enc.encode(w), (b) => byteId[b]));
  const freq: number[] = keys.map((w) => counts.get(w)!);

  // 3. merge loop
  const merges: [string, string][] = [];
  const K = 1 << 20; // pair key = left * K + right (ids stay far below 2^20)
  while (symbols.length < opts.vocabSize) {
    const pairCounts = new Map<number, number>();
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      const f = freq[i];
      for (let j = 0; j + 1 < w.length; j++) {
        const key = w[j] * K + w[j + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + f);
      }
    }
    let bestKey = -1;
    let bestCount = 0;
    let bestStr = '';
    for (const [key, c] of pairCounts) {
      if (c < bestCount) continue;
      const s = symbols[Math.floor(key / K)] + '\u0000' + symbols[key % K];
      if (c > bestCount || s < bestStr) {
        bestKey = key;
        bestCount = c;
        bestStr = s;
      }
    }
    if (bestKey < 0 || bestCount < minFreq) break;
    const a = Math.floor(bestKey / K);
    const b = bestKey % K;
    const merged = symbols[a] + symbols[b];
    if (vocab.has(merged)) {
      // Two different splits can spell the same string; keep the existing id and still record the merge.
      merges.push([symbols[a], symbols[b]]);
    } else {
      vocab.set(merged, symbols.length);
      symbols.push(merged);
      merges.push([symbols[a], symbols[b]]);
    }
    const id = vocab.get(merged)!;
    for (const w of words) {
      for (let j = 0; j + 1 < w.length; j++) {
        if (w[j] === a && w[j + 1] === b) w.splice(j, 2, id);
      }
    }
  }
  return { vocab, merges, specialTokens: opts.specialTokens };
}

/**
 * The Hugging Face tokenizer.json for a trained byte-level BPE: ByteLevel pre-tokenizer (GPT-2 regex, no
 * prefix space), BPE model, ByteLevel decoder; special tokens as added tokens. Loads in Python `tokenizers`,
 * `transformers` (PreTrainedTokenizerFast) and @huggingface/tokenizers.
 */
export function toTokenizerJson(bpe: TrainedBpe): Record<string, unknown> {
  const vocabObj: Record<string, number> = {};
  for (const [tok, id] of [...bpe.vocab.entries()].sort((x, y) => x[1] - y[1])) vocabObj[tok] = id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: bpe.specialTokens.map((content) => ({
      id: bpe.vocab.get(content)!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObj,
      // "left right" strings: the format every tokenizers version reads (byte-level symbols never contain a space).
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
