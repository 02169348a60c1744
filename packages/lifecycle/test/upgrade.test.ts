/** upgrade on the local Azure: identity kept, rollback, concurrency (emulator + sandbox guest, real SDKs, real SSH). */
import {
  UPGRADE_PHASES,
  UpgradeRefused,
  renderUpgradeSummary,
  stamp,
  upgrade,
  type UpgradeOptions,
} from '@openclawps/lifecycle';
import {
  SECRETS,
  bakeVersions,
  clawEnv,
  clawFacts,
  reporter,
  sshRun,
  startWorld,
  upgradeDefaults,
  writesSince,
  type TestWorld,
} from './world';
import { generateEd25519KeyPair } from '@openclawps/guest';

jest.setTimeout(300_000);

let w: TestWorld;
beforeAll(async () => {
  w = await startWorld();
  await bakeVersions(w, ['1.0.0', '1.1.0', { version: '1.2.0', broken: true }]);
});
afterAll(() => w?.close());

const up = (claw: string, imageVersion: string, extra: Partial<UpgradeOptions> = {}): UpgradeOptions => ({
  ...upgradeDefaults(w),
  clawName: claw,
  imageVersion,
  reporter: reporter(),
  ...extra,
});

async function stampClaw(claw: string, version: string) {
  const r = await stamp({
    envText: clawEnv(claw),
    overrides: { IMAGE_VERSION: version },
    source: 'gallery',
    sshPrivateKey: w.key.privateKey,
    verifyTimeoutMs: 120_000,
    sshPort: w.sshPort,
    azure: w.azure,
    reporter: reporter(),
  });
  expect(r.healthy).toBe(true);
  await sshRun(w, r.publicIp, `echo "marker-${claw}" > /mnt/claw-data/workspace/marker.txt`);
  return r;
}

test('phase list comes from the code, downtime phases in the middle', () => {
  expect(UPGRADE_PHASES.slice(0, 11)).toEqual([
    'preflight',
    'lock',
    'snapshot',
    'mark',
    'quiesce',
    'deallocate',
    'delete-vm',
    'create-vm',
    'wait-boot',
    'verify',
    'cleanup',
  ]);
  expect(UPGRADE_PHASES.filter((p) => p.startsWith('rollback-'))).toHaveLength(5);
});

test('upgrade 1.0.0 -> 1.1.0 keeps data disk id and content, NIC and IP; old OS disk deleted, snapshot kept', async () => {
  const s = await stampClaw('alice', '1.0.0');
  const before = await clawFacts(w, 'alice');
  const o = up('alice', '1.1.0');
  const r = await upgrade(o);
  expect(r).toMatchObject({
    previousVersion: '1.0.0',
    version: '1.1.0',
    rolledBack: false,
    healthy: true,
    changed: true,
  });
  expect(r.downtimeSeconds).toBeGreaterThan(0);
  const after = await clawFacts(w, 'alice');
  expect(after).toMatchObject({
    version: '1.1.0',
    osDisk: 'alice-os-1-1-0',
    dataDiskId: before.dataDiskId,
    lun0: before.dataDiskId,
    nicId: before.nicId,
    vmNic: before.nicId,
    ip: before.ip,
  });
  expect(after.disks).toEqual(['alice-data', 'alice-os-1-1-0']);
  expect(after.snapshots).toEqual([r.snapshot]);
  expect(Object.keys(after.dataDiskTags).filter((k) => k.startsWith('openclawps-upgrade'))).toEqual([]);
  expect(
    await sshRun(w, s.publicIp, 'cat /mnt/claw-data/workspace/marker.txt; cat /opt/claw/image.json'),
  ).toMatch(/marker-alice[\s\S]*"1\.1\.0"/);
  const summary = renderUpgradeSummary(r);
  expect(summary).toMatch(/1\.0\.0 → 1\.1\.0: UPGRADED/);
  for (const v of [...Object.values(SECRETS), w.key.privateKey])
    expect(
      [summary, JSON.stringify(r), (o.reporter as ReturnType<typeof reporter>).lines.join('\n')].join('\n'),
    ).not.toContain(v);
  // the stop comes after every check, lease, snapshot and tag: only delete+create+boot+verify are downtime
  const phases = r.timeline!.map((t) => t.phase);
  expect(phases.indexOf('snapshot')).toBeLessThan(phases.indexOf('quiesce'));
  expect(phases.indexOf('mark')).toBeLessThan(phases.indexOf('quiesce'));
  // stopped over SSH: the running VM is deleted without a deallocate
  expect(phases).not.toContain('deallocate');
  expect(
    w.emu.requests.filter((q) => /deallocate/i.test(q.path) && q.path.toLowerCase().includes('/alice')),
  ).toEqual([]);

  // already on the target: nothing is written
  const from = w.emu.requests.length;
  const again = await upgrade(up('alice', '1.1.0'));
  expect(again).toMatchObject({ changed: false, rolledBack: false, healthy: true, downtimeSeconds: 0 });
  expect(writesSince(w.emu, from)).toEqual([]);
});

