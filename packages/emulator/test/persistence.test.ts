/** State persists to a JSON file after each mutation and is loaded at start, so a killed client can re-run. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '@openclawps/emulator';
import { clients, fast, LOC, stampNetwork, vmParams } from './clients';

describe('persistence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emu-state-'));
  const statePath = join(dir, 'world.json');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a second emulator on the same state file sees the same world (and pending operations finish)', async () => {
    const a = await startEmulator({ statePath, latencyScale: 0 });
    const ca = clients(a);
    const { nic } = await stampNetwork(ca, 'keep', 'alice');
    await ca.compute.virtualMachines.createOrUpdate('keep', 'alice', vmParams(nic.id!) as never, fast);
    // start a deallocate and "kill" the emulator before anyone polls it
    const slowOp = a.world.ops.size;
    await a.close();
    expect(JSON.parse(readFileSync(statePath, 'utf8')).resources.length).toBeGreaterThan(5);

    const b = await startEmulator({ statePath, latencyScale: 0 });
    try {
      expect(b.subscriptionId).toBe(a.subscriptionId);
      expect(b.world.ops.size).toBe(slowOp);
      const cb = clients(b);
      const vm = await cb.compute.virtualMachines.get('keep', 'alice');
      expect(vm.provisioningState).toBe('Succeeded');
      expect((await cb.network.networkInterfaces.get('keep', 'alice-nic')).virtualMachine?.id).toBe(vm.id);
      // the re-run converges instead of creating over
      await cb.compute.virtualMachines.deallocate('keep', 'alice', fast);
      expect(
        (await cb.compute.virtualMachines.instanceView('keep', 'alice')).statuses?.map((s) => s.code),
      ).toContain('PowerState/deallocated');
    } finally {
      await b.close();
    }
    const c = await startEmulator({ statePath });
    try {
      const st = await clients(c).compute.virtualMachines.instanceView('keep', 'alice');
      expect(st.statuses?.map((s) => s.code)).toContain('PowerState/deallocated');
    } finally {
      await c.close();
    }
  });

  it('never writes an admin password into the state file', async () => {
    const p3 = join(dir, 'secret.json');
    const a = await startEmulator({ statePath: p3 });
    try {
      const ca = clients(a);
      const { nic } = await stampNetwork(ca, 's', 'pw');
      const params = vmParams(nic.id!) as { osProfile: Record<string, unknown> };
      params.osProfile.adminPassword = 'Sup3r-Secret-Pa55';
      await ca.compute.virtualMachines.createOrUpdate('s', 'pw', params as never, fast);
      expect(
        a.world.get(
          `/subscriptions/${a.subscriptionId}/resourceGroups/s/providers/Microsoft.Compute/virtualMachines/pw`,
        )?.meta.adminPassword,
      ).toBe('Sup3r-Secret-Pa55');
      expect(readFileSync(p3, 'utf8')).not.toContain('Sup3r-Secret-Pa55');
      expect(JSON.stringify(await ca.compute.virtualMachines.get('s', 'pw'))).not.toContain(
        'Sup3r-Secret-Pa55',
      );
    } finally {
      await a.close();
    }
  });

  it('an operation still running when the emulator stops completes after the restart', async () => {
    const p2 = join(dir, 'pending.json');
    const a = await startEmulator({ statePath: p2, latencyScale: 0.01 }); // disk create 10 s -> 100 ms
    const ca = clients(a);
    await ca.resources.resourceGroups.createOrUpdate('p', { location: LOC });
    const poller = ca.compute.disks.createOrUpdate(
      'p',
      'd',
      { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
      { updateIntervalInMs: 10_000 },
    );
    void poller.catch(() => undefined);
    while (!a.requests.some((r) => r.operation === 'Microsoft.Compute/disks/write'))
      await new Promise((r) => setTimeout(r, 5));
    await a.close();
    const b = await startEmulator({ statePath: p2, latencyScale: 0.01 });
    try {
      await b.world.idle();
      expect((await clients(b).compute.disks.get('p', 'd')).provisioningState).toBe('Succeeded');
    } finally {
      await b.close();
    }
  });
});
