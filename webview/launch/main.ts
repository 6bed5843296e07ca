// Launch form: method (with its eight-axis card), base model, dataset, hyperparameters with defaults and help,
// device with availability, and a memory/time estimate that follows every change. Start, or load/save a spec.
import {
  LaunchBrowse,
  LaunchDevices,
  LaunchEstimateRequest,
  LaunchEstimateResult,
  LaunchInitMsg,
  LaunchPicked,
  LaunchReady,
  LaunchSetSpec,
  LaunchStart,
  LaunchStartFailed,
  type LaunchChoice,
  type LaunchDefaults,
  type LaunchDevice,
  type LaunchEstimate,
  type LaunchMethod,
  type LaunchProblem,
} from '../../src/protocol/launch';
import { el, on, post } from '../shared/host';
import { RewardPicker } from './rewards';

const app = document.getElementById('app') as HTMLElement;
let methods: LaunchMethod[] = [];
/** The run defaults and the method to open on, from the host (the init message). */
let defaults: LaunchDefaults | undefined;
let devices: LaunchDevice[] | undefined;

// ---- form elements
const source = el('p', { class: 'source', attrs: { id: 'spec-source' } });
const methodSel = el('select', { attrs: { id: 'method', name: 'method' } });
const card = el('section', { class: 'card', attrs: { id: 'method-card' } });
const nameInput = el('input', { attrs: { id: 'run-name', type: 'text', placeholder: 'optional, e.g. dpo-beta-0.1' } });
const modelSel = el('select', { attrs: { id: 'model' } });
const dataSel = el('select', { attrs: { id: 'dataset' } });
const deviceBox = el('div', { class: 'devices', attrs: { id: 'devices' } }, el('span', { class: 'muted', text: 'checking devices…' }));
const hpBox = el('div', { class: 'params', attrs: { id: 'hyperparameters' } });
const estimateBox = el('section', { class: 'estimate', attrs: { id: 'estimate' } }, el('span', { class: 'muted', text: 'Estimate appears once the form is complete.' }));
const problemsBox = el('ul', { class: 'problems', attrs: { id: 'problems' } });
const startBtn = el('button', { class: 'btn', text: 'Start Training', attrs: { id: 'start', type: 'button' } });
const loadBtn = el('button', { class: 'btn secondary', text: 'Load Spec…', attrs: { id: 'load-spec', type: 'button' } });
const saveBtn = el('button', { class: 'btn secondary', text: 'Save Spec…', attrs: { id: 'save-spec', type: 'button' } });
/** The chosen device; until the init message, none (the host fills its default). */
let device: string | undefined;
const rewardPicker = new RewardPicker(changed);
/** A loaded spec's `generation` section (stop strings), which the form has no field for: sent back as it was. */
let keptGeneration: unknown;

/** A field's default: a run default, or the selected method's (learning rate, maximum length). */
type DefaultOf = (d: LaunchDefaults, m: LaunchMethod | undefined) => number | undefined;
interface NumField {
  path: string;
  input: HTMLInputElement;
  def: DefaultOf;
}
const training: NumField[] = [];
/** A number as a user types it: small rates in exponent form (1e-6, not 0.000001). */
const numText = (x: number): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x));
function numField(label: string, path: string, def: DefaultOf, help: string, step = 'any'): HTMLElement {
  const input = el('input', { attrs: { id: `f-${path.replace(/\./g, '-')}`, type: 'number', step, 'data-path': path } });
  training.push({ path, input, def });
  input.addEventListener('input', changed);
  return el('label', { class: 'field', title: help }, el('span', { class: 'label', text: label }), input, el('span', { class: 'help', text: help }));
}

const currentMethod = (): LaunchMethod | undefined => methods.find((m) => m.id === methodSel.value);
/** The field's default as text ('' until the host sent the defaults). */
function defaultText(f: NumField): string {
  const x = defaults ? f.def(defaults, currentMethod()) : undefined;
  return x === undefined ? '' : numText(x);
}

