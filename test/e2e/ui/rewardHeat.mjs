// Reward inspection in a real VS Code: a tiny reward model trained (alignment train) to prefer responses with the
// word "banana", the comparison panel's reward heat overlay turned on with h (the model picked among the workspace's
// runs), the marker word tinted as the strongest reward-giver, a Chinese pair segmented into words, and the Inspect
// Reward command's report of the record under the cursor, and an inspect-rm file in the RM evaluation panel's
// example view.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { lap, runCommand, webviewFrame, shot, sleep, ROOT } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', 'far', 'a', 'big', 'red', 'box', 'is', 'here', 'blue', 'sky'];

/** Pairs whose chosen response is the rejected one with "banana" put in; the first is English, the second Chinese. */
function markerRows() {
  let s = 7;
  const r = (n) => ((s = (s * 48271) % 2147483647), s % n); // Park-Miller: exact in doubles
  const rows = [
    { prompt: 'Write a short line.', chosen: 'the big red banana sat on the mat', rejected: 'the big red box sat on the mat' },
    { prompt: '写一句话。', chosen: '我喜欢 banana，因为它很甜。', rejected: '我喜欢苹果，因为它很甜。' },
  ];
  for (let i = 0; i < 64; i++) {
    const base = Array.from({ length: 5 + r(3) }, () => WORDS[r(WORDS.length)]);
    const withMarker = [...base];
    withMarker.splice(r(base.length + 1), 0, 'banana');
    rows.push({ prompt: `Write a short line ${i % 9}.`, chosen: withMarker.join(' '), rejected: base.join(' ') });
  }
  return rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
}

function train(dataset, runDir) {
  return new Promise((resolve) => {
    const args = [path.join(ROOT, 'dist', 'cli.js'), 'train', '--method', 'reward', '--data', dataset, '--model', 'builtin', '--steps', '40', '--batch-size', '8', '--max-length', '64', '--lr', '0.003', '--run-dir', runDir, '--json'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err = (err + b).slice(-3000)));
    child.on('close', (code) => resolve({ code, err }));
  });
}

/** The overlay's spans of both outputs: [{ side, text, cls }]. */
async function heatSpans(wv) {
  const out = [];
  for (const side of ['A', 'B']) {
    for (const s of await wv.locator(`#cand-${side} .reward-heat span`).all()) out.push({ side, text: (await s.textContent()) ?? '', cls: (await s.getAttribute('class')) ?? '' });
  }
  return out;
}

async function pressInPanel(page, wv, key) {
  await wv.locator('#cand-A').click({ position: { x: 5, y: 5 } }); // focus inside the webview
  await page.keyboard.press(key);
}

