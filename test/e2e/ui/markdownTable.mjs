// GFM tables in the comparison panel of a real VS Code: two replies that differ in one table cell render as
// tables (alignment from the delimiter row, an escaped pipe kept in a code span, Chinese in cells), and the word
// diff's highlight lands inside the cell that differs, not on the pipes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lap, runCommand, webviewFrame, shot, sleep } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const table = (qwen) =>
  [
    '各模型在基准上的得分：',
    '',
    '| 模型 | 参数量 | 得分 |',
    '| :--- | :---: | ---: |',
    '| **Llama** | 7B | 61.2 |',
    `| 通义千问 | 7B | ${qwen} |`,
    '| `a \\| b` | — | 50.0 |',
    '',
    '得分越高越好。',
  ].join('\n');

test('markdown tables: the comparison panel renders GFM tables and the word diff highlights inside a table cell', 'generated', async (page, { workspace }) => {
  const name = 'table_pairs.jsonl';
  const row = { prompt: '比较两个模型的得分，用表格回答。', chosen: table('68.4'), rejected: table('59.1') };
  fs.writeFileSync(path.join(workspace, 'data', name), JSON.stringify(row) + '\n');
  await runCommand(page, 'View: Close All Editors');
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill(`data/${name}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await sleep(1500);
  await runCommand(page, 'Alignment: Label Pairs (Comparison Queue)');
  await page.locator('.tab', { hasText: `Label: ${name}` }).first().waitFor({ timeout: 30_000 });
  const wv = webviewFrame(page);
  await wv.locator('#cand-A .md-table table').waitFor({ timeout: 30_000 });
  for (let i = 0; i < 3 && !(await wv.locator('#toggle-diff', { hasText: 'Diff: on' }).count()); i++) {
    await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('d');
    await sleep(300);
  }
  await wv.locator('#cand-A .md-table td mark.diff').first().waitFor({ timeout: 15_000 });

  for (const side of ['A', 'B']) {
    const cells = await wv.locator(`#cand-${side} .md-table tr`).evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    const want = [['模型', '参数量', '得分'], ['Llama', '7B', '61.2'], ['通义千问', '7B', null], ['a | b', '—', '50.0']];
    if (cells.length !== 4 || cells.some((r, i) => r.length !== 3 || r.some((c, j) => want[i][j] !== null && c !== want[i][j]))) throw new Error(`table ${side} renders as ${JSON.stringify(cells)}`);
    // Every highlight lies in the score cell that differs (the word diff may split 68.4 into pieces), none on a pipe.
    const marks = await wv.locator(`#cand-${side} mark.diff`).evaluateAll((ms) => ms.map((m) => ({ text: m.textContent, cell: m.closest('td')?.textContent, align: m.closest('td')?.dataset.align })));
    const ok = marks.length > 0 && marks.every((m) => ['68.4', '59.1'].includes(m.cell) && m.align === 'right' && !m.text.includes('|'));
    if (!ok) throw new Error(`side ${side}: the highlights are not all in the differing score cell: ${JSON.stringify(marks)}`);
  }
  const aligns = await wv.locator('#cand-A .md-table tr:nth-child(1) td').evaluateAll((tds) => tds.map((td) => getComputedStyle(td).textAlign));
  if (aligns.join() !== 'left,center,right') throw new Error(`column alignment ${aligns.join()}, expected left,center,right`);
  await sleep(300);
  await shot(page, 'comparison-markdown-table');
  lap('tables rendered; the diff highlights the differing score cell');
});
