/**
 * Contract between each action.yml and its code: every input the code reads is declared and every
 * declared input is read; every declared output is set; runs.using is node24 and main exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

const root = join(__dirname, '../..');
const ACTIONS = ['bake', 'stamp', 'upgrade', 'verify', 'fleet'];
const AZURE_INPUTS = ['subscription-id', 'client-id', 'tenant-id', 'auth', 'arm-endpoint'];

interface ActionYml {
  name: string;
  description: string;
  inputs?: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description?: string }>;
  runs: { using: string; main: string };
}

const load = (path: string): ActionYml => YAML.parse(readFileSync(path, 'utf8'));

/** Input names the entry point reads, found by their literal names in the source. */
export function inputsReadBy(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(
    /inputs\s*\.\s*(?:string|required|secret|bool|int|oneOf|list)\(\s*'([a-z0-9-]+)'/g,
  )) {
    names.add(m[1]);
  }
  if (/(?:readAzureInputs|azureConnection|lifecycleOptions)\(/.test(source))
    AZURE_INPUTS.forEach((n) => names.add(n));
  if (/lifecycleOptions\(/.test(source)) ['dry-run', 'ssh-port'].forEach((n) => names.add(n));
  return names;
}

describe.each(ACTIONS)('action %s', (name) => {
  const dir = join(root, 'actions', name);
  const yml = load(join(dir, 'action.yml'));
  const source = readFileSync(join(dir, 'main.ts'), 'utf8');

  test('runs on node24 from a bundle that exists', () => {
    expect(yml.runs.using).toBe('node24');
    expect(yml.runs.main).toBe(`../../dist/${name}/index.js`);
    expect(existsSync(join(dir, yml.runs.main))).toBe(true);
  });

  test('every input and output is described', () => {
    for (const [k, v] of Object.entries({ ...yml.inputs, ...yml.outputs })) {
      expect({ k, ok: (v.description ?? '').length > 10 }).toEqual({ k, ok: true });
    }
  });

  test('inputs read by the code are exactly the declared inputs', () => {
    const declared = new Set(Object.keys(yml.inputs ?? {}));
    const read = inputsReadBy(source);
    expect([...read].filter((n) => !declared.has(n)).sort()).toEqual([]);
    expect([...declared].filter((n) => !read.has(n)).sort()).toEqual([]);
  });

  test('every declared output is set by the code', () => {
    for (const out of Object.keys(yml.outputs ?? {})) {
      const set = new RegExp(`(?:'${out}'|\\b${out}):`).test(source);
      expect({ out, set }).toEqual({ out, set: true });
    }
  });
});

test('the root action.yml dispatches on command and carries every input and output', () => {
  const rootYml = load(join(root, 'action.yml'));
  expect(rootYml.runs).toEqual({ using: 'node24', main: 'dist/action/index.js' });
  expect(rootYml.inputs?.command?.required).toBe(true);
  for (const name of ACTIONS) {
    const yml = load(join(root, 'actions', name, 'action.yml'));
    for (const k of Object.keys(yml.inputs ?? {})) expect(Object.keys(rootYml.inputs ?? {})).toContain(k);
    for (const k of Object.keys(yml.outputs ?? {})) expect(Object.keys(rootYml.outputs ?? {})).toContain(k);
  }
  expect(existsSync(join(root, 'dist/action/index.js'))).toBe(true);
});

test('generated root action.yml and docs/actions are in sync with actions/*/action.yml', () => {
  expect(() =>
    execFileSync(process.execPath, [join(root, 'scripts/gen-actions.mjs'), '--check'], { stdio: 'pipe' }),
  ).not.toThrow();
});

test('the contract scanner finds literal input names (it can fail)', () => {
  const names = inputsReadBy(
    `inputs.required('claw-name'); inputs.bool('dry-run', false); readAzureInputs(inputs)`,
  );
  expect([...names].sort()).toEqual([
    'arm-endpoint',
    'auth',
    'claw-name',
    'client-id',
    'dry-run',
    'subscription-id',
    'tenant-id',
  ]);
});
