/**
 * The demo's HTML report: one self-contained file (inline CSS and SVG, no scripts, no network) with the headline
 * numbers, the curves of every stage read from their events, the DPO trajectory of proxy reward / win rate / KL,
 * the online stages' rollout rewards, and sample replies side by side.
 */
import * as fs from 'node:fs';
import type { SessionEvent } from '../protocol/session';
import type { DemoReport } from './demo';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

/** A line chart as an SVG string (axes with min/max labels, one polyline per series, a legend). */
export function lineChart(title: string, series: readonly Series[], xLabel = 'step'): string {
  const W = 420;
  const H = 220;
  const m = { l: 52, r: 12, t: 28, b: 36 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return `<figure><svg width="${W}" height="${H}" role="img"><text x="10" y="20">${esc(title)}: no data</text></svg></figure>`;
  const x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const lines = series
    .map((s) => {
      const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      const dots = p.length <= 12 ? p.map((q) => `<circle cx="${q.split(',')[0]}" cy="${q.split(',')[1]}" r="3" fill="${s.color}"/>`).join('') : '';
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${p.join(' ')}"/>${dots}`;
    })
    .join('');
  const legend = series.map((s, i) => `<text x="${m.l + 8 + i * 130}" y="${m.t - 8}" fill="${s.color}" font-size="11">■ ${esc(s.name)}</text>`).join('');
  const zero = y0 < 0 && y1 > 0 ? `<line x1="${m.l}" x2="${W - m.r}" y1="${sy(0)}" y2="${sy(0)}" stroke="#bbb" stroke-dasharray="3,3"/>` : '';
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">
<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="#fafafa" stroke="#ddd"/>${zero}${lines}${legend}
<text x="${m.l - 4}" y="${sy(y1) + 4}" font-size="10" text-anchor="end">${fmt(y1, 2)}</text>
<text x="${m.l - 4}" y="${sy(y0)}" font-size="10" text-anchor="end">${fmt(y0, 2)}</text>
<text x="${m.l}" y="${H - m.b + 14}" font-size="10">${fmt(x0, 0)}</text>
<text x="${W - m.r}" y="${H - m.b + 14}" font-size="10" text-anchor="end">${fmt(x1, 0)}</text>
<text x="${(W + m.l) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${esc(xLabel)}</text></svg></figure>`;
}

/** A bar chart (one bar per label). */
export function barChart(title: string, bars: readonly { label: string; value: number }[]): string {
  const W = 420;
  const H = 220;
  const m = { l: 52, r: 12, t: 28, b: 36 };
  const vals = bars.map((b) => b.value);
  const lo = Math.min(0, ...vals);
  const hi = Math.max(0, ...vals) || 1;
  const sy = (y: number): number => H - m.b - ((y - lo) / (hi - lo)) * (H - m.t - m.b);
  const bw = (W - m.l - m.r) / bars.length;
  const rects = bars
    .map((b, i) => {
      const x = m.l + i * bw + bw * 0.2;
      const y = Math.min(sy(b.value), sy(0));
      const h = Math.abs(sy(b.value) - sy(0));
      return `<rect x="${x}" y="${y}" width="${bw * 0.6}" height="${Math.max(h, 1)}" fill="${COLORS[i % COLORS.length]}"/><text x="${x + bw * 0.3}" y="${y - 4}" font-size="11" text-anchor="middle">${fmt(b.value)}</text><text x="${x + bw * 0.3}" y="${H - m.b + 14}" font-size="11" text-anchor="middle">${esc(b.label)}</text>`;
    })
    .join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><line x1="${m.l}" x2="${W - m.r}" y1="${sy(0)}" y2="${sy(0)}" stroke="#888"/>${rects}</svg></figure>`;
}

/** (step, value) points of a metric from `metrics` (or `eval`) events. */
export function metricSeries(events: readonly SessionEvent[], metric: string, type: 'metrics' | 'eval' = 'metrics'): [number, number][] {
  const out: [number, number][] = [];
  for (const e of events) {
    if (e.type !== type) continue;
    const v = e.params.metrics[metric];
    if (typeof v === 'number') out.push([e.params.step, v]);
  }
  return out;
}

const series = (name: string, points: [number, number][], i: number): Series => ({ name, points, color: COLORS[i % COLORS.length] as string });

/** Per online stage: the rollouts' mean reward (PPO: reward-model score), and the reply length (tokens) with the KL to the reference when there is one. */
function onlineCharts(r: DemoReport, events: Readonly<Record<string, readonly SessionEvent[]>>): string[] {
  return r.online.flatMap(({ method }) => {
    const ev = events[method] ?? [];
    const ppo = method === 'ppo';
    const kl = metricSeries(ev, ppo ? 'objective/kl' : 'kl');
    const name = method.toUpperCase();
    return [
      ppo
        ? lineChart(`${name}: reward-model score of the rollouts (training prompts)`, [series('objective/scores', metricSeries(ev, 'objective/scores'), 0), series('objective/rlhf_reward', metricSeries(ev, 'objective/rlhf_reward'), 1)])
        : lineChart(`${name}: mean proxy reward of the rollouts (training prompts)`, [series('reward', metricSeries(ev, 'reward'), 0), series('reward_std', metricSeries(ev, 'reward_std'), 1)]),
      lineChart(`${name}: reply length (tokens)${kl.length ? ' and KL to the reference' : ''}`, [series('completions/mean_length', metricSeries(ev, 'completions/mean_length'), 2), ...(kl.length ? [series('kl', kl, 3)] : [])]),
    ];
  });
}

/** The headline: SFT -> DPO, and the best aligned policy. */
function headline(r: DemoReport): string {
  const dpo = `<p class="big">Mean proxy reward: SFT ${fmt(r.proxy_reward_sft)} → DPO ${fmt(r.proxy_reward_aligned)} · win rate vs SFT ${fmt(r.win_rate_vs_sft)} · KL to SFT ${fmt(r.kl_to_sft)} nats</p>`;
  const best = `<p class="big">Best aligned policy: ${esc(r.best_method.toUpperCase())}, win rate vs SFT ${fmt(r.best_win_rate_vs_sft)} at KL to SFT ${fmt(r.best_kl_to_sft)} nats</p>`;
  return dpo + best;
}

/** What each online stage ran with. */
function onlineSetup(r: DemoReport): string {
  return r.online
    .map((o) => {
      const name = esc(o.method.toUpperCase());
      if (o.method === 'ppo') {
        return `<p>${name} (RLHF, from the SFT model): ${o.steps} rollouts, one reply to each of ${o.promptsPerStep} pair prompts at temperature 1 (at most ${o.maxCompletionLength} tokens), scored by the demo's Bradley-Terry reward model, which also starts the value model; ${o.ppoEpochs} PPO epochs per rollout at learning rate ${o.learningRate}, per-token KL penalty kl_coef ${o.klCoef}.</p>`;
      }
      return `<p>${name} (online, from the SFT model): ${o.steps} rollouts, each ${o.numGenerations} replies to each of ${o.promptsPerStep} pair prompts at temperature 1 (at most ${o.maxCompletionLength} tokens), scored by the proxy reward against the prompt's reference answer; one optimizer step per rollout at learning rate ${o.learningRate}, KL weight beta ${o.beta}${o.beta === 0 ? ' (no reference model)' : ''}.</p>`;
    })
    .join('\n');
}

