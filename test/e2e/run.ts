/**
 * End-to-end on real Linux guests (issue 6), through the REAL action bundles (dist/<name>/index.js run
 * like the Actions runner runs them), against the emulator with the nspawn guest backend:
 *
 *   dist/bake 1.0.0 (scratch, minimal: the full cloud-init's install.sh runs in a booted container)
 *   -> dist/stamp alice -> marker over SSH -> dist/bake 1.1.0 (+ a migration that counts its runs)
 *   -> dist/upgrade -> migration ran once, marker intact, same filesystem UUID, same NIC/IP, /readyz
 *   -> dist/verify healthy -> dist/upgrade killed (SIGKILL) mid-way -> re-run converges.
 *
 *   npm run test:e2e     (root; skips clearly without root or the tools)
 *
 * Env: OPENCLAWPS_E2E_STOCK=base|runtime (default runtime when test:system's cached runtime layer
 * exists: the "stock" image then already carries the apt packages, Node and the npm tarballs once;
 * install.sh still runs in full on every builder), OPENCLAWPS_E2E_WORK (default /var/tmp/openclawps-e2e).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatEnv } from '@openclawps/config';
import { NspawnGuest, nspawnGuestProblems, nspawn, startEmulator, type Emulator } from '@openclawps/emulator';
import { connectSsh, generateEd25519KeyPair } from '@openclawps/guest';
import { repoRoot, runBundle, type BundleRun } from '../helpers/bundle';
import { assert, skip, Suite } from '../system/harness';

const suite = new Suite('e2e');
const log = suite.log;
const WORK = process.env.OPENCLAWPS_E2E_WORK ?? '/var/tmp/openclawps-e2e';
const RG = 'rg-claws';
const CLAW = 'alice';
const BUNDLES = ['bake', 'stamp', 'upgrade', 'verify'];
const timings: Array<[string, number]> = [];
/** The data disk's filesystem UUID as blkid reads it from the device (no udev cache in a container). */
const FS_UUID = 'sudo -n blkid -o value -s UUID "$(findmnt -n -o SOURCE /mnt/claw-data)"';

function finishSkipped(reason: string): number {
  console.log(`SKIP e2e: ${reason}`);
  console.log('e2e: 0 passed, 0 failed, 1 skipped');
  return 0;
}

/** The stock image: test:system's cached runtime layer (install.sh --profile minimal already ran once) or the base root. */
function stockRoot(base: string): string {
  if (process.env.OPENCLAWPS_E2E_STOCK === 'base') return base;
  const dir = nspawn.DEFAULT_CACHE_DIR;
  const runtime = existsSync(dir)
    ? readdirSync(dir)
        .filter(
          (n) =>
            n.startsWith('debian12-claw-runtime-minimal-') &&
            existsSync(join(dir, n, '.openclawps-root.json')),
        )
        .map((n) => join(dir, n))
    : [];
  return runtime[0] ?? base;
}

function npmCache(): string {
  const cache = process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm');
  mkdirSync(cache, { recursive: true });
  return cache;
}

const SECRETS = {
  XAI_API_KEY: 'xai-E2eq3v9LrT0pWk2sYbN8cHdJf6gAeUm1',
  TELEGRAM_BOT_TOKEN: '7012345678:AAE2eHk3nQv9xZr2LmWp8TcYbFd6JsGe1Uo',
};

