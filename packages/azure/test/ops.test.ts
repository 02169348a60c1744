/**
 * Every packages/azure operation through the real SDK clients (HTTPS + CA + bearer token) against the emulator.
 */
import {
  AzureOperationError,
  createImageVersion,
  createSnapshot,
  deallocateVm,
  deleteDisk,
  deleteVm,
  ensureDataDisk,
  ensureGallery,
  ensureImageDefinition,
  ensureNetwork,
  ensureNetworkInterface,
  ensurePublicIp,
  ensureResourceGroup,
  ensureVm,
  findDataDiskAtLun0,
  findOsDisk,
  findVmDataDisk,
  findVmNic,
  findVmPublicIp,
  generalizeVm,
  getDisk,
  getVm,
  getVmState,
  ids,
  names,
  resolveLatestImageVersion,
  startVm,
  TAGS,
  UBUNTU_2404,
  updateImageVersion,
  updateVm,
  vmImageVersion,
  waitForReplication,
  type AzureContext,
  type ReplicationProgress,
} from '@openclawps/azure';
import { LOCATION, SSH_KEY, startHarness, type Harness } from './helpers/emu';

let h: Harness;
let ctx: AzureContext;
beforeAll(async () => {
  h = await startHarness();
  ctx = h.ctx;
});
afterAll(async () => h?.close());

async function expectCode(p: Promise<unknown>, code: string): Promise<AzureOperationError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AzureOperationError);
    expect((e as AzureOperationError).code).toBe(code);
    return e as AzureOperationError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** RG + network + PIP + NIC + disk for a claw; returns the IDs. */
async function clawInfra(rg: string, claw: string) {
  await ensureResourceGroup(ctx, { name: rg });
  const net = await ensureNetwork(ctx, { resourceGroup: rg, sshSourceCidrs: ['203.0.113.0/24'] });
  const pip = await ensurePublicIp(ctx, { resourceGroup: rg, claw });
  const nic = await ensureNetworkInterface(ctx, {
    resourceGroup: rg,
    claw,
    subnetId: net.resource.subnetId,
    publicIpId: pip.resource.id!,
  });
  const disk = await ensureDataDisk(ctx, { resourceGroup: rg, claw, sizeGB: 32 });
  return { nicId: nic.resource.id!, dataDiskId: disk.resource.id!, subnetId: net.resource.subnetId };
}

function vmParams(rg: string, claw: string, infra: { nicId: string; dataDiskId: string }) {
  return {
    resourceGroup: rg,
    claw,
    vmSize: 'Standard_B2s',
    image: UBUNTU_2404,
    nicId: infra.nicId,
    dataDiskId: infra.dataDiskId,
    adminUsername: 'azureuser',
    sshPublicKeys: [SSH_KEY],
    customData: '#cloud-config\nruncmd: [echo hi]\n',
    imageVersion: '1.0.0',
  };
}

