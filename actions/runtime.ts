/**
 * The one bundle behind every dist/<name>/index.js (see scripts/build.mjs). Each entry is a thin
 * file that calls runEntry(name); the root action.yml dispatches on its `command` input.
 * Entries are required lazily so an action only initialises the modules it uses (cold start).
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import * as core from '@actions/core';

type Run = () => Promise<void>;
const ACTIONS: Record<string, () => Run> = {
  bake: () => (require('./bake/main') as { run: Run }).run,
  stamp: () => (require('./stamp/main') as { run: Run }).run,
  upgrade: () => (require('./upgrade/main') as { run: Run }).run,
  verify: () => (require('./verify/main') as { run: Run }).run,
  fleet: () => (require('./fleet/main') as { run: Run }).run,
};

export const ACTION_NAMES = Object.keys(ACTIONS);

export function runEntry(name: string): void {
  const done = (p: Promise<unknown>) =>
    p.catch((err: unknown) => {
      console.error(err instanceof Error ? err.stack : String(err));
      process.exitCode = 1;
    });
  if (name === 'cli') {
    const { main } = require('../packages/cli/src/main') as { main(argv: string[]): Promise<number> };
    done(main(process.argv.slice(2)).then((code) => void (process.exitCode = code)));
    return;
  }
  if (name === 'action') {
    const command = core.getInput('command').trim();
    const action = ACTIONS[command];
    if (!action) {
      core.setFailed(`input \`command\` must be one of ${ACTION_NAMES.join(', ')}, got "${command}"`);
      return;
    }
    done(action()());
    return;
  }
  const action = ACTIONS[name];
  if (!action) throw new Error(`unknown entry ${name}`);
  done(action()());
}