async function main(): Promise<number> {
  const problem = nspawnGuestProblems();
  if (problem) return finishSkipped(problem);
  const missing = BUNDLES.filter((b) => !existsSync(join(repoRoot, 'dist', b, 'index.js')));
  if (missing.length)
    return finishSkipped(`dist/${missing.join(', dist/')} not built (run \`npm run build\`)`);

  nspawn.installCleanupHandlers(log);
  for (const r of nspawn.reapStale(log)) log(`reaped leftover: ${r}`);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  let emu: Emulator | undefined;
  let guest: NspawnGuest | undefined;
  const key = generateEd25519KeyPair({ comment: 'openclawps-e2e' });
  const caFile = join(WORK, 'emulator-ca.pem');
  const env = formatEnv(
    Object.entries({
      CLAW_NAME: CLAW,
      PROFILE: 'minimal',
      OPENCLAW_MODEL: 'xai/grok-4',
      ...SECRETS,
      TELEGRAM_USER_ID: '5551234567',
      RESOURCE_GROUP: RG,
    }),
  );
  const azure = () => ({
    'subscription-id': emu!.subscriptionId,
    auth: 'static',
    'arm-endpoint': emu!.url,
    'ssh-port': '22',
  });
  const bundle = async (
    name: string,
    inputs: Record<string, string>,
    extraEnv: Record<string, string> = {},
    timeoutMs = 20 * 60_000,
  ): Promise<BundleRun> => {
    const t0 = Date.now();
    let partial = '';
    const r = await runBundle(name, inputs, {
      env: { NODE_EXTRA_CA_CERTS: caFile, ...extraEnv },
      timeoutMs,
      onStdout: (chunk) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) if (l.trim() && !l.startsWith('::add-mask::')) log(`  ${name} | ${l}`);
      },
    });
    if (partial.trim()) log(`  ${name} | ${partial}`);
    const secs = (Date.now() - t0) / 1000;
    log(`dist/${name}: exit ${r.code ?? r.signal} after ${secs.toFixed(1)} s`);
    if (r.stderr.trim())
      log(
        `  ${name} stderr | ${r.stderr
          .trim()
          .split('\n')
          .slice(-15)
          .join('\n  ' + name + ' stderr | ')}`,
      );
    const all = `${r.stdout}\n${r.stderr}\n${r.outputFile}\n${r.summary}`
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    for (const s of [...Object.values(SECRETS), key.privateKey.split('\n')[1]])
      assert(!all.includes(s), `dist/${name} leaked a secret value into its output`);
    return r;
  };
  const timed = async (name: string, fn: () => Promise<void>, needs: string[] = []) => {
    const t0 = Date.now();
    await suite.step(name, fn, { needs });
    timings.push([name, (Date.now() - t0) / 1000]);
  };

  const sub = () => `/subscriptions/${emu!.subscriptionId}/resourceGroups/${RG}/providers`;
  const facts = () => {
    const vm = emu!.world.get(`${sub()}/Microsoft.Compute/virtualMachines/${CLAW}`)?.body;
    const nicId: string | undefined = vm?.properties?.networkProfile?.networkInterfaces?.[0]?.id;
    const pip = emu!.world.get(`${sub()}/Microsoft.Network/publicIPAddresses/${CLAW}-pip`)?.body;
    return {
      vm: !!vm,
      version: vm?.tags?.['openclawps-image-version'] as string | undefined,
      nicId: nicId?.toLowerCase(),
      dataDiskId: (
        vm?.properties?.storageProfile?.dataDisks?.[0]?.managedDisk?.id as string | undefined
      )?.toLowerCase(),
      ip: pip?.properties?.ipAddress as string | undefined,
      vms: emu!.world.list('Microsoft.Compute/virtualMachines').length,
      osDisks: emu!.world
        .list('Microsoft.Compute/disks')
        .map((d) => d.body.name as string)
        .filter((n) => n.startsWith(`${CLAW}-os-`)),
    };
  };
  const ssh = async (command: string, timeoutMs = 60_000) => {
    const f = facts();
    const s = await connectSsh({
      host: f.ip!,
      port: 22,
      username: 'azureuser',
      privateKey: key.privateKey,
      retryUntilMs: 60_000,
      retryAuthFailures: true,
    });
    try {
      const r = await s.exec(command, { timeoutMs });
      if (r.code !== 0) throw new Error(`ssh ${command}: exit ${r.code}: ${r.stderr}`);
      return r.stdout.trim();
    } finally {
      s.close();
    }
  };
  const waitReadyz = async (timeoutMs = 180_000) => {
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 < timeoutMs) {
      last = await ssh('curl -sS -m 5 -o /dev/null -w "%{http_code}" http://127.0.0.1:18789/readyz || true');
      if (last === '200') break;
      await nspawn.run('sleep', ['3']);
    }
    log(`/readyz: ${last} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return last === '200';
  };

  const marker = `e2e-marker ${new Date().toISOString()} ${Math.random().toString(36).slice(2)}`;
  let before: ReturnType<typeof facts> | undefined;
  let fsUuid = '';
  let gatewayUp = false;
  const migrations = join(WORK, 'extra-updates');
  mkdirSync(migrations, { recursive: true });
  writeFileSync(
    join(migrations, '900-e2e-count.sh'),
    '#!/usr/bin/env bash\n# 900-e2e-count: counts its own runs on the data disk (the e2e test asserts exactly one)\n# claw-timeout: 30\nset -euo pipefail\n: "${CLAW_DATA:?run me through run-updates.sh}"\necho "ran $(date -u +%FT%TZ)" >> "$CLAW_DATA/e2e-migration-runs"\n',
    { mode: 0o755 },
  );

  try {
    await timed('emulator + nspawn guest (stock image, NAT for the builders)', async () => {
      const base = await nspawn.ensureBaseRoot({ log });
      const stock = stockRoot(base);
      log(
        `stock "Ubuntu 24.04" image = ${stock === base ? 'the Debian 12 base root' : `test:system's runtime layer ${stock}`}`,
      );
      guest = new NspawnGuest({
        workdir: join(WORK, 'guest'),
        stockRoot: stock,
        log,
        // the host's npm cache (test:system fills it): builders download the npm tarballs once per machine
        binds: [[npmCache(), '/root/.npm']],
        beforeBoot: (root) => {
          // no real Telegram/xAI behind the fake secrets: the gateway runs with channels skipped (as test:system)
          const dropIn = join(root, 'etc/systemd/system/openclaw-gateway.service.d');
          mkdirSync(dropIn, { recursive: true });
          writeFileSync(
            join(dropIn, '90-e2e.conf'),
            '[Service]\nEnvironment=OPENCLAW_SKIP_CHANNELS=1\nEnvironment=OPENCLAW_DISABLE_BONJOUR=1\nEnvironment=DO_NOT_TRACK=1\n',
          );
        },
      });
      emu = await startEmulator({ guest, latencyScale: 0 });
      writeFileSync(caFile, emu.ca);
      log(`emulator ${emu.url}`);
    });
    const up = ['emulator + nspawn guest (stock image, NAT for the builders)'];

    await timed(
      'dist/bake 1.0.0 from scratch (profile minimal, full cloud-init + install.sh in a booted builder)',
      async () => {
        const r = await bundle('bake', {
          version: '1.0.0',
          'resource-group': RG,
          profile: 'minimal',
          'cloud-init-timeout-minutes': '20',
          ...azure(),
        });
        assert(r.code === 0, `dist/bake 1.0.0 exit ${r.code}: ${r.stderr.slice(-1500)}`);
        assert(
          /1\.0\.0/.test(r.outputs['image-version-id'] ?? ''),
          `image-version-id output: ${r.outputs['image-version-id']}`,
        );
      },
      up,
    );
    const baked = [
      'dist/bake 1.0.0 from scratch (profile minimal, full cloud-init + install.sh in a booted builder)',
    ];

    await timed(
      'dist/stamp alice from 1.0.0',
      async () => {
        const r = await bundle('stamp', {
          'claw-name': CLAW,
          env,
          'resource-group': RG,
          'image-version': '1.0.0',
          'ssh-private-key': key.privateKey,
          'verify-timeout-seconds': '300',
          ...azure(),
        });
        assert(r.code === 0, `dist/stamp exit ${r.code}: ${r.stderr.slice(-1500)}`);
        const f = facts();
        assert(
          r.outputs['public-ip'] === f.ip && /^198\.(18|19)\./.test(f.ip ?? ''),
          `public-ip ${r.outputs['public-ip']} vs ${f.ip}`,
        );
        log(`alice: ${JSON.stringify(f)}`);
      },
      baked,
    );
    const stamped = ['dist/stamp alice from 1.0.0'];

    await timed(
      'marker written into the workspace over SSH; filesystem UUID recorded',
      async () => {
        await ssh(`printf '%s\\n' ${JSON.stringify(marker)} > ~/workspace/e2e-marker.txt && sync`);
        fsUuid = await ssh(FS_UUID);
        const src = await ssh('findmnt -n -o SOURCE,FSTYPE,LABEL /mnt/claw-data');
        log(`data disk: ${src}, UUID ${fsUuid}`);
        const label = await ssh('sudo -n blkid -o value -s LABEL "$(findmnt -n -o SOURCE /mnt/claw-data)"');
        assert(/ext4/.test(src) && label === 'claw-data', `mount: ${src}, label ${label}`);
        assert(!!fsUuid, 'no filesystem UUID');
        before = facts();
        gatewayUp = await waitReadyz(120_000);
        if (!gatewayUp)
          log('gateway does not answer /readyz on 1.0.0 (the /readyz assertions below will say so)');
      },
      stamped,
    );
    const marked = ['marker written into the workspace over SSH; filesystem UUID recorded'];

    await timed(
      'dist/bake 1.1.0 with an extra migration (900-e2e-count.sh)',
      async () => {
        const r = await bundle('bake', {
          version: '1.1.0',
          'resource-group': RG,
          profile: 'minimal',
          'extra-updates': migrations,
          'cloud-init-timeout-minutes': '20',
          ...azure(),
        });
        assert(r.code === 0, `dist/bake 1.1.0 exit ${r.code}: ${r.stderr.slice(-1500)}`);
      },
      marked,
    );

    await timed(
      'dist/upgrade alice 1.0.0 -> 1.1.0',
      async () => {
        const r = await bundle('upgrade', {
          'claw-name': CLAW,
          'resource-group': RG,
          'image-version': '1.1.0',
          'ssh-private-key': key.privateKey,
          'verify-timeout-seconds': '300',
          ...azure(),
        });
        assert(r.code === 0, `dist/upgrade exit ${r.code}: ${r.stderr.slice(-1500)}`);
        assert(
          r.outputs['previous-version'] === '1.0.0' &&
            r.outputs.version === '1.1.0' &&
            r.outputs['rolled-back'] === 'false',
          `outputs ${JSON.stringify(r.outputs)}`,
        );
        log(`downtime ${r.outputs['downtime-seconds']} s`);
      },
      ['dist/bake 1.1.0 with an extra migration (900-e2e-count.sh)'],
    );
    const upgraded = ['dist/upgrade alice 1.0.0 -> 1.1.0'];

    await timed(
      'after upgrade: migration ran once, marker intact, same filesystem UUID, same NIC/IP/data disk',
      async () => {
        const runs = await ssh('cat /mnt/claw-data/e2e-migration-runs');
        log(`e2e-migration-runs: ${runs.replace(/\n/g, ' | ')}`);
        assert(
          runs.split('\n').filter(Boolean).length === 1,
          `the migration ran ${runs.split('\n').filter(Boolean).length} times`,
        );
        const applied = await ssh('cat /mnt/claw-data/migrations/applied');
        assert(/900-e2e-count/.test(applied), `migrations/applied: ${applied}`);
        const m = await ssh('cat ~/workspace/e2e-marker.txt');
        assert(m === marker, `marker after upgrade: "${m}"`);
        const uuid = await ssh(FS_UUID);
        assert(uuid === fsUuid, `filesystem UUID ${uuid}, was ${fsUuid}`);
        const after = facts();
        log(`alice: ${JSON.stringify(after)}`);
        assert(after.version === '1.1.0', `version tag ${after.version}`);
        assert(
          after.nicId === before!.nicId && after.ip === before!.ip && after.dataDiskId === before!.dataDiskId,
          `NIC/IP/disk changed: ${JSON.stringify({ before, after })}`,
        );
        const img = await ssh('cat /opt/claw/image.json');
        assert(/"1\.1\.0"/.test(img), `/opt/claw/image.json: ${img}`);
      },
      upgraded,
    );

    await timed(
      'gateway answers /readyz after the upgrade',
      async () => {
        const has = await ssh('command -v openclaw || true');
        if (!has) skip('openclaw is not installed in the image (install.sh did not install it)');
        assert(
          await waitReadyz(),
          `/readyz did not answer 200: ${await ssh('systemctl status --no-pager openclaw-gateway.service 2>&1 | tail -15 || true')}`,
        );
      },
      upgraded,
    );

    await timed(
      'dist/verify: healthy, skips only with a reason',
      async () => {
        const r = await bundle('verify', {
          host: facts().ip!,
          port: '22',
          'ssh-private-key': key.privateKey,
          'timeout-seconds': '120',
        });
        // the action's `report` output is the lifecycle's report (checks, no summary counts)
        const report = JSON.parse(r.outputs.report ?? '{}') as {
          checks: Array<{ id: string; status: string; detail: string }>;
        };
        for (const c of report.checks)
          log(`  ${c.status.padEnd(4)} ${c.id}${c.status !== 'pass' ? ` — ${c.detail}` : ''}`);
        assert(
          r.code === 0 && r.outputs.healthy === 'true',
          `verify: exit ${r.code}, healthy=${r.outputs.healthy}, failed: ${r.outputs['failed-checks']}`,
        );
        const bare = report.checks.filter((c) => c.status === 'skip' && !c.detail.trim());
        assert(!bare.length, `skipped without a reason: ${bare.map((c) => c.id).join(', ')}`);
      },
      upgraded,
    );

    await timed(
      'dist/upgrade killed (SIGKILL at create-vm) -> re-run converges',
      async () => {
        const inputs = {
          'claw-name': CLAW,
          'resource-group': RG,
          'image-version': '1.0.0',
          force: 'true',
          'ssh-private-key': key.privateKey,
          'verify-timeout-seconds': '300',
          ...azure(),
        };
        const killed = await bundle('upgrade', inputs, { OPENCLAWPS_CRASH_AT: 'create-vm' });
        assert(
          killed.signal === 'SIGKILL',
          `the crash hook did not kill the upgrade (exit ${killed.code}, signal ${killed.signal})`,
        );
        log(`after the kill: ${JSON.stringify(facts())}`);
        const again = await bundle('upgrade', inputs);
        assert(again.code === 0, `re-run exit ${again.code}: ${again.stderr.slice(-1500)}`);
        const f = facts();
        log(`converged: ${JSON.stringify(f)}`);
        assert(f.vm && f.vms === 1 && f.version === '1.0.0', `not converged: ${JSON.stringify(f)}`);
        assert(
          f.nicId === before!.nicId && f.ip === before!.ip && f.dataDiskId === before!.dataDiskId,
          'NIC/IP/disk changed',
        );
        assert((await ssh('cat ~/workspace/e2e-marker.txt')) === marker, 'marker lost');
        assert((await ssh(FS_UUID)) === fsUuid, 'filesystem UUID changed');
        const runs = (await ssh('cat /mnt/claw-data/e2e-migration-runs')).split('\n').filter(Boolean).length;
        assert(runs === 1, `migration ran ${runs} times`);
      },
      upgraded,
    );
  } finally {
    await timed(
      'cleanup: emulator closed, no container, loop device, netns, veth or mount left',
      async () => {
        await emu?.close();
        if (!emu) await guest?.close();
        const errors = nspawn.cleanupAll(log);
        const left: string[] = [];
        const loops = (await nspawn.run('losetup', ['-n', '-O', 'NAME,BACK-FILE', '-l'])).stdout;
        if (loops.includes(WORK)) left.push(`loop devices: ${loops.trim()}`);
        const mounts = (await nspawn.run('findmnt', ['-rn', '-o', 'TARGET'])).stdout
          .split('\n')
          .filter((m) => m.startsWith(WORK));
        if (mounts.length) left.push(`mounts: ${mounts.join(' ')}`);
        const ns = (await nspawn.run('ip', ['netns', 'list'])).stdout;
        if (/ocps-pip-/.test(ns)) left.push(`netns: ${ns.trim()}`);
        assert(!errors.length && !left.length, [...errors, ...left].join('\n'));
        if (process.env.OPENCLAWPS_KEEP !== '1') rmSync(WORK, { recursive: true, force: true });
      },
    );
  }
  console.log(
    `\ne2e phase timings:\n${timings.map(([n, s]) => `  ${s.toFixed(1).padStart(7)} s  ${n}`).join('\n')}`,
  );
  return suite.finish();
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    nspawn.cleanupAll(log);
    console.log(
      `e2e: ${suite.counts.pass} passed, ${suite.counts.fail + 1} failed, ${suite.counts.skip} skipped`,
    );
    process.exit(1);
  },
);
