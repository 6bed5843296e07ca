// Reward-Model Evaluation panel: draws one EvaluationReport with plain SVG (no chart library): summary, per-section
// accuracy bars, the calibration (reliability) curve, chosen vs rejected reward histograms, distance matrices, and
// the perturbation-probe table, and for an inspect-rm file the records with their dense rewards. Colours come from
// CSS classes (the CSP forbids inline styles).
import { EvalError, EvalOpenSource, EvalReady, EvalShowReport, type EvalAccuracyGroup, type EvalDistanceMatrix, type EvaluationReport } from '../../src/protocol/evaluation';
import type { EvalExample } from '../../src/protocol/rewardInspection';
import { el, on, post, setState } from '../shared/host';
import { heatScale, heatSummary, renderRewardHeat } from '../shared/rewardHeat';
import { blend, parseCssColor, textOn, type Rgb } from './contrast';

const SVG_NS = 'http://www.w3.org/2000/svg';
const app = document.getElementById('app') as HTMLElement;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: (Node | null)[]): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) if (c) e.appendChild(c);
  return e;
}

function text(x: number, y: number, s: string, cls = 'label', anchor: 'start' | 'middle' | 'end' = 'start'): SVGTextElement {
  const t = svg('text', { x, y, class: cls, 'text-anchor': anchor });
  t.textContent = s;
  return t;
}

function titled<T extends SVGElement>(e: T, tip: string): T {
  const t = svg('title');
  t.textContent = tip;
  e.appendChild(t);
  return e;
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null, d = 3): string => (x === null ? 'n/a' : x.toFixed(d));

function section(title: string, id: string, ...children: (Node | null)[]): HTMLElement {
  return el('section', { class: 'eval-section', attrs: { id } }, el('h2', { text: title }), ...children);
}

function summary(r: EvaluationReport): HTMLElement {
  const item = (label: string, value: string, tip: string): HTMLElement =>
    el('div', { class: 'metric', title: tip }, el('div', { class: 'metric-value', text: value }), el('div', { class: 'metric-label', text: label }));
  return el(
    'div',
    { class: 'metrics', attrs: { id: 'summary' } },
    item(r.heldOut?.status === 'held-out' ? 'held-out pairs' : r.heldOut?.status === 'not-held-out' ? 'pairs (not held out)' : 'pairs', String(r.n), r.heldOut?.text ?? 'Pairs in the scores file that were evaluated'),
    item('accuracy (weighted)', pct(r.accuracy.overall), 'Mean of the per-section accuracies (RewardBench style)'),
    item('accuracy (all pairs)', pct(r.accuracy.micro), 'Fraction of pairs with reward(chosen) > reward(rejected)'),
    item('ECE', num(r.calibration.ece), 'Expected calibration error of sigmoid(r+ - r-), equal-width bins'),
    item('Brier', num(r.calibration.brier), 'Mean squared error of the predicted preference probability'),
    item('mean margin', num(r.accuracy.meanMargin), 'Mean of reward(chosen) - reward(rejected)'),
    r.length ? item('reward~length (Spearman)', num(r.length.spearman), `Pearson ${num(r.length.pearson)} over ${r.length.n} responses; a high value means the model mostly rewards length`) : null,
  );
}

function accuracyBars(groups: readonly EvalAccuracyGroup[], id: string): SVGSVGElement {
  const rowH = 22;
  const left = 150;
  const width = 520;
  const barW = width - left - 90;
  const h = groups.length * rowH + 24;
  const s = svg('svg', { viewBox: `0 0 ${width} ${h}`, width, class: 'chart', id, role: 'img' });
  groups.forEach((g, i) => {
    const y = i * rowH + 4;
    s.append(
      text(left - 8, y + 14, g.name, 'label', 'end'),
      svg('rect', { x: left, y, width: barW, height: rowH - 6, class: 'track' }),
      titled(svg('rect', { x: left, y, width: Math.max(0, barW * g.accuracy), height: rowH - 6, class: 'bar' }), `${g.name}: ${g.correct}/${g.n} correct, ${g.ties} ties`),
      text(left + barW + 6, y + 14, `${pct(g.accuracy)} (n=${g.n})`),
    );
  });
  // 50% reference line: a model that ignores the content is right half the time.
  const x50 = left + barW / 2;
  s.append(svg('line', { x1: x50, x2: x50, y1: 0, y2: h - 20, class: 'reference' }), text(x50, h - 6, '50%', 'axis', 'middle'));
  return s;
}

