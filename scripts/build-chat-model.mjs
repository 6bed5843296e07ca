// `npm run build:chat-model [-- --out DIR]`: builds the bundles, then rebuilds the built-in chat model
// (src/cli/chatModel.ts: the demo's SFT stage, seeded, float16) into media/models/chat/ with dist/cli.js.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) process.exit(build.status ?? 1);
const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'build-chat-model', ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
