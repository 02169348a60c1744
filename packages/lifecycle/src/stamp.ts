/**
 * stamp: one new claw. Every problem with the spec is reported before the first Azure call; every name is
 * checked for ownership before the first write; the infrastructure is an idempotent plan (a re-run on a
 * healthy claw writes nothing, a half-built claw is finished); then wait for SSH + claw-boot and verify.
 */
import {
  SpecError,
  gatewayToken,
  readSpec,
  resourceNames,
  secretValues,
  type ClawSpec,
  type Problem,
} from '@openclawps/config';
import {
  AzureOperationError,
  TAGS,
  UBUNTU_2404,
  describePlan,
  executePlan,
  findDataDiskAtLun0,
  getDisk,
  getImageVersion,
  getNetworkInterface,
  getPublicIp,
  getResourceGroup,
  getTag,
  getVm,
  ids,
  isManaged,
  managedTags,
  parseUpgradeTag,
  requireLatestImageVersion,
  sameId,
  stampInfrastructurePlan,
  updateVm,
  vmImageVersion,
  type AzureContext,
  type EnsureResult,
  type Plan,
  type VmImage,
} from '@openclawps/azure';
import { renderFullCloudInit, renderSlimCloudInit } from '@openclawps/templates';
import type { VirtualMachine } from '@azure/arm-compute';
import { PhaseRunner, STAMP_PHASE_TABLE, type StampPhase } from './phases';
import {
  azureContextFor,
  mdCell,
  publicKeyOf,
  sshIdentity,
  verifyOverSession,
  waitForBoot,
  maskAll,
  type SshIdentity,
} from './shared';
import type { StampOptions, StampResult } from './types';

/** What the spec check finds (exported for the bad-input corpus). */
export function stampProblems(o: Pick<StampOptions, 'envText' | 'overrides' | 'source' | 'sshPrivateKey'>): {
  spec: ClawSpec;
  problems: Problem[];
  customData?: string;
} {
  const { spec, problems } = readSpec(o.envText ?? '', { overrides: o.overrides ?? {} });
  if (o.source !== 'gallery' && o.source !== 'ubuntu')
    problems.push({
      variable: 'source',
      message: `${JSON.stringify(o.source)} is not gallery or ubuntu`,
      fix: 'use gallery (default) or ubuntu',
    });
  if (o.sshPrivateKey) {
    const { problem } = publicKeyOf(o.sshPrivateKey);
    if (problem)
      problems.push({
        variable: 'ssh-private-key',
        message: problem,
        fix: 'pass the OpenSSH private key of the admin user',
      });
  }
  let customData: string | undefined;
  if (!problems.length) {
    try {
      customData = o.source === 'ubuntu' ? renderFullCloudInit(spec) : renderSlimCloudInit(spec);
    } catch (e) {
      if (e instanceof SpecError) problems.push(...e.problems);
      else
        problems.push({
          variable: 'custom data',
          message: (e as Error).message,
          fix: 'shrink the per-claw files (SOUL.md, extra variables)',
        });
    }
  }
  return { spec, problems, customData };
}

interface Existing {
  vm?: VirtualMachine;
  problems: string[];
}

/** Every name must be free or ours (this claw's); reads only. */
async function checkOwnership(ctx: AzureContext, spec: ClawSpec, signal?: AbortSignal): Promise<Existing> {
  const rg = spec.azure.resourceGroup;
  const n = resourceNames(spec.claw, rg);
  const problems: string[] = [];
  const group = await getResourceGroup(ctx, rg, { signal });
  if (group && !isManaged(group.tags))
    problems.push(
      `resource group '${rg}' exists and is not managed by OpenClawps (no ${TAGS.managedBy} tag)`,
    );
  if (!group) return { problems };
  const [vm, nic, pip, disk] = await Promise.all([
    getVm(ctx, rg, n.vm, { signal }),
    getNetworkInterface(ctx, rg, n.nic, { signal }),
    getPublicIp(ctx, rg, n.publicIp, { signal }),
    getDisk(ctx, rg, n.dataDisk, { signal }),
  ]);
  const check = (kind: string, name: string, tags: Record<string, string> | undefined) => {
    if (!isManaged(tags)) problems.push(`${kind} '${name}' exists and is not managed by OpenClawps`);
    else if (getTag(tags, TAGS.claw) !== spec.claw)
      problems.push(
        `${kind} '${name}' belongs to claw '${getTag(tags, TAGS.claw) ?? '(none)'}', not '${spec.claw}'`,
      );
  };
  if (vm) check('virtual machine', n.vm, vm.tags);
  if (nic) check('network interface', n.nic, nic.tags);
  if (pip) check('public IP', n.publicIp, pip.tags);
  if (disk) check('disk', n.dataDisk, disk.tags);
  const marker = parseUpgradeTag(getTag(disk?.tags, TAGS.upgrade));
  if (marker && !problems.length)
    problems.push(
      `claw '${spec.claw}' has an upgrade in progress (target ${marker.target ?? '?'}, phase ${marker.phase ?? '?'}); re-run the upgrade to finish it instead of stamping`,
    );
  if (vm && !problems.length) {
    const lun0 = findDataDiskAtLun0(vm);
    if (disk && !sameId(lun0?.managedDisk?.id, disk.id))
      problems.push(`VM '${n.vm}' has ${lun0?.managedDisk?.id ?? 'no disk'} at LUN 0, not ${disk.id}`);
  }
  return { vm, problems };
}