function calibrationChart(r: EvaluationReport): SVGSVGElement {
  const size = 300;
  const pad = 40;
  const inner = size - 2 * pad;
  const X = (p: number): number => pad + p * inner;
  const Y = (p: number): number => size - pad - p * inner;
  const s = svg('svg', { viewBox: `0 0 ${size} ${size}`, width: size, class: 'chart', id: 'calibration-chart', role: 'img' });
  s.append(
    svg('rect', { x: pad, y: pad, width: inner, height: inner, class: 'frame' }),
    svg('line', { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), class: 'reference' }),
    text(size / 2, size - 8, 'predicted P(chosen preferred)', 'axis', 'middle'),
    titled(svg('text', { x: 12, y: size / 2, class: 'axis', 'text-anchor': 'middle', transform: `rotate(-90 12 ${size / 2})` }, document.createTextNode('observed frequency')), 'observed frequency'),
  );
  for (const t of [0, 0.5, 1]) s.append(text(X(t), size - pad + 14, String(t), 'axis', 'middle'), text(pad - 6, Y(t) + 4, String(t), 'axis', 'end'));
  const filled = r.calibration.bins.filter((b) => b.count > 0 && b.meanPredicted !== null && b.observed !== null);
  const maxCount = Math.max(1, ...filled.map((b) => b.count));
  if (filled.length > 1) {
    s.append(svg('polyline', { points: filled.map((b) => `${X(b.meanPredicted as number)},${Y(b.observed as number)}`).join(' '), class: 'curve' }));
  }
  for (const b of filled) {
    s.append(
      titled(
        svg('circle', { cx: X(b.meanPredicted as number), cy: Y(b.observed as number), r: 2.5 + 4 * Math.sqrt(b.count / maxCount), class: 'point' }),
        `bin [${b.lower.toFixed(2)}, ${b.upper.toFixed(2)}): ${b.count} predictions, mean ${num(b.meanPredicted)}, observed ${num(b.observed)}`,
      ),
    );
  }
  return s;
}

function histogramChart(r: EvaluationReport): SVGSVGElement {
  const width = 520;
  const height = 220;
  const pad = 34;
  const { edges, chosen, rejected } = r.histogram;
  const bins = chosen.length;
  const maxC = Math.max(1, ...chosen, ...rejected);
  const bw = (width - 2 * pad) / Math.max(1, bins);
  const H = (c: number): number => ((height - 2 * pad) * c) / maxC;
  const s = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, class: 'chart', id: 'histogram-chart', role: 'img' });
  s.append(svg('line', { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, class: 'frame' }));
  for (let b = 0; b < bins; b++) {
    const x = pad + b * bw;
    const range = `[${edges[b].toFixed(2)}, ${edges[b + 1].toFixed(2)})`;
    s.append(
      titled(svg('rect', { x: x + 1, y: height - pad - H(chosen[b]), width: bw / 2 - 1, height: H(chosen[b]), class: 'chosen' }), `chosen ${range}: ${chosen[b]}`),
      titled(svg('rect', { x: x + bw / 2, y: height - pad - H(rejected[b]), width: bw / 2 - 1, height: H(rejected[b]), class: 'rejected' }), `rejected ${range}: ${rejected[b]}`),
    );
  }
  if (edges.length) {
    s.append(text(pad, height - pad + 14, edges[0].toFixed(2), 'axis', 'start'), text(width - pad, height - pad + 14, edges[edges.length - 1].toFixed(2), 'axis', 'end'));
  }
  s.append(text(width / 2, height - 6, 'reward', 'axis', 'middle'));
  s.append(svg('rect', { x: width - 150, y: 6, width: 10, height: 10, class: 'chosen' }), text(width - 136, 15, 'chosen'));
  s.append(svg('rect', { x: width - 80, y: 6, width: 10, height: 10, class: 'rejected' }), text(width - 66, 15, 'rejected'));
  return s;
}

