/**
 * The spec's optimizer as the engine's config, one home for every trainer: AdamW with the spec's learning rate,
 * weight decay and clipping; the warmup and schedule over the run's optimizer steps; and `optimizer.paramGroups`
 * resolved to the engine's parameter names of the run's model (a safetensors name such as `model.norm.weight` maps
 * through the model's HF mapping; a fused HF tensor names every parameter it fills).
 */
import type { RunSpec } from '../core/runs/spec';
import { hfMappings } from '../engine/models/hfMapping';
import type { OptimConfig, ParamGroupConfig } from '../engine/optim/config';
import type { RunModel } from './model';
import { SessionInputError } from './types';

/** The engine's optimizer config of `spec` for a run of `totalSteps` optimizer steps on `rm`. */
export function specOptim(spec: RunSpec, totalSteps: number, rm: Pick<RunModel, 'config' | 'head' | 'model' | 'label'>): OptimConfig {
  const o = spec.optimizer;
  const warmupSteps = Math.floor(o.warmupRatio * totalSteps);
  const schedule = o.schedule === 'constant' ? { kind: 'constant' as const, warmupSteps } : { kind: o.schedule, warmupSteps, totalSteps: Math.max(totalSteps, 1) };
  const paramGroups = o.paramGroups?.length ? resolveParamGroups(spec, rm) : undefined;
  return { optimizer: { kind: 'adamw', lr: o.learningRate, weightDecay: o.weightDecay }, schedule, maxGradNorm: o.maxGradNorm, ...(paramGroups ? { paramGroups } : {}) };
}

/** optimizer.paramGroups with engine names; a name the model does not train is an error naming the group. */
function resolveParamGroups(spec: RunSpec, rm: Pick<RunModel, 'config' | 'head' | 'model' | 'label'>): ParamGroupConfig[] {
  const trainable = new Set(rm.model.params.filter((p) => p.trainable).map((p) => p.name));
  const known = new Set(rm.model.params.map((p) => p.name));
  const fromHf = new Map(hfMappings(rm.config, rm.head).map((m) => [m.hf, m.ours]));
  const seen = new Map<string, number>();
  return (spec.optimizer.paramGroups ?? []).map((g, i) => {
    const at = `optimizer.paramGroups[${i}].params`;
    const params = g.params.flatMap((n) => {
      const ours = known.has(n) ? [n] : fromHf.get(n);
      if (!ours) throw new SessionInputError(`${at}: ${rm.label} has no parameter '${n}' (for example ${[...trainable].slice(-3).join(', ')})`);
      for (const p of ours) {
        if (!trainable.has(p)) throw new SessionInputError(`${at}: '${n}' is not trained in this run${spec.lora ? ' (LoRA trains only the adapters)' : ''}`);
        const earlier = seen.get(p);
        if (earlier !== undefined) throw new SessionInputError(`${at}: '${n}' is in optimizer.paramGroups[${earlier}] too`);
        seen.set(p, i);
      }
      return ours;
    });
    return { params, lr: g.learningRate };
  });
}
