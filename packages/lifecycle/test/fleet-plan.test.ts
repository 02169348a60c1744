/** Fleet manifest validation and the VMSS-style batching policy (pure functions). */
import {
  batchClaws,
  fleetMatrices,
  ManifestError,
  parseManifest,
  type FleetClawPlan,
  type RolloutPolicy,
} from '@openclawps/lifecycle';

const policy = (p: Partial<RolloutPolicy> = {}): RolloutPolicy => ({
  maxBatchPercent: 20,
  maxUnhealthyPercent: 20,
  maxUnhealthyUpgradedPercent: 20,
  pauseSeconds: 0,
  maxParallel: 5,
  canary: [],
  ...p,
});

const claw = (
  name: string,
  currentVersion: string,
  health: FleetClawPlan['health'] = 'healthy',
): FleetClawPlan => ({
  claw: name,
  resourceGroup: 'rg',
  currentVersion,
  targetVersion: '2.0.0',
  health,
  batch: -1,
});

describe('parseManifest', () => {
  test('applies defaults and derives the env secret name', () => {
    const m = parseManifest(
      'fleet: prod\ndefaults:\n  resource-group: rg-claws\n  location: westeurope\nclaws:\n  - name: alice\n    telegram-user-id: 123\n  - name: bob-2\n    resource-group: rg-other\n    env-secret: BOB_ENV\n    canary: true\n',
    );
    expect(m.fleet).toBe('prod');
    expect(m.claws).toEqual([
      expect.objectContaining({
        name: 'alice',
        resourceGroup: 'rg-claws',
        location: 'westeurope',
        telegramUserId: '123',
        envSecret: 'CLAW_ENV_ALICE',
        canary: false,
      }),
      expect.objectContaining({
        name: 'bob-2',
        resourceGroup: 'rg-other',
        envSecret: 'BOB_ENV',
        canary: true,
      }),
    ]);
  });

  test('reports every problem at once, naming the claw and the key', () => {
    let err: ManifestError | undefined;
    try {
      parseManifest(
        'colour: red\ndefaults:\n  sise: big\nclaws:\n  - name: Alice\n  - name: bob\n    telegram-user-id: abc\n    env-secret: bad-name\n  - name: bob\n    canary: maybe\n  - just-a-string\n',
      );
    } catch (e) {
      err = e as ManifestError;
    }
    expect(err).toBeInstanceOf(ManifestError);
    const text = err?.problems.join('\n') ?? '';
    expect(text).toMatch(/unknown top-level key `colour`/);
    expect(text).toMatch(/defaults: unknown key `sise`/);
    expect(text).toMatch(/claws\[0\] \(Alice\): name must be/);
    expect(text).toMatch(/claws\[1\] \(bob\): telegram-user-id must be numeric/);
    expect(text).toMatch(/claws\[1\] \(bob\): env-secret "bad-name"/);
    expect(text).toMatch(/claws\[2\] \(bob\): duplicate claw name/);
    expect(text).toMatch(/claws\[2\] \(bob\): canary must be true or false/);
    expect(text).toMatch(/claws\[3\]: expected a mapping/);
  });

  test('rejects YAML that is not a manifest', () => {
    expect(() => parseManifest('claws: [')).toThrow(/not valid YAML/);
    expect(() => parseManifest('claws: []')).toThrow(/non-empty list/);
  });
});

describe('batchClaws', () => {
  const fleet = Array.from({ length: 10 }, (_, i) => claw(`c${i}`, i === 9 ? '2.0.0' : '1.0.0'));

  test('canary first, then batches of at most max-batch-percent of the whole fleet; up-to-date claws left out', () => {
    const batches = batchClaws(fleet, policy({ maxBatchPercent: 30 }));
    expect(batches.map((b) => b.map((c) => c.claw))).toEqual([
      ['c0'],
      ['c1', 'c2', 'c3'],
      ['c4', 'c5', 'c6'],
      ['c7', 'c8'],
    ]);
    expect(
      batches.flat().every((c, i, all) => c.batch === batches.findIndex((b) => b.includes(all[i]))),
    ).toBe(true);
  });

  test('named canaries and manifest canaries form the first batch', () => {
    const batches = batchClaws(fleet, policy({ canary: ['c5'] }), ['c7']);
    expect(batches[0].map((c) => c.claw)).toEqual(['c5', 'c7']);
    expect(batches.flat().map((c) => c.claw)).not.toContain('c9');
  });

  test('unhealthy claws go first; a batch is never empty and never smaller than one claw', () => {
    const mixed = [claw('a', '1.0.0'), claw('b', '1.0.0', 'unhealthy'), claw('c', '1.0.0', 'unknown')];
    const batches = batchClaws(mixed, policy({ maxBatchPercent: 1 }));
    expect(batches.map((b) => b.map((c) => c.claw))).toEqual([['b'], ['c'], ['a']]);
  });

  test('matrices: canary, the rest in batch order, and every claw', () => {
    const batches = batchClaws(fleet, policy({ maxBatchPercent: 50 }));
    const plan = { targetVersion: '2.0.0', batches, claws: fleet, upToDate: ['c9'], drift: [], markdown: '' };
    const m = fleetMatrices(plan);
    expect(m.canaryMatrix.include).toEqual([
      { claw: 'c0', 'resource-group': 'rg', 'current-version': '1.0.0', 'target-version': '2.0.0', batch: 0 },
    ]);
    expect(m.matrix.include.map((e) => e.claw)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    expect(m.allMatrix.include).toHaveLength(10);
  });
});
