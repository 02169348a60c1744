/** `openclawps emulator --port N [--http] [--state FILE] [--latency-scale X] [--throttling]` */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CliOptions {
  port: number;
  http: boolean;
  state?: string;
  latencyScale: number;
  throttling: boolean;
  host: string;
  caPath?: string;
}

export function parseCliArgs(argv: string[]): CliOptions {
  const o: CliOptions = { port: 0, http: false, latencyScale: 0, throttling: false, host: '127.0.0.1' };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) problems.push(`${a} needs a value`);
      return v ?? '';
    };
    if (a === '--port') {
      o.port = Number(val());
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
        problems.push('--port must be an integer 0-65535');
    } else if (a === '--http') o.http = true;
    else if (a === '--state') o.state = val();
    else if (a === '--latency-scale') {
      o.latencyScale = Number(val());
      if (!Number.isFinite(o.latencyScale) || o.latencyScale < 0)
        problems.push('--latency-scale must be a number >= 0');
    } else if (a === '--throttling') o.throttling = true;
    else if (a === '--host') o.host = val();
    else if (a === '--ca-out') o.caPath = val();
    else problems.push(`unknown option ${a}`);
  }
  if (problems.length)
    throw new Error(
      `emulator: ${problems.join('; ')}\nusage: emulator --port N [--http] [--state FILE] [--latency-scale X] [--throttling] [--host H] [--ca-out FILE]`,
    );
  return o;
}

/**
 * Starts the emulator in the foreground, prints its URL (and the CA path for https), and runs
 * until SIGINT/SIGTERM. Resolves with the running emulator's close function.
 */
export async function runEmulatorCli(
  argv: string[],
  log: (line: string) => void = (l) => console.log(l),
): Promise<{ url: string; caPath?: string; close(): Promise<void> }> {
  const o = parseCliArgs(argv);
  // lazy import: index.ts re-exports this module
  const { startEmulator } = await import('./index');
  const emu = await startEmulator({
    https: !o.http,
    port: o.port,
    host: o.host,
    latencyScale: o.latencyScale,
    throttling: o.throttling,
    statePath: o.state,
  });
  let caPath: string | undefined;
  if (emu.ca) {
    caPath = o.caPath ?? join(tmpdir(), `openclawps-emulator-ca-${emu.port}.pem`);
    writeFileSync(caPath, emu.ca);
  }
  log(`ARM emulator listening on ${emu.url}`);
  log(`subscription: ${emu.subscriptionId}`);
  if (caPath) log(`CA certificate: ${caPath} (pass as tlsOptions.ca, or NODE_EXTRA_CA_CERTS=${caPath})`);
  if (o.state) log(`state file: ${o.state}`);
  const stop = async () => {
    await emu.close();
  };
  const onSignal = () => {
    void stop().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    url: emu.url,
    caPath,
    close: async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await stop();
    },
  };
}
