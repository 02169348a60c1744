/** CRUD and list of every resource type through the real SDK clients (https), and plain-http mode. */
import { bearerTokenAuthenticationPolicyName } from '@azure/core-rest-pipeline';
import { ComputeManagementClient } from '@azure/arm-compute';
import { startEmulator, type Emulator } from '@openclawps/emulator';
import {
  clients,
  credential,
  fast,
  LOC,
  vmParams,
  type Clients,
  EMPTY_OS_DISK,
  imageDefinition,
} from './clients';

let emu: Emulator;
let c: Clients;
beforeAll(async () => {
  emu = await startEmulator({ latencyScale: 0, pageSize: 3 });
  c = clients(emu, { maxRetries: 0 });
});
afterAll(() => emu.close());

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('every resource type', () => {
  it('resource groups: create, update tags, list, checkExistence', async () => {
    const g = await c.resources.resourceGroups.createOrUpdate('crud', { location: LOC, tags: { a: '1' } });
    expect(g).toMatchObject({
      name: 'crud',
      location: LOC,
      properties: { provisioningState: 'Succeeded' },
      tags: { a: '1' },
    });
    const u = await c.resources.resourceGroups.update('crud', { tags: { b: '2' } });
    expect(u.tags).toEqual({ b: '2' });
    expect((await all(c.resources.resourceGroups.list())).map((x) => x.name)).toContain('crud');
    expect(await c.resources.resourceGroups.checkExistence('crud')).toBeTruthy();
  });

  it('NSG and its rules as child resources; a PUT with a changed rule set replaces the set (drift repair)', async () => {
    const rule = (name: string, priority: number, port: string) => ({
      name,
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      priority,
      sourceAddressPrefix: '198.51.100.0/24',
      sourcePortRange: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: port,
    });
    await c.network.networkSecurityGroups.createOrUpdate(
      'crud',
      'nsg',
      { location: LOC, securityRules: [rule('ssh', 1000, '22')] },
      fast,
    );
    await c.network.securityRules.createOrUpdate(
      'crud',
      'nsg',
      'vnc',
      {
        protocol: 'Tcp',
        access: 'Allow',
        direction: 'Inbound',
        priority: 1010,
        sourceAddressPrefix: '*',
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
        destinationPortRange: '5900',
      },
      fast,
    );
    let nsg = await c.network.networkSecurityGroups.get('crud', 'nsg');
    expect(nsg.securityRules?.map((r) => r.name).sort()).toEqual(['ssh', 'vnc']);
    expect(nsg.defaultSecurityRules?.length).toBe(6);
    expect((await all(c.network.securityRules.list('crud', 'nsg'))).length).toBe(2);
    await c.network.networkSecurityGroups.createOrUpdate(
      'crud',
      'nsg',
      { location: LOC, securityRules: [rule('ssh', 1000, '22')] },
      fast,
    );
    nsg = await c.network.networkSecurityGroups.get('crud', 'nsg');
    expect(nsg.securityRules?.map((r) => r.name)).toEqual(['ssh']);
    await expect(c.network.securityRules.get('crud', 'nsg', 'vnc')).rejects.toMatchObject({
      statusCode: 404,
    });
    await c.network.securityRules.delete('crud', 'nsg', 'ssh', fast);
    expect((await c.network.networkSecurityGroups.get('crud', 'nsg')).securityRules).toEqual([]);
  });

  it('virtual networks and subnets: inline subnets, a child PUT, subnet NSG association', async () => {
    const nsg = await c.network.networkSecurityGroups.get('crud', 'nsg');
    await c.network.virtualNetworks.createOrUpdate(
      'crud',
      'vnet',
      {
        location: LOC,
        addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
        subnets: [{ name: 'default', addressPrefix: '10.0.0.0/24' }],
      },
      fast,
    );
    const sn = await c.network.subnets.createOrUpdate(
      'crud',
      'vnet',
      'default',
      { addressPrefix: '10.0.0.0/24', networkSecurityGroup: { id: nsg.id } },
      fast,
    );
    expect(sn.networkSecurityGroup?.id).toBe(nsg.id);
    await c.network.subnets.createOrUpdate('crud', 'vnet', 'second', { addressPrefix: '10.0.1.0/24' }, fast);
    const vnet = await c.network.virtualNetworks.get('crud', 'vnet');
    expect(vnet.subnets?.map((s) => s.name).sort()).toEqual(['default', 'second']);
    expect((await c.network.networkSecurityGroups.get('crud', 'nsg')).subnets?.[0].id).toBe(sn.id);
    expect((await all(c.network.subnets.list('crud', 'vnet'))).length).toBe(2);
    await c.network.subnets.delete('crud', 'vnet', 'second', fast);
    expect((await c.network.virtualNetworks.get('crud', 'vnet')).subnets?.length).toBe(1);
    expect((await all(c.network.virtualNetworks.list('crud'))).map((v) => v.name)).toEqual(['vnet']);
  });

  it('public IPs and NICs: static address, association, list', async () => {
    const pip = await c.network.publicIPAddresses.createOrUpdate(
      'crud',
      'ip',
      { location: LOC, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Static', tags: { t: 'x' } },
      fast,
    );
    expect(pip).toMatchObject({
      provisioningState: 'Succeeded',
      publicIPAllocationMethod: 'Static',
      sku: { name: 'Standard' },
    });
    const sn = await c.network.subnets.get('crud', 'vnet', 'default');
    const nic = await c.network.networkInterfaces.createOrUpdate(
      'crud',
      'nic',
      {
        location: LOC,
        ipConfigurations: [{ name: 'ipconfig1', subnet: { id: sn.id }, publicIPAddress: { id: pip.id } }],
      },
      fast,
    );
    expect(nic.ipConfigurations?.[0].privateIPAddress).toMatch(/^10\.0\./);
    expect((await c.network.publicIPAddresses.get('crud', 'ip')).ipConfiguration?.id).toBe(
      nic.ipConfigurations?.[0].id,
    );
    expect((await c.network.subnets.get('crud', 'vnet', 'default')).ipConfigurations?.[0].id).toBe(
      nic.ipConfigurations?.[0].id,
    );
    expect((await all(c.network.networkInterfaces.list('crud'))).length).toBe(1);
    expect((await all(c.network.publicIPAddresses.listAll())).length).toBe(1);
    const tagged = await c.network.publicIPAddresses.updateTags('crud', 'ip', { tags: { t: 'y' } });
    expect(tagged.tags).toEqual({ t: 'y' });
  });

  it('disks and snapshots: create, update, list, delete', async () => {
    for (const n of ['d1', 'd2', 'd3', 'd4']) {
      await c.compute.disks.createOrUpdate(
        'crud',
        n,
        {
          location: LOC,
          sku: { name: 'StandardSSD_LRS' },
          diskSizeGB: 8,
          creationData: { createOption: 'Empty' },
        },
        fast,
      );
    }
    const up = await c.compute.disks.update('crud', 'd1', { diskSizeGB: 16, tags: { k: 'v' } }, fast);
    expect(up).toMatchObject({ diskSizeGB: 16, tags: { k: 'v' }, provisioningState: 'Succeeded' });
    expect((await all(c.compute.disks.listByResourceGroup('crud'))).length).toBe(4);
    const s = await c.compute.snapshots.createOrUpdate(
      'crud',
      's1',
      { location: LOC, incremental: true, creationData: { createOption: 'Copy', sourceResourceId: up.id } },
      fast,
    );
    expect(s.diskSizeGB).toBe(16);
    expect((await all(c.compute.snapshots.listByResourceGroup('crud'))).map((x) => x.name)).toEqual(['s1']);
    await c.compute.snapshots.delete('crud', 's1', fast);
    await c.compute.disks.delete('crud', 'd4', fast);
    await expect(c.compute.disks.get('crud', 'd4')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('VMs: create, get, instanceView, update, list, listAll', async () => {
    const nic = await c.network.networkInterfaces.get('crud', 'nic');
    await c.compute.virtualMachines.createOrUpdate(
      'crud',
      'vm',
      vmParams(nic.id!, { tags: { 'openclawps-claw': 'vm' } }) as never,
      fast,
    );
    const vm = await c.compute.virtualMachines.get('crud', 'vm', { expand: 'instanceView' });
    expect(vm.instanceView?.statuses?.map((s) => s.code)).toEqual([
      'ProvisioningState/succeeded',
      'PowerState/running',
    ]);
    expect(vm.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(true);
    const up = await c.compute.virtualMachines.update(
      'crud',
      'vm',
      { tags: { 'openclawps-claw': 'vm', phase: 'x' } },
      fast,
    );
    expect(up.tags).toEqual({ 'openclawps-claw': 'vm', phase: 'x' });
    expect((await all(c.compute.virtualMachines.list('crud'))).map((x) => x.name)).toEqual(['vm']);
    expect((await all(c.compute.virtualMachines.listAll())).map((x) => x.name)).toContain('vm');
    expect((await c.network.networkInterfaces.get('crud', 'nic')).virtualMachine?.id).toBe(vm.id);
  });

  it('OS disk swap by update keeps the old OS disk unattached', async () => {
    const vm = await c.compute.virtualMachines.get('crud', 'vm');
    const oldOs = vm.storageProfile!.osDisk!.managedDisk!.id!;
    await c.compute.virtualMachines.deallocate('crud', 'vm', fast);
    const copy = await c.compute.disks.createOrUpdate(
      'crud',
      'vm-os-2',
      { location: LOC, creationData: { createOption: 'Copy', sourceResourceId: oldOs } },
      fast,
    );
    await c.compute.virtualMachines.update(
      'crud',
      'vm',
      { storageProfile: { osDisk: { managedDisk: { id: copy.id }, name: 'vm-os-2' } } } as never,
      fast,
    );
    expect((await c.compute.virtualMachines.get('crud', 'vm')).storageProfile?.osDisk?.name).toBe('vm-os-2');
    expect((await c.compute.disks.get('crud', oldOs.split('/').pop()!)).diskState).toBe('Unattached');
    expect((await c.compute.disks.get('crud', 'vm-os-2')).diskState).toBe('Reserved');
  });

  it('galleries, definitions and versions: list and delete bottom-up', async () => {
    await c.compute.galleries.createOrUpdate('crud', 'gal', { location: LOC }, fast);
    await c.compute.galleryImages.createOrUpdate(
      'crud',
      'gal',
      'def',
      imageDefinition('Specialized', { publisher: 'p', offer: 'o', sku: 's' }),
      fast,
    );
    const d = await c.compute.disks.createOrUpdate('crud', 'src', EMPTY_OS_DISK, fast);
    await c.compute.galleryImageVersions.createOrUpdate(
      'crud',
      'gal',
      'def',
      '1.0.0',
      { location: LOC, storageProfile: { osDiskImage: { source: { id: d.id } } } } as never,
      fast,
    );
    expect((await all(c.compute.galleries.listByResourceGroup('crud'))).map((g) => g.name)).toEqual(['gal']);
    expect((await all(c.compute.galleryImages.listByGallery('crud', 'gal'))).map((g) => g.name)).toEqual([
      'def',
    ]);
    await c.compute.galleryImageVersions.delete('crud', 'gal', 'def', '1.0.0', fast);
    await c.compute.galleryImages.delete('crud', 'gal', 'def', fast);
    await c.compute.galleries.delete('crud', 'gal', fast);
    await expect(c.compute.galleries.get('crud', 'gal')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('plain-HTTP mode', () => {
  it('works with allowInsecureConnection and the bearer policy removed', async () => {
    const h = await startEmulator({ https: false });
    try {
      expect(h.url).toMatch(/^http:\/\//);
      expect(h.ca).toBe('');
      const compute = new ComputeManagementClient(credential, h.subscriptionId, {
        endpoint: h.url,
        allowInsecureConnection: true,
      });
      compute.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
      await expect(compute.disks.get('nope', 'x')).rejects.toMatchObject({ code: 'ResourceGroupNotFound' });
    } finally {
      await h.close();
    }
  });
});