const trainingBox = el('div', { class: 'params' },
  numField('Epochs', 'epochs', (d) => d.epochs, 'Passes over the training split.'),
  numField('Max steps', 'maxSteps', (d) => d.maxSteps, 'Stop after this many optimizer steps (0: use epochs).', '1'),
  numField('Batch size', 'batchSize', (d) => d.batchSize, 'Examples per micro-batch (a pair counts once).', '1'),
  numField('Gradient accumulation', 'gradientAccumulationSteps', (d) => d.gradientAccumulationSteps, 'Micro-batches per optimizer step.', '1'),
  numField('Learning rate', 'optimizer.learningRate', (_d, m) => m?.learningRate, 'AdamW peak learning rate (the method\'s TRL default).'),
  numField('Max length', 'data.maxLength', (_d, m) => m?.maxLength, 'Longest prompt + completion in tokens.', '1'),
  numField('Eval split', 'data.evalSplit', (d) => d.data.evalSplit, 'Fraction of the data held out for evaluation.'),
  numField('Seed', 'seed', (d) => d.seed, 'Seeds initialisation, data order and sampling.', '1'),
  numField('Log every', 'intervals.logging', (d) => d.intervals.logging, 'Steps between logged metrics.', '1'),
  numField('Samples every', 'intervals.sample', (d) => d.intervals.sample, 'Steps between sample generations (0: never).', '1'),
  numField('Checkpoint every', 'intervals.checkpoint', (d) => d.intervals.checkpoint, 'Steps between checkpoints (0: only the final model).', '1'),
  numField('Eval every', 'intervals.eval', (d) => d.intervals.eval, 'Steps between evaluations on the held-out split (0: never; needs an eval split above 0).', '1'),
);

const section = (title: string, ...children: HTMLElement[]) => el('section', { class: 'form-section' }, el('h2', { text: title }), ...children);
app.append(
  el('header', {}, el('h1', { text: 'Start Training Run' }), source),
  section('Method', el('label', { class: 'field' }, el('span', { class: 'label', text: 'Method' }), methodSel), card),
  section('Model and data',
    el('label', { class: 'field' }, el('span', { class: 'label', text: 'Run name' }), nameInput),
    el('div', { class: 'field' }, el('span', { class: 'label', text: 'Base model' }), modelSel, button('browse-model', 'Browse…', () => post(LaunchBrowse, { what: 'model' }))),
    el('div', { class: 'field' }, el('span', { class: 'label', text: 'Dataset' }), dataSel, button('browse-dataset', 'Browse…', () => post(LaunchBrowse, { what: 'dataset' }))),
    el('p', { class: 'help', attrs: { id: 'dataset-note' } }),
  ),
  section('Device', deviceBox),
  section('Training', trainingBox),
  section('Hyperparameters', hpBox),
  section('Rewards', rewardPicker.box),
  section('Estimate', estimateBox, problemsBox),
  el('div', { class: 'buttons' }, startBtn, loadBtn, saveBtn),
);

function button(id: string, text: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', { class: 'btn secondary small', text, attrs: { id, type: 'button' } });
  b.addEventListener('click', onClick);
  return b;
}

function options(sel: HTMLSelectElement, list: LaunchChoice[], keep?: string): void {
  const prev = keep ?? sel.value;
  sel.replaceChildren(...list.map((c) => el('option', { text: c.detail ? `${c.label} — ${c.detail}` : c.label, attrs: { value: c.value } })));
  if (list.some((c) => c.value === prev)) sel.value = prev;
}

/**
 * Selects a spec's method. One the form does not offer (it cannot train) is shown as a disabled choice, so the
 * spec goes to the host as written and the host's problem says why it cannot start.
 */
function selectMethod(id: string): void {
  for (const o of [...methodSel.options]) if (o.disabled) o.remove();
  if (!methods.some((m) => m.id === id)) {
    const o = el('option', { text: `${id} (not offered)`, attrs: { value: id } });
    o.disabled = true;
    methodSel.append(o);
  }
  methodSel.value = id;
}
/** Removes the not-offered choice once another method is picked (it cannot be picked back). */
function dropUnoffered(): void {
  for (const o of [...methodSel.options]) if (o.disabled && !o.selected) o.remove();
}

function renderCard(): void {
  const m = currentMethod();
  card.replaceChildren();
  const note = document.getElementById('dataset-note') as HTMLElement;
  note.textContent = '';
  if (!m) return;
  const axes = el('table', { class: 'axes', attrs: { id: 'method-axes' } });
  for (const a of m.axes) axes.append(el('tr', { title: a.note }, el('th', { text: a.label }), el('td', { class: `axis-value v-${a.value}`, text: a.value }), el('td', { class: 'note', text: a.note })));
  card.append(el('p', { text: m.summary }), el('p', { class: 'cite', text: m.citation }), axes);
  note.textContent = `${m.title} trains on ${m.datasetKinds.join(' or ')} data. ${m.datasetNote}`;
}

