/**
 * Training-step compiler: forward function + parameter list + optimizer config -> ONE ONNX model that runs
 * K optimizer steps per call.
 *
 *   main graph inputs   param.<group> [P_g]          flat trainable parameters of group g (decay / no_decay)
 *                       exp_avg.<group>, exp_avg_sq.<group>  (AdamW)  or  momentum_buffer.<group> (SGD)
 *                       step, updates  int64 []       steps attempted / updates applied so far
 *                       frozen.<name>                 non-trainable parameters (read only)
 *                       batch.<field> [K, A, ...]     K steps × A micro-batches of each batch field
 *   Loop over k < K, carrying (params, buffers, step, updates):
 *     micro-batches: batch.<field>[k]                                          [A, ...]
 *     for each micro-batch (A > 1: an inner Loop accumulating gradient sums):
 *       views  = reshape(slice(param.<g>, off, off + n), shape) per parameter   (no copies of the model)
 *       loss   = forward(views, micro)                                          scalar
 *       grads  = d loss / d views, concatenated back into flat [P_g] per group
 *     g = Σ grads / A ; loss = Σ loss / A                (mean over micro-batches)
 *     ‖g‖ (global L2), finite = loss and ‖g‖ are finite ; clip c = min(1, max/(‖g‖+1e-6)) (folded into the update)
 *     lr = base_lr · λ(step)                            (schedule from the step counter, in the graph; a param group's
 *                                                        own lr · λ(step) for its parameters)
 *     params, buffers ← If(finite, optimizer(params, c·g, buffers), unchanged)
 *     step += 1 ; updates += finite
 *   scan outputs per step: losses [K], grad_norms [K] (before clipping), lrs [K], finite [K], metric.<m> [K]
 *   main outputs: the carried state as `<input>.next`, plus the scan outputs.
 *
 * Because parameters live in one flat buffer per group, the optimizer is a handful of elementwise ops on
 * [P_g] instead of ~14 ops per tensor, and the runtime keeps the carried state resident between calls.
 */

import { DType } from '../graph/dtype';
import { Graph, Tensor } from '../graph/graph';
import * as op from '../graph/ops';
import { grad } from '../graph/autodiff';
import { SESSION_EMIT, toOnnx } from '../graph/emit';
import { adamwStep } from '../optim/adamw';
import { clipCoefficient, globalNorm } from '../optim/clip';
import { resolveOptimizer, validateOptimConfig, type OptimConfig, type ParamGroupConfig, type ResolvedAdamW, type ResolvedSgd } from '../optim/config';
import { lrMultiplierGraph } from '../optim/schedule';
import { sgdStep } from '../optim/sgd';
import { ifElse, loop } from '../graph/control';

/**
 * A model parameter. Structurally a subset of graph/params.ts's ParamSpec, so a model's spec list (with its
 * `init` rules) can be passed as is.
 */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Trained (default) or frozen (fed once, never updated, no gradient). */
  readonly trainable?: boolean;
  /** Apply weight decay (default: rank >= 2, i.e. matrices and embeddings but not biases / norm gains). */
  readonly weightDecay?: boolean;
}

/** One field of a micro-batch (shape without the K and A axes). */
export interface BatchFieldSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** What the forward function returns: the scalar loss to minimize and optional scalar metrics to report. */
export interface ForwardOutput {
  readonly loss: Tensor;
  readonly metrics?: Readonly<Record<string, Tensor>>;
}

/** Traced once, inside the loop body: params and batch fields are graph tensors of one micro-batch. */
export type ForwardFn = (params: Readonly<Record<string, Tensor>>, batch: Readonly<Record<string, Tensor>>) => ForwardOutput;

export interface TrainStepSpec {
  readonly forward: ForwardFn;
  readonly params: readonly ParamSpec[];
  readonly batch: readonly BatchFieldSpec[];
  readonly optim: OptimConfig;
  /** Optimizer steps per run (K). */
  readonly stepsPerRun: number;
  /** Micro-batches accumulated per optimizer step (A, default 1). */
  readonly microBatches?: number;
  /** Target size of a flat parameter group in elements (default FLAT_GROUP_TARGET; see there). */
  readonly flatGroupTarget?: number;
}

