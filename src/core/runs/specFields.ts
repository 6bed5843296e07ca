/**
 * Field readers for the run-spec resolver (`./spec.ts`): each reads one field, records a problem under the
 * field's JSON path when it is wrong, and returns the value or its default, so the resolver collects every problem
 * of a spec in one pass.
 */
import type { SpecProblem } from './spec';

export type Obj = Record<string, unknown>;

export const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A rule a number must follow: the reason it breaks the rule, or undefined. */
export type NumberCheck = (x: number) => string | undefined;

export const int = (min: number): NumberCheck => (x) => (Number.isInteger(x) && x >= min ? undefined : `expected an integer >= ${min}`);
export const positive: NumberCheck = (x) => (x > 0 ? undefined : 'must be > 0');
export const nonNegative: NumberCheck = (x) => (x >= 0 ? undefined : 'must be >= 0');
export const inRange = (lo: number, hi: number, hiOpen = false): NumberCheck => (x) =>
  x >= lo && (hiOpen ? x < hi : x <= hi) ? undefined : `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}`;

/** Collects the problems and warnings of one spec while its sections are read. */
export class SpecReader {
  readonly problems: SpecProblem[] = [];
  readonly warnings: string[] = [];

  bad(path: string, reason: string): void {
    this.problems.push({ path, reason });
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  /** `o[key]` as a finite number passing `check`; `def` when absent (a `missing` problem when there is none). */
  num(o: Obj, key: string, path: string, def: number | undefined, check: NumberCheck): number {
    const x = o[key];
    if (x === undefined) {
      if (def === undefined) this.bad(path, 'missing');
      return def ?? NaN;
    }
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      this.bad(path, 'expected a finite number');
      return NaN;
    }
    const why = check(x);
    if (why) this.bad(path, why);
    return x;
  }

  /** `x` as an object; undefined when absent or (with a problem) when not an object. */
  obj(x: unknown, path: string): Obj | undefined {
    if (x === undefined) return undefined;
    if (!isObj(x)) {
      this.bad(path, 'expected an object');
      return undefined;
    }
    return x;
  }

  /** An `unknown field` problem for each key of `o` not in `keys`. */
  unknownKeys(o: Obj, path: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.bad(path ? `${path}.${k}` : k, 'unknown field');
  }
}
