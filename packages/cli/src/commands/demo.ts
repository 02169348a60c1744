/**
 * `openclawps demo [--json]`: the whole lifecycle on a local Azure (the embedded ARM emulator over
 * https with the no-root sandbox guest), through the same lifecycle functions the actions call:
 * bake 1.0.0 -> stamp claw alice -> write a file into her workspace over SSH -> bake 1.1.0 ->
 * upgrade alice -> verify -> the file survived, the data disk, NIC and public IP are unchanged.
 * Exit 0 when every expectation holds, 1 otherwise. Nothing leaves this machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { formatEnv } from '@openclawps/config';
import { createAzureContext, StaticTokenCredential } from '@openclawps/azure';
import { SandboxGuest, startEmulator, type Emulator } from '@openclawps/emulator';
import { connectSsh, generateEd25519KeyPair } from '@openclawps/guest';
import { bake, stamp, upgrade, verify, type AzureConnection } from '@openclawps/lifecycle';
import { createCliReporter, EXIT, type CliReporter } from '../output';
import type { Register } from './index';

export interface DemoSummary {
  dataDiskIdBefore: string;
  dataDiskIdAfter: string;
  publicIpBefore: string;
  publicIpAfter: string;
  nicIdBefore: string;
  nicIdAfter: string;
  markerPreserved: boolean;
  versionBefore: string;
  versionAfter: string;
  verifyHealthy: boolean;
  rolledBack: boolean;
  timeline: Array<{ step: string; seconds: number }>;
  totalSeconds: number;
  /** Expectations that did not hold (empty = success). */
  failures: string[];
}

export interface DemoOptions {
  json?: boolean;
  /** Multiplies Azure's realistic operation durations (default 0.001: a 90 s VM create takes 0.09 s). */
  latencyScale?: number;
  reporter?: CliReporter;
  signal?: AbortSignal;
}

const RG = 'rg-openclawps-demo';
const CLAW = 'alice';
const LOCATION = 'eastus';
const MARKER_PATH = '~/workspace/demo-marker.txt';

/** Obviously fake but well-formed values: the demo never talks to xAI or Telegram. */
export const DEMO_SECRETS = {
  XAI_API_KEY: 'xai-DEMOdemoDEMOdemoDEMOdemoDEMOdemo0000',
  TELEGRAM_BOT_TOKEN: '1234567890:DEMO-fake-token-not-real-000000000000',
};

export function demoEnv(): string {
  return formatEnv(
    Object.entries({
      CLAW_NAME: CLAW,
      OPENCLAW_MODEL: 'xai/grok-4.20-0309-reasoning',
      PROFILE: 'minimal',
      ...DEMO_SECRETS,
      TELEGRAM_USER_ID: '5550001234',
      RESOURCE_GROUP: RG,
      LOCATION,
      SSH_SOURCE_CIDRS: '203.0.113.0/24',
    }),
    'openclawps demo claw (fake values)',
  );
}

