/**
 * A real OpenSSH sshd on 127.0.0.1 for tests and the bench: free port, throwaway host key, throwaway
 * login, and a fake `verify` command whose output the test controls.
 *
 * - As root: creates a user `oclw<hex>` with a home, `~/.ssh/authorized_keys` from a generated key,
 *   an optional password, and passwordless sudo (like the admin user of an Azure VM). sshd only lets
 *   that user in (`AllowUsers`). `stop()` kills sshd and its sessions and deletes the user and files.
 * - Not root: sshd runs as the current user (UsePAM no, StrictModes no, keys in a temp dir), which
 *   can only log in as itself, by key; `sudo` is false there, so run verify with `sudo: false`.
 *
 * No jest globals here: the bench imports this too.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  chownSync,
  appendFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { generateEd25519KeyPair, type ConnectSshOptions } from '@openclawps/guest';

export const SSHD_PATH = '/usr/sbin/sshd';

/** Why the sshd tests cannot run here, or null. */
export function sshdMissing(): string | null {
  if (!existsSync(SSHD_PATH)) return `needs ${SSHD_PATH} (apt package openssh-server)`;
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      return 'needs `ssh-keygen` (apt package openssh-client)';
  }
  return null;
}

export interface StartSshdOptions {
  /** Fixed port (default: a free one). */
  port?: number;
  /** Root mode only: set this password and enable password authentication. */
  password?: string;
  /** Initial output of the fake verify (object → JSON). Default: a healthy sample report. */
  verifyReport?: unknown;
  /** Initial exit status of the fake verify (default: 1 when the report says healthy:false, else 0). */
  verifyExitCode?: number;
  /** Force the non-root variant even as root (logs in as the current user). */
  mode?: 'root' | 'user';
}

export interface TestSshd {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** The login key (OpenSSH private key). */
  readonly privateKey: string;
  readonly publicKey: string;
  readonly password?: string;
  /** `SHA256:…` of the host key, computed by ssh-keygen -lf. */
  readonly hostKeyFingerprint: string;
  readonly hostPublicKey: string;
  /** Path of the fake verify command (pass as `command` to runVerify/verifyClaw). */
  readonly verifyCommand: string;
  /** True when the login user has passwordless sudo (root mode). */
  readonly sudo: boolean;
  readonly mode: 'root' | 'user';
  /** Scratch directory of this instance. */
  readonly dir: string;
  /** Appends a public key line to the login user's authorized keys (e.g. to authorize a key late). */
  authorizeKey(publicKey: string): void;
  /** Options for connectSsh / verifyClaw pointing here (key auth). */
  connectOptions(extra?: Partial<ConnectSshOptions>): ConnectSshOptions;
  /** Replace what the fake verify prints (object → JSON), its exit status and an optional delay. */
  setVerify(report: unknown, exitCode?: number, options?: { stderr?: string; sleepSeconds?: number }): void;
  /** uids the fake verify ran as, one per call. */
  verifyCalls(): number[];
  /** Starts sshd (prepareSshd leaves it stopped; startSshd calls this). */
  start(): Promise<void>;
  readonly running: boolean;
  /** pids of the per-connection sshd processes and everything under them. */
  sessionPids(): number[];
  /** SIGKILL every connection's processes (the listener keeps running). Returns how many were killed. */
  killSessions(): number;
  /** sshd's log so far (-e output). */
  log(): string;
  /** Kill sshd and its sessions, delete the user (root mode) and all files. Idempotent. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function sshdVersion(): [number, number] {
  try {
    execFileSync(SSHD_PATH, ['-V'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const out = String((e as { stderr?: Buffer }).stderr ?? '');
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(out);
    if (m) return [Number(m[1]), Number(m[2])];
  }
  return [9, 0];
}

/** All processes below `root` (from /proc, no dependency on procps). */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Command line of a process ('' when gone). */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** A verify report like the guest prints, with the given checks failing / warning / skipped. */
export function sampleVerifyReport(
  options: { claw?: string; fail?: string[]; warn?: string[]; skip?: string[]; optional?: string[] } = {},
): {
  version: 1;
  claw: string;
  healthy: boolean;
  checks: { id: string; group: string; title: string; status: string; detail: string; required: boolean }[];
  summary: Record<string, number>;
} {
  const defs: [string, string][] = [
    ['disk.present', 'Data disk attached at LUN 0'],
    ['disk.mounted', 'Data disk mounted at /mnt/claw-data'],
    ['disk.fstab', 'fstab entry by label with nofail'],
    ['disk.free', 'Free space on the data disk'],
    ['links.openclaw', '~/.openclaw points to the data disk'],
    ['links.workspace', '~/workspace points to the data disk'],
    ['config.valid', 'openclaw config validate'],
    ['secrets.env', '.env present with mode 0600'],
    ['services.gateway', 'openclaw-gateway.service active'],
    ['services.failed', 'No failed units'],
    ['gateway.readyz', 'Gateway answers /readyz on 127.0.0.1:18789'],
    ['vnc.exposure', 'VNC exposure matches intent'],
    ['migrations.current', 'All migrations applied'],
    ['boot.service', 'claw-boot.service succeeded'],
  ];
  const fail = new Set(options.fail ?? []);
  const warn = new Set(options.warn ?? []);
  const skip = new Set(options.skip ?? []);
  const optional = new Set(options.optional ?? ['disk.free', 'vnc.exposure']);
  for (const id of [...fail, ...warn, ...skip])
    if (!defs.some(([d]) => d === id)) defs.push([id, `Check ${id}`]);
  const checks = defs.map(([id, title]) => {
    const status = fail.has(id) ? 'fail' : warn.has(id) ? 'warn' : skip.has(id) ? 'skip' : 'pass';
    const detail =
      status === 'fail'
        ? `${id} is broken`
        : status === 'skip'
          ? 'not possible in the sandbox'
          : status === 'warn'
            ? 'degraded'
            : 'ok';
    return { id, group: id.split('.')[0]!, title, status, detail, required: !optional.has(id) };
  });
  const summary: Record<string, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) summary[c.status] = (summary[c.status] ?? 0) + 1;
  const healthy = !checks.some((c) => c.required && c.status === 'fail');
  return { version: 1, claw: options.claw ?? 'alice', healthy, checks, summary };
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
}

