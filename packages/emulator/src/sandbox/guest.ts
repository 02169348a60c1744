/**
 * SandboxGuest: a no-root guest backend. Every managed disk is a directory under the workdir
 * (`disks/<rg>__<name>`), the OS disk's directory IS the VM's root, snapshots and image versions are
 * directory copies (`snapshots/…`, `images/<rg>__<gallery>__<def>__<ver>/os`). An attached data disk
 * at LUN n appears as the symlink `<root>/dev/disk/azure/scsi1/lun<n>` -> its directory, which is
 * what boot.sh's `CLAW_SANDBOX=1` mode looks for.
 *
 * Boot (VM create and start), in the order a real Azure Linux VM does it:
 *   1. power on: `<root>/run` emptied (tmpfs), LUN links synced with the VM's data disks, an SSH
 *      host key generated when the OS disk has none (sshd-keygen; persisted on the OS disk);
 *   2. first boot of an instance only (`properties.vmId` differs from `<root>/var/lib/cloud/instance-id`,
 *      and the VM has an osProfile): provisioning (admin home, osProfile SSH keys into
 *      authorized_keys, password hash when one was given), then cloud-init's init stage
 *      (write_files, users) — see cloudinit.ts for the mapping;
 *   3. `claw-boot.service` when enabled on the OS disk: the REAL `/opt/claw/boot.sh` with
 *      `CLAW_ROOT=<root> CLAW_SANDBOX=1 CLAW_SYSTEMCTL=<shims>/systemctl` (shims.ts);
 *   4. first boot only: cloud-init's runcmd (`/opt/claw/install.sh` = copy the payload, …);
 *   5. `boot-finished`, the VM is running: its public IP address accepts SSH (ssh.ts).
 * Stop/deallocate/delete: the VM is off (SSH connections dropped, new ones refused, `/run` cleared).
 * A VM delete leaves the disks to the emulator's deleteOption handling (onDiskDeleted removes a
 * directory; Detach keeps it).
 *
 * Public IPs get 127.0.0.N addresses (`allocatePublicIp`); all VMs share one SSH port (`sshPort`).
 * State (address map, which VMs run) is kept in `<workdir>/guest.json`; with the emulator's
 * `statePath` the workdir defaults to `<statePath>.guest/`, so a restarted emulator finds the same disks.
 */
import { execFile } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { utils } from 'ssh2';
import type { ArmResource, DiskSource, GuestBackend, GuestWorld, SshEndpoint } from '../guest';
import {
  applyFinalStage,
  applyInitStage,
  parseUserData,
  rootPath,
  writeAuthorizedKeys,
  type CloudInitContext,
} from './cloudinit';
import { copyTree, idKey, removeTree } from './fsutil';
import { writeShims } from './shims';
import { SandboxSsh, type SshTarget } from './ssh';

export interface SandboxGuestOptions {
  /** Directory for disks, snapshots, images and shims. Default: `<statePath>.guest` or a temp dir removed at close. */
  workdir?: string;
  /** Emulator state file; the default workdir sits next to it. */
  statePath?: string;
  /** SSH port shared by all VMs (default 0 = any free port). */
  sshPort?: number;
  /** The guest payload (`cloud-init/claw`); default: found above this file or via OPENCLAWPS_ASSET_ROOT. */
  payloadDir?: string;
  /** Seconds boot.sh waits for the data disk (CLAW_DISK_WAIT); default 3 (disks are attached before boot). */
  diskWaitSeconds?: number;
  /** Progress/debug lines. */
  log?: (line: string) => void;
}

interface GuestState {
  version: 1;
  ips: Record<string, string>;
  next: number;
  running: Record<string, boolean>;
  sshPort?: number;
}

const PIP = 'Microsoft.Network/publicIPAddresses';
const NIC = 'Microsoft.Network/networkInterfaces';
const VM = 'Microsoft.Compute/virtualMachines';

const lc = (s: string | undefined) => (s ?? '').toLowerCase();

export function findPayloadDir(start = __dirname): string {
  const env = process.env.OPENCLAWPS_ASSET_ROOT;
  if (env && existsSync(path.join(env, 'cloud-init/claw/boot.sh'))) return path.join(env, 'cloud-init/claw');
  let dir = path.resolve(start);
  for (;;) {
    const p = path.join(dir, 'cloud-init/claw');
    if (existsSync(path.join(p, 'boot.sh'))) return p;
    const up = path.dirname(dir);
    if (up === dir)
      throw new Error(`sandbox guest: cannot find cloud-init/claw above ${start}; set OPENCLAWPS_ASSET_ROOT`);
    dir = up;
  }
}

