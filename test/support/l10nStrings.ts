/**
 * The runtime strings of the extension: the first argument of every `vscode.l10n.t(...)` in src/, which must be a
 * single-quoted string literal (the key of the l10n bundles, l10n/bundle.l10n*.json). A call with any other first
 * argument (a variable, a template) is reported, since no bundle could hold its key.
 * No test-framework imports: scripts/l10n.mjs loads this file through tsx to write l10n/bundle.l10n.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RuntimeStrings {
  /** Each key, with the files (relative to the repository) that use it. */
  readonly keys: Map<string, string[]>;
  /** `file:line` of each l10n.t call whose first argument is not a single-quoted literal. */
  readonly nonLiteral: string[];
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r' };

/** The value of a single-quoted TypeScript literal's body (escapes resolved). */
function unquote(body: string): string {
  return body.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

/** Every l10n.t key under root/src. */
export function runtimeStrings(root: string): RuntimeStrings {
  const keys = new Map<string, string[]>();
  const nonLiteral: string[] = [];
  const src = path.join(root, 'src');
  const files = fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort();
  for (const f of files) {
    const rel = path.join('src', f);
    const text = fs.readFileSync(path.join(src, f), 'utf8');
    for (const m of text.matchAll(/\bl10n\.t\(\s*('((?:[^'\\\n]|\\.)*)')?/g)) {
      if (m[2] === undefined) {
        nonLiteral.push(`${rel}:${text.slice(0, m.index).split('\n').length}`);
        continue;
      }
      const key = unquote(m[2]);
      keys.set(key, [...(keys.get(key) ?? []), rel]);
    }
  }
  return { keys, nonLiteral };
}
