// Benchmarks: `npm run bench -- <name>` runs bench/<name>.ts (TypeScript through tsx). Each benchmark runs its
// baseline in the same run, prints the ratio and writes bench-results/<name>.json (git-ignored).
// `npm run bench` with no name lists them.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
process.chdir(root);
// A benchmark is a script: bench/<name>.ts that exports nothing. A .ts file there with top-level exports is a
// helper module the benchmarks (and tests) import, e.g. bench/engineGpt.ts, and is not listed or runnable.
const isBench = (file) => !/^\s*export\s/m.test(fs.readFileSync(path.join('bench', file), 'utf8'));
const available = fs.existsSync('bench')
  ? fs.readdirSync('bench').filter((f) => f.endsWith('.ts') && isBench(f)).map((f) => f.slice(0, -3)).sort()
  : [];
const [name, ...rest] = process.argv.slice(2);
if (!name) {
  console.log(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none)'}`);
  process.exit(0);
}
if (!available.includes(name)) {
  const helper = fs.existsSync(path.join('bench', `${name}.ts`));
  console.error(`${helper ? `bench/${name}.ts is a helper module, not a benchmark` : `no benchmark "${name}"`}; available: ${available.join(', ') || '(none)'}`);
  process.exit(2);
}
fs.mkdirSync('bench-results', { recursive: true });
const r = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', `${name}.ts`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
