/**
 * What stamp, upgrade and verify share: the Azure context from an AzureConnection, SSH key material, the
 * wait for a booted claw (SSH + claw-boot) and the verify run over that same connection.
 */
import { hostname, userInfo } from 'node:os';
import { utils } from 'ssh2';
import type { Reporter } from '@openclawps/config';
import {
  createAzureContext,
  resolveCredential,
  type AzureContext,
  type CredentialSpec,
} from '@openclawps/azure';
import {
  connectSsh,
  generateEd25519KeyPair,
  renderVerifyMarkdown,
  runVerify,
  summarizeVerify,
  verifyAnnotations,
  type SshSession,
  type VerifyReport,
} from '@openclawps/guest';
import type { AzureConnection, VerifyResult } from './types';

export function azureContextFor(conn: AzureConnection, location?: string): AzureContext {
  const spec: CredentialSpec =
    conn.auth === 'oidc'
      ? { kind: 'oidc', clientId: conn.clientId ?? '', tenantId: conn.tenantId ?? '' }
      : conn.auth === 'cli'
        ? { kind: 'cli', tenantId: conn.tenantId }
        : conn.auth === 'default'
          ? { kind: 'default', tenantId: conn.tenantId, managedIdentityClientId: conn.clientId }
          : { kind: 'static' };
  return createAzureContext({
    subscriptionId: conn.subscriptionId,
    credential: resolveCredential(spec),
    endpoint: conn.endpoint,
    ca: conn.ca,
    pollIntervalMs: conn.pollIntervalMs,
    location,
    userAgentPrefix: 'openclawps',
  });
}

export interface SshIdentity {
  privateKey?: string;
  password?: string;
  /** Public keys to authorize on a VM we create. */
  publicKeys: string[];
  /** true when the key pair was generated for this run (its private half dies with the process). */
  ephemeral: boolean;
}

/** The OpenSSH public line of a private key, or an error message. */
export function publicKeyOf(privateKey: string): { publicKey?: string; problem?: string } {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) return { problem: `does not parse as an SSH private key (${parsed.message})` };
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey())
    return { problem: 'is a public key; give the private key (-----BEGIN OPENSSH PRIVATE KEY-----)' };
  return { publicKey: `${key.type} ${key.getPublicSSH().toString('base64')}` };
}

export function sshIdentity(opts: {
  privateKey?: string;
  password?: string;
  extraPublicKeys?: string[];
}): SshIdentity {
  const extra = (opts.extraPublicKeys ?? []).filter(Boolean);
  if (opts.privateKey) {
    const { publicKey, problem } = publicKeyOf(opts.privateKey);
    if (!publicKey) throw new Error(`ssh-private-key ${problem}`);
    return {
      privateKey: opts.privateKey,
      password: opts.password,
      publicKeys: dedupe([publicKey, ...extra]),
      ephemeral: false,
    };
  }
  const pair = generateEd25519KeyPair({ comment: 'openclawps-run' });
  return {
    privateKey: pair.privateKey,
    password: opts.password,
    publicKeys: dedupe([pair.publicKey, ...extra]),
    ephemeral: true,
  };
}

function dedupe(keys: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const k of keys) {
    const id = k.trim().split(/\s+/).slice(0, 2).join(' ');
    if (!seen.has(id)) {
      seen.add(id);
      out.push(k.trim());
    }
  }
  return out;
}

/** Who runs an upgrade (the lease owner): the workflow run on GitHub, user@host elsewhere. */
export function defaultOwner(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OPENCLAWPS_UPGRADE_OWNER) return clean(env.OPENCLAWPS_UPGRADE_OWNER);
  if (env.GITHUB_RUN_ID)
    return clean(`gh-${env.GITHUB_REPOSITORY ?? ''}-${env.GITHUB_RUN_ID}-${env.GITHUB_JOB ?? ''}`);
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry
  }
  return clean(`${user}@${hostname()}`);
}

