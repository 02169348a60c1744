/**
 * Root filesystems for booted guests: a debootstrapped Debian 12 cached once per machine, derived
 * roots (base + an install step) cached by key, and per-container copies or overlays.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { track } from './cleanup';
import { alive, must, run, runSync, sleep } from './proc';

export const DEFAULT_CACHE_DIR = process.env.OPENCLAWPS_ROOT_CACHE ?? '/var/cache/openclawps/roots';
const MARKER = '.openclawps-root.json';

/** Packages the base root carries on top of debootstrap's minbase (all --no-install-recommends). */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'cloud-init',
  'sudo',
  'locales',
  'iproute2',
  'ca-certificates',
  'jq',
  'tmux',
  'util-linux',
  'fdisk',
  'gdisk',
  'e2fsprogs',
  'curl',
  'procps',
  'less',
  'python3-apt',
];

export type Log = (msg: string) => void;

export interface RootInfo {
  name: string;
  path: string;
  createdAt: string;
  buildSeconds: number;
  parent?: string;
  key?: string;
  /**
   * Set for a layer (ensureLayer): the overlay lower dirs that make the whole root, top first,
   * starting with this layer's own dir. A plain root is its own single layer.
   */
  layers?: string[];
}

/** The overlay lower dirs (top first) that make up a cached root or layer. */
export function rootLayers(path: string): string[] {
  return rootInfo(path)?.layers ?? [path];
}

/** The Debian mirror the host's apt uses (deb822 .sources or sources.list), else deb.debian.org. */
export function debianMirror(): string {
  if (process.env.OPENCLAWPS_DEBIAN_MIRROR) return process.env.OPENCLAWPS_DEBIAN_MIRROR;
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.sources'))) {
      for (const stanza of readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/)) {
        const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, 'mi'))?.[1].trim() ?? '';
        if (!/\bdeb\b/.test(field('Types')) || !/^bookworm(\s|$)/.test(field('Suites'))) continue;
        if (/^\s*Enabled:\s*no/im.test(stanza)) continue;
        candidates.push(...field('URIs').split(/\s+/));
      }
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/);
      if (m) candidates.push(m[1]);
    }
  }
  return (
    candidates.find((u) => /^https?:\/\//.test(u) && !/security/.test(u)) ?? 'http://deb.debian.org/debian'
  );
}

export function rootInfo(path: string): RootInfo | null {
  try {
    return JSON.parse(readFileSync(join(path, MARKER), 'utf8')) as RootInfo;
  } catch {
    return null;
  }
}

/**
 * Unmounts everything mounted at or below `path`, deepest first (debootstrap leaves /proc and /sys
 * mounted in its target when it is killed). Call before deleting a directory tree that may hold
 * mounts: a recursive delete must never walk into a host mount.
 */
export function unmountBelow(path: string): void {
  const targets = runSync('findmnt', ['-rn', '-o', 'TARGET'])
    .output.split('\n')
    .map((t) => t.replace(/\\x20/g, ' '))
    .filter((t) => t === path || t.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
  for (const t of targets) if (runSync('umount', [t]).code !== 0) runSync('umount', ['-l', t]);
}

/** Deletes a scratch tree after unmounting whatever is mounted inside it. */
function removeTree(path: string): void {
  unmountBelow(path);
  const left = runSync('findmnt', ['-rn', '-o', 'TARGET'])
    .output.split('\n')
    .filter((t) => t.startsWith(`${path}/`));
  if (left.length) throw new Error(`not deleting ${path}: still mounted inside: ${left.join(' ')}`);
  rmSync(path, { recursive: true, force: true });
}

/**
 * Moves a tree out of the way at once (rename into <parent>/.trash) and deletes it in a detached
 * `rm -rf`, so pruning a 1 GB root never blocks a test run. Leftover trash is removed next time.
 */
export function trashTree(path: string): void {
  unmountBelow(path);
  const trash = join(dirname(path), '.trash');
  mkdirSync(trash, { recursive: true });
  renameSync(path, join(trash, `${basename(path)}-${process.pid}-${Date.now()}`));
  const rm = spawn('rm', ['-rf', '--one-file-system', trash], { detached: true, stdio: 'ignore' });
  rm.on('error', () => undefined);
  rm.unref();
}

/** A cross-process lock: an atomically created directory holding the owner's pid (stale owners are taken over). */
async function withLock<T>(
  lockDir: string,
  log: Log,
  fn: () => Promise<T>,
  waitMs = 20 * 60_000,
): Promise<T> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // the owner has not written its pid yet, or just released the lock
      }
      const age = (() => {
        try {
          return Date.now() - statSync(lockDir).mtimeMs;
        } catch {
          return 0;
        }
      })();
      if ((owner && !alive(owner)) || (!owner && age > 30_000)) {
        log(`lock ${lockDir}: previous owner ${owner || '?'} is gone, taking over`);
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`lock ${lockDir}: held by pid ${owner}, waiting`);
      announced = true;
      if (Date.now() - started > waitMs)
        throw new Error(`timed out waiting for ${lockDir} (held by pid ${owner})`);
      await sleep(1000);
    }
  }
  const release = track(`lock ${lockDir}`, () => rmSync(lockDir, { recursive: true, force: true }));
  try {
    return await fn();
  } finally {
    release();
  }
}