/**
 * The theme's heat colour and the page background, as the cells blend them; undefined when the theme gives a form
 * that cannot be parsed (the cell text then keeps the theme's foreground colour).
 */
function heatColours(): { heat: Rgb; background: Rgb } | undefined {
  const css = getComputedStyle(document.documentElement);
  const heat = parseCssColor(css.getPropertyValue('--vscode-charts-purple'));
  const body = getComputedStyle(document.body).backgroundColor;
  const background = (/^rgba\(.*,\s*0\s*\)$/.test(body) || body === 'transparent' ? undefined : parseCssColor(body)) ?? parseCssColor(css.getPropertyValue('--vscode-editor-background'));
  return heat && background ? { heat, background } : undefined;
}

function distanceMatrix(m: EvalDistanceMatrix, i: number): SVGSVGElement {
  const colours = heatColours();
  const cell = 54;
  const left = 130;
  const n = m.names.length;
  // Column names are drawn slanted above the cells, so long names do not run into each other.
  const top = 16 + Math.min(110, 6 * Math.max(4, ...m.names.map((x) => x.length)));
  const w = left + n * cell + 90;
  const s = svg('svg', { viewBox: `0 0 ${w} ${top + n * cell + 10}`, width: w, class: 'chart', id: `distance-matrix-${i}`, role: 'img' });
  m.names.forEach((name, c) => {
    const x = left + c * cell + cell / 2;
    s.append(svg('text', { x, y: top - 8, class: 'axis', 'text-anchor': 'start', transform: `rotate(-40 ${x} ${top - 8})` }, document.createTextNode(name)));
  });
  m.values.forEach((row, a) => {
    s.append(text(left - 6, top + a * cell + cell / 2 + 4, m.names[a], 'label', 'end'));
    row.forEach((d, b) => {
      // Opacity encodes the distance; all distances shown here lie in [0, 1] except EPIC-like (clamped).
      const op = Math.max(0.05, Math.min(1, d));
      s.append(
        titled(svg('rect', { x: left + b * cell, y: top + a * cell, width: cell - 2, height: cell - 2, class: 'heat', 'fill-opacity': op.toFixed(3) }), `${m.metric}(${m.names[a]}, ${m.names[b]}) = ${d.toFixed(4)}`),
        // The value in dark text on a light cell and light text on a dark one (by the blended cell's luminance).
        text(left + b * cell + cell / 2, top + a * cell + cell / 2 + 4, d.toFixed(2), colours ? `cell on-${textOn(blend(colours.heat, colours.background, op)) === 'dark' ? 'light' : 'dark'}` : 'cell', 'middle'),
      );
    });
  });
  return s;
}

function probeTable(r: EvaluationReport): HTMLElement {
  const head = el('tr', {}, ...['probe', 'n', 'mean change', 'mean |change|', 'changed', 'ranking flips'].map((h) => el('th', { text: h })));
  const rows = r.probes.map((p) =>
    el('tr', {}, el('td', { text: p.name }), el('td', { text: String(p.n) }), el('td', { text: num(p.meanDelta) }), el('td', { text: num(p.meanAbsDelta) }), el('td', { text: pct(p.changedFraction) }), el('td', { text: pct(p.flipRate) })),
  );
  return el('table', { class: 'probes', attrs: { id: 'probe-table' } }, el('thead', {}, head), el('tbody', {}, ...rows));
}

