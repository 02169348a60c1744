/**
 * bake: build a clean image version x.y.z, like Packer. From scratch, a temporary builder (its own resource
 * group, `openclawps-bake-<x-y-z>`) boots stock Ubuntu 24.04 with the full cloud-init; bake waits for
 * cloud-init, runs the image-level checks, scrubs, scans for secrets (refusing to capture when one is found),
 * deprovisions, generalizes and publishes the version, then always deletes the builder, also on failure.
 * With `sourceVm`, an existing VM is scrubbed, scanned and captured from its OS disk only (never its data disk).
 *
 * Re-running after a crash converges: a version that exists from this bake's own builder is finished, a
 * half-built builder is thrown away and rebuilt, and a version that exists from anything else is refused.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isResourceGroupName, versionProblem } from '@openclawps/config';
import {
  createImageVersion,
  createSnapshot,
  deallocateVm,
  deleteImageVersion,
  deleteResourceGroup,
  deleteSnapshot,
  ensureGallery,
  ensureImageDefinition,
  ensureNetwork,
  ensureNetworkInterface,
  ensurePublicIp,
  ensureResourceGroup,
  ensureVm,
  findOsDisk,
  findVmPublicIp,
  generalizeVm,
  getImageVersion,
  getResourceGroup,
  getVm,
  getVmState,
  ids,
  UBUNTU_2404,
  waitForReplication,
  type AzureContext,
  type ReplicationProgress,
} from '@openclawps/azure';
import { connectSsh, shellQuote, type SshSession } from '@openclawps/guest';
import { renderFullCloudInit, type PayloadFile } from '@openclawps/templates';
import { PhaseRunner, type PhaseInfo } from './phases';
import { azureContextFor, maskAll, mdCell, sshIdentity, type SshIdentity } from './shared';
import type { BakeOptions, BakeResult } from './types';

export const BAKE_PHASE_TABLE = [
  { id: 'validate', title: 'validate the inputs (no Azure call)', path: 'any' },
  {
    id: 'preflight',
    title: 'read Azure: does the version exist, and from which source (no write)',
    path: 'any',
  },
  {
    id: 'builder',
    title: 'temporary builder: resource group, network, public IP, NIC, VM with the full cloud-init',
    path: 'forward',
  },
  { id: 'cloud-init', title: 'wait for SSH and `cloud-init status --wait`', path: 'forward' },
  { id: 'image-checks', title: 'image-level checks (binaries, boot unit)', path: 'forward' },
  {
    id: 'scrub',
    title: 'scrub: services, per-claw files, secrets, host keys, logs, history, cloud-init state',
    path: 'forward',
  },
  { id: 'secret-scan', title: 'secret scan: refuse to capture a disk holding a secret', path: 'forward' },
  { id: 'deprovision', title: 'waagent -deprovision+user', path: 'forward' },
  { id: 'generalize', title: 'deallocate and generalize the VM', path: 'forward' },
  {
    id: 'gallery',
    title: 'gallery and image definition (Linux, Generalized, Gen2, Trusted Launch)',
    path: 'forward',
  },
  { id: 'image-version', title: 'create the image version', path: 'forward' },
  { id: 'replication', title: 'wait for replication to every target region', path: 'forward' },
  { id: 'cleanup', title: 'delete the builder (always, also on failure)', path: 'any' },
] as const satisfies readonly PhaseInfo[];

export type BakePhase = (typeof BAKE_PHASE_TABLE)[number]['id'];
export const BAKE_PHASES: readonly BakePhase[] = BAKE_PHASE_TABLE.map((p) => p.id);

const BUILDER = 'claw-builder';
const BUILDER_TAG = 'openclawps-bake';

export function builderResourceGroup(version: string): string {
  return `openclawps-bake-${version.replace(/\./g, '-')}`;
}

/** Image-level checks: the verify groups an image must already pass without a data disk. */
const IMAGE_CHECK_GROUPS = new Set(['binaries']);
const IMAGE_CHECK_IDS = new Set(['boot.unit-enabled']);

