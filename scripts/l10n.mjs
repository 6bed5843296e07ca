// Writes l10n/bundle.l10n.json (every vscode.l10n.t key in src/, sorted, mapped to itself: the English bundle) and
// lists the keys l10n/bundle.l10n.zh-cn.json lacks or holds without a use. Run after adding or changing a runtime
// string: `node scripts/l10n.mjs`; test/unit/host/l10n.test.ts fails until both bundles match the sources.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tsImport } from 'tsx/esm/api';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const { runtimeStrings } = await tsImport('../test/support/l10nStrings.ts', import.meta.url);
const { keys, nonLiteral } = runtimeStrings(root);
const sorted = [...keys.keys()].sort();
fs.writeFileSync(path.join(root, 'l10n', 'bundle.l10n.json'), JSON.stringify(Object.fromEntries(sorted.map((k) => [k, k])), null, 2) + '\n');
const zh = JSON.parse(fs.readFileSync(path.join(root, 'l10n', 'bundle.l10n.zh-cn.json'), 'utf8'));
const missing = sorted.filter((k) => zh[k] === undefined);
const stale = Object.keys(zh).filter((k) => !keys.has(k));
console.log(`l10n/bundle.l10n.json: ${sorted.length} strings`);
for (const at of nonLiteral) console.log(`not a string literal: ${at}`);
for (const k of missing) console.log(`zh-cn lacks: ${JSON.stringify(k)} (${keys.get(k).join(', ')})`);
for (const k of stale) console.log(`zh-cn has an unused key: ${JSON.stringify(k)}`);
process.exitCode = nonLiteral.length || missing.length || stale.length ? 1 : 0;
