/**
 * A booted guest: systemd as PID 1 in `systemd-nspawn -b`, with its own network namespace (see
 * network.ts), managed disks bound in as loop devices and linked at the Azure LUN paths, and the
 * NoCloud seed for cloud-init. Every process and link it makes is tracked for cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { processStartTime, RUN_DIR, sleepSync, stopProcessSync, track } from './cleanup';
import { createNetwork, type GuestNetwork } from './network';
import { alive, run, sleep, type RunResult } from './proc';
import { writeNoCloudSeed, type NoCloudSeed } from './seed';

export interface ContainerDisk {
  lun: number;
  /** The host block device, e.g. /dev/loop3 (its partitions are bound too). */
  device: string;
}

export interface ContainerOptions {
  /** Machine name (also the default host name); [A-Za-z0-9-], at most 64 characters. */
  name: string;
  /** The root directory to boot (a copy or an overlay's merged dir; the container writes to it). */
  root: string;
  disks?: ContainerDisk[];
  /** Extra host devices to bind as they are (e.g. a raw loop device without a LUN link). */
  bindDevices?: string[];
  /** A network made by createNetwork (kept by the caller). Default: one made for, and removed with, this container. */
  network?: GuestNetwork;
  /** Pin the /30 slot of the default network. */
  networkSlot?: number;
  /** NoCloud seed written into the root before each start (omit to keep what the root has). */
  seed?: NoCloudSeed;
  /** File receiving the console (default RUN_DIR/<name>.console.log). */
  consoleLog?: string;
  /** Extra systemd-nspawn arguments. */
  nspawnArgs?: string[];
  log?: (msg: string) => void;
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Run as this user (via runuser -l). */
  user?: string;
}

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Stands in for Azure's udev rules (no udev in a container): device nodes + /dev/disk/azure/scsi1/lunN[-partM]. */
const DISK_LINKS_SCRIPT = `#!/bin/sh
# Written by the OpenClawps nspawn backend. A container has no udev, so this stands in for the
# Azure storage udev rules: it creates the nodes of the bound data disks (and their partitions)
# and the /dev/disk/azure/scsi1/lunN[-partM] links, from /etc/openclawps/disks ("LUN DEVICE" lines).
set -u
mkdir -p /dev/disk/azure/scsi1
[ -r /etc/openclawps/disks ] || exit 0
node_for() { # $1 = kernel name
  [ -b "/dev/$1" ] && return 0
  [ -r "/sys/class/block/$1/dev" ] || return 1
  mm=$(cat "/sys/class/block/$1/dev")
  mknod "/dev/$1" b "\${mm%%:*}" "\${mm##*:}"
}
while read -r lun dev; do
  case "$lun" in ''|'#'*) continue ;; esac
  name=$(basename "$dev")
  node_for "$name" || { echo "openclawps-disk-links: $dev is not a block device" >&2; continue; }
  ln -sfn "../../../$name" "/dev/disk/azure/scsi1/lun$lun"
  for p in /sys/class/block/"$name"/"$name"p*; do
    [ -r "$p/partition" ] || continue
    pn=$(basename "$p")
    node_for "$pn" && ln -sfn "../../../$pn" "/dev/disk/azure/scsi1/lun$lun-part$(cat "$p/partition")"
  done
done < /etc/openclawps/disks
exit 0
`;

const DISK_LINKS_UNIT = `[Unit]
Description=Azure data disk links for a container without udev (OpenClawps nspawn backend)
DefaultDependencies=no
After=systemd-tmpfiles-setup-dev.service
Before=local-fs-pre.target sysinit.target claw-boot.service
Wants=local-fs-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/openclawps-disk-links

[Install]
WantedBy=sysinit.target
`;

/** Writes the disk list, the link script and its unit (enabled) into the root. */
export function installDiskLinks(root: string, disks: ContainerDisk[]): void {
  mkdirSync(join(root, 'etc/openclawps'), { recursive: true });
  writeFileSync(join(root, 'etc/openclawps/disks'), disks.map((d) => `${d.lun} ${d.device}\n`).join(''));
  mkdirSync(join(root, 'usr/local/sbin'), { recursive: true });
  writeFileSync(join(root, 'usr/local/sbin/openclawps-disk-links'), DISK_LINKS_SCRIPT);
  chmodSync(join(root, 'usr/local/sbin/openclawps-disk-links'), 0o755);
  writeFileSync(join(root, 'etc/systemd/system/openclawps-disk-links.service'), DISK_LINKS_UNIT);
  const wants = join(root, 'etc/systemd/system/sysinit.target.wants');
  mkdirSync(wants, { recursive: true });
  // lstat, not exists: the link's absolute target only resolves inside the container
  const link = join(wants, 'openclawps-disk-links.service');
  let present = false;
  try {
    lstatSync(link);
    present = true;
  } catch {
    // not there yet
  }
  if (!present) symlinkSync('../openclawps-disk-links.service', link);
}

