// `npm run demo [-- --out DIR --quick --threads N]`: builds the bundles, then runs `alignment demo` from
// dist/cli.js (the same entry `npx alignment demo` runs). Everything happens offline: the built-in model,
// its tokenizer and the data are generated on the spot.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) process.exit(build.status ?? 1);
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) {
  console.error(`demo: ${cli} was not built`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [cli, 'demo', ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
process.exit(r.status ?? 1);
