/**
 * Trainer: drives a compiled K-step training model on a RuntimeSession.
 *
 * Parameters, optimizer buffers and step counters stay resident in the runtime worker (carried from each
 * run's outputs to the next run's inputs); a `step()` call sends only the [K, A, ...] batch and gets back
 * per-step losses, gradient norms, learning rates and metrics. `getParams()` / `state()` copy the state out
 * (for evaluation and checkpoints); `setParams()` / `setState()` put it back.
 */

import type { DeviceKind, DeviceRequest } from '../runtime/devices';
import { RuntimeSession } from '../runtime/ortSession';
import { numel, type HostTensor } from '../runtime/tensor';
import { compileTrainStep, type CompiledTrainStep, type TrainStepSpec } from './compile';
import type { F32Tensor, TrainState } from './trainState';

export interface TrainerOptions {
  /** Device (default 'auto'). An unavailable device is an error, never a fallback. */
  readonly device?: DeviceRequest;
  /** onnxruntime threads (default: all cores). */
  readonly threads?: number;
  /** Initial values of every parameter (trainable and frozen), by name. */
  readonly initialParams: ReadonlyMap<string, Float32Array> | Readonly<Record<string, Float32Array>>;
  /** onnxruntime profile file prefix (profiling on when set). */
  readonly profilePrefix?: string;
  /**
   * onnxruntime's CPU memory arena (RuntimeSessionOptions.memoryArena). Default: off for models of at least
   * {@link ARENA_OFF_PARAMS} parameters (trainable and frozen), on below.
   */
  readonly memoryArena?: boolean;
}

/**
 * From this many parameters on, a trainer's session runs without onnxruntime's CPU arena. At the Qwen2.5-0.5B
 * shape (LoRA-DPO, 4 pairs x 512 tokens) the arena's doubling regions held about 6 GB for activations whose
 * live set is about 2 GB (the process's smaps, 2026-12-06); without the arena each tensor's memory goes back
 * when it dies. Small models keep the arena: their many small tensors are where it saves time.
 */
export const ARENA_OFF_PARAMS = 50_000_000;

/** What one `step()` (K optimizer steps) reports, one entry per optimizer step. */
export interface StepResult {
  /** 1-based global step number of each of the K steps. */
  readonly steps: number[];
  /** Mean loss over the step's micro-batches. */
  readonly losses: number[];
  /** Global L2 norm of the gradient before clipping. */
  readonly gradNorms: number[];
  /** Learning rate used by each step. */
  readonly lrs: number[];
  /** Each metric's mean over the step's micro-batches, per step. */
  readonly metrics: Record<string, number[]>;
  /** Milliseconds onnxruntime spent on the run. */
  readonly runMs: number;
}

/** A step had a NaN/Inf loss or gradient; its update was skipped (the others were applied). */
export class NonFiniteStepError extends Error {
  override readonly name = 'NonFiniteStepError';
  constructor(
    /** 1-based global step numbers whose loss or gradient was not finite. */
    readonly steps: number[],
    /** The full result of the run (losses of the other steps are valid). */
    readonly result: StepResult,
  ) {
    super(`non-finite loss or gradient at step${steps.length > 1 ? 's' : ''} ${steps.join(', ')} (loss ${steps.map((s) => result.losses[result.steps.indexOf(s)]).join(', ')}); the update${steps.length > 1 ? 's were' : ' was'} skipped`);
  }
}

function toMap(p: TrainerOptions['initialParams']): ReadonlyMap<string, Float32Array> {
  return p instanceof Map ? p : new Map(Object.entries(p));
}

export class Trainer {
  private stepCount = 0;

  private constructor(
    readonly compiled: CompiledTrainStep,
    private readonly session: RuntimeSession,
  ) {}

