/**
 * Scoring graphs (evaluate.ts's SequenceScorer, rewardInspection.ts's PrefixScorer, online/tokenScorer.ts,
 * online/valueModel.ts) take the model's weights as inputs named `p.<parameter name>`, set resident once per
 * weights, so one compiled graph scores the policy as it trains.
 */
import { Graph, type Tensor } from '../engine/graph/graph';
import type { ParamSpec } from '../engine/models/params';
import type { HostTensor } from '../engine/runtime/tensor';

/** Each parameter as a float32 input of `g` named `p.<name>`, by parameter name. */
export function paramInputs(g: Graph, params: readonly ParamSpec[]): Map<string, Tensor> {
  return new Map(params.map((p) => [p.name, g.input(`p.${p.name}`, p.shape, 'float32')]));
}

/** The feeds of {@link paramInputs} from `weights` (every parameter); a missing one is an error naming `who`. */
export function paramFeeds(params: readonly ParamSpec[], weights: ReadonlyMap<string, Float32Array>, who: string): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const p of params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`${who}: missing weights for '${p.name}'`);
    feeds[`p.${p.name}`] = { dtype: 'float32', shape: p.shape, data: w };
  }
  return feeds;
}
