// Moves package.json's user-visible strings into package.nls.json (VS Code's contribution localization): each one
// becomes a `%key%` placeholder, its English text goes to package.nls.json under that key, and translations live in
// package.nls.<locale>.json. Idempotent: strings already `%key%` are left alone, so it can run after anyone adds a
// command or a setting. `node scripts/nls.mjs --check` fails when a string is not moved yet or a key has no
// translation in some package.nls.<locale>.json (the unit test test/unit/host/contributions.test.ts runs the same).
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(new URL('..', import.meta.url).pathname);
const PKG = path.join(ROOT, 'package.json');
const NLS = path.join(ROOT, 'package.nls.json');

/** [object, field, key] for every localizable string of the manifest. */
export function localizable(pkg) {
  const out = [];
  const add = (obj, field, key) => {
    if (obj && typeof obj[field] === 'string') out.push([obj, field, key]);
  };
  add(pkg, 'displayName', 'extension.displayName');
  add(pkg, 'description', 'extension.description');
  const c = pkg.contributes ?? {};
  for (const cmd of c.commands ?? []) {
    add(cmd, 'title', `command.${cmd.command}.title`);
    add(cmd, 'shortTitle', `command.${cmd.command}.shortTitle`);
  }
  for (const list of Object.values(c.viewsContainers ?? {})) for (const v of list) add(v, 'title', `viewContainer.${v.id}.title`);
  for (const list of Object.values(c.views ?? {})) for (const v of list) {
    add(v, 'name', `view.${v.id}.name`);
    add(v, 'contextualTitle', `view.${v.id}.contextualTitle`);
  }
  (c.viewsWelcome ?? []).forEach((w, i) => add(w, 'contents', `viewWelcome.${w.view}.${i}`));
  for (const conf of [c.configuration ?? []].flat()) {
    add(conf, 'title', 'configuration.title');
    for (const [name, prop] of Object.entries(conf.properties ?? {})) {
      add(prop, 'description', `config.${name}.description`);
      add(prop, 'markdownDescription', `config.${name}.markdownDescription`);
      (prop.enumDescriptions ?? []).forEach((_, i) => add(prop.enumDescriptions, i, `config.${name}.enumDescriptions.${i}`));
    }
  }
  for (const w of c.walkthroughs ?? []) {
    add(w, 'title', `walkthrough.${w.id}.title`);
    add(w, 'description', `walkthrough.${w.id}.description`);
    for (const s of w.steps ?? []) {
      add(s, 'title', `walkthrough.${w.id}.${s.id}.title`);
      add(s, 'description', `walkthrough.${w.id}.${s.id}.description`);
    }
  }
  return out;
}

/** Problems: strings not moved into package.nls.json, placeholders without English, keys a translation lacks. */
export function nlsProblems(root = ROOT) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const nls = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.json'), 'utf8'));
  const problems = [];
  for (const [obj, field, key] of localizable(pkg)) {
    const m = /^%([^%]+)%$/.exec(obj[field]);
    if (!m) problems.push(`${key}: not moved to package.nls.json (run node scripts/nls.mjs)`);
    else if (typeof nls[m[1]] !== 'string') problems.push(`${m[1]}: no English text in package.nls.json`);
  }
  for (const f of fs.readdirSync(root).filter((n) => /^package\.nls\.[\w-]+\.json$/.test(n))) {
    const tr = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8'));
    for (const k of Object.keys(nls)) if (typeof tr[k] !== 'string' || !tr[k].trim()) problems.push(`${f}: no translation of ${k}`);
    for (const k of Object.keys(tr)) if (!(k in nls)) problems.push(`${f}: ${k} is not a key of package.nls.json`);
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (process.argv.includes('--check')) {
    const p = nlsProblems();
    for (const x of p) console.error(x);
    process.exit(p.length ? 1 : 0);
  }
  const text = fs.readFileSync(PKG, 'utf8');
  const pkg = JSON.parse(text);
  const nls = fs.existsSync(NLS) ? JSON.parse(fs.readFileSync(NLS, 'utf8')) : {};
  let moved = 0;
  for (const [obj, field, key] of localizable(pkg)) {
    if (/^%[^%]+%$/.test(obj[field])) continue;
    // A key made from a position (a welcome view's index) may already name another string: never overwrite it.
    let k = key;
    for (let n = 2; nls[k] !== undefined && nls[k] !== obj[field]; n++) k = `${key}.${n}`;
    nls[k] = obj[field];
    obj[field] = `%${k}%`;
    moved++;
  }
  fs.writeFileSync(PKG, JSON.stringify(pkg, null, 2) + '\n');
  fs.writeFileSync(NLS, JSON.stringify(nls, null, 2) + '\n');
  console.log(`nls: moved ${moved} string(s) into package.nls.json (${Object.keys(nls).length} keys)`);
}
