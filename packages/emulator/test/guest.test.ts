/** GuestBackend hooks: order, failures surfaced as a Failed LRO, SSH endpoints; userData; preemption. */
import { startEmulator, type Emulator, type GuestBackend } from '@openclawps/emulator';
import { clients, fast, raw, stampNetwork, vmParams, type Clients, UBUNTU } from './clients';

describe('guest backend', () => {
  let emu: Emulator;
  let c: Clients;
  const events: string[] = [];
  let failNext = false;
  const guest: GuestBackend = {
    onVmCreated: async (vm) => {
      events.push(`created:${vm.name}`);
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('cloud-init never finished'), { code: 'OSProvisioningTimedOut' });
      }
    },
    onVmStarted: (vm, why) => void events.push(`started:${vm.name}:${why}`),
    onVmStopped: (vm) => void events.push(`stopped:${vm.name}`),
    onVmDeallocated: (vm) => void events.push(`deallocated:${vm.name}`),
    onVmDeleted: (vm) => void events.push(`deleted:${vm.name}`),
    onDiskAttached: (d, vm, lun) => void events.push(`attached:${d.name}:${vm.name}:${lun}`),
    onDiskDetached: (d, vm) => void events.push(`detached:${d.name}:${vm.name}`),
    publicEndpoint: (pipId) => (pipId.endsWith('/alice-pip') ? { host: '127.0.0.1', port: 2222 } : undefined),
  };
  beforeAll(async () => {
    emu = await startEmulator({ latencyScale: 0, guest });
    c = clients(emu, { maxRetries: 0 });
  });
  afterAll(() => emu.close());

  it('hooks run in order for create, power changes, attach/detach and delete', async () => {
    const { nic, pip } = await stampNetwork(c, 'g', 'alice');
    const userData = Buffer.from('#!/bin/sh\necho hi\n').toString('base64');
    await c.compute.virtualMachines.createOrUpdate(
      'g',
      'alice',
      vmParams(nic.id!, {
        userData,
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { name: 'alice-os', createOption: 'FromImage', deleteOption: 'Delete' },
          dataDisks: [
            { lun: 0, name: 'alice-data', createOption: 'Empty', diskSizeGB: 8, deleteOption: 'Detach' },
          ],
        },
      }) as never,
      fast,
    );
    expect((await c.compute.virtualMachines.get('g', 'alice')).userData).toBeUndefined();
    expect((await c.compute.virtualMachines.get('g', 'alice', { expand: 'userData' })).userData).toBe(
      userData,
    );
    await c.compute.virtualMachines.powerOff('g', 'alice', fast);
    await c.compute.virtualMachines.start('g', 'alice', fast);
    await c.compute.virtualMachines.restart('g', 'alice', fast);
    await c.compute.virtualMachines.deallocate('g', 'alice', fast);
    // detach the data disk by dropping it from the model
    await c.compute.virtualMachines.update(
      'g',
      'alice',
      { storageProfile: { dataDisks: [] } } as never,
      fast,
    );
    expect((await c.compute.disks.get('g', 'alice-data')).diskState).toBe('Unattached');
    expect(await emu.sshEndpoint(pip.ipAddress!)).toEqual({ host: '127.0.0.1', port: 2222 });
    const viaHttp = await raw(emu, 'GET', `/_emulator/ssh-endpoint?ip=${pip.ipAddress}`);
    expect(viaHttp.body).toEqual({ host: '127.0.0.1', port: 2222 });
    await c.compute.virtualMachines.delete('g', 'alice', fast);
    expect(events).toEqual([
      'attached:alice-os:alice:os',
      'attached:alice-data:alice:0',
      'created:alice',
      'stopped:alice',
      'started:alice:start',
      'started:alice:restart',
      'deallocated:alice',
      'detached:alice-data:alice',
      'deleted:alice',
    ]);
  });

  it('a failing guest hook ends the LRO Failed with its code, and the VM reports it', async () => {
    const { nic } = await stampNetwork(c, 'g', 'bob');
    failNext = true;
    const err = await c.compute.virtualMachines
      .createOrUpdate('g', 'bob', vmParams(nic.id!) as never, fast)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toBe(
      'The long-running operation has failed. OSProvisioningTimedOut. cloud-init never finished',
    );
    const vm = await c.compute.virtualMachines.get('g', 'bob', { expand: 'instanceView' });
    expect(vm.provisioningState).toBe('Failed');
    expect(vm.instanceView?.statuses?.[0].code).toBe('ProvisioningState/failed/OSProvisioningTimedOut');
  });

  it('a delete preempts an operation in flight (OperationPreempted / canceled)', async () => {
    const slow = await startEmulator({ latencyScale: 0.01 });
    try {
      const s = clients(slow, { maxRetries: 0 });
      const { nic } = await stampNetwork(s, 'g', 'carol');
      const creating = s.compute.virtualMachines.createOrUpdate('g', 'carol', vmParams(nic.id!) as never, {
        updateIntervalInMs: 20,
      });
      const outcome = creating.then(
        () => 'done',
        (e: Error) => e.message,
      );
      while (!slow.requests.some((r) => r.operation === 'Microsoft.Compute/virtualMachines/write'))
        await new Promise((r) => setTimeout(r, 5));
      await s.compute.virtualMachines.delete('g', 'carol', { updateIntervalInMs: 20 });
      expect(await outcome).toBe('Operation was canceled');
      await expect(s.compute.virtualMachines.get('g', 'carol')).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await slow.close();
    }
  });
});