const MIGRATION_NAME = /^(\d{3})-[a-z0-9][a-z0-9-]*\.sh$/;

export class BakeError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message);
    this.name = 'BakeError';
  }
}

/** Reads and checks extra migrations: names NNN-name.sh, numbers unique (also against the image's own). */
export function readExtraUpdates(
  dir: string,
  builtIn: string[],
): { files: PayloadFile[]; problems: string[] } {
  const problems: string[] = [];
  const files: PayloadFile[] = [];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return { files, problems: [`extra-updates: ${dir} is not a directory`] };
  }
  const taken = new Map(builtIn.map((n) => [n.slice(0, 3), n]));
  for (const name of readdirSync(dir).sort()) {
    const m = MIGRATION_NAME.exec(name);
    if (!m) {
      problems.push(`extra-updates: ${name} is not named NNN-name.sh (three digits, lower-case name)`);
      continue;
    }
    const other = taken.get(m[1]);
    if (other) {
      problems.push(
        `extra-updates: ${name} reuses number ${m[1]} of ${other}; migration numbers must be unique`,
      );
      continue;
    }
    taken.set(m[1], name);
    const content = readFileSync(join(dir, name));
    if (!content.subarray(0, 2).equals(Buffer.from('#!'))) {
      problems.push(`extra-updates: ${name} must start with a #! line (e.g. #!/usr/bin/env bash)`);
    }
    files.push({ path: `/opt/claw/updates/${name}`, permissions: '0755', bytes: content.length, content });
  }
  return { files, problems };
}

function builtInMigrations(): string[] {
  try {
    // the payload is found the same way the template finds it (next to the bundle or the sources)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { payloadDir } = require('@openclawps/templates') as { payloadDir(): string };
    return readdirSync(join(payloadDir(), 'updates')).filter((n) => MIGRATION_NAME.test(n));
  } catch {
    return [];
  }
}

/** Every problem with the options, before any Azure call. */
export function bakeProblems(o: BakeOptions): string[] {
  const problems: string[] = [];
  const vp = versionProblem(o.version);
  if (vp) problems.push(`version: ${vp}`);
  if (!isResourceGroupName(o.resourceGroup))
    problems.push(`resource-group: "${o.resourceGroup}" is not a valid resource group name`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._]{0,78}[A-Za-z0-9]$/.test(o.gallery))
    problems.push(`gallery: "${o.gallery}" must be 2-80 letters, digits, dots or underscores`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,78}[A-Za-z0-9]$/.test(o.imageDefinition))
    problems.push(
      `image-definition: "${o.imageDefinition}" must be 2-80 letters, digits, dots, dashes or underscores`,
    );
  if (!/^[a-z0-9]+$/.test(o.location))
    problems.push(`location: "${o.location}" is not an Azure region name (e.g. eastus)`);
  for (const r of o.targetRegions)
    if (!/^[a-z0-9]+$/.test(r)) problems.push(`target-regions: "${r}" is not an Azure region name`);
  if (!Number.isInteger(o.replicaCount) || o.replicaCount < 1 || o.replicaCount > 100)
    problems.push(`replica-count: must be 1..100, got ${o.replicaCount}`);
  if (o.sourceVm !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}[A-Za-z0-9]$/.test(o.sourceVm))
    problems.push(`source-vm: "${o.sourceVm}" is not a valid VM name`);
  if (o.profile !== 'desktop' && o.profile !== 'minimal')
    problems.push(`profile: must be desktop or minimal`);
  return problems;
}

interface BakeContext {
  o: BakeOptions;
  ctx: AzureContext;
  phases: PhaseRunner<BakePhase>;
  secrets: string[];
  ref: { resourceGroup: string; gallery: string; definition: string; version: string };
  builderRg: string;
  /** The version exists in state Failed: it is deleted, then published again. */
  replaceFailed: boolean;
}

