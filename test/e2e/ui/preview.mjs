// What a run leaves out is shown before and while it trains: the launch form previews truncation (rows cut and
// tokens lost, counted by a calibration session with the model's tokenizer) and measures the time; the dashboard
// of the started run shows the warnings strip with the same counts. Screenshots of both.
import { lap, openSidebar, webviewFrame, shot, viewRow, sleep, openLaunchForm, fillLaunchForm } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

test('preview: the launch form previews truncation and the measured time; the dashboard shows the warnings strip', 'empty', async (page) => {
  await openSidebar(page);
  await page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Datasets' }) }).getByRole('button', { name: 'Create Sample Dataset' }).click();
  await viewRow(page, 'Datasets', 'preferences.sample.jsonl').waitFor({ timeout: 30_000 });

  let wv = await openLaunchForm(page);
  // f-data-maxLength: short enough that the sample's prompts and replies do not fit.
  await fillLaunchForm(wv, {
    method: 'dpo', ready: '#method-axes tr >> nth=7', dataset: 'preferences.sample.jsonl', name: 'ui-cut',
    fields: [['f-maxSteps', 4], ['f-batchSize', 2], ['f-data-maxLength', 24], ['f-data-evalSplit', 0], ['f-intervals-logging', 1], ['f-intervals-sample', 0], ['f-intervals-checkpoint', 0], ['f-intervals-eval', 0]],
  });
  // The preview comes from a calibration session (a few real steps): wait for its counts and its measured time.
  let text = '';
  for (let i = 0; i < 240; i++) {
    text = await wv.locator('#estimate').innerText().catch(() => '');
    if (/Left out of training: .*prompts and \d+ completions cut \(\d+ tokens dropped\)/.test(text) && /Total time\s+about/.test(text) && /measured: 3 steps/.test(text)) break;
    await sleep(500);
  }
  if (!/Left out of training: .*cut \(\d+ tokens dropped\)/.test(text)) throw new Error(`no truncation preview: ${text}`);
  if (!/Total time\s+about/.test(text) || !/measured: 3 steps of this configuration on cpu/.test(text)) throw new Error(`no measured time: ${text}`);
  const preview = await wv.locator('#truncation-preview').innerText();
  lap(`truncation preview: ${preview.split('\n')[0]}`);
  await wv.locator('#truncation-preview').scrollIntoViewIfNeeded();
  await shot(page, 'preview-launch-form-truncation');
  const cut = /(\d+) prompts and (\d+) completions cut \((\d+) tokens dropped\)/.exec(preview);

  await wv.locator('#start').click();
  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  await viewRow(page, 'Runs', 'ui-cut').waitFor({ timeout: 30_000 });
  wv = webviewFrame(page);
  await wv.locator('#warnings-strip').waitFor({ timeout: 120_000 });
  const strip = await wv.locator('#data-loss').innerText();
  // The run reports what the preview said, from the same code.
  if (!cut || !strip.includes(`${cut[1]} prompts and ${cut[2]} completions cut (${cut[3]} tokens dropped)`)) throw new Error(`the strip says "${strip}", the preview said "${preview}"`);
  lap(`warnings strip: ${strip}`);
  await wv.locator('#run-phase', { hasText: 'finished' }).waitFor({ timeout: 240_000 });
  await shot(page, 'preview-dashboard-warnings-strip');
});
