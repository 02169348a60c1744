/* eslint-disable @typescript-eslint/no-explicit-any */
/** Capture-shaped flows: gallery, definition, versions from a VM / disk / snapshot, latest, replication. */
import { startEmulator, type Emulator, type GuestBackend } from '@openclawps/emulator';
import {
  clients,
  fast,
  LOC,
  raw,
  stampNetwork,
  sub,
  vmParams,
  type Clients,
  UBUNTU,
  EMPTY_OS_DISK,
  imageDefinition,
} from './clients';

let emu: Emulator;
let c: Clients;
const events: string[] = [];
const guest: GuestBackend = {
  onVmCreated: (vm) => void events.push(`vmCreated:${vm.name}`),
  onVmDeallocated: (vm) => void events.push(`vmDeallocated:${vm.name}`),
  onVmGeneralized: (vm) => void events.push(`vmGeneralized:${vm.name}`),
  onVmDeleted: (vm) => void events.push(`vmDeleted:${vm.name}`),
  onDiskCreated: (d, src) => void events.push(`diskCreated:${d.name}:${src.kind}`),
  onDiskAttached: (d, vm, lun) => void events.push(`diskAttached:${d.name}:${vm.name}:${lun}`),
  onDiskDetached: (d, vm) => void events.push(`diskDetached:${d.name}:${vm.name}`),
  onDiskDeleted: (d) => void events.push(`diskDeleted:${d.name}`),
  onSnapshotCreated: (s, d) => void events.push(`snapshot:${s.name}<-${d?.name}`),
  onImageVersionCreated: (v, src) => void events.push(`imageVersion:${v.name}<-${src.kind}`),
};

beforeAll(async () => {
  emu = await startEmulator({ latencyScale: 0, guest });
  c = clients(emu, { maxRetries: 0 });
});
afterAll(() => emu.close());

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; statusCode?: number; message: string };
  }
  throw new Error('expected failure');
}

const RG = 'img';
let builderId: string;

/** Capture the builder VM as `version` of definition `def` in clawGallery (with these publishing settings). */
const captureBuilder = (def: string, version: string, extra: Record<string, unknown> = {}) =>
  c.compute.galleryImageVersions.createOrUpdate(
    RG,
    'clawGallery',
    def,
    version,
    { location: LOC, ...extra, storageProfile: { source: { virtualMachineId: builderId } } } as never,
    fast,
  );

