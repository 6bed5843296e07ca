// A run "with a person" (method human-dpo, docs/human-loop.md) in a real VS Code: started from the launch form, its
// round-1 pairs announced by a notification and the status bar, labeled with the comparison panel's keys, the run
// going on into round 2, a window reload in the middle of round 2 (the batch, its count and its labels are still
// there), and the dashboard's per-round charts of the person's labels. Screenshots of the panel and the dashboard. Each
// Close All Editors happens while the run is live, and must bring no "Webview is disposed" error; the panel of a round
// is titled "Round <n> · <run name>".
//
// Small on purpose: the built-in model, 2 prompts x 2 samples, 2 pairs and 1 update per round, 6 new tokens.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lap, runCommand, openSidebar, shot, viewRow, sleep, waitForWorkbench, GENERATED, openLaunchForm, fillLaunchForm } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const RUN = 'ui-human';
const PAIRS = 2;

/** The run's folder in the workspace, by its spec's name. */
function runDir(workspace) {
  const root = path.join(workspace, '.alignment', 'runs');
  const dir = fs.existsSync(root) ? fs.readdirSync(root).find((d) => JSON.parse(fs.readFileSync(path.join(root, d, 'spec.json'), 'utf8')).name === RUN) : undefined;
  return dir && path.join(root, dir);
}
const roundDir = (run, n) => path.join(run, 'rounds', `round-${n}`);
const batchOf = (run, n) => { try { return JSON.parse(fs.readFileSync(path.join(roundDir(run, n), 'batch.json'), 'utf8')); } catch { return undefined; } };

/** Current (not retracted) comparisons in round n's labels journal: recordId -> entry. */
function roundLabels(run, n) {
  const dir = path.join(roundDir(run, n), '.alignment', 'pairs.jsonl.labels');
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) : [];
  const retracted = new Set(entries.filter((e) => e.type === 'retract').map((e) => e.payload.entryId));
  return new Map(entries.filter((e) => e.type === 'comparison' && !retracted.has(e.id)).map((e) => [e.recordId, e]));
}

/** The `human/*` metric events the session logged, in order. */
function roundMetrics(run) {
  return fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((e) => e.type === 'metrics' && typeof e.params?.metrics?.['human/round'] === 'number').map((e) => e.params);
}

async function until(what, fn, ms) {
  for (const end = Date.now() + ms; ;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(500);
  }
}

/** The webview frame (dashboard and panel may both be open) that holds `selector`. */
async function frameWith(page, selector, ms = 30_000) {
  return until(`a webview with ${selector}`, async () => {
    for (const f of page.frames()) if (await f.locator(selector).count().catch(() => 0)) return f;
    return undefined;
  }, ms);
}

/**
 * Closes every editor while the run is live (the dashboard and the comparison panel posting to their webviews), then
 * checks for two seconds that no "Webview is disposed" error came: no notification, no extension host error.
 */
async function closeAllEditors(page, hostErrors) {
  await runCommand(page, 'View: Close All Editors');
  await sleep(2000);
  const toasts = await page.locator('.notification-toast').allInnerTexts();
  const bad = [...toasts.filter((t) => /disposed/i.test(t)), ...hostErrors];
  if (bad.length) throw new Error(`after Close All Editors: ${bad.join(' | ').slice(0, 500)}`);
}

const statusItem = (page) => page.locator('.statusbar-item', { hasText: /pairs? waiting/ }).first();

async function fillForm(wv) {
  await fillLaunchForm(wv, {
    method: 'human-dpo', ready: '#hp-feedback_mode', dataset: GENERATED.prompts, name: RUN,
    fields: [['f-batchSize', 2], ['f-gradientAccumulationSteps', 1], ['f-data-maxLength', 64], ['f-data-evalSplit', 0],
      ['hp-max_new_tokens', 6], ['hp-rounds', 2], ['hp-prompts_per_round', 2], ['hp-samples_per_prompt', 2], ['hp-pairs_per_round', PAIRS],
      ['hp-updates_per_round', 1], ['hp-round_timeout_seconds', 0]],
  });
  // The human-dpo options are the form's own fields (the method card's hyperparameters).
  await wv.locator('#hp-feedback_mode').selectOption('human');
  await wv.locator('#hp-selection').selectOption('active');
  // The refit options are on the form too (left at their defaults: no refit).
  for (const v of ['none', 'grpo', 'ppo']) await wv.locator(`#hp-refit_policy option[value="${v}"]`).waitFor({ state: 'attached', timeout: 15_000 });
  await wv.locator('#hp-refit_reward_model').waitFor({ state: 'attached', timeout: 15_000 });
  await sleep(1500); // the host re-validates the spec as the form changes
  const problems = await wv.locator('#problems').innerText();
  if (problems.trim()) throw new Error(`the form reports problems: ${problems}`);
}

