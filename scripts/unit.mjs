// Unit tests: node's own test runner over test/unit (TypeScript through tsx), no VS Code.
// Usage: npm run test:unit [-- <file or folder> ...]   (default: all of test/unit)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(p, out) {
  if (statSync(p).isDirectory()) {
    for (const e of readdirSync(p).sort()) collect(join(p, e), out);
  } else if (/\.test\.ts$/.test(p)) {
    out.push(p);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = (roots.length ? roots : ['test/unit']).flatMap((r) => collect(r, []));
if (files.length === 0) {
  console.error('no unit test files found under ' + (roots.join(', ') || 'test/unit'));
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...passthrough, ...files], {
  stdio: 'inherit',
  env: { ...process.env, ALIGNMENT_TEST: '1' },
});
process.exit(r.status ?? 1);