test('preflight refuses a missing target and a foreign VM before any write', async () => {
  await stampClaw('dave', '1.0.0');
  const from = w.emu.requests.length;
  const err = await upgrade(up('dave', '7.0.0')).catch((e) => e);
  expect(err).toBeInstanceOf(UpgradeRefused);
  expect(err.message).toMatch(/7\.0\.0 does not exist/);
  const err2 = await upgrade(up('nobody', '1.1.0')).catch((e) => e);
  expect(err2.message).toMatch(/no VM/);
  const err3 = await upgrade(up('dave', 'v1')).catch((e) => e);
  expect(err3.message).toMatch(/image-version/);
  expect(writesSince(w.emu, from)).toEqual([]);
});

test('a target whose verify fails is rolled back to the kept OS disk automatically', async () => {
  const s = await stampClaw('bob', '1.1.0');
  const before = await clawFacts(w, 'bob');
  const r = await upgrade(up('bob', '1.2.0'));
  expect(r).toMatchObject({ previousVersion: '1.1.0', version: '1.2.0', rolledBack: true, healthy: false });
  expect(r.rollbackReason).toMatch(/verify failed/);
  const after = await clawFacts(w, 'bob');
  expect(after).toMatchObject({
    version: '1.1.0',
    osDisk: 'bob-os-1-1-0',
    dataDiskId: before.dataDiskId,
    lun0: before.dataDiskId,
    nicId: before.nicId,
    ip: before.ip,
  });
  expect(after.disks).toEqual(['bob-data', 'bob-os-1-1-0']);
  expect(Object.keys(after.dataDiskTags).filter((k) => k.startsWith('openclawps-upgrade'))).toEqual([]);
  expect(
    await sshRun(w, s.publicIp, 'cat /mnt/claw-data/workspace/marker.txt; cat /opt/claw/image.json'),
  ).toMatch(/marker-bob[\s\S]*"1\.1\.0"/);
  expect(renderUpgradeSummary(r)).toMatch(/ROLLED BACK/);
  // and the claw can still be upgraded afterwards
  const again = await upgrade(up('bob', '1.1.0', { force: true }));
  expect(again).toMatchObject({ rolledBack: false, healthy: true, version: '1.1.0' });
  expect((await clawFacts(w, 'bob')).osDisk).toMatch(/^bob-os-1-1-0-r/);
});

test('two concurrent upgrades of one claw: exactly one proceeds', async () => {
  await stampClaw('carol', '1.0.0');
  const results = await Promise.allSettled([
    upgrade(up('carol', '1.1.0', { owner: 'run-a', lockSettleMs: 1500 })),
    upgrade(up('carol', '1.1.0', { owner: 'run-b', lockSettleMs: 1500 })),
  ]);
  const ok = results.filter((x) => x.status === 'fulfilled');
  const refused = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
  expect(ok).toHaveLength(1);
  expect(refused).toHaveLength(1);
  expect(refused[0].reason).toBeInstanceOf(UpgradeRefused);
  expect(refused[0].reason.code).toBe('UpgradeInProgress');
  expect((ok[0] as PromiseFulfilledResult<{ version: string }>).value.version).toBe('1.1.0');
  const facts = await clawFacts(w, 'carol');
  expect(facts).toMatchObject({ version: '1.1.0', osDisk: 'carol-os-1-1-0' });
  expect(facts.disks).toEqual(['carol-data', 'carol-os-1-1-0']);

  // a lease held by another owner refuses a later run too (nothing written by it)
  const { createAzureContext, StaticTokenCredential } = await import('@openclawps/azure');
  const ctx = createAzureContext({
    subscriptionId: w.emu.subscriptionId,
    credential: new StaticTokenCredential(),
    endpoint: w.emu.url,
    ca: w.emu.ca,
    pollIntervalMs: 0,
  });
  const d = await ctx.compute.disks.get('rg-claws', 'carol-data');
  const lease = `target=1.0.0;mode=forward;owner=someone-else;run=deadbeef;at=${Math.floor(Date.now() / 1000)}`;
  await ctx.compute.disks.beginUpdateAndWait('rg-claws', 'carol-data', {
    tags: { ...d.tags, 'openclawps-upgrade': lease },
  });
  const from = w.emu.requests.length;
  const err = await upgrade(up('carol', '1.0.0', { owner: 'run-c' })).catch((e) => e);
  expect(err.code).toBe('UpgradeInProgress');
  expect(err.message).toMatch(/someone-else/);
  expect(writesSince(w.emu, from)).toEqual([]);

  // the same lease once stale (older than leaseSeconds) is taken over; it has no recorded state, so the run starts over
  const stale = `target=1.0.0;mode=forward;owner=someone-else;run=deadbeef;at=${Math.floor(Date.now() / 1000) - 7200}`;
  const d2 = await ctx.compute.disks.get('rg-claws', 'carol-data');
  await ctx.compute.disks.beginUpdateAndWait('rg-claws', 'carol-data', {
    tags: { ...d2.tags, 'openclawps-upgrade': stale },
  });
  const r = await upgrade(up('carol', '1.0.0', { owner: 'run-c' }));
  expect(r).toMatchObject({ previousVersion: '1.1.0', version: '1.0.0', rolledBack: false, healthy: true });
  expect((await clawFacts(w, 'carol')).disks).toEqual(['carol-data', 'carol-os-1-0-0']);
});

