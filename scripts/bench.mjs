// Benchmarks: `npm run bench -- <name>` runs bench/<name>.ts (TypeScript through tsx). Each benchmark runs its
// baseline in the same run, prints the ratio and writes bench-results/<name>.json (git-ignored).
// `npm run bench` with no name lists them.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
process.chdir(root);
const available = fs.existsSync('bench') ? fs.readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort() : [];
const [name, ...rest] = process.argv.slice(2);
if (!name) {
  console.log(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none)'}`);
  process.exit(0);
}
if (!available.includes(name)) {
  console.error(`no benchmark "${name}"; available: ${available.join(', ') || '(none)'}`);
  process.exit(2);
}
fs.mkdirSync('bench-results', { recursive: true });
const r = spawnSync(process.execPath, ['--import', 'tsx', path.join('bench', `${name}.ts`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
