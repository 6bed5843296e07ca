// AI judges in a real VS Code: AI-label 20 generated pairs with the local OpenAI-compatible test server from the Datasets
// view, see the agreement stats, open the reward-model evaluation panel with a distance matrix; and, in an untrusted
// workspace, the user scorer refused with the reason.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tsImport } from 'tsx/esm/api';
import { spawn } from 'node:child_process';
import { lap, runCommand, openSidebar, webviewFrame, shot, sleep, viewRow, ROOT, GENERATED, generatedId } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const { startJudgeServer, heuristicJudge } = await tsImport('../../support/judgeServer.ts', import.meta.url);

/** Current comparison entries of a dataset's journals. */
function comparisons(dataset) {
  const dir = path.join(path.dirname(dataset), '.alignment', `${path.basename(dataset)}.labels`);
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) : [];
  const retracted = new Set(entries.filter((e) => e.type === 'retract').map((e) => e.payload.entryId));
  return entries.filter((e) => e.type === 'comparison' && !retracted.has(e.id));
}

/** Runs an entry of a Datasets-view row's context menu, retrying while the menu swallows the click. */
async function contextMenu(page, row, text) {
  for (let i = 1; ; i++) {
    await row.click({ button: 'right' });
    const item = page.locator('.context-view .action-label', { hasText: text }).first();
    await item.waitFor({ timeout: 15_000 });
    await sleep(300);
    await item.hover();
    await item.click();
    await sleep(1000);
    if (!(await page.locator('.context-view .monaco-menu').first().isVisible().catch(() => false))) return;
    await page.keyboard.press('Escape');
    if (i >= 3) throw new Error(`the context menu entry "${text}" did not run`);
  }
}

async function pick(page, text) {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first();
  try {
    await row.waitFor({ timeout: 10_000 });
    await row.click();
  } catch {
    // the row exists but the list has not laid it out yet: filter the quick pick by its text and accept
    await page.locator('.quick-input-widget .quick-input-box input').fill(text);
    await page.keyboard.press('Enter');
  }
}

