/* eslint-disable @typescript-eslint/no-explicit-any */
/** The Azure rules of arm-fidelity §4, each asserted by its real error code, through the real SDK clients. */
import { startEmulator, type Emulator } from '@openclawps/emulator';
import { clients, fast, LOC, stampNetwork, vmParams, type Clients, UBUNTU } from './clients';

let emu: Emulator;
let c: Clients;
beforeAll(async () => {
  emu = await startEmulator({ latencyScale: 0 });
  c = clients(emu, { maxRetries: 0 });
});
afterAll(() => emu.close());

async function code(p: Promise<unknown>): Promise<{ code?: string; statusCode?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; statusCode?: number; message: string };
    return { code: err.code, statusCode: err.statusCode, message: err.message };
  }
  throw new Error('expected the call to fail');
}

const writesSince = (n: number) => emu.requests.slice(n).filter((r) => r.kind !== 'read' && r.status < 300);

describe('disks and attachment', () => {
  let nicA: string;
  let nicB: string;
  beforeAll(async () => {
    nicA = (await stampNetwork(c, 'rules', 'a')).nic.id!;
    nicB = (
      await c.network.networkInterfaces.createOrUpdate(
        'rules',
        'b-nic',
        {
          location: LOC,
          ipConfigurations: [
            {
              name: 'ipconfig1',
              subnet: { id: (await c.network.subnets.get('rules', 'rules-vnet', 'default')).id },
            },
          ],
        },
        fast,
      )
    ).id!;
    await c.compute.disks.createOrUpdate(
      'rules',
      'a-data',
      { location: LOC, diskSizeGB: 16, creationData: { createOption: 'Empty' } },
      fast,
    );
    const disk = await c.compute.disks.get('rules', 'a-data');
    await c.compute.virtualMachines.createOrUpdate(
      'rules',
      'a',
      vmParams(nicA, {
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { name: 'a-os', createOption: 'FromImage', deleteOption: 'Delete' },
          dataDisks: [
            { lun: 0, createOption: 'Attach', managedDisk: { id: disk.id }, deleteOption: 'Detach' },
          ],
        },
      }) as never,
      fast,
    );
  });

  /** PUT VM 'b' on its own NIC from the Ubuntu image with this storage profile (and other top-level parts). */
  const putB = (storageProfile: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    code(
      c.compute.virtualMachines.createOrUpdate(
        'rules',
        'b',
        vmParams(nicB, { ...extra, storageProfile: { imageReference: UBUNTU, ...storageProfile } }) as never,
        fast,
      ),
    );

  it('deleting an attached disk: 409 OperationNotAllowed', async () => {
    const e = await code(c.compute.disks.delete('rules', 'a-data', fast));
    expect(e).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(e.message).toMatch(/Disk a-data is attached to VM .*virtualMachines\/a/);
  });

  it('attaching a disk owned by another VM: ConflictingUserInput, and nothing was written', async () => {
    const disk = await c.compute.disks.get('rules', 'a-data');
    const before = emu.requests.length;
    const e = await putB({ dataDisks: [{ lun: 0, createOption: 'Attach', managedDisk: { id: disk.id } }] });
    expect(e.code).toBe('ConflictingUserInput');
    expect(e.message).toContain('already owned by VM');
    await expect(c.compute.virtualMachines.get('rules', 'b')).rejects.toMatchObject({ statusCode: 404 });
    expect(writesSince(before)).toHaveLength(0);
  });

  it('two disks at one LUN: InvalidParameter', async () => {
    const e = await putB({
      dataDisks: [
        { lun: 0, createOption: 'Empty', diskSizeGB: 4 },
        { lun: 0, createOption: 'Empty', diskSizeGB: 4 },
      ],
    });
    expect(e.code).toBe('InvalidParameter');
    expect(e.message).toContain('A disk at LUN 0 already exists.');
  });

  it('more data disks than the size allows: OperationNotAllowed', async () => {
    const e = await putB(
      { dataDisks: [0, 1, 2].map((lun) => ({ lun, createOption: 'Empty', diskSizeGB: 4 })) },
      { hardwareProfile: { vmSize: 'Standard_B1s' } },
    );
    expect(e.code).toBe('OperationNotAllowed');
    expect(e.message).toBe(
      'The maximum number of data disks allowed to be attached to a VM of this size is 2.',
    );
  });

  it('resizing a disk attached to a running VM: Conflict; shrinking: BadRequest', async () => {
    expect((await code(c.compute.disks.update('rules', 'a-data', { diskSizeGB: 64 }, fast))).code).toBe(
      'Conflict',
    );
    expect((await code(c.compute.disks.update('rules', 'a-data', { diskSizeGB: 8 }, fast))).code).toBe(
      'BadRequest',
    );
  });

  it('an existing OS disk with an image: InvalidParameter', async () => {
    await c.compute.disks.createOrUpdate(
      'rules',
      'loose-os',
      { location: LOC, diskSizeGB: 30, osType: 'Linux', creationData: { createOption: 'Empty' } },
      fast,
    );
    const d = await c.compute.disks.get('rules', 'loose-os');
    const e = await putB(
      { osDisk: { createOption: 'Attach', osType: 'Linux', managedDisk: { id: d.id } } },
      { osProfile: undefined },
    );
    expect(e.code).toBe('InvalidParameter');
    expect(e.message).toContain(
      'Cannot attach an existing OS disk if the VM is created from a platform or user image.',
    );
  });

  it('an OS disk name that already exists with FromImage: ConflictingUserInput', async () => {
    const e = await putB({ osDisk: { name: 'loose-os', createOption: 'FromImage' } });
    expect(e.code).toBe('ConflictingUserInput');
  });
});

