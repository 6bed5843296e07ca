import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/**
 * Cache of single judge calls, keyed by a content hash of everything that determines the answer
 * (endpoint model, template, prompt, responses, presentation order, mode). A resumed or repeated job asks the
 * server only for what it has not answered before.
 */
export interface JudgeCache<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
}

/** sha256 over a canonical JSON encoding of the parts (order matters). */
export function cacheKey(parts: Readonly<Record<string, string | number | boolean | null>>): string {
  const ordered = Object.keys(parts).sort().map((k) => [k, parts[k]]);
  return createHash('sha256').update(JSON.stringify(ordered)).digest('hex');
}

export class MemoryJudgeCache<T> implements JudgeCache<T> {
  private readonly map = new Map<string, T>();
  get size(): number {
    return this.map.size;
  }
  get(key: string): T | undefined {
    return this.map.get(key);
  }
  set(key: string, value: T): void {
    this.map.set(key, value);
  }
}

/**
 * A cache persisted as JSON lines `{"key": ..., "value": ...}` (append-only, so a crash loses at most the
 * line being written; a torn last line is skipped on load). `isValue` checks each stored value.
 */
export class FileJudgeCache<T> implements JudgeCache<T> {
  private readonly map = new Map<string, T>();
  /** Lines that could not be read, as `file:line: reason`. */
  readonly skipped: string[] = [];

  constructor(readonly file: string, isValue: (v: unknown) => v is T) {
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const rec = JSON.parse(line) as { key?: unknown; value?: unknown };
        if (typeof rec.key === 'string' && isValue(rec.value)) this.map.set(rec.key, rec.value);
        else this.skipped.push(`${file}:${i + 1}: not a cache record`);
      } catch {
        this.skipped.push(`${file}:${i + 1}: not valid JSON`);
      }
    });
  }

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  set(key: string, value: T): void {
    this.map.set(key, value);
    appendFileSync(this.file, JSON.stringify({ key, value }) + '\n');
  }
}