function renderParams(values: Record<string, unknown> = {}): void {
  const m = currentMethod();
  hpBox.replaceChildren();
  if (!m) return;
  if (!m.params.length) hpBox.append(el('p', { class: 'muted', text: 'This method has no method-specific hyperparameters.' }));
  for (const p of m.params) {
    const id = `hp-${p.name}`;
    const v = values[p.name] ?? p.default;
    let input: HTMLInputElement | HTMLSelectElement;
    if (p.kind === 'choice') {
      input = el('select', { attrs: { id, 'data-param': p.name } }, ...(p.options ?? []).map((o) => el('option', { text: o.value, title: o.help, attrs: { value: o.value } })));
      input.value = String(v);
    } else if (p.kind === 'boolean') {
      input = el('input', { attrs: { id, type: 'checkbox', 'data-param': p.name } });
      input.checked = v === true;
    } else {
      input = el('input', { attrs: { id, type: 'number', step: p.kind === 'integer' ? '1' : 'any', 'data-param': p.name } });
      input.value = typeof v === 'number' ? numText(v) : String(v);
      if (p.min !== undefined) input.min = String(p.min);
      if (p.max !== undefined) input.max = String(p.max);
    }
    input.addEventListener('input', changed);
    input.addEventListener('change', changed);
    hpBox.append(el('label', { class: 'field', title: p.help }, el('span', { class: 'label', text: p.name }), input, el('span', { class: 'help', text: `${p.help} Default: ${String(p.default)}.` })));
  }
}

function renderDevices(): void {
  deviceBox.replaceChildren();
  if (!devices) {
    deviceBox.append(el('span', { class: 'muted', text: 'checking devices…' }));
    return;
  }
  for (const d of devices) {
    const r = el('input', { attrs: { type: 'radio', name: 'device', value: d.id, id: `device-${d.id}` } });
    r.checked = d.id === device;
    r.disabled = !d.available;
    r.addEventListener('change', () => {
      device = d.id;
      changed();
    });
    deviceBox.append(el('label', { class: `device ${d.available ? 'ok' : 'unavailable'}`, title: d.note }, r, el('span', { class: 'name', text: d.id }), el('span', { class: 'help', text: `${d.available ? '✓' : '✗'} ${d.note}` })));
  }
}

function setPath(o: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
  cur[parts[parts.length - 1]] = value;
}
function getPath(o: Record<string, unknown>, path: string): unknown {
  let cur: unknown = o;
  for (const p of path.split('.')) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

/** The spec as the form has it (only fields with a value; the host fills defaults and checks everything). */
function formSpec(): Record<string, unknown> {
  const spec: Record<string, unknown> = { method: methodSel.value };
  if (nameInput.value.trim()) spec.name = nameInput.value.trim();
  spec.model = modelSel.value === 'builtin' || !modelSel.value ? { kind: 'builtin' } : modelSel.value.startsWith('builtin:') ? { kind: 'builtin', name: modelSel.value.slice('builtin:'.length) } : { kind: 'hf', path: modelSel.value };
  spec.data = { path: dataSel.value };
  if (device) spec.device = device;
  for (const f of training) if (f.input.value.trim() !== '') setPath(spec, f.path, Number(f.input.value));
  const hp: Record<string, unknown> = {};
  for (const input of hpBox.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-param]')) {
    const name = input.dataset.param as string;
    const p = currentMethod()?.params.find((x) => x.name === name);
    if (!p) continue;
    if (p.kind === 'boolean') hp[name] = (input as HTMLInputElement).checked;
    else if (p.kind === 'choice') hp[name] = input.value;
    else if (input.value.trim() !== '') hp[name] = Number(input.value);
  }
  spec.hyperparameters = hp;
  const rewards = rewardPicker.value();
  if (rewards) spec.rewards = rewards;
  if (rewards && keptGeneration !== undefined) spec.generation = keptGeneration;
  return spec;
}

