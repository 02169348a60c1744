/** fleet on an emulated fleet: real bake, stamp and upgrade on the local Azure (emulator + sandbox guest). */
import { FleetPolicyError, planFleet, rollout, stamp, type FleetOptions } from '@openclawps/lifecycle';
import { RG, bakeVersions, clawEnv, clawFacts, reporter, startWorld, type TestWorld } from './world';

jest.setTimeout(600_000);

let w: TestWorld;
beforeAll(async () => {
  w = await startWorld();
  await bakeVersions(w, ['1.0.0', '1.1.0', { version: '1.2.0', broken: true }]);
  for (const claw of ['ann', 'bea', 'cid', 'dot', 'eve']) {
    const r = await stamp({
      envText: clawEnv(claw, { IMAGE_VERSION: claw === 'dot' ? '1.1.0' : '1.0.0' }),
      overrides: {},
      source: 'gallery',
      sshPrivateKey: w.key.privateKey,
      verifyTimeoutMs: 120_000,
      sshPort: w.sshPort,
      azure: w.azure,
      reporter: reporter(),
    });
    expect(r.healthy).toBe(true);
  }
});
afterAll(() => w?.close());

// eve runs in Azure but is not in the manifest; fay is in the manifest but was never stamped
const MANIFEST = `fleet: default
defaults:
  resource-group: ${RG}
claws:
  - name: ann
  - name: bea
  - name: cid
    canary: true
  - name: dot
  - name: fay
`;

const options = (
  o: Partial<FleetOptions> & { policy?: Partial<FleetOptions['policy']> } = {},
): FleetOptions => ({
  manifestText: MANIFEST,
  manifestPath: 'claws.yaml',
  targetVersion: '1.1.0',
  gallery: 'clawGallery',
  imageDefinition: 'claw-base',
  galleryResourceGroup: RG,
  sshPrivateKey: w.key.privateKey,
  verifyTimeoutMs: 120_000,
  sshPort: w.sshPort,
  azure: w.azure,
  reporter: reporter(),
  ...o,
  policy: {
    maxBatchPercent: 40,
    maxUnhealthyPercent: 20,
    maxUnhealthyUpgradedPercent: 20,
    pauseSeconds: 0,
    maxParallel: 2,
    canary: [],
    ...o.policy,
  },
});

test('plan: canary first, the rest in batches, up-to-date and unstamped claws left out, drift reported', async () => {
  const plan = await planFleet(options());
  expect(plan.targetVersion).toBe('1.1.0');
  expect(plan.batches.map((b) => b.map((c) => c.claw))).toEqual([['cid'], ['ann', 'bea']]);
  expect(plan.upToDate).toEqual(['dot']);
  expect(plan.claws.find((c) => c.claw === 'fay')).toMatchObject({ currentVersion: 'missing', batch: -1 });
  expect(plan.drift).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^fay: in the manifest but no VM/),
      expect.stringMatching(/^eve: managed VM in Azure/),
    ]),
  );
  expect(plan.markdown).toMatch(/\| cid \| rg-claws \| 1\.0\.0 \| 1\.1\.0 \| healthy \| canary \|/);
});

test('plan with latest resolves numerically to the newest replicated version', async () => {
  const plan = await planFleet(options({ targetVersion: 'latest' }));
  expect(plan.targetVersion).toBe('1.2.0');
});

test('rollout halts on a policy breach: the canary fails verify, is rolled back, and no other claw is touched', async () => {
  let err: FleetPolicyError | undefined;
  await rollout(options({ targetVersion: '1.2.0' })).catch((e) => (err = e));
  expect(err).toBeInstanceOf(FleetPolicyError);
  const done = err?.plan as unknown as {
    halted: boolean;
    results: Array<{ claw: string; ok: boolean; rolledBack: boolean }>;
  };
  expect(done.halted).toBe(true);
  expect(done.results).toEqual([expect.objectContaining({ claw: 'cid', ok: false, rolledBack: true })]);
  expect((await clawFacts(w, 'cid')).version).toBe('1.0.0');
  expect((await clawFacts(w, 'ann')).version).toBe('1.0.0');
  expect((await clawFacts(w, 'bea')).version).toBe('1.0.0');
});

test('rollout upgrades every claw that needs it, batch by batch, keeping each data disk', async () => {
  const before = await clawFacts(w, 'bea');
  const done = await rollout(options());
  expect(done.halted).toBe(false);
  expect(done.results.map((r) => [r.claw, r.ok])).toEqual([
    ['cid', true],
    ['ann', true],
    ['bea', true],
  ]);
  const after = await clawFacts(w, 'bea');
  expect(after.version).toBe('1.1.0');
  expect(after.dataDiskId).toBe(before.dataDiskId);
  expect(after.ip).toBe(before.ip);
  expect((await planFleet(options())).batches).toEqual([]);
});