describe('network rules', () => {
  it('deleting a NIC attached to a VM: NicInUse', async () => {
    const e = await code(c.network.networkInterfaces.delete('rules', 'a-nic', fast));
    expect(e).toMatchObject({ code: 'NicInUse', statusCode: 400 });
    expect(e.message).toContain('is used by existing resource');
  });

  it('a NIC of another VM: NicInUse', async () => {
    const e = await code(
      c.compute.virtualMachines.createOrUpdate(
        'rules',
        'b',
        vmParams((await c.network.networkInterfaces.get('rules', 'a-nic')).id!) as never,
        fast,
      ),
    );
    expect(e.code).toBe('NicInUse');
  });

  it('a Standard public IP that is not static: StandardSkuPublicIPAddressesMustBeStatic', async () => {
    const e = await code(
      c.network.publicIPAddresses.createOrUpdate(
        'rules',
        'dyn-pip',
        { location: LOC, sku: { name: 'Standard' }, publicIPAllocationMethod: 'Dynamic' },
        fast,
      ),
    );
    expect(e).toMatchObject({ code: 'StandardSkuPublicIPAddressesMustBeStatic', statusCode: 400 });
  });

  it('deleting a public IP in use: PublicIPAddressInUse', async () => {
    expect((await code(c.network.publicIPAddresses.delete('rules', 'a-pip', fast))).code).toBe(
      'PublicIPAddressInUse',
    );
  });

  it('deleting a subnet / vnet in use: InUseSubnetCannotBeDeleted', async () => {
    expect((await code(c.network.subnets.delete('rules', 'rules-vnet', 'default', fast))).code).toBe(
      'InUseSubnetCannotBeDeleted',
    );
    expect((await code(c.network.virtualNetworks.delete('rules', 'rules-vnet', fast))).code).toBe(
      'InUseSubnetCannotBeDeleted',
    );
  });

  it('a vnet PUT that drops a subnet in use: InUseSubnetCannotBeDeleted', async () => {
    const e = await code(
      c.network.virtualNetworks.createOrUpdate(
        'rules',
        'rules-vnet',
        { location: LOC, addressSpace: { addressPrefixes: ['10.0.0.0/16'] } },
        fast,
      ),
    );
    expect(e.code).toBe('InUseSubnetCannotBeDeleted');
  });

  it('a subnet outside the vnet space: NetcfgSubnetRangeOutsideVnet', async () => {
    const e = await code(
      c.network.subnets.createOrUpdate(
        'rules',
        'rules-vnet',
        'outside',
        { addressPrefix: '10.1.0.0/24' },
        fast,
      ),
    );
    expect(e.code).toBe('NetcfgSubnetRangeOutsideVnet');
  });

  it('deleting an NSG in use: InUseNetworkSecurityGroupCannotBeDeleted', async () => {
    expect((await code(c.network.networkSecurityGroups.delete('rules', 'rules-nsg', fast))).code).toBe(
      'InUseNetworkSecurityGroupCannotBeDeleted',
    );
  });

  it('NSG rules with the same priority and direction: SecurityRuleConflict; bad priority: SecurityRuleInvalidPriority', async () => {
    const rule = (name: string, priority: number) => ({
      name,
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      priority,
      sourceAddressPrefix: '*',
      sourcePortRange: '*',
      destinationAddressPrefix: '*',
      destinationPortRange: '22',
    });
    expect(
      (
        await code(
          c.network.networkSecurityGroups.createOrUpdate(
            'rules',
            'n2',
            { location: LOC, securityRules: [rule('a', 100), rule('b', 100)] },
            fast,
          ),
        )
      ).code,
    ).toBe('SecurityRuleConflict');
    expect(
      (
        await code(
          c.network.networkSecurityGroups.createOrUpdate(
            'rules',
            'n2',
            { location: LOC, securityRules: [rule('a', 99)] },
            fast,
          ),
        )
      ).code,
    ).toBe('SecurityRuleInvalidPriority');
  });

  it('a NIC referencing a missing subnet: InvalidResourceReference', async () => {
    const e = await code(
      c.network.networkInterfaces.createOrUpdate(
        'rules',
        'x-nic',
        {
          location: LOC,
          ipConfigurations: [
            {
              name: 'ipconfig1',
              subnet: {
                id: `/subscriptions/${emu.subscriptionId}/resourceGroups/rules/providers/Microsoft.Network/virtualNetworks/nope/subnets/default`,
              },
            },
          ],
        },
        fast,
      ),
    );
    expect(e.code).toBe('InvalidResourceReference');
  });
});

