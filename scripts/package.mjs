// Packages a platform-specific VSIX (default linux-x64) into dist-vsix/. The extension's code is bundled by
// esbuild; the only runtime package shipped is onnxruntime-node (a native addon), and only its binaries for the
// target platform go in: the other platforms' folders are left out through a generated ignore file.
// Usage: npm run package [-- --target linux-x64|linux-arm64|darwin-arm64|win32-x64|win32-arm64]
// No darwin-x64: onnxruntime-node 1.30 ships no binary for Intel Macs, so such a VSIX could not train.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
process.chdir(root);
const ti = process.argv.indexOf('--target');
const target = ti > 0 ? process.argv[ti + 1] : 'linux-x64';
const [os, arch] = target.split('-');
const known = { linux: ['x64', 'arm64'], darwin: ['arm64'], win32: ['x64', 'arm64'] };
if (target === 'darwin-x64') {
  console.error('darwin-x64 is not packaged: onnxruntime-node 1.30 ships no binary for Intel Macs');
  process.exit(2);
}
if (!known[os]?.includes(arch)) {
  console.error(`unknown target "${target}": use one of ${Object.entries(known).flatMap(([o, as]) => as.map((a) => `${o}-${a}`)).join(', ')}`);
  process.exit(2);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

sh(process.execPath, ['scripts/build.mjs', '--production']);
// The source maps go into the VSIX beside their bundles (.vscodeignore keeps dist/**), so stacks of unexpected
// errors name the TypeScript source.
const unmapped = ['extension', 'sessionMain', 'cliMain', 'sessionWorker'].filter((b) => fs.existsSync(`dist/${b}.js`) && !fs.existsSync(`dist/${b}.js.map`));
if (unmapped.length) {
  console.error(`no source map for ${unmapped.map((b) => `dist/${b}.js`).join(', ')}`);
  process.exit(1);
}

const base = fs.readFileSync('.vscodeignore', 'utf8');
const ort = 'node_modules/onnxruntime-node';
const keep = [`!${ort}/package.json`, `!${ort}/README.md`, `!${ort}/LICENSE`, `!${ort}/dist/**`, `!${ort}/lib/**`, `!${ort}/bin/napi-v6/${os}/${arch}/**`];
const ignoreFile = path.join(root, '.vscodeignore.generated');
fs.writeFileSync(ignoreFile, `${base}\n# generated for ${target}: onnxruntime-node without its install scripts, with this platform's binaries only\n${keep.join('\n')}\n`);
fs.mkdirSync('dist-vsix', { recursive: true });
for (const f of fs.readdirSync('dist-vsix')) fs.rmSync(path.join('dist-vsix', f));
const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
const out = path.join('dist-vsix', `${pkg.name}-${target}-${pkg.version}.vsix`);
try {
  sh('npx', ['vsce', 'package', '--target', target, '--ignoreFile', ignoreFile, '--out', out, '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links']);
} finally {
  fs.rmSync(ignoreFile, { force: true });
}
const size = fs.statSync(out).size;
console.log(`packaged ${out} (${(size / 1024 / 1024).toFixed(1)} MiB) for ${target}`);
