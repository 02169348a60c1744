/**
 * `openclawps emulator --port N [--http] [--state FILE] [--latency-scale X] [--throttling]
 *   [--guest sandbox|nspawn|none] [--workdir DIR] [--ssh-port N]`: a local Azure Resource Manager for the SDKs,
 * the actions (`endpoint` + `NODE_EXTRA_CA_CERTS`) and the CLI (`--endpoint`), until SIGINT/SIGTERM.
 * With the sandbox guest (default) VMs boot the real guest scripts in directories and answer SSH on
 * their public IP (127.0.0.N) at the printed SSH port.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  NoopGuest,
  NspawnGuest,
  nspawnGuestProblems,
  SandboxGuest,
  startEmulator,
  type GuestBackend,
} from '@openclawps/emulator';
import { UsageError } from '../azure-flags';
import type { Register } from './index';

const num = (name: string, min: number, max: number, integer: boolean) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
    throw new UsageError([
      `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${v}"`,
    ]);
  return n;
};

export interface EmulatorFlags {
  port: number;
  http: boolean;
  state?: string;
  latencyScale: number;
  throttling: boolean;
  guest: string;
  workdir?: string;
  sshPort: number;
  caOut?: string;
}

/** Starts the emulator as the flags say; returns what it printed and how to stop it. */
export async function startEmulatorFromFlags(o: EmulatorFlags, log: (line: string) => void) {
  if (o.guest !== 'sandbox' && o.guest !== 'nspawn' && o.guest !== 'none')
    throw new UsageError([`--guest must be sandbox, nspawn or none, got "${o.guest}"`]);
  if (o.guest === 'nspawn') {
    const problem = nspawnGuestProblems();
    if (problem) throw new UsageError([`--guest nspawn: ${problem}`]);
  }
  const guest: GuestBackend =
    o.guest === 'sandbox'
      ? new SandboxGuest({ workdir: o.workdir, statePath: o.state, sshPort: o.sshPort })
      : o.guest === 'nspawn'
        ? new NspawnGuest({ workdir: o.workdir, log })
        : new NoopGuest();
  const emu = await startEmulator({
    https: !o.http,
    port: o.port,
    latencyScale: o.latencyScale,
    throttling: o.throttling,
    statePath: o.state,
    guest,
  });
  let caPath: string | undefined;
  if (emu.ca) {
    caPath = o.caOut ?? path.join(tmpdir(), `openclawps-emulator-ca-${emu.port}.pem`);
    writeFileSync(caPath, emu.ca);
  }
  log(`ARM emulator listening on ${emu.url}`);
  log(`subscription: ${emu.subscriptionId}`);
  if (caPath) log(`CA certificate: ${caPath} (NODE_EXTRA_CA_CERTS=${caPath})`);
  if (guest instanceof NspawnGuest)
    log('nspawn guest: VMs are systemd-nspawn containers, SSH on port 22 of their public IP (198.18.0.0/15)');
  else if (emu.sshPort) log(`SSH port of the VMs: ${emu.sshPort} (each VM on its public IP, 127.0.0.N)`);
  else log('guest: none (VMs are control-plane objects only, no SSH)');
  if (o.state) log(`state file: ${o.state}`);
  if (guest instanceof SandboxGuest) log(`sandbox workdir: ${guest.workdir}`);
  return { emu, caPath };
}

export const registerEmulator: Register = (program) => {
  program
    .command('emulator')
    .description(
      'run a local Azure Resource Manager emulator (with sandbox VMs reachable over SSH) until interrupted',
    )
    .option('--port <n>', 'ARM port (0 = any free port)', num('--port', 0, 65535, true), 0)
    .option('--http', 'plain HTTP instead of HTTPS with a generated CA', false)
    .option('--state <file>', 'persist the world in this JSON file (re-run against the same world)')
    .option(
      '--latency-scale <x>',
      'scale of realistic operation durations (0 = instant, 1 = real)',
      num('--latency-scale', 0, 1000, false),
      0,
    )
    .option('--throttling', 'enforce ARM and Compute throttling (429)', false)
    .option('--guest <kind>', 'sandbox (VMs with SSH) | nspawn (booted containers, root) | none', 'sandbox')
    .option('--workdir <dir>', 'sandbox disks/images directory (default: <state>.guest, or a temp dir)')
    .option(
      '--ssh-port <n>',
      'SSH port shared by the sandbox VMs (0 = any free port)',
      num('--ssh-port', 0, 65535, true),
      0,
    )
    .option('--ca-out <file>', 'where to write the CA certificate (https)')
    .action(async (o: EmulatorFlags) => {
      const { emu } = await startEmulatorFromFlags(o, (l) => process.stdout.write(`${l}\n`));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await emu.close();
    });
};