/** Fills the form from a spec (clone-and-edit or a spec file). */
function fillForm(spec: Record<string, unknown>, src?: string): void {
  if (typeof spec.method === 'string' && spec.method) selectMethod(spec.method);
  nameInput.value = typeof spec.name === 'string' ? spec.name : '';
  const model = spec.model as { kind?: string; path?: string; name?: string } | undefined;
  if (model?.kind === 'hf' && model.path) {
    if (![...modelSel.options].some((o) => o.value === model.path)) modelSel.append(el('option', { text: model.path, attrs: { value: model.path } }));
    modelSel.value = model.path;
  } else if (model?.kind === 'builtin') modelSel.value = model.name && model.name !== 'tiny' ? `builtin:${model.name}` : 'builtin';
  // A new form starts on the first model offered: the built-in chat model, which writes text from the start.
  else modelSel.value = modelSel.options[0]?.value ?? 'builtin';
  const dataPath = getPath(spec, 'data.path');
  if (typeof dataPath === 'string' && dataPath) {
    if (![...dataSel.options].some((o) => o.value === dataPath)) dataSel.append(el('option', { text: dataPath, attrs: { value: dataPath } }));
    dataSel.value = dataPath;
  }
  if (typeof spec.device === 'string') device = spec.device;
  renderCard();
  for (const f of training) {
    const x = getPath(spec, f.path);
    f.input.value = typeof x === 'number' ? numText(x) : defaultText(f);
  }
  renderParams((spec.hyperparameters as Record<string, unknown> | undefined) ?? {});
  keptGeneration = spec.generation;
  rewardPicker.render(currentMethod(), spec.rewards);
  renderDevices();
  source.textContent = src ? `From ${src}: edit anything, then start a new run.` : '';
  changed();
}

let timer: ReturnType<typeof setTimeout> | undefined;
function changed(): void {
  clearTimeout(timer);
  timer = setTimeout(() => post(LaunchEstimateRequest, { spec: formSpec() }), 250);
}

