// Run dashboard: live plots of every logged metric (grouped, several runs overlaid, smoothing, log scale, step or
// time on x, values on hover), the sample generations per checkpoint beside the reference model's, and a
// hyperparameter diff. Plots are uPlot canvases, bundled (nothing is loaded from a CDN).
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';
import {
  DashboardAction,
  DashboardError,
  DashboardReady,
  DashboardRuns,
  DashboardSamples,
  DashboardSelect,
  DashboardSeries,
  type DashboardRunInfo,
  type SampleSet,
} from '../../src/protocol/dashboard';
import { el, on, post, setState } from '../shared/host';
import { appendPoints, chartKey, decimateSeries, emptySeries, GROUPS, groupOf, smoothed, type Series } from './series';

const app = document.getElementById('app') as HTMLElement;
const nonce = app.dataset.nonce ?? '';
{
  const style = document.createElement('style');
  style.nonce = nonce;
  style.textContent = uplotCss;
  document.head.appendChild(style);
}

// ---- state
let runs: DashboardRunInfo[] = [];
let selected: string[] = [];
const data = new Map<string, Map<string, Series>>();
const samples = new Map<string, SampleSet[]>();
const settings = { smoothing: 0.6, log: false, x: 'step' as 'step' | 'time', tab: 'metrics' as 'metrics' | 'samples' | 'settings', onlyDiff: true };
/** Timing of the latest redraw (read by the benchmark and the UI test). */
const stats = { lastUpdateMs: 0, updates: 0, points: 0, drawMs: 0 };
(window as unknown as { __dashboardStats: typeof stats }).__dashboardStats = stats;

const PALETTE = ['#4e9bf5', '#f0a23b', '#5cc46a', '#e4596a', '#b07ee6', '#3fc2c9', '#d9c54a', '#e07fb8'];
const color = (i: number): string => PALETTE[i % PALETTE.length];

// ---- layout
const header = el('header', { class: 'dash-header' });
const controls = el('div', { class: 'dash-controls' });
const tabs = el('nav', { class: 'dash-tabs' });
const errorBox = el('div', { class: 'dash-error', attrs: { id: 'dash-error' } });
const metricsPane = el('main', { class: 'pane-metrics', attrs: { id: 'pane-metrics' } });
const samplesPane = el('main', { class: 'pane-samples', attrs: { id: 'pane-samples' } });
const settingsPane = el('main', { class: 'pane-settings', attrs: { id: 'pane-settings' } });
app.append(header, controls, tabs, errorBox, metricsPane, samplesPane, settingsPane);

function button(id: string, text: string, onClick: () => void, cls = 'btn'): HTMLButtonElement {
  const b = el('button', { class: cls, text, attrs: { id, type: 'button' } });
  b.addEventListener('click', onClick);
  return b;
}

// Controls: smoothing, log scale, x axis, run overlay picker.
const smoothInput = el('input', { attrs: { id: 'smoothing', type: 'range', min: '0', max: '0.99', step: '0.01', value: String(settings.smoothing), 'aria-label': 'Smoothing' } });
const smoothValue = el('span', { class: 'value', text: settings.smoothing.toFixed(2), attrs: { id: 'smoothing-value' } });
smoothInput.addEventListener('input', () => {
  settings.smoothing = Number(smoothInput.value);
  smoothValue.textContent = settings.smoothing.toFixed(2);
  rebuildCharts();
});
const logInput = el('input', { attrs: { id: 'log-scale', type: 'checkbox' } });
logInput.addEventListener('change', () => {
  settings.log = logInput.checked;
  rebuildCharts();
});
const xSelect = el('select', { attrs: { id: 'x-axis', 'aria-label': 'x axis' } }, el('option', { text: 'Step', attrs: { value: 'step' } }), el('option', { text: 'Time', attrs: { value: 'time' } }));
xSelect.addEventListener('change', () => {
  settings.x = xSelect.value === 'time' ? 'time' : 'step';
  rebuildCharts();
});
const runPicker = el('details', { class: 'run-picker', attrs: { id: 'run-picker' } }, el('summary', { text: 'Runs shown' }));
const runList = el('div', { class: 'run-list' });
runPicker.append(runList);
controls.append(
  el('label', { class: 'ctl' }, el('span', { text: 'Smoothing' }), smoothInput, smoothValue),
  el('label', { class: 'ctl' }, logInput, el('span', { text: 'Log scale' })),
  el('label', { class: 'ctl' }, el('span', { text: 'X axis' }), xSelect),
  runPicker,
);