export async function runDemo(o: DemoOptions = {}): Promise<DemoSummary> {
  const reporter = o.reporter ?? createCliReporter({ json: !!o.json });
  for (const s of Object.values(DEMO_SECRETS)) reporter.setSecret(s);
  const t0 = Date.now();
  const timeline: DemoSummary['timeline'] = [];
  let stepStart = Date.now();
  let stepName = '';
  const step = (name: string) => {
    if (stepName) timeline.push({ step: stepName, seconds: (Date.now() - stepStart) / 1000 });
    stepName = name;
    stepStart = Date.now();
    if (name) reporter.step(name);
    else reporter.done();
  };

  const workdir = mkdtempSync(path.join(tmpdir(), 'openclawps-demo-'));
  const guest = new SandboxGuest({ workdir: path.join(workdir, 'guest') });
  let emu: Emulator | undefined;
  try {
    step('start the local Azure (ARM emulator over https + sandbox guest)');
    emu = await startEmulator({ https: true, latencyScale: o.latencyScale ?? 0.001, guest });
    const sshPort = emu.sshPort ?? 22;
    const azure: AzureConnection = {
      subscriptionId: emu.subscriptionId,
      endpoint: emu.url,
      auth: 'static',
      ca: emu.ca,
      pollIntervalMs: 50,
    };
    const ctx = createAzureContext({
      subscriptionId: emu.subscriptionId,
      credential: new StaticTokenCredential(),
      endpoint: emu.url,
      ca: emu.ca,
      pollIntervalMs: 50,
    });
    reporter.info(`  ARM endpoint ${emu.url}, subscription ${emu.subscriptionId}, VM SSH port ${sshPort}`);
    const key = generateEd25519KeyPair({ comment: 'openclawps-demo' });
    reporter.setSecret(key.privateKey);
    const common = { azure, reporter, sshPort, signal: o.signal };
    const bakeOpts = {
      ...common,
      resourceGroup: RG,
      location: LOCATION,
      gallery: 'clawGallery',
      imageDefinition: 'claw-base',
      profile: 'minimal' as const,
      builderSize: 'Standard_D2s_v3',
      targetRegions: [],
      replicaCount: 1,
      excludeFromLatest: false,
      secretValues: Object.values(DEMO_SECRETS),
      cloudInitTimeoutMs: 120_000,
    };

    step('bake image 1.0.0 (builder from stock Ubuntu 24.04 + full cloud-init, scrub, secret scan, capture)');
    const b1 = await bake({ ...bakeOpts, version: '1.0.0' });
    reporter.info(`  image version ${b1.imageVersionId}`);

    step(`stamp claw ${CLAW} from the gallery`);
    const st = await stamp({
      ...common,
      envText: demoEnv(),
      overrides: {},
      source: 'gallery',
      sshPrivateKey: key.privateKey,
      verifyTimeoutMs: 120_000,
    });
    reporter.info(
      `  ${st.vmName} at ${st.publicIp} (image ${st.imageVersion}, healthy ${st.healthy}); ${st.sshCommand}`,
    );
    const nicBefore = await ctx.network.networkInterfaces.get(RG, `${CLAW}-nic`);

    step(`write a file into ${CLAW}'s workspace over SSH`);
    const marker = `written by the openclawps demo at ${new Date().toISOString()}`;
    {
      const s = await connectSsh({
        host: st.publicIp,
        port: sshPort,
        username: 'azureuser',
        privateKey: key.privateKey,
        retryUntilMs: 30_000,
      });
      try {
        const r = await s.exec(`printf '%s\\n' "$DEMO_MARKER" > ${MARKER_PATH} && cat ${MARKER_PATH}`, {
          env: { DEMO_MARKER: marker },
        });
        if (r.code !== 0)
          throw new Error(`demo: writing the marker failed (exit ${r.code}): ${r.stderr.trim()}`);
      } finally {
        s.close();
      }
    }

    step('bake image 1.1.0');
    const b2 = await bake({ ...bakeOpts, version: '1.1.0' });
    reporter.info(`  image version ${b2.imageVersionId}`);

    step(`upgrade ${CLAW} to 1.1.0 (snapshot, keep disk/NIC/IP, recreate the VM, verify)`);
    const up = await upgrade({
      ...common,
      clawName: CLAW,
      resourceGroup: RG,
      imageVersion: '1.1.0',
      gallery: 'clawGallery',
      imageDefinition: 'claw-base',
      force: false,
      snapshotRetention: 3,
      keepOsDisks: 0,
      sshPrivateKey: key.privateKey,
      verifyTimeoutMs: 120_000,
    });
    reporter.info(
      `  ${up.previousVersion} -> ${up.version}, downtime ${up.downtimeSeconds} s, rolled back ${up.rolledBack}`,
    );

    step(`verify ${CLAW}`);
    const v = await verify({
      reporter,
      clawName: CLAW,
      resourceGroup: RG,
      azure,
      port: sshPort,
      username: 'azureuser',
      privateKey: key.privateKey,
      timeoutMs: 60_000,
      signal: o.signal,
    });
    reporter.info(
      `  healthy ${v.healthy}${v.failedChecks.length ? `, failed: ${v.failedChecks.join(', ')}` : ''}`,
    );

    step('compare before and after');
    const vm = await ctx.compute.virtualMachines.get(RG, CLAW);
    const nicIdAfter = vm.networkProfile?.networkInterfaces?.[0]?.id ?? '';
    const pip = await ctx.network.publicIPAddresses.get(RG, `${CLAW}-pip`);
    const nicAfter = await ctx.network.networkInterfaces.get(RG, `${CLAW}-nic`);
    const pipOnNic = nicAfter.ipConfigurations?.[0]?.publicIPAddress?.id ?? '';
    let markerAfter = '';
    {
      const s = await connectSsh({
        host: pip.ipAddress!,
        port: sshPort,
        username: 'azureuser',
        privateKey: key.privateKey,
        retryUntilMs: 30_000,
      });
      try {
        markerAfter = (await s.exec(`cat ${MARKER_PATH}`)).stdout.trim();
      } finally {
        s.close();
      }
    }
    const summary: DemoSummary = {
      dataDiskIdBefore: st.dataDiskId,
      dataDiskIdAfter: vm.storageProfile?.dataDisks?.find((d) => d.lun === 0)?.managedDisk?.id ?? '',
      publicIpBefore: st.publicIp,
      publicIpAfter: pip.ipAddress ?? '',
      nicIdBefore: nicBefore.id ?? '',
      nicIdAfter,
      markerPreserved: markerAfter === marker,
      versionBefore: st.imageVersion,
      versionAfter: up.version,
      verifyHealthy: v.healthy,
      rolledBack: up.rolledBack,
      timeline: [],
      totalSeconds: 0,
      failures: [],
    };
    const f = summary.failures;
    if (!summary.markerPreserved)
      f.push(`the workspace file did not survive (after: ${JSON.stringify(markerAfter)})`);
    if (
      !summary.dataDiskIdAfter ||
      summary.dataDiskIdAfter.toLowerCase() !== summary.dataDiskIdBefore.toLowerCase()
    )
      f.push(`data disk changed: ${summary.dataDiskIdBefore} -> ${summary.dataDiskIdAfter}`);
    if (summary.publicIpAfter !== summary.publicIpBefore)
      f.push(`public IP changed: ${summary.publicIpBefore} -> ${summary.publicIpAfter}`);
    if (summary.nicIdAfter.toLowerCase() !== summary.nicIdBefore.toLowerCase())
      f.push(`NIC changed: ${summary.nicIdBefore} -> ${summary.nicIdAfter}`);
    if (pipOnNic.toLowerCase() !== (pip.id ?? '').toLowerCase())
      f.push('the public IP is no longer on the NIC');
    if (summary.versionBefore !== '1.0.0') f.push(`stamped version ${summary.versionBefore}, expected 1.0.0`);
    if (summary.versionAfter !== '1.1.0') f.push(`upgraded version ${summary.versionAfter}, expected 1.1.0`);
    if (summary.rolledBack) f.push('the upgrade rolled back');
    if (!summary.verifyHealthy) f.push(`verify unhealthy: ${v.failedChecks.join(', ')}`);
    if (!st.healthy) f.push('the stamped claw was not healthy');
    step('');
    summary.timeline = timeline;
    summary.totalSeconds = (Date.now() - t0) / 1000;
    return summary;
  } finally {
    reporter.done();
    await emu?.close();
    if (!emu) await guest.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}

function humanLines(s: DemoSummary): string[] {
  const ok = (b: boolean) => (b ? '✓' : '✗');
  const lines = [
    '',
    'timeline:',
    ...s.timeline.map((t) => `  ${t.seconds.toFixed(1).padStart(6)} s  ${t.step}`),
    `  ${s.totalSeconds.toFixed(1).padStart(6)} s  total`,
    '',
    `${ok(s.markerPreserved)} workspace file survived the upgrade`,
    `${ok(s.dataDiskIdAfter.toLowerCase() === s.dataDiskIdBefore.toLowerCase())} data disk unchanged: ${s.dataDiskIdAfter}`,
    `${ok(s.nicIdAfter.toLowerCase() === s.nicIdBefore.toLowerCase())} NIC unchanged: ${s.nicIdAfter}`,
    `${ok(s.publicIpAfter === s.publicIpBefore)} public IP unchanged: ${s.publicIpAfter}`,
    `${ok(s.versionBefore === '1.0.0' && s.versionAfter === '1.1.0')} image ${s.versionBefore} -> ${s.versionAfter}`,
    `${ok(s.verifyHealthy)} verify healthy`,
  ];
  if (s.failures.length) lines.push('', 'demo FAILED:', ...s.failures.map((f) => `  - ${f}`));
  else lines.push('', 'demo passed: a claw was upgraded to a new image and kept its memory.');
  return lines;
}

export const registerDemo: Register = (program, setExit) => {
  program
    .command('demo')
    .description(
      'run the whole lifecycle on a local Azure (emulator + sandbox VMs): bake 1.0.0, stamp alice, write a file, bake 1.1.0, upgrade, verify',
    )
    .option('--json', 'print a JSON summary on stdout (progress goes to stderr)', false)
    .option('--latency-scale <x>', 'scale of the emulated Azure operation durations', (v) => Number(v), 0.001)
    .action(async (opts: { json: boolean; latencyScale: number }) => {
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const s = await runDemo({ json: opts.json, latencyScale: opts.latencyScale, signal: ac.signal });
        if (opts.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        else for (const l of humanLines(s)) process.stdout.write(`${l}\n`);
        setExit(s.failures.length ? EXIT.failed : EXIT.ok);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
};
