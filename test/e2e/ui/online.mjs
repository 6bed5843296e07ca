// Online RL UI test: start a small GRPO run from the launch form (a regex reward picked in its reward-source picker),
// watch the reward chart of the dashboard fill in while the run trains, and read the reward it plots at the first and
// the last step (hovering the chart, as a person reads a value): it rises. Screenshots of the form and the dashboard.
//
// The task is the toy task of test/unit/training/online/learning.test.ts: reward 1 when a 4-token completion holds a
// digit. The untrained built-in model writes one in about half of its completions, and 20 GRPO steps make it near
// certain, in well under a minute of training on 2 cores.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lap, runCommand, openSidebar, webviewFrame, shot, viewRow, sleep, GENERATED, openLaunchForm, fillLaunchForm } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const STEPS = 20;

/** Points the dashboard's chart for `metric` covers (its data-points attribute), or 0. */
async function points(wv, metric) {
  const v = await wv.locator(`.chart[data-metric="${metric}"]`).getAttribute('data-points', { timeout: 1000 }).catch(() => null);
  return Number(v || 0);
}

/**
 * The values the chart's legend shows with the cursor at `where` ('first' or 'last' point): { step, series: {label:
 * value} }. The x range spans the logged steps exactly, so the plot's left and right edges snap to the first and last.
 */
async function legendAt(wv, metric, where) {
  const chart = wv.locator(`.chart[data-metric="${metric}"]`);
  const over = chart.locator('.u-over');
  const box = await over.boundingBox();
  if (!box) throw new Error(`the ${metric} chart has no plot area`);
  await over.hover({ position: { x: where === 'first' ? 1 : box.width - 2, y: box.height / 2 }, force: true });
  await sleep(300);
  const rows = await chart.locator('.u-legend tr.u-series').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('.u-label')?.textContent ?? '', tr.querySelector('.u-value')?.textContent ?? '']));
  const [x, ...series] = rows;
  return { step: Number(x?.[1]), series: Object.fromEntries(series) };
}

