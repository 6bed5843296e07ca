// Real-VS-Code test runner: the API suite (mocha inside the extension host), the UI suites (playwright through
// the workbench, screenshots under test-output/screenshots) and the VSIX install check, each against a fresh
// code-server. Writes test-output/e2e-results.json with passed/failed counts and skipped tests (with the reason)
// per suite. The workspaces hold datasets the project generates; tests marked as real-data tests also get a copy of
// ../shared/data, and are skipped with the reason where it is absent (test/support/realData.ts).
// Usage: node test/e2e/run.mjs [--only api|ui|vsix]...
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { ROOT, OUT, lap, tempBase, startCodeServer, launchBrowser, workbenchUrl, writeApiWorkspace } from './lib.mjs';
import { uiTests } from './uiTests.mjs';
import { vsixTest } from './vsixTest.mjs';

const only = process.argv.flatMap((a, i, all) => (all[i - 1] === '--only' ? [a] : []));
const want = (s) => only.length === 0 || only.includes(s);

async function apiSuite(base) {
  const ws = path.join(base, 'ws-api');
  const realDataEnv = writeApiWorkspace(ws);
  const resultsFile = path.join(base, 'api-results.json');
  const cs = await startCodeServer({ base, name: 'cs-api', env: { ALIGNMENT_TEST_RESULTS: resultsFile, ...realDataEnv } });
  const { ctx, page } = await launchBrowser(base);
  try {
    const exit = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(code));
      void page.exposeFunction('codeAutomationLog', (_type, args) => {
        const text = format(...(Array.isArray(args) ? args : [args]));
        for (const line of text.split('\n')) if (line.trim()) console.log('    ' + line);
      });
    });
    await page.goto(workbenchUrl(cs, { folder: ws, devPath: ROOT, testsPath: path.join(ROOT, 'out', 'test', 'integration', 'api', 'index') }));
    const code = await Promise.race([exit, new Promise((r) => setTimeout(() => r('timeout'), 300_000))]);
    lap(`API suite exit code from the extension host: ${code}`);
    if (fs.existsSync(resultsFile)) {
      const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
      return { passed: r.passed, failed: r.failed + (code === 0 || r.failed ? 0 : 1), failures: r.failures.map((f) => f.title), skipped: r.skipped ?? [] };
    }
    return { passed: 0, failed: 1, failures: [`the API suite did not report results (exit: ${code}); see ${cs.logFile}`] };
  } finally {
    await ctx.close();
    await cs.stop();
  }
}

const results = {};
const base = tempBase();
try {
  if (want('api')) { console.log('API suite (mocha in the extension host)'); results.api = await apiSuite(base); }
  if (want('ui')) { console.log('UI suite (playwright in the workbench)'); results.ui = await uiTests(base); }
  if (want('vsix')) { console.log('VSIX install test'); results.vsix = await vsixTest(base); }
} catch (e) {
  console.error('e2e runner error:', e);
  results.runner = { passed: 0, failed: 1, failures: [String(e && e.stack || e)] };
} finally {
  if (!process.env.E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
}
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'e2e-results.json'), JSON.stringify(results, null, 2));
let passed = 0, failed = 0, skipped = 0;
for (const [name, r] of Object.entries(results)) {
  const skips = r.skipped ?? [];
  passed += r.passed; failed += r.failed; skipped += skips.length;
  console.log(`  ${name}: ${r.passed} passed, ${r.failed} failed, ${skips.length} skipped`);
  for (const f of r.failures ?? []) console.log(`    FAILED ${f}`);
  for (const s of skips) console.log(`    SKIPPED ${s.title}: ${s.reason}`);
}
console.log(`e2e: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed ? 1 : 0);
