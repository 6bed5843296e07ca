// UI suite: drives the real workbench the way a person would (activity bar, palette, webviews) and saves
// screenshots of what it shows under test-output/screenshots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, lap, startCodeServer, launchBrowser, workbenchUrl, waitForWorkbench, runCommand, openSidebar, webviewFrame, shot, sleep } from './lib.mjs';

/** A UI test: `workspace` is 'data' (the real pairs), 'empty', 'none' (no folder) or 'untrusted'. */
const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const viewRow = (page, view, text) =>
  page.locator('.pane', { has: page.locator('.pane-header', { hasText: view }) }).locator('.monaco-list-row', { hasText: text }).first();
const welcome = (page, view, text) =>
  page.locator('.pane', { has: page.locator('.pane-header', { hasText: view }) }).locator('.welcome-view-content', { hasText: text }).first();

test('sidebar lists the workspace datasets with record counts, runs and models', 'data', async (page) => {
  await openSidebar(page);
  await viewRow(page, 'Datasets', 'dpo_en_demo.trl.jsonl').waitFor({ timeout: 30_000 });
  const row = viewRow(page, 'Datasets', 'dpo_en_demo.trl.jsonl');
  const text = await row.innerText();
  if (!/300 records/.test(text)) throw new Error(`expected "300 records" in the dataset row, got: ${text}`);
  await viewRow(page, 'Datasets', 'kto_en_demo.trl.jsonl').waitFor();
  await viewRow(page, 'Models', 'Built-in tiny model').waitFor({ timeout: 15_000 });
  await shot(page, 'sidebar');
});

test('a palette command opens the dataset preview and the webview round-trips', 'data', async (page) => {
  await openSidebar(page);
  await viewRow(page, 'Datasets', 'dpo_en_demo.trl.jsonl').waitFor({ timeout: 30_000 });
  await runCommand(page, 'Alignment: Preview Dataset');
  const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'dpo_en_demo.trl.jsonl' }).first();
  await pick.waitFor({ timeout: 15_000 });
  await pick.click();
  await page.locator('.tab', { hasText: 'Preview: dpo_en_demo.trl.jsonl' }).first().waitFor({ timeout: 15_000 });
  const wv = webviewFrame(page);
  await wv.locator('#record-count', { hasText: '300 records' }).waitFor({ timeout: 30_000 });
  const first = await wv.locator('article.record').count();
  if (first !== 20) throw new Error(`expected the first page of 20 records, got ${first}`);
  const firstPrompt = await wv.locator('article.record').first().locator('.field-prompt pre').innerText();
  if (!firstPrompt.includes('Angela')) throw new Error(`first record's prompt not shown: ${firstPrompt.slice(0, 80)}`);
  // webview -> host (request a page) -> webview (render it)
  await wv.locator('#load-more').click();
  await wv.locator('article.record[data-line="40"]').waitFor({ timeout: 15_000 });
  lap('preview paged through the host: 40 records shown');
  await shot(page, 'dataset-preview');
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
  await welcome(page, 'Datasets', 'not trusted').waitFor({ timeout: 30_000 });
  await viewRow(page, 'Datasets', 'dpo_en_demo.trl.jsonl').waitFor({ timeout: 30_000 });
  await shot(page, 'untrusted-workspace');
});

async function openWorkbench(cs, base, kind, dataWorkspace, devPath) {
  const { ctx, page } = await launchBrowser(base);
  const folder = kind === 'none' ? undefined : kind === 'empty' ? fs.mkdtempSync(path.join(base, 'ws-empty-')) : dataWorkspace(base, `ws-${kind}-${Date.now()}`);
  await page.goto(workbenchUrl(cs, { folder, devPath }));
  if (kind === 'untrusted') {
    // Workspace trust asks at startup; decline, as a cautious user would.
    const no = page.getByRole('button', { name: /No, I don't trust the authors|Don't Trust/i }).first();
    await no.waitFor({ timeout: 60_000 });
    await no.click();
    lap('declined workspace trust: restricted mode');
  }
  await waitForWorkbench(page);
  return { ctx, page };
}

export async function uiTests(base, { dataWorkspace, devPath = ROOT, filter } = {}) {
  const servers = {};
  const result = { passed: 0, failed: 0, failures: [] };
  try {
    for (const t of tests) {
      if (filter && !t.name.includes(filter)) continue;
      const trust = t.workspace !== 'untrusted';
      servers[trust] ??= await startCodeServer({ base, trust, name: trust ? 'cs-ui' : 'cs-ui-untrusted' });
      const started = Date.now();
      let ctx;
      try {
        const wb = await openWorkbench(servers[trust], base, t.workspace, dataWorkspace, devPath);
        ctx = wb.ctx;
        await t.fn(wb.page);
        result.passed++;
        console.log(`  ok   ${t.name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      } catch (e) {
        result.failed++;
        result.failures.push(`${t.name}: ${String(e && e.message || e).split('\n')[0]}`);
        console.log(`  FAIL ${t.name}: ${e && e.stack || e}`);
        if (ctx) await shot(ctx.pages()[0], `FAILED-${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => {});
      } finally {
        if (ctx) await ctx.close().catch(() => {});
        await sleep(200);
      }
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
  return result;
}