test('AI-label 20 pairs with a local judge server, agreement stats, reward-model evaluation panel', 'generated', async (page, { workspace }) => {
  const server = await startJudgeServer({ behaviour: heuristicJudge(), lifetimeMs: 300_000 });
  try {
    // 20 generated pairs, 3 of them labeled by a person beforehand (so human-vs-AI agreement exists).
    const dataset = path.join(workspace, 'judges', 'pairs20.jsonl');
    fs.mkdirSync(path.dirname(dataset), { recursive: true });
    const lines = fs.readFileSync(path.join(workspace, 'data', GENERATED.pairs), 'utf8').split('\n').filter((l) => l.trim()).slice(0, 20);
    fs.writeFileSync(dataset, lines.join('\n') + '\n');
    const labelsDir = path.join(path.dirname(dataset), '.alignment', 'pairs20.jsonl.labels');
    fs.mkdirSync(labelsDir, { recursive: true });
    const human = [[generatedId(0), 'chosen'], [generatedId(1), 'chosen'], [generatedId(2), 'rejected']].map(([recordId, preferred], i) => JSON.stringify({
      v: 1, id: `human-${i}`, recordId, type: 'comparison', payload: { mode: 'pair', order: ['chosen', 'rejected'], preferred },
      annotator: 'tester', timestamp: new Date(Date.now() - 60_000 + i).toISOString(), source: 'human', seconds: 4, writer: 'tester-window',
    }));
    fs.writeFileSync(path.join(labelsDir, 'tester-window.jsonl'), human.join('\n') + '\n');
    fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'alignment.judge.baseUrl': server.baseUrl, 'alignment.judge.model': 'local-judge', 'alignment.judge.concurrency': 4 }, null, 2));
    // Scores of the same held-out pairs by three reward functions, for the evaluation panel.
    const rows = lines.map((l, i) => {
      const r = JSON.parse(l);
      const len = (x) => (typeof x === 'string' ? x.length : x.map((m) => m.content).join('').length);
      const cl = len(r.chosen);
      const rl = len(r.rejected);
      return { id: r.id, section: i % 3 === 0 ? 'safety' : i % 3 === 1 ? 'chat' : 'reasoning', chosen_length: cl, rejected_length: rl, margin: Math.sin(i * 1.7) + 0.6 };
    });
    // Scores live under .alignment/ (as the CLI writes them), so the Datasets view does not list them as datasets.
    const scoresDir = path.join(workspace, 'judges', '.alignment', 'scores');
    fs.mkdirSync(scoresDir, { recursive: true });
    const write = (name, f) => fs.writeFileSync(path.join(scoresDir, name), rows.map((r, i) => JSON.stringify({ id: r.id, section: r.section, chosen_length: r.chosen_length, rejected_length: r.rejected_length, ...f(r, i) })).join('\n') + '\n');
    write('rm-small.scores.jsonl', (r, i) => ({ chosen_reward: 0.1 * i + r.margin, rejected_reward: 0.1 * i }));
    write('rm-scaled.scores.jsonl', (r, i) => ({ chosen_reward: 3 * (0.1 * i + r.margin) - i, rejected_reward: 3 * 0.1 * i - i }));
    write('length-proxy.scores.jsonl', (r) => ({ chosen_reward: r.chosen_length / 500, rejected_reward: r.rejected_length / 500 }));

    await openSidebar(page);
    const row = viewRow(page, 'Datasets', 'pairs20.jsonl');
    await row.waitFor({ timeout: 60_000 });

    // 1) AI-label from the dataset's context menu
    await contextMenu(page, row, 'AI-Label Dataset');
    await pick(page, 'OpenAI-compatible judge');
    for (let i = 0; i < 600 && comparisons(dataset).filter((e) => e.source === 'ai:local-judge').length < 20; i++) await sleep(200);
    await page.locator('.notifications-toasts .notification-toast', { hasText: 'ai:local-judge: labeled 20 of 20 pairs' }).first().waitFor({ timeout: 20_000 });
    lap('20 pairs AI-labeled');
    const all = comparisons(dataset);
    const ai = all.filter((e) => e.source === 'ai:local-judge');
    if (ai.length !== 20 || new Set(ai.map((e) => e.recordId)).size !== 20) throw new Error(`expected one AI label for each of 20 pairs, found ${ai.length}`);
    if (all.filter((e) => e.source === 'human').length !== 3) throw new Error('the human labels changed');
    if (server.requests.length < 40) throw new Error(`each pair is judged in both orders: expected >= 40 requests, saw ${server.requests.length}`);
    await row.locator('.monaco-tl-twistie').click().catch(() => {});
    await viewRow(page, 'Datasets', 'Labeled 20 of 20').waitFor({ timeout: 30_000 });
    await shot(page, 'judges-ai-labeled');

    // 2) agreement stats, from the Datasets view
    await page.locator('.notifications-toasts .notification-toast .codicon-notifications-clear').first().click().catch(() => {});
    await contextMenu(page, row, 'Show Label Stats');
    const md = webviewFrame(page);
    await md.locator('h2', { hasText: 'AI judges' }).waitFor({ timeout: 30_000 });
    await md.locator('td', { hasText: 'ai:local-judge' }).first().waitFor();
    await shot(page, 'judges-agreement-stats');
    const table = await md.locator('table').last().innerText();
    if (!/ai:local-judge\s+20\s+3\s/.test(table)) throw new Error(`the judge row should read 20 AI labels and 3 pairs against humans: ${table}`);
    lap('agreement stats shown');
    // Focus back on the workbench (keys typed in a webview stay there), then the evaluation.
    // The markdown source's tab is a text editor: clicking it moves the focus out of the preview's webview, which
    // could otherwise take the focus back while the next quick pick is open and close it.
    await page.locator('.tab', { hasText: 'Label statistics' }).first().click();
    await page.locator('.monaco-editor.focused').first().waitFor({ timeout: 10_000 }).catch(() => {});

    // 3) the reward-model evaluation with three scores files
    await runCommand(page, 'Alignment: Evaluate Reward Model');
    await pick(page, 'Open scores files');
    const first = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'rm-small.scores.jsonl' }).first();
    await first.waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await page.locator('.tab', { hasText: 'Evaluation:' }).first().waitFor({ timeout: 30_000 });
    const wv = webviewFrame(page);
    await wv.locator('#distances-0').waitFor({ timeout: 30_000 });
    await shot(page, 'judges-evaluation-panel');
    const text = await wv.locator('body').innerText();
    for (const want of ['EPIC', 'STARC', 'safety', 'chat', 'ECE']) if (!text.includes(want)) throw new Error(`the evaluation panel lacks "${want}"`);
    await wv.locator('#distances-0').scrollIntoViewIfNeeded();
    await shot(page, 'judges-evaluation-distances');
    // Cell text colour follows the cell's luminance: dark text on the faint (near-background) cells of a light theme,
    // light text on them in a dark theme, redrawn when the theme changes.
    const cellClasses = () => wv.locator('#distance-matrix-0 text.cell').evaluateAll((ts) => ts.map((t) => ({ v: t.textContent, c: t.getAttribute('class') })));
    const faint = (cells) => cells.filter((x) => x.v === '0.00').map((x) => x.c);
    const light = await cellClasses();
    if (!light.length || !faint(light).every((c) => c === 'cell on-light')) throw new Error(`light theme: faint cells should carry dark text (on-light): ${JSON.stringify(light)}`);
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'alignment.judge.baseUrl': server.baseUrl, 'alignment.judge.model': 'local-judge', 'alignment.judge.concurrency': 4, 'workbench.colorTheme': 'Default Dark Modern' }, null, 2));
    let dark = [];
    for (let i = 0; i < 150; i++) {
      dark = await cellClasses();
      if (dark.length && faint(dark).every((c) => c === 'cell on-dark')) break;
      await sleep(200);
    }
    if (!dark.length || !faint(dark).every((c) => c === 'cell on-dark')) throw new Error(`dark theme: faint cells should carry light text (on-dark): ${JSON.stringify(dark)}`);
    await wv.locator('#distances-0').scrollIntoViewIfNeeded();
    await shot(page, 'judges-evaluation-distances-dark');
    lap('evaluation panel with calibration, histograms, sections and distance matrices; cell text by luminance in both themes');
  } finally {
    await server.stop();
  }
});