/**
 * Runs argv chrooted into `root` inside a private mount namespace with /proc, /sys, /dev and
 * /dev/pts mounted (they vanish with the namespace, nothing to clean up). Services are kept from
 * starting by the policy-rc.d that the build installs.
 */
export async function chrootRun(
  root: string,
  argv: string[],
  opts: {
    env?: Record<string, string>;
    timeoutMs?: number;
    log?: Log;
    input?: string;
    /** Host paths bind-mounted into the chroot for this command only: [hostPath, pathInsideRoot]. */
    binds?: [string, string][];
  } = {},
): Promise<string> {
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    DEBIAN_FRONTEND: 'noninteractive',
    // Node ignores the system CA store; this adds it (and so any CA trustHostCertificates copied in)
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
    ...opts.env,
  };
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount -t proc proc "$R/proc"',
    'mount -t sysfs -o ro sysfs "$R/sys"',
    'mount --rbind /dev "$R/dev"',
    'mount -t tmpfs tmpfs "$R/run"',
    'mount -t tmpfs tmpfs "$R/tmp"',
    ...(opts.binds ?? []).map(
      ([src, dst]) => `mkdir -p "$R"${shq(dst)} && mount --bind ${shq(src)} "$R"${shq(dst)}`,
    ),
    'shift',
    'exec chroot "$R" /usr/bin/env -i "$@"',
  ].join('\n');
  const args = [
    '--mount',
    '--fork',
    'sh',
    '-c',
    script,
    'sh',
    'x',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
  const log = opts.log;
  let partial = '';
  const r = await must('unshare', args, {
    env: { ...process.env, R: root },
    timeoutMs: opts.timeoutMs ?? 30 * 60_000,
    input: opts.input,
    onOutput: log
      ? (chunk) => {
          partial += chunk;
          const lines = partial.split('\n');
          partial = lines.pop()!;
          for (const l of lines) if (l.trim()) log(`  | ${l}`);
        }
      : undefined,
  });
  return r.stdout;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface EnsureRootOptions {
  cacheDir?: string;
  log?: Log;
  /** Rebuild even when a completed root exists. */
  rebuild?: boolean;
  /** Rebuild when this says the completed root is out of date (e.g. its parent was rebuilt). */
  stale?: (info: RootInfo) => boolean;
}

/**
 * Builds a cached root once: `build(dir)` fills a scratch directory, the marker is written last and
 * the directory renamed into place, so a half-built root is never used. Concurrent callers (other
 * processes) wait on a lock and then reuse the result.
 */
export async function ensureRoot(
  name: string,
  build: (dir: string, log: Log) => Promise<{ parent?: string; key?: string } | void>,
  opts: EnsureRootOptions = {},
): Promise<string> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = opts.log ?? (() => undefined);
  const path = join(cacheDir, name);
  const usable = () => {
    const info = rootInfo(path);
    return !!info && !opts.rebuild && !opts.stale?.(info);
  };
  if (usable()) return path;
  mkdirSync(cacheDir, { recursive: true });
  return withLock(join(cacheDir, `.${name}.lock`), log, async () => {
    if (usable()) return path; // built by another process while we waited
    const scratch = join(cacheDir, `.${name}.partial`);
    rmSync(scratch, { recursive: true, force: true });
    const started = Date.now();
    const dropScratch = track(`partial root ${scratch}`, () =>
      rmSync(scratch, { recursive: true, force: true }),
    );
    const extra = (await build(scratch, log)) ?? {};
    const info: RootInfo = {
      name,
      path,
      createdAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      ...extra,
    };
    unmountBelow(scratch);
    writeFileSync(join(scratch, MARKER), `${JSON.stringify(info, null, 2)}\n`);
    removeTree(path);
    renameSync(scratch, path);
    dropScratch();
    log(`root ${name} built in ${info.buildSeconds} s`);
    return path;
  });
}

