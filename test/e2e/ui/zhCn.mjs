// The zh-cn localization in a real workbench: with VS Code's display language resolved to zh-cn, the extension's
// contributions (package.nls.zh-cn.json) and its runtime strings (l10n/bundle.l10n.zh-cn.json, vscode.l10n.t) show
// in Chinese. code-server falls back to English for a locale no installed language pack contributes, and none can be
// downloaded offline, so the test packs a language pack of its own (contributes.localizations for zh-cn, with no
// translations of VS Code's own strings: the workbench around our contributions stays English) and installs it into
// its own code-server, which it starts with --locale zh-cn.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, TOOLS, lap, startCodeServer, launchBrowser, workbenchUrl, runCommand, shot, sleep } from '../lib.mjs';

export const tests = [];
const test = (name, workspace, fn) => tests.push({ name, workspace, fn });

const PACK = { publisher: 'alignment-studio-tests', name: 'e2e-zh-cn-language-pack', version: '0.0.1' };

/** Packs a zh-cn language pack with no translations into `dir`; returns the VSIX's path. */
function packLanguagePack(dir) {
  fs.mkdirSync(path.join(dir, 'translations'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    ...PACK, displayName: 'Test zh-cn language pack', description: 'Makes VS Code resolve its display language to zh-cn.',
    license: 'MIT', engines: { vscode: '^1.100.0' }, categories: ['Language Packs'], files: ['translations'],
    contributes: { localizations: [{ languageId: 'zh-cn', languageName: 'Chinese Simplified', localizedLanguageName: '中文(简体)', translations: [{ id: 'vscode', path: './translations/main.i18n.json' }] }] },
  }, null, 2));
  fs.writeFileSync(path.join(dir, 'translations', 'main.i18n.json'), JSON.stringify({ version: '1.0.0', contents: {} }));
  fs.writeFileSync(path.join(dir, 'README.md'), '# Test zh-cn language pack\n');
  fs.writeFileSync(path.join(dir, 'LICENSE'), 'MIT\n');
  const vsix = path.join(path.dirname(dir), 'zh-cn-language-pack.vsix');
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'vsce'), ['package', '--allow-missing-repository', '--skip-license', '-o', vsix],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return vsix;
}

/** Installs the language pack for the code-server whose state lives in `run` (its `ext` and `ud` folders). */
function installLanguagePack(base, run) {
  for (const d of ['ext', 'ud']) fs.mkdirSync(path.join(run, d), { recursive: true });
  const vsix = packLanguagePack(path.join(base, 'zh-cn-language-pack'));
  execFileSync(path.join(TOOLS, 'node_modules', '.bin', 'code-server'), ['--extensions-dir', path.join(run, 'ext'),
    '--user-data-dir', path.join(run, 'ud'), '--install-extension', vsix, '--force'], { encoding: 'utf8', timeout: 120_000 });
  // code-server's CLI installs without the language-pack participant, which only the running server registers, so
  // the server's list of language packs (languagepacks.json in its user data folder, in the form its language-pack
  // cache writes: language id -> the pack's extensions, a hash naming its translation cache, and the translation
  // files) is written here for the pack just installed. Without it the server resolves every locale to English.
  const folder = path.join(run, 'ext', `${PACK.publisher}.${PACK.name}-${PACK.version}`);
  const translations = path.join(folder, 'translations', 'main.i18n.json');
  if (!fs.existsSync(translations)) throw new Error(`the language pack did not install to ${folder}`);
  fs.writeFileSync(path.join(run, 'ud', 'languagepacks.json'), JSON.stringify({
    'zh-cn': {
      hash: `e2e-${PACK.version}`, label: '中文(简体)', translations: { vscode: translations },
      extensions: [{ extensionIdentifier: { id: `${PACK.publisher}.${PACK.name}` }, version: PACK.version }],
    },
  }));
}

/**
 * Opens the Alignment sidebar by its Chinese title ("对齐", package.nls.zh-cn.json) and waits for the Runs view's
 * Chinese name; clicks again while the workbench, still restoring its layout, swallows a click.
 */
async function openChineseSidebar(page) {
  const icon = page.locator('.activitybar .action-item a[aria-label^="对齐"], .activitybar .action-item a[aria-label^="Alignment"]').first();
  await icon.waitFor({ state: 'attached', timeout: 90_000 });
  const label = await icon.getAttribute('aria-label');
  if (!label?.startsWith('对齐')) throw new Error(`the Alignment view container is titled "${label}": VS Code did not resolve its language to zh-cn`);
  const header = page.locator('.sidebar .pane-header', { hasText: '训练运行' }).first();
  for (let attempt = 1; ; attempt++) {
    if (!(await header.isVisible().catch(() => false))) await icon.click().catch(() => {});
    try {
      await header.waitFor({ timeout: 10_000 });
      return;
    } catch (e) {
      if (attempt >= 4) throw e;
      await sleep(500);
    }
  }
}

test('zh-cn: contributions and runtime strings show in Chinese', 'none', async (_page, { base }) => {
  const name = 'cs-zh-cn';
  installLanguagePack(base, path.join(base, name));
  lap('zh-cn language pack installed');
  const cs = await startCodeServer({ base, name, args: ['--locale', 'zh-cn'] });
  const { ctx, page } = await launchBrowser(base);
  try {
    await page.goto(workbenchUrl(cs, { folder: fs.mkdtempSync(path.join(base, 'ws-zh-')), devPath: ROOT }));
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
    await openChineseSidebar(page);
    // A command title from package.nls.zh-cn.json, and the message the command shows through vscode.l10n.t, from
    // l10n/bundle.l10n.zh-cn.json (the workspace has no runs).
    await runCommand(page, 'Alignment: 清除失败的运行');
    await page.locator('.notification-toast', { hasText: '没有需要清除的失败运行。' }).first().waitFor({ timeout: 30_000 });
    await shot(page, 'zh-cn-runs-view-and-notification');
  } catch (e) {
    await shot(page, 'FAILED-zh-cn-workbench').catch(() => {});
    throw e;
  } finally {
    await ctx.close().catch(() => {});
    await cs.stop();
  }
});