function clean(s: string): string {
  return s.replace(/[^A-Za-z0-9@._-]/g, '-').slice(0, 64);
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** What a claw's boot looks like from inside (one command, no root needed). */
export const BOOT_STATUS_COMMAND =
  'u=$(${CLAW_SYSTEMCTL:-systemctl} is-active claw-boot.service 2>/dev/null); ' +
  'r=$(sed -n "s/^result=//p" "${CLAW_ROOT:-}/var/lib/claw/last-boot" 2>/dev/null); ' +
  'echo "unit=${u:-unknown} result=${r:-none}"';

export interface BootStatus {
  unit: string;
  result: string;
  done: boolean;
}

export function parseBootStatus(stdout: string): BootStatus {
  const unit = /unit=(\S+)/.exec(stdout)?.[1] ?? 'unknown';
  const result = /result=(\S+)/.exec(stdout)?.[1] ?? 'none';
  // a real systemd says active/failed when the oneshot finished; without systemctl the last-boot record tells
  // (inactive = not started yet on this boot: an old record from the previous boot must not count)
  const done = unit === 'active' || unit === 'failed' || (unit === 'unknown' && result !== 'none');
  return { unit, result, done };
}

export interface BootedClaw {
  session: SshSession;
  boot: BootStatus;
}

/** Where and as whom the lifecycle reaches a claw over SSH. */
interface ClawSsh {
  host: string;
  port: number;
  username: string;
  identity: SshIdentity;
  reporter: Reporter;
  signal?: AbortSignal;
}

/** connectSsh with the claw's identity, retrying until `retryUntilMs`; the SSH client logs at debug. */
function connectClaw(o: ClawSsh, retry: { retryUntilMs: number; retryAuthFailures?: boolean }) {
  return connectSsh({
    host: o.host,
    port: o.port,
    username: o.username,
    privateKey: o.identity.privateKey,
    password: o.identity.password,
    ...retry,
    readyTimeoutMs: 15_000,
    signal: o.signal,
    reporter: { info: (m) => o.reporter.debug(m), setSecret: (v) => o.reporter.setSecret(v) },
  });
}

/** Connect (retrying until the VM answers) and wait until claw-boot has finished on this boot. */
export async function waitForBoot(o: ClawSsh & { deadline: number }): Promise<BootedClaw> {
  o.reporter.info(`waiting for SSH on ${o.username}@${o.host}:${o.port}`);
  // a new VM may refuse the key until cloud-init has written it: auth failures are retried too
  const session = await connectClaw(o, {
    retryUntilMs: Math.max(o.deadline, Date.now() + 1000),
    retryAuthFailures: true,
  });
  try {
    let delay = 200;
    let last = '';
    for (;;) {
      const res = await session.exec(BOOT_STATUS_COMMAND, { timeoutMs: 30_000, signal: o.signal });
      const boot = parseBootStatus(res.stdout);
      const text = `claw-boot ${boot.unit} (last result ${boot.result})`;
      if (text !== last) o.reporter.info(text);
      last = text;
      if (boot.done) return { session, boot };
      if (Date.now() + delay > o.deadline) {
        o.reporter.warn(`claw-boot still ${boot.unit} at the deadline; verifying anyway`);
        return { session, boot };
      }
      await sleep(delay, o.signal);
      delay = Math.min(5000, delay * 1.5);
    }
  } catch (e) {
    session.close();
    throw e;
  }
}

/**
 * Stops what writes to the data disk (the gateway and its SQLite state, the Claude sidecar) and
 * flushes every filesystem, so that deleting the running VM loses nothing: an upgrade then pays
 * only delete + create + boot as downtime, not a deallocate as well.
 */
export const QUIESCE_COMMAND =
  'sudo -n systemctl stop openclaw-gateway.service claude-sidecar.service && sudo -n sync';
/** Undoes QUIESCE_COMMAND when the VM could not be deleted after all (the claw serves again). */
export const RESUME_COMMAND = 'sudo -n systemctl start openclaw-gateway.service claude-sidecar.service';

/**
 * Runs one short command on a running claw over SSH (quiesce, resume). Returns why it could not, or
 * undefined when it exited 0.
 */
export async function runOnClaw(o: ClawSsh & { command: string }): Promise<string | undefined> {
  let session: SshSession | undefined;
  try {
    session = await connectClaw(o, { retryUntilMs: Date.now() + 20_000 });
    const r = await session.exec(o.command, { timeoutMs: 90_000, signal: o.signal });
    if (r.code !== 0) return `exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`;
    return undefined;
  } catch (e) {
    if (o.signal?.aborted) throw e;
    return String((e as Error).message ?? e).split('\n')[0];
  } finally {
    session?.close();
  }
}

/** Checks of what systemd starts after claw-boot: they may fail only because it is still starting. */
const STARTUP_GROUPS = new Set(['gateway', 'display']);
const STARTUP_CHECKS = new Set([
  'services.openclaw-gateway',
  'services.lightdm',
  'services.x11vnc',
  'vnc.listening',
  'vnc.rfb',
]);
function isStartupCheck(c: { id: string; group: string }): boolean {
  return STARTUP_GROUPS.has(c.group) || STARTUP_CHECKS.has(c.id);
}

/** Verify over an open session, as the lifecycle VerifyResult. */
export async function verifyOverSession(
  session: SshSession,
  o: { secrets: string[]; timeoutMs?: number; signal?: AbortSignal },
): Promise<VerifyResult & { hostKeyFingerprint: string }> {
  // The gateway and the desktop start after claw-boot and may still be coming up (Node + OpenClaw
  // load in tens of seconds on a small VM; x11vnc waits for lightdm's X server): while the only
  // failing required checks are such startup checks, verify again for a bounded time before calling
  // the claw unhealthy (found by the booted e2e: 9 s was too early).
  const settleUntil = Date.now() + Math.min(o.timeoutMs ?? 120_000, 120_000);
  let report = await runVerify(session, { timeoutMs: o.timeoutMs, signal: o.signal });
  for (;;) {
    const failing = report.checks.filter((c) => c.required && c.status === 'fail');
    if (!failing.length || !failing.every(isStartupCheck) || Date.now() > settleUntil) break;
    await sleep(5000, o.signal);
    report = await runVerify(session, { timeoutMs: o.timeoutMs, signal: o.signal });
  }
  return { ...toVerifyResult(report, o.secrets), hostKeyFingerprint: session.hostKeyFingerprint };
}

export function toVerifyResult(report: VerifyReport, secrets: string[]): VerifyResult {
  const summary = summarizeVerify(report);
  return {
    healthy: summary.healthy,
    failedChecks: summary.failedChecks,
    report: {
      version: report.version,
      claw: report.claw,
      healthy: report.healthy,
      checks: report.checks.map((c) => ({
        id: c.id,
        group: c.group,
        title: c.title,
        status: c.status,
        detail: c.detail,
        required: c.required,
      })),
    },
    markdown: renderVerifyMarkdown(report, { secrets }),
    annotations: verifyAnnotations(report, { secrets }).map((a) => ({ title: a.title, message: a.message })),
  };
}

/** Replace every secret in a text (outputs and summaries are also scanned by the tests). */
export function maskAll(text: string, secrets: string[]): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x && x.length >= 4).sort((a, b) => b.length - a.length))
    out = out.split(s).join('***');
  return out;
}

export function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}