/** ssh2's generator sometimes yields a pair it cannot parse itself (mscdex/ssh2#1513): retry until one signs and verifies. */
function usableEd25519Pair(): { private: string; public: string } {
  for (let i = 0; i < 64; i++) {
    const kp = utils.generateKeyPairSync('ed25519', { comment: 'sandbox-host' });
    const priv = utils.parseKey(kp.private);
    const pub = utils.parseKey(kp.public);
    if (priv instanceof Error || pub instanceof Error || Array.isArray(priv) || Array.isArray(pub)) continue;
    if (!priv.getPublicSSH().equals(pub.getPublicSSH()) || pub.getPublicSSH().length !== 51) continue;
    const data = randomBytes(32);
    const sig = priv.sign(data);
    if (sig instanceof Error || pub.verify(data, sig) !== true) continue;
    return kp;
  }
  throw new Error('sandbox guest: could not generate a usable ed25519 host key');
}

const OS_RELEASE = `PRETTY_NAME="Ubuntu 24.04 LTS (openclawps sandbox)"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04 LTS (Noble Numbat)"
ID=ubuntu
ID_LIKE=debian
`;

export class SandboxGuest implements GuestBackend {
  readonly workdir: string;
  private readonly ownsWorkdir: boolean;
  private readonly binDir: string;
  private readonly payloadDir: string;
  private readonly ssh: SandboxSsh;
  private world?: GuestWorld;
  private state: GuestState;
  private readonly log: (line: string) => void;
  private readonly diskWait: number;
  private closed = false;

  constructor(private readonly opts: SandboxGuestOptions = {}) {
    if (opts.workdir) {
      this.workdir = path.resolve(opts.workdir);
      this.ownsWorkdir = false;
    } else if (opts.statePath) {
      this.workdir = path.resolve(`${opts.statePath}.guest`);
      this.ownsWorkdir = false;
    } else {
      this.workdir = mkdtempSync(path.join(tmpdir(), 'openclawps-sandbox-'));
      this.ownsWorkdir = true;
    }
    mkdirSync(this.workdir, { recursive: true });
    this.binDir = writeShims(path.join(this.workdir, 'bin'));
    this.payloadDir = opts.payloadDir ?? findPayloadDir();
    this.log = opts.log ?? (() => undefined);
    this.diskWait = opts.diskWaitSeconds ?? 3;
    this.state = this.loadState();
    this.ssh = new SandboxSsh({
      port: opts.sshPort ?? 0,
      resolve: (addr) => this.resolve(addr),
      environment: (root, user, home) => this.env(root, user, home),
      log: (l) => this.log(l),
    });
  }

  /** The one SSH port of all sandbox VMs (known after attach/start). */
  get sshPort(): number | undefined {
    return this.ssh.port || undefined;
  }

  // ------------------------------------------------------------------ wiring
  async attach(world: GuestWorld): Promise<void> {
    this.world = world;
    // a re-run against a persisted world keeps its SSH port when it is free
    this.state.sshPort = await this.ssh.start(this.state.sshPort);
    // addresses of public IPs that exist in a persisted world
    for (const pip of world.list(PIP)) {
      const ip: string | undefined = pip.body.properties?.ipAddress;
      if (ip && ip.startsWith('127.')) this.state.ips[lc(pip.id)] = ip;
    }
    this.saveState();
    for (const vm of world.list(VM)) {
      if (this.state.running[lc(vm.id)]) for (const ip of this.addressesOf(vm.body)) void this.ssh.listen(ip);
    }
    await this.ssh.ready();
  }

  allocatePublicIp(pipId: string): string | undefined {
    const key = lc(pipId);
    let ip = this.state.ips[key];
    if (!ip) {
      const used = new Set(Object.values(this.state.ips));
      do {
        const n = this.state.next++;
        ip = `127.0.${Math.floor(n / 253)}.${(n % 253) + 2}`;
      } while (used.has(ip));
      this.state.ips[key] = ip;
      this.saveState();
    }
    // listening starts when a VM behind it boots; until then the address refuses
    return ip;
  }

