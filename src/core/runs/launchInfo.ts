/**
 * What the launch form shows, derived from the method cards, the run spec rules, the device probe and the
 * estimator: the form's method list and starting values, the devices, and a memory/time estimate for a spec as the
 * form has it (with every spec problem).
 */
import { AXIS_LABELS, METHOD_CARDS, type MethodAxes, type MethodCard } from '../methods';
import type { LaunchDefaults, LaunchDevice, LaunchEstimate, LaunchMethod, LaunchPreview } from '../../protocol/launch';
import type { PreflightReport } from '../../protocol/preflight';
import { calibratedSeconds, CALIBRATION_STEPS, runLayout } from './calibration';
import { describeDataLoss } from './runState';
import { DevicesReportMsg, type DevicesReport } from '../../protocol/devices';
import { estimateRun, type DeviceCapacity, type ModelShape } from './estimate';
import { resolveRunSpec, RUN_DEFAULTS, totalSteps } from './spec';
import { REWARD_FUNCTION_KINDS, usesRewardFunctions } from './specRewards';

/**
 * The built-in model's shape (src/engine/models/builtin.ts: Llama-style, d_model 256, 4 layers, 4 heads, a 1472-token
 * byte-level BPE vocabulary, tied embeddings, 512 positions). `params` is the count of its tensors' values, which
 * test/unit/core/runs/launchInfo.test.ts checks against the built model. Kept here because the host never imports
 * the engine.
 */
export const BUILTIN_MODEL_SHAPE: ModelShape = { params: 3_524_864, layers: 4, hiddenSize: 256, heads: 4, vocabSize: 1472, maxPositions: 512 };

/** The built-in model's size as the views say it, e.g. `3.52M`. */
export const BUILTIN_MODEL_SIZE = `${(BUILTIN_MODEL_SHAPE.params / 1e6).toFixed(2)}M`;

/** A method card as the form shows it. */
export function launchMethod(c: MethodCard): LaunchMethod {
  const cite = c.citation;
  return {
    id: c.id,
    title: c.title,
    family: c.family,
    summary: c.summary,
    citation: `${cite.authors} (${cite.year}), ${cite.title}${cite.arxiv ? `, arXiv:${cite.arxiv}` : ''}${cite.venue ? `, ${cite.venue}` : ''}`,
    axes: (Object.keys(AXIS_LABELS) as (keyof MethodAxes)[]).map((k) => ({ label: AXIS_LABELS[k], value: c.axes[k].value, note: c.axes[k].note })),
    datasetKinds: [...c.datasetKinds],
    datasetNote: c.datasetNote,
    needsRewardModel: c.needsRewardModel,
    learningRate: c.defaults.learningRate,
    maxLength: c.defaults.maxLength,
    params: c.hyperparameters.map((p) => ({
      name: p.name,
      kind: p.kind,
      default: p.default,
      help: p.help,
      ...('min' in p && p.min !== undefined ? { min: p.min } : {}),
      ...('max' in p && p.max !== undefined ? { max: p.max } : {}),
      ...(p.kind === 'choice' ? { options: p.options.map((o) => ({ value: o.value, help: o.help })) } : {}),
    })),
    ...(usesRewardFunctions(c) ? { rewardFunctions: REWARD_FUNCTION_KINDS.map((k) => ({ kind: k.kind, title: k.title, help: k.help, ...(k.arg ? { arg: { ...k.arg } } : {}) })) } : {}),
  };
}

/** The methods the form offers: those whose card is trainable. */
export function launchMethods(): LaunchMethod[] {
  return METHOD_CARDS.filter((c) => c.trainable).map(launchMethod);
}

/** The method the form opens on. */
export const LAUNCH_DEFAULT_METHOD = 'dpo';

/** The form's starting values: the run defaults, and the method it opens on. */
export function launchDefaults(): LaunchDefaults {
  const d = RUN_DEFAULTS;
  return {
    method: LAUNCH_DEFAULT_METHOD,
    device: d.device,
    epochs: d.epochs,
    maxSteps: d.maxSteps,
    batchSize: d.batchSize,
    gradientAccumulationSteps: d.gradientAccumulationSteps,
    seed: d.seed,
    data: { evalSplit: d.evalSplit },
    intervals: { logging: d.loggingInterval, eval: d.evalInterval, checkpoint: d.checkpointInterval, sample: d.sampleInterval },
  };
}

/** What `alignment devices --json` printed: its report, or why there is none. */
export type DeviceProbeOutcome = { readonly report: DevicesReport } | { readonly failure: string };

/** Reads the `devices/report` line of `alignment devices --json` output, checked against the protocol. */
export function readDevicesReport(stdout: string): DeviceProbeOutcome {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    if (DevicesReportMsg.is(msg)) return { report: msg.params };
    return { failure: `device probe printed an invalid report (${DevicesReportMsg.problems(msg).slice(0, 3).join('; ')})` };
  }
  return { failure: 'device probe printed no report' };
}

/**
 * The form's device choices from the probe. Without a report the CPU stays selectable (its provider ships with
 * onnxruntime-node) and every note says why the probe failed.
 */
