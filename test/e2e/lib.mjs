// Helpers for the real-VS-Code tests: code-server 4.100.3 (VS Code 1.100.3) driven by playwright-core and
// Debian's chromium. Tools live in the git-ignored .tools/e2e (scripts/e2e-setup.sh installs them).
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { tsImport } from 'tsx/esm/api';

export const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
export const TOOLS = process.env.E2E_TOOLS || path.join(ROOT, '.tools', 'e2e');
export const OUT = path.join(ROOT, 'test-output');
export const SHOTS = path.join(OUT, 'screenshots');
const require = createRequire(import.meta.url);
export const { chromium } = require(path.join(TOOLS, 'node_modules', 'playwright-core'));
const CODE_SERVER = path.join(TOOLS, 'node_modules', '.bin', 'code-server');

// Dataset workspaces (test/support/testWorkspaces.ts): the generated datasets every machine can make, and the real
// data, which only real-data tests open and which is absent from a fresh clone (REAL_DATA_SKIP says why).
const workspaces = await tsImport('../support/testWorkspaces.ts', import.meta.url);
export const { GENERATED, generatedId, writeApiWorkspace } = workspaces;
export const { REAL_DATA_SKIP } = await tsImport('../support/realData.ts', import.meta.url);

/**
 * A throw-away workspace `base/name` whose `data/` folder holds the generated datasets (`kind` 'generated') or a copy
 * of the real data (`kind` 'real'; only where REAL_DATA_SKIP is false). Never written into the repository.
 */
export function dataWorkspace(base, name, kind = 'generated') {
  const ws = path.join(base, name);
  const data = path.join(ws, 'data');
  if (kind === 'real') {
    if (!workspaces.copyRealData(data)) throw new Error(`a real-data workspace was asked for, but ${REAL_DATA_SKIP}`);
  } else {
    workspaces.writeGeneratedData(data);
  }
  return ws;
}

const t0 = Date.now();
export const lap = (m) => console.log(`  [${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A throw-away base folder with a short path (the extension host puts unix sockets in TMPDIR). */
export function tempBase() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ase2e-'));
}

/**
 * Starts code-server with throw-away state. `trust: false` keeps workspace trust on, so a folder opens in
 * restricted mode once the user declines. Extra env reaches the extension host; `args` are extra code-server flags.
 */
export async function startCodeServer({ base, trust = true, extensionsDir, env = {}, args: extraArgs = [], name = 'cs' }) {
  const run = path.join(base, name);
  for (const d of ['ud/User', 'ext', 'tmp', 'xdg-config', 'xdg-data']) fs.mkdirSync(path.join(run, d), { recursive: true });
  fs.writeFileSync(path.join(run, 'ud/User/settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off', 'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false, 'update.mode': 'none', 'security.workspace.trust.enabled': !trust,
    'security.workspace.trust.startupPrompt': 'always', 'workbench.tips.enabled': false, 'window.commandCenter': false,
    'chat.commandCenter.enabled': false, 'workbench.welcomePage.walkthroughs.openOnInstall': false,
  }, null, 2));
  const port = await freePort();
  const args = ['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--user-data-dir', path.join(run, 'ud'),
    '--extensions-dir', extensionsDir || path.join(run, 'ext'), '--config', path.join(run, 'config.yaml'),
    '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override'];
  if (trust) args.push('--disable-workspace-trust');
  args.push(...extraArgs);
  const log = fs.openSync(path.join(run, 'code-server.log'), 'w');
  const child = spawn(CODE_SERVER, args, {
    env: { ...process.env, ...env, TMPDIR: path.join(run, 'tmp'), XDG_CONFIG_HOME: path.join(run, 'xdg-config'), XDG_DATA_HOME: path.join(run, 'xdg-data') },
    stdio: ['ignore', log, log],
  });
  const base_url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { const r = await fetch(`${base_url}/healthz`); if (r.ok) break; } catch { /* not up yet */ }
    if (child.exitCode !== null || i > 240) throw new Error(`code-server did not start; log:\n${fs.readFileSync(path.join(run, 'code-server.log'), 'utf8').slice(-2000)}`);
    await sleep(250);
  }
  return {
    url: base_url, port, run, logFile: path.join(run, 'code-server.log'),
    remote: (p) => `vscode-remote://127.0.0.1:${port}${p}`,
    async stop() {
      if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); }); }
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Installs a VSIX with code-server's own CLI into `extensionsDir`; returns the CLI output. */
export function installVsix(vsix, extensionsDir, base) {
  return execFileSync(CODE_SERVER, ['--extensions-dir', extensionsDir, '--user-data-dir', path.join(base, 'vsix-ud'), '--install-extension', vsix, '--force'],
    { encoding: 'utf8', env: { ...process.env, TMPDIR: os.tmpdir() }, timeout: 180_000 });
}

export function listExtensions(extensionsDir, base) {
  return execFileSync(CODE_SERVER, ['--extensions-dir', extensionsDir, '--user-data-dir', path.join(base, 'vsix-ud'), '--list-extensions', '--show-versions'],
    { encoding: 'utf8', timeout: 60_000 });
}

