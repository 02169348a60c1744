/**
 * upgrade: move a claw to another image version keeping its data disk, NIC and public IP.
 *
 * The flow is a loop "observe Azure -> derive the next phase -> run it" until done; nothing is kept in
 * memory between phases that Azure does not also hold. The upgrade's state lives in tags on the data
 * disk (the one resource that exists through the whole upgrade):
 *   openclawps-upgrade            target=1.1.0;mode=forward|rollback;owner=…;run=…;at=<epoch s>
 *   openclawps-upgrade-state-<n>  JSON chunks: from version, old/new OS disk, snapshot, VM size, admin,
 *                                 public keys, security type, claw.json (what recreating the VM needs)
 * so a run killed at any point converges when re-run. Everything that is not delete+create+boot (checks,
 * lease, snapshot, tags, delete options) happens before the VM is stopped.
 */
import { randomBytes } from 'node:crypto';
import type { Disk, VirtualMachine } from '@azure/arm-compute';
import {
  SpecError,
  gatewayToken,
  isClawName,
  isResourceGroupName,
  isVersion,
  readSpec,
  secretValues,
  type ClawSpec,
  type Problem,
} from '@openclawps/config';
import {
  AzureOperationError,
  TAGS,
  assertOwned,
  buildVmBody,
  createSnapshot,
  deallocateVm,
  deleteDisk,
  deleteSnapshot,
  deleteVm,
  findDataDiskAtLun0,
  formatUpgradeTag,
  getDisk,
  getImageVersion,
  getPublicIp,
  getTag,
  getVm,
  ids,
  managedTags,
  mergeTags,
  names,
  parseResourceId,
  parseUpgradeTag,
  resolveLatestImageVersion,
  sameId,
  updateVm,
  vmImageVersion,
  vmStateFromInstanceView,
  type AzureContext,
} from '@openclawps/azure';
import { renderSlimCloudInit } from '@openclawps/templates';
import { PhaseRunner, UPGRADE_PHASE_TABLE, type PhaseInfo, type UpgradePhase } from './phases';
import {
  azureContextFor,
  defaultOwner,
  maskAll,
  mdCell,
  publicKeyOf,
  QUIESCE_COMMAND,
  RESUME_COMMAND,
  runOnClaw,
  sleep,
  sshIdentity,
  verifyOverSession,
  waitForBoot,
  type SshIdentity,
} from './shared';
import type { UpgradeOptions, UpgradeResult, VerifyResult } from './types';

export const UPGRADE_STATE_TAG = `${TAGS.upgrade}-state-`;
const CHUNK = 240;

/** What recreating the VM needs, recorded before the stop. */
export interface UpgradeState {
  from: string;
  /** Old OS disk name (the rollback target) and the new one. */
  oldOs: string;
  newOs: string;
  snapshot: string;
  size: string;
  admin: string;
  keys: string[];
  sec: 'TrustedLaunch' | 'Standard';
  location: string;
  fleet?: string;
  vnc: 'localhost' | 'public';
  targetId: string;
  passwordAuth: boolean;
}

export interface UpgradeMarker {
  target: string;
  mode: 'forward' | 'rollback';
  owner: string;
  run: string;
  at: number;
  reason?: string;
}

