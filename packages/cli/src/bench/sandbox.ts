/** P1 (stamp), P2 (upgrade downtime) and P4 (verify connections) on the emulator with the sandbox guest. */
import { formatEnv, nullReporter } from '@openclawps/config';
import {
  createAzureContext,
  describePlan,
  executePlan,
  resolveCredential,
  stampInfrastructurePlan,
} from '@openclawps/azure';
import { SandboxGuest, startEmulator, LATENCY_MS, type Emulator } from '@openclawps/emulator';
import { generateEd25519KeyPair, measureVerifyConnections, type ConnectSshOptions } from '@openclawps/guest';
import {
  bake,
  stamp,
  stampProblems,
  upgrade,
  verify,
  UPGRADE_PHASE_TABLE,
  type AzureConnection,
  type BakeOptions,
} from '@openclawps/lifecycle';
import { sshdMissing, startSshd } from '../../../../test/helpers/sshd';
import { chargedOps, criticalPath, figure, syncCharges, type Figure } from './figures';

export const BENCH_RG = 'rg-bench';
const GALLERY = 'clawGallery';
const DEFINITION = 'claw-base';

export function benchEnv(claw: string): string {
  return formatEnv(
    Object.entries({
      CLAW_NAME: claw,
      RESOURCE_GROUP: BENCH_RG,
      LOCATION: 'eastus',
      OPENCLAW_MODEL: 'xai/grok-4.20-0309-reasoning',
      XAI_API_KEY: 'xai-Bench0000000000000000000000000000',
      TELEGRAM_BOT_TOKEN: '7000000000:AAbenchbenchbenchbenchbenchbenchbenc',
      TELEGRAM_USER_ID: '5550000000',
    }),
  );
}

export function bakeOptions(azure: AzureConnection, version: string, sshPort: number): BakeOptions {
  return {
    version,
    resourceGroup: BENCH_RG,
    location: 'eastus',
    gallery: GALLERY,
    imageDefinition: DEFINITION,
    profile: 'minimal',
    builderSize: 'Standard_D2s_v3',
    targetRegions: [],
    replicaCount: 1,
    excludeFromLatest: false,
    secretValues: [],
    cloudInitTimeoutMs: 300_000,
    sshPort,
    azure,
    reporter: nullReporter,
  };
}

/** Which plan step of stamp an ARM resource type belongs to. */
const STAMP_STEP_OF_TYPE: Record<string, string> = {
  'Microsoft.Resources/resourceGroups': 'resource-group',
  'Microsoft.Network/networkSecurityGroups': 'network',
  'Microsoft.Network/virtualNetworks': 'network',
  'Microsoft.Network/virtualNetworks/subnets': 'network',
  'Microsoft.Network/publicIPAddresses': 'public-ip',
  'Microsoft.Compute/disks': 'data-disk',
  'Microsoft.Network/networkInterfaces': 'nic',
  'Microsoft.Compute/virtualMachines': 'vm',
};

export interface SandboxBenchOptions {
  scale: number;
  log: (line: string) => void;
}

export async function sandboxFigures(o: SandboxBenchOptions): Promise<Figure[]> {
  const guest = new SandboxGuest({});
  const emu = await startEmulator({ latencyScale: 0, guest });
  try {
    return await runSandbox(emu, o);
  } finally {
    await emu.close();
  }
}