describe('resource group', () => {
  it('creates, then re-runs without writing', async () => {
    const r1 = await ensureResourceGroup(ctx, { name: 'rg-basic', fleet: 'prod' });
    expect(r1.action).toBe('created');
    expect(r1.resource.tags?.[TAGS.managedBy]).toBe('openclawps');
    h.resetRequests();
    const r2 = await ensureResourceGroup(ctx, { name: 'rg-basic', fleet: 'prod' });
    expect(r2.action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
    expect(h.credential.calls).toBeGreaterThan(0); // the bearer path really ran
  });

  it('refuses a group OpenClawps did not create, unless told to use it as is', async () => {
    await ctx.resources.resourceGroups.createOrUpdate('rg-foreign', {
      location: LOCATION,
      tags: { team: 'x' },
    });
    const e = await expectCode(ensureResourceGroup(ctx, { name: 'rg-foreign' }), 'NotManagedByOpenClawps');
    expect(e.message).toMatch(/rg-foreign/);
    h.resetRequests();
    const r = await ensureResourceGroup(ctx, { name: 'rg-foreign', allowUnmanaged: true });
    expect(r.action).toBe('unchanged');
    expect(r.resource.tags).toEqual({ team: 'x' });
    expect(h.writes()).toEqual([]);
  });
});

describe('network', () => {
  const rg = 'rg-net';
  beforeAll(() => ensureResourceGroup(ctx, { name: rg }));

  it('creates NSG (22 only) + VNet + subnet, idempotently', async () => {
    const r1 = await ensureNetwork(ctx, { resourceGroup: rg, sshSourceCidrs: ['198.51.100.7/32'] });
    expect(r1.action).toBe('created');
    const rules = r1.resource.nsg.securityRules ?? [];
    expect(rules.map((r) => [r.name, r.destinationPortRange, r.sourceAddressPrefix])).toEqual([
      ['openclawps-ssh', '22', '198.51.100.7/32'],
    ]);
    expect(r1.resource.vnet.addressSpace?.addressPrefixes).toEqual(['10.0.0.0/16']);
    expect(r1.resource.subnet.addressPrefix).toBe('10.0.0.0/24');
    expect(r1.resource.subnetId).toBe(ids.subnet(ctx.subscriptionId, rg, names.vnet(rg), 'default'));
    const subnet = await ctx.network.subnets.get(rg, names.vnet(rg), 'default');
    expect(subnet.networkSecurityGroup?.id?.toLowerCase()).toBe(
      ids.nsg(ctx.subscriptionId, rg, names.nsg(rg)).toLowerCase(),
    );
    h.resetRequests();
    const r2 = await ensureNetwork(ctx, { resourceGroup: rg, sshSourceCidrs: ['198.51.100.7/32'] });
    expect(r2.action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
  });

  it('opens 5900 only for public VNC, and closes it again', async () => {
    const pub = await ensureNetwork(ctx, {
      resourceGroup: rg,
      sshSourceCidrs: ['198.51.100.7/32'],
      vncExposure: 'public',
      vncSourceCidrs: ['192.0.2.0/28', '192.0.2.64/28'],
    });
    expect(pub.action).toBe('updated');
    const vnc = pub.resource.nsg.securityRules?.find((r) => r.name === 'openclawps-vnc');
    expect(vnc?.destinationPortRange).toBe('5900');
    expect(vnc?.sourceAddressPrefixes).toEqual(['192.0.2.0/28', '192.0.2.64/28']);
    const closed = await ensureNetwork(ctx, { resourceGroup: rg, sshSourceCidrs: ['198.51.100.7/32'] });
    expect(closed.changes).toContain('nsg: remove rule openclawps-vnc');
    expect(closed.resource.nsg.securityRules?.map((r) => r.name)).toEqual(['openclawps-ssh']);
  });

  it('reconciles a drifted rule and keeps the user’s own rules', async () => {
    const nsgName = names.nsg(rg);
    const nsg = await ctx.network.networkSecurityGroups.get(rg, nsgName);
    await ctx.network.networkSecurityGroups.createOrUpdate(
      rg,
      nsgName,
      {
        location: nsg.location,
        tags: nsg.tags,
        securityRules: [
          { ...nsg.securityRules![0], sourceAddressPrefix: '*' }, // someone opened SSH to the world
          {
            name: 'team-https',
            protocol: 'Tcp',
            access: 'Allow',
            direction: 'Inbound',
            priority: 2000,
            sourcePortRange: '*',
            destinationPortRange: '443',
            sourceAddressPrefix: '*',
            destinationAddressPrefix: '*',
          },
        ],
      },
      ctx.lro(),
    );
    const r = await ensureNetwork(ctx, { resourceGroup: rg, sshSourceCidrs: ['198.51.100.7/32'] });
    expect(r.changes).toEqual(['nsg: reconcile drifted rule openclawps-ssh']);
    const after = await ctx.network.networkSecurityGroups.get(rg, nsgName);
    const byName = Object.fromEntries((after.securityRules ?? []).map((x) => [x.name, x]));
    expect(byName['openclawps-ssh'].sourceAddressPrefix).toBe('198.51.100.7/32');
    expect(byName['team-https'].destinationPortRange).toBe('443');
  });

  it('rejects bad inputs before any write', async () => {
    h.resetRequests();
    const e = await expectCode(
      ensureNetwork(ctx, {
        resourceGroup: rg,
        sshSourceCidrs: [],
        vncExposure: 'public',
        vncSourceCidrs: ['nope/99'],
      }),
      'InvalidInput',
    );
    expect(e.message).toMatch(/sshSourceCidrs/);
    expect(e.message).toMatch(/nope\/99/);
    expect(h.emu.requests).toHaveLength(0);
  });

  it('public IP is Standard/Static and per claw; another claw’s is refused', async () => {
    const pip = await ensurePublicIp(ctx, { resourceGroup: rg, claw: 'alice' });
    expect(pip.action).toBe('created');
    expect(pip.resource.sku?.name).toBe('Standard');
    expect(pip.resource.publicIPAllocationMethod).toBe('Static');
    expect(pip.resource.tags?.[TAGS.claw]).toBe('alice');
    h.resetRequests();
    expect((await ensurePublicIp(ctx, { resourceGroup: rg, claw: 'alice' })).action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
    await expectCode(
      ensurePublicIp(ctx, { resourceGroup: rg, claw: 'bob', name: 'alice-pip' }),
      'OwnedByAnotherClaw',
    );
  });

  it('NIC links subnet and public IP, idempotently', async () => {
    const subnetId = ids.subnet(ctx.subscriptionId, rg, names.vnet(rg), 'default');
    const pipId = ids.publicIp(ctx.subscriptionId, rg, 'alice-pip');
    const nic = await ensureNetworkInterface(ctx, {
      resourceGroup: rg,
      claw: 'alice',
      subnetId,
      publicIpId: pipId,
    });
    expect(nic.action).toBe('created');
    const cfg = nic.resource.ipConfigurations?.[0];
    expect(cfg?.subnet?.id?.toLowerCase()).toBe(subnetId.toLowerCase());
    expect(cfg?.publicIPAddress?.id?.toLowerCase()).toBe(pipId.toLowerCase());
    h.resetRequests();
    const again = await ensureNetworkInterface(ctx, {
      resourceGroup: rg,
      claw: 'alice',
      subnetId,
      publicIpId: pipId,
    });
    expect(again.action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
  });
});

describe('disks and snapshots', () => {
  const rg = 'rg-disk';
  beforeAll(() => ensureResourceGroup(ctx, { name: rg }));

  it('creates a data disk, grows it on request, never shrinks', async () => {
    const d = await ensureDataDisk(ctx, { resourceGroup: rg, claw: 'carol', sizeGB: 16 });
    expect(d.action).toBe('created');
    expect(d.resource.diskSizeGB).toBe(16);
    const grown = await ensureDataDisk(ctx, { resourceGroup: rg, claw: 'carol', sizeGB: 32 });
    expect(grown.action).toBe('updated');
    expect((await getDisk(ctx, rg, 'carol-data'))?.diskSizeGB).toBe(32);
    h.resetRequests();
    expect((await ensureDataDisk(ctx, { resourceGroup: rg, claw: 'carol', sizeGB: 8 })).action).toBe(
      'unchanged',
    );
    expect(h.writes()).toEqual([]);
  });

  it('takes an incremental snapshot once', async () => {
    const diskId = ids.disk(ctx.subscriptionId, rg, 'carol-data');
    const name = names.snapshot('carol', new Date(Date.UTC(2026, 11, 1, 20, 0, 5)));
    expect(name).toBe('carol-data-20261201200005');
    const s = await createSnapshot(ctx, { resourceGroup: rg, claw: 'carol', sourceDiskId: diskId, name });
    expect(s.action).toBe('created');
    expect(s.resource.incremental).toBe(true);
    h.resetRequests();
    expect(
      (await createSnapshot(ctx, { resourceGroup: rg, claw: 'carol', sourceDiskId: diskId, name })).action,
    ).toBe('unchanged');
    expect(h.writes()).toEqual([]);
  });

  it('refuses a disk without our tag', async () => {
    await ctx.compute.disks.createOrUpdate(
      rg,
      'dave-data',
      { location: LOCATION, diskSizeGB: 4, creationData: { createOption: 'Empty' } },
      ctx.lro(),
    );
    await expectCode(
      ensureDataDisk(ctx, { resourceGroup: rg, claw: 'dave', sizeGB: 4 }),
      'NotManagedByOpenClawps',
    );
    await expectCode(deleteDisk(ctx, { resourceGroup: rg, name: 'dave-data' }), 'NotManagedByOpenClawps');
  });
});

describe('virtual machines', () => {
  const rg = 'rg-vm';
  let infra: { nicId: string; dataDiskId: string };
  beforeAll(async () => {
    infra = await clawInfra(rg, 'erin');
  });

  it('creates a Trusted Launch VM with explicit delete options, SSH key auth and base64 custom data', async () => {
    const r = await ensureVm(ctx, vmParams(rg, 'erin', infra));
    expect(r.action).toBe('created');
    const vm = (await getVm(ctx, rg, 'erin'))!;
    expect(vm.securityProfile?.securityType).toBe('TrustedLaunch');
    expect(vm.securityProfile?.uefiSettings).toEqual({ secureBootEnabled: true, vTpmEnabled: true });
    expect(vm.storageProfile?.imageReference).toMatchObject({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server',
    });
    expect(vm.storageProfile?.osDisk?.deleteOption).toBe('Delete');
    expect(vm.storageProfile?.osDisk?.name).toBe('erin-os-1-0-0');
    expect(findDataDiskAtLun0(vm)?.deleteOption).toBe('Detach');
    expect(vm.networkProfile?.networkInterfaces?.[0].deleteOption).toBe('Detach');
    expect(vm.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(true);
    expect(vm.osProfile?.linuxConfiguration?.ssh?.publicKeys?.[0].keyData).toBe(SSH_KEY);
    expect(vm.tags).toMatchObject({
      [TAGS.claw]: 'erin',
      [TAGS.imageVersion]: '1.0.0',
      [TAGS.managedBy]: 'openclawps',
    });
    expect(vmImageVersion(vm)).toBe('1.0.0');
    // the request carried base64 custom data (Azure never returns it on GET)
    const put = h.emu.requests.find((q) => q.method === 'PUT' && /virtualMachines\/erin$/i.test(q.path));
    expect(put).toBeDefined();
    expect((await getVmState(ctx, rg, 'erin')).power).toBe('running');
  });

  it('re-running ensureVm writes nothing; a different image is refused', async () => {
    h.resetRequests();
    const r = await ensureVm(ctx, vmParams(rg, 'erin', infra));
    expect(r.action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
    await expectCode(
      ensureVm(ctx, {
        ...vmParams(rg, 'erin', infra),
        image: { type: 'marketplace', publisher: 'Debian', offer: 'debian-12', sku: '12-gen2' },
      }),
      'VmImageMismatch',
    );
  });

  it('updates delete options and tags with one PATCH, then converges', async () => {
    h.resetRequests();
    const r = await updateVm(ctx, {
      resourceGroup: rg,
      name: 'erin',
      claw: 'erin',
      osDiskDeleteOption: 'Detach',
      tags: { [TAGS.upgrade]: 'target=1.1.0;phase=snapshot' },
    });
    expect(r.action).toBe('updated');
    expect(r.changes).toEqual(['tags', 'osDisk.deleteOption -> Detach']);
    expect(h.writes().map((w) => w.method)).toEqual(['PATCH']);
    const vm = (await getVm(ctx, rg, 'erin'))!;
    expect(vm.storageProfile?.osDisk?.deleteOption).toBe('Detach');
    expect(vm.tags?.[TAGS.upgrade]).toBe('target=1.1.0;phase=snapshot');
    h.resetRequests();
    expect(
      (await updateVm(ctx, { resourceGroup: rg, name: 'erin', osDiskDeleteOption: 'Detach' })).action,
    ).toBe('unchanged');
    expect(h.writes()).toEqual([]);
    await updateVm(ctx, {
      resourceGroup: rg,
      name: 'erin',
      osDiskDeleteOption: 'Delete',
      tags: { [TAGS.upgrade]: null },
    });
    expect((await getVm(ctx, rg, 'erin'))!.tags?.[TAGS.upgrade]).toBeUndefined();
  });

  it('finds the NIC, public IP, data disk and OS disk', async () => {
    const vm = (await getVm(ctx, rg, 'erin'))!;
    expect((await findVmNic(ctx, vm, rg))?.name).toBe('erin-nic');
    const ip = await findVmPublicIp(ctx, vm, rg);
    expect(ip?.publicIp.name).toBe('erin-pip');
    expect(ip?.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const disk = await findVmDataDisk(ctx, vm, rg);
    expect(disk?.name).toBe('erin-data');
    expect(disk?.managedBy?.toLowerCase()).toBe(vm.id?.toLowerCase());
    expect(findOsDisk(vm)?.name).toBe('erin-os-1-0-0');
  });

  it('surfaces Azure rules with their codes: attached disk, generalize running, start generalized', async () => {
    const attached = await expectCode(
      deleteDisk(ctx, { resourceGroup: rg, name: 'erin-data', claw: 'erin' }),
      'OperationNotAllowed',
    );
    expect(attached.message).toMatch(/attached/);
    expect(attached.hint).toMatch(/Delete or update the VM/);
    const running = await expectCode(
      generalizeVm(ctx, { resourceGroup: rg, name: 'erin' }),
      'OperationNotAllowed',
    );
    expect(running.armMessage).toMatch(/running/);

    const d1 = await deallocateVm(ctx, { resourceGroup: rg, name: 'erin', claw: 'erin' });
    expect(d1.action).toBe('done');
    expect((await getVmState(ctx, rg, 'erin')).power).toBe('deallocated');
    h.resetRequests();
    expect((await deallocateVm(ctx, { resourceGroup: rg, name: 'erin' })).action).toBe('unchanged');
    expect(h.writes()).toEqual([]);

    const st = await startVm(ctx, { resourceGroup: rg, name: 'erin' });
    expect(st.action).toBe('done');
    expect((await getVmState(ctx, rg, 'erin')).power).toBe('running');
    expect((await startVm(ctx, { resourceGroup: rg, name: 'erin' })).action).toBe('unchanged');
  });

  it('delete honours each delete option: OS disk deleted, data disk and NIC kept', async () => {
    const r = await deleteVm(ctx, { resourceGroup: rg, name: 'erin', claw: 'erin' });
    expect(r.deleted).toBe(true);
    expect(await getVm(ctx, rg, 'erin')).toBeUndefined();
    expect(await getDisk(ctx, rg, 'erin-os-1-0-0')).toBeUndefined();
    const data = await getDisk(ctx, rg, 'erin-data');
    expect(data?.managedBy).toBeFalsy();
    expect(data?.diskState).toBe('Unattached');
    expect(await ctx.network.networkInterfaces.get(rg, 'erin-nic')).toBeDefined();
    h.resetRequests();
    expect((await deleteVm(ctx, { resourceGroup: rg, name: 'erin' })).deleted).toBe(false);
    expect(h.writes()).toEqual([]);
  });

  it('a failed VM-create LRO surfaces its code (parsed from the SDK message)', async () => {
    h.emu.faults.add({
      kind: 'lroFailed',
      match: { method: 'PUT', path: 'virtualMachines/erin' },
      code: 'AllocationFailed',
      message:
        'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
    });
    const e = await expectCode(ensureVm(ctx, vmParams(rg, 'erin', infra)), 'AllocationFailed');
    expect(e.operation).toBe('virtualMachines.createOrUpdate erin');
    expect(e.hint).toMatch(/allocate/);
    h.emu.faults.clear();
  });
});

describe('LRO outcomes', () => {
  it('a Canceled LRO surfaces as Canceled; a 5xx on the initial request keeps its status', async () => {
    await ensureResourceGroup(ctx, { name: 'rg-lro' });
    h.emu.faults.add({ kind: 'lroCanceled', match: { method: 'PUT', path: 'disks/hank-data' } });
    const c = await expectCode(
      ensureDataDisk(ctx, { resourceGroup: 'rg-lro', claw: 'hank', sizeGB: 8 }),
      'Canceled',
    );
    expect(c.hint).toMatch(/Re-run/);
    h.emu.faults.add({
      kind: 'status',
      status: 503,
      match: { method: 'PUT', path: 'disks/ivy-data' },
      times: 10,
    });
    const u = await expectCode(
      ensureDataDisk(ctx, { resourceGroup: 'rg-lro', claw: 'ivy', sizeGB: 8 }),
      'ServiceUnavailable',
    );
    expect(u.statusCode).toBe(503);
    h.emu.faults.clear();
  });
});

describe('gallery and image versions', () => {
  const rg = 'rg-gal';
  const gallery = 'clawGallery';
  const definition = 'claw-base';
  const ref = (version: string) => ({ resourceGroup: rg, gallery, definition, version });
  let builderId: string;

  beforeAll(async () => {
    const infra = await clawInfra(rg, 'builder');
    await ensureVm(ctx, { ...vmParams(rg, 'builder', infra), imageVersion: undefined });
    builderId = ids.vm(ctx.subscriptionId, rg, 'builder');
  });

  it('gallery and definition (Linux, Generalized, V2, TrustedLaunch) are idempotent', async () => {
    expect((await ensureGallery(ctx, { resourceGroup: rg, name: gallery })).action).toBe('created');
    const def = await ensureImageDefinition(ctx, { resourceGroup: rg, gallery, name: definition });
    expect(def.action).toBe('created');
    expect(def.resource).toMatchObject({ osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2' });
    expect(def.resource.features).toContainEqual({ name: 'SecurityType', value: 'TrustedLaunch' });
    h.resetRequests();
    expect((await ensureGallery(ctx, { resourceGroup: rg, name: gallery })).action).toBe('unchanged');
    expect((await ensureImageDefinition(ctx, { resourceGroup: rg, gallery, name: definition })).action).toBe(
      'unchanged',
    );
    expect(h.writes()).toEqual([]);
    await expectCode(
      ensureImageDefinition(ctx, { resourceGroup: rg, gallery, name: definition, osState: 'Specialized' }),
      'ConflictingResource',
    );
  });

  it('rejects a bad version name before any write', async () => {
    h.resetRequests();
    await expectCode(
      createImageVersion(ctx, { ...ref('v1.2'), source: { virtualMachineId: builderId } }),
      'InvalidVersion',
    );
    expect(h.emu.requests).toHaveLength(0);
  });

  it('capturing a non-generalized VM into a Generalized definition fails with Azure’s code', async () => {
    await expectCode(
      createImageVersion(ctx, { ...ref('0.9.0'), source: { virtualMachineId: builderId } }),
      'BadRequest',
    );
  });

  it('creates versions from a generalized VM and from a snapshot, reporting per-region progress', async () => {
    await deallocateVm(ctx, { resourceGroup: rg, name: 'builder' });
    await generalizeVm(ctx, { resourceGroup: rg, name: 'builder' });
    expect((await getVmState(ctx, rg, 'builder')).generalized).toBe(true);
    await expectCode(startVm(ctx, { resourceGroup: rg, name: 'builder' }), 'OperationNotAllowed');

    const progress: ReplicationProgress[] = [];
    const v = await createImageVersion(ctx, {
      ...ref('1.2.0'),
      source: { virtualMachineId: builderId },
      targetRegions: [{ name: 'northeurope', replicaCount: 2 }],
      onProgress: (p) => progress.push(p),
    });
    expect(v.action).toBe('created');
    const regions = v.resource.publishingProfile?.targetRegions?.map((r) => [r.name, r.regionalReplicaCount]);
    expect(regions).toEqual([
      [LOCATION, 1],
      ['northeurope', 2],
    ]);
    const last = progress[progress.length - 1];
    expect(last.regions.map((r) => r.state)).toEqual(['Completed', 'Completed']);
    h.resetRequests();
    const again = await createImageVersion(ctx, {
      ...ref('1.2.0'),
      source: { virtualMachineId: builderId },
      targetRegions: [{ name: 'northeurope', replicaCount: 2 }],
    });
    expect(again.action).toBe('unchanged');
    expect(h.writes()).toEqual([]);
    await expectCode(
      createImageVersion(ctx, {
        ...ref('1.2.0'),
        source: { diskId: ids.disk(ctx.subscriptionId, rg, 'builder-data') },
      }),
      'PropertyChangeNotAllowed',
    );

    // from an OS-disk snapshot
    const osDiskId = findOsDisk((await getVm(ctx, rg, 'builder'))!)!.id!;
    const snap = await createSnapshot(ctx, {
      resourceGroup: rg,
      claw: 'builder',
      sourceDiskId: osDiskId,
      name: 'builder-os-snap',
      incremental: false,
    });
    const fromSnap = await createImageVersion(ctx, {
      ...ref('1.9.0'),
      source: { snapshotId: snap.resource.id! },
    });
    expect(fromSnap.resource.storageProfile?.osDiskImage?.source?.id?.toLowerCase()).toBe(
      snap.resource.id!.toLowerCase(),
    );
    const rep = await waitForReplication(ctx, ref('1.9.0'));
    expect(rep.replicationStatus?.aggregatedState).toBe('Completed');
  });

  it('resolves latest numerically, skipping excluded versions; promotion flips it', async () => {
    const snapId = ids.snapshot(ctx.subscriptionId, rg, 'builder-os-snap');
    await createImageVersion(ctx, {
      ...ref('1.10.0'),
      source: { snapshotId: snapId },
      excludeFromLatest: true,
    });
    const latest = await resolveLatestImageVersion(
      ctx,
      { resourceGroup: rg, gallery, definition },
      { region: LOCATION },
    );
    expect(latest?.version).toBe('1.9.0'); // 1.10.0 is a canary; lexical order would have said 1.9.0 < 1.2.0
    const promoted = await updateImageVersion(ctx, ref('1.10.0'), { excludeFromLatest: false });
    expect(promoted.action).toBe('updated');
    expect((await resolveLatestImageVersion(ctx, { resourceGroup: rg, gallery, definition }))?.version).toBe(
      '1.10.0',
    );
    // not replicated to a region = not latest there
    expect(
      (
        await resolveLatestImageVersion(
          ctx,
          { resourceGroup: rg, gallery, definition },
          { region: 'northeurope' },
        )
      )?.version,
    ).toBe('1.2.0');
  });

  it('stamps a claw from a gallery version', async () => {
    const infra = await clawInfra(rg, 'frank');
    const versionId = ids.imageVersion(ctx.subscriptionId, rg, gallery, definition, '1.10.0');
    const r = await ensureVm(ctx, {
      ...vmParams(rg, 'frank', infra),
      image: { type: 'gallery', id: versionId },
      imageVersion: '1.10.0',
    });
    expect(r.action).toBe('created');
    expect(r.resource.storageProfile?.imageReference?.id?.toLowerCase()).toBe(versionId.toLowerCase());
    expect(findOsDisk(r.resource)?.name).toBe('frank-os-1-10-0');
  });
});
