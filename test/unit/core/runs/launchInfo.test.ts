import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BUILTIN_MODEL_SHAPE, deviceCapacity, estimateForm, launchDefaults, launchDevices, launchMethods, readDevicesReport } from '../../../../src/core/runs/launchInfo';
import { RUN_DEFAULTS } from '../../../../src/core/runs/spec';
import { METHOD_CARDS } from '../../../../src/core/methods';
import { DevicesReportMsg, type DevicesReport } from '../../../../src/protocol/devices';
import { LaunchInitMsg } from '../../../../src/protocol/launch';
import { seriesFromEvents } from '../../../../src/core/runs/metricSeries';
import { parseSessionEvents } from '../../../../src/protocol/session';

test('every method card reaches the form with its eight axes and hyperparameter defaults', () => {
  const ms = launchMethods();
  const dpo = ms.find((m) => m.id === 'dpo');
  assert.ok(dpo);
  assert.equal(dpo.axes.length, 8);
  assert.match(dpo.citation, /Rafailov et al\. \(2023\).*2305\.18290/);
  const beta = dpo.params.find((p) => p.name === 'beta');
  assert.equal(beta?.default, 0.1);
  assert.ok(beta && beta.help.length > 10);
  for (const m of ms) assert.equal(m.axes.length, 8, m.id);
});

test('the estimate reports spec problems by path, and memory/time for a valid spec', () => {
  const cap = deviceCapacity('cpu', 4, 16 * 1024 ** 3);
  const bad = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: '' }, hyperparameters: { beta: -1 } }, BUILTIN_MODEL_SHAPE, cap, undefined);
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['data.path', 'hyperparameters.beta']);
  const ok = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'pairs.jsonl', evalSplit: 0.1, maxLength: 128 }, batchSize: 4, epochs: 2 }, BUILTIN_MODEL_SHAPE, cap, 100);
  assert.equal(ok.ok, true);
  assert.equal(ok.totalSteps, 2 * Math.ceil(90 / 4));
  assert.ok((ok.memoryBytes ?? 0) > BUILTIN_MODEL_SHAPE.params * 4 * 2, 'weights + reference at least');
  assert.equal(ok.fits, true);
  assert.equal(ok.totalSeconds, undefined, 'no time until the calibration session measured one');
  // With a calibration report: the measured time of the run's layout, and the truncation preview.
  const timing = { device: 'cpu', setupSeconds: 3, secondsPerStep: 0.5, evalSeconds: 1, finalizeSeconds: 0.2 };
  const report = { examples: { train: 90, eval: 10 }, dataLoss: { rows: 101, rowsSkipped: 1, promptsTruncated: 4, completionsTruncated: 7, tokensDropped: 300 }, warnings: [], timing };
  const measured = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'pairs.jsonl', evalSplit: 0.1, maxLength: 128 }, batchSize: 4, epochs: 2 }, BUILTIN_MODEL_SHAPE, cap, 100, { measuring: false, report });
  assert.equal(measured.totalSteps, 46);
  // 46 steps (eval at 46 is the run's last: one eval at the end with the default interval of 500).
  assert.equal(measured.totalSeconds, 3 + 46 * 0.5 + 1 + 0.2);
  assert.deepEqual(measured.preview?.dataLoss, ['1 of 101 rows skipped', '4 prompts and 7 completions cut (300 tokens dropped)']);
  assert.match(measured.preview?.timeBasis ?? '', /^measured: 3 steps of this configuration on cpu/);
  assert.deepEqual(estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' } }, BUILTIN_MODEL_SHAPE, cap, 10, { measuring: true }).preview, { measuring: true, dataLoss: [] });
  const tiny = estimateForm({ method: 'dpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' } }, BUILTIN_MODEL_SHAPE, { name: 'tiny', memoryBytes: 1024, flopsPerSecond: 1e9 }, 10);
  assert.equal(tiny.fits, false);
  assert.ok(tiny.warnings.some((w) => /too large for memory/.test(w)));
});

