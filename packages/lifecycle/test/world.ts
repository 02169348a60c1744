/** A local Azure (emulator + sandbox guest) for the lifecycle tests, reached through the real SDKs. */
import { createMemoryReporter, formatEnv } from '@openclawps/config';
import { SandboxGuest, startEmulator, type Emulator } from '@openclawps/emulator';
import { generateEd25519KeyPair } from '@openclawps/guest';
import type { AzureConnection } from '@openclawps/lifecycle';

export const SECRETS = {
  XAI_API_KEY: 'xai-Zq3v9LrT0pWk2sYbN8cHdJf6gAeUm1Xo',
  TELEGRAM_BOT_TOKEN: '7012345678:AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA',
};

export function clawEnv(claw: string, extra: Record<string, string> = {}): string {
  return formatEnv(
    Object.entries({
      CLAW_NAME: claw,
      OPENCLAW_MODEL: 'xai/grok-4.20-0309-reasoning',
      ...SECRETS,
      TELEGRAM_USER_ID: '5551234567',
      RESOURCE_GROUP: 'rg-claws',
      ...extra,
    }),
  );
}

export interface TestWorld {
  emu: Emulator;
  guest: SandboxGuest;
  azure: AzureConnection;
  sshPort: number;
  key: ReturnType<typeof generateEd25519KeyPair>;
  log: string[];
  close(): Promise<void>;
}

export async function startWorld(): Promise<TestWorld> {
  const log: string[] = [];
  const guest = new SandboxGuest({ log: (l) => log.push(l) });
  const emu = await startEmulator({ guest, latencyScale: 0 });
  const azure: AzureConnection = {
    subscriptionId: emu.subscriptionId,
    endpoint: emu.url,
    auth: 'static',
    ca: emu.ca,
    pollIntervalMs: 0,
  };
  return {
    emu,
    guest,
    azure,
    sshPort: emu.sshPort ?? 22,
    key: generateEd25519KeyPair(),
    log,
    close: () => emu.close(),
  };
}

export function reporter() {
  return createMemoryReporter();
}

export function writesSince(emu: Emulator, from: number) {
  return emu.requests.slice(from).filter((r) => r.kind !== 'read' && !(r as { poll?: boolean }).poll);
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { StaticTokenCredential } from '@openclawps/azure';
import { connectSsh } from '@openclawps/guest';
import { bake } from '@openclawps/lifecycle';

export const RG = 'rg-claws';

/** Bakes versions into rg-claws/clawGallery/claw-base with the real bake flow; `broken` ones carry a failing migration. */
export async function bakeVersions(
  w: TestWorld,
  versions: Array<string | { version: string; broken: true }>,
) {
  for (const v of versions) {
    const version = typeof v === 'string' ? v : v.version;
    let extraUpdatesDir: string | undefined;
    if (typeof v !== 'string') {
      extraUpdatesDir = mkdtempSync(join(tmpdir(), 'lc-broken-'));
      writeFileSync(
        join(extraUpdatesDir, '900-broken.sh'),
        '#!/bin/bash\necho "this migration always fails" >&2\nexit 1\n',
        {
          mode: 0o755,
        },
      );
    }
    await bake({
      version,
      resourceGroup: RG,
      location: 'eastus',
      gallery: 'clawGallery',
      imageDefinition: 'claw-base',
      profile: 'desktop',
      builderSize: 'Standard_D2s_v3',
      targetRegions: [],
      replicaCount: 1,
      excludeFromLatest: false,
      secretValues: [],
      cloudInitTimeoutMs: 120_000,
      extraUpdatesDir,
      sshPort: w.sshPort,
      azure: w.azure,
      reporter: reporter(),
    });
  }
}

export function clients(w: TestWorld) {
  const opts = { endpoint: w.emu.url, tlsOptions: { ca: w.emu.ca } };
  const cred = new StaticTokenCredential();
  return {
    compute: new ComputeManagementClient(cred, w.emu.subscriptionId, opts),
    network: new NetworkManagementClient(cred, w.emu.subscriptionId, opts),
  };
}

/** Runs one command on a claw over SSH as the admin user. */
export async function sshRun(w: TestWorld, host: string, command: string): Promise<string> {
  const s = await connectSsh({
    host,
    port: w.sshPort,
    username: 'azureuser',
    privateKey: w.key.privateKey,
    retryUntilMs: 30_000,
  });
  try {
    const r = await s.exec(command, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  } finally {
    s.close();
  }
}

/** Everything that describes a claw's identity across upgrades, read from Azure. */
export async function clawFacts(w: TestWorld, claw: string) {
  const c = clients(w);
  const vm = await c.compute.virtualMachines.get(RG, claw);
  const disk = await c.compute.disks.get(RG, `${claw}-data`);
  const nic = await c.network.networkInterfaces.get(RG, `${claw}-nic`);
  const pip = await c.network.publicIPAddresses.get(RG, `${claw}-pip`);
  const disks: string[] = [];
  for await (const d of c.compute.disks.listByResourceGroup(RG))
    if (d.name?.startsWith(`${claw}-`)) disks.push(d.name);
  const snapshots: string[] = [];
  for await (const s of c.compute.snapshots.listByResourceGroup(RG))
    if (s.name?.startsWith(`${claw}-`)) snapshots.push(s.name);
  return {
    version: vm.tags?.['openclawps-image-version'],
    osDisk: vm.storageProfile?.osDisk?.name,
    vmNic: vm.networkProfile?.networkInterfaces?.[0]?.id,
    lun0: vm.storageProfile?.dataDisks?.find((d) => d.lun === 0)?.managedDisk?.id,
    dataDiskId: disk.id,
    dataDiskTags: disk.tags ?? {},
    vmTags: vm.tags ?? {},
    nicId: nic.id,
    ip: pip.ipAddress,
    disks: disks.sort(),
    snapshots: snapshots.sort(),
  };
}

export const upgradeDefaults = (w: TestWorld) => ({
  resourceGroup: RG,
  gallery: 'clawGallery',
  imageDefinition: 'claw-base',
  force: false,
  snapshotRetention: 2,
  keepOsDisks: 0,
  sshPrivateKey: w.key.privateKey,
  verifyTimeoutMs: 120_000,
  sshPort: w.sshPort,
  azure: w.azure,
  lockSettleMs: 300,
});

import { spawn } from 'node:child_process';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  result?: Record<string, unknown>;
  error?: { message: string; code?: string };
}

/** Runs upgrade/stamp in a child node process (TypeScript through test/system/register.js). */
export function runChild(
  flow: 'upgrade' | 'stamp',
  options: object,
  env: Record<string, string> = {},
): Promise<ChildRun> {
  const root = join(__dirname, '../../..');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', join(root, 'test/system/register.js'), join(__dirname, 'upgrade-child.ts')],
      {
        cwd: root,
        env: { ...process.env, OPENCLAWPS_TEST_OPTIONS: JSON.stringify({ flow, options }), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const res = /^RESULT (.*)$/m.exec(stdout);
      const err = /^ERROR (.*)$/m.exec(stdout);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        result: res ? JSON.parse(res[1]) : undefined,
        error: err ? JSON.parse(err[1]) : undefined,
      });
    });
  });
}
