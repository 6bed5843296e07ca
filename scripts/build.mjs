// Builds every bundle with esbuild:
//   dist/extension.js       extension host (CJS; `vscode` and `onnxruntime-node` external)
//   dist/session.js         training-session process (node, CJS; onnxruntime-node external): an entry that turns on
//                           source maps, then loads the bundle dist/sessionMain.js
//   dist/cli.js             the `alignment` command-line tool: the same kind of entry, bundle dist/cliMain.js
//   dist/sessionWorker.js   the engine's onnxruntime worker thread
//   dist/webview/<name>.js  one browser bundle per folder in webview/ that has a main.ts
//   out/test/**             integration-test bundles (development builds only)
// Flags: --production (minified, no test bundles), --watch, --outdir DIR (instead of dist/, for tests).
// Every bundle has a linked source map (.map beside it, production too, and the VSIX ships them): the entry
// points turn on source-map support, so a stack of an unexpected error names the TypeScript source line.
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const outAt = process.argv.indexOf('--outdir');
const dist = outAt > 0 ? process.argv[outAt + 1] : 'dist';
const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

const common = {
  bundle: true,
  minify: production,
  sourcemap: 'linked',
  sourcesContent: false,
  keepNames: true, // class names stay readable in stack traces and leak reports
  logLevel: 'warning',
  define: { 'process.env.ALIGNMENT_BUILD': JSON.stringify(production ? 'production' : 'development') },
};
const nodeCommon = { ...common, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode', 'onnxruntime-node', 'tsx'] };

const webviews = existsSync('webview')
  ? readdirSync('webview').filter((d) => statSync(join('webview', d)).isDirectory() && existsSync(join('webview', d, 'main.ts')))
  : [];

const builds = [
  existsSync('src/host/extension.ts') && { ...nodeCommon, entryPoints: ['src/host/extension.ts'], outfile: join(dist, 'extension.js') },
  existsSync('src/session/main.ts') && { ...nodeCommon, entryPoints: ['src/session/main.ts'], outfile: join(dist, 'sessionMain.js') },
  existsSync('src/cli/main.ts') && { ...nodeCommon, entryPoints: ['src/cli/main.ts'], outfile: join(dist, 'cliMain.js') },
  // The engine runs onnxruntime in a worker thread; bundled, its script sits beside the session/cli bundles.
  existsSync('src/engine/runtime/sessionWorker.ts') && { ...nodeCommon, entryPoints: ['src/engine/runtime/sessionWorker.ts'], outfile: join(dist, 'sessionWorker.js') },
  ...webviews.map((name) => ({
    ...common, platform: 'browser', target: 'es2022', format: 'iife',
    entryPoints: [join('webview', name, 'main.ts')], outfile: join(dist, 'webview', `${name}.js`),
    loader: { '.css': 'text', '.ttf': 'dataurl' },
  })),
  ...(!production && existsSync('test/integration')
    ? [{
        ...nodeCommon,
        entryPoints: ['test/integration/api/index.ts', 'test/runElectron.ts'].filter((f) => existsSync(f)),
        outdir: 'out/test', outbase: 'test',
        external: ['vscode', 'onnxruntime-node', 'mocha', '@vscode/test-electron'],
      }]
    : []),
].filter(Boolean);

if (!watch) rmSync(dist, { recursive: true, force: true });

// The process entries: node reads a file's source map only when it loads the file, so source maps are turned on
// here, before the bundle loads (turning them on inside the bundle would miss the bundle's own frames).
function writeEntries() {
  mkdirSync(dist, { recursive: true });
  const entry = (bundle, run, shebang) =>
    `${shebang ? '#!/usr/bin/env node\n' : ''}'use strict';\nprocess.setSourceMapsEnabled(true);\nrequire('./${bundle}').${run}();\n`;
  if (existsSync('src/cli/main.ts')) writeFileSync(join(dist, 'cli.js'), entry('cliMain.js', 'runCliProcess', true), { mode: 0o755 });
  if (existsSync('src/session/main.ts')) writeFileSync(join(dist, 'session.js'), entry('sessionMain.js', 'runSessionProcess', false));
}
writeEntries();
const t0 = Date.now();
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log(`watching ${builds.length} bundles`);
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  console.log(`built ${builds.length} bundles (${production ? 'production' : 'development'}) in ${Date.now() - t0} ms`);
}