describe('gallery, definition and a version captured from a VM', () => {
  beforeAll(async () => {
    const { nic } = await stampNetwork(c, RG, 'builder');
    await c.compute.virtualMachines.createOrUpdate(
      RG,
      'builder',
      vmParams(nic.id!, {
        securityProfile: {
          securityType: 'TrustedLaunch',
          uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
        },
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { createOption: 'FromImage', deleteOption: 'Delete' },
        },
      }) as never,
      fast,
    );
    builderId = (await c.compute.virtualMachines.get(RG, 'builder')).id!;
    await c.compute.galleries.createOrUpdate(
      RG,
      'clawGallery',
      { location: LOC, description: 'claws' },
      fast,
    );
    await c.compute.galleryImages.createOrUpdate(
      RG,
      'clawGallery',
      'claw-base',
      imageDefinition('Generalized', { publisher: 'openclawps', offer: 'claw', sku: 'base' }, [
        { name: 'SecurityType', value: 'TrustedLaunch' },
      ]),
      fast,
    );
  });

  it('gallery has the unique name; the definition its properties', async () => {
    const g = await c.compute.galleries.get(RG, 'clawGallery');
    expect(g.identifier?.uniqueName).toBe(`${emu.subscriptionId}-CLAWGALLERY`);
    const d = await c.compute.galleryImages.get(RG, 'clawGallery', 'claw-base');
    expect(d).toMatchObject({
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      provisioningState: 'Succeeded',
    });
  });

  it('capturing a non-generalized VM into a Generalized definition: BadRequest with the OS state', async () => {
    const e = await failure(captureBuilder('claw-base', '1.0.0'));
    expect(e.code).toBe('BadRequest');
    expect(e.message).toContain(
      "has a different OS state ['Specialized'] than the parent gallery image OS state ['Generalized']",
    );
  });

  it('version names must be x.y.z of 32-bit integers', async () => {
    for (const v of ['1.0', '1.0.0.1', 'v1.0.0', '1.0.4294967296']) {
      const e = await failure(captureBuilder('claw-base', v));
      expect(e.code).toBe('InvalidParameter');
      expect(e.message).toContain('Major(int).Minor(int).Patch(int)');
    }
  });

  it('target regions must contain the version location', async () => {
    const e = await failure(
      captureBuilder('claw-base', '1.0.0', { publishingProfile: { targetRegions: [{ name: 'westus' }] } }),
    );
    expect(e.message).toContain('must contain the location of image version');
  });

  it('deallocate + generalize, then capture 1.0.0 (two regions) and 1.10.0; 1.2.0 excluded from latest', async () => {
    await c.compute.virtualMachines.deallocate(RG, 'builder', fast);
    await c.compute.virtualMachines.generalize(RG, 'builder');
    for (const [v, exclude] of [
      ['1.0.0', false],
      ['1.2.0', true],
      ['1.10.0', false],
    ] as const) {
      const ver = await captureBuilder('claw-base', v, {
        publishingProfile: {
          targetRegions: [{ name: 'East US', regionalReplicaCount: 2 }, { name: 'westus' }],
          replicaCount: 1,
          excludeFromLatest: exclude,
        },
      });
      expect(ver.provisioningState).toBe('Succeeded');
      expect(ver.publishingProfile?.targetRegions?.map((t) => t.name)).toEqual(['East US', 'westus']);
    }
    const got = await c.compute.galleryImageVersions.get(RG, 'clawGallery', 'claw-base', '1.0.0', {
      expand: 'ReplicationStatus',
    });
    expect(got.replicationStatus?.aggregatedState).toBe('Completed');
    expect(got.storageProfile?.osDiskImage?.sizeInGB).toBe(30);
    expect(events).toContain('imageVersion:1.0.0<-vm');
    const names: string[] = [];
    for await (const v of c.compute.galleryImageVersions.listByGalleryImage(RG, 'clawGallery', 'claw-base'))
      names.push(v.name!);
    expect(names.sort()).toEqual(['1.0.0', '1.10.0', '1.2.0']);
  });

  it('changing the source of a version: PropertyChangeNotAllowed', async () => {
    const disk = await c.compute.disks.createOrUpdate(RG, 'other', EMPTY_OS_DISK, fast);
    const e = await failure(
      c.compute.galleryImageVersions.createOrUpdate(
        RG,
        'clawGallery',
        'claw-base',
        '1.0.0',
        { location: LOC, storageProfile: { source: { id: disk.id } } } as never,
        fast,
      ),
    );
    expect(e.code).toBe('PropertyChangeNotAllowed');
  });

  it('a VM from the definition gets the numerically latest version not excluded; osProfile is required', async () => {
    const { nic } = await stampNetwork(c, RG, 'alice');
    const defId = (await c.compute.galleryImages.get(RG, 'clawGallery', 'claw-base')).id!;
    const base = vmParams(nic.id!, {
      securityProfile: {
        securityType: 'TrustedLaunch',
        uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
      },
      storageProfile: {
        imageReference: { id: defId },
        osDisk: { name: 'alice-os-1-10-0', createOption: 'FromImage', deleteOption: 'Detach' },
      },
    }) as any;
    const noOs = { ...base, osProfile: undefined };
    const e = await failure(c.compute.virtualMachines.createOrUpdate(RG, 'alice', noOs, fast));
    expect(e.code).toBe('InvalidParameter');
    expect(e.message).toContain("Required parameter 'osProfile' is missing (null).");
    const noTl = { ...base, securityProfile: undefined };
    expect(
      (await failure(c.compute.virtualMachines.createOrUpdate(RG, 'alice', noTl, fast))).message,
    ).toContain('TrustedLaunch');
    const vm = await c.compute.virtualMachines.createOrUpdate(RG, 'alice', base, fast);
    expect(vm.storageProfile?.imageReference?.exactVersion).toBe('1.10.0');
    const os = await c.compute.disks.get(RG, 'alice-os-1-10-0');
    expect(os.creationData?.galleryImageReference?.id).toMatch(/versions\/1\.10\.0$/);
    expect(events).toContain('diskCreated:alice-os-1-10-0:imageVersion');
  });

  it('deleting a definition or gallery with children: CannotDeleteResource', async () => {
    expect((await failure(c.compute.galleryImages.delete(RG, 'clawGallery', 'claw-base', fast))).code).toBe(
      'CannotDeleteResource',
    );
    expect((await failure(c.compute.galleries.delete(RG, 'clawGallery', fast))).code).toBe(
      'CannotDeleteResource',
    );
  });

  it('a version of a missing definition: 404 ParentResourceNotFound', async () => {
    const e = await failure(captureBuilder('nope', '1.0.0'));
    expect(e.statusCode).toBe(404);
  });
});

