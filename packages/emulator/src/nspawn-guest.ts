/**
 * NspawnGuest: a guest backend whose VMs boot real Linux (issue 6), built on the host-side library in
 * ./nspawn (needs root; `nspawnGuestProblems()` says why a host cannot).
 *
 * - OS disk = a root filesystem: an overlay whose read-only lower stack is an image (the cached
 *   Debian 12 root for the "stock Ubuntu 24.04" marketplace image, or a captured image version) and
 *   whose writable layer `<workdir>/disks/<key>/upper` is the disk's own content. A copy of an OS disk
 *   (snapshot, image version, disk from disk) is a copy of that writable layer over the same stack.
 * - Managed data disk = a sparse image file `<workdir>/disks/<key>.img` (size = diskSizeGB), attached
 *   through a loop device while its VM runs, linked at `/dev/disk/azure/scsi1/lunN` inside the guest.
 *   Snapshots copy the file (sparse).
 * - VM = `systemd-nspawn -b` of the OS disk's root; custom data + osProfile -> NoCloud seed (real
 *   cloud-init). Deallocate/stop = the container is really off before the ARM operation completes;
 *   start = boot again; delete = off (disks follow their deleteOption through onDiskDeleted/Detached).
 * - Public IP = a real 198.18.0.0/15 address: its own network namespace + veth (the library's
 *   createNetwork), kept for the life of the emulator like a static public IP; SSH on port 22.
 *   With `internet` (default true) the guest gets a default route via the host end and the host
 *   masquerades 198.18.0.0/15 (nft), so cloud-init's install can reach the Debian mirror and npm.
 *
 * `close()` powers every container off and removes every overlay mount, loop device, netns, veth and
 * nft table it made (also when a hook failed midway); the library's cleanup journal covers a crash.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ArmResource, DiskSource, GuestBackend, GuestWorld, SshEndpoint } from './guest';
import * as nspawn from './nspawn';
import { runSync } from './nspawn/proc';

export interface NspawnGuestOptions {
  /** Disks, snapshots, images. Default: a temp dir under /var/tmp removed at close. */
  workdir?: string;
  /**
   * The root (cached root or layer path) that the "stock Ubuntu 24.04" marketplace image maps to.
   * Default: the cached Debian 12 base root (`ensureBaseRoot`, built on first use).
   */
  stockRoot?: string;
  /** Give guests a default route + NAT through the host (default true). */
  internet?: boolean;
  /** Called on a VM's merged root right before each boot (e.g. test drop-ins). */
  beforeBoot?: (root: string, vm: ArmResource) => void | Promise<void>;
  /**
   * Host directories bound into every guest (`[host, guest]`), e.g. the host's npm cache at
   * /root/.npm so builders download the tarballs once (a bind is not part of the OS disk: never captured).
   */
  binds?: Array<[string, string]>;
  /** Seconds to wait for a clean poweroff before killing (default 90). */
  poweroffTimeoutSeconds?: number;
  log?: (line: string) => void;
}

/** Why this host cannot run the nspawn guest (null when it can). */
export function nspawnGuestProblems(opts: { internet?: boolean } = {}): string | null {
  const r = nspawn.nspawnUnavailable();
  if (r) return r;
  if (opts.internet !== false && runSync('sh', ['-c', 'command -v nft']).code !== 0)
    return 'needs `nft` (apt package nftables)';
  return null;
}

interface OsDisk {
  kind: 'os';
  /** Read-only lower stack, top first. */
  layers: string[];
  /** Holds upper/ work/ merged/. */
  dir: string;
}
interface DataDisk {
  kind: 'data';
  image: string;
  sizeBytes: number;
}
type DiskRecord = OsDisk | DataDisk;

interface Running {
  container: nspawn.Container;
  overlay: nspawn.OverlayRoot;
  loops: Map<number, nspawn.LoopDevice>;
  diskIds: Map<number, string>;
}

const lc = (s: string | undefined) => (s ?? '').toLowerCase();
const key = (id: string) =>
  `${id
    .split('/')
    .slice(-1)[0]
    .replace(/[^A-Za-z0-9_.-]/g, '_')}-${createHash('sha256').update(lc(id)).digest('hex').slice(0, 8)}`;

const NAT_TABLE = 'openclawps_nspawn';

