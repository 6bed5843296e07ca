// The whole test suite, as the README's test command runs it (CI runs it through .ci/run):
//   1. lint and typecheck (each counts as one test)
//   2. unit tests: node's test runner over test/unit, no VS Code
//   3. build, package the linux-x64 VSIX
//   4. real VS Code (code-server): API suite, UI suite with screenshots, VSIX install test
// Tests that read the real data in ../shared/data are skipped, with the reason, where it is absent (a fresh clone;
// test/support/realData.ts); everything else runs on data the project makes itself.
// Ends with one line "N passed, N failed, N skipped" counting unit and integration tests together.
// Flags: --unit (stop after unit tests), --no-e2e (same), --e2e (only steps 3 and 4: npm run test:integration),
// --only api|ui|vsix (e2e subset).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
process.chdir(root);
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit') || args.includes('--no-e2e');
const e2eOnly = args.includes('--e2e');
const onlyArgs = args.flatMap((a, i) => (args[i - 1] === '--only' ? ['--only', a] : []));
const counts = { passed: 0, failed: 0 };
const failures = [];
/** Skipped tests: `suite: title` by reason. */
const skips = new Map();
const skip = (reason, title) => skips.set(reason, [...(skips.get(reason) ?? []), title]);
const t0 = Date.now();

function step(title) {
  console.log(`\n=== ${title} (${((Date.now() - t0) / 1000).toFixed(0)}s) ===`);
}

/** Runs a command, teeing its output; returns { status, output }. */
function run(cmd, cmdArgs, env = {}) {
  const r = spawnSync(cmd, cmdArgs, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = (r.stdout ?? '') + (r.stderr ?? '');
  process.stdout.write(output);
  return { status: r.status ?? 1, output };
}

function check(name, ok) {
  if (ok) counts.passed++;
  else { counts.failed++; failures.push(name); }
}

if (!e2eOnly) {
  step('lint');
  check('lint', run('npx', ['eslint', '.']).status === 0);

  step('typecheck');
  check('typecheck', run('npm', ['run', '-s', 'typecheck']).status === 0);

  step('unit tests');
  const unit = run(process.execPath, ['scripts/unit.mjs']);
  const pass = Number(/^# pass (\d+)/m.exec(unit.output)?.[1] ?? 0);
  const fail = Number(/^# fail (\d+)/m.exec(unit.output)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(unit.output)?.[1] ?? 0);
  counts.passed += pass;
  counts.failed += fail;
  if (fail) failures.push(`${fail} unit test(s)`);
  if (unit.status !== 0 && fail === 0) check('unit test runner', false);
  // node:test's TAP: "ok 3 - <title> # SKIP <reason>"
  for (const m of unit.output.matchAll(/^\s*ok \d+ - (.*?) # SKIP ?(.*)$/gm)) skip(m[2] || 'skipped', `unit: ${m[1]}`);
  const skipped = Number(/^# skipped (\d+)/m.exec(unit.output)?.[1] ?? 0);
  console.log(`unit: ${pass} passed, ${fail} failed, ${skipped} skipped`);
}

if (!unitOnly) {
  step('build + package');
  const built = run('npm', ['run', '-s', 'build']).status === 0;
  check('build', built);
  const wantsVsix = onlyArgs.length === 0 || onlyArgs.includes('vsix');
  if (wantsVsix) check('package (linux-x64 VSIX)', run('npm', ['run', '-s', 'package']).status === 0 && run('npm', ['run', '-s', 'build']).status === 0);

  step('real VS Code: setup');
  const setup = run('bash', ['scripts/e2e-setup.sh']).status === 0;
  check('e2e setup', setup);
  if (setup && built) {
    step('real VS Code: API, UI and VSIX suites');
    const resultsFile = path.join(root, 'test-output', 'e2e-results.json');
    fs.rmSync(resultsFile, { force: true });
    const e2e = run(process.execPath, ['test/e2e/run.mjs', ...onlyArgs]);
    if (fs.existsSync(resultsFile)) {
      const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
      for (const [suite, s] of Object.entries(r)) {
        counts.passed += s.passed;
        counts.failed += s.failed;
        for (const f of s.failures ?? []) failures.push(`${suite}: ${f}`);
        for (const k of s.skipped ?? []) skip(k.reason, `${suite}: ${k.title}`);
      }
    } else {
      check('e2e runner', false);
    }
    if (e2e.status !== 0 && counts.failed === 0) check('e2e runner exit status', false);
  }
}

console.log(`\n=== summary (${((Date.now() - t0) / 1000).toFixed(0)}s) ===`);
for (const f of failures) console.log(`FAILED: ${f}`);
let skipped = 0;
for (const [reason, titles] of skips) {
  skipped += titles.length;
  console.log(`SKIPPED (${titles.length}), ${reason}:`);
  for (const t of titles) console.log(`  ${t}`);
}
if (fs.existsSync('test-output/screenshots')) console.log(`screenshots: ${path.join('test-output', 'screenshots')}/`);
console.log(`${counts.passed} passed, ${counts.failed} failed, ${skipped} skipped`);
process.exit(counts.failed ? 1 : 0);
