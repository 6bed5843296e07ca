// UI suite: drives the real workbench the way a person would (activity bar, palette, webviews) and saves
// screenshots of what it shows under test-output/screenshots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, lap, startCodeServer, launchBrowser, workbenchUrl, waitForWorkbench, shot, sleep, dataWorkspace, REAL_DATA_SKIP } from './lib.mjs';

/**
 * Every module in test/e2e/ui/ exports `tests`: [{ name, workspace, fn(page, { base, workspace }) }], where
 * `workspace` is the folder the workbench opens: 'generated' (the generated datasets in data/), 'real' (a copy of
 * the real data in data/: a real-data test, skipped with the reason where the real data is absent), 'empty',
 * 'none' (no folder) or 'untrusted' (the generated datasets, opened in restricted mode).
 */
async function loadTests() {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'ui');
  const all = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.mjs')).sort()) {
    const mod = await import(path.join(dir, f));
    for (const t of mod.tests) all.push({ ...t, module: f });
  }
  return all;
}

async function openWorkbench(cs, base, kind, devPath) {
  const { ctx, page } = await launchBrowser(base);
  const folder = kind === 'none' ? undefined : kind === 'empty' ? fs.mkdtempSync(path.join(base, 'ws-empty-'))
    : dataWorkspace(base, `ws-${kind}-${Date.now()}`, kind === 'real' ? 'real' : 'generated');
  await page.goto(workbenchUrl(cs, { folder, devPath }));
  if (kind === 'untrusted') {
    // Workspace trust asks at startup; decline, as a cautious user would.
    const no = page.getByRole('button', { name: /No, I don't trust the authors|Don't Trust/i }).first();
    await no.waitFor({ timeout: 60_000 });
    await no.click();
    lap('declined workspace trust: restricted mode');
  }
  await waitForWorkbench(page);
  return { ctx, page, folder };
}

export async function uiTests(base, { devPath = ROOT, filter = process.env.UI_FILTER } = {}) {
  const servers = {};
  const result = { passed: 0, failed: 0, failures: [], skipped: [] };
  try {
    for (const t of await loadTests()) {
      if (filter && !t.name.includes(filter)) continue;
      if (t.workspace === 'real' && REAL_DATA_SKIP) {
        result.skipped.push({ title: t.name, reason: REAL_DATA_SKIP });
        console.log(`  skip ${t.name}: ${REAL_DATA_SKIP}`);
        continue;
      }
      const trust = t.workspace !== 'untrusted';
      servers[trust] ??= await startCodeServer({ base, trust, name: trust ? 'cs-ui' : 'cs-ui-untrusted' });
      const started = Date.now();
      let ctx;
      try {
        const wb = await openWorkbench(servers[trust], base, t.workspace, devPath);
        ctx = wb.ctx;
        await t.fn(wb.page, { base, workspace: wb.folder, server: servers[trust] });
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