export class NspawnGuest implements GuestBackend {
  readonly workdir: string;
  readonly sshPort = 22;
  private readonly ownsWorkdir: boolean;
  private world?: GuestWorld;
  private readonly log: (line: string) => void;
  private readonly disks = new Map<string, DiskRecord>();
  private readonly snapshots = new Map<string, DiskRecord>();
  private readonly images = new Map<string, DiskRecord>();
  private readonly running = new Map<string, Running>();
  private readonly ips = new Map<string, { slot: number; address: string }>();
  private readonly networks = new Map<string, nspawn.GuestNetwork>();
  private readonly busy = new Map<string, Promise<void>>();
  private stockLayers?: string[];
  private natUndo?: () => void;
  private closed = false;

  constructor(private readonly opts: NspawnGuestOptions = {}) {
    const problem = nspawnGuestProblems(opts);
    if (problem) throw new Error(`nspawn guest: ${problem}`);
    if (opts.workdir) {
      this.workdir = path.resolve(opts.workdir);
      this.ownsWorkdir = false;
    } else {
      mkdirSync('/var/tmp', { recursive: true });
      this.workdir = mkdtempSync(path.join('/var/tmp', 'openclawps-nspawn-'));
      this.ownsWorkdir = true;
    }
    mkdirSync(this.workdir, { recursive: true });
    this.log = opts.log ?? (() => undefined);
  }

  async attach(world: GuestWorld): Promise<void> {
    this.world = world;
    nspawn.installCleanupHandlers(this.log);
    this.stockLayers = nspawn.rootLayers(
      this.opts.stockRoot ?? (await nspawn.ensureBaseRoot({ log: this.log })),
    );
    this.log(`nspawn guest: stock image = ${this.stockLayers.join(' > ')}; workdir ${this.workdir}`);
    if (this.opts.internet !== false) await this.enableNat();
  }

  private async enableNat(): Promise<void> {
    const prev = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    await nspawn.run('nft', ['delete', 'table', 'ip', NAT_TABLE]);
    await nspawn.must('nft', ['add', 'table', 'ip', NAT_TABLE]);
    await nspawn.must('nft', [
      'add',
      'chain',
      'ip',
      NAT_TABLE,
      'post',
      '{ type nat hook postrouting priority 100 ; }',
    ]);
    await nspawn.must('nft', [
      'add',
      'rule',
      'ip',
      NAT_TABLE,
      'post',
      'ip',
      'saddr',
      '198.18.0.0/15',
      'ip',
      'daddr',
      '!=',
      '198.18.0.0/15',
      'masquerade',
    ]);
    this.natUndo = nspawn.track(`nft table ${NAT_TABLE} + ip_forward=${prev}`, () => {
      runSync('nft', ['delete', 'table', 'ip', NAT_TABLE]);
      try {
        writeFileSync('/proc/sys/net/ipv4/ip_forward', prev);
      } catch {
        /* read-only */
      }
    });
  }

