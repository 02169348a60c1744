/**
 * The sandbox VMs' SSH: ONE port, one TCP listener per VM address (127.0.0.N, the address the public
 * IP resource reports) on that port, and per connection the VM behind the address is looked up
 * (public IP -> NIC -> VM -> OS disk = sandbox root). A VM that is not running, or an address with no
 * VM, refuses (the socket is closed before the SSH banner). Each root has its own ssh2 server with
 * the host key stored on its OS disk (`/etc/ssh/ssh_host_ed25519_key`).
 *
 * Authentication: public keys in `<root>/home/<user>/.ssh/authorized_keys` (what provisioning wrote
 * from osProfile.linuxConfiguration.ssh.publicKeys and cloud-config users), and the admin password when
 * osProfile carried one (scrypt hash in `<root>/etc/sandbox-shadow`). `exec` runs `bash -c` with the
 * command's absolute paths rewritten into the root (rewrite.ts), cwd = the user's sandbox home, a clean
 * environment (PATH = shims first, HOME, USER, CLAW_ROOT, CLAW_SANDBOX=1, CLAW_SYSTEMCTL, TMPDIR), and
 * the exit code / signal and stderr propagated. `shell` runs an interactive bash the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Server, utils, type Connection, type ParsedKey, type ServerChannel } from 'ssh2';
import { rewritePaths } from './rewrite';

export interface SshTarget {
  /** Sandbox root (the OS disk directory). */
  root: string;
  /** Stable key of the VM instance (for dropping its connections). */
  vmKey: string;
  /** OpenSSH private host key. */
  hostKey: string;
}

export interface SandboxSshOptions {
  port: number;
  resolve(address: string): SshTarget | undefined;
  environment(root: string, user: string, home: string): NodeJS.ProcessEnv;
  log?(line: string): void;
}

interface RootServer {
  server: Server;
  hostKey: string;
  clients: Set<Connection>;
}

function homeOf(root: string, user: string): string {
  return user === 'root' ? path.join(root, 'root') : path.join(root, 'home', user);
}

export function checkPassword(root: string, user: string, password: string): boolean {
  const f = path.join(root, 'etc/sandbox-shadow');
  if (!existsSync(f)) return false;
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    const [u, algo, salt, hash] = line.split(':');
    if (u !== user || algo !== 'scrypt' || !salt || !hash) continue;
    const want = Buffer.from(hash, 'hex');
    const got = scryptSync(password, Buffer.from(salt, 'hex'), want.length);
    if (got.length === want.length && timingSafeEqual(got, want)) return true;
  }
  return false;
}