const live = new Set<{ kill: () => void }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of [...live]) l.kill();
  });
}

/** Everything but the sshd process (so a test can start it later). */
export async function prepareSshd(options: StartSshdOptions = {}): Promise<TestSshd> {
  const reason = sshdMissing();
  if (reason) throw new Error(`prepareSshd: ${reason}`);
  const mode: 'root' | 'user' = options.mode ?? (isRoot() ? 'root' : 'user');
  if (mode === 'root' && !isRoot()) throw new Error('prepareSshd: mode "root" needs root');
  if (mode === 'user' && options.password)
    throw new Error('prepareSshd: password authentication needs root (mode "root")');
  const fixedPort = options.port;
  let port = fixedPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'oclw-sshd-'));
  chmodSync(dir, 0o755);
  const key = generateEd25519KeyPair({ comment: 'oclw-test' });
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'oclw-test-host', '-f', hostKeyPath]);
  const hostPublicKey = readFileSync(`${hostKeyPath}.pub`, 'utf8').trim();
  const hostKeyFingerprint = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyPath}.pub`]).split(
    /\s+/,
  )[1]!;

  let username: string;
  let authorizedKeysFile = '';
  let sudoersFile: string | null = null;
  let userCreated = false;
  const authConfig: string[] = [];
  const cleanupFiles = (): void => {
    if (sudoersFile) rmSync(sudoersFile, { force: true });
    sudoersFile = null;
    if (userCreated) {
      try {
        run('userdel', ['-r', '-f', username]);
      } catch {
        /* "mail spool not found" and similar: the user is gone anyway */
      }
      userCreated = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (mode === 'root') {
      username = `oclw${randomBytes(4).toString('hex')}`;
      run('useradd', ['-m', '-s', '/bin/bash', '-c', 'openclawps sshd test user', username]);
      userCreated = true;
      const home = run('getent', ['passwd', username]).split(':')[5]!;
      const info = run('id', ['-u', username]).trim();
      const gid = Number(run('id', ['-g', username]).trim());
      const uid = Number(info);
      mkdirSync(join(home, '.ssh'), { mode: 0o700 });
      authorizedKeysFile = join(home, '.ssh', 'authorized_keys');
      writeFileSync(authorizedKeysFile, `${key.publicKey}\n`, { mode: 0o600 });
      chownSync(join(home, '.ssh'), uid, gid);
      chownSync(join(home, '.ssh', 'authorized_keys'), uid, gid);
      if (options.password) run('chpasswd', [], `${username}:${options.password}\n`);
      // Passwordless sudo, like the admin user Azure provisions. Validated before it goes live.
      const rule = join(dir, 'sudoers');
      writeFileSync(rule, `${username} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
      run('visudo', ['-c', '-q', '-f', rule]);
      sudoersFile = `/etc/sudoers.d/oclw-${username}`;
      writeFileSync(sudoersFile, readFileSync(rule), { mode: 0o440 });
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      authConfig.push(
        'AuthorizedKeysFile .ssh/authorized_keys',
        `PasswordAuthentication ${options.password ? 'yes' : 'no'}`,
        'UsePAM yes',
        `AllowUsers ${username}`,
      );
    } else {
      username = userInfo().username;
      mkdirSync(join(dir, 'authk'), { mode: 0o755 });
      authorizedKeysFile = join(dir, 'authk', username);
      writeFileSync(authorizedKeysFile, `${key.publicKey}\n`, { mode: 0o600 });
      authConfig.push(
        `AuthorizedKeysFile ${join(dir, 'authk')}/%u`,
        'PasswordAuthentication no',
        'UsePAM no',
        'StrictModes no',
      );
      // mode "user" forced while root: the current user is root, who may then log in by key only.
      if (isRoot()) authConfig.push('PermitRootLogin prohibit-password');
    }
  } catch (e) {
    cleanupFiles();
    throw e;
  }

  // The fake verify: prints what the test put in place, records who ran it.
  const verifyCommand = join(dir, 'verify');
  writeFileSync(
    verifyCommand,
    [
      '#!/bin/sh',
      `d='${dir}'`,
      'id -u >> "$d/verify.calls" 2>/dev/null',
      '[ -f "$d/verify.sleep" ] && sleep "$(cat "$d/verify.sleep")"',
      '[ -f "$d/verify.stdout" ] && cat "$d/verify.stdout"',
      '[ -f "$d/verify.stderr" ] && cat "$d/verify.stderr" >&2',
      'exit "$(cat "$d/verify.rc" 2>/dev/null || echo 0)"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  writeFileSync(join(dir, 'verify.calls'), '', { mode: 0o666 });
  chmodSync(join(dir, 'verify.calls'), 0o666);
  const setVerify = (
    report: unknown,
    exitCode?: number,
    extra: { stderr?: string; sleepSeconds?: number } = {},
  ): void => {
    const text = typeof report === 'string' ? report : `${JSON.stringify(report, null, 2)}\n`;
    const rc =
      exitCode ??
      (typeof report === 'object' && report && (report as { healthy?: unknown }).healthy === false ? 1 : 0);
    writeFileSync(join(dir, 'verify.stdout'), text, { mode: 0o644 });
    writeFileSync(join(dir, 'verify.rc'), `${rc}\n`, { mode: 0o644 });
    if (extra.stderr !== undefined) writeFileSync(join(dir, 'verify.stderr'), extra.stderr, { mode: 0o644 });
    else rmSync(join(dir, 'verify.stderr'), { force: true });
    if (extra.sleepSeconds)
      writeFileSync(join(dir, 'verify.sleep'), String(extra.sleepSeconds), { mode: 0o644 });
    else rmSync(join(dir, 'verify.sleep'), { force: true });
  };
  setVerify(options.verifyReport ?? sampleVerifyReport(), options.verifyExitCode);

  const [major, minor] = sshdVersion();
  const writeConfig = (p: number): string => {
    const lines = [
      `Port ${p}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PubkeyAuthentication yes',
      'KbdInteractiveAuthentication no',
      ...authConfig,
      ...(authConfig.some((l) => l.startsWith('PermitRootLogin')) ? [] : ['PermitRootLogin no']),
      'MaxStartups 200',
      'MaxSessions 100',
      'LoginGraceTime 30',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
    ];
    // OpenSSH >= 9.8 penalizes sources with failed logins; the tests fail logins on purpose.
    if (major > 9 || (major === 9 && minor >= 8)) lines.push('PerSourcePenalties no');
    const cfg = join(dir, 'sshd_config');
    writeFileSync(cfg, `${lines.join('\n')}\n`, { mode: 0o600 });
    run(SSHD_PATH, ['-t', '-f', cfg]);
    return cfg;
  };

  let child: ChildProcess | null = null;
  let logText = '';
  let stopped = false;
  const killAll = (): void => {
    const pid = child?.pid;
    if (pid && child?.exitCode === null) {
      for (const p of descendantsOf(pid)) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const liveEntry = {
    kill: (): void => {
      killAll();
      cleanupFiles();
    },
  };
  live.add(liveEntry);
  installExitHook();

  const startOnce = (p: number): Promise<'ok' | 'port-in-use'> =>
    new Promise((resolve, reject) => {
      const cfg = writeConfig(p);
      const c = spawn(SSHD_PATH, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new Error(`sshd did not report listening within 10 s; log:\n${logText}`));
      }, 10_000);
      const onData = (d: Buffer): void => {
        logText += d.toString();
        if (!settled && new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${p}\\b`).test(logText)) {
          settled = true;
          clearTimeout(timer);
          resolve('ok');
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.on('exit', (code, sig) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (/Address already in use|Cannot bind any address/.test(logText)) resolve('port-in-use');
        else reject(new Error(`sshd exited (${code ?? sig}) before listening; log:\n${logText}`));
      });
    });

  const handle: TestSshd = {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    username: username!,
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    password: options.password,
    hostKeyFingerprint,
    hostPublicKey,
    verifyCommand,
    sudo: mode === 'root',
    mode,
    dir,
    connectOptions(extra: Partial<ConnectSshOptions> = {}): ConnectSshOptions {
      return {
        host: '127.0.0.1',
        port,
        username: username!,
        privateKey: key.privateKey,
        readyTimeoutMs: 10_000,
        ...extra,
      };
    },
    authorizeKey(publicKey: string): void {
      if (/[\r\n]/.test(publicKey.trim())) throw new Error('authorizeKey: one key line expected');
      appendFileSync(authorizedKeysFile, `${publicKey.trim()}\n`);
    },
    setVerify,
    verifyCalls(): number[] {
      try {
        return readFileSync(join(dir, 'verify.calls'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
    async start(): Promise<void> {
      if (stopped) throw new Error('TestSshd.start: already stopped');
      if (child && child.exitCode === null) return;
      for (let attempt = 0; ; attempt++) {
        logText = '';
        const r = await startOnce(port);
        if (r === 'ok') return;
        if (fixedPort !== undefined || attempt >= 4)
          throw new Error(`sshd: port ${port} is in use; log:\n${logText}`);
        port = await freePort();
      }
    },
    get running(): boolean {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    sessionPids(): number[] {
      return child?.pid ? descendantsOf(child.pid) : [];
    },
    killSessions(): number {
      const pids = child?.pid ? descendantsOf(child.pid) : [];
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      return pids.length;
    },
    log: () => logText,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      const c = child as ChildProcess | null;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        for (const p of descendantsOf(c.pid!)) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      cleanupFiles();
      live.delete(liveEntry);
    },
  };
  return handle;
}

/** prepareSshd + start. */
export async function startSshd(options: StartSshdOptions = {}): Promise<TestSshd> {
  const h = await prepareSshd(options);
  try {
    await h.start();
  } catch (e) {
    await h.stop();
    throw e;
  }
  return h;
}
