/**
 * The SSH client every guest operation goes through (ssh2): connect with retry until the VM answers,
 * pin the host key, run commands, upload files. Passwords and private keys are only handed to ssh2;
 * they never appear in an error, a progress message or the session object.
 */
import { Client, utils, type ClientChannel, type ConnectConfig } from 'ssh2';
import { hostKeyFingerprintOf, normalizeSha256Fingerprint } from './keys';

/** Progress output (the CLI prints it, the action sends it to core.info). */
export interface GuestReporter {
  info(message: string): void;
  warn?(message: string): void;
  debug?(message: string): void;
  /** Registers a value to mask (the config package's Reporter and @actions/core have it). */
  setSecret?(value: string): void;
}

export type SshErrorCode =
  | 'INVALID_OPTIONS'
  | 'HOST_KEY_MISMATCH'
  | 'AUTH_FAILED'
  | 'UNREACHABLE'
  | 'CONNECTION_LOST'
  | 'COMMAND_TIMEOUT'
  | 'COMMAND_FAILED'
  | 'ABORTED';

export class SshError extends Error {
  override readonly name: string = 'SshError';
  constructor(
    readonly code: SshErrorCode,
    message: string,
    readonly details: { host?: string; port?: number; attempts?: number; cause?: string } = {},
  ) {
    super(message);
  }
}

export class HostKeyMismatchError extends SshError {
  override readonly name = 'HostKeyMismatchError';
  constructor(
    host: string,
    port: number,
    readonly expected: string[],
    readonly actual: string,
  ) {
    super(
      'HOST_KEY_MISMATCH',
      `host key mismatch for ${host}:${port}: expected ${expected.join(' or ')}, the server presented ${actual}. ` +
        'If the VM was re-created on purpose, update the pinned fingerprint (host-key-sha256); ' +
        'otherwise something else is answering at this address: do not connect.',
      { host, port },
    );
  }
}

export interface ConnectSshOptions {
  host: string;
  port?: number;
  username: string;
  /** OpenSSH or PEM private key. A secret: never logged. */
  privateKey?: string;
  /** Password (also answers keyboard-interactive prompts). A secret: never logged. */
  password?: string;
  /** Pinned host key: `SHA256:…` as `ssh-keygen -l` prints it (several allowed: any one matches). */
  hostKeySha256?: string | string[];
  /** Per attempt: TCP connect + handshake + authentication. Default 20 000. */
  readyTimeoutMs?: number;
  /**
   * Keep retrying connection refused/reset, timeouts and banner/handshake losses until this moment.
   * Either an absolute epoch-milliseconds timestamp (any value > 10^12, e.g. `Date.now() + 600_000`)
   * or a duration in milliseconds from the call (e.g. `600_000`). 0/absent: a single attempt.
   */
  retryUntilMs?: number;
  /** Also retry authentication failures until the deadline (a VM still provisioning its admin user). */
  retryAuthFailures?: boolean;
  /** ssh2 keepalive interval; a dead peer is noticed after 3 missed ones. Default 10 000, 0 = off. */
  keepaliveIntervalMs?: number;
  signal?: AbortSignal;
  reporter?: GuestReporter;
}

export interface ExecOptions {
  /** Written to the command's stdin, then EOF. Without it the command gets EOF at once. */
  stdin?: string | Buffer;
  /** Kill (signal KILL, close the channel) and reject after this long. Default: no limit. */
  timeoutMs?: number;
  /** Exported before the command runs (names `[A-Za-z_][A-Za-z0-9_]*`; values are shell-quoted). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Output kept per stream; the rest is dropped and `truncated` set. Default 16 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  /** Exit status, or null when the command died from a signal. */
  code: number | null;
  /** Node-style signal name (`SIGTERM`) when the command died from a signal. */
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated?: boolean;
}

export interface UploadOptions {
  /** Write as root through `sudo -n` (the admin user needs passwordless sudo). */
  sudo?: boolean;
  /** `user[:group]` to chown the file to after writing. */
  owner?: string;
  timeoutMs?: number;
}