/** Labels every pair the open panel still shows, with the keys 1 (A) and 2 (B) in turn; returns how many. */
async function labelWithKeys(page, from, to) {
  const f = await frameWith(page, '#progress-text');
  for (let i = from; i < to; i++) {
    await f.locator('#cand-A').click({ position: { x: 5, y: 5 } }); // the keyboard focus inside the panel
    await page.keyboard.press(i % 2 ? '2' : '1');
    await f.locator('#progress-text', { hasText: `${i + 1} of ${PAIRS}` }).waitFor({ timeout: 15_000 });
  }
  return f;
}

test('human in the loop: a human-dpo run from the form, pairs labeled with the keys, round 2, reload mid-round, dashboard', 'generated', async (page, { workspace }) => {
  const hostErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`    [console.error] ${m.text().slice(0, 300)}`);
    if (/Webview is disposed/.test(m.text())) hostErrors.push(m.text().slice(0, 300));
  });
  await openSidebar(page);
  await viewRow(page, 'Datasets', GENERATED.prompts).waitFor({ timeout: 30_000 });

  // 1) the launch form
  const form = await openLaunchForm(page);
  await fillForm(form);
  await form.locator('#hp-feedback_mode').scrollIntoViewIfNeeded();
  await shot(page, 'human-loop-launch-form');
  await form.locator('#start').click();
  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  const run = await until('the run folder', () => runDir(workspace), 30_000);
  lap(`run started: ${run}`);

  // 2) round 1 published: the notification and the status bar say so; "Label Now" opens the panel on its pairs
  const toast = page.locator('.notification-toast', { hasText: `Run ${RUN}, round 1: ${PAIRS} pairs waiting for your labels` }).first();
  await toast.waitFor({ timeout: 300_000 });
  lap(`round 1 announced (batch: ${JSON.stringify(batchOf(run, 1)?.state)})`);
  await statusItem(page).waitFor({ timeout: 15_000 });
  const count1 = await statusItem(page).innerText();
  if (!/\b[1-9]\d* pairs? waiting/.test(count1)) throw new Error(`status bar shows ${count1}`);
  await toast.getByRole('button', { name: 'Label Now' }).click();
  await page.locator('.tab', { hasText: `Round 1 · ${RUN}` }).first().waitFor({ timeout: 30_000 });
  let panel = await frameWith(page, '#progress-text');
  await panel.locator('#progress-text', { hasText: `0 of ${PAIRS}` }).waitFor({ timeout: 30_000 });
  await shot(page, 'human-loop-comparison-panel');
  await labelWithKeys(page, 0, PAIRS);
  const labels1 = roundLabels(run, 1);
  if (labels1.size !== PAIRS || ![...labels1.keys()].every((id) => /^r1-p\d+$/.test(id))) throw new Error(`round 1's journal holds ${[...labels1.keys()].join(', ')}`);
  lap(`round 1 labeled with the keys: ${[...labels1.values()].map((e) => `${e.recordId}=${e.payload.preferred}`).join(', ')}`);

  // 3) the run goes on: round 1 closes on the person's labels and trains, round 2 is published and waits
  await until('round 1 to close', () => batchOf(run, 1)?.state === 'closed', 120_000);
  if (batchOf(run, 1).closed.human !== PAIRS) throw new Error(`round 1 closed with ${JSON.stringify(batchOf(run, 1).closed)}`);
  await until('round 2 waiting', () => batchOf(run, 2)?.state === 'waiting', 300_000);
  await until('round 1 metrics', () => roundMetrics(run).length >= 1, 120_000);
  lap(`round 1 metrics: ${JSON.stringify(roundMetrics(run)[0].metrics)}`);
  await until('the status bar to count round 2', async () => /\b2 pairs waiting/.test(await statusItem(page).innerText().catch(() => '')), 30_000);

  // one of round 2's pairs labeled, then the window reloads in the middle of the round
  await closeAllEditors(page, hostErrors);
  await statusItem(page).click();
  await page.locator('.tab', { hasText: `Round 2 · ${RUN}` }).first().waitFor({ timeout: 30_000 });
  panel = await frameWith(page, '#progress-text');
  await panel.locator('#progress-text', { hasText: `0 of ${PAIRS}` }).waitFor({ timeout: 30_000 });
  await labelWithKeys(page, 0, 1);
  if (roundLabels(run, 2).size !== 1) throw new Error(`round 2's journal holds ${roundLabels(run, 2).size} labels`);
  await until('the status bar to say 1 pair waiting', async () => /\b1 pair waiting/.test(await statusItem(page).innerText().catch(() => '')), 30_000);

  // 4) reload: the waiting batch, its count and its label are still there
  await runCommand(page, 'Developer: Reload Window');
  await waitForWorkbench(page);
  await statusItem(page).waitFor({ timeout: 90_000 });
  const count2 = await statusItem(page).innerText();
  if (!/\b1 pair waiting/.test(count2)) throw new Error(`after the reload the status bar shows ${count2}`);
  if (batchOf(run, 2)?.state !== 'waiting') throw new Error(`round 2 is ${batchOf(run, 2)?.state} after the reload`);
  await openSidebar(page);
  await viewRow(page, 'Runs', RUN).waitFor({ timeout: 30_000 });
  lap(`after the reload: status bar "${count2}"`);
  await closeAllEditors(page, hostErrors);
  await statusItem(page).click();
  await page.locator('.tab', { hasText: `Round 2 · ${RUN}` }).first().waitFor({ timeout: 30_000 });
  panel = await frameWith(page, '#progress-text');
  await panel.locator('#progress-text', { hasText: `1 of ${PAIRS}` }).waitFor({ timeout: 30_000 });
  await shot(page, 'human-loop-panel-after-reload');
  await labelWithKeys(page, 1, PAIRS);
  if (roundLabels(run, 2).size !== PAIRS) throw new Error(`round 2's journal holds ${roundLabels(run, 2).size} labels`);

  // 5) round 2 trains and the run finishes; the dashboard plots the per-round metrics of the person's labels
  await until('round 2 metrics', () => roundMetrics(run).length >= 2, 180_000);
  const logged = roundMetrics(run);
  lap(`per-round metrics: ${logged.map((p) => JSON.stringify(p.metrics)).join(' | ')}`);
  if (logged.map((p) => p.metrics['human/labels']).join() !== `${PAIRS},${PAIRS}`) throw new Error('human/labels is not the person\'s labels per round');
  await closeAllEditors(page, hostErrors);
  await viewRow(page, 'Runs', RUN).click();
  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  const dash = await frameWith(page, '#tab-metrics');
  for (const m of ['human/labels', 'human/win_rate_vs_previous', 'human/heldout_agreement']) {
    const chart = dash.locator(`.chart[data-metric="${m}"]`);
    await until(`the ${m} chart with 2 points`, async () => Number(await chart.getAttribute('data-points', { timeout: 1000 }).catch(() => 0)) === 2, 60_000);
    // One value per round, drawn as logged: no smoothed copy beside the raw series (legend: step and one series).
    const series = await chart.locator('.u-legend tr.u-series .u-label').allInnerTexts();
    if (series.join('|') !== 'step|train') throw new Error(`the ${m} chart draws ${series.join(', ')}`);
  }
  const group = dash.locator('section.group[data-group="human"]');
  await group.scrollIntoViewIfNeeded();
  await runCommand(page, 'Notifications: Clear All Notifications');
  await shot(page, 'human-loop-dashboard');
});
