import { startEmulator, type Emulator } from '@openclawps/emulator';
import { clients, fast, LOC, stampNetwork, vmParams, type Clients, UBUNTU } from './clients';

describe('emulator smoke: a stamp through the real SDKs', () => {
  let emu: Emulator;
  let c: Clients;
  beforeAll(async () => {
    emu = await startEmulator({ latencyScale: 0 });
    c = clients(emu);
  });
  afterAll(() => emu.close());

  it('creates RG, network, disk, VM; deallocates, starts and deletes it', async () => {
    const { nic, pip } = await stampNetwork(c, 'rg1', 'alice');
    expect(pip.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const disk = await c.compute.disks.createOrUpdate(
      'rg1',
      'alice-data',
      { location: LOC, diskSizeGB: 32, creationData: { createOption: 'Empty' } },
      fast,
    );
    expect(disk.provisioningState).toBe('Succeeded');
    const vm = await c.compute.virtualMachines.createOrUpdate(
      'rg1',
      'alice',
      vmParams(nic.id!, {
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { name: 'alice-os-1-0-0', createOption: 'FromImage', deleteOption: 'Delete' },
          dataDisks: [
            { lun: 0, createOption: 'Attach', managedDisk: { id: disk.id }, deleteOption: 'Detach' },
          ],
        },
      }) as never,
      fast,
    );
    expect(vm.provisioningState).toBe('Succeeded');
    const iv = await c.compute.virtualMachines.instanceView('rg1', 'alice');
    expect(iv.statuses?.map((s) => s.code)).toContain('PowerState/running');
    const d2 = await c.compute.disks.get('rg1', 'alice-data');
    expect(d2.managedBy).toBe(vm.id);
    expect(d2.diskState).toBe('Attached');
    await c.compute.virtualMachines.deallocate('rg1', 'alice', fast);
    expect((await c.compute.disks.get('rg1', 'alice-data')).diskState).toBe('Reserved');
    await c.compute.virtualMachines.start('rg1', 'alice', fast);
    await c.compute.virtualMachines.delete('rg1', 'alice', fast);
    await expect(c.compute.virtualMachines.get('rg1', 'alice')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
    const after = await c.compute.disks.get('rg1', 'alice-data');
    expect(after.diskState).toBe('Unattached');
    await expect(c.compute.disks.get('rg1', 'alice-os-1-0-0')).rejects.toMatchObject({ statusCode: 404 });
    expect((await c.network.networkInterfaces.get('rg1', 'alice-nic')).virtualMachine).toBeUndefined();
  });
});