test('AI-label with a reward model picked from the workspace runs', 'generated', async (page, { workspace }) => {
  // A tiny reward model: 2 reward-training steps on the built-in model, saved as a run of this workspace.
  const runDir = path.join(workspace, '.alignment', 'runs', 'reward-tiny');
  const train = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'train', '--method', 'reward', '--data', path.join(ROOT, 'media', 'samples', 'preferences.sample.jsonl'), '--model', 'builtin', '--steps', '2', '--batch-size', '2', '--max-length', '64', '--run-dir', runDir, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err = (err + b).slice(-3000)));
    child.on('close', (code) => resolve({ code, err }));
  });
  if (train.code !== 0) throw new Error(`the reward run failed: ${train.err}`);
  lap('tiny reward model trained');
  const dataset = path.join(workspace, 'judges', 'rm8.jsonl');
  fs.mkdirSync(path.dirname(dataset), { recursive: true });
  fs.writeFileSync(dataset, fs.readFileSync(path.join(workspace, 'data', GENERATED.pairs), 'utf8').split('\n').filter((l) => l.trim()).slice(0, 8).join('\n') + '\n');

  await openSidebar(page);
  const row = viewRow(page, 'Datasets', 'rm8.jsonl');
  await row.waitFor({ timeout: 60_000 });
  await contextMenu(page, row, 'AI-Label Dataset');
  await pick(page, 'Reward model');
  await pick(page, 'reward-tiny');
  for (let i = 0; i < 900 && comparisons(dataset).filter((e) => e.source === 'ai:rm:reward-tiny').length < 8; i++) await sleep(200);
  await page.locator('.notifications-toasts .notification-toast', { hasText: 'ai:rm:reward-tiny: labeled 8 of 8 pairs' }).first().waitFor({ timeout: 30_000 });
  const ai = comparisons(dataset).filter((e) => e.source === 'ai:rm:reward-tiny');
  if (ai.length !== 8 || new Set(ai.map((e) => e.recordId)).size !== 8) throw new Error(`expected one reward-model label for each of 8 pairs, found ${ai.length}`);
  await row.locator('.monaco-tl-twistie').click().catch(() => {});
  await viewRow(page, 'Datasets', 'Labeled 8 of 8').waitFor({ timeout: 30_000 });
  await shot(page, 'judges-reward-model-labeled');
  lap('8 pairs labeled by the reward model of a workspace run');
});

test('user scorers are refused in an untrusted workspace, with the reason', 'untrusted', async (page) => {
  await runCommand(page, 'Alignment: AI-Label Dataset');
  await pick(page, GENERATED.pairs);
  await pick(page, 'Proxy-reward scorer');
  await page.locator('.notifications-toasts .notification-toast', { hasText: 'User scorers are disabled in this workspace' }).first().waitFor({ timeout: 30_000 });
  await sleep(1000); // the toast fades in
  await shot(page, 'judges-untrusted-scorer');
});