export function encodeState(state: UpgradeState): Record<string, string> {
  const json = JSON.stringify(state);
  const out: Record<string, string> = {};
  for (let i = 0; i * CHUNK < json.length; i++)
    out[`${UPGRADE_STATE_TAG}${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
  return out;
}

export function decodeState(tags: Record<string, string> | undefined): UpgradeState | undefined {
  if (!tags) return undefined;
  const parts: string[] = [];
  for (let i = 0; ; i++) {
    const v = getTag(tags, `${UPGRADE_STATE_TAG}${i}`);
    if (v === undefined) break;
    parts.push(v);
  }
  if (!parts.length) return undefined;
  try {
    return JSON.parse(parts.join('')) as UpgradeState;
  } catch {
    return undefined;
  }
}

export function parseMarker(tags: Record<string, string> | undefined): UpgradeMarker | undefined {
  const m = parseUpgradeTag(getTag(tags, TAGS.upgrade));
  if (!m || !m.target) return undefined;
  return {
    target: m.target,
    mode: m.mode === 'rollback' ? 'rollback' : 'forward',
    owner: m.owner ?? '',
    run: m.run ?? '',
    at: Number(m.at ?? 0),
    reason: m.reason,
  };
}

function formatMarker(m: UpgradeMarker): string {
  return formatUpgradeTag({
    target: m.target,
    mode: m.mode,
    owner: m.owner,
    run: m.run,
    at: String(m.at),
    ...(m.reason ? { reason: m.reason.replace(/[;=]/g, ' ').slice(0, 60) } : {}),
  });
}

/** Every tag the upgrade writes on the data disk, set to null (to clear them). */
function clearedUpgradeTags(tags: Record<string, string> | undefined): Record<string, null> {
  const out: Record<string, null> = { [TAGS.upgrade]: null };
  for (const k of Object.keys(tags ?? {})) if (k.toLowerCase().startsWith(UPGRADE_STATE_TAG)) out[k] = null;
  return out;
}

export class UpgradeRefused extends AzureOperationError {}

function refuse(code: string, message: string, hint?: string): UpgradeRefused {
  return new UpgradeRefused({ code, message, hint });
}

/** Input problems, all at once, before any Azure call. */
export function upgradeProblems(o: UpgradeOptions): { problems: Problem[]; spec?: ClawSpec } {
  const problems: Problem[] = [];
  const add = (variable: string, message: string, fix: string) => problems.push({ variable, message, fix });
  if (!isClawName(o.clawName ?? ''))
    add(
      'claw-name',
      `${JSON.stringify(o.clawName)} is not a claw name`,
      'lowercase letters, digits and hyphens, at most 60',
    );
  if (!isResourceGroupName(o.resourceGroup ?? ''))
    add(
      'resource-group',
      `${JSON.stringify(o.resourceGroup)} is not a resource group name`,
      'letters, digits, periods, underscores, hyphens and parentheses, at most 90, not ending in a period',
    );
  if (o.imageVersion !== 'latest' && !isVersion(o.imageVersion))
    add('image-version', `${JSON.stringify(o.imageVersion)} is not x.y.z or latest`, 'e.g. 1.2.0, or latest');
  if (!Number.isInteger(o.snapshotRetention) || o.snapshotRetention < 0)
    add('snapshot-retention', 'must be a whole number >= 0', 'e.g. 3');
  if (!Number.isInteger(o.keepOsDisks) || o.keepOsDisks < 0)
    add('keep-os-disks', 'must be a whole number >= 0', 'e.g. 0');
  if (o.stopMethod !== undefined && o.stopMethod !== 'ssh' && o.stopMethod !== 'deallocate')
    add(
      'stop-method',
      `${JSON.stringify(o.stopMethod)} is not ssh or deallocate`,
      'use ssh (default) or deallocate',
    );
  if (o.sshPrivateKey) {
    const { problem } = publicKeyOf(o.sshPrivateKey);
    if (problem) add('ssh-private-key', problem, 'pass the OpenSSH private key of the admin user');
  }
  let spec: ClawSpec | undefined;
  if (o.envText !== undefined) {
    const r = readSpec(o.envText, { overrides: { CLAW_NAME: o.clawName, RESOURCE_GROUP: o.resourceGroup } });
    problems.push(...r.problems);
    spec = r.spec;
    if (!r.problems.length) {
      try {
        renderSlimCloudInit(r.spec);
      } catch (e) {
        if (e instanceof SpecError) problems.push(...e.problems);
        else
          problems.push({ variable: 'env', message: (e as Error).message, fix: 'shrink the per-claw files' });
      }
    }
  }
  return { problems, spec };
}

interface Observed {
  vm?: VirtualMachine;
  power?: string;
  disk?: Disk;
  marker?: UpgradeMarker;
  state?: UpgradeState;
}

export async function upgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const reporter = o.reporter;
  const phases = new PhaseRunner<UpgradePhase>('upgrade', UPGRADE_PHASE_TABLE, reporter);
  const t0 = Date.now();
  const { problems, spec } = upgradeProblems(o);
  if (problems.length) throw new SpecError(problems, 'upgrade inputs');
  const secrets = spec ? [...secretValues(spec), gatewayToken(spec)] : [];
  if (o.sshPrivateKey) secrets.push(o.sshPrivateKey);
  for (const s of secrets) reporter.setSecret(s);

  const claw = o.clawName;
  const rg = o.resourceGroup;
  const grg = o.galleryResourceGroup ?? rg;
  const ref = { resourceGroup: grg, gallery: o.gallery, definition: o.imageDefinition };
  const ctx = azureContextFor(o.azure);
  const owner = (o.owner ?? defaultOwner()).replace(/[;=]/g, '-').slice(0, 64);
  const run = randomBytes(4).toString('hex');
  const leaseMs = (o.leaseSeconds ?? 3600) * 1000;
  const settleMs = o.lockSettleMs ?? Number(process.env.OPENCLAWPS_LOCK_SETTLE_MS ?? 2000);
  const sshPort = o.sshPort ?? 22;
  const signal = o.signal;
  const dataDiskName = names.dataDisk(claw);
  let identity: SshIdentity | undefined;
  let downStart: number | undefined;
  let downEnd: number | undefined;
  let lastVerify: (VerifyResult & { hostKeyFingerprint: string }) | undefined;
  let rollbackReason: string | undefined;
  let quiesced = false;
  const stopMethod = o.stopMethod ?? 'ssh';
  const sub = ctx.subscriptionId;

  const observe = async (): Promise<Observed> => {
    const [vm, disk] = await Promise.all([
      getVm(ctx, rg, claw, { signal, instanceView: true }),
      getDisk(ctx, rg, dataDiskName, { signal }),
    ]);
    return {
      vm,
      power: vm ? vmStateFromInstanceView(vm.instanceView).power : undefined,
      disk,
      marker: parseMarker(disk?.tags),
      state: decodeState(disk?.tags),
    };
  };

  const writeDiskTags = async (changes: Record<string, string | null | undefined>): Promise<Disk> => {
    const disk = await getDisk(ctx, rg, dataDiskName, { signal });
    if (!disk) throw refuse('ResourceNotFound', `data disk ${dataDiskName} disappeared`);
    const { tags, changed } = mergeTags(disk.tags, changes);
    if (!changed) return disk;
    return ctx.compute.disks.beginUpdateAndWait(rg, dataDiskName, { tags }, ctx.lro(signal));
  };

  /**
   * Lease with read-after-write: exactly one of two concurrent runs gets past this. A rival that read
   * the disk before our write landed lands its own write at most one write-time later, so the
   * read-back waits the settle time and at least twice as long as our own write took.
   */
  const acquire = async (marker: Omit<UpgradeMarker, 'owner' | 'run' | 'at'>, state?: UpgradeState) => {
    const disk = await getDisk(ctx, rg, dataDiskName, { signal });
    if (!disk) throw refuse('ResourceNotFound', `data disk ${dataDiskName} not found`);
    const held = parseMarker(disk.tags);
    if (held && held.run !== run) {
      const fresh = Date.now() - held.at * 1000 < leaseMs;
      if (fresh && held.owner !== owner)
        throw refuse(
          'UpgradeInProgress',
          `claw '${claw}' is being upgraded to ${held.target} by ${held.owner} (lease taken ${new Date(held.at * 1000).toISOString()}, mode ${held.mode}); refusing to run a second upgrade`,
          `wait for that run to finish; if it died, re-run it (same owner), or wait until the lease expires at ${new Date(held.at * 1000 + leaseMs).toISOString()}`,
        );
      if (held.owner === owner || !fresh)
        reporter.info(
          `taking over the ${fresh ? 'interrupted' : 'stale'} upgrade of ${held.owner} (run ${held.run})`,
        );
    }
    const value: UpgradeMarker = { ...marker, owner, run, at: Math.floor(Date.now() / 1000) };
    const started = Date.now();
    await writeDiskTags({ [TAGS.upgrade]: formatMarker(value), ...(state ? encodeState(state) : {}) });
    const wroteMs = Date.now() - started;
    if (2 * wroteMs > settleMs)
      reporter.debug(`lease write took ${wroteMs} ms: reading back after ${2 * wroteMs} ms`);
    await sleep(Math.max(settleMs, 2 * wroteMs), signal);
    const back = parseMarker((await getDisk(ctx, rg, dataDiskName, { signal }))?.tags);
    if (back?.run === run) return value;
    throw refuse(
      'UpgradeInProgress',
      `another upgrade of '${claw}' (${back?.owner ?? '?'}, run ${back?.run ?? '?'}) took the lease at the same time; this run stops without changing anything else`,
    );
  };

  const ensureIdentity = (state: UpgradeState): SshIdentity => {
    identity ??= sshIdentity({
      privateKey: o.sshPrivateKey,
      password: spec?.secrets.VM_PASSWORD,
      extraPublicKeys: state.keys,
    });
    reporter.setSecret(identity.privateKey ?? '');
    return identity;
  };

  // the claw keeps its static public IP through the upgrade: read it once (quiesce, boot, rollback)
  let knownIp: string | undefined;
  const hostOf = async (): Promise<string> => {
    if (knownIp) return knownIp;
    const pip = await getPublicIp(ctx, rg, names.publicIp(claw), { signal });
    if (!pip?.ipAddress) throw refuse('ResourceNotFound', `public IP ${names.publicIp(claw)} has no address`);
    return (knownIp = pip.ipAddress);
  };

  const onClaw = async (state: UpgradeState, command: string) =>
    runOnClaw({
      host: await hostOf(),
      port: sshPort,
      username: state.admin,
      identity: ensureIdentity(state),
      command,
      reporter,
      signal,
    });

  const bootAndVerify = async (state: UpgradeState, budgetStart: number, onBooted?: () => void) => {
    const id = ensureIdentity(state);
    const host = await hostOf();
    const deadline = budgetStart + o.verifyTimeoutMs;
    const booted = await waitForBoot({
      host,
      port: sshPort,
      username: state.admin,
      identity: id,
      deadline,
      reporter,
      signal,
    });
    try {
      onBooted?.();
      return await verifyOverSession(booted.session, {
        secrets,
        timeoutMs: Math.max(30_000, deadline - Date.now()),
        signal,
      });
    } finally {
      booted.session.close();
    }
  };

  const nicId = ids.nic(sub, rg, names.nic(claw));
  const dataDiskId = ids.disk(sub, rg, dataDiskName);

  // ------------------------------------------------------------------ preflight (read only)
  let obs = await observe();
  let previousVersion = obs.state?.from ?? (obs.vm ? (vmImageVersion(obs.vm) ?? 'unknown') : 'unknown');
  let target = obs.marker?.target ?? '';
  let targetId = obs.state?.targetId ?? '';

  if (!obs.marker) {
    phases.enter('preflight', `${claw} in ${rg} -> ${o.imageVersion}`);
    const found: string[] = [];
    const vm = obs.vm;
    if (!vm)
      throw refuse(
        'ResourceNotFound',
        `claw '${claw}' has no VM in ${rg} and no upgrade is in progress`,
        'stamp it first',
      );
    assertOwned(vm.tags, { kind: 'virtual machine', name: claw, claw, id: vm.id });
    if (vm.provisioningState === 'Failed') found.push(`VM '${claw}' is in provisioning state Failed`);
    const lun0 = findDataDiskAtLun0(vm);
    if (!lun0?.managedDisk?.id) found.push(`VM '${claw}' has no data disk at LUN 0`);
    else if (!obs.disk || !sameId(lun0.managedDisk.id, obs.disk.id))
      found.push(`the disk at LUN 0 is ${lun0.managedDisk.id}, not the claw's data disk ${dataDiskName}`);
    else assertOwned(obs.disk.tags, { kind: 'disk', name: dataDiskName, claw, id: obs.disk.id });
    const nic =
      vm.networkProfile?.networkInterfaces?.find((n) => n.primary) ??
      vm.networkProfile?.networkInterfaces?.[0];
    if (!sameId(nic?.id, nicId)) found.push(`VM '${claw}' uses NIC ${nic?.id ?? '(none)'}, not ${nicId}`);
    const osDiskName =
      vm.storageProfile?.osDisk?.name ??
      parseResourceId(vm.storageProfile?.osDisk?.managedDisk?.id ?? '')?.name;
    const osDisk = osDiskName ? await getDisk(ctx, rg, osDiskName, { signal }) : undefined;
    if (!osDisk) found.push(`VM '${claw}' has no managed OS disk in ${rg} (nothing to roll back to)`);
    const location = vm.location ?? '';
    // target
    if (o.imageVersion === 'latest') {
      const latest = await resolveLatestImageVersion(ctx, ref, { region: location, signal });
      if (!latest)
        found.push(`no replicated, non-excluded version of ${o.gallery}/${o.imageDefinition} in ${location}`);
      else {
        target = latest.version;
        targetId = latest.id;
      }
    } else {
      target = o.imageVersion;
      const v = await getImageVersion(ctx, { ...ref, version: target }, { replicationStatus: true, signal });
      if (!v)
        found.push(`image version ${o.gallery}/${o.imageDefinition}/${target} does not exist in ${grg}`);
      else {
        targetId = v.id ?? ids.imageVersion(sub, grg, o.gallery, o.imageDefinition, target);
        if ((v.provisioningState ?? 'Succeeded') !== 'Succeeded')
          found.push(`image version ${target} is ${v.provisioningState}`);
        const norm = (s?: string) => (s ?? '').toLowerCase().replace(/\s+/g, '');
        const summary = v.replicationStatus?.summary;
        const inRegion = summary?.length
          ? summary.some((s) => norm(s.region) === norm(location) && s.state === 'Completed')
          : (v.publishingProfile?.targetRegions ?? []).some((r) => norm(r.name) === norm(location));
        if (!inRegion)
          found.push(`image version ${target} is not replicated to ${location} (the claw's region)`);
      }
    }
    const def = await ctx.compute.galleryImages
      .get(grg, o.gallery, o.imageDefinition, ctx.op(signal))
      .catch(() => undefined);
    if (def) {
      const gen = def.hyperVGeneration;
      if (gen && osDisk?.hyperVGeneration && gen !== osDisk.hyperVGeneration)
        found.push(`image generation ${gen} does not match the claw's ${osDisk.hyperVGeneration}`);
      const feat =
        def.features?.find((f) => (f.name ?? '').toLowerCase() === 'securitytype')?.value ?? 'Standard';
      const vmSec = vm.securityProfile?.securityType ?? 'Standard';
      const imageTl = /trustedlaunch/i.test(feat);
      if (vmSec === 'TrustedLaunch' && !imageTl)
        found.push(`the claw is TrustedLaunch but the image definition's security type is ${feat}`);
      if (vmSec !== 'TrustedLaunch' && feat === 'TrustedLaunch')
        found.push(`the image definition requires TrustedLaunch but the claw is ${vmSec}`);
      if (def.osState === 'Specialized')
        found.push('the image definition is Specialized; upgrade needs a Generalized image (custom data)');
    }
    if (found.length)
      throw refuse(
        'UpgradePreflightFailed',
        `upgrade of '${claw}' refused before any change:\n  - ${found.join('\n  - ')}`,
      );
    if (target === previousVersion && !o.force) {
      reporter.info(`${claw} already runs ${target}; nothing to do (use force to reinstall)`);
      let healthy = true;
      let verifyResult;
      if (o.sshPrivateKey && !o.dryRun) {
        const st = currentState(vm, osDisk!, target, targetId);
        verifyResult = await bootAndVerify(st, Date.now());
        healthy = verifyResult.healthy;
      }
      phases.close();
      return {
        previousVersion,
        version: target,
        rolledBack: false,
        downtimeSeconds: 0,
        healthy,
        changed: false,
        timeline: phases.timeline,
        dataDiskId: obs.disk?.id,
        verifyMarkdown: verifyResult?.markdown,
        failedChecks: verifyResult?.failedChecks,
      };
    }
    const state = currentState(vm, osDisk!, target, targetId);
    state.vnc = await vncExposureOf(ctx, rg, signal);
    if (o.dryRun) {
      reporter.info(
        maskAll(
          [
            `Upgrade plan ${claw}: ${previousVersion} -> ${target} (${targetId})`,
            ...(UPGRADE_PHASE_TABLE as readonly PhaseInfo[])
              .filter((p) => p.path === 'forward' && !(stopMethod === 'deallocate' && p.id === 'quiesce'))
              .map((p, i) => `  ${i + 1}. ${p.id}${p.downtime ? ' [downtime]' : ''}: ${p.title}`),
            `  snapshot ${state.snapshot}; new OS disk ${state.newOs}; old OS disk ${state.oldOs} kept for rollback`,
            '  on verify failure: rollback-mark, rollback-delete-vm, rollback-create-vm, rollback-verify, rollback-cleanup',
          ].join('\n'),
          secrets,
        ),
      );
      phases.close();
      return {
        previousVersion,
        version: target,
        rolledBack: false,
        downtimeSeconds: 0,
        healthy: false,
        changed: false,
        timeline: phases.timeline,
      };
    }
    phases.enter('lock', `${previousVersion} -> ${target}`);
    await acquire({ target, mode: 'forward' }, state);
    obs = await observe();
  } else {
    if (o.dryRun) {
      reporter.info(
        `an upgrade of ${claw} to ${obs.marker.target} (${obs.marker.mode}) is in progress; a re-run would resume it`,
      );
      return {
        previousVersion,
        version: obs.marker.target,
        rolledBack: false,
        downtimeSeconds: 0,
        healthy: false,
        changed: false,
      };
    }
    if (o.imageVersion !== 'latest' && o.imageVersion !== obs.marker.target && obs.marker.mode === 'forward')
      throw refuse(
        'UpgradeInProgress',
        `an interrupted upgrade of '${claw}' to ${obs.marker.target} is in progress; asked for ${o.imageVersion}`,
        `re-run with image-version ${obs.marker.target} (or latest) to finish it first`,
      );
    phases.enter('lock', `resuming ${obs.marker.mode} upgrade to ${obs.marker.target}`);
    await acquire({ target: obs.marker.target, mode: obs.marker.mode, reason: obs.marker.reason });
    obs = await observe();
    if (!obs.state && obs.vm && !o.resumed) {
      // a lease without the recorded state (written by hand, or by a run killed between the two tags):
      // nothing was stopped yet, because the state is written with the lease, so start over cleanly
      reporter.warn(
        `the upgrade tag on ${dataDiskName} has no recorded state; clearing it and starting over`,
      );
      await writeDiskTags(clearedUpgradeTags(obs.disk?.tags));
      return upgrade({ ...o, resumed: true });
    }
  }

  // ------------------------------------------------------------------ converge loop
  const state = obs.state;
  if (!state || !obs.marker)
    throw refuse(
      'UpgradeStateMissing',
      `the upgrade tags on ${dataDiskName} are incomplete; clear ${TAGS.upgrade}* and re-run`,
    );
  target = obs.marker.target;
  targetId = state.targetId;
  previousVersion = state.from;
  const keepId = ids.disk(sub, rg, state.oldOs);
  const newOsId = ids.disk(sub, rg, state.newOs);
  const vmTagValue = formatUpgradeTag({ target, from: state.from, phase: 'in-progress' });
  // everything the create needs is computed before the stop (P2: only delete + create + boot are downtime)
  const customData = upgradeCustomData(claw, state, spec);
  ensureIdentity(state);

  const startRollback = async (reason: string) => {
    rollbackReason = reason;
    reporter.warn(`upgrade to ${target} failed (${reason}); rolling back to ${state.from}`);
    phases.enter('rollback-mark', reason);
    await writeDiskTags({
      [TAGS.upgrade]: formatMarker({
        target,
        mode: 'rollback',
        owner,
        run,
        at: Math.floor(Date.now() / 1000),
        reason,
      }),
    });
  };

  for (let step = 0; step < 40; step++) {
    if (signal?.aborted) throw refuse('Aborted', 'upgrade stopped by a signal; re-run to converge');
    obs = await observe();
    const m = obs.marker;
    if (!m) break;
    if (m.run !== run)
      throw refuse(
        'UpgradeInProgress',
        `the upgrade lease of '${claw}' was taken over by ${m.owner} (run ${m.run}); stopping`,
      );
    const vm = obs.vm;
    const vmOs = vm?.storageProfile?.osDisk?.managedDisk?.id ?? '';
    const onOld = vm && sameId(vmOs, keepId);
    const onNew = vm && sameId(vmOs, newOsId);
    if (m.mode === 'forward') {
      if (vm && !onOld && !onNew)
        throw refuse(
          'UpgradeConflict',
          `VM '${claw}' runs OS disk ${vmOs}, neither ${state.oldOs} nor ${state.newOs}`,
        );
      if (onOld) {
        const snap = await ctx.compute.snapshots
          .get(rg, state.snapshot, ctx.op(signal))
          .catch(() => undefined);
        if (!snap && state.snapshot) {
          phases.enter('snapshot', state.snapshot);
          await createSnapshot(
            ctx,
            {
              resourceGroup: rg,
              claw,
              sourceDiskId: obs.disk?.id ?? dataDiskId,
              name: state.snapshot,
              location: state.location,
              fleet: state.fleet,
            },
            { signal },
          );
          continue;
        }
        const os = vm!.storageProfile?.osDisk;
        const detached =
          os?.deleteOption === 'Detach' &&
          (vm!.storageProfile?.dataDisks ?? []).every((d) => (d.deleteOption ?? 'Detach') === 'Detach') &&
          (vm!.networkProfile?.networkInterfaces ?? []).every(
            (n) => (n.deleteOption ?? 'Detach') === 'Detach',
          );
        if (!detached || getTag(vm!.tags, TAGS.upgrade) !== vmTagValue) {
          phases.enter('mark', `${TAGS.upgrade}=${vmTagValue}`);
          await updateVm(
            ctx,
            {
              resourceGroup: rg,
              name: claw,
              claw,
              tags: { [TAGS.upgrade]: vmTagValue },
              osDiskDeleteOption: 'Detach',
              dataDiskDeleteOption: 'Detach',
              nicDeleteOption: 'Detach',
            },
            { signal },
          );
          continue;
        }
        if (obs.power !== 'deallocated' && !quiesced) {
          downStart ??= Date.now();
          if (stopMethod === 'ssh' && obs.power === 'running') {
            phases.enter('quiesce', `${state.admin}@${claw}: ${QUIESCE_COMMAND}`);
            const why = await onClaw(state, QUIESCE_COMMAND);
            if (!why) {
              quiesced = true;
              continue;
            }
            reporter.warn(`could not stop the claw's services over SSH (${why}); deallocating instead`);
          }
          phases.enter('deallocate', stopMethod === 'ssh' ? `VM ${obs.power ?? 'state unknown'}` : undefined);
          await deallocateVm(ctx, { resourceGroup: rg, name: claw, claw }, { signal });
          continue;
        }
        downStart ??= Date.now();
        phases.enter('delete-vm');
        try {
          await deleteVm(ctx, { resourceGroup: rg, name: claw, claw }, { signal });
        } catch (e) {
          // the VM still runs its old OS disk: start the services again rather than leave the claw down
          if (quiesced && !signal?.aborted) {
            const why = await onClaw(state, RESUME_COMMAND);
            reporter.warn(
              why
                ? `the VM could not be deleted and its services could not be restarted over SSH (${why})`
                : 'the VM could not be deleted: its gateway and sidecar were started again; re-run to finish the upgrade',
            );
          }
          throw e;
        }
        continue;
      }
      if (!vm) {
        downStart ??= Date.now();
        phases.enter('create-vm', `${state.newOs} from ${target}`);
        try {
          await createFromImage(ctx, {
            rg,
            claw,
            state,
            target,
            nicId,
            dataDiskId,
            spec,
            customData,
            identity: ensureIdentity(state),
            signal,
          });
        } catch (e) {
          await startRollback(`create failed: ${firstLine(e)}`);
        }
        continue;
      }
      // on the new OS disk
      if (vm.provisioningState === 'Failed') {
        await startRollback('the new VM is in provisioning state Failed');
        continue;
      }
      phases.enter('wait-boot');
      const budget = Date.now();
      let verify: (VerifyResult & { hostKeyFingerprint: string }) | undefined;
      try {
        verify = await bootAndVerify(state, budget, () => phases.enter('verify'));
      } catch (e) {
        await startRollback(`wait/verify failed: ${firstLine(e)}`);
        continue;
      }
      lastVerify = verify;
      if (!verify.healthy) {
        await startRollback(`verify failed: ${verify.failedChecks.join(', ')}`);
        continue;
      }
      downEnd = Date.now();
      phases.enter('cleanup');
      await cleanup(ctx, {
        rg,
        claw,
        keepOsDisks: o.keepOsDisks,
        snapshotRetention: o.snapshotRetention,
        currentOs: state.newOs,
        signal,
        reporter,
      });
      await writeDiskTags(clearedUpgradeTags(obs.disk?.tags));
      break;
    }
    // rollback
    if (vm && !onOld) {
      phases.enter('rollback-delete-vm');
      downStart ??= Date.now();
      await deleteVm(ctx, { resourceGroup: rg, name: claw, claw }, { signal });
      continue;
    }
    if (!vm) {
      phases.enter('rollback-create-vm', state.oldOs);
      const leftover = await getDisk(ctx, rg, state.newOs, { signal });
      if (leftover && !leftover.managedBy)
        await deleteDisk(ctx, { resourceGroup: rg, name: state.newOs, claw }, { signal });
      await createFromOldDisk(ctx, { rg, claw, state, keepId, nicId, dataDiskId, signal });
      continue;
    }
    phases.enter('rollback-verify');
    const id = ensureIdentity(state);
    if (id.ephemeral) {
      reporter.warn(
        "rolled back; not verified (no ssh-private-key: the kept OS disk only accepts the claw's own keys)",
      );
    } else {
      try {
        lastVerify = await bootAndVerify(state, Date.now());
      } catch (e) {
        reporter.warn(`rolled back, but verify of the old version could not run: ${firstLine(e)}`);
      }
    }
    downEnd = Date.now();
    rollbackReason ??= m.reason ?? 'a previous run rolled back';
    phases.enter('rollback-cleanup');
    await cleanup(ctx, {
      rg,
      claw,
      keepOsDisks: o.keepOsDisks,
      snapshotRetention: Math.max(1, o.snapshotRetention),
      currentOs: state.oldOs,
      signal,
      reporter,
    });
    await writeDiskTags(clearedUpgradeTags(obs.disk?.tags));
    phases.close();
    return result(true);
  }
  phases.close();
  return result(false);

  function result(rolledBack: boolean): UpgradeResult {
    const r: UpgradeResult = {
      previousVersion,
      version: target,
      rolledBack,
      downtimeSeconds:
        downStart !== undefined ? Math.round(((downEnd ?? Date.now()) - downStart) / 10) / 100 : 0,
      healthy: rolledBack ? false : (lastVerify?.healthy ?? false),
      changed: true,
      timeline: phases.timeline,
      snapshot: state!.snapshot,
      dataDiskId,
      verifyMarkdown: lastVerify?.markdown,
      failedChecks: lastVerify?.failedChecks,
      rollbackReason,
    };
    reporter.info(
      `upgrade ${claw}: ${previousVersion} -> ${target}${rolledBack ? ' ROLLED BACK' : ''}, downtime ${r.downtimeSeconds} s, total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    return r;
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
}

function currentState(vm: VirtualMachine, osDisk: Disk, target: string, targetId: string): UpgradeState {
  const claw = vm.name ?? '';
  const from = vmImageVersion(vm) ?? 'unknown';
  let newOs = names.osDisk(claw, target);
  if (newOs === osDisk.name) newOs = `${newOs}-r${Math.floor(Date.now() / 1000).toString(36)}`;
  const keys = (vm.osProfile?.linuxConfiguration?.ssh?.publicKeys ?? [])
    .map((k) => k.keyData ?? '')
    .filter(Boolean);
  return {
    from,
    oldOs: osDisk.name ?? '',
    newOs,
    snapshot: names.snapshot(claw, new Date()),
    size: vm.hardwareProfile?.vmSize ?? 'Standard_D2s_v3',
    admin: vm.osProfile?.adminUsername ?? 'azureuser',
    keys,
    sec: vm.securityProfile?.securityType === 'TrustedLaunch' ? 'TrustedLaunch' : 'Standard',
    location: vm.location ?? '',
    fleet: getTag(vm.tags, TAGS.fleet),
    vnc: 'localhost',
    targetId,
    passwordAuth: vm.osProfile?.linuxConfiguration?.disablePasswordAuthentication === false,
  };
}

async function vncExposureOf(
  ctx: AzureContext,
  rg: string,
  signal?: AbortSignal,
): Promise<'localhost' | 'public'> {
  const nsg = await ctx.network.networkSecurityGroups
    .get(rg, names.nsg(rg), ctx.op(signal))
    .catch(() => undefined);
  return (nsg?.securityRules ?? []).some((r) => r.destinationPortRange === '5900' && r.access === 'Allow')
    ? 'public'
    : 'localhost';
}

/** The per-claw custom data of an upgrade: the slim cloud-init when a new .env is given, else claw.json only. */
function upgradeCustomData(claw: string, state: UpgradeState, spec?: ClawSpec): string {
  if (spec) return renderSlimCloudInit(spec);
  const clawJson =
    JSON.stringify({ claw, adminUser: state.admin, vncExposure: state.vnc, profile: 'desktop' }, null, 2) +
    '\n';
  return [
    '#cloud-config',
    '# OpenClawps upgrade custom data: claw.json only; secrets stay on the data disk (no .env given).',
    'write_files:',
    '  - path: /etc/claw/claw.json',
    '    owner: root:root',
    "    permissions: '0644'",
    '    encoding: b64',
    `    content: ${Buffer.from(clawJson).toString('base64')}`,
    'runcmd:',
    '  - [systemctl, start, --no-block, claw-boot.service]',
    '',
  ].join('\n');
}

async function createFromImage(
  ctx: AzureContext,
  p: {
    rg: string;
    claw: string;
    state: UpgradeState;
    target: string;
    nicId: string;
    dataDiskId: string;
    spec?: ClawSpec;
    customData: string;
    identity: SshIdentity;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { state } = p;
  // a disk with the new name left by an interrupted create (or an old kept one) would make the create fail
  const stale = await getDisk(ctx, p.rg, state.newOs, { signal: p.signal });
  if (stale && !stale.managedBy)
    await deleteDisk(ctx, { resourceGroup: p.rg, name: state.newOs, claw: p.claw }, { signal: p.signal });
  const body = buildVmBody(
    {
      resourceGroup: p.rg,
      claw: p.claw,
      vmSize: state.size,
      image: { type: 'gallery', id: state.targetId },
      nicId: p.nicId,
      dataDiskId: p.dataDiskId,
      adminUsername: state.admin,
      sshPublicKeys: p.identity.publicKeys,
      adminPassword: p.spec?.secrets.VM_PASSWORD,
      customData: p.customData,
      location: state.location,
      osDiskName: state.newOs,
      osDiskDeleteOption: 'Delete',
      dataDiskDeleteOption: 'Detach',
      nicDeleteOption: 'Detach',
      securityType: state.sec,
      imageVersion: p.target,
      fleet: state.fleet,
    },
    state.location,
  );
  await ctx.compute.virtualMachines.beginCreateOrUpdateAndWait(p.rg, p.claw, body, ctx.lro(p.signal));
}

/** Recreate the VM on the kept OS disk: an attached (specialized) OS disk, so no image and no osProfile. */
async function createFromOldDisk(
  ctx: AzureContext,
  p: {
    rg: string;
    claw: string;
    state: UpgradeState;
    keepId: string;
    nicId: string;
    dataDiskId: string;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { state } = p;
  const tl = state.sec === 'TrustedLaunch';
  const body: VirtualMachine = {
    location: state.location,
    tags: managedTags({
      claw: p.claw,
      imageVersion: isVersion(state.from) ? state.from : undefined,
      fleet: state.fleet,
    }),
    hardwareProfile: { vmSize: state.size },
    storageProfile: {
      osDisk: {
        name: state.oldOs,
        osType: 'Linux',
        createOption: 'Attach',
        caching: 'ReadWrite',
        managedDisk: { id: p.keepId },
        deleteOption: 'Delete',
      },
      dataDisks: [
        {
          lun: 0,
          createOption: 'Attach',
          caching: 'ReadWrite',
          managedDisk: { id: p.dataDiskId },
          deleteOption: 'Detach',
        },
      ],
    },
    networkProfile: { networkInterfaces: [{ id: p.nicId, primary: true, deleteOption: 'Detach' }] },
    securityProfile: tl
      ? { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } }
      : { securityType: 'Standard' },
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
  };
  await ctx.compute.virtualMachines.beginCreateOrUpdateAndWait(p.rg, p.claw, body, ctx.lro(p.signal));
}

/** Old OS disks beyond keep and snapshots beyond retention (ours, this claw's, unattached). */
async function cleanup(
  ctx: AzureContext,
  p: {
    rg: string;
    claw: string;
    keepOsDisks: number;
    snapshotRetention: number;
    currentOs: string;
    signal?: AbortSignal;
    reporter: UpgradeOptions['reporter'];
  },
): Promise<void> {
  // old OS disks and old snapshots are independent: listed and deleted side by side
  const oldOsDisks = async (): Promise<string[]> => {
    const disks: Disk[] = [];
    for await (const d of ctx.compute.disks.listByResourceGroup(p.rg, ctx.op(p.signal))) disks.push(d);
    return disks
      .filter((d) => d.name && d.name.startsWith(`${p.claw}-os`) && d.name !== p.currentOs && !d.managedBy)
      .filter((d) => getTag(d.tags, TAGS.claw) === p.claw || getTag(d.tags, TAGS.claw) === undefined)
      .sort((a, b) => (b.timeCreated?.getTime() ?? 0) - (a.timeCreated?.getTime() ?? 0))
      .slice(p.keepOsDisks)
      .map((d) => d.name!);
  };
  const oldSnapshots = async (): Promise<string[]> => {
    const snaps: string[] = [];
    for await (const s of ctx.compute.snapshots.listByResourceGroup(p.rg, ctx.op(p.signal)))
      if (
        s.name &&
        new RegExp(`^${p.claw}-data-\\d{14}$`).test(s.name) &&
        getTag(s.tags, TAGS.claw) === p.claw
      )
        snaps.push(s.name);
    return snaps.sort((a, b) => (a < b ? 1 : -1)).slice(p.snapshotRetention);
  };
  const [disks, snaps] = await Promise.all([oldOsDisks(), oldSnapshots()]);
  await Promise.all([
    ...disks.map(async (name) => {
      p.reporter.info(`deleting old OS disk ${name}`);
      await ctx.compute.disks.beginDeleteAndWait(p.rg, name, ctx.lro(p.signal));
    }),
    ...snaps.map(async (name) => {
      p.reporter.info(`deleting snapshot ${name} (retention ${p.snapshotRetention})`);
      await deleteSnapshot(ctx, { resourceGroup: p.rg, name, claw: p.claw }, { signal: p.signal });
    }),
  ]);
}

export function renderUpgradeSummary(r: UpgradeResult): string {
  const verdict = r.rolledBack
    ? 'ROLLED BACK'
    : r.changed === false
      ? 'UP TO DATE'
      : r.healthy
        ? 'UPGRADED'
        : 'UNHEALTHY';
  const lines = [
    `### Upgrade: ${mdCell(r.previousVersion)} → ${mdCell(r.version)}: ${verdict}`,
    '',
    '| | |',
    '|---|---|',
    `| Previous version | ${mdCell(r.previousVersion)} |`,
    `| Target version | ${mdCell(r.version)} |`,
    `| Rolled back | ${r.rolledBack ? `yes (${mdCell(r.rollbackReason ?? 'verify failed')})` : 'no'} |`,
    `| Downtime | ${r.downtimeSeconds} s |`,
    `| Healthy | ${r.healthy ? 'yes' : 'no'} |`,
  ];
  if (r.snapshot) lines.push(`| Data disk snapshot | \`${mdCell(r.snapshot)}\` |`);
  if (r.dataDiskId) lines.push(`| Data disk | \`${mdCell(r.dataDiskId)}\` |`);
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