/** The example view of an inspect-rm file: each record's chosen and rejected with their words tinted by dense reward. */
function examples(list: readonly EvalExample[]): HTMLElement {
  const rows = list.map((x) => {
    const scale = heatScale([x.chosen, x.rejected]);
    const side = (name: string, v: EvalExample['chosen']): HTMLElement => el('div', { class: 'example-side' }, el('h3', { text: name }), heatSummary(v), renderRewardHeat(v, scale));
    const head = el('div', { class: `example-head${x.margin <= 0 ? ' misranked' : ''}`, text: `line ${x.line} · margin ${num(x.margin)}${x.margin <= 0 ? ' · ranked wrong' : ''}` });
    return el('div', { class: 'example', attrs: { 'data-record': x.recordId } }, head, el('div', { class: 'example-pair' }, side('chosen', x.chosen), side('rejected', x.rejected)));
  });
  return section(
    'Examples: where the reward model gives and takes reward',
    'examples',
    el('p', { class: 'note', text: 'Each word is tinted by its dense reward, the change of the score of the response so far (green gives, red takes). Worst-ranked pairs first.' }),
    ...rows,
  );
}

function render(r: EvaluationReport): void {
  const open = r.source ? el('a', { text: r.source, title: 'Open the scores file', attrs: { href: '#', id: 'open-source' } }) : null;
  open?.addEventListener('click', (e) => {
    e.preventDefault();
    post(EvalOpenSource, {});
  });
  const parts: (Node | null)[] = [
    el('header', { class: 'eval-header' }, el('h1', { text: r.title }), open),
    summary(r),
    r.heldOut ? el('p', { class: `held-out ${r.heldOut.status}`, attrs: { id: 'held-out' }, text: r.heldOut.text }) : null,
    r.n === 0 ? el('p', { class: 'empty', text: 'The scores file has no usable pairs.' }) : null,
    r.accuracy.sections.length ? section('Accuracy per section', 'sections', accuracyBars(r.accuracy.sections, 'section-chart')) : null,
    r.accuracy.tags.length ? section('Accuracy per tag', 'tags', accuracyBars(r.accuracy.tags, 'tag-chart')) : null,
    el(
      'div',
      { class: 'row' },
      r.n ? section('Calibration of sigmoid(r+ - r-)', 'calibration', calibrationChart(r), el('p', { class: 'note', text: `ECE ${num(r.calibration.ece)}, MCE ${num(r.calibration.mce)}. Each pair counts in both orders, so the curve is symmetric; points above the diagonal mean under-confidence.` })) : null,
      r.n ? section('Rewards of chosen vs rejected', 'histograms', histogramChart(r)) : null,
    ),
    ...r.distances.map((m, i) => section(`${m.metric} distances between reward functions`, `distances-${i}`, distanceMatrix(m, i))),
    r.probes.length ? section('Perturbation probes', 'probes', probeTable(r)) : null,
    r.examples?.length ? examples(r.examples) : null,
    r.skipped.length
      ? el('details', { class: 'skipped', attrs: { id: 'skipped' } }, el('summary', { text: `${r.skipped.length} ${r.skipped.length === 1 ? 'row' : 'rows'} of the scores file skipped` }), el('pre', { text: r.skipped.join('\n') }))
      : null,
  ];
  app.replaceChildren(...parts.filter((x): x is Node => x !== null));
  setState({ source: r.source });
}

let shown: EvaluationReport | undefined;
on(EvalShowReport, (r) => {
  shown = r;
  render(r);
});
// A theme change changes the cell colours: draw again so the cell text follows.
const redraw = new MutationObserver(() => {
  if (shown) render(shown);
});
redraw.observe(document.body, { attributes: true, attributeFilter: ['class'] });
redraw.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
on(EvalError, ({ message }) => app.replaceChildren(el('p', { class: 'error', text: message, attrs: { id: 'eval-error' } })));
app.append(el('p', { class: 'status', text: 'Loading the evaluation...' }));
post(EvalReady, {});