  publicEndpoint(pipId: string, ipAddress: string): SshEndpoint | undefined {
    const ip = this.state.ips[lc(pipId)];
    if (!ip || ip !== ipAddress || !this.ssh.port) return undefined;
    return { host: ip, port: this.ssh.port };
  }

  // ------------------------------------------------------------------ paths
  diskDir(diskId: string): string {
    return path.join(this.workdir, 'disks', idKey(diskId));
  }
  snapshotDir(id: string): string {
    return path.join(this.workdir, 'snapshots', idKey(id));
  }
  imageDir(id: string): string {
    return path.join(this.workdir, 'images', idKey(id));
  }
  /** The sandbox root of a VM (its OS disk's directory). */
  rootOf(vm: ArmResource): string {
    const id: string | undefined = vm?.properties?.storageProfile?.osDisk?.managedDisk?.id;
    if (!id) throw new Error(`sandbox guest: VM ${vm?.id} has no managed OS disk`);
    return this.diskDir(id);
  }

  // ------------------------------------------------------------------ disks
  onDiskCreated(disk: ArmResource, source: DiskSource): void {
    const dst = this.diskDir(disk.id);
    switch (source.kind) {
      case 'disk':
        copyTree(this.diskDir(source.id!), dst);
        break;
      case 'snapshot':
        copyTree(this.snapshotDir(source.id!), dst);
        break;
      case 'imageVersion':
        copyTree(
          path.join(
            this.imageDir(source.id!),
            source.lun === 'os' || source.lun === undefined ? 'os' : `lun${source.lun}`,
          ),
          dst,
        );
        break;
      case 'marketplace':
        removeTree(dst);
        this.minimalRoot(dst, source.urn ?? '');
        break;
      default:
        removeTree(dst);
        mkdirSync(dst, { recursive: true });
    }
    this.log(
      `sandbox: disk ${disk.name} created from ${source.kind}${source.id ? ` ${source.id.split('/').pop()}` : ''}`,
    );
  }

  private minimalRoot(root: string, urn: string): void {
    for (const d of [
      'etc/ssh',
      'home',
      'root',
      'opt',
      'mnt',
      'run',
      'var/log',
      'var/lib',
      'var/tmp',
      'dev/disk/azure',
    ]) {
      mkdirSync(path.join(root, d), { recursive: true });
    }
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    chmodSync(path.join(root, 'tmp'), 0o1777);
    writeFileSync(path.join(root, 'etc/os-release'), OS_RELEASE);
    writeFileSync(path.join(root, 'etc/fstab'), '# sandbox fstab\n');
    writeFileSync(path.join(root, 'etc/sandbox-image'), `${urn}\n`);
  }

  onDiskDeleted(disk: ArmResource): void {
    removeTree(this.diskDir(disk.id));
  }

  onDiskAttached(disk: ArmResource, vm: ArmResource, lun: number | 'os'): void {
    if (lun === 'os') return;
    this.link(this.rootOf(vm), lun, this.diskDir(disk.id));
  }

