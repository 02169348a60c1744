#!/usr/bin/env node
// Bundles every entry point with ncc into dist/<name>/index.js.
// --check rebuilds into a temp dir and fails when the committed dist/ differs (stale bundles).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

export const ENTRIES = {
  bake: 'actions/bake/main.ts',
  stamp: 'actions/stamp/main.ts',
  upgrade: 'actions/upgrade/main.ts',
  verify: 'actions/verify/main.ts',
  fleet: 'actions/fleet/main.ts',
  cli: 'packages/cli/src/main.ts',
};

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const outRoot = check ? mkdtempSync(join(tmpdir(), 'openclawps-dist-')) : join(root, 'dist');
const ncc = join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js');

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(dir, f))
    .sort();
}

const names = only.length ? only : Object.keys(ENTRIES);
for (const name of names) {
  const out = join(outRoot, name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  execFileSync(process.execPath, [ncc, 'build', join(root, ENTRIES[name]), '-o', out, '-m', '-q', '--no-source-map-register', '--license', 'licenses.txt'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

if (check) {
  const stale = [];
  for (const name of names) {
    const fresh = join(outRoot, name);
    const committed = join(root, 'dist', name);
    const a = files(fresh);
    const b = files(committed);
    for (const f of new Set([...a, ...b])) {
      const pa = join(fresh, f);
      const pb = join(committed, f);
      if (!existsSync(pa) || !existsSync(pb) || !readFileSync(pa).equals(readFileSync(pb))) stale.push(`dist/${name}/${f}`);
    }
  }
  rmSync(outRoot, { recursive: true, force: true });
  if (stale.length) {
    console.error(`dist/ is stale; run \`npm run build\` and commit dist/. Differs: ${stale.join(', ')}`);
    process.exit(1);
  }
  console.log(`dist/ is fresh (${names.length} bundles)`);
}