test('session events become per-metric series (eval_ kept apart) and sample sets', () => {
  const t = [
    { type: 'metrics', params: { time: 1, step: 1, epoch: 0.1, metrics: { loss: 0.7, 'rewards/margins': 0 } } },
    { type: 'eval', params: { time: 2, step: 1, epoch: 0.1, metrics: { eval_loss: 0.69 } } },
    { type: 'metrics', params: { time: 3, step: 2, epoch: 0.2, metrics: { loss: null } } },
    { type: 'samples', params: { time: 4, step: 2, samples: [{ prompt: 'p', policy: 'a', reference: 'b', scores: { policy: 1 } }] } },
  ].map((e) => JSON.stringify(e)).join('\n');
  const { series, samples } = seriesFromEvents(parseSessionEvents(t).events);
  assert.deepEqual(series.loss, { step: [1, 2], time: [1, 3], value: [0.7, null] });
  assert.deepEqual(series['rewards/margins'].step, [1]);
  assert.deepEqual(series.eval_loss.value, [0.69]);
  assert.equal(samples.length, 1);
  assert.equal(samples[0].samples[0].reference, 'b');
});

test('the form offers only the methods whose card is trainable', () => {
  const offered = launchMethods().map((m) => m.id);
  assert.deepEqual(offered, METHOD_CARDS.filter((c) => c.trainable).map((c) => c.id));
  for (const id of ['ppo', 'rloo', 'grpo', 'online-dpo'] as const) assert.ok(offered.includes(id), `${id} is offered`);
  const cap = deviceCapacity('cpu', 4, 16 * 1024 ** 3);
  const rewards = { functions: [{ kind: 'regex', pattern: '[0-9]' }] };
  const ppo = estimateForm({ method: 'ppo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, rewards, batchSize: 8 }, BUILTIN_MODEL_SHAPE, cap, 10);
  const grpo = estimateForm({ method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, rewards, batchSize: 8 }, BUILTIN_MODEL_SHAPE, cap, 10);
  assert.ok(ppo.ok && grpo.ok, JSON.stringify([ppo.problems, grpo.problems]));
  // Beside GRPO at beta 0, PPO keeps a reference (4 bytes a parameter) and trains a value model, a second copy of
  // the policy (weights 4, gradients 4, AdamW 8).
  assert.equal((ppo.memoryBytes as number) - (grpo.memoryBytes as number), 20 * BUILTIN_MODEL_SHAPE.params);
});

test('the form starts from the run defaults of the spec resolver, sent in a valid init message', () => {
  const d = launchDefaults();
  assert.equal(d.device, RUN_DEFAULTS.device);
  assert.equal(d.epochs, RUN_DEFAULTS.epochs);
  assert.equal(d.maxSteps, RUN_DEFAULTS.maxSteps);
  assert.equal(d.batchSize, RUN_DEFAULTS.batchSize);
  assert.equal(d.gradientAccumulationSteps, RUN_DEFAULTS.gradientAccumulationSteps);
  assert.equal(d.seed, RUN_DEFAULTS.seed);
  assert.deepEqual(d.data, { evalSplit: RUN_DEFAULTS.evalSplit });
  assert.deepEqual(d.intervals, { logging: RUN_DEFAULTS.loggingInterval, eval: RUN_DEFAULTS.evalInterval, checkpoint: RUN_DEFAULTS.checkpointInterval, sample: RUN_DEFAULTS.sampleInterval });
  assert.ok(launchMethods().some((m) => m.id === d.method), 'the form opens on an offered method');
  const init = { methods: launchMethods(), defaults: d, models: [], datasets: [] };
  assert.deepEqual(LaunchInitMsg.problems(LaunchInitMsg.create(init)), []);
  assert.deepEqual(LaunchInitMsg.problems({ type: 'launch/init', params: { ...init, defaults: undefined } }), ['params.defaults: expected an object']);
  assert.deepEqual(LaunchInitMsg.problems({ type: 'launch/init', params: { ...init, defaults: { ...d, intervals: { ...d.intervals, logging: 0 } } } }), [
    'params.defaults.intervals.logging: expected an integer in [1, 9007199254740991]',
  ]);
});

test('device choices come from the CLI probe report, checked against the protocol', () => {
  const report: DevicesReport = {
    devices: [
      { device: 'cpu', available: true, bundled: true },
      { device: 'cuda', available: false, bundled: false, reason: 'Failed to load shared library', install: 'install the CUDA provider' },
      { device: 'webgpu', available: false, bundled: true, reason: 'No supported adapters', install: 'a Vulkan driver' },
    ],
    auto: { order: ['cuda', 'webgpu', 'cpu'], device: 'cpu' },
  };
  const read = readDevicesReport(`${JSON.stringify(DevicesReportMsg.create(report))}\n`);
  assert.deepEqual(read, { report });
  const devices = launchDevices(read);
  assert.deepEqual(devices.map((d) => [d.id, d.available]), [['auto', true], ['cpu', true], ['cuda', false], ['webgpu', false]]);
  assert.equal(devices[0].picks, 'cpu');
  assert.match(devices[0].note, /^cpu on this machine \(tries cuda, then webgpu, then cpu\)$/);
  assert.equal(devices[2].note, 'Failed to load shared library. To use it: install the CUDA provider');

  // No report, or one that does not match the protocol: the CPU stays selectable and the notes say why.
  assert.deepEqual(readDevicesReport(''), { failure: 'device probe printed no report' });
  const bad = readDevicesReport(JSON.stringify({ type: 'devices/report', params: { ...report, devices: [{ device: 'tpu', available: true, bundled: true }] } }));
  assert.ok('failure' in bad && /params\.devices\[0\]\.device: expected one of "cpu", "cuda", "webgpu"/.test(bad.failure), JSON.stringify(bad));
  const fallback = launchDevices(bad);
  assert.deepEqual(fallback.map((d) => [d.id, d.available]), [['auto', true], ['cpu', true], ['cuda', false], ['webgpu', false]]);
  assert.ok(fallback.every((d) => d.note.includes('invalid report')));
  assert.equal(fallback[0].picks, undefined);
});

test('GRPO and RLOO come with the reward picker\'s built-ins; a spec shaped as the picker writes it resolves', () => {
  const byId = new Map(launchMethods().map((m) => [m.id, m]));
  for (const id of ['grpo', 'rloo']) {
    const fns = byId.get(id)?.rewardFunctions ?? [];
    assert.deepEqual(fns.map((f) => f.kind), ['exact_match', 'numeric_match', 'regex', 'json_valid', 'length_penalty', 'proxy']);
    assert.deepEqual(fns.find((f) => f.kind === 'regex')?.arg, { field: 'pattern', label: 'Pattern', kind: 'text' });
  }
  assert.equal(byId.get('dpo')?.rewardFunctions, undefined, 'methods without reward functions get no picker');
  const init = { methods: launchMethods(), defaults: launchDefaults(), models: [], datasets: [] };
  assert.deepEqual(LaunchInitMsg.problems(LaunchInitMsg.create(init)), []);
  const bad = { ...init, methods: [{ ...byId.get('grpo'), rewardFunctions: [{ kind: 'regex', title: 'R', help: 'h', arg: { field: 'pattern', label: 'P', kind: 'regexp' } }] }] };
  assert.equal(LaunchInitMsg.problems({ type: 'launch/init', params: bad }).length, 1);
  const cap = deviceCapacity('cpu', 4, 16 * 1024 ** 3);
  const form = { method: 'grpo', model: { kind: 'builtin' }, data: { path: 'p.jsonl' }, hyperparameters: {}, rewards: { functions: [{ kind: 'regex', weight: 1, pattern: '\\d' }, { kind: 'proxy', weight: 0.5 }], onError: 'skip' } };
  const e = estimateForm(form, BUILTIN_MODEL_SHAPE, cap, 10);
  assert.ok(e.ok, JSON.stringify(e.problems));
  const none = estimateForm({ ...form, rewards: { functions: [], onError: 'stop' } }, BUILTIN_MODEL_SHAPE, cap, 10);
  assert.deepEqual(none.problems.map((p) => p.path), ['rewards.functions']);
});
