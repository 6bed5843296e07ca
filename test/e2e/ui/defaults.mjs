// The form's defaults make a model that talks: a DPO run started from the launch form with its default base model
// (the built-in chat model, media/models/chat) shows readable replies on the dashboard's samples tab, and no note
// that the model is untrained. Only the run's length is shortened; model, method and everything else are defaults.
import { lap, runCommand, openSidebar, webviewFrame, shot, viewRow, sleep, GENERATED, openLaunchForm, fillLaunchForm } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

/** Share of letters among a text's characters, its distinct words, and whitespace-separated tokens. */
function readability(text) {
  const letters = [...text].filter((c) => /\p{L}/u.test(c)).length / Math.max(1, text.length);
  return { letters, words: new Set(text.toLowerCase().match(/\p{L}+/gu) ?? []).size, tokens: text.split(/\s+/).filter(Boolean).length };
}

test('defaults: a DPO run launched with the form\'s default model shows readable samples', 'generated', async (page) => {
  await openSidebar(page);
  await viewRow(page, 'Datasets', GENERATED.pairs).waitFor({ timeout: 30_000 });
  let wv = await openLaunchForm(page);
  await wv.locator('#method option[value="dpo"]').waitFor({ state: 'attached', timeout: 30_000 });
  const method = await wv.locator('#method').inputValue();
  const model = await wv.locator('#model').inputValue();
  if (method !== 'dpo' || model !== 'builtin:chat') throw new Error(`the form's defaults are method ${method}, model ${model}; expected dpo and the built-in chat model`);
  // Method and model stay the defaults checked above.
  await fillLaunchForm(wv, { dataset: GENERATED.pairs, name: 'ui-defaults', fields: [['f-maxSteps', 4], ['f-intervals-sample', 4], ['f-intervals-checkpoint', 4], ['f-intervals-eval', 0]] });
  await shot(page, 'defaults-launch-form');
  await wv.locator('#start').click();

  await page.locator('.tab', { hasText: 'Run Dashboard' }).first().waitFor({ timeout: 30_000 });
  await viewRow(page, 'Runs', 'ui-defaults').waitFor({ timeout: 30_000 });
  wv = webviewFrame(page);
  await wv.locator('#run-phase', { hasText: 'finished' }).waitFor({ timeout: 300_000 });
  await runCommand(page, 'Notifications: Clear All Notifications');
  await wv.locator('#tab-samples').click();
  await wv.locator('#samples-table tbody tr').first().waitFor({ timeout: 15_000 });
  if (await wv.locator('#samples-note').count()) throw new Error(`the dashboard calls the chat model untrained: ${await wv.locator('#samples-note').innerText()}`);
  const replies = await wv.locator('#samples-table tbody tr td:nth-child(2) pre').allInnerTexts();
  if (replies.length === 0) throw new Error('no policy replies in the samples table');
  const unreadable = replies.filter((t) => { const r = readability(t); return !(r.words >= 2 && r.tokens >= 3); });
  if (unreadable.length > replies.length / 4) throw new Error(`replies are not readable text: ${JSON.stringify(unreadable.slice(0, 3))}`);
  lap(`${replies.length} readable replies, e.g. ${JSON.stringify(replies[0].slice(0, 80))}`);
  await shot(page, 'defaults-dpo-samples');
});
