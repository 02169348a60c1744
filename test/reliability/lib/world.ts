/**
 * The reliability suite's world: one ARM emulator with the sandbox guest (real boot.sh, real ssh2 server),
 * helpers to bake/stamp in-process, and to run the CLI or an action bundle as a child process against it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEnv, nullReporter, type Reporter } from '@openclawps/config';
import { SandboxGuest, startEmulator, type Emulator, type EmulatorOptions } from '@openclawps/emulator';
import {
  bake,
  stamp,
  upgrade,
  type AzureConnection,
  type StampResult,
  type UpgradeResult,
} from '@openclawps/lifecycle';
import { generateEd25519KeyPair } from '@openclawps/guest';

export const repoRoot = join(__dirname, '../../..');

export interface World {
  emu: Emulator;
  guest: SandboxGuest;
  dir: string;
  caFile: string;
  azure: AzureConnection;
  sshPort: number;
  /** An admin key used for every claw of this world. */
  key: { privateKey: string; publicKey: string };
  close(): Promise<void>;
}

export async function startWorld(
  opts: Omit<EmulatorOptions, 'guest'> & { dir?: string } = {},
): Promise<World> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'openclawps-rel-'));
  const guest = new SandboxGuest({ workdir: join(dir, 'guest') });
  const emu = await startEmulator({ ...opts, guest });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, emu.ca);
  const kp = generateEd25519KeyPair({ comment: 'reliability' });
  return {
    emu,
    guest,
    dir,
    caFile,
    sshPort: emu.sshPort!,
    key: { privateKey: kp.privateKey, publicKey: kp.publicKey },
    azure: {
      subscriptionId: emu.subscriptionId,
      endpoint: emu.url,
      auth: 'static',
      ca: emu.ca,
      pollIntervalMs: 50,
    },
    close: () => emu.close(),
  };
}

/** A valid claw .env with distinctive fake secrets. */
export function clawEnv(claw: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CLAW_NAME: claw,
    RESOURCE_GROUP: 'rg-rel',
    LOCATION: 'eastus',
    OPENCLAW_MODEL: 'xai/grok-4.20-0309-reasoning',
    XAI_API_KEY: 'xai-Zq3v9LrT0pWk2sYbN8cHdJf6gAeUm1Xo',
    TELEGRAM_BOT_TOKEN: '7012345678:AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA',
    TELEGRAM_USER_ID: '5551234567',
    ...extra,
  };
}

export const envText = (vars: Record<string, string>) => formatEnv(Object.entries(vars));

export const GALLERY = { resourceGroup: 'rg-rel', gallery: 'clawGallery', imageDefinition: 'claw-base' };

/** Bake options for a minimal image into the suite's gallery (JSON-serialisable, for child runs too). */
export function bakeOptions(w: World, version: string) {
  return {
    version,
    resourceGroup: GALLERY.resourceGroup,
    location: 'eastus',
    gallery: GALLERY.gallery,
    imageDefinition: GALLERY.imageDefinition,
    profile: 'minimal' as const,
    builderSize: 'Standard_D2s_v3',
    targetRegions: [],
    replicaCount: 1,
    excludeFromLatest: false,
    secretValues: [],
    cloudInitTimeoutMs: 120_000,
    sshPort: w.sshPort,
    azure: w.azure,
  };
}

export async function bakeVersion(w: World, version: string, reporter: Reporter = nullReporter) {
  return bake({ ...bakeOptions(w, version), reporter });
}

export async function stampClaw(
  w: World,
  claw: string,
  opts: { reporter?: Reporter; env?: Record<string, string>; imageVersion?: string } = {},
): Promise<StampResult> {
  return stamp({
    envText: envText(clawEnv(claw, opts.env)),
    overrides: opts.imageVersion ? { IMAGE_VERSION: opts.imageVersion } : {},
    source: 'gallery',
    sshPrivateKey: w.key.privateKey,
    verifyTimeoutMs: 120_000,
    galleryResourceGroup: GALLERY.resourceGroup,
    sshPort: w.sshPort,
    azure: w.azure,
    reporter: opts.reporter ?? nullReporter,
  });
}