export function launchDevices(probe: DeviceProbeOutcome): LaunchDevice[] {
  if ('failure' in probe) {
    return [
      { id: 'auto', available: true, note: `picked when the run starts (${probe.failure})` },
      { id: 'cpu', available: true, note: probe.failure },
      { id: 'cuda', available: false, note: probe.failure },
      { id: 'webgpu', available: false, note: probe.failure },
    ];
  }
  const { devices, auto } = probe.report;
  const tries = `tries ${auto.order.join(', then ')}`;
  return [
    { id: 'auto', available: auto.device !== undefined, note: auto.device ? `${auto.device} on this machine (${tries})` : `no device works (${tries})`, ...(auto.device ? { picks: auto.device } : {}) },
    ...devices.map((d): LaunchDevice => ({
      id: d.device,
      available: d.available,
      note: d.available ? `works here${d.bundled ? ' (bundled with onnxruntime-node)' : ''}` : `${d.reason ?? 'unavailable'}${d.install ? `. To use it: ${d.install}` : ''}`,
    })),
  ];
}

/**
 * Order-of-magnitude device presets for the time estimate (sustained training FLOP/s through onnxruntime on this
 * engine; CPU scales with cores). Memory: the CPU gets half the machine's RAM; GPUs a typical 8 GiB unless known.
 */
export function deviceCapacity(device: string, cpuCores: number, totalMemoryBytes: number): DeviceCapacity & { name: string } {
  const GiB = 1024 ** 3;
  if (device === 'cuda') return { name: 'CUDA GPU (preset: 8 GiB, 10 TFLOP/s)', memoryBytes: 8 * GiB, flopsPerSecond: 1e13 };
  if (device === 'webgpu') return { name: 'WebGPU (preset: 4 GiB, 1 TFLOP/s)', memoryBytes: 4 * GiB, flopsPerSecond: 1e12 };
  return { name: `CPU (${cpuCores} cores, ${(totalMemoryBytes / 2 / GiB).toFixed(1)} GiB for training)`, memoryBytes: totalMemoryBytes / 2, flopsPerSecond: 2e9 * Math.max(1, cpuCores) };
}

/**
 * What the calibration session (`alignment preflight`) has said about the form's spec so far: still measuring
 * (perhaps with a timing remembered from an earlier one), or its report. Its data counts fill the truncation preview; its timing, the time estimate.
 */
export interface PreflightState {
  readonly measuring: boolean;
  /** The report (while measuring: one holding a remembered timing of the same configuration, if any). */
  readonly report?: PreflightReport;
}

/**
 * Validates a spec as the form has it and estimates its memory (from the model's size) and time (measured by the
 * calibration session: no time until it reports). `records`: rows in the dataset file.
 */
export function estimateForm(spec: unknown, model: ModelShape | undefined, capacity: DeviceCapacity & { name: string }, records: number | undefined, pre?: PreflightState): LaunchEstimate {
  const r = resolveRunSpec(spec, '(new run folder)');
  if (!r.ok) return { ok: false, problems: r.problems.map((p) => ({ path: p.path, reason: p.reason })), warnings: r.warnings };
  if (!model) return { ok: true, problems: [], warnings: [...r.warnings, 'no estimate: the model folder has no readable config.json sizes'] };
  const est = estimateRun(model, r.spec, capacity);
  const report = pre?.report;
  const split = report?.examples ?? (records !== undefined ? { train: Math.max(1, Math.floor(records * (1 - r.spec.data.evalSplit))), eval: 0 } : undefined);
  const steps = split ? totalSteps(r.spec, split.train) : r.spec.maxSteps > 0 ? r.spec.maxSteps : undefined;
  const timing = report?.timing;
  const time = timing && split ? { secondsPerStep: timing.secondsPerStep, totalSeconds: calibratedSeconds(timing, runLayout(r.spec, split.train, split.eval)) } : {};
  return {
    ok: true,
    problems: [],
    warnings: [...r.warnings, ...est.warnings],
    memoryBytes: est.memory.total,
    deviceMemoryBytes: capacity.memoryBytes,
    fits: est.fits,
    ...(steps !== undefined ? { totalSteps: steps } : {}),
    ...time,
    trainableParams: est.trainableParams,
    basis: `${capacity.name}${records !== undefined ? `; ${records} records in the dataset` : ''}`,
    ...(pre ? { preview: previewOf(pre) } : {}),
  };
}

/** The form's preview of a calibration: measuring, or what the data loses, the measured basis, a failure. */
function previewOf(pre: PreflightState): LaunchPreview {
  const { report } = pre;
  if (!report) return { measuring: pre.measuring, dataLoss: [] };
  const t = report.timing;
  return {
    measuring: pre.measuring,
    dataLoss: describeDataLoss(report.dataLoss),
    ...(report.examples ? { examples: report.examples } : {}),
    ...(t ? { timeBasis: `measured: ${CALIBRATION_STEPS} steps of this configuration on ${t.device} (${t.secondsPerStep.toFixed(3)} s per step, setup ${t.setupSeconds.toFixed(1)} s)` } : {}),
    ...(report.failure ? { failure: report.failure } : {}),
  };
}