async function resolveImage(
  ctx: AzureContext,
  spec: ClawSpec,
  galleryRg: string,
  signal?: AbortSignal,
): Promise<{ image: VmImage; version: string }> {
  const ref = {
    resourceGroup: galleryRg,
    gallery: spec.azure.gallery,
    definition: spec.azure.imageDefinition,
  };
  const want = spec.azure.imageVersion;
  if (!want) {
    const latest = await requireLatestImageVersion(ctx, ref, { region: spec.azure.location, signal });
    return { image: { type: 'gallery', id: latest.id }, version: latest.version };
  }
  const v = await getImageVersion(ctx, { ...ref, version: want }, { replicationStatus: true, signal });
  if (!v)
    throw new AzureOperationError({
      code: 'ImageVersionNotFound',
      message: `image version ${ref.gallery}/${ref.definition}/${want} does not exist in resource group ${galleryRg}`,
      hint: 'bake it first, or leave IMAGE_VERSION empty for the latest',
    });
  if ((v.provisioningState ?? 'Succeeded') !== 'Succeeded')
    throw new AzureOperationError({
      code: 'ImageVersionNotReady',
      message: `image version ${want} is ${v.provisioningState}`,
    });
  const regions =
    v.publishingProfile?.targetRegions?.map((r) => (r.name ?? '').toLowerCase().replace(/\s+/g, '')) ?? [];
  if (regions.length && !regions.includes(spec.azure.location))
    throw new AzureOperationError({
      code: 'ImageNotReplicated',
      message: `image version ${want} is not replicated to ${spec.azure.location} (regions: ${regions.join(', ')})`,
      hint: 'add the region to the version (bake target-regions) or stamp in one of its regions',
    });
  return {
    image: {
      type: 'gallery',
      id: v.id ?? ids.imageVersion(ctx.subscriptionId, galleryRg, ref.gallery, ref.definition, want),
    },
    version: want,
  };
}