test('dry run lists the phases and writes nothing; a new .env rotates the secrets on the data disk', async () => {
  const s = await stampClaw('erin', '1.0.0');
  const from = w.emu.requests.length;
  const dry = up('erin', '1.1.0', { dryRun: true });
  const plan = await upgrade(dry);
  expect(plan.changed).toBe(false);
  const text = (dry.reporter as ReturnType<typeof reporter>).lines.join('\n');
  expect(text).toMatch(/Upgrade plan erin: 1\.0\.0 -> 1\.1\.0/);
  expect(text).toMatch(/quiesce \[downtime\]/);
  expect(writesSince(w.emu, from)).toEqual([]);

  const rotated = 'xai-Rotated9LrT0pWk2sYbN8cHdJf6gAeUm1Xo';
  const o = up('erin', '1.1.0', { envText: clawEnv('erin', { XAI_API_KEY: rotated }) });
  const r = await upgrade(o);
  expect(r).toMatchObject({ version: '1.1.0', rolledBack: false, healthy: true });
  expect(
    await sshRun(
      w,
      s.publicIp,
      'sudo -n cat /mnt/claw-data/openclaw/.env || cat /mnt/claw-data/openclaw/.env',
    ),
  ).toContain(rotated);
  expect((o.reporter as ReturnType<typeof reporter>).lines.join('\n')).not.toContain(rotated);
  expect(renderUpgradeSummary(r)).not.toContain(rotated);
});

test('the stop: services stopped over SSH then the running VM deleted; SSH refused -> deallocate; stop-method deallocate', async () => {
  await stampClaw('gina', '1.0.0');
  const deallocs = (from: number) =>
    w.emu.requests.slice(from).filter((q) => /\/gina\/deallocate$/i.test(q.path) && !q.poll);
  const phasesOf = (r: Awaited<ReturnType<typeof upgrade>>) => r.timeline!.map((t) => t.phase);

  let from = w.emu.requests.length;
  const viaSsh = await upgrade(up('gina', '1.1.0'));
  expect(viaSsh).toMatchObject({ version: '1.1.0', healthy: true, rolledBack: false });
  expect(phasesOf(viaSsh)).toContain('quiesce');
  expect(phasesOf(viaSsh)).not.toContain('deallocate');
  expect(deallocs(from)).toEqual([]);

  // a key the claw does not authorise: the stop over SSH fails, the upgrade deallocates instead and
  // still succeeds (the new VM authorises the key of this run)
  from = w.emu.requests.length;
  const o = up('gina', '1.0.0', { sshPrivateKey: generateEd25519KeyPair().privateKey });
  const fallback = await upgrade(o);
  expect(fallback).toMatchObject({ version: '1.0.0', healthy: true, rolledBack: false });
  expect(phasesOf(fallback)).toEqual(expect.arrayContaining(['quiesce', 'deallocate', 'delete-vm']));
  expect(deallocs(from)).toHaveLength(1);
  expect((o.reporter as ReturnType<typeof reporter>).lines.join('\n')).toMatch(
    /could not stop the claw's services over SSH .*deallocating instead/,
  );

  from = w.emu.requests.length;
  const dealloc = await upgrade(up('gina', '1.1.0', { stopMethod: 'deallocate' }));
  expect(dealloc).toMatchObject({ version: '1.1.0', healthy: true });
  expect(phasesOf(dealloc)).not.toContain('quiesce');
  expect(deallocs(from)).toHaveLength(1);

  await expect(upgrade(up('gina', '1.0.0', { stopMethod: 'poweroff' as 'ssh' }))).rejects.toThrow(
    /stop-method.*"poweroff" is not ssh or deallocate/s,
  );
});

test('the VM delete fails after the stop over SSH: the services are started again, a re-run finishes', async () => {
  const s = await stampClaw('hank', '1.0.0');
  const fault = w.emu.faults.add({
    match: { method: 'DELETE', path: /virtualMachines\/hank\?/i },
    kind: 'lroFailed',
    code: 'InternalExecutionError',
    message: 'delete backend unavailable',
  });
  const o = up('hank', '1.1.0');
  await expect(upgrade(o)).rejects.toThrow(/InternalExecutionError/);
  w.emu.faults.remove(fault);
  expect((o.reporter as ReturnType<typeof reporter>).lines.join('\n')).toMatch(
    /could not be deleted: its gateway and sidecar were started again/,
  );
  // still the old VM, serving again
  expect((await sshRun(w, s.publicIp, 'systemctl is-active openclaw-gateway.service')).trim()).toBe('active');
  expect((await clawFacts(w, 'hank')).version).toBe('1.0.0');
  const again = await upgrade(up('hank', '1.1.0'));
  expect(again).toMatchObject({ version: '1.1.0', healthy: true, rolledBack: false });
});
