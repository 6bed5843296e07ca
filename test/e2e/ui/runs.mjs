// Runs UI test: start a tiny DPO run on the built-in model from the command palette, watch it in the Runs view and
// the dashboard (loss and rewards/margins plots update while it runs), stop it, resume it, see it finish; screenshots
// of the launch form, the dashboard mid-run and the samples tab.
import { lap, openSidebar, webviewFrame, shot, viewRow, sleep, openLaunchForm, fillLaunchForm } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

/** Points the dashboard's chart for `metric` covers (its data-points attribute), or 0. */
async function points(wv, metric) {
  const v = await wv.locator(`.chart[data-metric="${metric}"]`).getAttribute('data-points', { timeout: 1000 }).catch(() => null);
  return Number(v || 0);
}

test('runs: start a tiny DPO run from the palette, watch live plots, stop, resume, finish', 'empty', async (page) => {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`    [console.${m.type()}] ${m.text().slice(0, 300)}`); });
  await openSidebar(page);
  // A small preference dataset with short prompts (the sample the walkthrough creates).
  await page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Datasets' }) }).getByRole('button', { name: 'Create Sample Dataset' }).click();
  await viewRow(page, 'Datasets', 'preferences.sample.jsonl').waitFor({ timeout: 30_000 });

  let wv = await openLaunchForm(page);
  // The untrained built-in model (the form starts on the chat model): its samples tab must say its replies are noise.
  await fillLaunchForm(wv, {
    method: 'dpo', ready: '#method-axes tr >> nth=7', dataset: 'preferences.sample.jsonl', name: 'ui-dpo', model: 'builtin',
    fields: [['f-maxSteps', 14], ['f-batchSize', 2], ['f-data-maxLength', 128], ['f-data-evalSplit', 0], ['f-intervals-logging', 1], ['f-intervals-sample', 4], ['f-intervals-checkpoint', 2], ['f-intervals-eval', 0]],
  });
  await wv.locator('#estimate table').waitFor({ timeout: 30_000 });
  // the estimate follows the form: wait for it to reflect the 14 steps typed above
  let est = '';
  for (let i = 0; i < 60; i++) {
    est = await wv.locator('#estimate').innerText();
    if (/Memory/.test(est) && /Steps\s+14/.test(est)) break;
    await sleep(500);
  }
  if (!/Memory/.test(est) || !/Steps\s+14/.test(est)) throw new Error(`estimate not shown: ${est}`);
  // No eval split, no evaluation: the form has no complaint left to show.
  const formText = await wv.locator('body').innerText();
  if (/nothing to evaluate/.test(formText)) throw new Error('the form still warns about evaluation with eval every = 0');
  // The form was scrolled by the typing: show its estimate (what a user checks before launching).
  await wv.locator('#estimate').scrollIntoViewIfNeeded();
  await shot(page, 'runs-launch-form');
  await wv.locator('#start').click();

  // The dashboard opens on the new run; the run appears in the Runs view.
  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  await viewRow(page, 'Runs', 'ui-dpo').waitFor({ timeout: 30_000 });
  lap('run listed in the Runs view');
  wv = webviewFrame(page);
  await wv.locator('#tab-metrics').waitFor({ timeout: 30_000 });
  await wv.locator('.chart[data-metric="loss"]').waitFor({ timeout: 120_000 });
  await wv.locator('.chart[data-metric="rewards/margins"]').waitFor({ timeout: 30_000 });
  const first = { loss: await points(wv, 'loss'), margins: await points(wv, 'rewards/margins') };
  let later = first;
  for (let i = 0; i < 120 && (later.loss <= first.loss || later.margins <= first.margins); i++) {
    await sleep(500);
    later = { loss: await points(wv, 'loss'), margins: await points(wv, 'rewards/margins') };
  }
  if (later.loss <= first.loss || later.margins <= first.margins) throw new Error(`plots did not update: ${JSON.stringify({ first, later })}`);
  lap(`plots updated live: loss ${first.loss} -> ${later.loss} points, rewards/margins ${first.margins} -> ${later.margins}`);
  await shot(page, 'runs-dashboard-midrun');

  // Stop (graceful: checkpoint + finished/stopped), then resume to the end.
  await wv.locator('#action-stop').click();
  await wv.locator('#run-phase', { hasText: 'stopped' }).waitFor({ timeout: 90_000 });
  lap('stopped');
  await viewRow(page, 'Runs', 'ui-dpo').locator('text=/stopped/').waitFor({ timeout: 15_000 });
  await wv.locator('#action-resume').click();
  await wv.locator('#run-phase', { hasText: 'running' }).waitFor({ timeout: 30_000 });
  lap('resumed');
  await wv.locator('#run-phase', { hasText: 'finished' }).waitFor({ timeout: 240_000 });
  const progress = await wv.locator('#run-progress').innerText();
  if (!/step 14 \/ 14/.test(progress)) throw new Error(`finished run shows ${progress}`);
  await viewRow(page, 'Runs', 'ui-dpo').locator('text=/finished/').waitFor({ timeout: 15_000 });
  lap(`finished: ${progress}`);
  await shot(page, 'runs-dashboard-finished');

  await wv.locator('#tab-samples').click();
  await wv.locator('#samples-table tbody tr').first().waitFor({ timeout: 15_000 });
  const cells = await wv.locator('#samples-table thead th').allInnerTexts();
  if (!cells.some((c) => /Reference/.test(c))) throw new Error(`samples table lacks the reference column: ${cells}`);
  // The untrained built-in model's replies are noise: the tab says so above the table.
  await wv.locator('#samples-note').waitFor({ timeout: 5000 });
  // Each reply is scored (DPO: its implicit reward), and the table says what the score is.
  const kind = await wv.locator('#samples-score-kind').innerText({ timeout: 5000 });
  if (!/implicit reward .*π_ref.*β=/.test(kind)) throw new Error(`samples table does not say what the score is: ${kind}`);
  const scores = await wv.locator('#samples-table tbody .score').allInnerTexts();
  const rows = await wv.locator('#samples-table tbody tr').count();
  if (scores.length !== 2 * rows || !scores.every((t) => /^score -?[0-9.e+-]+$/.test(t.trim()))) throw new Error(`samples lack their scores (${rows} rows): ${scores.join(' | ')}`);
  await shot(page, 'runs-samples');
  await wv.locator('#tab-settings').click();
  await wv.locator('#settings-table').waitFor({ timeout: 10_000 });
});