const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

/** POSIX-shell single-quoting. */
export function shellQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_./:=@%+,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function resolveDeadline(retryUntilMs: number | undefined, start: number): number {
  if (!retryUntilMs || retryUntilMs <= 0) return start;
  return retryUntilMs > 1e12 ? retryUntilMs : start + retryUntilMs;
}

function isErrorLike(err: unknown): err is Error {
  // Duck-typed: errors from Node core can come from another realm (jest's vm), failing instanceof.
  return typeof err === 'object' && err !== null && typeof (err as Error).message === 'string';
}

function describeError(err: unknown): string {
  if (isErrorLike(err)) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

function isRetryable(err: unknown, retryAuth: boolean): boolean {
  if (err instanceof HostKeyMismatchError) return false;
  if (err instanceof SshError) {
    if (err.code === 'AUTH_FAILED') return retryAuth;
    return err.code === 'UNREACHABLE' || err.code === 'CONNECTION_LOST';
  }
  const e = err as NodeJS.ErrnoException & { level?: string };
  if (e?.code && RETRYABLE_CODES.has(e.code)) return true;
  if (e?.level === 'client-authentication') return retryAuth;
  if (e?.level === 'client-timeout' || e?.level === 'client-socket') return true;
  const msg = isErrorLike(e) ? e.message : '';
  return /Connection lost before handshake|Timed out while waiting for handshake|banner|No response from server|closed before/i.test(
    msg,
  );
}

function abortError(what: string): SshError {
  return new SshError('ABORTED', `${what} was cancelled`);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError('SSH connect'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError('SSH connect'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function validateConnectOptions(o: ConnectSshOptions): { pins: string[] | null; problems: string[] } {
  const problems: string[] = [];
  if (!o.host || typeof o.host !== 'string') problems.push('host: required (IP address or DNS name)');
  const port = o.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    problems.push(`port: ${String(o.port)} is not a TCP port (1-65535)`);
  if (!o.username || !/^[a-z_][a-z0-9_.-]*\$?$/i.test(o.username))
    problems.push('username: required, a Linux user name such as azureuser');
  if (!o.privateKey && !o.password) problems.push('privateKey or password: at least one is required');
  if (o.privateKey) {
    const parsed = utils.parseKey(o.privateKey);
    if (parsed instanceof Error)
      problems.push(
        `privateKey: not a usable private key (${parsed.message}); pass the OpenSSH or PEM text, unencrypted`,
      );
    else if (!Array.isArray(parsed) && !parsed.isPrivateKey())
      problems.push('privateKey: this is a public key; pass the private half');
  }
  let pins: string[] | null = null;
  if (o.hostKeySha256 !== undefined && o.hostKeySha256 !== '') {
    const raw = Array.isArray(o.hostKeySha256) ? o.hostKeySha256 : [o.hostKeySha256];
    pins = [];
    for (const r of raw) {
      const n = typeof r === 'string' ? normalizeSha256Fingerprint(r) : null;
      if (!n)
        problems.push(
          `hostKeySha256: "${String(r)}" is not a SHA256 fingerprint (expected SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints)`,
        );
      else pins.push(n);
    }
  }
  if (o.readyTimeoutMs !== undefined && !(o.readyTimeoutMs > 0))
    problems.push('readyTimeoutMs: must be a positive number of milliseconds');
  return { pins, problems };
}

/**
 * Connects and authenticates, retrying transient failures (refused, reset, timeouts, lost banner)
 * with exponential backoff until `retryUntilMs`. Host-key mismatches are never retried; authentication
 * failures only with `retryAuthFailures`.
 */
export async function connectSsh(options: ConnectSshOptions): Promise<SshSession> {
  const { pins, problems } = validateConnectOptions(options);
  if (problems.length)
    throw new SshError('INVALID_OPTIONS', `invalid SSH options:\n  - ${problems.join('\n  - ')}`);
  const port = options.port ?? 22;
  const start = Date.now();
  const deadline = resolveDeadline(options.retryUntilMs, start);
  const readyTimeout = options.readyTimeoutMs ?? 20_000;
  let delay = 250;
  let attempt = 0;
  for (;;) {
    attempt++;
    if (options.signal?.aborted) throw abortError('SSH connect');
    const remaining = deadline - Date.now();
    const perAttempt =
      attempt === 1 || remaining <= 0 ? readyTimeout : Math.max(1000, Math.min(readyTimeout, remaining));
    try {
      const session = await connectOnce(options, port, pins, perAttempt);
      if (attempt > 1)
        options.reporter?.info(
          `SSH ${options.host}:${port} reachable after ${attempt} attempts (${Math.round((Date.now() - start) / 1000)} s)`,
        );
      return session;
    } catch (err) {
      if (err instanceof SshError && (err.code === 'HOST_KEY_MISMATCH' || err.code === 'ABORTED')) throw err;
      const retryable = isRetryable(err, options.retryAuthFailures === true);
      const remaining = deadline - Date.now();
      if (!retryable || remaining <= 0) throw finalError(err, options, port, attempt, start, retryable);
      // Exponential backoff with jitter, capped at 5 s; the last wait ends at the deadline for one final attempt.
      const wait = Math.min(Math.min(delay, 5000) * (0.8 + Math.random() * 0.4), remaining);
      options.reporter?.info(
        `SSH ${options.host}:${port} not ready (${describeError(err)}); retrying in ${(wait / 1000).toFixed(1)} s (attempt ${attempt})`,
      );
      await sleep(wait, options.signal);
      delay *= 1.6;
    }
  }
}

function finalError(
  err: unknown,
  o: ConnectSshOptions,
  port: number,
  attempts: number,
  start: number,
  retryable: boolean,
): SshError {
  if (err instanceof SshError && err.code !== 'UNREACHABLE' && err.code !== 'CONNECTION_LOST') return err;
  const cause = describeError(err);
  const details = { host: o.host, port, attempts, cause };
  const level = (err as { level?: string })?.level;
  if (level === 'client-authentication' || (err instanceof SshError && err.code === 'AUTH_FAILED')) {
    const methods = [o.privateKey ? 'publickey' : null, o.password ? 'password' : null]
      .filter(Boolean)
      .join(', ');
    return new SshError(
      'AUTH_FAILED',
      `SSH authentication as "${o.username}" on ${o.host}:${port} failed (tried: ${methods}). ` +
        "Check that the private key matches the VM's admin public key (authorized_keys) and the admin user name.",
      details,
    );
  }
  const waited = Math.round((Date.now() - start) / 1000);
  const tail = retryable
    ? `after ${attempts} attempt${attempts === 1 ? '' : 's'} over ${waited} s (last error: ${cause}). ` +
      'Check that the VM is running, that the NSG allows port 22 from this runner, and raise the timeout if it is still booting.'
    : `(${cause})`;
  return new SshError('UNREACHABLE', `cannot open an SSH connection to ${o.host}:${port} ${tail}`, details);
}

function connectOnce(
  o: ConnectSshOptions,
  port: number,
  pins: string[] | null,
  readyTimeout: number,
): Promise<SshSession> {
  return new Promise<SshSession>((resolve, reject) => {
    const client = new Client();
    let presented: string | null = null;
    let mismatch = false;
    let settled = false;
    const onAbort = (): void => fail(abortError('SSH connect'));
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      client.removeAllListeners('ready');
      client.on('error', () => undefined);
      client.destroy();
      if (mismatch && pins && presented) reject(new HostKeyMismatchError(o.host, port, pins, presented));
      else reject(err);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', fail);
    client.on('close', () =>
      fail(new SshError('CONNECTION_LOST', 'connection closed before authentication completed')),
    );
    client.on('keyboard-interactive', (_name, _instr, _lang, prompts, finish) => {
      finish(prompts.map(() => o.password ?? ''));
    });
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      client.removeListener('error', fail);
      client.removeAllListeners('close');
      resolve(new SshSession(client, o.host, port, o.username, presented ?? 'unknown'));
    });
    const config: ConnectConfig = {
      host: o.host,
      port,
      username: o.username,
      readyTimeout,
      keepaliveInterval: o.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: 3,
      tryKeyboard: !!o.password,
      hostVerifier: (key: Buffer): boolean => {
        presented = hostKeyFingerprintOf(key);
        if (pins && !pins.includes(presented)) {
          mismatch = true;
          return false;
        }
        return true;
      },
    };
    if (o.privateKey) config.privateKey = o.privateKey;
    if (o.password) config.password = o.password;
    try {
      client.connect(config);
    } catch (err) {
      fail(err);
    }
  });
}

/** One authenticated SSH connection. Run as many commands over it as needed, then close(). */
export class SshSession {
  #client: Client;
  #closed = false;
  #lostReason: string | null = null;
  #pending = new Set<(why: 'lost' | 'closed') => void>();

  constructor(
    client: Client,
    readonly host: string,
    readonly port: number,
    readonly username: string,
    /** `SHA256:…` of the host key the server presented (pin it for the next connection). */
    readonly hostKeyFingerprint: string,
  ) {
    this.#client = client;
    client.on('error', (err: Error) => {
      this.#lostReason = describeError(err);
    });
    client.on('close', () => {
      const wasClosedByUs = this.#closed;
      this.#closed = true;
      if (!wasClosedByUs) for (const rejectPending of [...this.#pending]) rejectPending('lost');
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #lostError(command: string): SshError {
    const what = command ? ` while running \`${command}\` (its exit status is unknown)` : '';
    const why = this.#lostReason ? ` (${this.#lostReason})` : '';
    return new SshError(
      'CONNECTION_LOST',
      `SSH connection to ${this.host}:${this.port} was lost${what}${why}`,
      {
        host: this.host,
        port: this.port,
        cause: this.#lostReason ?? undefined,
      },
    );
  }

  /**
   * Runs a command (through the user's login shell, as sshd does) and collects its output.
   * Rejects only when the command could not run to completion (lost connection, timeout, abort);
   * a non-zero exit is a normal result.
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const label = command.length > 80 ? `${command.slice(0, 77)}...` : command;
    let full = command;
    if (options.env && Object.keys(options.env).length) {
      const exports: string[] = [];
      for (const [k, v] of Object.entries(options.env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          return Promise.reject(
            new SshError('INVALID_OPTIONS', `exec env: "${k}" is not a valid variable name`),
          );
        exports.push(`${k}=${shellQuote(String(v))}`);
      }
      full = `export ${exports.join(' ')}; ${command}`;
    }
    if (this.#closed)
      return Promise.reject(
        this.#lostReason
          ? this.#lostError(label)
          : new SshError('CONNECTION_LOST', `SSH session to ${this.host}:${this.port} is closed`),
      );
    const maxBytes = options.maxOutputBytes ?? 16 * 1024 * 1024;
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let truncated = false;
      let exit: { code: number | null; signal: string | null } | null = null;
      let stream: ClientChannel | null = null;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (e: Error | null): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(onLost);
        if (e) return reject(e);
        const result: ExecResult = {
          code: exit?.code ?? null,
          signal: exit?.signal ?? null,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        };
        if (truncated) result.truncated = true;
        resolve(result);
      };
      const kill = (): void => {
        try {
          stream?.signal('KILL');
        } catch {
          /* channel already gone */
        }
        try {
          stream?.close();
        } catch {
          /* ignore */
        }
      };
      const onLost = (why: 'lost' | 'closed'): void =>
        finish(
          why === 'lost'
            ? this.#lostError(label)
            : new SshError(
                'CONNECTION_LOST',
                `SSH session to ${this.host}:${this.port} was closed while \`${label}\` was running`,
              ),
        );
      const onAbort = (): void => {
        kill();
        finish(abortError(`command \`${label}\``));
      };
      this.#pending.add(onLost);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs && options.timeoutMs > 0) {
        timer = setTimeout(() => {
          kill();
          finish(
            new SshError(
              'COMMAND_TIMEOUT',
              `command \`${label}\` on ${this.host}:${this.port} did not finish within ${Math.round(options.timeoutMs! / 100) / 10} s`,
              {
                host: this.host,
                port: this.port,
              },
            ),
          );
        }, options.timeoutMs);
      }
      const collect = (chunks: Buffer[], which: 'out' | 'err') => (d: Buffer) => {
        const len = which === 'out' ? outLen : errLen;
        if (len >= maxBytes) {
          truncated = true;
          return;
        }
        const piece = len + d.length > maxBytes ? d.subarray(0, maxBytes - len) : d;
        if (piece.length < d.length) truncated = true;
        chunks.push(piece);
        if (which === 'out') outLen += piece.length;
        else errLen += piece.length;
      };
      try {
        this.#client.exec(full, (e, s) => {
          if (e) {
            if (this.#closed || /No response from server/.test(e.message)) return onLost('lost');
            return finish(
              new SshError(
                'CONNECTION_LOST',
                `could not start \`${label}\` on ${this.host}:${this.port}: ${e.message}`,
              ),
            );
          }
          stream = s;
          if (done) return kill();
          s.on('data', collect(out, 'out'));
          s.stderr.on('data', collect(err, 'err'));
          s.on('exit', (code: number | null, sig?: string) => {
            exit = { code: typeof code === 'number' ? code : null, signal: sig ? String(sig) : null };
          });
          s.on('error', () => undefined);
          s.on('close', () => {
            if (exit) return finish(null);
            // Channel closed with no exit status: the connection went away under the command.
            setImmediate(() => finish(this.#lostError(label)));
          });
          if (options.stdin !== undefined) s.end(options.stdin);
          else s.end();
        });
      } catch (e) {
        finish(this.#closed ? this.#lostError(label) : (e as Error));
      }
    });
  }

  /**
   * Writes a file atomically (temporary file in the same directory, then rename) with the given mode.
   * The content travels over stdin, never on a command line.
   */
  async upload(
    path: string,
    content: string | Buffer,
    mode: number | string = 0o644,
    options: UploadOptions = {},
  ): Promise<void> {
    if (!path.startsWith('/') || /[\0\n]/.test(path))
      throw new SshError('INVALID_OPTIONS', `upload: "${path}" must be an absolute path`);
    const modeStr = typeof mode === 'number' ? mode.toString(8).padStart(4, '0') : mode;
    if (!/^[0-7]{3,4}$/.test(modeStr))
      throw new SshError(
        'INVALID_OPTIONS',
        `upload: mode ${String(mode)} is not an octal file mode such as 0600`,
      );
    if (options.owner && !/^[a-z_][a-z0-9_.-]*(:[a-z_][a-z0-9_.-]*)?$/i.test(options.owner))
      throw new SshError('INVALID_OPTIONS', `upload: owner "${options.owner}" is not user[:group]`);
    const q = shellQuote(path);
    const tmp = shellQuote(`${path}.oclw-upload.tmp`);
    const steps = [
      'set -e',
      'umask 077',
      `cat > ${tmp}`,
      `chmod ${modeStr} ${tmp}`,
      options.owner ? `chown ${shellQuote(options.owner)} ${tmp}` : '',
      `mv -f ${tmp} ${q}`,
    ].filter(Boolean);
    const script = steps.join('; ');
    const cmd = options.sudo ? `sudo -n sh -c ${shellQuote(script)}` : `sh -c ${shellQuote(script)}`;
    const res = await this.exec(cmd, { stdin: content, timeoutMs: options.timeoutMs ?? 60_000 });
    if (res.code !== 0) {
      throw new SshError(
        'COMMAND_FAILED',
        `upload of ${path} on ${this.host}:${this.port} failed (exit ${res.code ?? res.signal}): ${res.stderr.trim().slice(0, 500)}`,
      );
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const rejectPending of [...this.#pending]) rejectPending('closed');
    this.#client.end();
  }
}
