/**
 * Crash matrix: a real child process is SIGKILLed (OPENCLAWPS_CRASH_AT) at every phase of upgrade and stamp
 * (the phase lists exported by the code), then re-run: it converges, keeps the data disk id and content,
 * the NIC and the IP, and leaves no orphaned disk, snapshot beyond retention or upgrade tag.
 */
import { STAMP_PHASES, UPGRADE_PHASE_TABLE, stamp } from '@openclawps/lifecycle';
import {
  bakeVersions,
  clawEnv,
  clawFacts,
  reporter,
  runChild,
  sshRun,
  startWorld,
  upgradeDefaults,
  type TestWorld,
} from './world';

jest.setTimeout(300_000);

let w: TestWorld;
let base: Awaited<ReturnType<typeof clawFacts>>;
let current = '1.0.0';

beforeAll(async () => {
  w = await startWorld();
  await bakeVersions(w, ['1.0.0', '1.1.0', { version: '1.2.0', broken: true }]);
  const r = await stamp({
    envText: clawEnv('alice'),
    overrides: { IMAGE_VERSION: '1.0.0' },
    source: 'gallery',
    sshPrivateKey: w.key.privateKey,
    verifyTimeoutMs: 120_000,
    sshPort: w.sshPort,
    azure: w.azure,
    reporter: reporter(),
  });
  await sshRun(w, r.publicIp, 'echo marker-crash > /mnt/claw-data/workspace/marker.txt');
  base = await clawFacts(w, 'alice');
});
afterAll(() => w?.close());

const options = (imageVersion: string) => {
  const { lockSettleMs: _s, ...o } = upgradeDefaults(w);
  return { ...o, clawName: 'alice', imageVersion, lockSettleMs: 200 };
};

async function expectConverged(version: string) {
  const f = await clawFacts(w, 'alice');
  expect(f).toMatchObject({
    version,
    osDisk: `alice-os-${version.replace(/\./g, '-')}`,
    dataDiskId: base.dataDiskId,
    lun0: base.dataDiskId,
    nicId: base.nicId,
    vmNic: base.nicId,
    ip: base.ip,
  });
  expect(f.disks).toEqual(['alice-data', `alice-os-${version.replace(/\./g, '-')}`]);
  expect(f.snapshots.length).toBeLessThanOrEqual(2);
  expect(Object.keys(f.dataDiskTags).filter((k) => k.startsWith('openclawps-upgrade'))).toEqual([]);
  expect(Object.keys(f.vmTags).filter((k) => k.startsWith('openclawps-upgrade'))).toEqual([]);
  expect(await sshRun(w, f.ip!, 'cat /mnt/claw-data/workspace/marker.txt')).toBe('marker-crash\n');
}

const forward = UPGRADE_PHASE_TABLE.filter((p) => p.path !== 'rollback').map((p) => p.id as string);
const rollback = UPGRADE_PHASE_TABLE.filter((p) => p.path === 'rollback').map((p) => p.id as string);
// also mid-operation: while the VM create / the verify is in flight
const forwardCases = [...forward, 'create-vm+400', 'verify+300'];

test('every phase of the table is covered', () => {
  expect([...forward, ...rollback].sort()).toEqual(UPGRADE_PHASE_TABLE.map((p) => p.id).sort());
});

test.each(forwardCases)('upgrade killed at %s, re-run converges', async (crashAt) => {
  const target = current === '1.0.0' ? '1.1.0' : '1.0.0';
  const killed = await runChild('upgrade', options(target), { OPENCLAWPS_CRASH_AT: crashAt });
  expect(killed.signal).toBe('SIGKILL');
  expect(killed.stdout).toContain(`phase ${crashAt.replace(/\+\d+$/, '')}`);
  const rerun = await runChild('upgrade', options(target));
  expect(rerun.error).toBeUndefined();
  expect(rerun.result).toMatchObject({ version: target, rolledBack: false, healthy: true });
  current = target;
  await expectConverged(target);
});

test.each(rollback)(
  'upgrade to a failing version killed at %s, re-run finishes the rollback',
  async (crashAt) => {
    const killed = await runChild('upgrade', options('1.2.0'), { OPENCLAWPS_CRASH_AT: crashAt });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toContain(`phase ${crashAt}`);
    const rerun = await runChild('upgrade', options('1.2.0'));
    expect(rerun.error).toBeUndefined();
    expect(rerun.result).toMatchObject({ previousVersion: current, version: '1.2.0', rolledBack: true });
    await expectConverged(current);
  },
);

test.each(STAMP_PHASES.filter((p) => p !== 'validate'))(
  'stamp killed at %s, re-run converges',
  async (crashAt) => {
    const claw = `s-${crashAt}`;
    const opts = {
      envText: clawEnv(claw),
      overrides: { IMAGE_VERSION: '1.1.0' },
      source: 'gallery',
      sshPrivateKey: w.key.privateKey,
      verifyTimeoutMs: 120_000,
      sshPort: w.sshPort,
      azure: w.azure,
    };
    const killed = await runChild('stamp', opts, {
      OPENCLAWPS_CRASH_AT: crashAt === 'infrastructure' ? 'infrastructure+150' : crashAt,
    });
    expect(killed.signal).toBe('SIGKILL');
    const rerun = await runChild('stamp', opts);
    expect(rerun.error).toBeUndefined();
    expect(rerun.result).toMatchObject({ vmName: claw, healthy: true, imageVersion: '1.1.0' });
    const f = await clawFacts(w, claw);
    expect(f.lun0).toBe(f.dataDiskId);
    expect(f.disks).toEqual([`${claw}-data`, `${claw}-os-1-1-0`]);
  },
);
