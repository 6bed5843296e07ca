/**
 * Scoring graphs (evaluate.ts's PlanEvaluator and SequenceScorer, rewardInspection.ts's PrefixScorer,
 * online/tokenScorer.ts, online/valueModel.ts) take the model's weights as inputs named `p.<parameter name>`, set
 * resident once per weights, so one compiled graph scores the policy as it trains.
 */
import { Graph, type Tensor } from '../engine/graph/graph';
import type { HostTensor } from '../engine/runtime/tensor';

/** What the inputs need of a parameter (a model's ParamSpec and a plan's both have it). */
type NamedShape = { readonly name: string; readonly shape: readonly number[] };

/** Each parameter as a float32 input of `g` named `p.<name>`, by parameter name. */
export function paramInputs(g: Graph, params: readonly NamedShape[]): Map<string, Tensor> {
  return new Map(params.map((p) => [p.name, g.input(`p.${p.name}`, p.shape, 'float32')]));
}

/** The feeds of {@link paramInputs} from `weights` (every parameter); a missing one is an error naming `who`. */
export function paramFeeds(params: readonly NamedShape[], weights: ReadonlyMap<string, Float32Array>, who: string): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const p of params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`${who}: missing weights for '${p.name}'`);
    feeds[`p.${p.name}`] = { dtype: 'float32', shape: p.shape, data: w };
  }
  return feeds;
}