export async function bake(o: BakeOptions): Promise<BakeResult> {
  const reporter = o.reporter;
  const phases = new PhaseRunner<BakePhase>('bake', BAKE_PHASE_TABLE, reporter);
  const secrets = o.secretValues.filter((s) => s.trim().length >= 4);
  secrets.forEach((s) => reporter.setSecret(s));

  phases.enter('validate', `${o.gallery}/${o.imageDefinition}/${o.version}`);
  const problems = bakeProblems(o);
  let extra: PayloadFile[] = [];
  if (o.extraUpdatesDir) {
    const read = readExtraUpdates(o.extraUpdatesDir, builtInMigrations());
    problems.push(...read.problems);
    extra = read.files;
  }
  let customData = '';
  if (!o.sourceVm && !problems.length) {
    try {
      customData = renderFullCloudInit({ profile: o.profile, extraPayload: extra });
    } catch (e) {
      problems.push(
        `${(e as Error).message}${extra.length ? ' (extra-updates adds to the custom data: make them smaller)' : ''}`,
      );
    }
  }
  if (problems.length) throw new BakeError('bake: invalid inputs (nothing was changed in Azure)', problems);

  const ctx = azureContextFor(o.azure, o.location);
  const b: BakeContext = {
    o,
    ctx,
    phases,
    secrets,
    ref: {
      resourceGroup: o.resourceGroup,
      gallery: o.gallery,
      definition: o.imageDefinition,
      version: o.version,
    },
    builderRg: builderResourceGroup(o.version),
    replaceFailed: false,
  };

  phases.enter('preflight');
  const existing = await getImageVersion(ctx, b.ref, { signal: o.signal });
  const ourSourceVm = ids.vm(ctx.subscriptionId, b.builderRg, BUILDER);
  const existingSource =
    existing?.storageProfile?.source?.virtualMachineId ?? existing?.storageProfile?.source?.id ?? undefined;
  // a version from this bake's own builder, whose builder still exists, is a run that crashed before cleanup
  const builderLeft =
    !o.sourceVm && !!existing && !!(await getResourceGroup(ctx, b.builderRg, { signal: o.signal }));
  const resuming =
    !!existing &&
    existing.provisioningState !== 'Failed' &&
    builderLeft &&
    sameish(existingSource, ourSourceVm);
  if (existing && existing.provisioningState !== 'Failed' && !resuming) {
    throw new BakeError(
      `bake: image version ${o.gallery}/${o.imageDefinition}/${o.version} already exists (${existing.provisioningState}); versions are immutable`,
      ['publish a new version number, or delete the existing version first'],
    );
  }

  if (existing?.provisioningState === 'Failed') {
    reporter.warn(
      `image version ${o.version} exists in state Failed: it will be deleted and published again`,
    );
    b.replaceFailed = true;
  }

  if (o.dryRun) {
    reporter.info(describeBake(b, customData));
    return { imageVersionId: '', version: o.version, timeline: phases.timeline };
  }

  let imageVersionId = existing?.id ?? '';
  try {
    if (o.sourceVm) imageVersionId = await captureExisting(b);
    else
      imageVersionId = resuming ? await finishFromBuilder(b) : await buildFromScratch(b, customData, extra);
  } finally {
    if (!o.sourceVm) {
      phases.enter('cleanup', `delete resource group ${b.builderRg}`);
      try {
        const rg = await getResourceGroup(ctx, b.builderRg, {});
        if (rg) {
          await deleteResourceGroup(ctx, b.builderRg, {});
          reporter.info(`deleted builder resource group ${b.builderRg}`);
        }
      } catch (e) {
        reporter.error(
          `could not delete the builder resource group ${b.builderRg}: ${(e as Error).message}; delete it by hand`,
        );
      }
    }
    phases.close();
  }
  reporter.info(`published ${imageVersionId}`);
  return { imageVersionId, version: o.version, timeline: phases.timeline };
}

function sameish(a: string | undefined, b: string): boolean {
  return !!a && a.toLowerCase() === b.toLowerCase();
}