describe('VM state rules', () => {
  it('generalize of a running VM: OperationNotAllowed', async () => {
    const e = await code(c.compute.virtualMachines.generalize('rules', 'a'));
    expect(e).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(e.message).toContain("Operation 'generalize' is not allowed on VM 'a' since the VM is running.");
  });

  it('start of a generalized VM: OperationNotAllowed; and the state shows in instanceView', async () => {
    await c.compute.virtualMachines.deallocate('rules', 'a', fast);
    await c.compute.virtualMachines.generalize('rules', 'a');
    const iv = await c.compute.virtualMachines.instanceView('rules', 'a');
    expect(iv.statuses?.map((s) => s.code)).toEqual([
      'ProvisioningState/succeeded',
      'OSState/generalized',
      'PowerState/deallocated',
    ]);
    const e = await code(c.compute.virtualMachines.start('rules', 'a', fast));
    expect(e.code).toBe('OperationNotAllowed');
    expect(e.message).toContain("Operation 'Start VM' is not allowed on VM 'a' since the VM is generalized.");
  });

  it('restart of a deallocated VM: OperationNotAllowed', async () => {
    const e = await code(c.compute.virtualMachines.restart('rules', 'a', fast));
    expect(e.code).toBe('OperationNotAllowed');
  });

  it('changing computerName: PropertyChangeNotAllowed', async () => {
    await c.network.networkInterfaces.createOrUpdate(
      'rules',
      'c-nic',
      {
        location: LOC,
        ipConfigurations: [
          {
            name: 'ipconfig1',
            subnet: { id: (await c.network.subnets.get('rules', 'rules-vnet', 'default')).id },
          },
        ],
      },
      fast,
    );
    const nic = await c.network.networkInterfaces.get('rules', 'c-nic');
    await c.compute.virtualMachines.createOrUpdate('rules', 'cvm', vmParams(nic.id!) as never, fast);
    const vm = await c.compute.virtualMachines.get('rules', 'cvm');
    const e = await code(
      c.compute.virtualMachines.createOrUpdate(
        'rules',
        'cvm',
        { ...vm, osProfile: { ...vm.osProfile, computerName: 'other' } } as never,
        fast,
      ),
    );
    expect(e.code).toBe('PropertyChangeNotAllowed');
  });
});