/** Where each trainable parameter lives in its group's flat buffer. */
export interface FlatSlot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly group: string;
  readonly offset: number;
  readonly size: number;
}

export interface FlatGroup {
  /**
   * 'decay.<i>' or 'no_decay.<i>': the i-th chunk of the parameters with / without weight decay; 'decay.pg<j>.<i>' and
   * 'no_decay.pg<j>.<i>' for those of optim.paramGroups[j - 1].
   */
  readonly name: string;
  readonly size: number;
  readonly weightDecay: boolean;
  /** The param group's own learning rate (before the schedule); absent: the optimizer's. */
  readonly lr?: number;
  readonly slots: readonly FlatSlot[];
}

/** The compiled model and what the trainer needs to drive it. */
export interface CompiledTrainStep {
  readonly model: Uint8Array;
  readonly groups: readonly FlatGroup[];
  readonly frozen: readonly ParamSpec[];
  readonly batch: readonly BatchFieldSpec[];
  readonly metricNames: readonly string[];
  readonly stepsPerRun: number;
  readonly microBatches: number;
  readonly optimizer: ResolvedAdamW | ResolvedSgd;
  /** Optimizer buffers per group, in torch's names (exp_avg, exp_avg_sq / momentum_buffer). */
  readonly bufferNames: readonly string[];
  /** Carried outputs -> inputs (for RuntimeSession.run's `carry`). */
  readonly carry: Readonly<Record<string, string>>;
  /** Per-run outputs to fetch. */
  readonly fetch: readonly string[];
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Target size of a flat group, in elements. The optimizer update is about a dozen elementwise passes over
 * each group; onnxruntime runs one group's chain of ops before the next group's, so groups that stay in cache
 * (1 MB of float32 per buffer here) make those passes cheap. Measured for the 12.2M parameters of the
 * benchmark GPT at 1 thread, the AdamW update alone: 133 ms as one buffer, 77 ms in 48 chunks of 255K
 * (docs/engine.md). That model gets 38 groups; small models get one or two.
 */
export const FLAT_GROUP_TARGET = 1 << 18;

/** Which param group (0 = the optimizer's lr, i = optim.paramGroups[i - 1]) each named parameter is in; names must be trainable parameters. */
function paramGroupIndex(params: readonly ParamSpec[], paramGroups: readonly ParamGroupConfig[]): Map<string, number> {
  const trainable = new Set(params.filter((p) => p.trainable !== false).map((p) => p.name));
  const index = new Map<string, number>();
  paramGroups.forEach((g, i) => {
    for (const n of g.params) {
      if (!trainable.has(n)) throw new Error(`optim.paramGroups[${i}].params: '${n}' is not a trainable parameter of this model`);
      index.set(n, i + 1);
    }
  });
  return index;
}

/**
 * Splits trainable parameters into flat groups: decay / no-decay, and within each by param group (those of
 * `paramGroups`, with their own lr, after the rest), each cut into chunks of whole parameters of about
 * FLAT_GROUP_TARGET elements (a larger parameter is a chunk by itself), in the given order.
 */
export function flatLayout(params: readonly ParamSpec[], target = FLAT_GROUP_TARGET, paramGroups: readonly ParamGroupConfig[] = []): FlatGroup[] {
  if (!Number.isInteger(target) || target < 1) throw new Error(`flatGroupTarget: expected a positive integer, got ${target}`);
  const seen = new Set<string>();
  const pgOf = paramGroupIndex(params, paramGroups);
  type Entry = { name: string; shape: number[]; size: number };
  const by: Record<'decay' | 'no_decay', Entry[][]> = { decay: [], no_decay: [] };
  params.forEach((p, i) => {
    const where = `params[${i}] '${p.name}'`;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(p.name)) throw new Error(`${where}: invalid name (letters, digits, _ . -)`);
    if (seen.has(p.name)) throw new Error(`${where}: duplicate parameter name`);
    seen.add(p.name);
    if (!p.shape.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${where}: invalid shape [${p.shape.join(', ')}]`);
    if (p.trainable === false) return;
    const kind = (p.weightDecay ?? p.shape.length >= 2) ? 'decay' : 'no_decay';
    const pg = pgOf.get(p.name) ?? 0;
    (by[kind][pg] ??= []).push({ name: p.name, shape: [...p.shape], size: size(p.shape) });
  });
  const groups: FlatGroup[] = [];
  for (let pg = 0; pg <= paramGroups.length; pg++) {
    for (const kind of ['decay', 'no_decay'] as const) {
      const prefix = pg === 0 ? kind : `${kind}.pg${pg}`;
      const own = pg === 0 ? {} : { lr: (paramGroups[pg - 1] as ParamGroupConfig).lr };
      let index = 0;
      let slots: FlatSlot[] = [];
      let off = 0;
      const close = (): void => {
        if (!slots.length) return;
        groups.push({ name: `${prefix}.${index++}`, size: off, weightDecay: kind === 'decay', ...own, slots });
        slots = [];
        off = 0;
      };
      for (const p of by[kind][pg] ?? []) {
        if (off > 0 && off + p.size > target) close();
        slots.push({ name: p.name, shape: p.shape, group: `${prefix}.${index}`, offset: off, size: p.size });
        off += p.size;
      }
      close();
    }
  }
  if (groups.length === 0) throw new Error('params: no trainable parameters');
  return groups;
}

/** The scalar metric tensors of a forward output, validated. */
function checkForward(out: ForwardOutput): [Tensor, [string, Tensor][]] {
  if (!out || !(out.loss instanceof Tensor)) throw new Error('forward: must return { loss: Tensor, metrics? }');
  if (out.loss.rank !== 0 || out.loss.dtype !== 'float32') throw new Error(`forward: loss must be a float32 scalar, got ${out.loss}`);
  const ms = Object.entries(out.metrics ?? {});
  for (const [k, t] of ms) {
    if (!/^[A-Za-z_][A-Za-z0-9_./-]*$/.test(k)) throw new Error(`forward: metric name '${k}' is invalid`);
    if (t.rank !== 0) throw new Error(`forward: metric '${k}' must be a scalar, got ${t}`);
  }
  return [out.loss, ms];
}

/** Checks the step counts K (steps per run) and A (micro-batches per step). */
function stepCounts(spec: TrainStepSpec): { K: number; A: number } {
  const K = spec.stepsPerRun;
  const A = spec.microBatches ?? 1;
  if (!Number.isInteger(K) || K < 1) throw new Error(`stepsPerRun: expected a positive integer, got ${K}`);
  if (!Number.isInteger(A) || A < 1) throw new Error(`microBatches: expected a positive integer, got ${A}`);
  return { K, A };
}

function checkBatchFields(batch: readonly BatchFieldSpec[]): void {
  const names = new Set<string>();
  batch.forEach((b, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(b.name) || names.has(b.name)) throw new Error(`batch[${i}]: invalid or duplicate name '${b.name}'`);
    names.add(b.name);
    if (!b.shape.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`batch[${i}] '${b.name}': invalid shape [${b.shape.join(', ')}]`);
  });
}

/** What the traced step reads besides its carried state: fixed while the graph is built. */
interface StepContext {
  readonly spec: TrainStepSpec;
  readonly groups: readonly FlatGroup[];
  readonly frozenSpecs: readonly ParamSpec[];
  /** frozen.<name> inputs by parameter name. */
  readonly frozen: Readonly<Record<string, Tensor>>;
  /** batch.<field> inputs [K, A, ...], in `spec.batch` order. */
  readonly batchIn: readonly Tensor[];
  readonly opt: ResolvedAdamW | ResolvedSgd;
  /** Optimizer buffers per group. */
  readonly nB: number;
  readonly A: number;
}

/** One step's summed gradients per group [P_g], its loss and its metrics (means over the micro-batches). */
interface StepGradients {
  /** Gradient SUMS over the micro-batches (the mean is taken in the norm and the update, see `gradMul`). */
  readonly grads: Tensor[];
  readonly loss: Tensor;
  readonly metrics: [string, Tensor][];
}

/** Forward + backward of one micro-batch: flat gradients per group, loss and metrics (as float32). */
function forwardBackward(c: StepContext, params: readonly Tensor[], micro: readonly Tensor[]): StepGradients {
  const views: Record<string, Tensor> = { ...c.frozen };
  const viewList: Tensor[][] = c.groups.map((gr, gi) =>
    gr.slots.map((s) => {
      const flat = params[gi] as Tensor;
      const sl = gr.slots.length === 1 ? flat : op.slice(flat, [s.offset], [s.offset + s.size], [0]);
      const v = op.reshape(sl, s.shape);
      views[s.name] = v;
      return v;
    }),
  );
  const batch: Record<string, Tensor> = {};
  c.spec.batch.forEach((b, i) => (batch[b.name] = micro[i] as Tensor));
  const [loss, metrics] = checkForward(c.spec.forward(views, batch));
  const gs = grad(loss, viewList.flat());
  let k = 0;
  const grads = viewList.map((vs) => {
    const parts = vs.map(() => op.reshape(gs[k++] as Tensor, [-1]));
    return parts.length === 1 ? (parts[0] as Tensor) : op.concat(parts, 0);
  });
  return { grads, loss, metrics: metrics.map(([n, t]) => [n, t.dtype === 'float32' ? t : op.cast(t, 'float32')]) };
}

/**
 * A > 1: an inner Loop over the micro-batches of one step (perStep [A, ...] per field), carrying gradient sums per
 * group, the loss sum and metric sums. The carried list must be sized before the body is traced, so the metric
 * count comes from a trace of the forward into a scratch graph.
 */
function accumulateMicroBatches(c: StepContext, iter: Tensor, params: readonly Tensor[], perStep: readonly Tensor[]): StepGradients {
  const nG = c.groups.length;
  const gradMul = 1 / c.A;
  const metricCount = countMetrics(c.spec, c.groups, c.frozenSpecs);
  const zero = iter.graph.scalar(0, 'float32');
  const init = [...c.groups.map((gr) => op.zeros(iter.graph, [gr.size], 'float32')), zero, ...Array.from({ length: metricCount }, () => zero)];
  let names: string[] = [];
  const res = loop(iter.graph, 'micro', c.A, init, ({ iter: j, carried: acc }) => {
    const r = forwardBackward(c, params, perStep.map((b) => op.gather(b, j, 0)));
    if (r.metrics.length !== metricCount) throw new Error(`forward: returned ${r.metrics.length} metrics, ${metricCount} on an earlier trace`);
    names = r.metrics.map(([n]) => n);
    const next = [
      ...r.grads.map((gr, gi) => op.add(acc[gi] as Tensor, gr)),
      op.add(acc[nG] as Tensor, r.loss),
      ...r.metrics.map(([, t], mi) => op.add(acc[nG + 1 + mi] as Tensor, t)),
    ];
    return { carried: next };
  });
  return {
    grads: res.carried.slice(0, nG),
    loss: op.mul(res.carried[nG] as Tensor, gradMul),
    metrics: names.map((n, mi) => [n, op.mul(res.carried[nG + 1 + mi] as Tensor, gradMul)]),
  };
}

/** What the optimizer update of one step reads. */
interface UpdateInputs {
  readonly params: readonly Tensor[];
  readonly bufs: readonly Tensor[][];
  /** Gradient sums per group. */
  readonly grads: readonly Tensor[];
  /** ‖mean gradient‖, before clipping. */
  readonly gnorm: Tensor;
  /** The schedule's multiplier λ(step) of every group's learning rate. */
  readonly lambda: Tensor;
  readonly lr: Tensor;
  /** 1-based update count of this update. */
  readonly t: Tensor;
}

/**
 * The optimizer update inside the If's then-branch: per group [param, buffers...] after AdamW or SGD on the
 * mean gradient, clipped. Ops go to the innermost graph among their inputs, so the branch starts from
 * branch-local copies of the scalars and everything derived from them stays inside.
 */
function optimizerUpdate(c: StepContext, branch: Graph, u: UpdateInputs): Tensor[] {
  const { opt, A } = c;
  const gradMul = 1 / A;
  const maxNorm = c.spec.optim.maxGradNorm ?? 0;
  const one = branch.scalar(1, 'float32');
  const lrB = op.mul(u.lr, one);
  const lambdaB = op.mul(u.lambda, one);
  const tB = op.mul(u.t, one);
  const clip = maxNorm > 0 ? clipCoefficient(u.gnorm, maxNorm) : null;
  const scale = clip ? op.mul(clip, A === 1 ? one : branch.scalar(gradMul, 'float32')) : A === 1 ? null : branch.scalar(gradMul, 'float32');
  return c.groups.flatMap((gr, gi) => {
    const p = u.params[gi] as Tensor;
    const gg = u.grads[gi] as Tensor;
    const b = u.bufs[gi] as Tensor[];
    const lr = gr.lr === undefined ? lrB : op.mul(lambdaB, gr.lr);
    if (opt.kind === 'adamw') {
      const r = adamwStep(opt, { param: p, grad: gg, expAvg: b[0] as Tensor, expAvgSq: b[1] as Tensor, lr, t: tB, gradScale: scale, decay: gr.weightDecay });
      return [r.param, r.expAvg, r.expAvgSq];
    }
    const r = sgdStep(opt, { param: p, grad: gg, ...(c.nB ? { momentumBuffer: b[0] as Tensor } : {}), lr, t: tB, gradScale: scale, decay: gr.weightDecay });
    return r.momentumBuffer ? [r.param, r.momentumBuffer] : [r.param];
  });
}

/** One optimizer step, traced in the outer Loop's body: carried (params, buffers, step, updates) -> next, plus scans. */
function trainStepBody(c: StepContext, iter: Tensor, carried: readonly Tensor[]): { carried: Tensor[]; scans: Tensor[]; metricNames: string[] } {
  const { groups, nB, A } = c;
  const nG = groups.length;
  const params = carried.slice(0, nG);
  const bufs = groups.map((_, gi) => carried.slice(nG + gi * nB, nG + (gi + 1) * nB));
  const step = carried[nG + nG * nB] as Tensor;
  const updates = carried[nG + nG * nB + 1] as Tensor;
  const perStep = c.batchIn.map((b) => op.gather(b, iter, 0)); // [A, ...]

  // grads holds gradient SUMS over the micro-batches; gradMul (1/A) turns them into means inside the
  // norm and the optimizer's scalar coefficients, so averaging costs no pass over [P].
  const { grads, loss, metrics } = A === 1 ? forwardBackward(c, params, perStep.map((b) => op.squeeze(b, [0]))) : accumulateMicroBatches(c, iter, params, perStep);
  const gradMul = 1 / A;
  const gnorm = A === 1 ? globalNorm(grads) : op.mul(globalNorm(grads), gradMul); // ‖mean gradient‖
  // finite: neither the loss nor any gradient is NaN/±Inf (a non-finite element makes ‖g‖ non-finite).
  const lossGn = op.add(loss, gnorm);
  const finite = op.equal(op.sub(lossGn, lossGn), 0); // x − x = 0 exactly iff x is finite (IEEE 754)
  const stepF = op.cast(step, 'float32');
  const lambda = lrMultiplierGraph(c.spec.optim.schedule ?? { kind: 'constant' }, stepF);
  const lr = op.mul(lambda, c.opt.lr);
  const t = op.add(op.cast(updates, 'float32'), 1); // 1-based update count of this update

  // The update runs in an If: a non-finite step leaves parameters and buffers untouched without paying
  // for Where passes over [P] on every step.
  const before = groups.flatMap((_, gi) => [params[gi] as Tensor, ...(bufs[gi] as Tensor[])]);
  const after = ifElse(iter.graph, 'update', finite, (branch) => optimizerUpdate(c, branch, { params, bufs, grads, gnorm, lambda, lr, t }), () => before);
  const per = 1 + nB;
  const nextParams = groups.map((_, gi) => after[gi * per] as Tensor);
  const nextBufs = groups.map((_, gi) => after.slice(gi * per + 1, (gi + 1) * per));
  const nextStep = op.add(step, 1);
  const nextUpdates = op.add(updates, op.cast(finite, 'int64'));
  return {
    carried: [...nextParams, ...nextBufs.flat(), nextStep, nextUpdates],
    scans: [loss, gnorm, lr, finite, ...metrics.map(([, m]) => m)],
    metricNames: metrics.map(([n]) => n),
  };
}

/**
 * Builds the K-step training model. Pure: no runtime involved, so it is testable and cacheable.
 */
export function compileTrainStep(spec: TrainStepSpec): CompiledTrainStep {
  validateOptimConfig(spec.optim);
  const { K, A } = stepCounts(spec);
  const opt = resolveOptimizer(spec.optim.optimizer);
  const groups = flatLayout(spec.params, spec.flatGroupTarget, spec.optim.paramGroups);
  const frozenSpecs = spec.params.filter((p) => p.trainable === false);
  const bufferNames = opt.kind === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : opt.momentum > 0 ? ['momentum_buffer'] : [];
  checkBatchFields(spec.batch);

  const g = new Graph('train_step');
  const paramIn = groups.map((gr) => g.input(`param.${gr.name}`, [gr.size], 'float32'));
  const bufIn = groups.map((gr) => bufferNames.map((b) => g.input(`${b}.${gr.name}`, [gr.size], 'float32')));
  const stepIn = g.input('step', [], 'int64');
  const updatesIn = g.input('updates', [], 'int64');
  const frozen: Record<string, Tensor> = {};
  for (const p of frozenSpecs) frozen[p.name] = g.input(`frozen.${p.name}`, p.shape, 'float32');
  const batchIn = spec.batch.map((b) => g.input(`batch.${b.name}`, [K, A, ...b.shape], b.dtype));
  const initial = [...paramIn, ...bufIn.flat(), stepIn, updatesIn];

  const c: StepContext = { spec, groups, frozenSpecs, frozen, batchIn, opt, nB: bufferNames.length, A };
  let metricNames: string[] = [];
  const outer = loop(g, 'steps', K, initial, ({ iter, carried }) => {
    const body = trainStepBody(c, iter, carried);
    metricNames = body.metricNames;
    return body;
  });

  const carry: Record<string, string> = {};
  initial.forEach((t, i) => {
    const out = g.output(`${t.name}.next`, outer.carried[i] as Tensor);
    carry[out.name] = t.name;
  });
  const scanNames = ['losses', 'grad_norms', 'lrs', 'finite', ...metricNames.map((m) => `metric.${m}`)];
  outer.scans.forEach((t, i) => g.output(scanNames[i] as string, t));

  return { model: toOnnx(g, SESSION_EMIT), groups, frozen: frozenSpecs, batch: spec.batch, metricNames, stepsPerRun: K, microBatches: A, optimizer: opt, bufferNames, carry, fetch: scanNames };
}

/**
 * Number of metrics the forward returns, found by tracing it once into a scratch graph (needed to size the
 * micro-batch loop's carried sums before tracing the real body).
 */
function countMetrics(spec: TrainStepSpec, groups: readonly FlatGroup[], frozen: readonly ParamSpec[]): number {
  const s = new Graph('metric_probe');
  const params: Record<string, Tensor> = {};
  for (const gr of groups) for (const sl of gr.slots) params[sl.name] = s.input(`p.${sl.name}`, sl.shape, 'float32');
  for (const p of frozen) params[p.name] = s.input(`p.${p.name}`, p.shape, 'float32');
  const batch: Record<string, Tensor> = {};
  for (const b of spec.batch) batch[b.name] = s.input(`b.${b.name}`, b.shape, b.dtype);
  const [, metrics] = checkForward(spec.forward(params, batch));
  return metrics.length;
}