export async function stamp(o: StampOptions): Promise<StampResult> {
  const reporter = o.reporter;
  const phases = new PhaseRunner<StampPhase>('stamp', STAMP_PHASE_TABLE, reporter);
  const t0 = Date.now();

  phases.enter('validate');
  const { spec, problems, customData } = stampProblems(o);
  if (problems.length) throw new SpecError(problems, '.env');
  const secrets = [...secretValues(spec), gatewayToken(spec), ...(o.sshPrivateKey ? [o.sshPrivateKey] : [])];
  for (const s of secrets) reporter.setSecret(s);
  const rg = spec.azure.resourceGroup;
  const n = resourceNames(spec.claw, rg);
  const galleryRg = o.galleryResourceGroup ?? rg;
  const sshPort = o.sshPort ?? 22;

  phases.enter('preflight', `claw ${spec.claw} in ${rg} (${spec.azure.location})`);
  const ctx = azureContextFor(o.azure, spec.azure.location);
  const existing = await checkOwnership(ctx, spec, o.signal);
  if (existing.vm && !o.sshPrivateKey && !spec.secrets.VM_PASSWORD)
    existing.problems.push(
      `claw '${spec.claw}' already exists and no ssh-private-key (or VM_PASSWORD) was given, so it cannot be verified; pass the admin's key`,
    );
  if (existing.problems.length)
    throw new AzureOperationError({
      code: 'StampRefused',
      message: `refusing to stamp '${spec.claw}' (nothing was changed):\n  - ${existing.problems.join('\n  - ')}`,
      hint: 'choose another CLAW_NAME or resource group, or remove the conflicting resources',
    });

  let image: VmImage;
  let version: string;
  if (existing.vm) {
    version = vmImageVersion(existing.vm) ?? 'unknown';
    image = { type: 'gallery', id: existing.vm.storageProfile?.imageReference?.id ?? '(existing)' };
    reporter.info(`VM ${n.vm} exists (image ${version}): converging, not recreating`);
    if (spec.azure.imageVersion && spec.azure.imageVersion !== version)
      reporter.warn(
        `IMAGE_VERSION=${spec.azure.imageVersion} is ignored: ${n.vm} already runs ${version}; use upgrade to move it`,
      );
  } else if (o.source === 'ubuntu') {
    image = UBUNTU_2404;
    version = 'ubuntu-24.04';
  } else {
    try {
      ({ image, version } = await resolveImage(ctx, spec, galleryRg, o.signal));
    } catch (e) {
      if (!o.dryRun) throw e;
      reporter.warn(`dry run: ${(e as Error).message}`);
      image = { type: 'gallery', id: `<latest ${spec.azure.gallery}/${spec.azure.imageDefinition}>` };
      version = spec.azure.imageVersion ?? 'latest';
    }
  }
  const identity: SshIdentity = sshIdentity({
    privateKey: o.sshPrivateKey,
    password: spec.secrets.VM_PASSWORD,
    extraPublicKeys: spec.access.sshPublicKey ? [spec.access.sshPublicKey] : [],
  });
  reporter.setSecret(identity.privateKey ?? '');

  const plan = stampInfrastructurePlan({
    resourceGroup: rg,
    location: spec.azure.location,
    claw: spec.claw,
    image,
    vmSize: spec.azure.vmSize,
    dataDiskSizeGB: spec.azure.dataDiskSizeGb,
    dataDiskSku: spec.azure.dataDiskSku,
    adminUsername: spec.azure.adminUser,
    sshPublicKeys: identity.publicKeys,
    adminPassword: spec.secrets.VM_PASSWORD,
    customData,
    sshSourceCidrs: spec.access.sshSourceCidrs,
    vncExposure: spec.access.vncExposure,
    imageVersion: o.source === 'ubuntu' ? undefined : version,
    fleet: spec.fleet,
  });
  if (existing.vm) convergeExistingVm(plan, existing.vm, spec, version);

  if (o.dryRun) {
    reporter.info(maskAll(describePlan(plan).text, secrets));
    phases.close();
    return {
      vmName: n.vm,
      publicIp: '',
      sshCommand: '',
      vncUrl: '',
      imageVersion: version,
      dataDiskId: ids.disk(ctx.subscriptionId, rg, n.dataDisk),
      hostKeyFingerprint: '',
      changed: false,
      healthy: false,
      timeline: phases.timeline,
    };
  }

  phases.enter('infrastructure');
  const run = await executePlan(plan, {
    context: ctx,
    signal: o.signal,
    concurrency: 4,
    onEvent: (e) => {
      if (e.type === 'step-end' && e.status === 'succeeded')
        reporter.info(`  ${e.title}: done (${(e.durationMs / 1000).toFixed(1)} s)`);
      if (e.type === 'step-retry')
        reporter.warn(`  ${e.stepId}: ${e.code}, retrying in ${Math.round(e.delayMs)} ms`);
    },
  });
  if (run.status !== 'succeeded') {
    const err = run.errors[0];
    if (err) throw err;
    throw new Error(`stamp ${spec.claw}: plan ${run.status}`);
  }
  const actions = [...run.results.values()].map((r) => (r as EnsureResult<unknown>)?.action);
  const changed = actions.some((a) => a && a !== 'unchanged');
  const pipRes = run.results.get('public-ip') as EnsureResult<{ ipAddress?: string }>;
  let publicIp = pipRes?.resource.ipAddress;
  if (!publicIp) publicIp = (await getPublicIp(ctx, rg, n.publicIp, { signal: o.signal }))?.ipAddress;
  if (!publicIp) throw new Error(`public IP ${n.publicIp} has no address`);
  const diskRes = run.results.get('data-disk') as EnsureResult<{ id?: string }>;
  const dataDiskId = diskRes?.resource.id ?? ids.disk(ctx.subscriptionId, rg, n.dataDisk);

  phases.enter('wait-boot', `${publicIp}:${sshPort}`);
  const deadline = t0 + o.verifyTimeoutMs;
  const booted = await waitForBoot({
    host: publicIp,
    port: sshPort,
    username: spec.azure.adminUser,
    identity,
    deadline,
    reporter,
    signal: o.signal,
  });
  let healthy = false;
  let hostKeyFingerprint = booted.session.hostKeyFingerprint;
  let verify;
  try {
    phases.enter('verify');
    verify = await verifyOverSession(booted.session, {
      secrets,
      timeoutMs: Math.max(30_000, deadline - Date.now()),
      signal: o.signal,
    });
    healthy = verify.healthy;
    hostKeyFingerprint = verify.hostKeyFingerprint;
  } finally {
    booted.session.close();
  }
  phases.close();
  const result: StampResult = {
    vmName: n.vm,
    publicIp,
    sshCommand: `ssh ${sshPort === 22 ? '' : `-p ${sshPort} `}${spec.azure.adminUser}@${publicIp}`,
    vncUrl:
      spec.profile === 'minimal'
        ? ''
        : spec.access.vncExposure === 'public'
          ? `vnc://${publicIp}:5900`
          : `vnc://localhost:5900`,
    imageVersion: version,
    dataDiskId,
    hostKeyFingerprint,
    changed,
    healthy,
    timeline: phases.timeline,
    verifyMarkdown: verify?.markdown,
    failedChecks: verify?.failedChecks,
    ephemeralKey: identity.ephemeral,
  };
  reporter.info(
    `stamp ${spec.claw}: ${changed ? 'created/updated' : 'unchanged'}, ${healthy ? 'healthy' : 'UNHEALTHY'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return result;
}

/** An existing VM is never recreated by stamp (that is an upgrade): only its tags converge. */
function convergeExistingVm(
  plan: Plan<AzureContext>,
  vm: VirtualMachine,
  spec: ClawSpec,
  version: string,
): void {
  const step = plan.steps.find((s) => s.id === 'vm');
  if (!step) return;
  step.title = `converge existing VM ${vm.name} (tags only; use upgrade to change its image)`;
  step.details = { image: version, existing: true };
  step.run = async (c, signal) => {
    const nic = c.result<EnsureResult<{ id?: string }>>('nic').resource;
    const primary =
      vm.networkProfile?.networkInterfaces?.find((x) => x.primary) ??
      vm.networkProfile?.networkInterfaces?.[0];
    if (nic.id && !sameId(primary?.id, nic.id))
      throw new AzureOperationError({
        code: 'ConflictingResource',
        message: `VM '${vm.name}' uses NIC ${primary?.id ?? '(none)'}, not ${nic.id}`,
      });
    if (vm.provisioningState === 'Failed')
      throw new AzureOperationError({
        code: 'ConflictingResource',
        message: `VM '${vm.name}' is in provisioning state Failed`,
        hint: 'delete the VM (its data disk and NIC are kept) and re-run stamp',
      });
    const tagVersion = getTag(vm.tags, TAGS.imageVersion);
    return updateVm(
      c.context,
      {
        resourceGroup: spec.azure.resourceGroup,
        name: vm.name ?? spec.claw,
        claw: spec.claw,
        tags: managedTags({ claw: spec.claw, imageVersion: tagVersion, fleet: spec.fleet }),
      },
      { signal },
      vm,
    );
  };
}

export function renderStampSummary(r: StampResult): string {
  const lines = [
    `### Stamp \`${mdCell(r.vmName)}\`: ${r.healthy ? 'HEALTHY' : 'UNHEALTHY'}${r.changed ? '' : ' (unchanged)'}`,
    '',
    '| | |',
    '|---|---|',
    `| VM | \`${mdCell(r.vmName)}\` |`,
    `| Image version | ${mdCell(r.imageVersion)} |`,
    `| Public IP | ${mdCell(r.publicIp)} |`,
    `| SSH | \`${mdCell(r.sshCommand)}\` |`,
    `| VNC | ${r.vncUrl ? `\`${mdCell(r.vncUrl)}\`${r.vncUrl.includes('localhost') ? ' (tunnel: `ssh -L 5900:localhost:5900 …`)' : ''}` : 'none (minimal profile)'} |`,
    `| Data disk | \`${mdCell(r.dataDiskId)}\` |`,
    `| Host key | \`${mdCell(r.hostKeyFingerprint)}\` |`,
    `| Changed | ${r.changed ? 'yes' : 'no'} |`,
  ];
  if (r.failedChecks?.length)
    lines.push(`| Failed checks | ${r.failedChecks.map((c) => `\`${mdCell(c)}\``).join(', ')} |`);
  if (r.timeline?.length) {
    lines.push('', '| Phase | Seconds |', '|---|---:|');
    for (const t of r.timeline) lines.push(`| ${t.phase} | ${t.seconds.toFixed(2)} |`);
  }
  if (r.verifyMarkdown) lines.push('', r.verifyMarkdown);
  lines.push('');
  return lines.join('\n');
}
