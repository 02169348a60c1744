/** Pure parts: phase tables, crash hook parsing, upgrade tag encoding, boot status. */
import {
  STAMP_PHASES,
  UPGRADE_PHASES,
  UPGRADE_PHASE_TABLE,
  PhaseRunner,
  UPGRADE_STATE_TAG,
  decodeState,
  encodeState,
  parseBootStatus,
  parseCrashSpec,
  parseMarker,
  upgradeProblems,
  type UpgradeState,
} from '@openclawps/lifecycle';
import { createMemoryReporter } from '@openclawps/config';

test('phase lists are the tables, in order, without duplicates', () => {
  expect(UPGRADE_PHASES).toEqual(UPGRADE_PHASE_TABLE.map((p) => p.id));
  expect(new Set(UPGRADE_PHASES).size).toBe(UPGRADE_PHASES.length);
  expect(new Set(STAMP_PHASES).size).toBe(STAMP_PHASES.length);
  // downtime is exactly the stop .. verify span
  const down = UPGRADE_PHASE_TABLE.filter((p) => 'downtime' in p && p.downtime).map((p) => p.id);
  expect(down).toEqual(['quiesce', 'deallocate', 'delete-vm', 'create-vm', 'wait-boot', 'verify']);
});

test('crash spec parsing', () => {
  expect(parseCrashSpec(undefined)).toEqual([]);
  expect(parseCrashSpec('create-vm')).toEqual([{ phase: 'create-vm', afterMs: undefined }]);
  expect(parseCrashSpec('verify+300, lock')).toEqual([
    { phase: 'verify', afterMs: 300 },
    { phase: 'lock', afterMs: undefined },
  ]);
});

test('the runner refuses phases that are not in its table and records a timeline', () => {
  const r = new PhaseRunner<string>('upgrade', UPGRADE_PHASE_TABLE, createMemoryReporter(), {});
  r.enter('preflight');
  r.enter('lock');
  r.close();
  expect(r.timeline.map((t) => t.phase)).toEqual(['preflight', 'lock']);
  expect(() => r.enter('not-a-phase')).toThrow(/unknown phase/);
});

test('upgrade state survives the tag round trip in chunks of at most 256 characters', () => {
  const state: UpgradeState = {
    from: '1.0.0',
    oldOs: 'alice-os-1-0-0',
    newOs: 'alice-os-1-1-0',
    snapshot: 'alice-data-20261201200000',
    size: 'Standard_D2s_v3',
    admin: 'azureuser',
    keys: ['ssh-ed25519 ' + 'A'.repeat(68) + ' me@host', 'ssh-rsa ' + 'B'.repeat(700)],
    sec: 'TrustedLaunch',
    location: 'eastus',
    fleet: 'prod',
    vnc: 'localhost',
    targetId:
      '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.1.0',
    passwordAuth: false,
  };
  const tags = encodeState(state);
  expect(Object.keys(tags).every((k) => k.startsWith(UPGRADE_STATE_TAG))).toBe(true);
  expect(Object.values(tags).every((v) => v.length <= 256)).toBe(true);
  expect(decodeState({ other: 'x', ...tags })).toEqual(state);
  expect(decodeState({})).toBeUndefined();
});

test('marker parsing', () => {
  expect(
    parseMarker({
      'openclawps-upgrade': 'target=1.1.0;mode=rollback;owner=a@b;run=abcd;at=100;reason=verify failed',
    }),
  ).toEqual({
    target: '1.1.0',
    mode: 'rollback',
    owner: 'a@b',
    run: 'abcd',
    at: 100,
    reason: 'verify failed',
  });
  expect(parseMarker({})).toBeUndefined();
});

test('boot status: systemd states and the sandbox last-boot record', () => {
  expect(parseBootStatus('unit=active result=ok')).toMatchObject({ done: true });
  expect(parseBootStatus('unit=activating result=ok')).toMatchObject({ done: false });
  expect(parseBootStatus('unit=failed result=failed')).toMatchObject({ done: true });
  expect(parseBootStatus('unit=unknown result=none')).toMatchObject({ done: false });
  expect(parseBootStatus('unit=inactive result=ok')).toMatchObject({ done: false });
  expect(parseBootStatus('unit=unknown result=ok')).toMatchObject({ done: true });
});

test('upgrade input problems are all reported at once', () => {
  const { problems } = upgradeProblems({
    clawName: 'Bad!',
    imageVersion: 'v1.2.3',
    snapshotRetention: -1,
    keepOsDisks: 1.5,
    sshPrivateKey: 'not a key',
    envText: 'TELEGRAM_BOT_TOKEN=x\n',
  } as never);
  const vars = problems.map((p) => p.variable);
  expect(vars).toEqual(
    expect.arrayContaining([
      'claw-name',
      'image-version',
      'snapshot-retention',
      'keep-os-disks',
      'ssh-private-key',
      'TELEGRAM_BOT_TOKEN',
    ]),
  );
});
