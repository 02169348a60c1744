/** `openclawps render`: a claw's cloud-init and OpenClaw files, for review or another provisioner. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSpec, SpecError } from '@openclawps/config';
import { renderClawFiles } from '@openclawps/templates';
import { printResult } from '../output';
import type { Register } from './index';

export const registerRender: Register = (program) => {
  program
    .command('render')
    .description(
      "write a claw's cloud-init.yaml (full), cloud-init-slim.yaml, openclaw.json and exec-approvals.json;\n" +
        'invalid input exits 2 with every problem listed and writes nothing',
    )
    .requiredOption('--env <file>', "the claw's .env (parsed as data)")
    .requiredOption('--out <dir>', 'directory to write into (created when missing)')
    .option('--claw <name>', 'claw name (overrides CLAW_NAME)')
    .option('--distro <distro>', 'ubuntu | debian (browser path and packages)', 'ubuntu')
    .option('--json', 'print the written paths as JSON', false)
    .action((o) => {
      const { spec, problems } = readSpec(readFileSync(o.env, 'utf8'), {
        file: o.env,
        overrides: o.claw ? { CLAW_NAME: o.claw } : {},
      });
      if (problems.length) throw new SpecError(problems, o.env);
      if (o.distro !== 'ubuntu' && o.distro !== 'debian')
        throw new SpecError([
          {
            variable: '--distro',
            message: `must be ubuntu or debian, got "${o.distro}"`,
            fix: 'pass --distro ubuntu or --distro debian',
          },
        ]);
      const rendered = renderClawFiles(spec, { distro: o.distro });
      const out = resolve(o.out);
      mkdirSync(out, { recursive: true });
      const written: string[] = [];
      for (const [name, content] of Object.entries(rendered.files)) {
        const path = join(out, name);
        // the full and slim cloud-init carry the claw's secrets: owner-only
        writeFileSync(path, content, { mode: name.startsWith('cloud-init') ? 0o600 : 0o644 });
        written.push(path);
      }
      printResult(o.json, { files: written }, () => written.map((p) => `wrote ${p}`));
    });
};
