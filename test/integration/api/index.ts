// API-level integration suite: mocha inside the real extension host. The entry follows @vscode/test-electron's
// contract (`run(): Promise<void>`, rejecting on failure), so the same suite runs in code-server (test/e2e/run.mjs)
// and in an Electron VS Code (test/runElectron.ts). When ALIGNMENT_TEST_RESULTS is set, the counts, failures and
// skipped tests (with their reason) are also written there as JSON for the summary line.
import * as fs from 'node:fs';
import Mocha from 'mocha';
import { skipReasons } from './helpers';

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  // ALIGNMENT_API_GREP=<text> runs only the tests whose full title contains it (a quick loop on one suite).
  if (process.env.ALIGNMENT_API_GREP) mocha.grep(process.env.ALIGNMENT_API_GREP);
  mocha.suite.emit('pre-require', globalThis, 'alignment-api', mocha);
  // Suites are required after mocha's globals exist (esbuild bundles them lazily); a static import would run
  // them before `describe` is defined.
  /* eslint-disable @typescript-eslint/no-require-imports */
  require('./extension.test');
  require('./datasets.test');
  require('./runs.test');
  require('./labeling.test');
  require('./judges.test');
  require('./feedbackCommands.test');
  require('./humanLoop.test');
  require('./models.test');
  require('./webviewDispose.test');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const failures: { title: string; error: string }[] = [];
  const skipped: { title: string; reason: string }[] = [];
  let passed = 0;
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', () => passed++);
    runner.on('pending', (t) => {
      const reason = skipReasons.get(t.title) ?? 'skipped';
      skipped.push({ title: t.fullTitle(), reason });
      console.log(`SKIPPED ${t.fullTitle()}: ${reason}`);
    });
    runner.on('fail', (t, err: unknown) => failures.push({ title: t.fullTitle(), error: err instanceof Error ? err.stack ?? err.message : String(err) }));
  });
  const out = process.env.ALIGNMENT_TEST_RESULTS;
  if (out) fs.writeFileSync(out, JSON.stringify({ suite: 'api', passed, failed: failures.length, failures, skipped }, null, 2));
  if (failures.length) throw new Error(`${failures.length} API test(s) failed:\n${failures.map((f) => `${f.title}: ${f.error}`).join('\n')}`);
}
