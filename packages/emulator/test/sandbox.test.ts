/**
 * The sandbox guest through the emulator with the real SDK clients and the real ssh2 client:
 * custom data applied once, the real boot.sh run, SSH by key only, data disk directories following
 * attach/detach across deallocate/start and delete+recreate, image versions copying content.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { SandboxGuest, rewritePaths, startEmulator, type Emulator } from '@openclawps/emulator';
import { connectSsh, generateEd25519KeyPair, type SshSession } from '@openclawps/guest';
import { renderFullCloudInit } from '@openclawps/templates';
import { clients, fast, LOC, stampNetwork, vmParams, type Clients, UBUNTU, imageDefinition } from './clients';

const key = generateEd25519KeyPair({ comment: 'sandbox-test' });
const wrongKey = generateEd25519KeyPair({ comment: 'intruder' });

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** An osProfile for azureuser that logs in only with `key` (and runs this custom data, if any). */
const keyLogin = (computerName: string, customData?: string) => ({
  computerName,
  adminUsername: 'azureuser',
  ...(customData !== undefined ? { customData } : {}),
  linuxConfiguration: {
    disablePasswordAuthentication: true,
    ssh: { publicKeys: [{ path: '/home/azureuser/.ssh/authorized_keys', keyData: key.publicKey }] },
  },
});

function customData(): string {
  const yaml = [
    '#cloud-config',
    'write_files:',
    '  - path: /etc/claw/claw.json',
    "    permissions: '0644'",
    '    encoding: b64',
    `    content: ${b64(JSON.stringify({ claw: 'alice', adminUser: 'azureuser', vncExposure: 'localhost', profile: 'minimal' }))}`,
    '  - path: /etc/claw/claw.env',
    "    permissions: '0600'",
    '    encoding: gz+b64',
    `    content: ${gzipSync("OPENCLAW_MODEL='xai/grok-4'\nXAI_API_KEY='xai-sandbox-test-not-a-real-key-0000'\n").toString('base64')}`,
    '  - path: /etc/claw/note.txt',
    '    content: plain text note',
    'runcmd:',
    '  - [env, CLAW_PROFILE=minimal, /opt/claw/install.sh, --profile, minimal]',
    '  - [systemctl, start, --no-block, claw-boot.service]',
    '  - [apt-get, install, -y, cowsay]',
    '',
  ].join('\n');
  return b64(yaml);
}

describe('rewritePaths', () => {
  const r = '/w/root';
  it.each([
    ['sudo -n /opt/claw/verify', 'sudo -n /w/root/opt/claw/verify'],
    [
      "sh -c 'cat > /etc/claw/x.tmp; mv -f /etc/claw/x.tmp /etc/claw/x'",
      "sh -c 'cat > /w/root/etc/claw/x.tmp; mv -f /w/root/etc/claw/x.tmp /w/root/etc/claw/x'",
    ],
    ['ls /usr/bin /dev/null 2>/dev/null', 'ls /usr/bin /dev/null 2>/dev/null'],
    ['curl https://example.com/readyz', 'curl https://example.com/readyz'],
    ['ls /dev/disk/azure/scsi1', 'ls /w/root/dev/disk/azure/scsi1'],
    ['find / -name x', 'find /w/root/ -name x'],
    ["sed -e 's/a/b/' /tmp/f", "sed -e 's/a/b/' /w/root/tmp/f"],
    ['cat /w/root/etc/hostname', 'cat /w/root/etc/hostname'],
    ['PATH=/opt/x:$PATH', 'PATH=/w/root/opt/x:$PATH'],
  ])('%s', (cmd, want) => expect(rewritePaths(cmd, r)).toBe(want));
});

