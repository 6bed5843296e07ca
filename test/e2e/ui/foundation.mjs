// Foundation UI tests: the sidebar, a palette command, a webview round trip, and the empty states.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lap, runCommand, openSidebar, webviewFrame, shot, viewRow, welcome, GENERATED } from '../lib.mjs';

/** Each test: name, workspace (see uiTests.mjs: 'generated', 'real', 'empty', 'none', 'untrusted'), fn(page, ctx). */
export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

/** The sidebar lists `pairs` and `unpaired` (both of `records` records) with counts, and the built-in model. */
async function checkSidebar(page, { pairs, unpaired, records }) {
  await openSidebar(page);
  await viewRow(page, 'Datasets', pairs).waitFor({ timeout: 30_000 });
  const text = await viewRow(page, 'Datasets', pairs).innerText();
  if (!text.includes(`${records} records`)) throw new Error(`expected "${records} records" in the dataset row, got: ${text}`);
  await viewRow(page, 'Datasets', unpaired).waitFor();
  await viewRow(page, 'Models', 'Built-in tiny model').waitFor({ timeout: 15_000 });
}

/** Opens the preview of `file` (in the workspace's data/) from the palette and pages through it via the host. */
async function checkPreview(page, workspace, file, records, shotName) {
  await openSidebar(page);
  await viewRow(page, 'Datasets', file).waitFor({ timeout: 30_000 });
  await runCommand(page, 'Alignment: Preview Dataset');
  const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: file }).first();
  await pick.waitFor({ timeout: 15_000 });
  await pick.click();
  await page.locator('.tab', { hasText: `Preview: ${file}` }).first().waitFor({ timeout: 15_000 });
  const wv = webviewFrame(page);
  await wv.locator('#record-count', { hasText: `${records} records` }).waitFor({ timeout: 30_000 });
  await shot(page, shotName);
  const first = await wv.locator('article.record').count();
  if (first !== 20) throw new Error(`expected the first page of 20 records, got ${first}`);
  const want = JSON.parse(fs.readFileSync(path.join(workspace, 'data', file), 'utf8').split('\n')[0]).prompt[0].content;
  const firstPrompt = await wv.locator('article.record').first().locator('.field-prompt pre').innerText();
  if (!firstPrompt.includes(want.slice(0, 40))) throw new Error(`first record's prompt not shown: ${firstPrompt.slice(0, 80)}`);
  // webview -> host (request a page) -> webview (render it)
  await wv.locator('#load-more').click();
  await wv.locator('article.record[data-line="40"]').waitFor({ timeout: 15_000 });
  lap('preview paged through the host: 40 records shown');
}

test('sidebar lists the workspace datasets with record counts, runs and models', 'generated', async (page) => {
  await checkSidebar(page, GENERATED);
  await shot(page, 'sidebar-generated');
});

test('a palette command opens the dataset preview and the webview round-trips', 'generated', async (page, { workspace }) => {
  await checkPreview(page, workspace, GENERATED.pairs, GENERATED.records, 'dataset-preview-generated');
});

test('real data: the sidebar counts the 300 real pairs and the preview pages through them', 'real', async (page, { workspace }) => {
  await checkSidebar(page, { pairs: 'dpo_en_demo.trl.jsonl', unpaired: 'kto_en_demo.trl.jsonl', records: 300 });
  await shot(page, 'sidebar');
  await checkPreview(page, workspace, 'dpo_en_demo.trl.jsonl', 300, 'dataset-preview');
  const prompt = await webviewFrame(page).locator('article.record').first().locator('.field-prompt pre').innerText();
  if (!prompt.includes('Angela')) throw new Error(`the first real prompt is about Angela, shown: ${prompt.slice(0, 80)}`);
});

test('an empty workspace shows "No datasets yet" and creates a sample', 'empty', async (page) => {
  await openSidebar(page);
  await welcome(page, 'Datasets', 'No datasets yet').waitFor({ timeout: 30_000 });
  await welcome(page, 'Runs', 'No training runs yet').waitFor({ timeout: 15_000 }).catch(() => {});
  await shot(page, 'empty-workspace');
  await page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Datasets' }) }).getByRole('button', { name: 'Create Sample Dataset' }).click();
  await viewRow(page, 'Datasets', 'preferences.sample.jsonl').waitFor({ timeout: 30_000 });
  const text = await viewRow(page, 'Datasets', 'preferences.sample.jsonl').innerText();
  if (!/10 records/.test(text)) throw new Error(`expected 10 records for the sample, got ${text}`);
});

test('with no folder open the sidebar offers to open one', 'none', async (page) => {
  await openSidebar(page);
  await welcome(page, 'Datasets', 'No folder is open').waitFor({ timeout: 30_000 });
  await viewRow(page, 'Models', 'Built-in tiny model').waitFor({ timeout: 15_000 });
  await shot(page, 'no-folder');
});

test('an untrusted workspace activates in restricted mode and says what is disabled', 'untrusted', async (page) => {
  await openSidebar(page);
  await viewRow(page, 'Datasets', GENERATED.pairs).waitFor({ timeout: 30_000 });
  // the datasets are listed (the extension activated) and, above them, what Restricted Mode turns off
  await viewRow(page, 'Datasets', 'Restricted Mode: labeling only').waitFor({ timeout: 10_000 });
  await shot(page, 'untrusted-workspace');
});


test('the Get Started walkthrough opens from the palette', 'empty', async (page) => {
  await runCommand(page, 'Alignment: Get Started');
  await page.locator('.gettingStartedContainer', { hasText: 'Get Started with Alignment Studio' }).first().waitFor({ timeout: 30_000 });
  await page.locator('.gettingStartedContainer', { hasText: 'Open or create a preference dataset' }).first().waitFor({ timeout: 10_000 });
  await shot(page, 'walkthrough');
});
