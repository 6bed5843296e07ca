/**
 * What package.json contributes, checked without VS Code: the walkthrough's buttons run contributed commands (the
 * integration suite checks that every contributed command is registered) and it covers the whole first hour.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
interface Step {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly media?: { readonly markdown?: string };
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; walkthroughs: { steps: Step[] }[] };
};
const nls = JSON.parse(readFileSync(join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;
/** A contribution string as English users see it (`%key%` looked up in package.nls.json). */
const english = (s: string): string => s.replace(/^%([^%]+)%$/, (_m, k: string) => nls[k] ?? `<missing ${k}>`);

test('walkthrough: every step has a button, and each button runs a contributed command with valid JSON arguments', () => {
  const contributed = new Set(pkg.contributes.commands.map((c) => c.command));
  const steps = pkg.contributes.walkthroughs[0].steps;
  for (const s of steps) {
    const links = [...english(s.description).matchAll(/\]\(command:([\w.]+)(?:\?([^)]*))?\)/g)];
    assert.ok(links.length > 0, `step ${s.id} has a command button`);
    for (const [, command, args] of links) {
      if (command.startsWith('workbench.')) continue; // VS Code's own
      assert.ok(contributed.has(command), `step ${s.id}: ${command} is not a contributed command`);
      if (args) assert.doesNotThrow(() => JSON.parse(decodeURIComponent(args)) as unknown, `step ${s.id}: arguments of ${command}`);
    }
    if (s.media?.markdown) assert.ok(readFileSync(join(ROOT, s.media.markdown), 'utf8').length > 0);
  }
});

test('walkthrough covers labeling, AI labeling, a reward model, DPO, the dashboard, evaluation and the online loop', () => {
  const text = pkg.contributes.walkthroughs[0].steps.map((s) => english(s.description)).join('\n');
  for (const command of ['alignment.labelPairs', 'alignment.aiLabelDataset', 'alignment.openDashboard', 'alignment.evaluateRewardModel', 'alignment.labelWaitingPairs']) {
    assert.ok(text.includes(`command:${command}`), `a step runs ${command}`);
  }
  for (const method of ['reward', 'dpo', 'online-dpo']) {
    assert.ok(text.includes(`command:alignment.startRun?${encodeURIComponent(JSON.stringify([{ method }]))}`), `a step opens the launch form on ${method}`);
  }
});

test('zh-cn: every contribution string is in package.nls.json and translated in package.nls.zh-cn.json', async () => {
  const { nlsProblems } = (await import(join(ROOT, 'scripts', 'nls.mjs'))) as { nlsProblems: (root: string) => string[] };
  assert.deepEqual(nlsProblems(ROOT), []);
  const zh = JSON.parse(readFileSync(join(ROOT, 'package.nls.zh-cn.json'), 'utf8')) as Record<string, string>;
  assert.match(zh['command.alignment.labelPairs.title'], /[\u4e00-\u9fff]/, 'translations are Chinese');
  for (const [k, v] of Object.entries(nls)) {
    for (const link of v.match(/\(command:[^)]*\)/g) ?? []) assert.ok(zh[k].includes(link), `${k}: the translation keeps the button ${link}`);
  }
});

test('activation: on dataset workspaces, views and panels, not at every startup; a PNG icon of at least 128 px', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { activationEvents: string[]; icon: string };
  assert.ok(!manifest.activationEvents.includes('onStartupFinished') && !manifest.activationEvents.includes('*'));
  assert.ok(manifest.activationEvents.includes('workspaceContains:**/*.jsonl'));
  for (const f of readdirSync(join(ROOT, 'src', 'host'), { recursive: true, encoding: 'utf8' }).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(join(ROOT, 'src', 'host', f), 'utf8');
    for (const m of text.matchAll(/static readonly viewType = '([\w.]+)'/g)) assert.ok(manifest.activationEvents.includes(`onWebviewPanel:${m[1]}`), `a ${m[1]} panel restored after a reload activates the extension`);
  }
  const png = readFileSync(join(ROOT, manifest.icon));
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  assert.ok(png.readUInt32BE(16) >= 128 && png.readUInt32BE(20) >= 128, 'the marketplace wants 128x128 or more');
});
