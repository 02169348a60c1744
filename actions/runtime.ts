/**
 * The one bundle behind every dist/<name>/index.js (see scripts/build.mjs). Each entry is a thin
 * file that calls runEntry(name); the root action.yml dispatches on its `command` input.
 */
import * as core from '@actions/core';
import { run as bake } from './bake/main';
import { run as stamp } from './stamp/main';
import { run as upgrade } from './upgrade/main';
import { run as verify } from './verify/main';
import { run as fleet } from './fleet/main';
import { main as cli } from '../packages/cli/src/main';

const ACTIONS: Record<string, () => Promise<void>> = { bake, stamp, upgrade, verify, fleet };

export const ACTION_NAMES = Object.keys(ACTIONS);

export function runEntry(name: string): void {
  const done = (p: Promise<unknown>) =>
    p.catch((err: unknown) => {
      console.error(err instanceof Error ? err.stack : String(err));
      process.exitCode = 1;
    });
  if (name === 'cli') {
    done(cli(process.argv.slice(2)).then((code) => void (process.exitCode = code)));
    return;
  }
  if (name === 'action') {
    const command = core.getInput('command').trim();
    const action = ACTIONS[command];
    if (!action) {
      core.setFailed(`input \`command\` must be one of ${ACTION_NAMES.join(', ')}, got "${command}"`);
      return;
    }
    done(action());
    return;
  }
  const action = ACTIONS[name];
  if (!action) throw new Error(`unknown entry ${name}`);
  done(action());
}