function partitionsOf(device: string): string[] {
  const name = basename(device);
  const dir = `/sys/class/block/${name}`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(`${name}p`) && existsSync(`${dir}/${n}/partition`))
    .map((n) => `/dev/${n}`)
    .filter((p) => existsSync(p));
}

export class Container {
  readonly name: string;
  readonly root: string;
  readonly consoleLog: string;
  network!: GuestNetwork;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private untrackProcess: () => void = () => undefined;
  private untrackNetwork: () => void = () => undefined;
  private leaderPid = 0;
  private disks: ContainerDisk[];
  private readonly log: (msg: string) => void;
  /** Number of boots so far. */
  boots = 0;

  constructor(private readonly opts: ContainerOptions) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/.test(opts.name))
      throw new Error(`container name ${JSON.stringify(opts.name)}: use [A-Za-z0-9-], at most 64 characters`);
    this.name = opts.name;
    this.root = opts.root;
    this.disks = [...(opts.disks ?? [])];
    this.consoleLog = opts.consoleLog ?? join(RUN_DIR, `${opts.name}.console.log`);
    this.log = opts.log ?? (() => undefined);
  }

  /** The guest's address on its veth (what SSH connects to). */
  get address(): string {
    return this.network.guestAddress;
  }

  /** Host pid of the container's PID 1 (systemd); 0 when not running. */
  get leader(): number {
    return this.leaderPid;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Boots the container (again, after poweroff). Resolves once PID 1 exists; see waitRunning(). */
  async start(): Promise<void> {
    if (this.running()) throw new Error(`container ${this.name} is already running`);
    if (!existsSync(join(this.root, 'sbin/init')) && !existsSync(join(this.root, 'lib/systemd/systemd')))
      throw new Error(`container ${this.name}: ${this.root} has no init (not a root filesystem?)`);
    if (!this.network) {
      if (this.opts.network) this.network = this.opts.network;
      else {
        this.network = await createNetwork({ name: this.name, slot: this.opts.networkSlot });
        const net = this.network;
        this.untrackNetwork = track(`network of ${this.name}`, () => net.dispose());
      }
    }
    if (this.opts.seed) writeNoCloudSeed(this.root, this.opts.seed);
    installDiskLinks(this.root, this.disks);

    const binds: string[] = [];
    for (const d of this.disks) binds.push(d.device, ...partitionsOf(d.device));
    binds.push(...(this.opts.bindDevices ?? []));
    const args = [
      '--register=no',
      '--keep-unit',
      '--boot',
      '--console=pipe',
      '--link-journal=no',
      `--directory=${this.root}`,
      `--machine=${this.name}`,
      `--network-namespace-path=${this.network.nsPath}`,
      ...binds.map((b) => `--bind=${b}`),
      ...(this.opts.nspawnArgs ?? []),
    ];
    mkdirSync(join(this.consoleLog, '..'), { recursive: true });
    const fd = openSync(this.consoleLog, 'a');
    writeFileSync(
      fd,
      `\n===== ${new Date().toISOString()} boot ${this.boots + 1}: systemd-nspawn ${args.join(' ')}\n`,
    );
    const child = spawn('systemd-nspawn', args, { stdio: ['pipe', fd, fd], detached: true });
    closeSync(fd);
    this.child = child;
    this.boots++;
    this.leaderPid = 0;
    const nspawnPid = child.pid!;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      this.log(`container ${this.name}: systemd-nspawn exited (${signal ?? code})`);
      this.untrackProcess();
      this.untrackProcess = () => undefined;
    });
    child.stdin?.on('error', () => undefined); // kept open: a console whose stdin hits EOF confuses getty
    const leaderOf = () => this.leaderPid;
    this.untrackProcess = track(
      `container ${this.name} (nspawn pid ${nspawnPid})`,
      () => {
        const leader = leaderOf();
        stopProcessSync(nspawnPid, 'systemd-nspawn', 15_000);
        if (leader && alive(leader)) {
          try {
            process.kill(leader, 'SIGKILL');
          } catch {
            // gone
          }
          sleepSync(200);
        }
      },
      { kind: 'process', pid: nspawnPid, match: 'systemd-nspawn' },
    );
    this.leaderPid = await this.findLeader(nspawnPid, 30_000);
    // journal PID 1 too: if this process is SIGKILLed, reapStale() must end the container even
    // when nspawn is gone already (the guest's systemd would otherwise be reparented and live on)
    const leader = this.leaderPid;
    const startTime = processStartTime(leader);
    const untrackInit = track(
      `container ${this.name} init (pid ${leader})`,
      () => {
        // in-process cleanup stops nspawn first (orderly halt); this only catches an orphaned PID 1
        if (alive(nspawnPid)) return;
        if (processStartTime(leader) === startTime) {
          try {
            process.kill(leader, 'SIGKILL');
          } catch {
            // gone
          }
        }
      },
      { kind: 'init', pid: leader, startTime },
    );
    child.once('exit', () => untrackInit());
    this.log(
      `container ${this.name}: booting, nspawn pid ${nspawnPid}, init pid ${this.leaderPid}, address ${this.address}`,
    );
  }

  private async findLeader(nspawnPid: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running())
        throw new Error(
          `container ${this.name}: systemd-nspawn exited during start; see ${this.consoleLog}\n${this.consoleTail()}`,
        );
      try {
        const children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        for (const c of children) {
          const status = readFileSync(`/proc/${c}/status`, 'utf8');
          const nspid =
            status
              .match(/^NSpid:\s+(.+)$/m)?.[1]
              .trim()
              .split(/\s+/) ?? [];
          if (nspid.length > 1 && nspid[nspid.length - 1] === '1') return Number(c);
        }
      } catch {
        // racing process creation
      }
      await sleep(100);
    }
    throw new Error(`container ${this.name}: no PID 1 after ${timeoutMs / 1000} s`);
  }

  consoleTail(lines = 30): string {
    try {
      return readFileSync(this.consoleLog, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Runs argv inside the container (all its namespaces, a clean root environment). */
  exec(argv: string[], opts: ExecOptions = {}): Promise<RunResult> {
    if (!this.running() || !this.leaderPid) throw new Error(`container ${this.name} is not running`);
    const env = { PATH: GUEST_PATH, HOME: '/root', LANG: 'C.UTF-8', TERM: 'dumb', ...opts.env };
    const inner = opts.user ? ['runuser', '-l', opts.user, '-c', argv.map(shq).join(' ')] : argv;
    return run(
      'nsenter',
      [
        '-t',
        String(this.leaderPid),
        '-a',
        '--',
        '/usr/bin/env',
        '-i',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        ...inner,
      ],
      { timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input },
    );
  }

  /** Runs a shell script inside the container. */
  sh(script: string, opts: ExecOptions = {}): Promise<RunResult> {
    return this.exec(['/bin/sh', '-c', script], opts);
  }

  /**
   * Waits for `systemctl is-system-running --wait` (boot finished, cloud-init's units included).
   * Returns the state: "running", or "degraded" (then failedUnits() says which).
   */
  async waitRunning(opts: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? 180_000;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running())
        throw new Error(`container ${this.name} stopped while booting; console:\n${this.consoleTail()}`);
      const r = await this.exec(['systemctl', 'is-system-running', '--wait'], {
        timeoutMs: Math.max(1000, deadline - Date.now()),
      });
      last = (r.stdout || r.stderr).trim();
      if (['running', 'degraded', 'maintenance', 'stopping'].includes(last)) return last;
      await sleep(500); // the manager was not reachable yet ("offline", bus errors)
    }
    const jobs = this.running()
      ? (await this.exec(['systemctl', 'list-jobs', '--no-pager'], { timeoutMs: 10_000 })).stdout
      : '';
    throw new Error(
      `container ${this.name}: not running after ${timeoutMs / 1000} s (state ${last || 'unknown'})\n${jobs}`,
    );
  }

  async failedUnits(): Promise<string[]> {
    const r = await this.exec(
      ['systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager'],
      { timeoutMs: 20_000 },
    );
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter(Boolean);
  }

  /** `cloud-init status --wait --long`: { status: 'done'|'error'|..., output }. */
  async waitCloudInit(opts: { timeoutMs?: number } = {}): Promise<{ status: string; output: string }> {
    const r = await this.exec(['cloud-init', 'status', '--wait', '--long'], {
      timeoutMs: opts.timeoutMs ?? 300_000,
    });
    const status = r.stdout.match(/^status:\s*(\S+)/m)?.[1] ?? 'unknown';
    return { status, output: `${r.stdout}${r.stderr}`.trim() };
  }

  /**
   * Orderly shutdown (systemctl poweroff, then SIGTERM to nspawn, which asks PID 1 to halt), waiting
   * until the container is really gone; SIGKILL of PID 1 and nspawn after `timeoutMs`.
   */
  async poweroff(opts: { timeoutMs?: number } = {}): Promise<{ clean: boolean; seconds: number }> {
    const started = Date.now();
    if (!this.running()) return { clean: true, seconds: 0 };
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const gone = () => !this.running();
    const waitGone = async (ms: number) => {
      const until = Date.now() + ms;
      while (!gone() && Date.now() < until) await Promise.race([this.exited, sleep(200)]);
      return gone();
    };
    await this.exec(['systemctl', 'poweroff', '--no-block'], { timeoutMs: 10_000 }).catch(() => undefined);
    let clean = await waitGone(timeoutMs * 0.6);
    if (!clean) {
      this.log(`container ${this.name}: still up after poweroff, sending SIGTERM to nspawn`);
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // exited meanwhile
      }
      clean = await waitGone(timeoutMs * 0.4);
    }
    if (!clean) {
      this.log(`container ${this.name}: killing (SIGKILL) after ${timeoutMs / 1000} s`);
      for (const pid of [this.leaderPid, this.pid]) {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await waitGone(10_000);
    }
    this.leaderPid = 0;
    return { clean, seconds: (Date.now() - started) / 1000 };
  }

  /** Hard stop (like pulling the power): SIGKILL PID 1. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    try {
      if (this.leaderPid) process.kill(this.leaderPid, 'SIGKILL');
    } catch {
      // gone
    }
    await Promise.race([this.exited, sleep(10_000)]);
    if (this.running()) process.kill(this.pid, 'SIGKILL');
    await this.exited;
    this.leaderPid = 0;
  }

  async restart(opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.poweroff(opts);
    await this.start();
  }

  /** Attaches a disk at a LUN; on a running container the node and link appear at once. */
  async attachDisk(disk: ContainerDisk): Promise<void> {
    if (this.disks.some((d) => d.lun === disk.lun))
      throw new Error(`container ${this.name}: LUN ${disk.lun} is in use`);
    this.disks.push(disk);
    installDiskLinks(this.root, this.disks);
    if (this.running()) {
      const mm = readFileSync(`/sys/class/block/${basename(disk.device)}/dev`, 'utf8').trim();
      await this.exec(['mknod', disk.device, 'b', ...mm.split(':')]).catch(() => undefined);
      await this.exec(['/usr/local/sbin/openclawps-disk-links']);
    }
  }

  /** Detaches the disk at a LUN: unmounts it inside (lazily), removes the link and the nodes. */
  async detachDisk(lun: number): Promise<void> {
    const disk = this.disks.find((d) => d.lun === lun);
    if (!disk) return;
    this.disks = this.disks.filter((d) => d !== disk);
    installDiskLinks(this.root, this.disks);
    if (this.running()) {
      const dev = disk.device;
      await this.sh(
        `for m in $(findmnt -rn -o TARGET -S ${dev}; for p in ${dev}p*; do [ -e "$p" ] && findmnt -rn -o TARGET -S "$p"; done); do umount -l "$m"; done; ` +
          `rm -f /dev/disk/azure/scsi1/lun${lun} /dev/disk/azure/scsi1/lun${lun}-part* ${dev} ${dev}p*`,
      );
    }
  }

  /** Powers off (if running) and removes the network this container made. Leaves root and disks to their owners. */
  async destroy(opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.poweroff(opts);
    this.untrackNetwork();
    this.untrackNetwork = () => undefined;
  }
}

function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Creates and boots a container (resolves when PID 1 runs; then waitRunning()). */
export async function startContainer(opts: ContainerOptions): Promise<Container> {
  const c = new Container(opts);
  await c.start();
  return c;
}
