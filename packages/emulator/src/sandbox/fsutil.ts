/** Directory copies for disk/snapshot/image content, keeping symlinks and rebasing the absolute ones. */
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import * as path from 'node:path';

/**
 * Copies `src` to `dst` (replacing dst): modes and timestamps kept, symlinks copied verbatim, then
 * every absolute symlink that pointed inside `src` re-pointed inside `dst` (a sandbox root links
 * /mnt/claw-data and ~/workspace with absolute host paths). `skip` (paths relative to src) are left out.
 */
export function copyTree(src: string, dst: string, skip: string[] = []): void {
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(path.dirname(dst), { recursive: true });
  if (!existsSync(src)) {
    mkdirSync(dst, { recursive: true });
    return;
  }
  const skipAbs = new Set(skip.map((s) => path.resolve(src, s)));
  cpSync(src, dst, {
    recursive: true,
    verbatimSymlinks: true,
    preserveTimestamps: true,
    force: true,
    filter: (s) => !skipAbs.has(path.resolve(s)),
  });
  rebaseLinks(dst, path.resolve(src), path.resolve(dst));
}

function rebaseLinks(dir: string, from: string, to: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) {
      const t = readlinkSync(p);
      if (t === from || t.startsWith(from + '/')) {
        unlinkSync(p);
        symlinkSync(to + t.slice(from.length), p);
      }
    } else if (st.isDirectory()) {
      rebaseLinks(p, from, to);
    }
  }
}

export function removeTree(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** A filesystem-safe, readable key for an ARM id: `<rg>__<name>[__<child>…]`, lower case. */
export function idKey(armId: string): string {
  const parts = armId.split('/').filter(Boolean);
  const rgIdx = parts.findIndex((p) => p.toLowerCase() === 'resourcegroups');
  const rg = rgIdx >= 0 ? parts[rgIdx + 1] : 'norg';
  // names are the odd positions after providers/<ns>/<type>/<name>[/<type>/<name>]
  const pIdx = parts.findIndex((p) => p.toLowerCase() === 'providers');
  const names: string[] = [];
  if (pIdx >= 0) for (let i = pIdx + 3; i < parts.length; i += 2) names.push(parts[i]);
  return [rg, ...names]
    .join('__')
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '_');
}