/** Debian 12 (bookworm) minbase + systemd, sshd, cloud-init (NoCloud only) and the tools the guest scripts use. */
export async function ensureBaseRoot(
  opts: EnsureRootOptions & { mirror?: string; name?: string } = {},
): Promise<string> {
  const mirror = opts.mirror ?? debianMirror();
  return ensureRoot(
    opts.name ?? 'debian12-base',
    async (dir, log) => {
      const t0 = Date.now();
      log(`debootstrap bookworm from ${mirror}`);
      const eatmydata = runSync('sh', ['-c', 'command -v eatmydata']).code === 0 ? ['eatmydata'] : [];
      await must(
        eatmydata[0] ?? 'debootstrap',
        [...(eatmydata.length ? ['debootstrap'] : []), '--variant=minbase', 'bookworm', dir, mirror],
        { timeoutMs: 15 * 60_000 },
      );
      log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      writeFileSync(join(dir, 'etc/dpkg/dpkg.cfg.d/openclawps-unsafe-io'), 'force-unsafe-io\n');
      writeFileSync(
        join(dir, 'etc/apt/apt.conf.d/90openclawps'),
        'APT::Install-Recommends "false";\nAcquire::Retries "3";\n',
      );
      writeFileSync(join(dir, 'etc/apt/sources.list'), `deb ${mirror} bookworm main\n`);
      writeFileSync(join(dir, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
      const t1 = Date.now();
      await chrootRun(dir, ['apt-get', 'update', '-q'], { timeoutMs: 5 * 60_000 });
      await chrootRun(dir, ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...BASE_PACKAGES], {
        timeoutMs: 15 * 60_000,
      });
      log(
        `apt-get install (${BASE_PACKAGES.length} packages) done in ${((Date.now() - t1) / 1000).toFixed(1)} s`,
      );
      const extra = trustHostCertificates(dir);
      if (extra) {
        await chrootRun(dir, ['update-ca-certificates']);
        log(`trusting ${extra} extra CA certificate(s) of the host (a TLS-intercepting proxy?)`);
      }
      // cloud-init's locale module runs update-locale for en_US.UTF-8 by default (it fails without the locale).
      writeFileSync(join(dir, 'etc/locale.gen'), 'en_US.UTF-8 UTF-8\nC.UTF-8 UTF-8\n');
      await chrootRun(dir, ['locale-gen']);
      writeFileSync(join(dir, 'etc/default/locale'), 'LANG=C.UTF-8\n');
      writeFileSync(
        join(dir, 'etc/cloud/cloud.cfg.d/90-openclawps-nspawn.cfg'),
        [
          '# OpenClawps nspawn guest: the NoCloud seed directory stands in for Azure IMDS/OVF;',
          '# the network is configured by the host (netns + veth) before boot.',
          'datasource_list: [ NoCloud, None ]',
          'network: { config: disabled }',
          '',
        ].join('\n'),
      );
      // A fresh machine-id per boot of every copy; no pre-baked one shared by all containers.
      writeFileSync(join(dir, 'etc/machine-id'), '');
      rmSync(join(dir, 'var/lib/dbus/machine-id'), { force: true });
      await chrootRun(dir, ['apt-get', 'clean']);
      return { key: `bookworm ${mirror} ${BASE_PACKAGES.join(',')}` };
    },
    opts,
  );
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Copies the CA certificates the host trusts but the root does not (e.g. a TLS-intercepting proxy's
 * CA in CI) into the root's /usr/local/share/ca-certificates, so apt/npm/curl in a chroot or guest
 * reach the same registries the host does. Returns how many; run update-ca-certificates after.
 */
export function trustHostCertificates(
  root: string,
  hostBundle = '/etc/ssl/certs/ca-certificates.crt',
): number {
  if (!existsSync(hostBundle)) return 0;
  const guestBundle = join(root, 'etc/ssl/certs/ca-certificates.crt');
  const norm = (b: string) => b.replace(/\s+/g, '');
  const known = new Set(
    existsSync(guestBundle) ? pemBlocks(readFileSync(guestBundle, 'utf8')).map(norm) : [],
  );
  const extra = pemBlocks(readFileSync(hostBundle, 'utf8')).filter((b) => !known.has(norm(b)));
  const dir = join(root, 'usr/local/share/ca-certificates');
  mkdirSync(dir, { recursive: true });
  extra.forEach((b, i) => writeFileSync(join(dir, `openclawps-host-${i + 1}.crt`), `${b}\n`));
  return extra.length;
}

/**
 * A root as an overlay layer on top of `parent` (a cached root or layer): `install(merged)` runs
 * on an overlay of the parent's layers, and only what it changed is kept (the overlay's upper
 * dir, whiteouts included) as `<cacheDir>/<name>`. Containers then mount the whole stack as lower
 * dirs (overlayRoot accepts the root path and reads the stack from its marker). Instant compared to
 * a copy of the parent, and the cache holds each file once.
 */
export async function ensureLayer(
  name: string,
  parent: string,
  install: (merged: string, log: Log) => Promise<void>,
  opts: EnsureRootOptions = {},
): Promise<string> {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const path = join(cacheDir, name);
  const lowers = rootLayers(parent);
  return ensureRoot(
    name,
    async (dir, log) => {
      const work = `${dir}.work`;
      removeTree(work);
      mkdirSync(join(work, 'upper'), { recursive: true });
      const ov = await overlayRoot(lowers, work);
      try {
        await install(ov.merged, log);
      } finally {
        ov.dispose(false);
      }
      renameSync(ov.upper, dir);
      rmSync(join(dir, MARKER), { force: true }); // ensureRoot writes this layer's own marker
      removeTree(work);
      return { parent, layers: [path, ...lowers] };
    },
    {
      ...opts,
      stale: (info) => {
        const p = rootInfo(parent);
        return !p || p.createdAt > info.createdAt || !!opts.stale?.(info);
      },
    },
  );
}

/**
 * A root derived from another: `parent` copied, then `install(dir)` run on the copy (usually via
 * chrootRun). Cached under `name`; put whatever changes the result into `name` (a content hash).
 */
export async function ensureDerivedRoot(
  name: string,
  parent: string,
  install: (dir: string, log: Log) => Promise<void>,
  opts: EnsureRootOptions = {},
): Promise<string> {
  return ensureRoot(
    name,
    async (dir, log) => {
      await copyRoot(parent, dir);
      rmSync(join(dir, MARKER), { force: true });
      await install(dir, log);
      return { parent };
    },
    {
      ...opts,
      stale: (info) => {
        const p = rootInfo(parent);
        return !p || p.createdAt > info.createdAt || !!opts.stale?.(info);
      },
    },
  );
}

/**
 * A full, independent copy of a root (`cp -a --reflink=auto`, so CoW where the filesystem supports
 * it). A layered root (ensureLayer) is copied through a temporary overlay of its stack.
 */
export async function copyRoot(src: string, dst: string): Promise<void> {
  if (existsSync(dst)) throw new Error(`copyRoot: ${dst} already exists`);
  const layers = rootLayers(src);
  if (layers.length === 1) {
    await must('cp', ['-a', '--reflink=auto', src, dst], { timeoutMs: 20 * 60_000 });
    return;
  }
  const tmp = `${dst}.copy-overlay`;
  const ov = await overlayRoot(layers, tmp);
  try {
    await must('cp', ['-a', '--reflink=auto', ov.merged, dst], { timeoutMs: 20 * 60_000 });
  } finally {
    ov.dispose(true);
  }
}

export interface OverlayRoot {
  /** The merged root to boot (`-D`). */
  merged: string;
  /** The writable layer: everything the container changed. */
  upper: string;
  lower: string;
  /** Unmounts the overlay; `removeUpper` deletes the container's changes too. */
  dispose(removeUpper?: boolean): void;
}

/**
 * A container root as an overlay: the cached root is the read-only lower layer, the container's
 * writes land in `<dir>/upper`. Instant, and the cached root stays pristine. (Chosen over a copy
 * because ext4 has no reflinks: a 1 GB root copy costs seconds to minutes on a busy disk.)
 * An existing `<dir>/upper` is reused, so the same overlay dir survives a container restart.
 */
export async function overlayRoot(root: string | string[], dir: string): Promise<OverlayRoot> {
  const layers = Array.isArray(root) ? root : rootLayers(root);
  const lower = layers.join(':');
  if (!layers.length || !existsSync(join(layers[layers.length - 1], 'etc/os-release')))
    throw new Error(`overlayRoot: ${layers[layers.length - 1]} is not a root filesystem`);
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const merged = join(dir, 'merged');
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
  await must('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    merged,
  ]);
  let mounted = true;
  const umount = () => {
    if (!mounted) return;
    const r = runSync('umount', [merged]);
    if (r.code !== 0 && runSync('umount', ['-l', merged]).code !== 0)
      throw new Error(`umount ${merged}: ${r.output.trim()}`);
    mounted = false;
  };
  const untrack = track(`overlay ${merged}`, umount, { kind: 'mount', target: merged });
  return {
    merged,
    upper,
    lower,
    dispose(removeUpper = false) {
      untrack();
      if (removeUpper) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Removes a root directory made by copyRoot (refuses cached roots' parent dir and "/"). */
export async function removeRoot(path: string): Promise<void> {
  if (path === '/' || path.split('/').filter(Boolean).length < 2)
    throw new Error(`removeRoot: refusing ${path}`);
  // a bind or overlay mount still inside would be deleted through: refuse instead
  const mounts = (await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout.split('\n');
  if (mounts.some((m) => m === path || m.startsWith(`${path}/`)))
    throw new Error(`removeRoot: ${path} has mounts inside`);
  rmSync(path, { recursive: true, force: true });
}

/** True when a mounted overlay has `path` as a lower (or upper) dir: it must not change or go away. */
export function inUseAsLayer(path: string): boolean {
  const opts = runSync('findmnt', ['-rn', '-t', 'overlay', '-o', 'OPTIONS']).output;
  return opts.split('\n').some((o) => o.split(/[,:=]/).includes(path));
}

/** Deletes cached roots whose name starts with `prefix` except `keep` (e.g. builds of older payloads). */
export function pruneRoots(
  prefix: string,
  keep: string[],
  opts: { cacheDir?: string; log?: Log } = {},
): string[] {
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  if (!existsSync(cacheDir)) return [];
  const gone: string[] = [];
  for (const n of readdirSync(cacheDir)) {
    if (!n.startsWith(prefix) || keep.includes(n) || existsSync(join(cacheDir, `.${n}.lock`))) continue;
    if (inUseAsLayer(join(cacheDir, n))) {
      opts.log?.(`not pruning ${n}: a mounted overlay uses it`);
      continue;
    }
    opts.log?.(`pruning old root ${n} (deleted in the background)`);
    trashTree(join(cacheDir, n));
    gone.push(n);
  }
  return gone;
}