  // ------------------------------------------------------------------ public IPs
  allocatePublicIp(pipId: string): string | undefined {
    const k = lc(pipId);
    const have = this.ips.get(k);
    if (have) return have.address;
    const used = new Set<string>();
    const out = runSync('ip', ['-4', '-o', 'addr', 'show']).output;
    for (const m of out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)) used.add(m[1]);
    const mine = new Set([...this.ips.values()].map((v) => v.slot));
    const start = parseInt(createHash('sha256').update(k).digest('hex').slice(0, 6), 16) % 32768;
    for (let i = 0; i < 32768; i++) {
      const slot = (start + i) % 32768;
      const a = nspawn.slotAddresses(slot);
      if (mine.has(slot) || used.has(a.hostAddress) || used.has(a.guestAddress)) continue;
      this.ips.set(k, { slot, address: a.guestAddress });
      return a.guestAddress;
    }
    throw new Error('nspawn guest: no free /30 in 198.18.0.0/15');
  }

  publicEndpoint(pipId: string, ipAddress: string): SshEndpoint | undefined {
    const ip = this.ips.get(lc(pipId));
    if (!ip || ip.address !== ipAddress) return undefined;
    return { host: ip.address, port: 22 };
  }

  private pipOf(vm: ArmResource): string | undefined {
    for (const n of vm.properties?.networkProfile?.networkInterfaces ?? []) {
      const nic = this.world?.get(n.id);
      for (const ipc of nic?.body.properties?.ipConfigurations ?? []) {
        const pipId: string | undefined = ipc.properties?.publicIPAddress?.id;
        if (pipId) return pipId;
      }
    }
    return undefined;
  }

  private async networkFor(vm: ArmResource): Promise<nspawn.GuestNetwork | undefined> {
    const pipId = this.pipOf(vm);
    if (!pipId) return undefined;
    const k = lc(pipId);
    let ip = this.ips.get(k);
    if (!ip) {
      const pip = this.world?.get(pipId);
      this.allocatePublicIp(pipId);
      ip = this.ips.get(k)!;
      if (pip?.body.properties?.ipAddress && pip.body.properties.ipAddress !== ip.address)
        this.log(
          `nspawn guest: public IP ${pipId} has ${pip.body.properties.ipAddress}, guest uses ${ip.address}`,
        );
    }
    let net = this.networks.get(k);
    if (!net) {
      net = await nspawn.createNetwork({ name: `pip-${key(pipId).slice(-8)}`, slot: ip.slot });
      if (this.opts.internet !== false)
        await nspawn.must('ip', ['-n', net.netns, 'route', 'replace', 'default', 'via', net.hostAddress]);
      this.networks.set(k, net);
    }
    return net;
  }

  // ------------------------------------------------------------------ disks
  private osDir(id: string): string {
    return path.join(this.workdir, 'disks', key(id));
  }

  private async copyRecord(src: DiskRecord, dstBase: string): Promise<DiskRecord> {
    rmSync(dstBase, { recursive: true, force: true });
    rmSync(`${dstBase}.img`, { force: true });
    mkdirSync(path.dirname(dstBase), { recursive: true });
    if (src.kind === 'data') {
      await nspawn.must('cp', ['--sparse=always', src.image, `${dstBase}.img`], { timeoutMs: 20 * 60_000 });
      return { kind: 'data', image: `${dstBase}.img`, sizeBytes: src.sizeBytes };
    }
    mkdirSync(dstBase, { recursive: true });
    const upper = path.join(src.dir, 'upper');
    if (existsSync(upper))
      await nspawn.must('cp', ['-a', '--reflink=auto', upper, path.join(dstBase, 'upper')], {
        timeoutMs: 20 * 60_000,
      });
    return { kind: 'os', layers: [...src.layers], dir: dstBase };
  }

  async onDiskCreated(disk: ArmResource, source: DiskSource): Promise<void> {
    const id = lc(disk.id);
    const base = this.osDir(disk.id);
    let rec: DiskRecord | undefined;
    const from = (m: Map<string, DiskRecord>, sid?: string) => {
      const r = sid ? m.get(lc(sid)) : undefined;
      if (!r)
        throw Object.assign(new Error(`nspawn guest: no content for ${source.kind} ${sid}`), {
          code: 'GuestOperationFailed',
        });
      return r;
    };
    switch (source.kind) {
      case 'marketplace':
        rmSync(base, { recursive: true, force: true });
        mkdirSync(base, { recursive: true });
        rec = { kind: 'os', layers: [...(this.stockLayers ?? [])], dir: base };
        break;
      case 'imageVersion': {
        const img = from(this.images, source.id);
        if (source.lun !== 'os' && source.lun !== undefined) {
          rec = undefined; // data disk images are not captured here: an empty disk
        } else {
          // the version's content is a read-only layer: a disk from it starts with an empty writable layer
          rmSync(base, { recursive: true, force: true });
          mkdirSync(base, { recursive: true });
          rec = { kind: 'os', layers: [...(img as OsDisk).layers], dir: base };
        }
        break;
      }
      case 'disk':
        rec = await this.copyRecord(from(this.disks, source.id), base);
        break;
      case 'snapshot':
        rec = await this.copyRecord(from(this.snapshots, source.id), base);
        break;
      default:
        rec = undefined;
    }
    if (!rec) {
      const sizeBytes = Number(disk.properties?.diskSizeGB ?? 4) * 1024 ** 3;
      rmSync(`${base}.img`, { force: true });
      const image = nspawn.createDiskImage(`${base}.img`, sizeBytes);
      rec = { kind: 'data', image, sizeBytes };
    }
    this.disks.set(id, rec);
    this.log(`nspawn guest: disk ${disk.name} (${rec.kind}) created from ${source.kind}`);
  }

  async onDiskDeleted(disk: ArmResource): Promise<void> {
    const rec = this.disks.get(lc(disk.id));
    this.disks.delete(lc(disk.id));
    if (rec) this.removeRecord(rec);
  }

  private removeRecord(rec: DiskRecord): void {
    if (rec.kind === 'data') rmSync(rec.image, { force: true });
    else if (![...this.running.values()].some((r) => r.overlay.upper === path.join(rec.dir, 'upper')))
      rmSync(rec.dir, { recursive: true, force: true });
  }

  async onDiskAttached(disk: ArmResource, vm: ArmResource, lun: number | 'os'): Promise<void> {
    if (lun === 'os') return;
    const r = this.running.get(lc(vm.id));
    const rec = this.disks.get(lc(disk.id));
    if (!r || !rec || rec.kind !== 'data' || r.loops.has(lun)) return;
    const loop = await nspawn.attachLoop(rec.image);
    r.loops.set(lun, loop);
    r.diskIds.set(lun, lc(disk.id));
    await r.container.attachDisk({ lun, device: loop.device });
  }

  async onDiskDetached(disk: ArmResource, vm: ArmResource): Promise<void> {
    const r = this.running.get(lc(vm.id));
    if (!r) return;
    for (const [lun, id] of r.diskIds) {
      if (id !== lc(disk.id)) continue;
      await r.container.detachDisk(lun);
      r.loops.get(lun)?.detach();
      r.loops.delete(lun);
      r.diskIds.delete(lun);
    }
  }

  async onSnapshotCreated(snapshot: ArmResource, sourceDisk: ArmResource | undefined): Promise<void> {
    const src = sourceDisk ? this.disks.get(lc(sourceDisk.id)) : undefined;
    if (!src) return;
    if (src.kind === 'data') await nspawn.run('sync', []);
    const rec = await this.copyRecord(src, path.join(this.workdir, 'snapshots', key(snapshot.id)));
    this.snapshots.set(lc(snapshot.id), rec);
  }

  onSnapshotDeleted(snapshot: ArmResource): void {
    const rec = this.snapshots.get(lc(snapshot.id));
    this.snapshots.delete(lc(snapshot.id));
    if (rec) this.removeRecord(rec);
  }

  async onImageVersionCreated(
    version: ArmResource,
    source: { kind: 'vm' | 'disk' | 'snapshot' | 'imageVersion'; id: string; resource?: ArmResource },
  ): Promise<void> {
    let src: DiskRecord | undefined;
    if (source.kind === 'vm') {
      const vm = source.resource ?? this.world?.get(source.id)?.body;
      const osId: string | undefined = vm?.properties?.storageProfile?.osDisk?.managedDisk?.id;
      src = osId ? this.disks.get(lc(osId)) : undefined;
      if (this.running.has(lc(source.id)))
        throw Object.assign(new Error('nspawn guest: capture of a running VM'), {
          code: 'OperationNotAllowed',
        });
    } else if (source.kind === 'disk') src = this.disks.get(lc(source.id));
    else if (source.kind === 'snapshot') src = this.snapshots.get(lc(source.id));
    else src = this.images.get(lc(source.id));
    if (!src || src.kind !== 'os')
      throw Object.assign(
        new Error(`nspawn guest: no OS content to capture from ${source.kind} ${source.id}`),
        {
          code: 'GuestOperationFailed',
        },
      );
    // the captured root: a copy of the source's writable layer becomes a read-only layer over its stack
    const dir = path.join(this.workdir, 'images', key(version.id));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const upper = path.join(src.dir, 'upper');
    const layer = path.join(dir, 'layer');
    if (existsSync(upper)) await nspawn.must('cp', ['-a', upper, layer], { timeoutMs: 20 * 60_000 });
    else mkdirSync(layer);
    for (const p of ['dev/disk', 'run', 'mnt/claw-data'])
      if (existsSync(path.join(layer, p)) && p !== 'mnt/claw-data')
        rmSync(path.join(layer, p), { recursive: true, force: true });
    const t0 = Date.now();
    this.images.set(lc(version.id), { kind: 'os', layers: [layer, ...src.layers], dir });
    this.log(
      `nspawn guest: image version ${version.name} captured from ${source.kind} ${source.id.split('/').pop()} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }

  onImageVersionDeleted(version: ArmResource): void {
    this.images.delete(lc(version.id));
    rmSync(path.join(this.workdir, 'images', key(version.id)), { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ power
  /** Serializes hooks per VM (a start racing a delete of the same VM). */
  private async serial(vmId: string, fn: () => Promise<void>): Promise<void> {
    const k = lc(vmId);
    const prev = this.busy.get(k) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.busy.set(k, next);
    try {
      await next;
    } finally {
      if (this.busy.get(k) === next) this.busy.delete(k);
    }
  }

  onVmCreated(vm: ArmResource): Promise<void> {
    return this.serial(vm.id, () => this.boot(vm));
  }

  onVmStarted(vm: ArmResource, reason: 'start' | 'restart'): Promise<void> {
    return this.serial(vm.id, async () => {
      if (reason === 'restart') await this.powerOff(vm);
      await this.boot(vm);
    });
  }

  onVmStopped(vm: ArmResource): Promise<void> {
    return this.serial(vm.id, () => this.powerOff(vm));
  }

  onVmDeallocated(vm: ArmResource): Promise<void> {
    return this.serial(vm.id, () => this.powerOff(vm));
  }

  onVmDeleted(vm: ArmResource): Promise<void> {
    return this.serial(vm.id, () => this.powerOff(vm));
  }

  onVmGeneralized(vm: ArmResource): void {
    const rec = this.osDisk(vm);
    if (!rec) return;
    const f = path.join(rec.dir, 'upper/var/lib/waagent/generalized');
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, `${new Date().toISOString()}\n`);
  }

  private osDisk(vm: ArmResource): OsDisk | undefined {
    const id: string | undefined = vm?.properties?.storageProfile?.osDisk?.managedDisk?.id;
    const rec = id ? this.disks.get(lc(id)) : undefined;
    return rec?.kind === 'os' ? rec : undefined;
  }

  /** The container of a running VM (for tests: exec inside, console). */
  containerOf(vmId: string): nspawn.Container | undefined {
    return this.running.get(lc(vmId))?.container;
  }

  private async boot(vm0: ArmResource): Promise<void> {
    if (this.closed) throw new Error('nspawn guest: closed');
    const k = lc(vm0.id);
    if (this.running.get(k)?.container.running()) return;
    const vm = this.world?.get(vm0.id)?.body ?? vm0;
    const meta = this.world?.get(vm0.id)?.meta ?? {};
    const rec = this.osDisk(vm);
    if (!rec) throw new Error(`nspawn guest: VM ${vm.name} has no OS disk content`);
    const t0 = Date.now();
    const overlay = await nspawn.overlayRoot(rec.layers, rec.dir);
    const loops = new Map<number, nspawn.LoopDevice>();
    const diskIds = new Map<number, string>();
    try {
      const disks: nspawn.ContainerDisk[] = [];
      for (const d of vm.properties?.storageProfile?.dataDisks ?? []) {
        const drec = d?.managedDisk?.id ? this.disks.get(lc(d.managedDisk.id)) : undefined;
        if (!drec || drec.kind !== 'data' || typeof d.lun !== 'number') continue;
        const loop = await nspawn.attachLoop(drec.image);
        loops.set(d.lun, loop);
        diskIds.set(d.lun, lc(d.managedDisk.id));
        disks.push({ lun: d.lun, device: loop.device });
      }
      const network = await this.networkFor(vm);
      if (!network) throw new Error(`nspawn guest: VM ${vm.name} has no public IP (no way to reach it)`);
      const os = vm.properties?.osProfile;
      let seed: nspawn.NoCloudSeed | undefined;
      if (os) {
        const raw: string | undefined = meta.customData ?? os.customData;
        const userData = raw ? Buffer.from(raw, 'base64').toString('utf8') : undefined;
        seed = {
          instanceId: String(vm.properties?.vmId ?? vm.id),
          hostname: os.computerName ?? vm.name,
          adminUser: os.adminUsername,
          sshAuthorizedKeys: (os.linuxConfiguration?.ssh?.publicKeys ?? [])
            .map((p: { keyData?: string }) => p.keyData)
            .filter(Boolean),
          userData,
        };
      }
      // resolv.conf: the host's resolver (reachable through the NAT)
      try {
        const resolv = path.join(overlay.merged, 'etc/resolv.conf');
        rmSync(resolv, { force: true });
        writeFileSync(resolv, readFileSync('/etc/resolv.conf'));
      } catch {
        /* keep the root's */
      }
      await this.opts.beforeBoot?.(overlay.merged, vm);
      const container = new nspawn.Container({
        name: `vm-${key(vm.id).slice(-8)}`,
        root: overlay.merged,
        disks,
        network,
        seed,
        nspawnArgs: [...(this.opts.binds ?? []).map(([h, g]) => `--bind=${h}:${g}`), ...this.hostCaBind()],
        consoleLog: path.join(this.workdir, 'console', `${vm.name}.log`),
        log: this.log,
      });
      await container.start();
      this.running.set(k, { container, overlay, loops, diskIds });
      // Azure reports a VM running once it is provisioned, long before cloud-init's final stage is
      // done: the operation completes when sshd accepts connections (the caller waits for the rest).
      const state = await this.waitSshd(container, 240_000);
      this.log(
        `nspawn guest: ${vm.name} up (sshd ${state}) at ${network.guestAddress} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
    } catch (err) {
      const r = this.running.get(k);
      this.running.delete(k);
      await r?.container.poweroff({ timeoutMs: 20_000 }).catch(() => undefined);
      for (const l of loops.values()) l.detach();
      overlay.dispose(false);
      throw err;
    }
  }

  /**
   * A host behind a TLS-intercepting egress proxy trusts its CA through NODE_EXTRA_CA_CERTS; the guests
   * (whose roots trust the same CAs in the system store) need the same for node/npm, so the manager's
   * DefaultEnvironment gets it through a read-only bind (a bind is never part of the OS disk or a capture).
   */
  private hostCaBind(): string[] {
    if (!process.env.NODE_EXTRA_CA_CERTS) return [];
    const f = path.join(this.workdir, 'host-ca.conf');
    writeFileSync(
      f,
      '# OpenClawps nspawn guest: the host egress CA for node (the host sets NODE_EXTRA_CA_CERTS)\n[Manager]\nDefaultEnvironment=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n',
    );
    return [`--bind-ro=${f}:/etc/systemd/system.conf.d/90-openclawps-host-ca.conf`];
  }

  private async waitSshd(container: nspawn.Container, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!container.running())
        throw new Error(`nspawn guest: ${container.name} stopped while booting:\n${container.consoleTail()}`);
      const r = await container
        .exec(['systemctl', 'is-active', 'ssh.service'], { timeoutMs: 10_000 })
        .catch((e: Error) => ({ stdout: e.message, code: 1 }));
      last = r.stdout.trim();
      if (last === 'active') return last;
      if (last === 'failed') break;
      await nspawn.run('sleep', ['0.5']);
    }
    throw new Error(`nspawn guest: ${container.name}: ssh.service is ${last || 'unknown'} after boot`);
  }

  private async powerOff(vm: ArmResource): Promise<void> {
    const k = lc(vm.id);
    const r = this.running.get(k);
    if (!r) return;
    const off = await r.container.poweroff({ timeoutMs: (this.opts.poweroffTimeoutSeconds ?? 90) * 1000 });
    this.log(`nspawn guest: ${vm.name} off (${off.clean ? 'clean' : 'forced'}, ${off.seconds.toFixed(1)} s)`);
    this.running.delete(k);
    for (const l of r.loops.values()) l.detach();
    r.overlay.dispose(false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: string[] = [];
    for (const [k, r] of [...this.running]) {
      try {
        await r.container.poweroff({ timeoutMs: 30_000 });
      } catch (e) {
        errors.push(String(e));
      }
      for (const l of r.loops.values()) {
        try {
          l.detach();
        } catch (e) {
          errors.push(String(e));
        }
      }
      try {
        r.overlay.dispose(false);
      } catch (e) {
        errors.push(String(e));
      }
      this.running.delete(k);
    }
    for (const n of this.networks.values()) n.dispose();
    this.networks.clear();
    this.natUndo?.();
    if (this.ownsWorkdir) {
      try {
        await nspawn.removeRoot(this.workdir);
      } catch (e) {
        errors.push(String(e));
      }
    }
    if (errors.length) this.log(`nspawn guest: close: ${errors.join('; ')}`);
  }
}
