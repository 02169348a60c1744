// Imported first by run.ts: a private copy of the built bundles, so a rebuild of dist/ while the suite
// runs cannot break it (children get OPENCLAWPS_ASSET_ROOT for the payload).
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repoDist = join(__dirname, '../../../dist');
if (!process.env.OPENCLAWPS_REL_DIST && existsSync(join(repoDist, 'lib/index.js'))) {
  const copy = join(mkdtempSync(join(tmpdir(), 'openclawps-rel-dist-')), 'dist');
  cpSync(repoDist, copy, { recursive: true });
  process.env.OPENCLAWPS_REL_DIST = copy;
  process.on('exit', () => rmSync(join(copy, '..'), { recursive: true, force: true }));
}