const tabButtons = {
  metrics: button('tab-metrics', 'Metrics', () => showTab('metrics'), 'tab'),
  samples: button('tab-samples', 'Samples', () => showTab('samples'), 'tab'),
  settings: button('tab-settings', 'Hyperparameters', () => showTab('settings'), 'tab'),
};
tabs.append(tabButtons.metrics, tabButtons.samples, tabButtons.settings);

function showTab(t: typeof settings.tab): void {
  settings.tab = t;
  for (const [k, b] of Object.entries(tabButtons)) b.classList.toggle('active', k === t);
  metricsPane.hidden = t !== 'metrics';
  samplesPane.hidden = t !== 'samples';
  settingsPane.hidden = t !== 'settings';
  if (t === 'metrics') scheduleDraw(true);
  if (t === 'samples') renderSamples();
  if (t === 'settings') renderSettings();
}

// ---- header: the primary run's state and actions
function renderHeader(): void {
  const primary = runs.find((r) => r.id === selected[0]);
  header.replaceChildren();
  if (!primary) {
    header.append(el('h1', { text: 'Run Dashboard' }), el('p', { class: 'empty', text: 'No run selected: pick runs under "Runs shown".' }));
    errorBox.replaceChildren();
    return;
  }
  const pct = primary.totalSteps > 0 ? Math.min(100, (100 * primary.step) / primary.totalSteps) : 0;
  const bar = el('div', { class: 'progress', attrs: { role: 'progressbar', 'aria-valuenow': String(Math.round(pct)) } }, el('div', { class: 'progress-fill' }));
  (bar.firstChild as HTMLElement).style.width = `${pct}%`;
  const eta = primary.etaSeconds !== undefined ? ` · ETA ${formatDuration(primary.etaSeconds)}` : '';
  const actions = el('div', { class: 'actions' });
  if (primary.canStop) actions.append(button('action-stop', 'Stop', () => post(DashboardAction, { action: 'stop', runId: primary.id })));
  if (primary.canResume) actions.append(button('action-resume', 'Resume', () => post(DashboardAction, { action: 'resume', runId: primary.id })));
  if (primary.canClone) actions.append(button('action-clone', 'Clone and Edit', () => post(DashboardAction, { action: 'clone', runId: primary.id }), 'btn secondary'));
  header.append(
    el('div', { class: 'title-row' },
      el('h1', { text: primary.label, title: primary.id }),
      el('span', { class: `phase phase-${primary.phase}`, text: primary.phase, attrs: { id: 'run-phase' } }),
      el('span', { class: 'method', text: primary.method }),
      actions),
    el('div', { class: 'progress-row' }, bar, el('span', { class: 'progress-text', attrs: { id: 'run-progress' }, text: `${primary.totalSteps ? `step ${primary.step} / ${primary.totalSteps}` : `step ${primary.step}`}${eta}${primary.detail ? ` · ${primary.detail}` : ''}` })),
  );
  errorBox.replaceChildren();
  renderNotices(primary);
  if (primary.errorText) errorBox.append(el('h3', { text: 'Error' }), el('pre', { class: 'error', text: primary.errorText }));
}

/**
 * Above the plots: a "diverged?" banner with the step and what was seen (and Stop while the run trains), and the
 * warnings strip: what data preparation left out, then the session's other warnings behind a toggle.
 */