function describeBake(b: BakeContext, customData: string): string {
  const { o } = b;
  const lines = [`bake ${o.gallery}/${o.imageDefinition}/${o.version} (dry run, nothing changed):`];
  if (o.sourceVm) {
    lines.push(
      `  capture VM ${o.resourceGroup}/${o.sourceVm}: scrub, secret scan, deprovision, deallocate, generalize`,
    );
    lines.push(`  snapshot its OS disk (data disks are never included) and publish the version from it`);
  } else {
    lines.push(
      `  create builder resource group ${b.builderRg} (${o.location}) with VNet, NSG (22 only), public IP, NIC`,
    );
    lines.push(
      `  create VM ${BUILDER} (${o.builderSize}) from ${UBUNTU_2404.publisher}:${UBUNTU_2404.offer}:${UBUNTU_2404.sku}`,
    );
    lines.push(
      `    custom data: full cloud-init, profile ${o.profile}, ${Buffer.byteLength(customData)} bytes`,
    );
    lines.push(
      `  wait for cloud-init (timeout ${Math.round(o.cloudInitTimeoutMs / 60000)} min), image checks, scrub, secret scan`,
    );
    lines.push(`  deprovision, deallocate, generalize ${BUILDER}`);
  }
  if (b.replaceFailed) lines.push(`  delete the Failed version ${o.version} first`);
  lines.push(`  ensure gallery ${o.gallery} and definition ${o.imageDefinition} in ${o.resourceGroup}`);
  const regions = [o.location, ...o.targetRegions.filter((r) => r !== o.location)];
  lines.push(
    `  create version ${o.version}: regions ${regions.join(', ')}, ${o.replicaCount} replica(s) each, excludeFromLatest ${o.excludeFromLatest}`,
  );
  if (!o.sourceVm) lines.push(`  delete resource group ${b.builderRg} (always)`);
  return lines.join('\n');
}

async function buildFromScratch(b: BakeContext, customData: string, extra: PayloadFile[]): Promise<string> {
  const { o, ctx, phases } = b;
  const signal = o.signal;
  phases.enter('builder', `${b.builderRg}/${BUILDER}`);
  const stale = await getResourceGroup(ctx, b.builderRg, { signal });
  if (stale) {
    // A builder from an interrupted run: its state (scrubbed? deprovisioned?) cannot be trusted. Start over.
    o.reporter.warn(`a builder from an earlier run exists (${b.builderRg}); deleting it and starting over`);
    await deleteResourceGroup(ctx, b.builderRg, { signal });
  }
  const identity = sshIdentity({});
  if (identity.privateKey) o.reporter.setSecret(identity.privateKey);
  const tags = { [BUILDER_TAG]: o.version };
  await ensureResourceGroup(ctx, { name: b.builderRg, location: o.location, tags }, { signal });
  const common = { resourceGroup: b.builderRg, location: o.location, tags };
  const [net, pip] = await Promise.all([
    ensureNetwork(ctx, { ...common, sshSourceCidrs: ['0.0.0.0/0'], vncExposure: 'localhost' }, { signal }),
    ensurePublicIp(ctx, { ...common, claw: BUILDER }, { signal }),
  ]);
  const nic = await ensureNetworkInterface(
    ctx,
    { ...common, claw: BUILDER, subnetId: net.resource.subnetId, publicIpId: pip.resource.id ?? '' },
    { signal },
  );
  await ensureVm(
    ctx,
    {
      ...common,
      claw: BUILDER,
      vmSize: o.builderSize,
      image: UBUNTU_2404,
      nicId: nic.resource.id ?? '',
      adminUsername: 'azureuser',
      sshPublicKeys: identity.publicKeys,
      customData,
      osDiskName: `${BUILDER}-os`,
    },
    { signal },
  );
  const host = await publicAddress(ctx, b.builderRg, BUILDER);

  phases.enter('cloud-init', `${host}`);
  const session = await connectBuilder(b, host, identity);
  try {
    const timeoutS = Math.max(1, Math.round(o.cloudInitTimeoutMs / 1000));
    const ci = await session.exec(`sudo -n timeout ${timeoutS} cloud-init status --wait --long`, {
      timeoutMs: o.cloudInitTimeoutMs + 30_000,
      signal,
    });
    if (ci.code !== 0 || !/status: done/.test(ci.stdout)) {
      const log = await session.exec('sudo -n tail -n 40 /var/log/cloud-init-output.log', {
        timeoutMs: 30_000,
      });
      throw new BakeError(
        `bake: cloud-init on the builder did not finish cleanly (exit ${ci.code ?? ci.signal})`,
        [mask(b, ci.stdout.trim()), `last lines of /var/log/cloud-init-output.log:\n${mask(b, log.stdout)}`],
      );
    }
    await writeImageMetadata(b, session);
    await imageChecks(b, session);
    await scrubAndScan(b, session);
  } finally {
    session.close();
  }
  await generalize(b, b.builderRg, BUILDER);
  const version = await publish(
    b,
    { virtualMachineId: ids.vm(ctx.subscriptionId, b.builderRg, BUILDER) },
    extra,
  );
  return version;
}