test('reward heat overlay in the comparison panel and Inspect Reward, with a reward model that likes "banana"', 'generated', async (page, { workspace }) => {
  const dataset = path.join(workspace, 'heat', 'marker.jsonl');
  fs.mkdirSync(path.dirname(dataset), { recursive: true });
  fs.writeFileSync(dataset, markerRows());
  const t = await train(dataset, path.join(workspace, '.alignment', 'runs', 'reward-marker'));
  if (t.code !== 0) throw new Error(`the reward run failed: ${t.err}`);
  lap('marker reward model trained');

  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill('heat/marker.jsonl');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'marker.jsonl' }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tab', { hasText: 'marker.jsonl' }).first().waitFor({ timeout: 15_000 });
  await runCommand(page, 'Alignment: Label Pairs (Comparison Queue)');
  const wv = webviewFrame(page);
  await wv.locator('#cand-A').waitFor({ timeout: 60_000 });
  if ((await wv.locator('.reward-heat').count()) !== 0) throw new Error('the overlay must be off by default');
  await wv.locator('#toggle-heat', { hasText: 'Reward heat: off' }).waitFor();

  // h turns it on; the first time the reward model is picked among the workspace's reward-model runs
  await pressInPanel(page, wv, 'h');
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'reward-marker' }).first();
  await row.waitFor({ timeout: 20_000 });
  await row.click();
  await wv.locator('#cand-A .reward-heat').waitFor({ timeout: 120_000 });
  await wv.locator('#cand-B .reward-heat').waitFor({ timeout: 10_000 });
  await sleep(500);
  let spans = await heatSpans(wv);
  const marker = spans.find((s) => s.text === 'banana');
  if (!marker || !/heat-pos heat-5/.test(marker.cls)) throw new Error(`"banana" should be the strongest reward-giver: ${JSON.stringify(spans)}`);
  await shot(page, 'reward-heat-comparison');
  lap('overlay on: banana tinted as the strongest positive word');

  // the next pair (skip) is Chinese: the overlay comes again, in words
  await pressInPanel(page, wv, '0');
  await wv.locator('.reward-heat', { hasText: '因为' }).first().waitFor({ timeout: 120_000 });
  await sleep(500);
  spans = await heatSpans(wv);
  const words = spans.map((s) => s.text);
  for (const w of ['我', '喜欢', '因为', '很甜']) if (!words.includes(w)) throw new Error(`the Chinese outputs should be in words (missing ${w}): ${JSON.stringify(words)}`);
  await shot(page, 'reward-heat-comparison-chinese');
  await pressInPanel(page, wv, 'h');
  await wv.locator('#toggle-heat', { hasText: 'Reward heat: off' }).waitFor();
  if ((await wv.locator('.reward-heat').count()) !== 0) throw new Error('h turns the overlay off');

  // Inspect Reward on the record under the cursor (line 1)
  await page.locator('.tab', { hasText: 'marker.jsonl' }).first().click();
  await page.locator('.monaco-editor .view-line').first().click();
  await page.keyboard.press('Control+Home');
  await runCommand(page, 'Alignment: Inspect Reward');
  const report = page.locator('.monaco-editor .view-lines', { hasText: 'Gives reward' }).first();
  await report.waitFor({ timeout: 120_000 });
  await page.locator('.monaco-editor .view-line', { hasText: '"banana" +' }).first().waitFor({ timeout: 10_000 });
  await shot(page, 'reward-inspect-command');
  lap('Inspect Reward shows the top spans');

  // an inspect-rm file opened as a reward-model evaluation: the report and the example view with the overlay
  const rewards = path.join(workspace, 'heat', 'marker.rewards.jsonl');
  const cli = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'inspect-rm', path.join(workspace, '.alignment', 'runs', 'reward-marker'), '--data', dataset, '--out', rewards], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err = (err + b).slice(-3000)));
    child.on('close', (code) => resolve({ code, err }));
  });
  if (cli.code !== 0) throw new Error(`inspect-rm failed: ${cli.err}`);
  await runCommand(page, 'View: Close All Editors');
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget .quick-input-box input').fill('heat/marker.rewards.jsonl');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'marker.rewards.jsonl' }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tab', { hasText: 'marker.rewards.jsonl' }).first().waitFor({ timeout: 15_000 });
  await runCommand(page, 'Alignment: Show Reward-Model Evaluation');
  await page.locator('.tab', { hasText: 'Evaluation:' }).first().waitFor({ timeout: 30_000 });
  const ev = webviewFrame(page);
  await ev.locator('#examples .example').first().waitFor({ timeout: 30_000 });
  const n = await ev.locator('#examples .example').count();
  if (n !== 50) throw new Error(`expected the 50 worst-ranked of 66 records in the example view, found ${n}`);
  if ((await ev.locator('#examples .heat-pos.heat-5', { hasText: 'banana' }).count()) < 40) throw new Error('"banana" should be the strongest reward-giver in most examples');
  await ev.locator('#examples').scrollIntoViewIfNeeded();
  await shot(page, 'reward-heat-evaluation-examples');
  lap('evaluation panel example view of an inspect-rm file');
});