export async function upgradeClaw(
  w: World,
  claw: string,
  version: string,
  opts: { reporter?: Reporter; owner?: string } = {},
): Promise<UpgradeResult> {
  return upgrade({
    clawName: claw,
    resourceGroup: 'rg-rel',
    imageVersion: version,
    gallery: GALLERY.gallery,
    imageDefinition: GALLERY.imageDefinition,
    galleryResourceGroup: GALLERY.resourceGroup,
    force: false,
    snapshotRetention: 2,
    keepOsDisks: 0,
    sshPrivateKey: w.key.privateKey,
    verifyTimeoutMs: 120_000,
    owner: opts.owner,
    lockSettleMs: 50,
    sshPort: w.sshPort,
    azure: w.azure,
    reporter: opts.reporter ?? nullReporter,
  });
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where the CLI comes from: the built bundle (default when present) or the TypeScript source through swc. */
export function cliCommand(): string[] {
  const dist = process.env.OPENCLAWPS_REL_DIST ?? join(repoRoot, 'dist');
  if (process.env.OPENCLAWPS_REL_CLI !== 'src' && existsSync(join(dist, 'cli/index.js')))
    return [join(dist, 'cli/index.js')];
  return ['-r', join(repoRoot, 'test/system/register.js'), join(__dirname, 'cli-entry.ts')];
}

export function runNode(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        OPENCLAWPS_ASSET_ROOT: repoRoot,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** CLI flags that point a command at the world's emulator. */
export function azureFlags(w: World): string[] {
  return [
    '--subscription',
    w.emu.subscriptionId,
    '--endpoint',
    w.emu.url,
    '--auth',
    'static',
    '--ca-file',
    w.caFile,
    '--ssh-port',
    String(w.sshPort),
  ];
}

// ------------------------------------------------------------------ inspecting the emulated world

const RG = 'rg-rel';

export function resourcesOf(w: World, type: string, rg = RG) {
  return w.emu.world
    .list(type)
    .filter((r) => r.id.toLowerCase().includes(`/resourcegroups/${rg.toLowerCase()}/`));
}

export interface ClawState {
  vmId?: string;
  version?: string;
  dataDiskId?: string;
  nicId?: string;
  ip?: string;
  osDisk?: string;
  tags: Record<string, string>;
  power?: string;
}

export function clawState(w: World, claw: string): ClawState {
  const vm = resourcesOf(w, 'Microsoft.Compute/virtualMachines').find((r) => r.body.name === claw);
  const pip = resourcesOf(w, 'Microsoft.Network/publicIPAddresses').find(
    (r) => r.body.name === `${claw}-pip`,
  );
  const sp = vm?.body.properties?.storageProfile;
  return {
    vmId: vm?.id,
    version: vm?.body.tags?.['openclawps-image-version'],
    dataDiskId: sp?.dataDisks?.find((d: { lun: number }) => d.lun === 0)?.managedDisk?.id?.toLowerCase(),
    nicId: vm?.body.properties?.networkProfile?.networkInterfaces?.[0]?.id?.toLowerCase(),
    ip: pip?.body.properties?.ipAddress,
    osDisk: sp?.osDisk?.name,
    tags: vm?.body.tags ?? {},
    power: vm?.meta?.power,
  };
}

/** Disks, snapshots and builder groups beyond what a converged claw should have. */
export function orphans(w: World, claw: string, o: { snapshotRetention: number }): string[] {
  const out: string[] = [];
  const s = clawState(w, claw);
  for (const d of resourcesOf(w, 'Microsoft.Compute/disks')) {
    const name = String(d.body.name);
    if (!name.startsWith(`${claw}-`)) continue;
    if (name === `${claw}-data` || name === s.osDisk) continue;
    out.push(`disk ${name}`);
  }
  const snaps = resourcesOf(w, 'Microsoft.Compute/snapshots').filter((x) =>
    String(x.body.name).startsWith(`${claw}-data-`),
  );
  if (snaps.length > o.snapshotRetention)
    out.push(`${snaps.length} snapshots > retention ${o.snapshotRetention}`);
  for (const rg of w.emu.world.list('Microsoft.Resources/resourceGroups'))
    if (/openclawps-bake-/i.test(rg.id)) out.push(`builder group ${rg.body.name}`);
  const nics = resourcesOf(w, 'Microsoft.Network/networkInterfaces').filter((x) =>
    String(x.body.name).startsWith(`${claw}-`),
  );
  if (nics.length !== 1) out.push(`${nics.length} NICs`);
  const pips = resourcesOf(w, 'Microsoft.Network/publicIPAddresses').filter((x) =>
    String(x.body.name).startsWith(`${claw}-`),
  );
  if (pips.length !== 1) out.push(`${pips.length} public IPs`);
  for (const [k, v] of Object.entries(s.tags))
    if (k.startsWith('openclawps-upgrade')) out.push(`VM tag ${k}=${v}`);
  return out;
}

/** Runs a shell command on a claw over SSH (through the sandbox guest). */
export async function sshRun(w: World, claw: string, command: string): Promise<string> {
  const { connectSsh } = await import('@openclawps/guest');
  const s = clawState(w, claw);
  if (!s.ip) throw new Error(`claw ${claw} has no public IP`);
  const session = await connectSsh({
    host: s.ip,
    port: w.sshPort,
    username: 'azureuser',
    privateKey: w.key.privateKey,
    retryUntilMs: Date.now() + 30_000,
  });
  try {
    const r = await session.exec(command, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  } finally {
    session.close();
  }
}

export const MARKER_PATH = '/mnt/claw-data/workspace/reliability-marker.txt';

export const distDir = () => process.env.OPENCLAWPS_REL_DIST ?? join(repoRoot, 'dist');

export interface ActionRun extends ChildRun {
  outputFile: string;
  summary: string;
}

/** Runs dist/<name>/index.js like the Actions runner (INPUT_* env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY). */
export async function runAction(
  name: string,
  inputs: Record<string, string>,
  w: World,
  extraEnv: Record<string, string> = {},
): Promise<ActionRun> {
  const { readFileSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), `openclawps-rel-${name}-`));
  const out = join(dir, 'output');
  const sum = join(dir, 'summary.md');
  writeFileSync(out, '');
  writeFileSync(sum, '');
  const env: Record<string, string> = {
    GITHUB_OUTPUT: out,
    GITHUB_STEP_SUMMARY: sum,
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: dir,
    NODE_EXTRA_CA_CERTS: w.caFile,
    OPENCLAWPS_LOCK_SETTLE_MS: '50',
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  const r = await runNode([join(distDir(), name, 'index.js')], env, 180_000);
  return { ...r, outputFile: readFileSync(out, 'utf8'), summary: readFileSync(sum, 'utf8') };
}

export function azureInputs(w: World): Record<string, string> {
  return {
    auth: 'static',
    'arm-endpoint': w.emu.url,
    'subscription-id': w.emu.subscriptionId,
    'ssh-port': String(w.sshPort),
  };
}