/** A version from our own builder exists (a re-run after a crash): finish replication; cleanup follows. */
async function finishFromBuilder(b: BakeContext): Promise<string> {
  b.o.reporter.info(
    `image version ${b.o.version} was created by this bake's builder in an earlier run; finishing it`,
  );
  b.phases.enter('replication');
  const v = await waitForReplication(b.ctx, b.ref, { onProgress: progress(b), signal: b.o.signal });
  return v.id ?? '';
}

async function captureExisting(b: BakeContext): Promise<string> {
  const { o, ctx, phases } = b;
  const vmName = o.sourceVm ?? '';
  const vm = await getVm(ctx, o.resourceGroup, vmName, { signal: o.signal });
  if (!vm) throw new BakeError(`bake: source VM ${o.resourceGroup}/${vmName} does not exist`);
  const state = await getVmState(ctx, o.resourceGroup, vmName, { signal: o.signal });
  if (state.generalized) {
    // an earlier run scrubbed, scanned and generalized it, then stopped: capture what it left
    o.reporter.info(`${vmName} is already generalized (an earlier run); capturing its OS disk`);
  } else {
    if (state.power !== 'running') {
      throw new BakeError(
        `bake: source VM ${vmName} is ${state.power}; start it so it can be scrubbed and scanned`,
      );
    }
    if (!o.sshPrivateKey) {
      throw new BakeError(
        `bake: capturing ${vmName} needs ssh-private-key (a key authorised for its admin user)`,
      );
    }
    const admin = vm.osProfile?.adminUsername ?? 'azureuser';
    const host = await publicAddress(ctx, o.resourceGroup, vmName);
    phases.enter('cloud-init', `${admin}@${host}`);
    const session = await connectSsh({
      host,
      port: o.sshPort ?? 22,
      username: admin,
      privateKey: o.sshPrivateKey,
      retryUntilMs: Date.now() + 120_000,
      readyTimeoutMs: 20_000,
      signal: o.signal,
    });
    try {
      await writeImageMetadata(b, session);
      await imageChecks(b, session);
      await scrubAndScan(b, session, admin);
    } finally {
      session.close();
    }
    await generalize(b, o.resourceGroup, vmName);
  }
  const os = findOsDisk(vm);
  if (!os?.id) throw new BakeError(`bake: source VM ${vmName} has no managed OS disk`);
  // the version is made from the OS disk alone: a VM source would carry its data disks into the image
  const snap = await createSnapshot(
    ctx,
    {
      resourceGroup: o.resourceGroup,
      claw: vm.tags?.['openclawps-claw'] ?? vmName,
      name: `${vmName}-os-capture-${o.version.replace(/\./g, '-')}`,
      sourceDiskId: os.id,
      location: o.location,
      incremental: false,
    },
    { signal: o.signal },
  );
  try {
    const id = await publish(b, { snapshotId: snap.resource.id ?? '' }, []);
    o.reporter.warn(
      `${vmName} is generalized now and cannot be started again; delete it when you no longer need it`,
    );
    return id;
  } finally {
    await deleteSnapshot(ctx, { resourceGroup: o.resourceGroup, name: snap.resource.name ?? '' }, {}).catch(
      () => undefined,
    );
  }
}

