// Installs the packaged VSIX into code-server with its own `--install-extension` and checks that the installed
// extension (not the development copy) activates: the Alignment sidebar appears and lists the workspace's datasets.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, lap, startCodeServer, launchBrowser, workbenchUrl, waitForWorkbench, openSidebar, installVsix, listExtensions, shot, dataWorkspace, GENERATED } from './lib.mjs';

export async function vsixTest(base) {
  const result = { passed: 0, failed: 0, failures: [] };
  const dist = path.join(ROOT, 'dist-vsix');
  const vsix = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => f.endsWith('.vsix')).map((f) => path.join(dist, f))[0] : undefined;
  const fail = (m) => { result.failed++; result.failures.push(m); console.log('  FAIL ' + m); };
  if (!vsix) { fail('no VSIX in dist-vsix/: run `npm run package` first'); return result; }
  const extDir = path.join(base, 'vsix-ext');
  fs.mkdirSync(extDir, { recursive: true });
  let cs, ctx;
  try {
    lap(installVsix(vsix, extDir, base).trim().split('\n').pop());
    const listed = listExtensions(extDir, base);
    if (!/alignment-studio\.alignment-studio@/.test(listed)) throw new Error(`installed extensions do not include alignment-studio: ${listed}`);
    const installed = fs.readdirSync(extDir).find((d) => d.startsWith('alignment-studio.alignment-studio-'));
    const ortDir = path.join(extDir, installed, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    const platforms = fs.existsSync(ortDir) ? fs.readdirSync(ortDir) : [];
    if (platforms.join(',') !== 'linux') throw new Error(`the linux-x64 VSIX should carry only linux onnxruntime binaries, has: ${platforms.join(',') || 'none'}`);
    cs = await startCodeServer({ base, name: 'cs-vsix', extensionsDir: extDir });
    ({ ctx } = await launchBrowser(base));
    const page = ctx.pages()[0];
    await page.goto(workbenchUrl(cs, { folder: dataWorkspace(base, 'ws-vsix') }));
    await waitForWorkbench(page);
    await openSidebar(page);
    await page.locator('.monaco-list-row', { hasText: GENERATED.pairs }).first().waitFor({ timeout: 60_000 });
    await shot(page, 'vsix-installed');
    result.passed++;
    console.log(`  ok   the VSIX (${path.basename(vsix)}) installs into code-server and activates`);
  } catch (e) {
    fail(`VSIX install/activation: ${String(e && e.message || e).split('\n')[0]}`);
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    if (cs) await cs.stop();
  }
  return result;
}
