/**
 * Runs `fn` over `items` with at most `limit` calls in flight, keeping the order of results. Stops taking new items
 * once `signal` is aborted (rejecting with its reason); `onProgress(done, total)` after each item.
 */
export async function mapLimit<T, U>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<U>,
  opts: { readonly signal?: AbortSignal; readonly onProgress?: (done: number, total: number) => void } = {},
): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('cancelled');
      const i = next++;
      out[i] = await fn(items[i], i);
      opts.onProgress?.(++done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