async function runSandbox(emu: Emulator, o: SandboxBenchOptions): Promise<Figure[]> {
  const azure: AzureConnection = {
    subscriptionId: emu.subscriptionId,
    endpoint: emu.url,
    auth: 'static',
    ca: emu.ca,
    pollIntervalMs: Math.max(20, Math.round(2000 * o.scale)),
  };
  const sshPort = emu.sshPort!;
  const key = generateEd25519KeyPair({ comment: 'bench' });
  o.log('setup: bake 1.0.0 and 1.1.0 (latency off)');
  const v1 = await bake(bakeOptions(azure, '1.0.0', sshPort));
  await bake(bakeOptions(azure, '1.1.0', sshPort));
  emu.world.latencyScale = o.scale;
  const figures: Figure[] = [];

  // ---------------------------------------------------------------- P1: stamp
  o.log(`P1: stamp claw bench-a at latency scale ${o.scale}`);
  const t0 = Date.now();
  const stamped = await stamp({
    envText: benchEnv('bench-a'),
    overrides: { IMAGE_VERSION: '1.0.0' },
    source: 'gallery',
    sshPrivateKey: key.privateKey,
    verifyTimeoutMs: 300_000,
    sshPort,
    azure,
    reporter: nullReporter,
  });
  const tl = new Map((stamped.timeline ?? []).map((t) => [t.phase, t.seconds * 1000]));
  const infraMs = tl.get('infrastructure') ?? 0;
  const verifyRefMs = (tl.get('wait-boot') ?? 0) + (tl.get('verify') ?? 0);
  const { spec, customData } = stampProblems({
    envText: benchEnv('bench-s'),
    overrides: { IMAGE_VERSION: '1.0.0' },
    source: 'gallery',
    sshPrivateKey: key.privateKey,
  });
  const planFor = (claw: string, resourceGroup = BENCH_RG) =>
    stampInfrastructurePlan({
      resourceGroup,
      location: 'eastus',
      claw,
      image: { type: 'gallery', id: v1.imageVersionId },
      vmSize: spec.azure.vmSize,
      dataDiskSizeGB: spec.azure.dataDiskSizeGb,
      adminUsername: spec.azure.adminUser,
      sshPublicKeys: [key.publicKey],
      customData,
      sshSourceCidrs: spec.access.sshSourceCidrs,
      imageVersion: '1.0.0',
    });
  const dag = describePlan(planFor('bench-a')).json.steps;
  const stepMs = new Map<string, number>(dag.map((s) => [s.id, 0]));
  for (const op of chargedOps(emu, t0)) {
    const step = STAMP_STEP_OF_TYPE[op.type];
    if (step) stepMs.set(step, stepMs.get(step)! + op.latencyMs + op.guestMs);
  }
  for (const c of syncCharges(emu.requests, t0, o.scale)) {
    const step = STAMP_STEP_OF_TYPE[c.type];
    if (step) stepMs.set(step, stepMs.get(step)! + c.ms);
  }
  const cp = criticalPath(dag.map((s) => ({ id: s.id, dependsOn: s.dependsOn, ms: stepMs.get(s.id)! })));
  const serialSum = [...stepMs.values()].reduce((a, b) => a + b, 0);

  // the same operations one after another (concurrency 1), measured, on a second claw
  o.log(
    'P1: the same plan one step at a time (claw bench-s in a fresh resource group, so the network is created too)',
  );
  const ctx = createAzureContext({
    subscriptionId: azure.subscriptionId,
    credential: resolveCredential({ kind: 'static' }),
    endpoint: azure.endpoint,
    ca: azure.ca,
    pollIntervalMs: azure.pollIntervalMs,
    location: 'eastus',
  });
  const ts = Date.now();
  const serialRun = await executePlan(planFor('bench-s', `${BENCH_RG}-serial`), {
    context: ctx,
    concurrency: 1,
  });
  const serialMs = Date.now() - ts;
  figures.push(
    figure({
      id: 'P1',
      name: 'stamp: infrastructure wall time vs critical path of its plan',
      value: infraMs / 1000,
      unit: 's',
      bound: cp.ms / 1000,
      target: '<= 1.10 x bound',
      direction: 'max',
      limit: 1.1,
      detail:
        `critical path ${cp.chain.join(' -> ')}; steps ${[...stepMs].map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}s`).join(', ')} ` +
        `(latency table x ${o.scale}, VM create includes the guest boot hook); one after another: ${(serialSum / 1000).toFixed(2)} s by the table, ` +
        `${(serialMs / 1000).toFixed(2)} s measured (plan ${serialRun.status}) = ${(serialMs / Math.max(1, infraMs)).toFixed(2)}x the parallel stamp; ` +
        `whole stamp incl. boot wait + verify ${((Date.now() - t0 - serialMs) / 1000).toFixed(2)} s`,
    }),
  );

  // ---------------------------------------------------------------- P2: upgrade downtime
  o.log('P2: upgrade bench-a 1.0.0 -> 1.1.0');
  const t2 = Date.now();
  const up = await upgrade({
    clawName: 'bench-a',
    resourceGroup: BENCH_RG,
    imageVersion: '1.1.0',
    gallery: GALLERY,
    imageDefinition: DEFINITION,
    force: false,
    snapshotRetention: 2,
    keepOsDisks: 0,
    sshPrivateKey: key.privateKey,
    verifyTimeoutMs: 300_000,
    lockSettleMs: Math.round(2000 * o.scale),
    sshPort,
    azure,
    reporter: nullReporter,
  });
  const downPhases = new Set<string>(
    UPGRADE_PHASE_TABLE.filter((p) => 'downtime' in p && p.downtime).map((p) => p.id),
  );
  const downMs = (up.timeline ?? [])
    .filter((t) => downPhases.has(t.phase))
    .reduce((a, t) => a + t.seconds * 1000, 0);
  const vmOps = chargedOps(emu, t2).filter(
    (c) => c.type === 'Microsoft.Compute/virtualMachines' && c.resourceId.toLowerCase().endsWith('/bench-a'),
  );
  const del = vmOps.find((c) => c.method === 'DELETE');
  const create = vmOps.filter((c) => c.method === 'PUT').pop();
  const dealloc = vmOps.find((c) => c.method === 'POST');
  const boundMs =
    (del?.latencyMs ?? LATENCY_MS.vmDelete * o.scale) +
    (create ? create.latencyMs + create.guestMs : LATENCY_MS.vmCreate * o.scale) +
    verifyRefMs;
  figures.push(
    figure({
      id: 'P2',
      name: 'upgrade downtime: VM stop until verify answers vs delete + create + boot',
      value: downMs / 1000,
      unit: 's',
      bound: boundMs / 1000,
      target: '<= 1.10 x bound',
      direction: 'max',
      limit: 1.1,
      detail:
        `downtime phases ${(up.timeline ?? [])
          .filter((t) => downPhases.has(t.phase))
          .map((t) => `${t.phase} ${t.seconds.toFixed(2)}s`)
          .join(', ')}` +
        ` (upgrade reports ${up.downtimeSeconds} s); bound = delete ${((del?.latencyMs ?? 0) / 1000).toFixed(2)} + create ${((create?.latencyMs ?? 0) / 1000).toFixed(2)} + boot ${((create?.guestMs ?? 0) / 1000).toFixed(2)} + boot-wait/verify ${(verifyRefMs / 1000).toFixed(2)} s (as measured for the stamp)` +
        (dealloc
          ? `; the deallocate before the delete costs ${(dealloc.latencyMs / 1000).toFixed(2)} s of downtime that a delete alone would not`
          : '') +
        `; healthy ${up.healthy}, rolled back ${up.rolledBack}`,
    }),
  );

  // ---------------------------------------------------------------- P4: verify connections
  const report = await verify({
    reporter: nullReporter,
    host: stamped.publicIp,
    port: sshPort,
    username: 'azureuser',
    privateKey: key.privateKey,
    timeoutMs: 60_000,
  });
  const checks = report.report.checks.length;
  let target: ConnectSshOptions;
  let where: string;
  let stop = async () => undefined as void;
  const missing = sshdMissing();
  if (!missing) {
    const sshd = await startSshd({});
    target = sshd.connectOptions();
    where = `real OpenSSH sshd on 127.0.0.1 (${sshd.mode} mode)`;
    stop = () => sshd.stop();
  } else {
    target = { host: stamped.publicIp, port: sshPort, username: 'azureuser', privateKey: key.privateKey };
    where = `the emulator's sandbox ssh2 server (${missing})`;
  }
  o.log(`P4: ${checks} checks, ${where}`);
  try {
    const m = await measureVerifyConnections({ target, checks, command: 'true' });
    figures.push(
      figure({
        id: 'P4',
        name: 'verify: one connection per check vs all checks over one connection',
        value: m.connectionPerCheckMs / 1000,
        unit: 's',
        bound: m.oneConnectionOneCommandMs / 1000,
        ratio: m.ratio,
        target: '>= 10 x (per-check connections / one connection)',
        direction: 'min',
        limit: 10,
        detail: `${checks} checks (the verify report's count) against ${where}: one connection ${m.oneConnectionOneCommandMs} ms, one connection with one channel per check ${m.oneConnectionPerCheckCommandMs} ms, one connection per check ${m.connectionPerCheckMs} ms`,
      }),
    );
  } finally {
    await stop();
  }
  return figures;
}
