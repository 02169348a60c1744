/**
 * Crash matrix: SIGKILL the CLI at every phase of stamp, upgrade and bake (the phase lists are the code's
 * own exports), re-run, and check that the world converged with nothing orphaned.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BAKE_PHASE_TABLE, STAMP_PHASES, UPGRADE_PHASE_TABLE, CRASH_ENV } from '@openclawps/lifecycle';
import { assert, assertEqual, group, test } from './lib/runner';
import {
  azureFlags,
  bakeOptions,
  bakeVersion,
  clawEnv,
  clawState,
  cliCommand,
  envText,
  GALLERY,
  MARKER_PATH,
  orphans,
  repoRoot,
  resourcesOf,
  runNode,
  sshRun,
  stampClaw,
  startWorld,
  type ChildRun,
  type World,
} from './lib/world';

let w: World;
let keyFile: string;

const tail = (r: ChildRun) =>
  `exit ${r.code} signal ${r.signal}\n${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}`;

function cli(args: string[], crashAt?: string): Promise<ChildRun> {
  return runNode([...cliCommand(), ...args, ...azureFlags(w)], {
    ...(crashAt ? { [CRASH_ENV]: crashAt } : {}),
    OPENCLAWPS_LOCK_SETTLE_MS: '50',
  });
}

const upgradeArgs = (claw: string, version: string) => [
  'upgrade',
  '--claw',
  claw,
  '--resource-group',
  'rg-rel',
  '--image-version',
  version,
  '--gallery',
  GALLERY.gallery,
  '--image-definition',
  GALLERY.imageDefinition,
  '--snapshot-retention',
  '2',
  '--ssh-key',
  keyFile,
  '--verify-timeout-seconds',
  '120',
];

group('crash matrix: upgrade (SIGKILL at every phase, re-run converges)', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
    keyFile = join(w.dir, 'id_ed25519');
    writeFileSync(keyFile, w.key.privateKey, { mode: 0o600 });
    await bakeVersion(w, '1.0.0');
    await bakeVersion(w, '1.1.0');
    await stampClaw(w, 'crash-up', { imageVersion: '1.0.0' });
    await sshRun(w, 'crash-up', `echo keep-me-42 > ${MARKER_PATH}`);
  });
  g.teardown(async () => w?.close());
  const forward: string[] = UPGRADE_PHASE_TABLE.filter((p) => p.path !== 'rollback').map((p) => p.id);
  const rollback: string[] = UPGRADE_PHASE_TABLE.filter((p) => p.path === 'rollback').map((p) => p.id);
  let target = '1.1.0';
  // `<phase>+<ms>`: killed while that phase's operation is in flight (the VM create, the verify)
  for (const phase of [...forward, 'create-vm+400', 'verify+300', ...rollback]) {
    test(`upgrade killed at ${phase}${rollback.includes(phase) ? ' (rollback path: VM create fails)' : ''}`, async () => {
      const before = clawState(w, 'crash-up');
      assert(
        before.dataDiskId && before.nicId && before.ip,
        `claw incomplete before the run: ${JSON.stringify(before)}`,
      );
      const from = before.version;
      target = from === '1.1.0' ? '1.0.0' : '1.1.0';
      let faultId: string | undefined;
      if (rollback.includes(phase)) {
        // the upgrade's VM create (the first PUT of the VM after its delete) ends Failed -> rollback path
        faultId = w.emu.faults.add({
          kind: 'lroFailed',
          code: 'OSProvisioningTimedOut',
          match: { method: 'PUT', operation: /virtualMachines\/write$/ },
          times: 1,
        });
      }
      // the deallocate runs only with --stop-method deallocate (or when the stop over SSH fails)
      const stopArgs = phase === 'deallocate' ? ['--stop-method', 'deallocate'] : [];
      const killed = await cli([...upgradeArgs('crash-up', target), '--force', ...stopArgs], phase);
      if (faultId) w.emu.faults.remove(faultId);
      assertEqual(killed.signal, 'SIGKILL', `the run at ${phase} was killed (${tail(killed)})`);
      await w.emu.world.idle(60_000).catch(() => undefined);
      const again = await cli([...upgradeArgs('crash-up', target), '--force']);
      const after = clawState(w, 'crash-up');
      if (rollback.includes(phase)) {
        // the re-run finishes the rollback: back on the old version, reported as rolled back (exit 3)
        assert(
          again.code !== 0 && /ROLLED BACK/i.test(again.stdout + again.stderr),
          `re-run after a kill at ${phase} finishes the rollback (${tail(again)})`,
        );
        assertEqual(after.version, from, 'version after the re-run (rolled back)');
      } else {
        assertEqual(again.code, 0, `re-run after a kill at ${phase} succeeds (${tail(again)})`);
        assertEqual(after.version, target, 'version after the re-run');
      }
      assertEqual(after.dataDiskId, before.dataDiskId, 'data disk id');
      assertEqual(after.nicId, before.nicId, 'NIC id');
      assertEqual(after.ip, before.ip, 'public IP');
      assertEqual(after.power, 'running', 'VM power state');
      assertEqual(
        (await sshRun(w, 'crash-up', `cat ${MARKER_PATH}`)).trim(),
        'keep-me-42',
        'content marker on the data disk',
      );
      const left = orphans(w, 'crash-up', { snapshotRetention: 2 });
      assertEqual(left, [], 'orphaned resources');
    });
  }
});

group('crash matrix: stamp (SIGKILL at every phase, re-run converges)', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
    keyFile = join(w.dir, 'id_ed25519');
    writeFileSync(keyFile, w.key.privateKey, { mode: 0o600 });
    await bakeVersion(w, '1.0.0');
  });
  g.teardown(async () => w?.close());
  for (const phase of [...STAMP_PHASES, 'infrastructure+150']) {
    test(`stamp killed at ${phase}`, async () => {
      const claw = phase.includes('+') ? 'crash-st-infra-mid' : `crash-st-${phase}`.slice(0, 24);
      const envFile = join(w.dir, `${claw}.env`);
      writeFileSync(envFile, envText(clawEnv(claw)), { mode: 0o600 });
      const args = ['stamp', '--env', envFile, '--ssh-key', keyFile, '--verify-timeout-seconds', '120'];
      const killed = await cli(args, phase);
      assertEqual(killed.signal, 'SIGKILL', `the run at ${phase} was killed (${tail(killed)})`);
      await w.emu.world.idle(60_000).catch(() => undefined);
      const again = await cli(args);
      assertEqual(again.code, 0, `re-run after a kill at ${phase} succeeds (${tail(again)})`);
      const s = clawState(w, claw);
      assertEqual(s.power, 'running', 'VM running');
      assertEqual(s.version, '1.0.0', 'image version tag');
      const disks = resourcesOf(w, 'Microsoft.Compute/disks').filter((d) =>
        String(d.body.name).startsWith(`${claw}-`),
      );
      assertEqual(
        disks.length,
        2,
        `disks of ${claw} (data + OS): ${disks.map((d) => d.body.name).join(', ')}`,
      );
      assertEqual(orphans(w, claw, { snapshotRetention: 0 }), [], 'orphaned resources');
      const third = await cli(args);
      assertEqual(third.code, 0, `a third run on the healthy claw succeeds (${tail(third)})`);
    });
  }
});

group('crash matrix: bake (SIGKILL at every phase, re-run converges)', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
  });
  g.teardown(async () => w?.close());
  let n = 0;
  for (const phase of (BAKE_PHASE_TABLE as readonly { id: string }[]).map((p) => p.id)) {
    test(`bake killed at ${phase}`, async () => {
      const version = `2.0.${n++}`;
      const opts = { ...bakeOptions(w, version), cloudInitTimeoutMs: 180_000 };
      const bakeChild = (crashAt?: string) =>
        runNode(
          [
            '-r',
            join(repoRoot, 'test/system/register.js'),
            join(__dirname, 'lib/bake-entry.ts'),
            JSON.stringify(opts),
          ],
          crashAt ? { [CRASH_ENV]: crashAt } : {},
        );
      const killed = await bakeChild(phase);
      assertEqual(killed.signal, 'SIGKILL', `the run at ${phase} was killed (${tail(killed)})`);
      await w.emu.world.idle(60_000).catch(() => undefined);
      const again = await bakeChild();
      assertEqual(again.code, 0, `re-run after a kill at ${phase} succeeds (${tail(again)})`);
      const versions = w.emu.world
        .list('Microsoft.Compute/galleries/images/versions')
        .filter((v) => v.body.name === version);
      assertEqual(
        versions.map((v) => v.body.properties?.provisioningState),
        ['Succeeded'],
        `image version ${version}`,
      );
      const builders = w.emu.world
        .list('Microsoft.Resources/resourceGroups')
        .filter((r) => /openclawps-bake-/i.test(r.id));
      assertEqual(
        builders.map((b) => b.body.name),
        [],
        'builder resource groups left',
      );
      const strays = w.emu.world
        .list('Microsoft.Compute/disks')
        .concat(w.emu.world.list('Microsoft.Compute/snapshots'))
        .filter((d) => /builder|bake/i.test(d.id));
      assertEqual(
        strays.map((d) => d.body.name),
        [],
        'builder disks/snapshots left',
      );
    });
  }
});