/** The run's logged `reward` by step, from its events.jsonl in the workspace (what the dashboard must plot). */
function loggedRewards(workspace, runName) {
  const root = path.join(workspace, '.alignment', 'runs');
  const dir = fs.readdirSync(root).find((d) => JSON.parse(fs.readFileSync(path.join(root, d, 'spec.json'), 'utf8')).name === runName);
  if (!dir) throw new Error(`no run named ${runName} under ${root}`);
  const out = new Map();
  for (const line of fs.readFileSync(path.join(root, dir, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    if (e.type === 'metrics' && typeof e.params?.metrics?.reward === 'number') out.set(e.params.step, e.params.metrics.reward);
  }
  return out;
}

/** The dashboard's number format (4 significant digits). */
const shown = (x) => String(Number(x.toPrecision(4)));

/** Fills the launch form for the GRPO run: a small group, 4-token completions, the regex reward "has a digit". */
async function fillGrpoForm(wv) {
  // 32 completions per step: 4 prompts x a group of 8.
  await fillLaunchForm(wv, {
    method: 'grpo', ready: '#method-axes tr >> nth=7', dataset: GENERATED.prompts, name: 'ui-grpo',
    fields: [['f-maxSteps', STEPS], ['f-batchSize', 32], ['f-gradientAccumulationSteps', 1], ['f-optimizer-learningRate', '3e-3'],
      ['f-data-maxLength', 64], ['f-data-evalSplit', 0], ['f-intervals-logging', 1], ['f-intervals-sample', 10], ['f-intervals-checkpoint', 10],
      ['f-intervals-eval', 0], ['hp-num_generations', 8], ['hp-beta', 0.04], ['hp-max_completion_length', 4]],
  });
  // The reward-source picker: the built-in regex reward, 1 when the completion holds a digit.
  await wv.locator('#reward-regex').check();
  await wv.locator('#reward-regex-arg').fill('[0-9]');
  // the estimate follows the form: wait for it to reflect the steps typed above
  let est = '';
  for (let i = 0; i < 60; i++) {
    est = await wv.locator('#estimate').innerText();
    if (new RegExp(`Steps\\s+${STEPS}\\b`).test(est)) break;
    await sleep(500);
  }
  if (!new RegExp(`Steps\\s+${STEPS}\\b`).test(est)) throw new Error(`estimate not shown: ${est} / problems: ${await wv.locator('#problems').innerText()}`);
  const problems = await wv.locator('#problems').innerText();
  if (problems.trim()) throw new Error(`the form reports problems: ${problems}`);
}

test('online: launch a GRPO run from the form with a regex reward, watch the reward rise on the dashboard', 'generated', async (page, { workspace }) => {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`    [console.${m.type()}] ${m.text().slice(0, 300)}`); });
  await openSidebar(page);
  await viewRow(page, 'Datasets', GENERATED.prompts).waitFor({ timeout: 30_000 });

  let wv = await openLaunchForm(page);
  await fillGrpoForm(wv);
  await wv.locator('#rewards').scrollIntoViewIfNeeded();
  await shot(page, 'online-grpo-launch-form');
  await wv.locator('#start').click();

  // The dashboard opens on the new run; the reward chart fills in while it trains.
  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  await viewRow(page, 'Runs', 'ui-grpo').waitFor({ timeout: 30_000 });
  wv = webviewFrame(page);
  await wv.locator('#tab-metrics').waitFor({ timeout: 30_000 });
  const reward = wv.locator('.chart[data-metric="reward"]');
  await reward.waitFor({ timeout: 180_000 });
  const seen = [await points(wv, 'reward')];
  lap(`reward chart shown with ${seen[0]} point(s)`);
  for (let i = 0; i < 600 && seen[seen.length - 1] < STEPS; i++) {
    await sleep(500);
    const n = await points(wv, 'reward');
    if (n === seen[seen.length - 1]) continue;
    seen.push(n);
    if (seen.length === 3) {
      await reward.scrollIntoViewIfNeeded();
      await shot(page, 'online-grpo-dashboard-midrun');
    }
  }
  // Live: the chart grew while the run trained, not once at the end.
  if (seen.length < 3 || seen[seen.length - 1] !== STEPS) throw new Error(`the reward chart did not fill in live: point counts seen ${seen.join(' -> ')}`);
  lap(`reward chart filled in live: ${seen.join(' -> ')} points`);
  await wv.locator('#run-phase', { hasText: 'finished' }).waitFor({ timeout: 120_000 });
  const progress = await wv.locator('#run-progress').innerText();
  if (!new RegExp(`step ${STEPS} / ${STEPS}`).test(progress)) throw new Error(`finished run shows ${progress}`);

  // Read the plotted reward at the first and the last step, as a person does: hover the chart, read its legend.
  await reward.scrollIntoViewIfNeeded();
  const first = await legendAt(wv, 'reward', 'first');
  const last = await legendAt(wv, 'reward', 'last');
  lap(`dashboard reward at step ${first.step}: ${JSON.stringify(first.series)}; at step ${last.step}: ${JSON.stringify(last.series)}`);
  if (first.step !== 1 || last.step !== STEPS) throw new Error(`the legend did not show the first and last steps: ${first.step}, ${last.step}`);
  // The raw series is what the session logged, point for point.
  const logged = loggedRewards(workspace, 'ui-grpo');
  for (const at of [first, last]) {
    const want = logged.get(at.step);
    if (want === undefined || at.series['train (raw)'] !== shown(want)) throw new Error(`step ${at.step}: the dashboard shows ${at.series['train (raw)']}, events.jsonl has ${want}`);
  }
  // The smoothed reward rose (the untrained model: about 0.5; after 20 steps, near 1).
  const [r0, r1] = [Number(first.series.train), Number(last.series.train)];
  if (!(r1 >= r0 + 0.2 && r1 >= 0.75)) throw new Error(`the reward did not rise: ${r0} at step 1, ${r1} at step ${STEPS}`);
  lap(`reward rose on the dashboard: ${r0} -> ${r1} (smoothed); logged ${[...logged.values()].map((r) => r.toFixed(2)).join(' ')}`);
  await viewRow(page, 'Runs', 'ui-grpo').locator('text=/finished/').waitFor({ timeout: 15_000 });
  // The run's "finished" notification would cover the chart in the picture.
  await runCommand(page, 'Notifications: Clear All Notifications');
  await reward.scrollIntoViewIfNeeded();
  await shot(page, 'online-grpo-dashboard-reward');

  // The samples tab: the policy's completions, each with its reward.
  await wv.locator('#tab-samples').click();
  await wv.locator('#samples-table tbody tr').first().waitFor({ timeout: 15_000 });
  const kind = await wv.locator('#samples-score-kind').innerText({ timeout: 5000 });
  if (!/reward\b.*regex/.test(kind)) throw new Error(`samples table does not say the score is the run's reward: ${kind}`);
  const rows = await wv.locator('#samples-table tbody tr').count();
  const scores = await wv.locator('#samples-table tbody .score').allInnerTexts();
  if (scores.length !== rows || !scores.every((t) => /^score -?[0-9.e+-]+$/.test(t.trim()))) throw new Error(`samples lack their rewards (${rows} rows): ${scores.join(' | ')}`);
  await shot(page, 'online-grpo-samples');
});
