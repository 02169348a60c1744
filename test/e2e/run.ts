/**
 * End-to-end on real Linux guests (issue 6), through the REAL action bundles (dist/<name>/index.js run
 * like the Actions runner runs them), against the emulator with the nspawn guest backend:
 *
 *   dist/bake 1.0.0 (scratch, minimal: the full cloud-init's install.sh runs in a booted container)
 *   -> dist/stamp alice -> marker over SSH -> dist/bake 1.1.0 (+ a migration that counts its runs)
 *   -> dist/upgrade -> migration ran once, marker intact, same filesystem UUID, same NIC/IP, /readyz
 *   -> dist/verify healthy -> dist/upgrade killed (SIGKILL) mid-way -> re-run converges.
 *   Then the desktop profile: dist/bake 2.0.0 (XFCE, lightdm on a dummy Xorg, x11vnc, chromium)
 *   -> dist/stamp bob -> dist/verify with the desktop checks run for real (no desktop skip), an RFB
 *   handshake that demands a password, chromium opening a window on the shared desktop :0, and
 *   verify failing when x11vnc is stopped.
 *
 *   npm run test:e2e     (root; skips clearly without root or the tools)
 *
 * Env: OPENCLAWPS_E2E_STOCK=base|runtime (default runtime when test:system's cached runtime layer
 * exists: the "stock" image then already carries the apt packages, Node and the npm tarballs once;
 * install.sh still runs in full on every builder), OPENCLAWPS_E2E_WORK (default /var/tmp/openclawps-e2e).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { Client as SshClient } from 'ssh2';
import { formatEnv } from '@openclawps/config';
import { NspawnGuest, nspawnGuestProblems, nspawn, startEmulator, type Emulator } from '@openclawps/emulator';
import { connectSsh, generateEd25519KeyPair } from '@openclawps/guest';
import { repoRoot, runBundle, type BundleRun } from '../helpers/bundle';
import { assert, runSuite, skip, Suite } from '../system/harness';

const suite = new Suite('e2e');
const log = suite.log;
const WORK = process.env.OPENCLAWPS_E2E_WORK ?? '/var/tmp/openclawps-e2e';
const RG = 'rg-claws';
const CLAW = 'alice';
const DESKTOP_CLAW = 'bob';
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
  const envFor = (name: string, profile: 'minimal' | 'desktop') =>
    formatEnv(
      Object.entries({
        CLAW_NAME: name,
        PROFILE: profile,
        OPENCLAW_MODEL: 'xai/grok-4',
        ...SECRETS,
        TELEGRAM_USER_ID: '5551234567',
        RESOURCE_GROUP: RG,
      }),
    );
  const env = envFor(CLAW, 'minimal');
  /** Every bundle's stdout, stderr, GITHUB_OUTPUT and summary, for secrets learned later (the VNC password). */
  const transcripts: string[] = [];
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
    transcripts.push(all);
    return r;
  };
  // OPENCLAWPS_E2E_ONLY=desktop (development): only the desktop steps (and the emulator, the cleanup)
  const only = process.env.OPENCLAWPS_E2E_ONLY;
  /** Runs a step (skipped when one of `needs` did not pass); returns its name, for later `needs`. */
  const timed = async (name: string, fn: () => Promise<void>, needs: string[] = []): Promise<string> => {
    const t0 = Date.now();
    const wanted =
      only !== 'desktop' ||
      /^(emulator|cleanup|desktop)/.test(name) ||
      name.includes(DESKTOP_CLAW) ||
      name.includes('2.0.0');
    await suite.step(name, wanted ? fn : async () => skip(`OPENCLAWPS_E2E_ONLY=${only}`), { needs });
    timings.push([name, (Date.now() - t0) / 1000]);
    return name;
  };
  const bakeImage = async (
    version: string,
    profile: 'minimal' | 'desktop',
    extra: Record<string, string> = {},
  ) => {
    const r = await bundle('bake', {
      version,
      'resource-group': RG,
      profile,
      'cloud-init-timeout-minutes': profile === 'desktop' ? '25' : '20',
      ...extra,
      ...azure(),
    });
    assert(r.code === 0, `dist/bake ${version} exit ${r.code}: ${r.stderr.slice(-1500)}`);
    return r;
  };

  const sub = () => `/subscriptions/${emu!.subscriptionId}/resourceGroups/${RG}/providers`;
  const facts = (claw = CLAW) => {
    const vm = emu!.world.get(`${sub()}/Microsoft.Compute/virtualMachines/${claw}`)?.body;
    const nicId: string | undefined = vm?.properties?.networkProfile?.networkInterfaces?.[0]?.id;
    const pip = emu!.world.get(`${sub()}/Microsoft.Network/publicIPAddresses/${claw}-pip`)?.body;
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
        .filter((n) => n.startsWith(`${claw}-os-`)),
    };
  };
  const ssh = async (command: string, timeoutMs = 60_000, claw = CLAW) => {
    const f = facts(claw);
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
  const waitReadyz = async (timeoutMs = 180_000, claw = CLAW) => {
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 < timeoutMs) {
      last = await ssh(
        'curl -sS -m 5 -o /dev/null -w "%{http_code}" http://127.0.0.1:18789/readyz || true',
        60_000,
        claw,
      );
      if (last === '200') break;
      await nspawn.run('sleep', ['3']);
    }
    log(`/readyz: ${last} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return last === '200';
  };

  /** What a claw says about itself when a step on it failed: the failing checks, failed units, journals. */
  const diagnose = async (claw: string) => {
    const out = await ssh(
      'sudo -n /opt/claw/verify --text 2>&1 | grep -v "\\[PASS\\]" | tail -n 40; ' +
        'systemctl --failed --no-legend --plain 2>&1 | head; ' +
        'sudo -n journalctl -b --no-pager -n 25 -u lightdm -u x11vnc -u claw-boot 2>&1 | cut -c1-240 || true',
      60_000,
      claw,
    ).catch((e: Error) => `(no diagnostics: ${e.message})`);
    log(`diagnostics of ${claw}:\n${out}`);
  };

  /** dist/verify against a claw; logs every check. The `report` output is the lifecycle's report. */
  const verifyBundle = async (claw: string) => {
    const r = await bundle('verify', {
      host: facts(claw).ip!,
      port: '22',
      'ssh-private-key': key.privateKey,
      'timeout-seconds': '120',
    });
    const report = JSON.parse(r.outputs.report ?? '{"checks":[]}') as {
      checks: Array<{ id: string; group: string; status: string; detail: string }>;
    };
    for (const c of report.checks)
      log(`  ${c.status.padEnd(4)} ${c.id}${c.status !== 'pass' ? ` — ${c.detail}` : ''}`);
    return { r, report };
  };

  const marker = `e2e-marker ${new Date().toISOString()} ${Math.random().toString(36).slice(2)}`;
  let before: ReturnType<typeof facts> | undefined;
  let fsUuid = '';
  const migrations = join(WORK, 'extra-updates');
  mkdirSync(migrations, { recursive: true });
  writeFileSync(
    join(migrations, '900-e2e-count.sh'),
    '#!/usr/bin/env bash\n# 900-e2e-count: counts its own runs on the data disk (the e2e test asserts exactly one)\n# claw-timeout: 30\nset -euo pipefail\n: "${CLAW_DATA:?run me through run-updates.sh}"\necho "ran $(date -u +%FT%TZ)" >> "$CLAW_DATA/e2e-migration-runs"\n',
    { mode: 0o755 },
  );

  try {
    const up = await timed('emulator + nspawn guest (stock image, NAT for the builders)', async () => {
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

    const baked = await timed(
      'dist/bake 1.0.0 from scratch (profile minimal, full cloud-init + install.sh in a booted builder)',
      async () => {
        const r = await bakeImage('1.0.0', 'minimal');
        assert(
          /1\.0\.0/.test(r.outputs['image-version-id'] ?? ''),
          `image-version-id output: ${r.outputs['image-version-id']}`,
        );
      },
      [up],
    );

    const stamped = await timed(
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
      [baked],
    );

    const marked = await timed(
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
      },
      [stamped],
    );

    const bakedNext = await timed(
      'dist/bake 1.1.0 with an extra migration (900-e2e-count.sh)',
      async () => void (await bakeImage('1.1.0', 'minimal', { 'extra-updates': migrations })),
      [marked],
    );

    const upgraded = await timed(
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
        // the old VM was stopped over SSH (gateway + sidecar stopped, disks synced), not deallocated
        assert(
          /phase quiesce/.test(r.stdout) && !/phase deallocate/.test(r.stdout),
          `the stop was not the SSH quiesce: ${r.stdout
            .split('\n')
            .filter((l) => /phase (quiesce|deallocate)|could not stop/.test(l))
            .join(' | ')}`,
        );
      },
      [bakedNext],
    );

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
      [upgraded],
    );

    await timed(
      'gateway answers /readyz after the upgrade',
      async () => {
        assert(await ssh('command -v openclaw || true'), 'openclaw is not installed in the image');
        assert(
          await waitReadyz(),
          `/readyz did not answer 200: ${await ssh('systemctl status --no-pager openclaw-gateway.service 2>&1 | tail -15 || true')}`,
        );
      },
      [upgraded],
    );

    await timed(
      'dist/verify: healthy, skips only with a reason',
      async () => {
        const { r, report } = await verifyBundle(CLAW);
        assert(
          r.code === 0 && r.outputs.healthy === 'true',
          `verify: exit ${r.code}, healthy=${r.outputs.healthy}, failed: ${r.outputs['failed-checks']}`,
        );
        const bare = report.checks.filter((c) => c.status === 'skip' && !c.detail.trim());
        assert(!bare.length, `skipped without a reason: ${bare.map((c) => c.id).join(', ')}`);
      },
      [upgraded],
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
      [upgraded],
    );

    // ---- the desktop profile, once: what a claw with a desktop really runs in a booted guest
    const bakedDesktop = await timed(
      'dist/bake 2.0.0 (profile desktop: XFCE + lightdm on a dummy Xorg, x11vnc, chromium)',
      async () => void (await bakeImage('2.0.0', 'desktop')),
      [up],
    );
    const desktopStamped = await timed(
      `dist/stamp ${DESKTOP_CLAW} from 2.0.0 (profile desktop)`,
      async () => {
        const r = await bundle('stamp', {
          'claw-name': DESKTOP_CLAW,
          env: envFor(DESKTOP_CLAW, 'desktop'),
          'resource-group': RG,
          'image-version': '2.0.0',
          'ssh-private-key': key.privateKey,
          'verify-timeout-seconds': '300',
          ...azure(),
        });
        if (r.code !== 0) await diagnose(DESKTOP_CLAW);
        assert(r.code === 0, `dist/stamp ${DESKTOP_CLAW} exit ${r.code}: ${r.stderr.slice(-1500)}`);
        assert(r.outputs['vnc-url'] === 'vnc://localhost:5900', `vnc-url output: ${r.outputs['vnc-url']}`);
        log(`${DESKTOP_CLAW}: ${JSON.stringify(facts(DESKTOP_CLAW))}`);
      },
      [bakedDesktop],
    );
    const sshBob = (command: string, timeoutMs = 60_000) => ssh(command, timeoutMs, DESKTOP_CLAW);

    await timed(
      'desktop: dist/verify healthy with every desktop check run for real (none skipped)',
      async () => {
        const { r, report } = await verifyBundle(DESKTOP_CLAW);
        if (r.outputs.healthy !== 'true') await diagnose(DESKTOP_CLAW);
        assert(
          r.code === 0 && r.outputs.healthy === 'true',
          `verify: exit ${r.code}, healthy=${r.outputs.healthy}, failed: ${r.outputs['failed-checks']}`,
        );
        const status = new Map(report.checks.map((c) => [c.id, c.status]));
        const desktopChecks = [
          'services.lightdm',
          'services.x11vnc',
          'display.x0',
          'display.session',
          'vnc.password',
          'vnc.listening',
          'vnc.exposure',
          'vnc.rfb',
          'binaries.chromium',
          'binaries.x11vnc',
        ];
        const notPassed = desktopChecks.filter((id) => status.get(id) !== 'pass');
        assert(
          !notPassed.length,
          `desktop checks not passed: ${notPassed.map((id) => `${id}=${status.get(id) ?? 'absent'}`).join(', ')}`,
        );
        const skipped = report.checks.filter((c) => c.status === 'skip');
        log(
          `skips left on the desktop claw: ${skipped.map((c) => `${c.id} (${c.detail})`).join('; ') || 'none'}`,
        );
        assert(
          !skipped.some((c) => /desktop|vnc|display/i.test(`${c.group} ${c.detail}`)),
          `a desktop check was skipped: ${skipped.map((c) => c.id).join(', ')}`,
        );
      },
      [desktopStamped],
    );

    await timed(
      'desktop: XFCE on the 1920x1080 dummy :0, chromium opens a window there; the VNC password is in no output',
      async () => {
        const dims = await sshBob('DISPLAY=:0 xdpyinfo | grep -m1 dimensions');
        const wm = await sshBob('DISPLAY=:0 wmctrl -m | head -n1');
        log(`:0 ${dims.trim()}; window manager ${wm}`);
        assert(/1920x1080 pixels/.test(dims), `xdpyinfo: ${dims}`);
        assert(/Xfwm4/.test(wm), `wmctrl -m: ${wm}`);
        // the gateway's environment (User=azureuser, DISPLAY=:0): the agent's browser must reach the desktop
        const title = `claw-e2e-${Math.random().toString(36).slice(2, 8)}`;
        await sshBob(
          `d="$(mktemp -d)"; DISPLAY=:0 setsid -f chromium --no-sandbox --no-first-run --disable-gpu ` +
            `--user-data-dir="$d" --app='data:text/html,<title>${title}</title>' >/tmp/e2e-chromium.log 2>&1 < /dev/null`,
        );
        const t0 = Date.now();
        let windows = '';
        while (Date.now() - t0 < 90_000) {
          windows = await sshBob('DISPLAY=:0 wmctrl -l || true');
          if (windows.includes(title)) break;
          await nspawn.run('sleep', ['2']);
        }
        log(
          `chromium window after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${windows.split('\n').find((l) => l.includes(title)) ?? 'none'}`,
        );
        const chromiumLog = windows.includes(title)
          ? ''
          : await sshBob('tail -n 20 /tmp/e2e-chromium.log || true');
        // the bracket keeps pkill from matching the shell that runs it
        await sshBob('pkill -f "[u]ser-data-dir=/tmp/tmp" || true');
        assert(windows.includes(title), `no chromium window "${title}" on :0: ${windows}\n${chromiumLog}`);
        const password = await sshBob('head -n1 ~/vnc-password.txt');
        assert(password.length >= 8, 'the VNC password on the disk is shorter than 8 characters');
        const leaked = transcripts.filter((t) => t.includes(password)).length;
        assert(!leaked, `the VNC password appears in ${leaked} bundle transcript(s)`);
      },
      [desktopStamped],
    );

    await timed(
      'desktop: VNC answers through an SSH tunnel (the stamp output vnc://localhost:5900), refused on the public IP',
      async () => {
        const ip = facts(DESKTOP_CLAW).ip!;
        const greeting = await new Promise<string>((resolve, reject) => {
          const c = new SshClient();
          const timer = setTimeout(
            () => reject(new Error('no RFB greeting through the tunnel in 20 s')),
            20_000,
          );
          c.on('ready', () =>
            c.forwardOut('127.0.0.1', 0, '127.0.0.1', 5900, (err, stream) => {
              if (err) return reject(err);
              stream.once('data', (d: Buffer) => {
                clearTimeout(timer);
                resolve(d.toString('latin1').trim());
                stream.end();
                c.end();
              });
            }),
          )
            .on('error', reject)
            .connect({ host: ip, port: 22, username: 'azureuser', privateKey: key.privateKey });
        });
        log(`through the tunnel: ${greeting}`);
        assert(/^RFB 003\.00\d$/.test(greeting), `RFB greeting through the tunnel: ${greeting}`);
        const direct = await new Promise<string>((resolve) => {
          const sock = netConnect({ host: ip, port: 5900 });
          sock.setTimeout(5000, () => {
            sock.destroy();
            resolve('timeout');
          });
          sock.once('connect', () => {
            sock.destroy();
            resolve('connected');
          });
          sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
        });
        log(`${ip}:5900 directly: ${direct}`);
        assert(direct === 'ECONNREFUSED', `VNC on the public IP ${ip}:5900: ${direct} (expected refused)`);
      },
      [desktopStamped],
    );

    await timed(
      'desktop: x11vnc stopped -> dist/verify unhealthy on vnc.listening + vnc.rfb; started -> healthy',
      async () => {
        await sshBob('sudo -n systemctl stop x11vnc.service');
        const down = await verifyBundle(DESKTOP_CLAW);
        const failed = (down.r.outputs['failed-checks'] ?? '').split(',').map((x) => x.trim());
        assert(
          down.r.code !== 0 && down.r.outputs.healthy === 'false',
          `verify with x11vnc stopped: exit ${down.r.code}, healthy=${down.r.outputs.healthy}`,
        );
        assert(
          failed.includes('vnc.listening') && failed.includes('vnc.rfb'),
          `failed-checks: ${down.r.outputs['failed-checks']}`,
        );
        // a stop is clean: x11vnc inactive, not a failed unit
        assert(
          !failed.includes('services.failed-units'),
          `a stopped x11vnc counts as failed: ${failed.join(', ')}`,
        );
        await sshBob('sudo -n systemctl start x11vnc.service');
        const t0 = Date.now();
        let up2 = await verifyBundle(DESKTOP_CLAW);
        while (up2.r.outputs.healthy !== 'true' && Date.now() - t0 < 60_000) {
          await nspawn.run('sleep', ['3']);
          up2 = await verifyBundle(DESKTOP_CLAW);
        }
        assert(up2.r.outputs.healthy === 'true', `after a restart: ${up2.r.outputs['failed-checks']}`);
      },
      [desktopStamped],
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

runSuite(suite, main, () => nspawn.cleanupAll(log));
