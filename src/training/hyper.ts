/**
 * Reading method hyperparameters (TRL names, as in a run spec's `hyperparameters`, already validated against the
 * method card by src/core/runs/spec.ts) into typed trainer configs, with the card's defaults for absent keys.
 */
import { defaultHyperparameters, type HyperparameterValue, type MethodId } from '../core/methods';

export type Hyperparameters = Readonly<Record<string, HyperparameterValue>>;

/** A reader of one method's hyperparameters; a wrong type is an error naming the field. */
export function hyperparameters(method: MethodId, given: Hyperparameters = {}) {
  const all: Record<string, HyperparameterValue> = { ...defaultHyperparameters(method), ...given };
  const get = (name: string): HyperparameterValue => {
    const v = all[name];
    if (v === undefined) throw new Error(`hyperparameters.${name}: ${method} has no such hyperparameter`);
    return v;
  };
  return {
    number(name: string): number {
      const v = get(name);
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`hyperparameters.${name}: expected a number, got ${JSON.stringify(v)}`);
      return v;
    },
    boolean(name: string): boolean {
      const v = get(name);
      if (typeof v !== 'boolean') throw new Error(`hyperparameters.${name}: expected true or false, got ${JSON.stringify(v)}`);
      return v;
    },
    string(name: string): string {
      const v = get(name);
      if (typeof v !== 'string') throw new Error(`hyperparameters.${name}: expected a string, got ${JSON.stringify(v)}`);
      return v;
    },
  };
}
