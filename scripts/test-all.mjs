#!/usr/bin/env node
// The whole test suite: static checks, jest, guest scripts, booted-container tests, reliability.
// Each suite's counts are summed into one closing line: "summary: N passed, N failed, N skipped".
// OPENCLAWPS_SUITES=jest,guest runs a subset.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const jestOut = join(mkdtempSync(join(tmpdir(), 'openclawps-jest-')), 'jest.json');

/** A suite either counts as one check (exit code) or reports its own counts. */
const SUITES = [
  { id: 'lint', cmd: ['npm', 'run', '-s', 'lint'] },
  { id: 'typecheck', cmd: ['npm', 'run', '-s', 'typecheck'] },
  { id: 'dist', cmd: ['npm', 'run', '-s', 'check:dist'] },
  { id: 'jest', cmd: ['npx', 'jest', '--json', `--outputFile=${jestOut}`], counts: jestCounts },
  { id: 'guest', cmd: ['npm', 'run', '-s', 'test:guest'], counts: lineCounts, script: 'test:guest' },
  {
    id: 'conformance',
    cmd: ['npm', 'run', '-s', 'test:conformance'],
    counts: lineCounts,
    script: 'test:conformance',
  },
  { id: 'system', cmd: ['npm', 'run', '-s', 'test:system'], counts: lineCounts, script: 'test:system' },
  {
    id: 'reliability',
    cmd: ['npm', 'run', '-s', 'test:reliability'],
    counts: lineCounts,
    script: 'test:reliability',
  },
  { id: 'e2e', cmd: ['npm', 'run', '-s', 'test:e2e'], counts: lineCounts, script: 'test:e2e' },
];

function jestCounts() {
  if (!existsSync(jestOut)) return null;
  const r = JSON.parse(readFileSync(jestOut, 'utf8'));
  return {
    passed: r.numPassedTests,
    failed: r.numFailedTests + r.numRuntimeErrorTestSuites,
    skipped: r.numPendingTests + r.numTodoTests,
  };
}

/** Suites that are not jest print "<word>: N passed, N failed, N skipped" as their last such line. */
function lineCounts(output) {
  const matches = [...output.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm)];
  if (!matches.length) return null;
  const m = matches[matches.length - 1];
  return { passed: +m[1], failed: +m[2], skipped: +(m[3] ?? 0) };
}

const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
const wanted = process.env.OPENCLAWPS_SUITES?.split(',').filter(Boolean);
const total = { passed: 0, failed: 0, skipped: 0 };
const rows = [];
for (const suite of SUITES) {
  if (wanted && !wanted.includes(suite.id)) continue;
  if (suite.script && !scripts[suite.script]) continue;
  const started = Date.now();
  console.log(`\n=== ${suite.id}: ${suite.cmd.join(' ')}`);
  const r = spawnSync(suite.cmd[0], suite.cmd.slice(1), {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 30,
  });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  let c = suite.counts ? suite.counts(`${r.stdout}\n${r.stderr}`) : null;
  if (!c) c = r.status === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 };
  if (r.status !== 0 && c.failed === 0) c.failed = 1;
  for (const k of Object.keys(total)) total[k] += c[k];
  rows.push(
    `${suite.id.padEnd(12)} ${String(c.passed).padStart(5)} passed ${String(c.failed).padStart(4)} failed ${String(c.skipped).padStart(4)} skipped  ${((Date.now() - started) / 1000).toFixed(0)} s  exit ${r.status}`,
  );
}
console.log(`\n${rows.join('\n')}`);
console.log(`summary: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed ? 1 : 0);
