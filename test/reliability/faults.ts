/** Fault matrix: 429 storms, 5xx bursts, LROs ending Failed, SSH dropping mid-verify, a data disk that fails to attach. */
import { createMemoryReporter } from '@openclawps/config';
import { verify } from '@openclawps/lifecycle';
import { assert, assertEqual, group, test } from './lib/runner';
import {
  bakeVersion,
  clawState,
  orphans,
  resourcesOf,
  stampClaw,
  startWorld,
  upgradeClaw,
  type World,
} from './lib/world';

let w: World;

const writes = (from: number) => w.emu.requests.slice(from).filter((r) => r.kind !== 'read');

group('fault matrix', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
    await bakeVersion(w, '1.0.0');
    await bakeVersion(w, '1.1.0');
  });
  g.teardown(async () => w?.close());

  test('429 storm on every write: stamp survives with bounded retries', async () => {
    w.emu.faults.add({ kind: 'status', status: 429, retryAfterMs: 200, match: { method: 'PUT' }, times: 6 });
    const rep = createMemoryReporter();
    const n = w.emu.requests.length;
    const r = await stampClaw(w, 'f-429', { reporter: rep });
    w.emu.faults.clear();
    assert(r.healthy, 'claw healthy');
    const throttled = writes(n).filter((x) => x.status === 429).length;
    assertEqual(throttled, 6, '429s served');
    const puts = writes(n).filter((x) => x.method === 'PUT').length;
    assert(puts <= 6 + 7 * 2, `bounded retries: ${puts} PUTs for 7 resources`);
  });

  test('5xx burst: stamp survives', async () => {
    w.emu.faults.add({ kind: 'status', status: 503, match: { method: 'PUT' }, times: 3 });
    w.emu.faults.add({ kind: 'status', status: 500, match: { method: 'GET' }, nth: 5, times: 2 });
    const r = await stampClaw(w, 'f-5xx');
    w.emu.faults.clear();
    assert(r.healthy, 'claw healthy');
  });

  test('LRO ending Failed on the upgrade VM create: clean automatic rollback, clear message', async () => {
    await stampClaw(w, 'f-lro', { imageVersion: '1.0.0' });
    const before = clawState(w, 'f-lro');
    w.emu.faults.add({
      kind: 'lroFailed',
      code: 'OSProvisioningTimedOut',
      message: 'OS provisioning did not finish',
      match: { method: 'PUT', operation: /virtualMachines\/write$/ },
      times: 1,
    });
    const rep = createMemoryReporter();
    let res;
    let err: Error | undefined;
    try {
      res = await upgradeClaw(w, 'f-lro', '1.1.0', { reporter: rep });
    } catch (e) {
      err = e as Error;
    }
    w.emu.faults.clear();
    const after = clawState(w, 'f-lro');
    assertEqual(after.version, '1.0.0', 'rolled back to the old version');
    assertEqual(after.dataDiskId, before.dataDiskId, 'data disk id');
    assertEqual(after.ip, before.ip, 'IP');
    assertEqual(after.power, 'running', 'VM running');
    const text = `${err?.message ?? ''} ${res?.rollbackReason ?? ''} ${rep.lines.join('\n')}`;
    assert(res?.rolledBack || err, 'the upgrade reports the rollback');
    assert(
      /OSProvisioningTimedOut|provisioning/i.test(text),
      `the message names the failure: ${text.slice(-400)}`,
    );
    assertEqual(orphans(w, 'f-lro', { snapshotRetention: 2 }), [], 'orphans');
  });

  test('a data disk that fails to attach: stamp fails with a clear message, re-run converges', async () => {
    w.emu.faults.add({
      kind: 'lroFailed',
      code: 'AttachDiskWhileBeingDetached',
      message: 'Cannot attach data disk claw-data to VM because the disk is currently being detached',
      match: { method: 'PUT', operation: /virtualMachines\/write$/ },
      times: 1,
    });
    let err: Error | undefined;
    try {
      await stampClaw(w, 'f-attach');
    } catch (e) {
      err = e as Error;
    }
    w.emu.faults.clear();
    assert(err, 'the stamp fails');
    assert(/AttachDisk|attach/i.test(err.message), `the message names the attach failure: ${err.message}`);
    const dataDisk = resourcesOf(w, 'Microsoft.Compute/disks').find(
      (d) => d.body.name === 'f-attach-data',
    )?.id;
    let r;
    try {
      r = await stampClaw(w, 'f-attach');
    } catch (e) {
      // documented recovery: the re-run refuses a Failed VM and says to delete it (data disk and NIC are kept)
      const msg = (e as Error).message;
      assert(
        /f-attach/.test(msg) && /delete the VM/i.test(msg),
        `the re-run refusal names the VM and the fix: ${msg}`,
      );
      const { ComputeManagementClient } = await import('@azure/arm-compute');
      const { StaticTokenCredential } = await import('@openclawps/azure');
      const client = new ComputeManagementClient(new StaticTokenCredential('t'), w.emu.subscriptionId, {
        endpoint: w.emu.url,
        tlsOptions: { ca: w.emu.ca },
      } as never);
      await client.virtualMachines.beginDeleteAndWait('rg-rel', 'f-attach', {
        updateIntervalInMs: 50,
      } as never);
      r = await stampClaw(w, 'f-attach');
    }
    assert(r.healthy, 're-run healthy');
    assertEqual(
      resourcesOf(w, 'Microsoft.Compute/disks').find((d) => d.body.name === 'f-attach-data')?.id,
      dataDisk,
      'the same data disk',
    );
    const disks = resourcesOf(w, 'Microsoft.Compute/disks').filter((d) =>
      String(d.body.name).startsWith('f-attach-'),
    );
    assertEqual(disks.length, 2, 'one data disk and one OS disk');
  });

  test('SSH dropping mid-verify: verify retries or fails clearly, the next verify is healthy', async () => {
    const s = await stampClaw(w, 'f-ssh');
    const vm = clawState(w, 'f-ssh');
    const { ComputeManagementClient } = await import('@azure/arm-compute');
    const { StaticTokenCredential } = await import('@openclawps/azure');
    const client = new ComputeManagementClient(new StaticTokenCredential('t'), w.emu.subscriptionId, {
      endpoint: w.emu.url,
      tlsOptions: { ca: w.emu.ca },
    } as never);
    const pending = verify({
      reporter: createMemoryReporter(),
      host: s.publicIp,
      port: w.sshPort,
      username: 'azureuser',
      privateKey: w.key.privateKey,
      timeoutMs: 60_000,
    }).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    // the VM restarts while verify runs: the guest drops its SSH connections
    await new Promise((r) => setTimeout(r, 150));
    await client.virtualMachines.beginRestartAndWait('rg-rel', 'f-ssh', { updateIntervalInMs: 50 } as never);
    // verify either survived the drop (retry) or failed with a clear message
    const outcome = await pending;
    if (outcome !== 'ok')
      assert(/ssh|connection|closed|reset|channel|lost/i.test(outcome), `clear message: ${outcome}`);
    const again = await verify({
      reporter: createMemoryReporter(),
      host: s.publicIp,
      port: w.sshPort,
      username: 'azureuser',
      privateKey: w.key.privateKey,
      timeoutMs: 60_000,
    });
    assert(again.healthy, `healthy after the drop (first verify: ${outcome.slice(0, 200)})`);
    assert(vm.vmId, 'vm exists');
  });
});
