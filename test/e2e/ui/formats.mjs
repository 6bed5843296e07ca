// Every format training reads, labeled in a real VS Code: LLaMA-Factory's ShareGPT preference file (the real data,
// a pretty-printed .json array) through CodeLens, the labeling-mode keys and the comparison panel; and Chinese
// ShareGPT data, with screenshots in which the Chinese must render (fonts-noto-cjk, scripts/e2e-setup.sh).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { lap, runCommand, webviewFrame, shot, sleep } from '../lib.mjs';

const { contentId } = await tsImport('../../../src/core/datasets/jsonlScan.ts', import.meta.url);

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

/** Current comparisons in a dataset's journals: recordId -> entry (undone ones removed). */
function comparisons(dataset) {
  const dir = path.join(path.dirname(dataset), '.alignment', `${path.basename(dataset)}.labels`);
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) : [];
  const retracted = new Set(entries.filter((e) => e.type === 'retract').map((e) => e.payload.entryId));
  return new Map(entries.filter((e) => e.type === 'comparison' && !retracted.has(e.id)).map((e) => [e.recordId, e]));
}

async function waitFor(what, check, ms = 20_000) {
  for (let t = 0; t < ms; t += 200) {
    const v = await check();
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function openFile(page, rel, name) {
  await runCommand(page, 'View: Close All Editors');
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill(rel);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** The comparison panel of the active editor's dataset, through the command palette. */
async function openPanel(page, name) {
  await runCommand(page, 'Alignment: Label Pairs (Comparison Queue)');
  await page.locator('.tab', { hasText: `Label: ${name}` }).first().waitFor({ timeout: 30_000 });
  return webviewFrame(page);
}

test('LLaMA-Factory ShareGPT .json: no false problems, CodeLens, labeling-mode keys and the panel label the right records; the file is untouched', 'real', async (page, { workspace }) => {
  const name = 'dpo_en_demo.sharegpt.json';
  const dataset = path.join(workspace, 'data', name);
  const original = fs.readFileSync(dataset, 'utf8');
  const rows = JSON.parse(original);
  const ids = rows.map((r) => contentId(r));
  await openFile(page, `data/${name}`, name);

  // 1) CodeLens on the first record (element 0), and no "missing field" squiggles
  const bLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'B better' }).first();
  await bLens.waitFor({ timeout: 60_000 });
  await sleep(1000);
  const errors = await page.locator('.monaco-editor .squiggly-error').count();
  if (errors !== 0) throw new Error(`${errors} error squiggles in a file that trains without a skipped row`);
  await shot(page, 'sharegpt-json-codelens');
  await bLens.click();
  const first = await waitFor('the CodeLens decision in the journal', () => comparisons(dataset).get(ids[0]));
  if (first.payload.preferred !== 'rejected') throw new Error(`B better on element 0 recorded ${first.payload.preferred}`);
  await page.locator('.monaco-editor .codelens-decoration a', { hasText: '✓ B better' }).first().waitFor({ timeout: 15_000 });
  lap('CodeLens labeled element 0 (B better = its rejected response)');

  // 2) labeling mode: Alt+1 labels the record under the cursor, which the lens moved on to (element 1)
  await runCommand(page, 'Alignment: Toggle Labeling Mode (Labeling Keys)');
  await page.locator('.statusbar-item', { hasText: 'Labeling mode' }).first().waitFor({ timeout: 15_000 });
  await page.locator('.monaco-editor .view-lines').first().click({ position: { x: 60, y: 5 } }).catch(() => {});
  await runCommand(page, 'Go to Line/Column...').catch(() => {});
  const elementLines = original.split('\n').flatMap((l, i) => (l === '  {' ? [i + 1] : []));
  await page.keyboard.type(String(elementLines[1]));
  await page.keyboard.press('Enter');
  await page.keyboard.press('Alt+1');
  const second = await waitFor('the Alt+1 decision in the journal', () => comparisons(dataset).get(ids[1]));
  if (second.payload.preferred !== 'chosen') throw new Error(`Alt+1 on element 1 recorded ${second.payload.preferred}`);
  await shot(page, 'sharegpt-json-labeling-mode');
  await runCommand(page, 'Alignment: Toggle Labeling Mode (Labeling Keys)');
  await page.locator('.statusbar-item', { hasText: 'Labeling keys off' }).first().waitFor({ timeout: 15_000 });
  lap('labeling mode: Alt+1 labeled element 1; mode off again');

  // 3) the comparison panel: 300 pairs, 2 done; a decision with the keyboard goes to a record of this file
  const wv = await openPanel(page, name);
  await wv.locator('#progress-text', { hasText: '2 of 300' }).waitFor({ timeout: 60_000 });
  await wv.locator('#cand-A').waitFor();
  await shot(page, 'sharegpt-json-panel');
  const shownPrompt = (await wv.locator('#prompt').innerText()).trim();
  await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('2');
  await wv.locator('#progress-text', { hasText: '3 of 300' }).waitFor({ timeout: 15_000 });
  const labels = comparisons(dataset);
  if (labels.size !== 3) throw new Error(`expected 3 comparisons, found ${labels.size}`);
  const third = [...labels.values()].find((e) => e.recordId !== ids[0] && e.recordId !== ids[1]);
  const at = ids.indexOf(third.recordId);
  if (at < 0) throw new Error(`the panel labeled ${third.recordId}, which is no record of ${name}`);
  const human = rows[at].conversations.filter((m) => m.from === 'human').pop().value;
  if (!shownPrompt.includes(human.slice(0, 40))) throw new Error(`the panel showed another prompt than element ${at}'s`);
  if (fs.readFileSync(dataset, 'utf8') !== original) throw new Error('the dataset file was modified');
  lap(`panel labeled element ${at}; file untouched`);
});

/** Chinese preference pairs in LLaMA-Factory's ShareGPT format, written for this test. */
const ZH_ROWS = [
  { q: '天空为什么是蓝色的？', c: '因为瑞利散射：短波长的蓝光比红光更容易被大气中的分子散射，所以我们看到的天空是蓝色的。', r: '因为海洋的反射：海水是蓝色的，天空反射了海洋的颜色，所以天空是蓝色的。' },
  { q: '请用一句话介绍长城。', c: '长城是中国古代为抵御北方游牧民族而修建的军事防御工程，总长度超过两万公里。', r: '长城是一座位于北京市中心的现代建筑，建于二十世纪。' },
  { q: '如何煮一碗好吃的面条？', c: '水开后下面，中途加一次冷水，煮到面芯刚熟时捞出，再拌入热汤和调料。', r: '把面条放进冷水里泡一个小时，然后直接吃。' },
  { q: '“学而时习之”出自哪本书？', c: '出自《论语·学而》，是孔子的话，意思是学习之后要按时温习。', r: '出自《红楼梦》，是贾宝玉说的话。' },
];

test('Chinese data: a ShareGPT .json in Chinese labels through CodeLens and the panel, and the screenshots show Chinese', 'generated', async (page, { workspace }) => {
  const name = 'dpo_zh_demo.json';
  const dataset = path.join(workspace, 'data', name);
  const rows = ZH_ROWS.map((x) => ({ conversations: [{ from: 'human', value: x.q }], chosen: { from: 'gpt', value: x.c }, rejected: { from: 'gpt', value: x.r } }));
  fs.writeFileSync(dataset, JSON.stringify(rows, null, 2) + '\n');
  const ids = rows.map((r) => contentId(r));
  await openFile(page, `data/${name}`, name);
  const aLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'A better' }).first();
  await aLens.waitFor({ timeout: 60_000 });
  await sleep(800);
  await shot(page, 'chinese-editor-codelens');
  await aLens.click();
  await waitFor('the CodeLens decision', () => comparisons(dataset).get(ids[0]));

  const wv = await openPanel(page, name);
  await wv.locator('#progress-text', { hasText: `1 of ${rows.length}` }).waitFor({ timeout: 60_000 });
  await wv.locator('#cand-A').waitFor();
  const prompt = await wv.locator('#prompt').innerText();
  if (!/[\u4e00-\u9fff]/.test(prompt)) throw new Error(`the panel's prompt has no Chinese: ${prompt}`);
  // The word diff marks words, not whole sentences: some of each response stays unmarked. `d` turns the marks on
  // (auto leaves two replies that share few words unmarked).
  await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('d');
  await wv.locator('#toggle-diff', { hasText: 'Diff: on' }).waitFor({ timeout: 15_000 });
  await wv.locator('#cand-A .diff').first().waitFor({ timeout: 15_000 });
  const marked = (await wv.locator('#cand-A .diff').allInnerTexts()).join('');
  const whole = (await wv.locator('#cand-A').innerText()).replace(/\s/g, '');
  if (marked.length === 0 || marked.replace(/\s/g, '').length >= whole.length * 0.95) throw new Error(`the diff marks ${marked.length} of ${whole.length} characters of A`);
  await shot(page, 'chinese-comparison-panel');
  await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('1');
  await wv.locator('#progress-text', { hasText: `2 of ${rows.length}` }).waitFor({ timeout: 15_000 });
  if (comparisons(dataset).size !== 2) throw new Error('expected 2 comparisons');
  lap('Chinese pairs labeled in the editor and the panel');
});
