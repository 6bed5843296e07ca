// Labeling in a real VS Code: the comparison panel with the keyboard, CodeLens in the editor, a window reload,
// and the export. The dataset is the generated pairs (test/support/testWorkspaces.ts) in a throw-away workspace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lap, runCommand, openSidebar, webviewFrame, shot, sleep, viewRow, waitForWorkbench, GENERATED } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });
const PAIRS = GENERATED.pairs;
const N = GENERATED.records;

/** Every current comparison in the dataset's journals: recordId -> preferred key (undone decisions removed). */
function comparisons(workspace) {
  const dir = path.join(workspace, 'data', '.alignment', `${PAIRS}.labels`);
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) : [];
  const retracted = new Set(entries.filter((e) => e.type === 'retract').map((e) => e.payload.entryId));
  const out = new Map();
  for (const e of entries) if (e.type === 'comparison' && !retracted.has(e.id)) out.set(e.recordId, e);
  return out;
}

test('label 5 pairs with the keyboard in the comparison panel and 2 with CodeLens; labels survive a reload; export', 'generated', async (page, { workspace }) => {
  const dataset = path.join(workspace, 'data', PAIRS);
  const original = fs.readFileSync(dataset, 'utf8');
  await openSidebar(page);
  await viewRow(page, 'Datasets', PAIRS).waitFor({ timeout: 30_000 });

  // 1) the comparison panel on the pairs, from the dataset's context menu in the Datasets view
  // (the context menu can swallow a click made while it is still opening: retry)
  for (let attempt = 1; ; attempt++) {
    await viewRow(page, 'Datasets', PAIRS).click({ button: 'right' });
    const item = page.locator('.context-view .action-label', { hasText: 'Label Pairs' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    await sleep(300);
    await item.click();
    try {
      await page.locator('.tab', { hasText: `Label: ${PAIRS}` }).first().waitFor({ timeout: 20_000 });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (attempt >= 3) throw e;
    }
  }
  const wv = webviewFrame(page);
  await wv.locator('#progress-text', { hasText: `0 of ${N}` }).waitFor({ timeout: 30_000 });
  await wv.locator('#cand-A').waitFor();
  await shot(page, 'comparison-panel');

  // 5 decisions with the keys: 1 (A), 2 (B), 3 (tie), 1, 2 — each moves the queue on
  const keys = ['1', '2', '3', '1', '2'];
  for (let i = 0; i < keys.length; i++) {
    await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } }); // focus inside the webview
    await page.keyboard.press(keys[i]);
    await wv.locator('#progress-text', { hasText: `${i + 1} of ${N}` }).waitFor({ timeout: 15_000 });
  }
  lap('5 decisions made with the keyboard');
  await shot(page, 'comparison-panel-after-5');
  let labels = comparisons(workspace);
  if (labels.size !== 5) throw new Error(`expected 5 comparisons in the journal, found ${labels.size}`);
  const ties = [...labels.values()].filter((e) => e.payload.preferred === null).length;
  if (ties !== 1) throw new Error(`expected 1 tie among the keyboard decisions, got ${ties}`);
  for (const e of labels.values()) if (!Array.isArray(e.payload.order) || e.payload.order.length !== 2) throw new Error('the displayed order must be recorded');

  // 2) two more through CodeLens in the editor, on records the panel has not shown yet
  await runCommand(page, 'View: Close All Editors');
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill(`data/${PAIRS}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: PAIRS }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .codelens-decoration a', { hasText: 'A better' }).first().waitFor({ timeout: 30_000 });
  await shot(page, 'inline-codelens');
  const labeledLenses = page.locator('.monaco-editor .codelens-decoration', { hasText: '✓' });
  const unlabeledLenses = page.locator('.monaco-editor .codelens-decoration', { hasNotText: '✓' }).locator('a', { hasText: 'B better' });
  for (let k = 1; k <= 2; k++) {
    const shown = await labeledLenses.count();
    await unlabeledLenses.first().click();
    for (let i = 0; i < 50 && comparisons(workspace).size < 5 + k; i++) await sleep(200);
    // wait for the lens row to show the new label before clicking the next record's lens
    for (let i = 0; i < 50 && (await labeledLenses.count()) <= shown; i++) await sleep(200);
  }
  labels = comparisons(workspace);
  if (labels.size !== 7) throw new Error(`expected 7 comparisons after 2 CodeLens clicks, found ${labels.size}`);
  await page.locator('.monaco-editor .codelens-decoration a', { hasText: '✓ B better' }).first().waitFor({ timeout: 15_000 });
  await shot(page, 'inline-codelens-labeled');

  // 3) reload the window: the labels are still there (panel progress and Datasets view counts)
  await runCommand(page, 'Developer: Reload Window');
  await waitForWorkbench(page);
  await openSidebar(page);
  const ds = viewRow(page, 'Datasets', PAIRS);
  await ds.waitFor({ timeout: 90_000 });
  await ds.locator('.monaco-tl-twistie').click().catch(() => {});
  await viewRow(page, 'Datasets', `Labeled 7 of ${N}`).waitFor({ timeout: 30_000 });
  await shot(page, 'datasets-label-counts');

  // 4) export to TRL preference format
  for (let attempt = 1; ; attempt++) {
    await ds.click({ button: 'right' });
    const item = page.locator('.context-view .action-label', { hasText: 'Export Labels' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    await sleep(300);
    await item.click();
    try {
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Preference pairs' }).first().waitFor({ timeout: 15_000 });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (attempt >= 3) throw e;
    }
  }
  for (const choice of ['Preference pairs', 'Drop ties', 'Leave flagged records out']) {
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: choice }).first();
    await row.waitFor({ timeout: 15_000 });
    await row.click();
  }
  const out = path.join(workspace, 'data', PAIRS.replace(/\.jsonl$/, '.dpo.jsonl'));
  for (let i = 0; i < 50 && !fs.existsSync(out); i++) await sleep(200);
  const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  if (rows.length !== 6) throw new Error(`expected 6 exported pairs (7 labels, 1 tie dropped), got ${rows.length}`);
  const src = new Map(original.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.id, r]));
  for (const [id, e] of comparisons(workspace)) {
    if (e.payload.preferred === null) continue;
    const r = src.get(id);
    const want = e.payload.preferred === 'chosen' ? r.chosen : r.rejected;
    if (!rows.some((row) => JSON.stringify(row.chosen) === JSON.stringify(want) && JSON.stringify(row.prompt) === JSON.stringify(r.prompt))) {
      throw new Error(`export lacks record ${id} with its preferred response as chosen`);
    }
  }
  if (fs.readFileSync(dataset, 'utf8') !== original) throw new Error('the dataset file was modified');
  lap('exported 6 pairs; dataset untouched');
});
