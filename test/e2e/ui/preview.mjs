// What a run leaves out is shown before and while it trains: the launch form previews truncation (rows cut and
// tokens lost, counted by a calibration session with the model's tokenizer) and measures the time; the dashboard
// of the started run shows the warnings strip with the same counts. Screenshots of both.
import { lap, runCommand, openSidebar, webviewFrame, shot, viewRow, sleep } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

test('preview: the launch form previews truncation and the measured time; the dashboard shows the warnings strip', 'empty', async (page) => {
  await openSidebar(page);
  await page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Datasets' }) }).getByRole('button', { name: 'Create Sample Dataset' }).click();
  await viewRow(page, 'Datasets', 'preferences.sample.jsonl').waitFor({ timeout: 30_000 });

  await runCommand(page, 'Alignment: Start Training Run');
  await page.locator('.tab', { hasText: 'Start Training Run' }).first().waitFor({ timeout: 15_000 });
  let wv = webviewFrame(page);
  await wv.locator('#method-axes tr').nth(7).waitFor({ timeout: 30_000 });
  if ((await wv.locator('#method').inputValue()) !== 'dpo') await wv.locator('#method').selectOption('dpo');
  const values = await wv.locator('#dataset option').evaluateAll((os) => os.map((o) => o.value));
  const sample = values.find((v) => v.endsWith('preferences.sample.jsonl'));
  if (!sample) throw new Error(`the sample dataset is not offered; options: ${values.join(' | ')}`);
  await wv.locator('#dataset').selectOption(sample);
  await wv.locator('#run-name').fill('ui-cut');
  const set = async (id, v) => wv.locator(`#${id}`).fill(String(v));
  await set('f-maxSteps', 4);
  await set('f-batchSize', 2);
  // Short enough that the sample's prompts and replies do not fit.
  await set('f-data-maxLength', 24);
  await set('f-data-evalSplit', 0);
  await set('f-intervals-logging', 1);
  await set('f-intervals-sample', 0);
  await set('f-intervals-checkpoint', 0);
  await set('f-intervals-eval', 0);
  await wv.locator('#device-cpu').check({ timeout: 30_000 });
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