function authorizedKeys(root: string, user: string): ParsedKey[] {
  const f = path.join(homeOf(root, user), '.ssh/authorized_keys');
  if (!existsSync(f)) return [];
  const out: ParsedKey[] = [];
  for (const raw of readFileSync(f, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // options before the key type are not modelled; take "<type> <base64>"
    const m = /((?:ssh|ecdsa|sk)-[\w@.-]+)\s+([A-Za-z0-9+/=]+)/.exec(line);
    if (!m) continue;
    const k = utils.parseKey(`${m[1]} ${m[2]}`);
    if (!(k instanceof Error)) out.push(Array.isArray(k) ? k[0] : k);
  }
  return out;
}

export class SandboxSsh {
  private readonly listeners = new Map<string, net.Server>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly roots = new Map<string, RootServer>();
  private readonly byVm = new Map<string, Set<Connection>>();
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  private closed = false;

  constructor(private readonly opts: SandboxSshOptions) {}

  /** Reserves the port on 127.0.0.1 (no VM there: it refuses) and returns it. */
  async start(preferred?: number): Promise<number> {
    this.port = this.opts.port || preferred || 0;
    try {
      this.port = await this.bind('127.0.0.1');
    } catch (e) {
      if (this.opts.port || !preferred) throw e;
      // the port of the previous run is taken: any free one
      this.port = 0;
      this.port = await this.bind('127.0.0.1');
    }
    return this.port;
  }

  /** Listens on `address`:port (idempotent). */
  listen(address: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    let p = this.pending.get(address);
    if (!p) {
      // never rejects: an address that cannot be bound just refuses SSH (and is retried next time)
      p = this.bind(address).then(
        () => undefined,
        (e: Error) => {
          this.pending.delete(address);
          this.opts.log?.(`sandbox ssh: cannot listen on ${address}:${this.port}: ${e.message}`);
        },
      );
      this.pending.set(address, p);
    }
    return p;
  }

  /** Stops listening on `address` (its VM is off: connections are refused). Never the reserved 127.0.0.1. */
  async unlisten(address: string): Promise<void> {
    if (address === '127.0.0.1') return;
    await this.pending.get(address);
    const l = this.listeners.get(address);
    this.pending.delete(address);
    this.listeners.delete(address);
    if (l) await new Promise<void>((r) => l.close(() => r()));
  }

  async ready(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }

  private bind(address: string): Promise<number> {
    const srv = net.createServer((socket) => this.onSocket(socket));
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, address, () => {
        srv.off('error', reject);
        srv.on('error', () => undefined);
        this.listeners.set(address, srv);
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  }

  private onSocket(socket: net.Socket): void {
    socket.on('error', () => undefined);
    const local = (socket.localAddress ?? '').replace(/^::ffff:/, '');
    let target: SshTarget | undefined;
    try {
      target = this.opts.resolve(local);
    } catch {
      target = undefined;
    }
    if (!target || this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.serverFor(target).server.injectSocket(socket);
  }

  private serverFor(t: SshTarget): RootServer {
    const have = this.roots.get(t.root);
    if (have && have.hostKey === t.hostKey) return have;
    const clients = new Set<Connection>();
    const server = new Server({ hostKeys: [t.hostKey] }, (client) => this.onClient(client, t, clients));
    server.on('error', () => undefined);
    const rs: RootServer = { server, hostKey: t.hostKey, clients };
    this.roots.set(t.root, rs);
    return rs;
  }

  private onClient(client: Connection, t: SshTarget, clients: Set<Connection>): void {
    clients.add(client);
    let set = this.byVm.get(t.vmKey);
    if (!set) this.byVm.set(t.vmKey, (set = new Set()));
    set.add(client);
    const vmSet = set;
    let user = '';
    client.on('error', () => undefined);
    client.on('close', () => {
      clients.delete(client);
      vmSet.delete(client);
    });
    client.on('authentication', (ctx) => {
      const home = homeOf(t.root, ctx.username);
      if (!/^[a-z_][a-z0-9_-]*$/.test(ctx.username) || !existsSync(home)) return ctx.reject();
      if (ctx.method === 'publickey') {
        const match = authorizedKeys(t.root, ctx.username).find((k) => k.getPublicSSH().equals(ctx.key.data));
        if (!match) return ctx.reject();
        if (ctx.signature && ctx.blob) {
          if (match.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
        }
        user = ctx.username;
        return ctx.accept();
      }
      if (ctx.method === 'password') {
        if (!checkPassword(t.root, ctx.username, ctx.password)) return ctx.reject();
        user = ctx.username;
        return ctx.accept();
      }
      return ctx.reject(['publickey', 'password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        const env: Record<string, string> = {};
        session.on('env', (accept, _reject, info) => {
          if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(info.key)) env[info.key] = info.val;
          accept?.();
        });
        session.on('pty', (accept) => accept?.());
        session.on('window-change', (accept) => accept?.());
        session.on('exec', (accept, _reject, info) => {
          const ch = accept();
          this.runIn(ch, t.root, user, ['-c', rewritePaths(info.command, t.root)], env);
        });
        session.on('shell', (accept) => {
          const ch = accept();
          this.runIn(ch, t.root, user, ['-i'], env);
        });
      });
    });
  }

  private runIn(
    ch: ServerChannel,
    root: string,
    user: string,
    args: string[],
    extra: Record<string, string>,
  ): void {
    const home = homeOf(root, user);
    const env = { ...extra, ...this.opts.environment(root, user, home) };
    const child = spawn('bash', args, {
      cwd: existsSync(home) ? home : root,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let finished = false;
    child.stdout.on('data', (d: Buffer) => ch.write(d));
    child.stderr.on('data', (d: Buffer) => ch.stderr.write(d));
    child.stdin.on('error', () => undefined);
    ch.on('data', (d: Buffer) => child.stdin.write(d));
    ch.on('end', () => child.stdin.end());
    ch.on('error', () => undefined);
    const killGroup = () => {
      if (finished || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    ch.on('close', killGroup);
    child.on('error', (e) => {
      ch.stderr.write(`sandbox: cannot run bash: ${e.message}\n`);
      finished = true;
      this.children.delete(child);
      try {
        ch.exit(127);
        ch.end();
      } catch {
        /* closed */
      }
    });
    child.on('close', (code, signal) => {
      finished = true;
      this.children.delete(child);
      try {
        if (signal) ch.exit(signal.replace(/^SIG/, ''), false, '');
        else ch.exit(code ?? 0);
        ch.end();
      } catch {
        /* client went away */
      }
    });
  }

  /** Ends every connection of a VM (it was stopped, deallocated or deleted). */
  drop(vmKey: string): void {
    for (const c of this.byVm.get(vmKey) ?? []) {
      try {
        c.end();
      } catch {
        /* ignore */
      }
    }
    this.byVm.delete(vmKey);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.children) {
      try {
        if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const rs of this.roots.values()) for (const c of rs.clients) c.end();
    for (const s of this.sockets) s.destroy();
    await Promise.allSettled(
      [...this.listeners.values()].map((l) => new Promise<void>((r) => l.close(() => r()))),
    );
    this.listeners.clear();
    this.roots.clear();
  }
}
