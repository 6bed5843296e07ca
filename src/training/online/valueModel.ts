/**
 * PPO's value model, as TRL's PPOTrainer: a separate copy of the transformer with a sequence-classification head of
 * one label (`score.weight` [D, 1]), read at every position instead of pooled at the last token. V(s_t) for
 * completion token t is the score at the position that predicts it, so values line up with the policy's per-token
 * log-probs [B, T-1] (policyUpdate.ts): completion token j of a row with P prompt tokens sits at index P + j - 1.
 *
 * It trains in the same compiled graph as the policy, its parameters named `value.<name>` beside the policy's.
 * It starts as a given reward model of the same architecture (TRL's value model is loaded from the reward model),
 * else as the policy's body with a fresh head (normal, std 0.02, seeded).
 */
import { SESSION_EMIT, toOnnx } from '../../engine/graph/emit';
import { Graph, type Tensor } from '../../engine/graph/graph';
import * as op from '../../engine/graph/ops';
import { initParams, type ParamSpec } from '../../engine/models/params';
import { buildModel, forward, type ParamLookup, type TransformerModel } from '../../engine/models/transformer';
import { runnerOptions, type RunnerOptions } from '../../engine/runtime/devices';
import { RuntimeSession } from '../../engine/runtime/ortSession';
import { paramFeeds, paramInputs } from '../weightInputs';
import { completionTokenOutputs, type ScoredRow } from './tokenScorer';

/** Prefix of the value model's parameter names in the joint policy + value graph. */
export const VALUE_PREFIX = 'value.';

/** The value model of a policy: same config and LoRA, a one-label score head. */
export function valueModelOf(policy: TransformerModel): TransformerModel {
  return buildModel({ ...policy.config, numLabels: 1 }, 'score', { maxLength: policy.maxLength, ...(policy.lora ? { lora: { ...policy.lora, trainHead: true } } : {}) });
}

/** The value model's parameters as they appear in the joint graph (`value.` + name). */
export function prefixedValueParams(vm: TransformerModel): ParamSpec[] {
  return vm.params.map((p) => ({ ...p, name: VALUE_PREFIX + p.name }));
}

/** The value model's view of the joint graph's parameters (names without the prefix). */
export function valueParamView(vm: TransformerModel, joint: ParamLookup): Map<string, Tensor> {
  const get = (n: string): Tensor | undefined => (joint instanceof Map ? joint.get(n) : (joint as Readonly<Record<string, Tensor>>)[n]);
  const out = new Map<string, Tensor>();
  for (const p of vm.params) {
    const t = get(VALUE_PREFIX + p.name);
    if (!t) throw new Error(`value model: no tensor for parameter "${VALUE_PREFIX}${p.name}"`);
    out.set(p.name, t);
  }
  return out;
}

/** V at the positions that predict tokens 1..T-1, [B, T-1] (see module comment). */
export function tokenValues(vm: TransformerModel, params: ParamLookup, ids: Tensor, mask: Tensor): Tensor {
  const { scores } = forward(vm, params, { ids, mask });
  if (!scores) throw new Error(`value model: head "${vm.head}" has no scores`);
  const T = ids.shape[1] as number;
  return op.squeeze(op.narrow(scores, 1, 0, T - 1), [2]);
}

/**
 * Starting values of the value model (unprefixed names). From a reward model (`rewardModel`: every tensor of a
 * `score` model of the same architecture, as TRL starts its value model from the reward model): body and head
 * copied. Else the body from `policy` and a fresh head. LoRA adapters start as PEFT inits them.
 */
export function initialValueWeights(vm: TransformerModel, policy: ReadonlyMap<string, Float32Array>, seed: number, rewardModel?: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const fresh = initParams(vm.params, seed);
  const out = new Map<string, Float32Array>();
  for (const p of vm.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const adapter = p.name.endsWith('.lora_A') || p.name.endsWith('.lora_B');
    const from = adapter ? undefined : rewardModel ? rewardModel.get(p.name) : p.name === 'score.weight' ? undefined : policy.get(p.name);
    if (rewardModel && !adapter && !from) throw new Error(`value model: the reward model has no "${p.name}"`);
    if (from && from.length !== size) throw new Error(`value model: "${p.name}" has ${size} values, its source ${from.length}`);
    out.set(p.name, new Float32Array(from ?? (fresh.get(p.name)?.data as Float32Array)));
  }
  return out;
}

/** Whether a reward model's weights fit the value model of this policy (same names and sizes). */
export function fitsValueModel(vm: TransformerModel, rewardModel: ReadonlyMap<string, Float32Array>): boolean {
  return vm.params.every((p) => p.name.endsWith('.lora_A') || p.name.endsWith('.lora_B') || rewardModel.get(p.name)?.length === p.shape.reduce((a, b) => a * b, 1));
}

/**
 * Forward-only values of completions (the old values V_old of a rollout) for the value model's current weights,
 * which `setWeights` replaces before each rollout; rows of B x T tokens as tokenScorer.ts.
 */
export class ValueScorer {
  private constructor(
    private readonly session: RuntimeSession,
    private readonly vm: TransformerModel,
    readonly rows: number,
    readonly seqLen: number,
    private readonly padId: number,
  ) {}

  static async create(vm: TransformerModel, shape: { readonly rows: number; readonly seqLen: number; readonly padId: number }, runner: RunnerOptions = {}): Promise<ValueScorer> {
    const g = new Graph('token_values');
    const params = paramInputs(g, vm.params);
    const ids = g.input('ids', [shape.rows, shape.seqLen], 'int64');
    const mask = g.input('mask', [shape.rows, shape.seqLen], 'int64');
    g.output('values', tokenValues(vm, params, ids, mask));
    const session = await RuntimeSession.create(toOnnx(g, SESSION_EMIT), runnerOptions(runner));
    return new ValueScorer(session, vm, shape.rows, shape.seqLen, shape.padId);
  }

  /** Uses these weights (unprefixed names, every parameter of the value model) from now on. */
  async setWeights(weights: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.session.setResident(paramFeeds(this.vm.params, weights, 'value scorer'));
  }

  /** V of each completion token of each row, in order. */
  score(rows: readonly ScoredRow[]): Promise<number[][]> {
    return completionTokenOutputs(this.session, rows, { rows: this.rows, seqLen: this.seqLen, padId: this.padId }, 'values', 'value scorer');
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