async function publicAddress(ctx: AzureContext, rg: string, name: string): Promise<string> {
  const vm = await getVm(ctx, rg, name);
  const pip = vm ? await findVmPublicIp(ctx, vm, rg) : undefined;
  if (!pip?.address) throw new BakeError(`bake: VM ${name} has no public IP address yet`);
  return pip.address;
}

async function connectBuilder(b: BakeContext, host: string, identity: SshIdentity): Promise<SshSession> {
  return connectSsh({
    host,
    port: b.o.sshPort ?? 22,
    username: 'azureuser',
    privateKey: identity.privateKey,
    retryUntilMs: Date.now() + b.o.cloudInitTimeoutMs,
    retryAuthFailures: true,
    readyTimeoutMs: 20_000,
    signal: b.o.signal,
    reporter: { info: (m) => b.o.reporter.debug(m), setSecret: (v) => b.o.reporter.setSecret(v) },
  });
}

async function writeImageMetadata(b: BakeContext, session: SshSession): Promise<void> {
  const doc = JSON.stringify({
    version: b.o.version,
    profile: b.o.profile,
    bakedAt: new Date().toISOString(),
  });
  const r = await session.exec(
    `distro=$(. /etc/os-release 2>/dev/null && echo "$ID:$VERSION_ID"); ` +
      `printf '%s\\n' ${shellQuote(doc)} | jq -c --arg d "$distro" '. + {distro: $d}' | sudo -n tee /opt/claw/image.json >/dev/null`,
    { timeoutMs: 30_000 },
  );
  if (r.code !== 0)
    throw new BakeError(`bake: could not write /opt/claw/image.json: ${mask(b, r.stderr.trim())}`);
}

async function imageChecks(b: BakeContext, session: SshSession): Promise<void> {
  b.phases.enter('image-checks');
  const r = await session.exec('sudo -n /opt/claw/verify', { timeoutMs: 120_000 });
  let checks: Array<{ id: string; group: string; status: string; detail: string }>;
  try {
    checks = JSON.parse(r.stdout).checks;
  } catch {
    throw new BakeError(
      `bake: /opt/claw/verify on the builder printed no report (exit ${r.code}): ${mask(b, r.stderr.trim())}`,
    );
  }
  const relevant = checks.filter((c) => IMAGE_CHECK_GROUPS.has(c.group) || IMAGE_CHECK_IDS.has(c.id));
  const failed = relevant.filter((c) => c.status === 'fail');
  for (const c of relevant)
    b.o.reporter.info(`  ${c.status.toUpperCase().padEnd(4)} ${c.id}: ${mask(b, c.detail)}`);
  if (!relevant.length)
    throw new BakeError('bake: the image checks found none of the expected checks in the verify report');
  if (failed.length) {
    throw new BakeError(
      'bake: image checks failed on the builder (nothing was captured)',
      failed.map((c) => `${c.id}: ${mask(b, c.detail)}`),
    );
  }
}