function renderNotices(r: DashboardRunInfo): void {
  if (r.diverged) {
    const banner = el('div', { class: 'diverged-banner', attrs: { id: 'diverged-banner', role: 'alert' } },
      el('strong', { text: `Diverged? at step ${r.diverged.step}` }),
      el('span', { text: ` ${r.diverged.message}. The model may be ruined: lower the learning rate or turn on gradient clipping.` }));
    if (r.canStop) banner.append(button('diverged-stop', 'Stop Run', () => post(DashboardAction, { action: 'stop', runId: r.id })));
    errorBox.append(banner);
  }
  const loss = r.dataLoss ?? [];
  const others = r.warnings ?? [];
  if (!loss.length && !others.length) return;
  const strip = el('div', { class: 'warnings-strip', attrs: { id: 'warnings-strip', role: 'status' } });
  if (loss.length) strip.append(el('span', { class: 'data-loss', attrs: { id: 'data-loss' }, text: `Data left out: ${loss.join(' · ')}` }));
  if (others.length) {
    const list = el('details', { class: 'warning-list' }, el('summary', { text: `${others.length} warning${others.length === 1 ? '' : 's'}` }));
    list.append(el('ul', {}, ...others.map((w) => el('li', { text: w }))));
    strip.append(list);
  }
  errorBox.append(strip);
}

function renderRunPicker(): void {
  runList.replaceChildren();
  for (const r of runs) {
    const cb = el('input', { attrs: { type: 'checkbox', 'data-run': r.id } });
    cb.checked = selected.includes(r.id);
    cb.addEventListener('change', () => {
      const next = cb.checked ? [...selected, r.id] : selected.filter((x) => x !== r.id);
      post(DashboardSelect, { runIds: next });
    });
    const i = selected.indexOf(r.id);
    const swatch = el('span', { class: 'swatch' });
    if (i >= 0) swatch.style.background = color(i);
    runList.append(el('label', { class: 'run-option' }, cb, swatch, el('span', { text: r.label }), el('span', { class: 'muted', text: ` ${r.method} · ${r.phase}` })));
  }
  (runPicker.querySelector('summary') as HTMLElement).textContent = `Runs shown (${selected.length})`;
}