  /**
   * Compiles the training model, starts its runtime session and loads the initial parameters (optimizer
   * buffers start at zero, step counters at 0).
   */
  static async create(spec: TrainStepSpec, options: TrainerOptions): Promise<Trainer> {
    const compiled = compileTrainStep(spec);
    const session = await RuntimeSession.create(compiled.model, {
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.profilePrefix ? { profilePrefix: options.profilePrefix } : {}),
      memoryArena: options.memoryArena ?? spec.params.reduce((n, p) => n + numel(p.shape), 0) < ARENA_OFF_PARAMS,
    });
    const t = new Trainer(compiled, session);
    try {
      const init = toMap(options.initialParams);
      const params = new Map<string, F32Tensor>();
      for (const gr of compiled.groups) for (const s of gr.slots) params.set(s.name, { shape: s.shape, data: t.need(init, s.name, s.shape, 'initialParams') });
      const buffers = new Map<string, F32Tensor>();
      for (const gr of compiled.groups) {
        for (const b of compiled.bufferNames) for (const s of gr.slots) buffers.set(`${b}.${s.name}`, { shape: s.shape, data: new Float32Array(s.size) });
      }
      await t.setState({ step: 0, updates: 0, optimizer: compiled.optimizer.kind, params, buffers });
      const frozen: Record<string, HostTensor> = {};
      for (const p of compiled.frozen) frozen[`frozen.${p.name}`] = { dtype: 'float32', shape: p.shape, data: t.need(init, p.name, p.shape, 'initialParams') };
      if (Object.keys(frozen).length) await session.setResident(frozen);
      return t;
    } catch (e) {
      await session.dispose();
      throw e;
    }
  }

  /** The device the trainer runs on. */
  get device(): DeviceKind {
    return this.session.device;
  }

  /** Optimizer steps taken so far (the schedule position). */
  get stepsDone(): number {
    return this.stepCount;
  }

  private need(m: ReadonlyMap<string, Float32Array>, name: string, shape: readonly number[], what: string): Float32Array {
    const d = m.get(name);
    if (!d) throw new Error(`${what}: missing parameter '${name}' (shape [${shape.join(', ')}])`);
    if (!(d instanceof Float32Array)) throw new Error(`${what}: parameter '${name}' must be a Float32Array`);
    if (d.length !== numel(shape)) throw new Error(`${what}: parameter '${name}' has ${d.length} values, shape [${shape.join(', ')}] needs ${numel(shape)}`);
    return d;
  }

  /**
   * Runs K optimizer steps. Each batch field has shape [K, A, ...field shape] (K = stepsPerRun,
   * A = microBatches).
   * @throws NonFiniteStepError when a step's loss or gradient was NaN/Inf (that update was skipped)
   */
  async run(batch: Readonly<Record<string, HostTensor>>): Promise<StepResult> {
    const c = this.compiled;
    const feeds: Record<string, HostTensor> = {};
    for (const f of c.batch) {
      const t = batch[f.name];
      const want = [c.stepsPerRun, c.microBatches, ...f.shape];
      if (!t) throw new Error(`batch: missing field '${f.name}' (shape [${want.join(', ')}], ${f.dtype})`);
      if (t.dtype !== f.dtype) throw new Error(`batch.${f.name}: dtype ${t.dtype}, expected ${f.dtype}`);
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        throw new Error(`batch.${f.name}: shape [${t.shape.join(', ')}], expected [${want.join(', ')}] (K steps × A micro-batches × field shape)`);
      }
      feeds[`batch.${f.name}`] = t;
    }
    for (const k of Object.keys(batch)) if (!c.batch.some((f) => f.name === k)) throw new Error(`batch: unknown field '${k}'`);
    const out = await this.session.run(feeds, { carry: c.carry, fetch: c.fetch });
    const first = this.stepCount + 1;
    this.stepCount += c.stepsPerRun;
    const arr = (name: string): number[] => Array.from(out[name]?.data as Float32Array);
    const finite = Array.from(out['finite']?.data as Uint8Array);
    const result: StepResult = {
      steps: finite.map((_, i) => first + i),
      losses: arr('losses'),
      gradNorms: arr('grad_norms'),
      lrs: arr('lrs'),
      metrics: Object.fromEntries(c.metricNames.map((m) => [m, arr(`metric.${m}`)])),
      runMs: this.session.lastRunMs,
    };
    const bad = finite.flatMap((f, i) => (f ? [] : [first + i]));
    if (bad.length) throw new NonFiniteStepError(bad, result);
    return result;
  }

  /** Alias of {@link run}: one call = K optimizer steps. */
  step(batch: Readonly<Record<string, HostTensor>>): Promise<StepResult> {
    return this.run(batch);
  }

  /** Current trainable parameters by name (copies). */
  async getParams(): Promise<Map<string, F32Tensor>> {
    const c = this.compiled;
    const r = await this.session.getResident(c.groups.map((g) => `param.${g.name}`));
    return this.unflatten(r, 'param');
  }

  /** Replaces trainable parameters (optimizer state and counters unchanged). */
  async setParams(params: ReadonlyMap<string, Float32Array> | Readonly<Record<string, Float32Array>>): Promise<void> {
    const m = toMap(params);
    const feeds: Record<string, HostTensor> = {};
    for (const gr of this.compiled.groups) {
      const flat = new Float32Array(gr.size);
      for (const s of gr.slots) flat.set(this.need(m, s.name, s.shape, 'setParams'), s.offset);
      feeds[`param.${gr.name}`] = { dtype: 'float32', shape: [gr.size], data: flat };
    }
    await this.session.setResident(feeds);
  }

  private unflatten(r: Record<string, HostTensor>, prefix: string, keyPrefix = ''): Map<string, F32Tensor> {
    const out = new Map<string, F32Tensor>();
    for (const gr of this.compiled.groups) {
      const flat = r[`${prefix}.${gr.name}`]?.data;
      if (!(flat instanceof Float32Array)) throw new Error(`runtime did not return ${prefix}.${gr.name}`);
      for (const s of gr.slots) out.set(keyPrefix + s.name, { shape: s.shape, data: flat.slice(s.offset, s.offset + s.size) });
    }
    return out;
  }

  /** Full training state (parameters, optimizer buffers, counters) for a checkpoint. */
  async state(): Promise<TrainState> {
    const c = this.compiled;
    const names = ['step', 'updates', ...c.groups.map((g) => `param.${g.name}`), ...c.bufferNames.flatMap((b) => c.groups.map((g) => `${b}.${g.name}`))];
    const r = await this.session.getResident(names);
    const params = this.unflatten(r, 'param');
    const buffers = new Map<string, F32Tensor>();
    for (const b of c.bufferNames) for (const [k, v] of this.unflatten(r, b, `${b}.`)) buffers.set(k, v);
    const scalar = (n: string): number => Number((r[n]?.data as BigInt64Array)[0]);
    return { step: scalar('step'), updates: scalar('updates'), optimizer: c.optimizer.kind, params, buffers };
  }

  /** Restores a training state (e.g. from a checkpoint); validates names and shapes against this model. */
  async setState(state: TrainState): Promise<void> {
    const c = this.compiled;
    if (state.optimizer !== c.optimizer.kind) throw new Error(`state: optimizer is ${state.optimizer}, this trainer uses ${c.optimizer.kind}`);
    if (!Number.isSafeInteger(state.step) || state.step < 0 || !Number.isSafeInteger(state.updates) || state.updates < 0 || state.updates > state.step) {
      throw new Error(`state: invalid counters step=${state.step} updates=${state.updates}`);
    }
    const feeds: Record<string, HostTensor> = {};
    const pack = (src: ReadonlyMap<string, F32Tensor>, prefix: string, keyPrefix: string): void => {
      for (const gr of c.groups) {
        const flat = new Float32Array(gr.size);
        for (const s of gr.slots) {
          const t = src.get(keyPrefix + s.name);
          if (!t) throw new Error(`state: missing '${keyPrefix + s.name}' (shape [${s.shape.join(', ')}])`);
          if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i]) || t.data.length !== s.size) {
            throw new Error(`state: '${keyPrefix + s.name}' has shape [${t.shape.join(', ')}], this model needs [${s.shape.join(', ')}]`);
          }
          flat.set(t.data, s.offset);
        }
        feeds[`${prefix}.${gr.name}`] = { dtype: 'float32', shape: [gr.size], data: flat };
      }
    };
    pack(state.params, 'param', '');
    for (const b of c.bufferNames) pack(state.buffers, b, `${b}.`);
    const known = new Set(c.groups.flatMap((g) => g.slots.map((s) => s.name)));
    for (const k of state.params.keys()) if (!known.has(k)) throw new Error(`state: parameter '${k}' is not trainable in this model`);
    feeds['step'] = { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(state.step)) };
    feeds['updates'] = { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(state.updates)) };
    await this.session.setResident(feeds);
    this.stepCount = state.step;
  }

  /** Ends onnxruntime profiling (when `profilePrefix` was given) and writes the JSON profile. */
  async endProfiling(): Promise<void> {
    await this.session.endProfiling();
  }

  /** Stops the runtime worker. */
  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
