/**
 * Typed messages between the extension host and its webviews or session processes.
 *
 * Each message kind is defined once as a {@link MessageType}: a `type` tag plus a validator for its
 * params. Both sides import the same definition; the receiving side calls `is()` (or `parse()`) before
 * using anything it was sent, so nothing untrusted is used unchecked.
 */

/**
 * A validator returns the problems it found in `value` (empty when valid), each naming the field.
 * `T` is the type a valid value has; the optional brand carries it so `defineMessage` can infer params.
 */
export type Validator<T> = ((value: unknown, path: string) => string[]) & { readonly __valid?: T };

/** An envelope as it travels: `{ type, params }`. */
export interface Envelope<Type extends string, Params> {
  readonly type: Type;
  readonly params: Params;
}

export interface MessageType<Type extends string, Params> {
  readonly type: Type;
  /** Builds the envelope to send. */
  create(params: Params): Envelope<Type, Params>;
  /** True when `msg` is this message with valid params. */
  is(msg: unknown): msg is Envelope<Type, Params>;
  /** The problems with `msg` as this message, or [] when it is valid. */
  problems(msg: unknown): string[];
}

export function defineMessage<Type extends string, Params>(type: Type, validate: Validator<Params>): MessageType<Type, Params> {
  const problems = (msg: unknown): string[] => {
    if (!isRecord(msg)) return ['message: expected an object'];
    if (msg.type !== type) return [`type: expected "${type}", got ${JSON.stringify(msg.type)}`];
    return validate(msg.params, 'params');
  };
  return {
    type,
    create: (params) => ({ type, params }),
    is: (msg): msg is Envelope<Type, Params> => problems(msg).length === 0,
    problems,
  };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- small validator combinators (each returns problems naming the field path) ----

export const v = {
  string: (): Validator<string> => (x, p) => (typeof x === 'string' ? [] : [`${p}: expected a string`]),
  number: (): Validator<number> => (x, p) => (typeof x === 'number' && Number.isFinite(x) ? [] : [`${p}: expected a finite number`]),
  integer: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Validator<number> => (x, p) =>
    Number.isInteger(x) && (x as number) >= min && (x as number) <= max ? [] : [`${p}: expected an integer in [${min}, ${max}]`],
  boolean: (): Validator<boolean> => (x, p) => (typeof x === 'boolean' ? [] : [`${p}: expected a boolean`]),
  literal: <T extends string | number | boolean>(...values: T[]): Validator<T> => (x, p) =>
    values.includes(x as T) ? [] : [`${p}: expected one of ${values.map((s) => JSON.stringify(s)).join(', ')}`],
  optional: <T>(inner: Validator<T>): Validator<T | undefined> => (x, p) => (x === undefined ? [] : inner(x, p)),
  nullable: <T>(inner: Validator<T>): Validator<T | null> => (x, p) => (x === null ? [] : inner(x, p)),
  array: <T>(item: Validator<T>, maxLength = 1_000_000): Validator<T[]> => (x, p) => {
    if (!Array.isArray(x)) return [`${p}: expected an array`];
    if (x.length > maxLength) return [`${p}: at most ${maxLength} items`];
    return x.flatMap((e, i) => item(e, `${p}[${i}]`));
  },
  record: <T>(value: Validator<T>): Validator<Record<string, T>> => (x, p) =>
    isRecord(x) ? Object.entries(x).flatMap(([k, e]) => value(e, `${p}.${k}`)) : [`${p}: expected an object`],
  object: <T>(fields: { [K in keyof T]-?: Validator<T[K]> }): Validator<T> => (x, p) => {
    if (!isRecord(x)) return [`${p}: expected an object`];
    const out: string[] = [];
    for (const k of Object.keys(fields) as (keyof T & string)[]) out.push(...fields[k](x[k], `${p}.${k}`));
    return out;
  },
  unknown: (): Validator<unknown> => () => [],
};