/** Writes report.html; `events` holds each stage's events by run name (sft, reward, dpo, simpo, online methods). */
export function writeDemoHtml(file: string, r: DemoReport, events: Readonly<Record<string, readonly SessionEvent[]>>): void {
  const s = series;
  const ev = (name: string): readonly SessionEvent[] => events[name] ?? [];
  const traj = r.dpo_trajectory;
  const charts = [
    lineChart('SFT: training loss', [s('loss', metricSeries(ev('sft'), 'loss'), 0)]),
    lineChart('Reward model: loss and held-out accuracy', [s('loss', metricSeries(ev('reward'), 'loss'), 0), s('eval_accuracy', metricSeries(ev('reward'), 'eval_accuracy', 'eval'), 1)]),
    lineChart('DPO: loss and rewards/margins', [s('loss', metricSeries(ev('dpo'), 'loss'), 0), s('rewards/margins', metricSeries(ev('dpo'), 'rewards/margins'), 1)]),
    lineChart('DPO: held-out implicit-reward accuracy', [s('eval_rewards/accuracies', metricSeries(ev('dpo'), 'eval_rewards/accuracies', 'eval'), 2)]),
    lineChart('DPO policy vs SFT along training: proxy reward and win rate', [s('mean proxy reward', traj.map((t) => [t.step, t.proxy_reward]), 0), s('win rate vs SFT', traj.map((t) => [t.step, t.win_rate_vs_sft]), 1)]),
    lineChart('DPO policy: KL to SFT along training (nats per reply)', [s('KL(pi || SFT)', traj.map((t) => [t.step, t.kl_to_sft]), 3)]),
    barChart('Mean proxy reward on held-out prompts', Object.entries(r.policies).map(([label, p]) => ({ label, value: p.proxy_reward }))),
    lineChart('SimPO: loss and rewards/margins', [s('loss', metricSeries(ev('simpo'), 'loss'), 0), s('rewards/margins', metricSeries(ev('simpo'), 'rewards/margins'), 1)]),
    ...onlineCharts(r, events),
  ];
  const rows = Object.entries(r.policies)
    .map(([k, p]) => `<tr><td>${esc(k)}</td><td>${fmt(p.proxy_reward)}</td><td>${k === 'sft' ? '0.500 (itself)' : fmt(p.win_rate_vs_sft)}</td><td>${fmt(p.kl_to_sft)}</td><td>${fmt(p.mean_f1)}</td><td>${fmt(p.exact_match, 2)}</td><td>${fmt(p.mean_extra_words, 2)}</td><td>${fmt(p.ended_fraction, 2)}</td></tr>`)
    .join('');
  const policies = Object.keys(r.policies);
  const samples = r.samples.map((x) => `<tr><td>${esc(x.prompt)}</td><td>${esc(x.reference)}</td>${policies.map((p) => `<td>${esc(x[p] ?? '')}</td>`).join('')}</tr>`).join('');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Alignment Studio demo report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}figure{display:inline-block;margin:8px}figcaption{font-weight:600;font-size:13px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left}.big{font-size:20px;font-weight:700}</style></head><body>