describe('a disk being detached', () => {
  it('cannot be attached elsewhere (AttachDiskWhileBeingDetached) or deleted until the detach finishes', async () => {
    const slow = await startEmulator({ latencyScale: 0.01 }); // VM update 20 s -> 200 ms
    try {
      const s = clients(slow, { maxRetries: 0 });
      const { nic } = await stampNetwork(s, 'det', 'x');
      const y = await s.network.networkInterfaces.createOrUpdate(
        'det',
        'y-nic',
        {
          location: LOC,
          ipConfigurations: [
            { name: 'c', subnet: { id: (await s.network.subnets.get('det', 'det-vnet', 'default')).id } },
          ],
        },
        fast,
      );
      await s.compute.virtualMachines.createOrUpdate(
        'det',
        'x',
        vmParams(nic.id!, {
          storageProfile: {
            imageReference: UBUNTU,
            dataDisks: [{ lun: 0, name: 'shared', createOption: 'Empty', diskSizeGB: 4 }],
          },
        }) as never,
        { updateIntervalInMs: 20 },
      );
      const detach = s.compute.virtualMachines.update(
        'det',
        'x',
        { storageProfile: { dataDisks: [] } } as never,
        { updateIntervalInMs: 20 },
      );
      while (!slow.requests.some((r) => r.method === 'PATCH')) await new Promise((r) => setTimeout(r, 5));
      const disk = await s.compute.disks.get('det', 'shared');
      expect(disk.diskState).toBe('Attached');
      expect((await code(s.compute.disks.delete('det', 'shared', fast))).code).toBe('OperationNotAllowed');
      const e = await code(
        s.compute.virtualMachines.createOrUpdate(
          'det',
          'y',
          vmParams(y.id!, {
            storageProfile: {
              imageReference: UBUNTU,
              dataDisks: [{ lun: 0, createOption: 'Attach', managedDisk: { id: disk.id } }],
            },
          }) as never,
          fast,
        ),
      );
      expect(e.code).toBe('AttachDiskWhileBeingDetached');
      await detach;
      expect((await s.compute.disks.get('det', 'shared')).diskState).toBe('Unattached');
    } finally {
      await slow.close();
    }
  });
});

describe('a VM marked for deletion', () => {
  it('refuses actions and updates with OperationNotAllowed until the delete finishes', async () => {
    const slow = await startEmulator({ latencyScale: 0.01 });
    try {
      const s = clients(slow, { maxRetries: 0 });
      const { nic } = await stampNetwork(s, 'del', 'm');
      await s.compute.virtualMachines.createOrUpdate('del', 'm', vmParams(nic.id!) as never, {
        updateIntervalInMs: 20,
      });
      const deleting = s.compute.virtualMachines.delete('del', 'm', { updateIntervalInMs: 20 });
      while (!slow.requests.some((r) => r.method === 'DELETE')) await new Promise((r) => setTimeout(r, 5));
      const e = await code(s.compute.virtualMachines.start('del', 'm', fast));
      expect(e.code).toBe('OperationNotAllowed');
      expect(e.message).toContain('since the VM is marked for deletion');
      expect((await s.compute.virtualMachines.get('del', 'm')).provisioningState).toBe('Deleting');
      await deleting;
    } finally {
      await slow.close();
    }
  });
});

