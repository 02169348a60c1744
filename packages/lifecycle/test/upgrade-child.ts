/**
 * A separate process running upgrade (or stamp) with options from OPENCLAWPS_TEST_OPTIONS (JSON), so the crash
 * matrix can SIGKILL a real process at a phase (OPENCLAWPS_CRASH_AT). Prints one JSON line `RESULT {...}`.
 */
import { createConsoleReporter } from '@openclawps/config';
import { stamp, upgrade } from '@openclawps/lifecycle';

async function main(): Promise<void> {
  const { flow, options } = JSON.parse(process.env.OPENCLAWPS_TEST_OPTIONS ?? '{}');
  const reporter = createConsoleReporter({ debug: false });
  const result =
    flow === 'stamp' ? await stamp({ ...options, reporter }) : await upgrade({ ...options, reporter });
  process.stdout.write(`RESULT ${JSON.stringify({ ...result, verifyMarkdown: undefined })}\n`);
}

main().catch((e) => {
  process.stdout.write(`ERROR ${JSON.stringify({ message: String(e?.message ?? e), code: e?.code })}\n`);
  process.exit(1);
});
