/**
 * The `openclawps` command: the same lifecycle functions as the actions, for people at a laptop.
 * Exit codes: 0 ok, 1 the operation failed, 2 bad usage or invalid input (nothing was changed),
 * 3 the claw is unhealthy (verify failed), 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './azure-flags';
import { EXIT } from './output';
import { COMMANDS } from './commands';

export const VERSION = '0.1.0';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('openclawps')
    .description(
      'Versioned images, reproducible deploys and memory-safe upgrades for fleets of OpenClaw agents on Azure VMs.\n' +
        'Exit codes: 0 ok, 1 failed, 2 bad usage or invalid input (nothing changed), 3 unhealthy claw, 130 interrupted.',
    )
    .version(VERSION)
    // `bake --version 1.2.0` is the image version: program options are only read before the subcommand
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program, setExit);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const e = err as Error & { problems?: unknown[] };
    if (err instanceof UsageError || e.name === 'SpecError' || e.name === 'InputError') {
      process.stderr.write(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e.name === 'AbortError') {
      process.stderr.write('interrupted\n');
      return EXIT.interrupted;
    }
    process.stderr.write(`error: ${e.message}\n`);
    if (process.env.OPENCLAWPS_DEBUG) process.stderr.write(`${e.stack}\n`);
    return EXIT.failed;
  }
}