describe('names and parameters', () => {
  it('VM names with forbidden characters: InvalidResourceName, no write', async () => {
    const before = emu.requests.length;
    const nic = await c.network.networkInterfaces.get('rules', 'c-nic');
    expect(
      (
        await code(
          c.compute.virtualMachines.createOrUpdate('rules', 'bad_name-', vmParams(nic.id!) as never, fast),
        )
      ).code,
    ).toBe('InvalidResourceName');
    expect(writesSince(before)).toHaveLength(0);
  });

  it('Linux host name too long: InvalidParameter', async () => {
    const nic = await c.network.networkInterfaces.get('rules', 'c-nic');
    const p = vmParams(nic.id!) as any;
    p.osProfile.computerName = 'x'.repeat(65);
    expect((await code(c.compute.virtualMachines.createOrUpdate('rules', 'longname', p, fast))).code).toBe(
      'InvalidParameter',
    );
  });

  it('reserved admin user name and no SSH key: InvalidParameter', async () => {
    const nic = await c.network.networkInterfaces.get('rules', 'c-nic');
    const p = vmParams(nic.id!) as any;
    p.osProfile.adminUsername = 'root';
    expect((await code(c.compute.virtualMachines.createOrUpdate('rules', 'v1', p, fast))).message).toContain(
      'The Admin Username specified is not allowed.',
    );
    const q = vmParams(nic.id!) as any;
    q.osProfile.linuxConfiguration.ssh.publicKeys = [];
    expect((await code(c.compute.virtualMachines.createOrUpdate('rules', 'v1', q, fast))).message).toContain(
      'Authentication using either SSH',
    );
  });

  it('resource group names and locations', async () => {
    expect((await code(c.resources.resourceGroups.createOrUpdate('bad name', { location: LOC }))).code).toBe(
      'InvalidResourceGroup',
    );
    expect(
      (await code(c.resources.resourceGroups.createOrUpdate('rules', { location: 'westeurope' }))).code,
    ).toBe('InvalidResourceGroupLocation');
  });

  it('disk without a size: InvalidParameter', async () => {
    expect(
      (
        await code(
          c.compute.disks.createOrUpdate(
            'rules',
            'nosize',
            { location: LOC, creationData: { createOption: 'Empty' } },
            fast,
          ),
        )
      ).code,
    ).toBe('InvalidParameter');
  });

  it('a resource in a missing group: ResourceGroupNotFound', async () => {
    expect((await code(c.compute.disks.get('nope', 'x'))).code).toBe('ResourceGroupNotFound');
  });
});

describe('deleteOption honoured per disk and NIC', () => {
  it('Delete removes, Detach keeps (unattached)', async () => {
    const { nic } = await stampNetwork(c, 'delopt', 'd');
    await c.compute.virtualMachines.createOrUpdate(
      'delopt',
      'd',
      vmParams(nic.id!, {
        networkProfile: { networkInterfaces: [{ id: nic.id, primary: true, deleteOption: 'Delete' }] },
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { name: 'd-os', createOption: 'FromImage', deleteOption: 'Detach' },
          dataDisks: [
            { lun: 0, name: 'd-keep', createOption: 'Empty', diskSizeGB: 4, deleteOption: 'Detach' },
            { lun: 1, name: 'd-drop', createOption: 'Empty', diskSizeGB: 4, deleteOption: 'Delete' },
          ],
        },
      }) as never,
      fast,
    );
    // change a delete option later by PATCH (Detach -> Delete on lun 0)
    const vm = await c.compute.virtualMachines.get('delopt', 'd');
    const dataDisks = vm.storageProfile!.dataDisks!.map((d) =>
      d.lun === 0 ? { ...d, deleteOption: 'Delete' } : d,
    );
    await c.compute.virtualMachines.update('delopt', 'd', { storageProfile: { dataDisks } } as never, fast);
    await c.compute.virtualMachines.delete('delopt', 'd', fast);
    await expect(c.compute.disks.get('delopt', 'd-drop')).rejects.toMatchObject({ statusCode: 404 });
    await expect(c.compute.disks.get('delopt', 'd-keep')).rejects.toMatchObject({ statusCode: 404 });
    const os = await c.compute.disks.get('delopt', 'd-os');
    expect(os.diskState).toBe('Unattached');
    expect(os.managedBy).toBeUndefined();
    await expect(c.network.networkInterfaces.get('delopt', 'd-nic')).rejects.toMatchObject({
      statusCode: 404,
    });
  });
});