describe('specialized images, snapshots and disk copies', () => {
  it('incremental snapshot of a data disk, restore by Copy; specialized version from a snapshot forbids osProfile', async () => {
    await c.compute.disks.createOrUpdate(RG, 'spec-os', EMPTY_OS_DISK, fast);
    const src = await c.compute.disks.get(RG, 'spec-os');
    const snap = await c.compute.snapshots.createOrUpdate(
      RG,
      'spec-os-20261201120000',
      { location: LOC, incremental: true, creationData: { createOption: 'Copy', sourceResourceId: src.id } },
      fast,
    );
    expect(snap).toMatchObject({ incremental: true, provisioningState: 'Succeeded' });
    expect(snap.creationData?.sourceResourceId).toBe(src.id);
    expect(events).toContain('snapshot:spec-os-20261201120000<-spec-os');
    const restored = await c.compute.disks.createOrUpdate(
      RG,
      'restored',
      { location: LOC, creationData: { createOption: 'Copy', sourceResourceId: snap.id } },
      fast,
    );
    expect(restored.diskSizeGB).toBe(30);
    expect(events).toContain('diskCreated:restored:snapshot');

    await c.compute.galleryImages.createOrUpdate(
      RG,
      'clawGallery',
      'claw-spec',
      imageDefinition('Specialized', { publisher: 'openclawps', offer: 'claw', sku: 'spec' }),
      fast,
    );
    await c.compute.galleryImageVersions.createOrUpdate(
      RG,
      'clawGallery',
      'claw-spec',
      '0.1.0',
      { location: LOC, storageProfile: { osDiskImage: { source: { id: snap.id } } } } as never,
      fast,
    );
    const { nic } = await stampNetwork(c, RG, 'bob');
    const verId = (await c.compute.galleryImageVersions.get(RG, 'clawGallery', 'claw-spec', '0.1.0')).id!;
    const p = vmParams(nic.id!, { storageProfile: { imageReference: { id: verId } } }) as any;
    const e = await failure(c.compute.virtualMachines.createOrUpdate(RG, 'bob', p, fast));
    expect(e.code).toBe('InvalidParameter');
    expect(e.message).toBe("Parameter 'osProfile' is not allowed.");
    const vm = await c.compute.virtualMachines.createOrUpdate(
      RG,
      'bob',
      { ...p, osProfile: undefined },
      fast,
    );
    expect(vm.provisioningState).toBe('Succeeded');
  });
});

describe('replication progresses region by region over (scaled) time', () => {
  it('the source region completes first, the version is Succeeded when all are done', async () => {
    const slow = await startEmulator({ latencyScale: 0.0002 }); // 20 min per region -> 240 ms
    try {
      const s = clients(slow);
      await s.resources.resourceGroups.createOrUpdate(RG, { location: LOC });
      await s.compute.disks.createOrUpdate(RG, 'os', EMPTY_OS_DISK, fast);
      const disk = await s.compute.disks.get(RG, 'os');
      await s.compute.galleries.createOrUpdate(RG, 'g', { location: LOC }, fast);
      await s.compute.galleryImages.createOrUpdate(
        RG,
        'g',
        'd',
        imageDefinition('Specialized', { publisher: 'p', offer: 'o', sku: 's' }),
        fast,
      );
      const poller = s.compute.galleryImageVersions.createOrUpdate(
        RG,
        'g',
        'd',
        '1.0.0',
        {
          location: LOC,
          publishingProfile: { targetRegions: [{ name: 'westus' }, { name: LOC }] },
          storageProfile: { osDiskImage: { source: { id: disk.id } } },
        } as never,
        { updateIntervalInMs: 20 },
      );
      const seen = new Set<string>();
      const path = `${sub(slow)}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0?api-version=2025-12-03&$expand=ReplicationStatus`;
      for (;;) {
        const r = await raw(slow, 'GET', path);
        if (r.status === 200) {
          const st = r.body.properties.replicationStatus;
          seen.add(
            `${r.body.properties.provisioningState}|${st.summary.map((x: any) => `${x.region}=${x.state}`).join(',')}`,
          );
          if (st.aggregatedState === 'Completed' && r.body.properties.provisioningState === 'Succeeded')
            break;
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      const done = await poller;
      expect(done.provisioningState).toBe('Succeeded');
      expect(seen).toContain('Creating|eastus=Completed,westus=Replicating');
      expect(seen).not.toContain('Creating|eastus=Replicating,westus=Completed');
      // a VM in westus cannot use it before westus completed — covered by the order above
    } finally {
      await slow.close();
    }
  });
});