function formatDuration(seconds: number): string {
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  return h ? `${h}h ${String(m).padStart(2, '0')}m` : m ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`;
}

// ---- charts
interface Chart {
  key: string;
  box: HTMLElement;
  /** Width of the box, measured by the ResizeObserver (reading it while drawing would force a layout per chart). */
  width: number;
  plot?: uPlot;
  /** Signature of the series layout: the plot is rebuilt when it changes. */
  layout: string;
}
const charts = new Map<string, Chart>();
const groupBoxes = new Map<string, HTMLElement>();
let drawQueued = false;
let drawStart = 0;

function scheduleDraw(fromMessage = false): void {
  if (fromMessage && !drawQueued) drawStart = performance.now();
  if (drawQueued) return;
  drawQueued = true;
  if (!drawStart) drawStart = performance.now();
  requestAnimationFrame(() => {
    drawQueued = false;
    const t = performance.now();
    drawAll();
    stats.drawMs = performance.now() - t;
    // uPlot commits its drawing in a microtask; measure after it.
    queueMicrotask(() => {
      stats.lastUpdateMs = performance.now() - drawStart;
      stats.updates++;
      drawStart = 0;
    });
  });
}

function rebuildCharts(): void {
  for (const c of charts.values()) c.layout = '';
  scheduleDraw(true);
}

/** Every metric name logged by the shown runs. */
function allMetrics(): Set<string> {
  const out = new Set<string>();
  for (const id of selected) for (const k of data.get(id)?.keys() ?? []) out.add(k);
  return out;
}

function drawAll(): void {
  if (settings.tab !== 'metrics') return;
  const metrics = allMetrics();
  const byChart = new Map<string, string[]>();
  for (const m of metrics) {
    const k = chartKey(m, metrics);
    const list = byChart.get(k) ?? [];
    list.push(m);
    byChart.set(k, list);
  }
  // Remove charts of metrics no longer shown.
  for (const [k, c] of charts) {
    if (!byChart.has(k)) {
      c.plot?.destroy();
      c.box.remove();
      charts.delete(k);
    }
  }
  if (!byChart.size) {
    metricsPane.replaceChildren(el('p', { class: 'empty', attrs: { id: 'no-metrics' }, text: selected.length ? 'No metrics logged yet: they appear here as the run logs them.' : 'No run selected.' }));
    groupBoxes.clear();
    return;
  }
  metricsPane.querySelector('#no-metrics')?.remove();
  let points = 0;
  let prevGroup: Element | null = null;
  for (const g of GROUPS) {
    const keys = [...byChart.keys()].filter((k) => groupOf(k) === g.id).sort(metricOrder);
    let box = groupBoxes.get(g.id);
    if (!keys.length) {
      box?.remove();
      groupBoxes.delete(g.id);
      continue;
    }
    if (!box || !box.isConnected) {
      box = el('section', { class: 'group', attrs: { 'data-group': g.id } }, el('h2', { text: g.title }), el('div', { class: 'charts' }));
      groupBoxes.set(g.id, box);
    }
    // Keep groups in GROUPS order, moving nodes only when needed (moving canvases is costly).
    if (box.parentElement !== metricsPane || box.previousElementSibling !== prevGroup) metricsPane.insertBefore(box, prevGroup ? prevGroup.nextElementSibling : metricsPane.firstElementChild);
    prevGroup = box;
    const grid = box.querySelector('.charts') as HTMLElement;
    let prev: Element | null = null;
    for (const k of keys) {
      let c = charts.get(k);
      if (!c) {
        c = { key: k, box: el('div', { class: 'chart', attrs: { 'data-metric': k } }), layout: '', width: 0 };
        charts.set(k, c);
        chartResize.observe(c.box);
      }
      if (c.box.parentElement !== grid || c.box.previousElementSibling !== prev) grid.insertBefore(c.box, prev ? prev.nextElementSibling : grid.firstElementChild);
      prev = c.box;
      points += drawChart(c, (byChart.get(k) ?? []).sort());
    }
  }
  stats.points = points;
}

const ORDER = ['loss', 'rewards/margins', 'rewards/accuracies', 'rewards/chosen', 'rewards/rejected'];
function metricOrder(a: string, b: string): number {
  const ia = ORDER.indexOf(a);
  const ib = ORDER.indexOf(b);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
}

/** Draws one chart; returns the number of logged points it covers. */
function drawChart(c: Chart, metrics: string[]): number {
  const width = Math.max(240, Math.floor((c.width || 380) - 10));
  // Points kept per series: about two per pixel column (min and max). The benchmark sets
  // window.__dashboardBuckets = Infinity to time drawing every point, as its baseline.
  const buckets = (window as unknown as { __dashboardBuckets?: number }).__dashboardBuckets ?? Math.max(100, width);
  // A run with a person logs its human/* metrics once per round: a moving average across rounds would plot values
  // no round had (a smoothed human/round of 1.6), so they are drawn as logged.
  const w = groupOf(c.key) === 'human' ? 0 : settings.smoothing;
  const tables: uPlot.AlignedData[] = [];
  const seriesOpts: uPlot.Series[] = [{ label: settings.x === 'step' ? 'step' : 'time (s)' }];
  let covered = 0;
  let allPositive = true;
  selected.forEach((runId, ri) => {
    const runData = data.get(runId);
    if (!runData) return;
    const t0 = runStart(runData);
    const label = runs.find((r) => r.id === runId)?.label ?? runId;
    for (const m of metrics) {
      const s = runData.get(m);
      if (!s || !s.step.length) continue;
      covered += s.step.length;
      const x = settings.x === 'step' ? s.step : s.time.map((t) => (t - t0) / 1000);
      const ys = w > 0 ? [smoothed(s, w), s.value] : [s.value];
      const d = decimateSeries(s, `${settings.x}|${w}|${t0}`, x, ys, buckets);
      for (const y of d.ys[0]) if (y !== null && y <= 0) allPositive = false;
      tables.push([d.x, ...d.ys] as uPlot.AlignedData);
      const isEval = m.startsWith('eval_') && m !== c.key;
      const name = `${selected.length > 1 ? `${label} ` : ''}${isEval ? 'eval' : m === c.key ? 'train' : m}`;
      seriesOpts.push({ label: name, stroke: color(ri), width: 1.5, dash: isEval ? [6, 4] : undefined, spanGaps: false, points: { show: isEval } , value: fmtValue });
      if (w > 0) seriesOpts.push({ label: `${name} (raw)`, stroke: color(ri) + '44', width: 1, dash: isEval ? [6, 4] : undefined, points: { show: false }, value: fmtValue });
    }
  });
  if (!tables.length) return 0;
  const joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
  const useLog = settings.log && allPositive;
  const layout = `${seriesOpts.map((s) => `${s.label}|${String(s.stroke)}`).join(',')}|${useLog}|${settings.x}|${width}`;
  if (c.plot && c.layout === layout) {
    c.plot.setData(joined);
  } else {
    c.plot?.destroy();
    c.box.replaceChildren();
    c.layout = layout;
    const fg = getComputedStyle(document.body).getPropertyValue('--vscode-foreground').trim() || '#ccc';
    const grid = getComputedStyle(document.body).getPropertyValue('--vscode-editorWidget-border').trim() || '#8884';
    const axis: uPlot.Axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    c.plot = new uPlot(
      {
        title: settings.log && !allPositive ? `${c.key} (linear: has values ≤ 0)` : c.key,
        width,
        height: 200,
        scales: { x: { time: false }, y: useLog ? { distr: 3 } : { range: flatRange } },
        // Steps are whole numbers: ticks at 1, 2, 5 x 10^k steps, never at 2.5.
        axes: [settings.x === 'step' ? { ...axis, incrs: STEP_INCRS } : { ...axis }, { ...axis, size: yAxisSize, values: (_u, vals) => vals.map(fmtTick) }],
        series: seriesOpts,
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      joined,
      c.box,
    );
  }
  c.box.dataset.points = String(covered);
  return covered;
}

/** A y tick: like fmtValue, with the exponent form's mantissa trimmed (-2e-4, not -2.00e-4). */
function fmtTick(v: number | null): string {
  const t = fmtValue(undefined as unknown as uPlot, v);
  const m = /^(-?[\d.]+)e([+-]\d+)$/.exec(t);
  return m ? `${Number(m[1])}e${m[2]}` : t;
}

/** Width of the y axis for its longest tick label, so a minus sign is never clipped off. */
let charPx = 0;
function yAxisSize(_u: uPlot, values: string[] | null): number {
  const longest = (values ?? []).reduce((n, v) => Math.max(n, String(v).length), 0);
  // Read once: a style lookup on every redraw of every chart would cost more than the drawing.
  charPx ||= (parseFloat(getComputedStyle(document.body).fontSize) || 12) * 0.62;
  return Math.max(40, Math.ceil(longest * charPx) + 18);
}

const STEP_INCRS = Array.from({ length: 8 }, (_, k) => [1, 2, 5].map((m) => m * 10 ** k)).flat();

/** y range: uPlot's padded auto range, except that a flat series gets a small band around its value (not 0..100). */
function flatRange(_u: uPlot, min: number, max: number): uPlot.Range.MinMax {
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 0.1;
    return [min - pad, max + pad];
  }
  return uPlot.rangeNum(min, max, 0.1, true);
}

function fmtValue(_u: uPlot, v: number | null): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function runStart(runData: Map<string, Series>): number {
  let t0 = Infinity;
  for (const s of runData.values()) if (s.time.length && s.time[0] < t0) t0 = s.time[0];
  return Number.isFinite(t0) ? t0 : 0;
}

const chartResize = new ResizeObserver((entries) => {
  let changed = false;
  for (const e of entries) {
    const c = charts.get((e.target as HTMLElement).dataset.metric ?? '');
    const w = Math.floor(e.contentRect.width);
    if (c && Math.abs(w - c.width) > 4) {
      c.width = w;
      c.layout = '';
      changed = true;
    }
  }
  if (changed) scheduleDraw();
});

// ---- samples tab
let sampleStep: number | undefined;
function renderSamples(): void {
  const runId = selected[0];
  const sets = (runId && samples.get(runId)) || [];
  samplesPane.replaceChildren();
  if (!sets.length) {
    samplesPane.append(el('p', { class: 'empty', attrs: { id: 'no-samples' }, text: 'No samples yet: the session generates them every intervals.sample steps (and at the end).' }));
    return;
  }
  const steps = [...new Set(sets.map((s) => s.step))];
  if (sampleStep === undefined || !steps.includes(sampleStep)) sampleStep = steps[steps.length - 1];
  const pick = el('select', { attrs: { id: 'sample-step', 'aria-label': 'Checkpoint step' } });
  for (const st of steps) {
    const o = el('option', { text: `step ${st}`, attrs: { value: String(st) } });
    if (st === sampleStep) o.selected = true;
    pick.append(o);
  }
  pick.addEventListener('change', () => {
    sampleStep = Number(pick.value);
    renderSamples();
  });
  samplesPane.append(el('div', { class: 'ctl-row' }, el('label', { class: 'ctl' }, el('span', { text: 'Checkpoint' }), pick)));
  const set = [...sets].reverse().find((s) => s.step === sampleStep) as SampleSet;
  const info = runs.find((r) => r.id === runId);
  // The untrained built-in model (not the built-in chat model, which is trained on dialogues) writes noise.
  if (info?.settings['model.kind'] === 'builtin' && info.settings['model.name'] !== 'chat') {
    samplesPane.append(el('p', { class: 'note', attrs: { id: 'samples-note' }, text: 'The built-in tiny model starts from random weights: until it has been trained for a long while (SFT first), its replies are repeated characters. Pick a trained model folder as the base model to see meaningful samples.' }));
  }
  const table = el('table', { class: 'samples', attrs: { id: 'samples-table' } });
  // What the numbers under each reply are (older runs' events carry no scores and no label).
  if (set.scoreLabel) table.append(el('caption', { attrs: { id: 'samples-score-kind' }, text: `score: ${set.scoreLabel}, of each reply given its prompt (higher is better by the run's objective)` }));
  table.append(el('thead', {}, el('tr', {}, el('th', { text: 'Prompt' }), el('th', { text: `Policy (step ${set.step})` }), el('th', { text: 'Reference model' }))));
  const body = el('tbody');
  for (const s of set.samples) {
    const score = (x: number | undefined) => (x === undefined ? null : el('div', { class: 'score', text: `score ${fmtValue(undefined as unknown as uPlot, x)}` }));
    const better = s.scores?.policy !== undefined && s.scores.reference !== undefined ? (s.scores.policy > s.scores.reference ? 'policy' : s.scores.policy < s.scores.reference ? 'reference' : '') : '';
    body.append(el('tr', {},
      el('td', {}, sampleText(s.prompt)),
      el('td', { class: better === 'policy' ? 'better' : '' }, sampleText(s.policy), score(s.scores?.policy)),
      el('td', { class: better === 'reference' ? 'better' : '' }, s.reference !== undefined ? sampleText(s.reference) : el('span', { class: 'empty', text: 'no reference model (reference-free method)' }), score(s.scores?.reference)),
    ));
  }
  table.append(body);
  samplesPane.append(table);
}

/**
 * A prompt or generation as text (set as textContent, never as HTML). Text that would show as nothing (empty, or
 * only whitespace such as a run of newlines) says so, and control characters are shown as their escapes.
 */
function sampleText(text: string): HTMLElement {
  if (!text.trim()) {
    const what = !text ? 'empty: the model ended its reply at once' : `only whitespace: ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)}`;
    return el('span', { class: 'empty', text: `(${what})` });
  }
  // eslint-disable-next-line no-control-regex
  const shown = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return el('pre', { text: shown });
}

// ---- hyperparameter diff
function renderSettings(): void {
  settingsPane.replaceChildren();
  const shown = selected.map((id) => runs.find((r) => r.id === id)).filter((r): r is DashboardRunInfo => !!r);
  if (!shown.length) {
    settingsPane.append(el('p', { class: 'empty', text: 'No run selected.' }));
    return;
  }
  const only = el('input', { attrs: { id: 'only-diff', type: 'checkbox' } });
  only.checked = settings.onlyDiff && shown.length > 1;
  only.disabled = shown.length < 2;
  only.addEventListener('change', () => {
    settings.onlyDiff = only.checked;
    renderSettings();
  });
  settingsPane.append(el('label', { class: 'ctl' }, only, el('span', { text: shown.length > 1 ? 'Only settings that differ' : 'Select two or more runs under "Runs shown" to compare them' })));
  const keys = [...new Set(shown.flatMap((r) => Object.keys(r.settings)))].sort();
  const table = el('table', { class: 'settings', attrs: { id: 'settings-table' } });
  table.append(el('thead', {}, el('tr', {}, el('th', { text: 'Setting' }), ...shown.map((r, i) => {
    const th = el('th', { text: r.label, title: r.id });
    th.style.borderBottomColor = color(i);
    return th;
  }))));
  const body = el('tbody');
  let rows = 0;
  for (const k of keys) {
    const vals = shown.map((r) => (k in r.settings ? String(r.settings[k]) : '—'));
    const differs = new Set(vals).size > 1;
    if (only.checked && !differs) continue;
    rows++;
    body.append(el('tr', { class: differs ? 'differs' : '' }, el('td', { class: 'key', text: k }), ...vals.map((v) => el('td', { text: v }))));
  }
  if (!rows) body.append(el('tr', {}, el('td', { class: 'empty', text: 'The selected runs have the same settings.', attrs: { colspan: String(shown.length + 1) } })));
  table.append(body);
  settingsPane.append(table);
}

// ---- messages
on(DashboardRuns, (p) => {
  runs = p.runs;
  const changedSelection = p.selected.join('\n') !== selected.join('\n');
  selected = p.selected;
  for (const id of [...data.keys()]) if (!selected.includes(id)) data.delete(id);
  setState({ selected });
  renderHeader();
  renderRunPicker();
  if (changedSelection) rebuildCharts();
  if (settings.tab === 'settings') renderSettings();
  if (settings.tab === 'samples' && changedSelection) renderSamples();
});

on(DashboardSeries, (p) => {
  const t = performance.now();
  if (!drawQueued) drawStart = t;
  let runData = data.get(p.runId);
  if (!runData || p.reset) {
    runData = new Map();
    data.set(p.runId, runData);
  }
  for (const [m, pts] of Object.entries(p.series)) {
    let s = runData.get(m);
    if (!s) runData.set(m, (s = emptySeries()));
    appendPoints(s, pts.step, pts.time, pts.value);
  }
  scheduleDraw(true);
});

on(DashboardSamples, (p) => {
  const list = p.reset ? [] : samples.get(p.runId) ?? [];
  list.push(...p.sets);
  samples.set(p.runId, list);
  if (settings.tab === 'samples' && p.runId === selected[0]) renderSamples();
  tabButtons.samples.textContent = `Samples${(samples.get(selected[0] ?? '') ?? []).length ? ` (${new Set((samples.get(selected[0] ?? '') ?? []).map((s) => s.step)).size})` : ''}`;
});

on(DashboardError, ({ message }) => {
  errorBox.replaceChildren(el('pre', { class: 'error', text: message }));
});

showTab('metrics');
renderHeader();
post(DashboardReady, {});
