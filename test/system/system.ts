/**
 * System test in a real booted Linux (issue 3): a debootstrapped Debian 12 root with the claw
 * payload installed, booted with systemd-nspawn, a loop-device data disk at the Azure LUN link,
 * the slim cloud-init as NoCloud user-data, SSH over a veth, and the guest's own verify.
 *
 *   npm run test:system        (root; skips clearly without root or the tools)
 *
 * Env: OPENCLAWPS_ROOT_CACHE (default /var/cache/openclawps/roots), OPENCLAWPS_ROOT_MODE=overlay|copy,
 * OPENCLAWPS_KEEP=1 (leave the last container's files in the work dir for debugging).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  connectSsh,
  generateEd25519KeyPair,
  parseVerifyReport,
  type SshSession,
  type VerifyReport,
} from '@openclawps/guest';
import * as nspawn from '../../packages/emulator/src/nspawn';
import { ensureClawRoot, type ClawRoot } from './claw-root';
import { assert, runSuite, skip, Suite } from './harness';
import { testClaw } from './user-data';

const suite = new Suite('system');
const log = suite.log;
const WORK = process.env.OPENCLAWPS_SYSTEM_WORK ?? '/var/tmp/openclawps-system';
const MODE = process.env.OPENCLAWPS_ROOT_MODE === 'copy' ? 'copy' : 'overlay';
const NAME = 'claw-alice';
const MARKER_PATH = 'workspace/system-test-marker.txt';

interface GuestRoot {
  path: string;
  dispose(): Promise<void>;
}

/** A fresh root for a container from the claw image: an overlay (default) or a full copy. */
async function freshRoot(image: string, label: string): Promise<GuestRoot> {
  const dir = join(WORK, label);
  nspawn.unmountBelow(dir);
  rmSync(dir, { recursive: true, force: true });
  if (MODE === 'copy') {
    mkdirSync(WORK, { recursive: true });
    await nspawn.copyRoot(image, dir);
    return { path: dir, dispose: () => nspawn.removeRoot(dir) };
  }
  const ov = await nspawn.overlayRoot(image, dir);
  return { path: ov.merged, dispose: async () => ov.dispose(true) };
}