  onDiskDetached(disk: ArmResource, vm: ArmResource): void {
    let root: string;
    try {
      root = this.rootOf(vm);
    } catch {
      return;
    }
    if (path.resolve(root) === path.resolve(this.diskDir(disk.id))) return;
    const dir = path.join(root, 'dev/disk/azure/scsi1');
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      try {
        if (
          lstatSync(p).isSymbolicLink() &&
          path.resolve(readlinkSync(p)) === path.resolve(this.diskDir(disk.id))
        )
          unlinkSync(p);
      } catch {
        /* raced */
      }
    }
  }

  private link(root: string, lun: number, target: string): void {
    const dir = path.join(root, 'dev/disk/azure/scsi1');
    mkdirSync(dir, { recursive: true });
    mkdirSync(target, { recursive: true });
    const p = path.join(dir, `lun${lun}`);
    try {
      if (lstatSync(p).isSymbolicLink() && readlinkSync(p) === target) return;
      rmSync(p, { recursive: true, force: true });
    } catch {
      /* absent */
    }
    symlinkSync(target, p);
  }

  /** Makes `<root>/dev/disk/azure/scsi1/lun*` match the VM's data disks exactly. */
  private syncLuns(vm: ArmResource, root: string): void {
    const want = new Map<string, string>();
    for (const d of vm.properties?.storageProfile?.dataDisks ?? []) {
      if (d?.managedDisk?.id !== undefined && typeof d.lun === 'number')
        want.set(`lun${d.lun}`, this.diskDir(d.managedDisk.id));
    }
    const dir = path.join(root, 'dev/disk/azure/scsi1');
    if (existsSync(dir)) {
      for (const name of readdirSync(dir))
        if (!want.has(name)) rmSync(path.join(dir, name), { recursive: true, force: true });
    }
    for (const [name, target] of want) this.link(root, Number(name.slice(3)), target);
  }

  onSnapshotCreated(snapshot: ArmResource, sourceDisk: ArmResource | undefined): void {
    const src = sourceDisk ? this.diskDir(sourceDisk.id) : undefined;
    copyTree(src ?? '/nonexistent', this.snapshotDir(snapshot.id));
  }

  onSnapshotDeleted(snapshot: ArmResource): void {
    removeTree(this.snapshotDir(snapshot.id));
  }

  onImageVersionCreated(
    version: ArmResource,
    source: { kind: 'vm' | 'disk' | 'snapshot' | 'imageVersion'; id: string; resource?: ArmResource },
  ): void {
    const dst = this.imageDir(version.id);
    removeTree(dst);
    mkdirSync(dst, { recursive: true });
    const skip = ['dev/disk', 'run', 'mnt/claw-data'];
    if (source.kind === 'vm') {
      const vm = source.resource ?? this.world?.get(source.id)?.body;
      copyTree(this.rootOf(vm), path.join(dst, 'os'), skip);
    } else if (source.kind === 'disk') {
      copyTree(this.diskDir(source.id), path.join(dst, 'os'), skip);
    } else if (source.kind === 'snapshot') {
      copyTree(this.snapshotDir(source.id), path.join(dst, 'os'), skip);
    } else {
      copyTree(this.imageDir(source.id), dst);
    }
    this.log(
      `sandbox: image version ${version.name} captured from ${source.kind} ${source.id.split('/').pop()}`,
    );
  }

  onImageVersionDeleted(version: ArmResource): void {
    removeTree(this.imageDir(version.id));
  }

  // ------------------------------------------------------------------ power
  async onVmCreated(vm: ArmResource): Promise<void> {
    await this.boot(vm);
  }

  async onVmStarted(vm: ArmResource, reason?: 'start' | 'restart'): Promise<void> {
    // a restart reboots a running VM: its SSH sessions end like on a real reboot
    if (reason === 'restart') this.ssh.drop(lc(vm.id));
    await this.boot(vm);
  }

  async onVmStopped(vm: ArmResource): Promise<void> {
    await this.powerOff(vm);
  }

  async onVmDeallocated(vm: ArmResource): Promise<void> {
    await this.powerOff(vm);
  }

  onVmGeneralized(vm: ArmResource): void {
    const root = this.rootOf(vm);
    mkdirSync(path.join(root, 'var/lib/waagent'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/waagent/generalized'), `${new Date().toISOString()}\n`);
  }

  async onVmDeleted(vm: ArmResource): Promise<void> {
    await this.powerOff(vm);
    delete this.state.running[lc(vm.id)];
    this.saveState();
    try {
      const root = this.rootOf(vm);
      rmSync(path.join(root, 'dev/disk/azure/scsi1'), { recursive: true, force: true });
    } catch {
      /* no OS disk */
    }
  }

  private async powerOff(vm: ArmResource): Promise<void> {
    this.state.running[lc(vm.id)] = false;
    this.saveState();
    this.ssh.drop(lc(vm.id));
    for (const ip of this.addressesOf(vm)) await this.ssh.unlisten(ip);
    try {
      const root = this.rootOf(vm);
      rmSync(path.join(root, 'run'), { recursive: true, force: true });
    } catch {
      /* nothing to clear */
    }
  }

  private tmpFor(root: string): string {
    const d = path.join(this.workdir, 'tmp', path.basename(root));
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Environment of everything that runs inside a sandbox root. */
  env(root: string, user = 'root', home = path.join(root, 'root')): NodeJS.ProcessEnv {
    return {
      PATH: `${this.binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: home,
      USER: user,
      LOGNAME: user,
      SHELL: '/bin/bash',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      // outside the root: a scan of "/" (secret-scan) must not find its own work files
      TMPDIR: this.tmpFor(root),
      CLAW_ROOT: root,
      CLAW_SANDBOX: '1',
      CLAW_SYSTEMCTL: path.join(this.binDir, 'systemctl'),
      CLAW_DISK_WAIT: String(this.diskWait),
    };
  }

  private async boot(vm: ArmResource): Promise<void> {
    const root = this.rootOf(vm);
    mkdirSync(root, { recursive: true });
    rmSync(path.join(root, 'run'), { recursive: true, force: true });
    for (const d of ['run', 'tmp', 'etc/ssh', 'var/log', 'var/lib', 'home'])
      mkdirSync(path.join(root, d), { recursive: true });
    chmodSync(path.join(root, 'tmp'), 0o1777);
    this.syncLuns(vm, root);
    this.ensureHostKey(root);

    const os = vm.properties?.osProfile;
    const instanceId = String(vm.properties?.vmId ?? vm.id);
    const idFile = path.join(root, 'var/lib/cloud/instance-id');
    const firstBoot = !!os && (!existsSync(idFile) || readFileSync(idFile, 'utf8').trim() !== instanceId);
    const admin: string = os?.adminUsername ?? this.provisionedUser(root) ?? 'azureuser';
    const ctx: CloudInitContext = {
      root,
      adminUser: admin,
      env: this.env(root),
      payloadDir: this.payloadDir,
    };
    let cfg: Record<string, unknown> | null = null;
    if (firstBoot) {
      this.provision(vm, root);
      const meta = this.world?.get(vm.id)?.meta ?? {};
      const ud = parseUserData(meta.customData ?? os.customData);
      cfg = ud.config;
      if (cfg) applyInitStage(cfg, ctx);
      mkdirSync(path.dirname(idFile), { recursive: true });
      writeFileSync(idFile, `${instanceId}\n`);
      this.log(`sandbox: ${vm.name}: first boot of instance ${instanceId} (custom data: ${ud.kind})`);
    }
    rmSync(path.join(root, 'var/lib/cloud/instance/boot-finished'), { force: true });
    if (
      existsSync(path.join(root, 'etc/sandbox-systemd/claw-boot.service.enabled')) &&
      existsSync(path.join(root, 'opt/claw/boot.sh'))
    ) {
      const r = await this.sh(root, ['start', 'claw-boot.service']);
      this.log(
        `sandbox: ${vm.name}: claw-boot ${r === 0 ? 'ok' : `failed (exit ${r}; see /var/log/claw-boot.log)`}`,
      );
    }
    if (firstBoot && cfg) await applyFinalStage(cfg, ctx);
    mkdirSync(path.join(root, 'var/lib/cloud/instance'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/cloud/instance/boot-finished'), `${new Date().toISOString()}\n`);
    this.state.running[lc(vm.id)] = true;
    this.saveState();
    for (const ip of this.addressesOf(vm)) void this.ssh.listen(ip);
    await this.ssh.ready();
  }

  private sh(root: string, args: string[]): Promise<number> {
    return new Promise((resolve) => {
      execFile(
        path.join(this.binDir, 'systemctl'),
        args,
        { cwd: root, env: this.env(root), timeout: 900_000 },
        (err) => {
          resolve(
            err
              ? typeof (err as { code?: unknown }).code === 'number'
                ? (err as { code: number }).code
                : 1
              : 0,
          );
        },
      );
    });
  }

  private provisionedUser(root: string): string | undefined {
    const f = path.join(root, 'var/lib/waagent/provisioned-user');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() || undefined : undefined;
  }

  /** The Azure agent's provisioning: admin user, SSH keys, password, hostname. */
  private provision(vm: ArmResource, root: string): void {
    const os = vm.properties.osProfile;
    const user: string = os.adminUsername;
    if (!/^[a-z_][a-z0-9_-]*$/.test(user ?? '')) return;
    mkdirSync(path.join(root, 'home', user), { recursive: true });
    const keys: Array<{ path?: string; keyData?: string }> = os.linuxConfiguration?.ssh?.publicKeys ?? [];
    const byPath = new Map<string, string[]>();
    for (const k of keys) {
      if (!k.keyData) continue;
      const p = k.path ?? `/home/${user}/.ssh/authorized_keys`;
      byPath.set(p, [...(byPath.get(p) ?? []), k.keyData]);
    }
    for (const [p, list] of byPath) {
      if (p === `/home/${user}/.ssh/authorized_keys`) writeAuthorizedKeys(root, user, list);
      else {
        const dest = rootPath(root, p);
        mkdirSync(path.dirname(dest), { recursive: true });
        writeFileSync(dest, list.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
      }
    }
    const pw: string | undefined = this.world?.get(vm.id)?.meta?.adminPassword ?? os.adminPassword;
    if (pw && os.linuxConfiguration?.disablePasswordAuthentication === false) {
      const salt = randomBytes(16);
      const hash = scryptSync(pw, salt, 32);
      const f = path.join(root, 'etc/sandbox-shadow');
      const keep = existsSync(f)
        ? readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l && !l.startsWith(`${user}:`))
        : [];
      writeFileSync(
        f,
        [...keep, `${user}:scrypt:${salt.toString('hex')}:${hash.toString('hex')}`].join('\n') + '\n',
        { mode: 0o600 },
      );
    }
    mkdirSync(path.join(root, 'var/lib/waagent'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/waagent/provisioned-user'), `${user}\n`);
    rmSync(path.join(root, 'var/lib/waagent/generalized'), { force: true });
    writeFileSync(path.join(root, 'etc/hostname'), `${os.computerName ?? vm.name}\n`);
  }

  private ensureHostKey(root: string): string {
    const f = path.join(root, 'etc/ssh/ssh_host_ed25519_key');
    if (!existsSync(f)) {
      const kp = usableEd25519Pair();
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, kp.private, { mode: 0o600 });
      writeFileSync(`${f}.pub`, `${kp.public}\n`);
    }
    return readFileSync(f, 'utf8');
  }

  // ------------------------------------------------------------------ SSH lookups
  private addressesOf(vm: ArmResource): string[] {
    if (!this.world) return [];
    const out: string[] = [];
    for (const n of vm.properties?.networkProfile?.networkInterfaces ?? []) {
      const nic = this.world.get(n.id);
      for (const ipc of nic?.body.properties?.ipConfigurations ?? []) {
        const pipId = ipc.properties?.publicIPAddress?.id;
        const ip = pipId ? this.state.ips[lc(pipId)] : undefined;
        if (ip) out.push(ip);
      }
    }
    return out;
  }

  private resolve(addr: string): SshTarget | undefined {
    const w = this.world;
    if (!w || this.closed) return undefined;
    const pipKey = Object.keys(this.state.ips).find((k) => this.state.ips[k] === addr);
    if (!pipKey) return undefined;
    const nic = w
      .list(NIC)
      .find((n) =>
        (n.body.properties?.ipConfigurations ?? []).some(
          (c: ArmResource) => lc(c.properties?.publicIPAddress?.id) === pipKey,
        ),
      );
    if (!nic) return undefined;
    const vm = w
      .list(VM)
      .find((v) =>
        (v.body.properties?.networkProfile?.networkInterfaces ?? []).some(
          (n: ArmResource) => lc(n.id) === lc(nic.id),
        ),
      );
    if (!vm || !this.state.running[lc(vm.id)]) return undefined;
    const root = this.rootOf(vm.body);
    const keyFile = path.join(root, 'etc/ssh/ssh_host_ed25519_key');
    if (!existsSync(keyFile)) return undefined;
    return { root, vmKey: lc(vm.id), hostKey: readFileSync(keyFile, 'utf8') };
  }

  // ------------------------------------------------------------------ state
  private loadState(): GuestState {
    const f = path.join(this.workdir, 'guest.json');
    if (existsSync(f)) {
      try {
        const s = JSON.parse(readFileSync(f, 'utf8')) as GuestState;
        return {
          version: 1,
          ips: s.ips ?? {},
          next: s.next ?? 0,
          running: s.running ?? {},
          sshPort: s.sshPort,
        };
      } catch {
        /* start fresh */
      }
    }
    return { version: 1, ips: {}, next: 0, running: {} };
  }

  private saveState(): void {
    if (this.closed) return;
    const f = path.join(this.workdir, 'guest.json');
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 1));
    renameSync(tmp, f);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.ssh.close();
    this.closed = true;
    if (this.ownsWorkdir) rmSync(this.workdir, { recursive: true, force: true });
  }
}