<h1>Alignment Studio demo</h1>
<p>The built-in tiny chat model, fine-tuned on a synthetic dialogue corpus (SFT; ${fmt(r.sft_data.filler_rate * 100, 0)}% of its ${r.sft_data.examples} answers
carry a filler sentence such as "Sure thing!" or "I hope that helps you!"), then aligned to a rule-based preference (the <em>proxy reward</em>, which prefers
correct and concise replies) with DPO and with reference-free SimPO, from ${r.pairs.used} preference pairs it sampled itself (the best and the worst of
${r.pairs.samples_per_prompt} replies per prompt)${r.online.length ? `, and online with ${r.online.map((o) => esc(o.method.toUpperCase())).join(' and ')}, which samples its own replies while it trains and scores them with the proxy reward` : ''}.</p>
${onlineSetup(r)}
<p>Proxy reward: <code>${esc(r.proxy_reward_rule)}</code> (src/training/demo/proxyReward.ts).</p>
${headline(r)}
<table><tr><th>policy</th><th>mean proxy reward</th><th>win rate vs SFT</th><th>KL to SFT (nats)</th><th>mean word-F1</th><th>exact answers</th><th>extra words</th><th>replies that ended</th></tr>${rows}</table>
<p>On ${r.eval_prompts} held-out prompts, one reply each sampled at temperature 1 (the same random stream for every policy). Win rate: the share of prompts
where the policy's reply has the higher proxy reward than the SFT model's, ties counting one half. KL: mean over the policy's own replies of
log &pi;(y|x) &minus; log &pi;<sub>SFT</sub>(y|x). Exact answers: replies whose words are exactly the reference answer's.</p>
<p>Reward model (Bradley-Terry on the same pairs): held-out accuracy ${fmt(r.reward_model.eval_accuracy)}, loss ${fmt(r.reward_model.eval_loss)}.</p>
${charts.join('\n')}
<h2>Sample replies (held-out prompts, sampled at temperature 1)</h2>
<table><tr><th>prompt</th><th>reference answer</th>${policies.map((p) => `<th>${esc(p.toUpperCase())}</th>`).join('')}</tr>${samples}</table>
<p>Wall time: ${Object.entries(r.seconds).map(([k, v]) => `${esc(k)} ${v.toFixed(0)} s`).join(' · ')}.</p>
<p>CPU time (user + system): ${Object.entries(r.cpu_seconds).map(([k, v]) => `${esc(k)} ${v.toFixed(0)} s`).join(' · ')}.</p>
</body></html>
`;
  fs.writeFileSync(file, html);
}