describe('sandbox guest through the emulator', () => {
  let emu: Emulator;
  let guest: SandboxGuest;
  let c: Clients;
  let ip: string;
  let nicId: string;
  let dataDiskId: string;
  const sessions: SshSession[] = [];

  const ssh = async (privateKey = key.privateKey) => {
    const s = await connectSsh({
      host: ip,
      port: emu.sshPort,
      username: 'azureuser',
      privateKey,
      readyTimeoutMs: 10_000,
    });
    sessions.push(s);
    return s;
  };
  const osRoot = async (vmName: string) => {
    const vm = await c.compute.virtualMachines.get('rg1', vmName);
    return guest.diskDir(vm.storageProfile!.osDisk!.managedDisk!.id!);
  };
  const createVm = (name: string, osDisk: string, extra: Record<string, unknown> = {}) =>
    c.compute.virtualMachines.beginCreateOrUpdateAndWait(
      'rg1',
      name,
      vmParams(nicId, {
        storageProfile: {
          imageReference: UBUNTU,
          osDisk: { name: osDisk, createOption: 'FromImage', deleteOption: 'Delete' },
          dataDisks: [
            { lun: 0, createOption: 'Attach', managedDisk: { id: dataDiskId }, deleteOption: 'Detach' },
          ],
        },
        osProfile: keyLogin('alice', customData()),
        ...extra,
      }) as never,
      fast,
    );

  beforeAll(async () => {
    guest = new SandboxGuest();
    emu = await startEmulator({ latencyScale: 0, guest });
    c = clients(emu);
    const net = await stampNetwork(c, 'rg1', 'alice');
    ip = net.pip.ipAddress!;
    nicId = net.nic.id!;
    const disk = await c.compute.disks.beginCreateOrUpdateAndWait(
      'rg1',
      'alice-data',
      { location: LOC, diskSizeGB: 32, creationData: { createOption: 'Empty' } },
      fast,
    );
    dataDiskId = disk.id!;
    await createVm('alice', 'alice-os-1-0-0');
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await emu.close();
    expect(existsSync(guest.workdir)).toBe(false);
  });

  it('gives the public IP a loopback address and reports the SSH endpoint', async () => {
    expect(ip).toMatch(/^127\.0\.\d+\.\d+$/);
    expect(ip).not.toBe('127.0.0.1');
    expect(emu.sshPort).toBeGreaterThan(1024);
    expect(await emu.sshEndpoint(ip)).toEqual({ host: ip, port: emu.sshPort });
  });

  it('applied the custom data and ran the real boot.sh', async () => {
    const root = await osRoot('alice');
    expect(readFileSync(path.join(root, 'etc/claw/note.txt'), 'utf8')).toBe('plain text note');
    expect(readFileSync(path.join(root, 'etc/claw/claw.env'), 'utf8')).toContain('OPENCLAW_MODEL=');
    expect((statSync(path.join(root, 'etc/claw/claw.env')).mode & 0o777).toString(8)).toBe('600');
    expect(existsSync(path.join(root, 'opt/claw/boot.sh'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(root, 'opt/claw/image.json'), 'utf8')).profile).toBe('minimal');
    const bootLog = readFileSync(path.join(root, 'var/log/claw-boot.log'), 'utf8');
    expect(bootLog).toContain('=== claw-boot start: claw=alice');
    expect(bootLog).toContain('sandbox data disk');
    const ci = readFileSync(path.join(root, 'var/log/cloud-init-output.log'), 'utf8');
    expect(ci).toContain('apt-get install -y cowsay -> not run in the sandbox');
    // the data disk directory got seeded by boot.sh through the LUN 0 link
    expect(existsSync(path.join(guest.diskDir(dataDiskId), '.claw-initialized'))).toBe(true);
  });

  it('accepts the osProfile key, refuses a wrong one, runs commands inside the sandbox', async () => {
    await expect(
      connectSsh({
        host: ip,
        port: emu.sshPort,
        username: 'azureuser',
        privateKey: wrongKey.privateKey,
        readyTimeoutMs: 10_000,
      }),
    ).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    const s = await ssh();
    const r = await s.exec('sudo -n cat /etc/claw/claw.json && pwd && echo "$CLAW_SANDBOX"');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"claw":"alice"');
    expect(r.stdout).toContain(`${await osRoot('alice')}/home/azureuser`);
    const bad = await s.exec('echo oops >&2; exit 7');
    expect(bad).toMatchObject({ code: 7, stderr: 'oops\n' });
    const v = await s.exec('sudo -n /opt/claw/verify');
    const report = JSON.parse(v.stdout);
    expect(report.claw).toBe('alice');
    expect(report.checks.find((x: { id: string }) => x.id === 'disk.mounted').status).toBe('pass');
    expect((await s.exec('systemctl is-active claw-boot.service')).stdout.trim()).toBe('active');
    const w = await s.exec(
      'echo "remember me" > ~/workspace/marker.txt && cat /mnt/claw-data/workspace/marker.txt',
    );
    expect(w.stdout).toBe('remember me\n');
    expect(readFileSync(path.join(guest.diskDir(dataDiskId), 'workspace/marker.txt'), 'utf8')).toBe(
      'remember me\n',
    );
  });

  it('keeps the data disk and host key across deallocate/start; SSH refuses while off', async () => {
    const root = await osRoot('alice');
    const hostKey = readFileSync(path.join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8');
    await c.compute.virtualMachines.beginDeallocateAndWait('rg1', 'alice', fast);
    await expect(ssh()).rejects.toThrow(/refused/i);
    await c.compute.virtualMachines.beginStartAndWait('rg1', 'alice', fast);
    const s = await ssh();
    expect((await s.exec('cat ~/workspace/marker.txt')).stdout).toBe('remember me\n');
    expect(readFileSync(path.join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).toBe(hostKey);
    // custom data is applied once per instance, boot.sh every boot
    const ci = readFileSync(path.join(root, 'var/log/cloud-init-output.log'), 'utf8');
    expect(ci.match(/write_files: \/etc\/claw\/note.txt/g)).toHaveLength(1);
    const boots = readFileSync(path.join(root, 'var/log/claw-boot.log'), 'utf8').match(
      /=== claw-boot start/g,
    );
    expect(boots!.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps a Detach data disk through VM delete + recreate; the new OS disk has a new host key', async () => {
    const oldRoot = await osRoot('alice');
    const oldKey = readFileSync(path.join(oldRoot, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8');
    await c.compute.virtualMachines.beginDeleteAndWait('rg1', 'alice', fast);
    expect(existsSync(oldRoot)).toBe(false);
    expect(existsSync(path.join(guest.diskDir(dataDiskId), 'workspace/marker.txt'))).toBe(true);
    await createVm('alice', 'alice-os-1-1-0');
    const root = await osRoot('alice');
    expect(root).not.toBe(oldRoot);
    expect(readFileSync(path.join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).not.toBe(oldKey);
    const s = await ssh();
    expect((await s.exec('cat ~/workspace/marker.txt')).stdout).toBe('remember me\n');
  });

  it('copies disk content into snapshots and disks made from them', async () => {
    const snap = await c.compute.snapshots.beginCreateOrUpdateAndWait(
      'rg1',
      'alice-data-snap',
      {
        location: LOC,
        incremental: true,
        creationData: { createOption: 'Copy', sourceResourceId: dataDiskId },
      },
      fast,
    );
    expect(readFileSync(path.join(guest.snapshotDir(snap.id!), 'workspace/marker.txt'), 'utf8')).toBe(
      'remember me\n',
    );
    const restored = await c.compute.disks.beginCreateOrUpdateAndWait(
      'rg1',
      'alice-data-restored',
      { location: LOC, creationData: { createOption: 'Copy', sourceResourceId: snap.id } },
      fast,
    );
    expect(readFileSync(path.join(guest.diskDir(restored.id!), 'workspace/marker.txt'), 'utf8')).toBe(
      'remember me\n',
    );
    await c.compute.disks.beginDeleteAndWait('rg1', 'alice-data-restored', fast);
    await c.compute.snapshots.beginDeleteAndWait('rg1', 'alice-data-snap', fast);
    expect(existsSync(guest.diskDir(restored.id!))).toBe(false);
    expect(existsSync(guest.snapshotDir(snap.id!))).toBe(false);
  });

  it('captures a generalized VM into an image version and boots a VM from it', async () => {
    const root = await osRoot('alice');
    const s = await ssh();
    // the bake-style scrub
    const scrub = await s.exec(
      'sudo -n cloud-init clean --logs --seed && sudo -n waagent -deprovision+user -force',
    );
    expect(scrub.code).toBe(0);
    s.close();
    await c.compute.virtualMachines.beginDeallocateAndWait('rg1', 'alice', fast);
    await c.compute.virtualMachines.generalize('rg1', 'alice');
    await c.compute.galleries.beginCreateOrUpdateAndWait('rg1', 'clawGallery', { location: LOC }, fast);
    await c.compute.galleryImages.beginCreateOrUpdateAndWait(
      'rg1',
      'clawGallery',
      'claw-base',
      imageDefinition('Generalized', { publisher: 'openclawps', offer: 'claw', sku: 'base' }, [
        { name: 'SecurityType', value: 'TrustedLaunchSupported' },
      ]),
      fast,
    );
    const vm = await c.compute.virtualMachines.get('rg1', 'alice');
    const version = await c.compute.galleryImageVersions.beginCreateOrUpdateAndWait(
      'rg1',
      'clawGallery',
      'claw-base',
      '1.0.0',
      { location: LOC, storageProfile: { source: { virtualMachineId: vm.id } } } as never,
      fast,
    );
    const img = path.join(guest.imageDir(version.id!), 'os');
    expect(existsSync(path.join(img, 'opt/claw/boot.sh'))).toBe(true);
    expect(existsSync(path.join(img, 'etc/ssh/ssh_host_ed25519_key'))).toBe(false);
    expect(existsSync(path.join(img, 'home/azureuser'))).toBe(false);
    expect(existsSync(path.join(img, 'dev/disk/azure/scsi1/lun0'))).toBe(false);
    expect(existsSync(root)).toBe(true);
    // a second claw from the image
    const d2 = await c.compute.disks.beginCreateOrUpdateAndWait(
      'rg1',
      'bob-data',
      { location: LOC, diskSizeGB: 32, creationData: { createOption: 'Empty' } },
      fast,
    );
    const net = await stampNetwork(c, 'rg1', 'bob');
    await c.compute.virtualMachines.beginCreateOrUpdateAndWait(
      'rg1',
      'bob',
      vmParams(net.nic.id!, {
        storageProfile: {
          imageReference: { id: version.id },
          osDisk: { name: 'bob-os-1-0-0', createOption: 'FromImage', deleteOption: 'Delete' },
          dataDisks: [{ lun: 0, createOption: 'Attach', managedDisk: { id: d2.id }, deleteOption: 'Detach' }],
        },
        osProfile: keyLogin('bob'),
      }) as never,
      fast,
    );
    const bobRoot = await osRoot('bob');
    expect(existsSync(path.join(bobRoot, 'opt/claw/boot.sh'))).toBe(true);
    expect(existsSync(path.join(bobRoot, 'var/log/claw-boot.log'))).toBe(true);
    expect(net.pip.ipAddress).not.toBe(ip);
    const bs = await connectSsh({
      host: net.pip.ipAddress!,
      port: emu.sshPort,
      username: 'azureuser',
      privateKey: key.privateKey,
    });
    sessions.push(bs);
    expect((await bs.exec('cat /etc/hostname; test -d /mnt/claw-data/workspace && echo seeded')).stdout).toBe(
      'bob\nseeded\n',
    );
  });
});

/** A fresh emulator with a sandbox guest and one VM `name` (with this osProfile) in rg1; closed after `fn`. */
async function withSandboxVm(
  name: string,
  osProfile: Record<string, unknown>,
  fn: (v: { emu: Emulator; net: Awaited<ReturnType<typeof stampNetwork>>; root: string }) => Promise<void>,
): Promise<void> {
  const guest = new SandboxGuest();
  const emu = await startEmulator({ latencyScale: 0, guest });
  try {
    const c = clients(emu);
    const net = await stampNetwork(c, 'rg1', name);
    const vm = await c.compute.virtualMachines.beginCreateOrUpdateAndWait(
      'rg1',
      name,
      vmParams(net.nic.id!, { osProfile }) as never,
      fast,
    );
    await fn({ emu, net, root: guest.diskDir(vm.storageProfile!.osDisk!.managedDisk!.id!) });
  } finally {
    await emu.close();
  }
}

describe('sandbox guest: a bake builder from stock Ubuntu with the full cloud-init', () => {
  it('installs the payload with the real install.sh (payload only) and does not run claw-boot', async () => {
    const osProfile = keyLogin('builder', b64(renderFullCloudInit({ profile: 'minimal' })));
    await withSandboxVm('builder', osProfile, async ({ emu, net, root }) => {
      const log = readFileSync(path.join(root, 'var/log/cloud-init-output.log'), 'utf8');
      expect(log).toMatch(/install\.sh --payload-only --profile minimal: exit 0/);
      expect(JSON.parse(readFileSync(path.join(root, 'opt/claw/image.json'), 'utf8'))).toMatchObject({
        profile: 'minimal',
        distro: 'ubuntu:24.04',
      });
      expect(existsSync(path.join(root, 'etc/sandbox-systemd/claw-boot.service.enabled'))).toBe(true);
      expect(existsSync(path.join(root, 'var/log/claw-boot.log'))).toBe(false);
      const s = await connectSsh({
        host: net.pip.ipAddress!,
        port: emu.sshPort,
        username: 'azureuser',
        privateKey: key.privateKey,
      });
      const st = await s.exec(
        'sudo -n timeout 60 cloud-init status --wait --long; systemctl is-enabled claw-boot.service',
      );
      s.close();
      expect(st.stdout).toBe('status: done\nenabled\n');
    });
  });
});

describe('sandbox guest: admin password', () => {
  it('accepts the osProfile admin password when password authentication is enabled, refuses a wrong one', async () => {
    const password = 'Sandbox-Passw0rd!x';
    const osProfile = {
      computerName: 'dave',
      adminUsername: 'azureuser',
      adminPassword: password,
      linuxConfiguration: { disablePasswordAuthentication: false },
    };
    await withSandboxVm('dave', osProfile, async ({ emu, net, root }) => {
      expect(readFileSync(path.join(root, 'etc/sandbox-shadow'), 'utf8')).not.toContain(password);
      const host = net.pip.ipAddress!;
      const s = await connectSsh({ host, port: emu.sshPort, username: 'azureuser', password });
      expect((await s.exec('echo "$USER $HOME"')).stdout).toBe(`azureuser ${root}/home/azureuser\n`);
      s.close();
      await expect(
        connectSsh({ host, port: emu.sshPort, username: 'azureuser', password: 'Wrong-Passw0rd!x' }),
      ).rejects.toMatchObject({ code: 'AUTH_FAILED' });
      await expect(
        connectSsh({ host, port: emu.sshPort, username: 'azureuser', privateKey: key.privateKey }),
      ).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    });
  });
});

describe('sandbox guest with a persisted world', () => {
  it('a restarted emulator finds the same disks, addresses, SSH port and host key', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'sandbox-state-'));
    const statePath = path.join(dir, 'world.json');
    try {
      const g1 = new SandboxGuest({ statePath });
      const e1 = await startEmulator({ latencyScale: 0, guest: g1, statePath });
      const c1 = clients(e1);
      const net = await stampNetwork(c1, 'rg1', 'carol');
      await c1.compute.virtualMachines.beginCreateOrUpdateAndWait(
        'rg1',
        'carol',
        vmParams(net.nic.id!, {
          osProfile: keyLogin('carol'),
        }) as never,
        fast,
      );
      const s1 = await connectSsh({
        host: net.pip.ipAddress!,
        port: e1.sshPort,
        username: 'azureuser',
        privateKey: key.privateKey,
      });
      expect((await s1.exec('echo kept > ~/note && cat /etc/hostname')).stdout).toBe('carol\n');
      const fp = s1.hostKeyFingerprint;
      s1.close();
      const port = e1.sshPort;
      await e1.close();
      expect(existsSync(g1.workdir)).toBe(true);

      const g2 = new SandboxGuest({ statePath });
      const e2 = await startEmulator({ latencyScale: 0, guest: g2, statePath });
      try {
        expect(e2.sshPort).toBe(port);
        const pip = await clients(e2).network.publicIPAddresses.get('rg1', 'carol-pip');
        expect(pip.ipAddress).toBe(net.pip.ipAddress);
        const s2 = await connectSsh({
          host: pip.ipAddress!,
          port: e2.sshPort,
          username: 'azureuser',
          privateKey: key.privateKey,
        });
        expect((await s2.exec('cat ~/note')).stdout).toBe('kept\n');
        expect(s2.hostKeyFingerprint).toBe(fp);
        s2.close();
      } finally {
        await e2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
