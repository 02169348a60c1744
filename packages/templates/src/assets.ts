/**
 * Locating the repository assets (`cloud-init/…`) at run time: walk up from this file's directory until a
 * directory containing `cloud-init/cloud-init.yaml.hbs` appears. Works from `packages/templates/src/` and from a
 * bundled `dist/<name>/index.js`. (No static join of __dirname with a string literal: ncc's asset relocator would rewrite it.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const MARKER = ['cloud-init', 'cloud-init.yaml.hbs'];

let cached: string | undefined;

export function findAssetRoot(start: string = __dirname): string {
  if (process.env.OPENCLAWPS_ASSET_ROOT) return process.env.OPENCLAWPS_ASSET_ROOT;
  if (start === __dirname && cached) return cached;
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.resolve(dir, ...MARKER))) {
      if (start === __dirname) cached = dir;
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) {
      throw new Error(
        `cannot find ${MARKER.join('/')} above ${start}; run from a checkout of openclawps or set OPENCLAWPS_ASSET_ROOT`,
      );
    }
    dir = up;
  }
}

export function cloudInitDir(): string {
  return path.resolve(findAssetRoot(), MARKER[0]);
}

/** The guest payload directory (`cloud-init/claw`), installed at /opt/claw. */
export function payloadDir(): string {
  return path.resolve(cloudInitDir(), 'claw');
}

export function readAsset(...parts: string[]): string {
  return fs.readFileSync(path.resolve(findAssetRoot(), ...parts), 'utf8');
}
