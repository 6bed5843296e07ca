/**
 * Deterministic parameter initialization from a model's ParamSpecs (graph/params.ts `init` rules) with the
 * serializable generator in src/engine/rng.ts: same seed => same weights on every machine. Each tensor
 * draws from its own stream derived from the parameter's name, so adding or reordering parameters does not
 * change the others' initial values.
 */

import type { ParamInit } from '../graph/params';
import { Rng } from '../rng';

export interface InitSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParamInit;
}

/** Fills one buffer per the init rule. */
export function fillParam(out: Float32Array, init: ParamInit, rng: Rng): Float32Array {
  switch (init.kind) {
    case 'zeros':
      return out.fill(0);
    case 'ones':
      return out.fill(1);
    case 'constant':
      return out.fill(init.value);
    case 'normal':
      return rng.fillNormal(out, init.mean ?? 0, init.std);
    case 'uniform':
      return rng.fillUniform(out, init.low, init.high);
  }
}

/** Initial values for every spec, by name; `rng` is not advanced (streams are derived per name). */
export function initParams(specs: readonly InitSpec[], rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    if (out.has(s.name)) throw new Error(`initParams: duplicate parameter '${s.name}'`);
    out.set(s.name, fillParam(new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.init, rng.derive(`param:${s.name}`)));
  }
  return out;
}