export async function launchBrowser(base) {
  const udd = fs.mkdtempSync(path.join(base, 'chrome-'));
  const ctx = await chromium.launchPersistentContext(udd, {
    executablePath: process.env.CHROME || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: { width: 1440, height: 900 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => console.log('    [pageerror]', String(e).slice(0, 200)));
  return { ctx, page };
}

/** The workbench URL for a folder (or none), loading the extension from `devPath` in development mode. */
export function workbenchUrl(cs, { folder, devPath, testsPath }) {
  const payload = [['skipWelcome', 'true']];
  if (devPath) payload.push(['extensionDevelopmentPath', cs.remote(devPath)]);
  if (testsPath) payload.push(['extensionTestsPath', cs.remote(testsPath)]);
  const q = [];
  // Without a folder, code-server would reopen the last one; `ew=true` asks for an empty window.
  q.push(folder ? `folder=${encodeURIComponent(folder)}` : 'ew=true');
  q.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
  return `${cs.url}/?${q.join('&')}`;
}

/** Waits for the workbench and the Alignment activity-bar icon (our contributions are registered). */
export async function waitForWorkbench(page) {
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
  await page.locator('.activitybar .action-item a[aria-label^="Alignment"]').first().waitFor({ state: 'attached', timeout: 90_000 });
}

/** Runs a command from the palette by its title, retrying while the command list is still filling. */
export async function runCommand(page, title, attempts = 4) {
  for (let i = 1; ; i++) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    try { await input.waitFor({ state: 'visible', timeout: 5000 }); } catch (e) {
      // A webview (its iframe) had the keyboard focus and kept F1: give the focus back to the workbench's own
      // DOM (the window title, which has no action) and press again.
      if (i >= attempts) throw e;
      await page.locator('.part.titlebar .window-title').first().click().catch(() => {});
      await sleep(500);
      continue;
    }
    await input.fill('>' + title);
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    try { await row.waitFor({ state: 'visible', timeout: 5000 }); } catch (e) {
      await page.keyboard.press('Escape'); if (i >= attempts) throw e; await sleep(1000); continue;
    }
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 15_000 }).catch(() => {});
    return;
  }
}

/**
 * Opens the Alignment sidebar. Right after a window (re)load the workbench may still be restoring its layout and
 * can swallow or undo an activity-bar click, so this retries: first the activity-bar icon, then the view's own
 * focus command from the palette.
 */
export async function openSidebar(page) {
  const header = page.locator('.sidebar .pane-header', { hasText: 'Datasets' }).first();
  const icon = page.locator('.activitybar .action-item a[aria-label^="Alignment"]').first();
  const sidebarTitle = page.locator('.sidebar .composite.title', { hasText: /alignment/i });
  for (let attempt = 1; ; attempt++) {
    if (await header.isVisible().catch(() => false)) return;
    if (attempt % 2 === 1) {
      const checked = await icon.getAttribute('aria-expanded').catch(() => null);
      if (!(await sidebarTitle.isVisible().catch(() => false)) || checked === 'false') await icon.click().catch(() => {});
    } else {
      await runCommand(page, 'Alignment: Focus on Datasets View').catch(() => {});
    }
    try {
      await header.waitFor({ timeout: 10_000 });
      return;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
}

/** The inner frame of the active webview (VS Code nests the page in two iframes). */
export function webviewFrame(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

/** Opens the launch form from the palette ("Alignment: Start Training Run"); returns its webview frame. */
export async function openLaunchForm(page) {
  await runCommand(page, 'Alignment: Start Training Run');
  await page.locator('.tab', { hasText: 'Start Training Run' }).first().waitFor({ timeout: 15_000 });
  return webviewFrame(page);
}

/**
 * Fills the launch form `wv` as a person would: `method` chosen (left as it is when not given), `ready` (a
 * selector) waited for once the method's fields are drawn, the dataset whose path ends with `dataset`, the run's
 * `name`, the base `model` when given, each [field id, value] of `fields` typed in order, and the CPU device.
 */
export async function fillLaunchForm(wv, { method, ready, dataset, name, model, fields = [] }) {
  if (method) {
    await wv.locator(`#method option[value="${method}"]`).waitFor({ state: 'attached', timeout: 30_000 });
    if ((await wv.locator('#method').inputValue()) !== method) await wv.locator('#method').selectOption(method);
  }
  if (ready) await wv.locator(ready).first().waitFor({ timeout: 30_000 });
  const values = await wv.locator('#dataset option').evaluateAll((os) => os.map((o) => o.value));
  const file = values.find((v) => v.endsWith(dataset));
  if (!file) throw new Error(`the dataset ${dataset} is not offered; options: ${values.join(' | ')}`);
  await wv.locator('#dataset').selectOption(file);
  await wv.locator('#run-name').fill(name);
  if (model) await wv.locator('#model').selectOption(model);
  for (const [id, v] of fields) await wv.locator(`#${id}`).fill(String(v));
  await wv.locator('#device-cpu').check({ timeout: 30_000 });
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.mouse.move(5, 890).catch(() => {}); // no hover tooltip in the picture
  await page.screenshot({ path: file });
  lap(`screenshot ${path.relative(ROOT, file)}`);
  return file;
}

/** A row of one of the Alignment views (Datasets, Runs, Models) whose text contains `text`. */
export const viewRow = (page, view, text) =>
  page.locator('.pane', { has: page.locator('.pane-header', { hasText: view }) }).locator('.monaco-list-row', { hasText: text }).first();

/** The welcome (empty-state) content of a view, containing `text`. */
export const welcome = (page, view, text) =>
  page.locator('.pane', { has: page.locator('.pane-header', { hasText: view }) }).locator('.welcome-view-content', { hasText: text }).first();