async function main(): Promise<number> {
  const reason = nspawn.nspawnUnavailable();
  if (reason) {
    console.log(`SKIP system test: ${reason}`);
    console.log('system: 0 passed, 0 failed, 1 skipped');
    return 0;
  }
  nspawn.installCleanupHandlers(log);
  for (const r of nspawn.reapStale(log)) log(`reaped leftover: ${r}`);
  log(`mode: ${MODE} roots, cache ${nspawn.DEFAULT_CACHE_DIR}, work dir ${WORK}`);
  nspawn.unmountBelow(WORK); // never delete through a mount a crashed run left behind
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  const claw = testClaw('alice', 'azureuser');
  const keys = generateEd25519KeyPair({ comment: 'openclawps-system-test' });
  let base = '';
  let image: ClawRoot | undefined;
  let disk: nspawn.LoopDevice | undefined;
  let network: nspawn.GuestNetwork | undefined;
  let container: nspawn.Container | undefined;
  let root: GuestRoot | undefined;
  let ssh: SshSession | undefined;
  let fsUuid = '';
  let initialized = '';
  const marker = `marker ${new Date().toISOString()} ${Math.random().toString(36).slice(2)}`;
  const userData = claw.userData;
  log(`user-data: renderSlimCloudInit from @openclawps/templates (${userData.length} bytes)`);

  const boot = async (label: string, instanceId: string) => {
    root = await freshRoot(image!.path, label);
    // No network for channels in a test: the gateway runs with channels skipped (reference §10).
    const dropIn = join(root.path, 'etc/systemd/system/openclaw-gateway.service.d');
    mkdirSync(dropIn, { recursive: true });
    writeFileSync(
      join(dropIn, '90-system-test.conf'),
      '[Service]\nEnvironment=OPENCLAW_SKIP_CHANNELS=1\nEnvironment=OPENCLAW_DISABLE_BONJOUR=1\nEnvironment=DO_NOT_TRACK=1\n',
    );
    container = await nspawn.startContainer({
      name: NAME,
      root: root.path,
      disks: [{ lun: 0, device: disk!.device }],
      network,
      consoleLog: join(WORK, `${label}.console.log`),
      seed: {
        instanceId,
        hostname: claw.claw,
        adminUser: claw.adminUser,
        sshAuthorizedKeys: [keys.publicKey],
        userData,
      },
      log,
    });
  };
  const waitBooted = async () => {
    const state = await container!.waitRunning({ timeoutMs: 240_000 });
    const failed = await container!.failedUnits();
    log(`system state: ${state}${failed.length ? `; failed units: ${failed.join(', ')}` : ''}`);
    return { state, failed };
  };
  const connect = async () => {
    ssh?.close();
    ssh = await connectSsh({
      host: container!.address,
      username: claw.adminUser,
      privateKey: keys.privateKey,
      retryUntilMs: 90_000,
      retryAuthFailures: true,
      readyTimeoutMs: 10_000,
    });
    return ssh;
  };
  const inGuest = async (script: string) => {
    const r = await container!.sh(script, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`in guest: ${script}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };
  const verify = async (): Promise<VerifyReport> => {
    const r = await ssh!.exec('sudo -n /opt/claw/verify', { timeoutMs: 180_000 });
    log(`verify exit ${r.code}`);
    const report = parseVerifyReport(r.stdout);
    for (const c of report.checks)
      log(`  ${c.status.padEnd(4)} ${c.id}${c.status !== 'pass' ? ` — ${c.detail}` : ''}`);
    log(`  summary ${JSON.stringify(report.summary)} healthy=${report.healthy}`);
    return report;
  };
  /** Polls GET /readyz over SSH (from inside the guest: the gateway listens on loopback only). */
  const waitReadyz = async (timeoutMs = 180_000) => {
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 < timeoutMs) {
      const r = await ssh!.exec('curl -sS -m 5 -w " %{http_code}" http://127.0.0.1:18789/readyz');
      last = `${r.stdout}${r.stderr}`.trim();
      if (/ 200$/.test(last)) break;
      await nspawn.run('sleep', ['2']);
    }
    const unit = (
      await container!.sh('systemctl show -p NRestarts -p ActiveEnterTimestamp openclaw-gateway.service')
    ).stdout;
    log(
      `/readyz after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${last.slice(0, 160)}${last.length > 160 ? '…' : ''}`,
    );
    log(`openclaw-gateway.service: ${unit.trim().replace(/\n/g, ', ')}`);
    assert(
      / 200$/.test(last),
      `/readyz did not answer 200 within ${timeoutMs / 1000} s: ${last}\n${await inGuest('systemctl status --no-pager openclaw-gateway.service 2>&1 | tail -20 || true')}`,
    );
  };
  const GATEWAY_STEP = 'gateway: openclaw-gateway answers /readyz on 127.0.0.1:18789';
  const assertChecks = (report: VerifyReport) => {
    const want = ['disk', 'link', 'links', 'config', 'boot'];
    if (suite.passed(GATEWAY_STEP)) want.push('gateway');
    const problems: string[] = [];
    const groups = new Set(report.checks.map((c) => c.group));
    for (const g of want.filter((g) => !['link', 'links'].includes(g)))
      if (!groups.has(g)) problems.push(`no "${g}" checks in the report`);
    if (!groups.has('link') && !groups.has('links')) problems.push('no link checks in the report');
    for (const c of report.checks)
      if (want.includes(c.group) && c.status !== 'pass') problems.push(`${c.id} is ${c.status}: ${c.detail}`);
    const desktop = report.checks.filter((c) => /desktop|display|vnc/.test(`${c.group} ${c.id}`));
    for (const c of desktop) {
      if (c.status === 'skip' && !c.detail.trim()) problems.push(`${c.id} skipped without a reason`);
      if (c.status === 'fail')
        problems.push(`${c.id} fails in a container (should be skip with a reason): ${c.detail}`);
    }
    if (suite.passed(GATEWAY_STEP) && !report.healthy)
      problems.push('verify reports unhealthy although the gateway is up');
    assert(!problems.length, problems.join('\n'));
  };

  try {
    await suite.step('base root (debootstrap bookworm, cached)', async () => {
      base = await nspawn.ensureBaseRoot({ log });
      log(`base root ${base} (${JSON.stringify(nspawn.rootInfo(base))})`);
    });
    await suite.step(
      'claw image root (payload installed, cached by payload hash)',
      async () => {
        image = await ensureClawRoot(base, { log });
        log(`claw root ${image.path}, overlay layers: ${nspawn.rootLayers(image.path).join(' > ')}`);
        assert(
          existsSync(join(image.path, 'opt/claw/boot.sh')),
          '/opt/claw/boot.sh missing in the claw root',
        );
      },
      { needs: ['base root (debootstrap bookworm, cached)'] },
    );
    await suite.step('data disk: sparse image on a loop device, network on a veth', async () => {
      const img = nspawn.createDiskImage(join(WORK, 'alice-data.img'), 2 * 1024 ** 3);
      disk = await nspawn.attachLoop(img);
      network = await nspawn.createNetwork({ name: NAME });
      log(
        `data disk ${img} on ${disk.device}; guest ${network.guestAddress} via ${network.hostIf} (host ${network.hostAddress})`,
      );
    });
    const ready = [
      'claw image root (payload installed, cached by payload hash)',
      'data disk: sparse image on a loop device, network on a veth',
    ];

    await suite.step(
      'boot 1: systemd reaches running, cloud-init done',
      async () => {
        await boot('root-a', 'iid-alice-a');
        const { failed } = await waitBooted();
        const ci = await container!.waitCloudInit({ timeoutMs: 180_000 });
        log(ci.output);
        assert(ci.status === 'done', `cloud-init status ${ci.status}:\n${ci.output}`);
        assert(
          !failed.length,
          `failed units: ${failed.join(', ')}\n${await inGuest('systemctl status --no-pager -l ' + failed.join(' ') + ' 2>&1 | tail -40 || true')}`,
        );
      },
      { needs: ready },
    );
    const booted = ['boot 1: systemd reaches running, cloud-init done'];

    await suite.step(
      'claw-boot.service mounted and seeded the data disk',
      async () => {
        const result = await inGuest(
          'systemctl show -p Result -p ActiveState -p ExecMainStatus claw-boot.service',
        );
        log(result.replace(/\n/g, ' '));
        assert(
          /Result=success/.test(result) && /ExecMainStatus=0/.test(result),
          `claw-boot.service: ${result}`,
        );
        const mnt = await inGuest('findmnt -n -o SOURCE,FSTYPE,LABEL /mnt/claw-data || true');
        log(`mount: ${mnt}`);
        assert(
          /ext4/.test(mnt) && /claw-data/.test(mnt),
          `/mnt/claw-data is not the ext4 claw-data disk: "${mnt}"`,
        );
        fsUuid = await inGuest('findmnt -n -o UUID /mnt/claw-data');
        initialized = await inGuest('cat /mnt/claw-data/.claw-initialized');
        const seeded = await inGuest('ls -A /mnt/claw-data /mnt/claw-data/openclaw /mnt/claw-data/workspace');
        log(seeded.replace(/\n+/g, ' | '));
        assert(/SOUL\.md/.test(seeded), 'workspace has no SOUL.md');
        assert(/openclaw\.json/.test(seeded), 'openclaw state dir has no openclaw.json');
        log(`filesystem UUID ${fsUuid}; .claw-initialized: ${initialized}`);
        log((await inGuest('tail -n 25 /var/log/claw-boot.log')).replace(/^/gm, '  boot.log | '));
      },
      { needs: booted },
    );

    await suite.step(
      'ssh (ssh2, ed25519) as the admin user; marker written to ~/workspace',
      async () => {
        const s = await connect();
        log(`ssh ${claw.adminUser}@${container!.address}, host key ${s.hostKeyFingerprint}`);
        const r = await s.exec(
          `printf '%s\\n' ${JSON.stringify(marker)} > ~/workspace/system-test-marker.txt && sync && readlink -f ~/workspace && id -un`,
        );
        assert(r.code === 0, `writing the marker failed: ${r.stderr}`);
        log(r.stdout.trim().replace(/\n/g, ' '));
        assert(
          (await inGuest(`cat /mnt/claw-data/${MARKER_PATH}`)) === marker,
          'marker is not on the data disk',
        );
      },
      { needs: ['claw-boot.service mounted and seeded the data disk'] },
    );

    await suite.step(
      'gateway: openclaw-gateway answers /readyz on 127.0.0.1:18789',
      async () => {
        const has = await container!.sh(
          'command -v openclaw || ls /usr/local/bin/openclaw /usr/bin/openclaw 2>/dev/null',
        );
        if (has.code !== 0)
          skip('openclaw is not installed in the claw root (install.sh did not install it)');
        await waitReadyz();
      },
      { needs: ['ssh (ssh2, ed25519) as the admin user; marker written to ~/workspace'] },
    );

    await suite.step(
      'verify over ssh: disk, links, config, boot pass; desktop checks skip with a reason',
      async () => {
        assertChecks(await verify());
      },
      { needs: ['ssh (ssh2, ed25519) as the admin user; marker written to ~/workspace'] },
    );

    await suite.step(
      'restart: the marker and the filesystem survive a container reboot',
      async () => {
        ssh?.close();
        const off = await container!.poweroff({ timeoutMs: 90_000 });
        log(`poweroff: ${off.clean ? 'clean' : 'forced'} in ${off.seconds.toFixed(1)} s`);
        assert(!container!.running(), 'container still running after poweroff');
        await container!.start();
        await waitBooted();
        await connect();
        const r = await ssh!.exec(`cat ~/${MARKER_PATH}`);
        assert(r.stdout.trim() === marker, `marker after restart: "${r.stdout.trim()}" ${r.stderr}`);
        assert(
          (await inGuest('findmnt -n -o UUID /mnt/claw-data')) === fsUuid,
          'filesystem UUID changed (reformatted?)',
        );
        assert(
          (await inGuest('cat /mnt/claw-data/.claw-initialized')) === initialized,
          '.claw-initialized changed (re-seeded?)',
        );
        const result = await inGuest('systemctl show -p Result claw-boot.service');
        assert(/success/.test(result), `claw-boot.service on the second boot: ${result}`);
      },
      { needs: ['ssh (ssh2, ed25519) as the admin user; marker written to ~/workspace'] },
    );

    await suite.step(
      'root replacement: a fresh root with the same data disk keeps the marker',
      async () => {
        await inGuest('echo only-on-root-a > /root/root-a-only');
        ssh?.close();
        await container!.destroy({ timeoutMs: 90_000 });
        await root!.dispose();
        root = undefined;
        await boot('root-b', 'iid-alice-b');
        await waitBooted();
        const ci = await container!.waitCloudInit({ timeoutMs: 180_000 });
        assert(ci.status === 'done', `cloud-init on the new root: ${ci.status}\n${ci.output}`);
        assert(
          !(await inGuest('cat /root/root-a-only 2>/dev/null || true')),
          'the new root carries a file of the old root',
        );
        await connect();
        const r = await ssh!.exec(`cat ~/${MARKER_PATH}`);
        assert(r.stdout.trim() === marker, `marker after root replacement: "${r.stdout.trim()}" ${r.stderr}`);
        assert(
          (await inGuest('findmnt -n -o UUID /mnt/claw-data')) === fsUuid,
          'filesystem UUID changed (reformatted?)',
        );
        assert(
          (await inGuest('cat /mnt/claw-data/.claw-initialized')) === initialized,
          '.claw-initialized changed (re-seeded?)',
        );
        log(`marker intact on the new root: "${r.stdout.trim()}"`);
      },
      { needs: ['restart: the marker and the filesystem survive a container reboot'] },
    );

    await suite.step(
      'verify over ssh on the new root',
      async () => {
        if (suite.passed(GATEWAY_STEP)) await waitReadyz();
        assertChecks(await verify());
      },
      { needs: ['root replacement: a fresh root with the same data disk keeps the marker'] },
    );
  } finally {
    ssh?.close();
    await suite.step('cleanup: no container, loop device, netns, veth or mount left', async () => {
      if (container) await container.destroy({ timeoutMs: 60_000 });
      if (root && process.env.OPENCLAWPS_KEEP !== '1') await root.dispose();
      network?.dispose();
      disk?.detach();
      const errors = nspawn.cleanupAll(log);
      const left: string[] = [];
      const loops = (await nspawn.run('losetup', ['-n', '-O', 'NAME,BACK-FILE', '-l'])).stdout;
      if (loops.includes(WORK)) left.push(`loop devices: ${loops.trim()}`);
      const ns = (await nspawn.run('ip', ['netns', 'list'])).stdout;
      if (ns.includes(nspawn.netnsName(NAME))) left.push(`netns: ${ns.trim()}`);
      if (network && (await nspawn.run('ip', ['link', 'show', network.hostIf])).code === 0)
        left.push(`veth ${network.hostIf}`);
      const mounts = (await nspawn.run('findmnt', ['-rn', '-o', 'TARGET'])).stdout
        .split('\n')
        .filter((m) => m.startsWith(WORK));
      if (mounts.length) left.push(`mounts: ${mounts.join(' ')}`);
      const procs = (await nspawn.run('pgrep', ['-f', `systemd-nspawn.*--machine=${NAME}`])).stdout.trim();
      if (procs) left.push(`nspawn processes: ${procs}`);
      assert(!errors.length && !left.length, [...errors, ...left].join('\n'));
    });
  }
  return suite.finish();
}

runSuite(suite, main, () => nspawn.cleanupAll(log));