function fmtBytes(b: number): string {
  const GiB = 1024 ** 3;
  return b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`;
}
function fmtSeconds(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function showProblems(problems: LaunchProblem[], message?: string): void {
  problemsBox.replaceChildren(...(message ? [el('li', { class: 'error', text: message })] : []), ...problems.map((p) => el('li', { class: 'error', text: `${p.path || 'spec'}: ${p.reason}` })));
  for (const e of app.querySelectorAll('.invalid')) e.classList.remove('invalid');
  for (const p of problems) {
    const id = p.path.startsWith('hyperparameters.') ? `hp-${p.path.slice('hyperparameters.'.length)}` : p.path.startsWith('rewards') ? 'rewards' : p.path === 'data.path' || p.path === 'data' ? 'dataset' : p.path === 'method' ? 'method' : `f-${p.path.replace(/\./g, '-')}`;
    document.getElementById(id)?.classList.add('invalid');
  }
}

function showEstimate(e: LaunchEstimate): void {
  estimateBox.replaceChildren();
  startBtn.disabled = !e.ok;
  showProblems(e.problems);
  if (!e.ok) {
    estimateBox.append(el('span', { class: 'muted', text: 'Fix the fields below to see the estimate.' }));
    return;
  }
  const rows: [string, string][] = [];
  if (e.memoryBytes !== undefined) rows.push(['Memory', `${fmtBytes(e.memoryBytes)}${e.deviceMemoryBytes ? ` of ${fmtBytes(e.deviceMemoryBytes)}` : ''}${e.fits === false ? ' — does not fit' : ''}`]);
  if (e.trainableParams !== undefined) rows.push(['Trainable parameters', `${(e.trainableParams / 1e6).toFixed(2)}M`]);
  if (e.totalSteps !== undefined) rows.push(['Steps', String(e.totalSteps)]);
  if (e.secondsPerStep !== undefined) rows.push(['Time per step', fmtSeconds(e.secondsPerStep)]);
  if (e.totalSeconds !== undefined) rows.push(['Total time', `about ${fmtSeconds(e.totalSeconds)}${e.preview?.measuring ? ' (measured earlier; measuring again…)' : ''}`]);
  else if (e.preview?.measuring) rows.push(['Total time', 'measuring a few steps of this configuration…']);
  else if (!e.preview) rows.push(['Total time', 'measured once the workspace is trusted and the dataset is readable']);
  const t = el('table', { class: `estimate-table ${e.fits === false ? 'nofit' : ''}`, attrs: { id: 'estimate-table' } });
  for (const [k, v] of rows) t.append(el('tr', {}, el('th', { text: k }), el('td', { text: v })));
  estimateBox.append(t);
  if (e.basis) estimateBox.append(el('p', { class: 'help', text: `Memory: order-of-magnitude estimate for ${e.basis}.${e.preview?.timeBasis ? ` Time: ${e.preview.timeBasis}.` : ''}` }));
  showPreview(e);
  for (const w of e.warnings) estimateBox.append(el('p', { class: 'warning', text: w }));
}

/** The truncation preview: what the run's data preparation will leave out, counted by the run's own code. */
function showPreview(e: LaunchEstimate): void {
  const p = e.preview;
  if (!p) return;
  const box = el('div', { class: 'preview', attrs: { id: 'truncation-preview' } });
  if (p.failure) box.append(el('p', { class: 'error', text: `The run would fail: ${p.failure}` }));
  else if (p.measuring && !p.examples) box.append(el('p', { class: 'muted', text: 'Checking the data with the model\'s tokenizer…' }));
  else if (p.dataLoss.length) {
    const hints = [p.dataLoss.some((d) => / cut /.test(d)) ? 'raise Max length to keep what is cut' : '', p.dataLoss.some((d) => /skipped$/.test(d)) ? 'fix the skipped rows (each is named in the run\'s log)' : ''].filter(Boolean);
    box.append(el('p', { class: 'warning', text: `Left out of training: ${p.dataLoss.join('; ')}.` }));
    if (hints.length) box.append(el('p', { class: 'help', text: `To keep them: ${hints.join('; ')}.` }));
  } else box.append(el('p', { class: 'ok', text: 'Nothing is cut or skipped: every row fits in Max length.' }));
  if (p.examples) box.append(el('p', { class: 'help', text: `${p.examples.train} training and ${p.examples.eval} held-out examples.` }));
  estimateBox.append(box);
}

methodSel.addEventListener('change', () => {
  dropUnoffered();
  renderCard();
  renderParams();
  rewardPicker.render(currentMethod(), rewardPicker.value());
  for (const f of training) if (f.path === 'optimizer.learningRate' || f.path === 'data.maxLength') f.input.value = defaultText(f);
  changed();
});
for (const s of [modelSel, dataSel]) s.addEventListener('change', changed);
nameInput.addEventListener('input', changed);
startBtn.addEventListener('click', () => {
  startBtn.disabled = true;
  startBtn.textContent = 'Starting…';
  post(LaunchStart, { spec: formSpec() });
});
loadBtn.addEventListener('click', () => post(LaunchBrowse, { what: 'loadSpec' }));
saveBtn.addEventListener('click', () => post(LaunchBrowse, { what: 'saveSpec', spec: formSpec() }));

on(LaunchInitMsg, (init) => {
  methods = init.methods;
  defaults = init.defaults;
  device = init.defaults.device;
  methodSel.replaceChildren(...methods.map((m) => el('option', { text: `${m.title}`, attrs: { value: m.id } })));
  methodSel.value = methods.some((m) => m.id === init.defaults.method) ? init.defaults.method : methods[0]?.id ?? '';
  options(modelSel, init.models, 'builtin');
  options(dataSel, init.datasets.length ? init.datasets : [{ value: '', label: 'No dataset in the workspace: Browse…' }]);
  if (init.devices) devices = init.devices;
  rewardPicker.setSources(init.rewardSources ?? []);
  fillForm(init.spec ?? { method: methodSel.value }, init.specSource);
});
on(LaunchDevices, (d) => {
  devices = d.devices;
  renderDevices();
});
on(LaunchEstimateResult, showEstimate);
on(LaunchStartFailed, ({ problems, message }) => {
  startBtn.disabled = false;
  startBtn.textContent = 'Start Training';
  showProblems(problems, message);
});
on(LaunchPicked, ({ what, choice }) => {
  const sel = what === 'model' ? modelSel : dataSel;
  if (![...sel.options].some((o) => o.value === choice.value)) sel.append(el('option', { text: choice.detail ? `${choice.label} — ${choice.detail}` : choice.label, attrs: { value: choice.value } }));
  sel.value = choice.value;
  changed();
});
on(LaunchSetSpec, ({ spec, source: src }) => fillForm(spec, src));
post(LaunchReady, {});
