/**
 * Every committed bundle runs for real as a child process, the way the runner starts it:
 * INPUT_* variables, a temp GITHUB_OUTPUT and GITHUB_STEP_SUMMARY.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { repoRoot, runBundle } from '../helpers/bundle';

const ACTIONS = ['bake', 'stamp', 'upgrade', 'verify', 'fleet'];

beforeAll(() => {
  if (!existsSync(join(repoRoot, 'dist/lib/index.js')))
    throw new Error('dist/ is missing: run `npm run build`');
});

function requiredInputs(name: string): string[] {
  const yml = YAML.parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8'));
  return Object.entries(yml.inputs as Record<string, { required?: boolean }>)
    .filter(([, v]) => v.required)
    .map(([k]) => k);
}

describe.each(ACTIONS.filter((a) => requiredInputs(a).length > 0))(
  'dist/%s without its required inputs',
  (name) => {
    test('fails the step naming every missing input, and sets no output', async () => {
      const run = await runBundle(name, {});
      expect(run.code).toBe(1);
      for (const input of requiredInputs(name)) expect(run.stdout).toContain(`\`${input}\``);
      expect(run.stdout).toMatch(/^::error::/m);
      expect(run.outputFile).toBe('');
    });
  },
);

test('dist/action dispatches on command and refuses an unknown one', async () => {
  const run = await runBundle('action', { command: 'explode' });
  expect(run.code).toBe(1);
  expect(run.stdout).toContain('input `command` must be one of bake, stamp, upgrade, verify, fleet');
});

test('dist/action with command=bake runs the bake entry', async () => {
  const run = await runBundle('action', { command: 'bake' });
  expect(run.code).toBe(1);
  expect(run.stdout).toContain('`version`');
});

test('dist/cli prints its help and exits 0', async () => {
  const run = await runBundle('cli', {}, { args: ['--help'] });
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/openclawps/);
});