async function scrubAndScan(b: BakeContext, session: SshSession, admin = 'azureuser'): Promise<void> {
  const { o, phases } = b;
  phases.enter('scrub');
  const scrub = await session.exec('sudo -n /opt/claw/scrub', { timeoutMs: 300_000 });
  if (scrub.code !== 0)
    throw new BakeError(`bake: scrub failed (exit ${scrub.code}): ${mask(b, scrub.stderr.trim())}`);

  phases.enter('secret-scan', `${b.secrets.length} configured value(s) plus known token shapes`);
  const scan = await session.exec('sudo -n /opt/claw/secret-scan /', {
    stdin: b.secrets.join('\n') + '\n',
    timeoutMs: 900_000,
  });
  let result: { clean: boolean; findings: Array<{ path: string; kind: string }>; scanned: number };
  try {
    result = JSON.parse(scan.stdout);
  } catch {
    throw new BakeError(
      `bake: the secret scan did not run (exit ${scan.code}): ${mask(b, scan.stderr.trim())}`,
    );
  }
  if (!result.clean || scan.code !== 0) {
    throw new BakeError(
      `bake: refusing to capture: the secret scan found ${result.findings.length} secret(s) on the builder's disk`,
      result.findings.map((f) => `${f.path} (${f.kind})`),
    );
  }
  o.reporter.info(`secret scan clean (${result.scanned} files)`);

  phases.enter('deprovision');
  // deletes the user this session is logged in as; the session may drop, which is fine
  const dep = await session
    .exec(`sudo -n /opt/claw/scrub --deprovision ${admin}`, { timeoutMs: 300_000 })
    .catch((e: Error) => ({
      code: null as number | null,
      stderr: e.message,
      stdout: '',
      signal: null,
    }));
  if (dep.code !== 0 && dep.code !== null)
    throw new BakeError(`bake: deprovision failed (exit ${dep.code}): ${mask(b, dep.stderr.trim())}`);
}

async function generalize(b: BakeContext, rg: string, vm: string): Promise<void> {
  b.phases.enter('generalize', `${rg}/${vm}`);
  await deallocateVm(b.ctx, { resourceGroup: rg, name: vm }, { signal: b.o.signal });
  await generalizeVm(b.ctx, { resourceGroup: rg, name: vm }, { signal: b.o.signal });
}

async function publish(
  b: BakeContext,
  source: { virtualMachineId: string } | { snapshotId: string },
  extra: PayloadFile[],
): Promise<string> {
  const { o, ctx, phases } = b;
  phases.enter('gallery', `${o.resourceGroup}/${o.gallery}/${o.imageDefinition}`);
  await ensureResourceGroup(ctx, { name: o.resourceGroup, location: o.location }, { signal: o.signal });
  await ensureGallery(
    ctx,
    { resourceGroup: o.resourceGroup, name: o.gallery, location: o.location },
    { signal: o.signal },
  );
  await ensureImageDefinition(
    ctx,
    { resourceGroup: o.resourceGroup, gallery: o.gallery, name: o.imageDefinition, location: o.location },
    { signal: o.signal },
  );
  phases.enter('image-version', o.version);
  if (b.replaceFailed) await deleteImageVersion(ctx, b.ref, { signal: o.signal });
  const migrations = [...builtInMigrations(), ...extra.map((f) => f.path.split('/').pop() ?? '')]
    .map((n) => n.slice(0, 3))
    .sort();
  const created = await createImageVersion(
    ctx,
    {
      ...b.ref,
      location: o.location,
      source,
      targetRegions: o.targetRegions.map((name) => ({ name })),
      replicaCount: o.replicaCount,
      excludeFromLatest: o.excludeFromLatest,
      tags: { 'openclawps-migrations': migrations.join(','), 'openclawps-profile': o.profile },
    },
    { signal: o.signal },
  );
  phases.enter('replication');
  const v = await waitForReplication(ctx, b.ref, { onProgress: progress(b), signal: o.signal });
  return v.id ?? created.resource.id ?? '';
}

function progress(b: BakeContext): (p: ReplicationProgress) => void {
  let last = '';
  return (p) => {
    const text = p.regions
      .map((r) => `${r.region} ${r.state}${r.progress !== undefined ? ` ${r.progress}%` : ''}`)
      .join(', ');
    if (text !== last) b.o.reporter.info(`replication: ${text}`);
    last = text;
  };
}

function mask(b: BakeContext, text: string): string {
  return maskAll(text, b.secrets);
}

export function renderBakeSummary(r: BakeResult): string {
  const lines = [
    `### Baked image ${r.version}`,
    '',
    `Image version: \`${mdCell(r.imageVersionId)}\``,
    '',
    '| phase | seconds |',
    '|---|---|',
    ...r.timeline.map((t) => `| ${t.phase} | ${t.seconds} |`),
    '',
  ];
  return lines.join('\n');
}
