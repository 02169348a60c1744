/**
 * Verify a claw over one SSH connection: run the guest's own check script, parse and summarize its
 * report. Used by the verify action, the CLI and the lifecycle (stamp/upgrade wait + verify).
 */
import {
  connectSsh,
  shellQuote,
  SshError,
  type ConnectSshOptions,
  type GuestReporter,
  type SshSession,
} from './ssh';
import {
  parseVerifyReport,
  renderVerifyMarkdown,
  summarizeVerify,
  verifyAnnotations,
  VerifyReportError,
  type VerifyAnnotation,
  type VerifyReport,
  type VerifySummary,
} from './verify-report';

export const DEFAULT_VERIFY_COMMAND = '/opt/claw/verify';

export interface RunVerifyOptions {
  /** Run through `sudo -n` (default true: verify reads root-only files such as /etc/claw/claw.env). */
  sudo?: boolean;
  /** Default 120 000. */
  timeoutMs?: number;
  /** Default `/opt/claw/verify`. */
  command?: string;
  signal?: AbortSignal;
}

function stderrTail(stderr: string): string {
  const t = stderr.trim();
  if (!t) return '';
  return ` stderr: ${t.length > 500 ? `...${t.slice(-497)}` : t}`;
}

/**
 * Runs verify over an open session and returns its parsed report. Exit 0 and exit 1 (a required check
 * fails) are both normal when the JSON is there; anything else is an error naming the cause.
 */
export async function runVerify(session: SshSession, options: RunVerifyOptions = {}): Promise<VerifyReport> {
  const command = options.command ?? DEFAULT_VERIFY_COMMAND;
  const full = `${options.sudo === false ? '' : 'sudo -n '}${shellQuote(command)}`;
  const res = await session.exec(full, { timeoutMs: options.timeoutMs ?? 120_000, signal: options.signal });
  const where = `${session.host}:${session.port}`;
  if (res.code === 127 || (/command not found|No such file/i.test(res.stderr) && !res.stdout.trim())) {
    throw new VerifyReportError(
      `${command} is missing on ${where} (exit ${res.code}): is this VM built from a claw image?${stderrTail(res.stderr)}`,
      ['missing'],
    );
  }
  if (
    /a password is required|a terminal is required|not in the sudoers|may not run sudo/i.test(res.stderr) &&
    !res.stdout.trim()
  ) {
    throw new VerifyReportError(
      `sudo refused to run ${command} on ${where} for ${session.username}: the admin user needs passwordless sudo (NOPASSWD), as the claw image configures it.${stderrTail(res.stderr)}`,
      ['sudo'],
    );
  }
  if (res.code !== 0 && res.code !== 1) {
    const how = res.code === null ? `was killed by signal ${res.signal ?? 'unknown'}` : `exited ${res.code}`;
    throw new VerifyReportError(
      `${command} on ${where} ${how}; expected exit 0 (healthy) or 1 (a required check fails).${stderrTail(res.stderr)}`,
      ['exit'],
    );
  }
  let report: VerifyReport;
  try {
    report = parseVerifyReport(res.stdout);
  } catch (e) {
    if (e instanceof VerifyReportError)
      throw new VerifyReportError(
        `${command} on ${where} (exit ${res.code}): ${e.message}${stderrTail(res.stderr)}`,
        e.problems,
      );
    throw e;
  }
  if ((res.code === 0) !== report.healthy) {
    throw new VerifyReportError(
      `${command} on ${where} exited ${res.code} but its report says healthy=${report.healthy} (exit 0 must mean healthy, 1 unhealthy)`,
      ['exit/healthy mismatch'],
    );
  }
  return report;
}

export interface VerifyClawOptions {
  host: string;
  port?: number;
  username: string;
  privateKey?: string;
  password?: string;
  hostKeySha256?: string | string[];
  /** Overall budget: waiting for SSH plus running verify. Default 600 000 (10 min). */
  timeoutMs?: number;
  /** Per-attempt handshake timeout. Default 20 000. */
  readyTimeoutMs?: number;
  /** Also retry authentication failures within the budget (a VM still provisioning its admin user). */
  retryAuthFailures?: boolean;
  reporter?: GuestReporter;
  signal?: AbortSignal;
  /** Run verify through sudo (default true) and which command (default /opt/claw/verify). */
  sudo?: boolean;
  command?: string;
  /** Values masked in the markdown and annotations. */
  secrets?: string[];
}

export interface VerifyClawResult {
  report: VerifyReport;
  summary: VerifySummary;
  markdown: string;
  annotations: VerifyAnnotation[];
  hostKeyFingerprint: string;
}

/** Connect (retrying until reachable within the budget), verify over that one connection, close. */
export async function verifyClaw(options: VerifyClawOptions): Promise<VerifyClawResult> {
  const start = Date.now();
  const budget = options.timeoutMs ?? 600_000;
  const deadline = start + budget;
  const connect: ConnectSshOptions = {
    host: options.host,
    port: options.port,
    username: options.username,
    privateKey: options.privateKey,
    password: options.password,
    hostKeySha256: options.hostKeySha256,
    readyTimeoutMs: options.readyTimeoutMs,
    retryUntilMs: deadline,
    retryAuthFailures: options.retryAuthFailures,
    signal: options.signal,
    reporter: options.reporter,
  };
  if (options.password) options.reporter?.setSecret?.(options.password);
  options.reporter?.info(`verify: connecting to ${options.username}@${options.host}:${options.port ?? 22}`);
  const session = await connectSsh(connect);
  try {
    const remaining = Math.max(30_000, deadline - Date.now());
    const report = await runVerify(session, {
      sudo: options.sudo,
      command: options.command,
      timeoutMs: remaining,
      signal: options.signal,
    });
    const summary = summarizeVerify(report);
    options.reporter?.info(
      `verify: ${report.claw} is ${summary.healthy ? 'healthy' : 'UNHEALTHY'} (${summary.counts.pass} pass, ${summary.counts.fail} fail, ${summary.counts.warn} warn, ${summary.counts.skip} skip)` +
        (summary.failedChecks.length ? `; failed: ${summary.failedChecks.join(', ')}` : ''),
    );
    return {
      report,
      summary,
      markdown: renderVerifyMarkdown(report, { secrets: options.secrets }),
      annotations: verifyAnnotations(report, { secrets: options.secrets }),
      hostKeyFingerprint: session.hostKeyFingerprint,
    };
  } finally {
    session.close();
  }
}

export interface MeasureVerifyConnectionsOptions {
  /** Where to connect (a real sshd on loopback for the bench). */
  target: ConnectSshOptions;
  /** Number of checks. Default 20. */
  checks?: number;
  /** The trivial check command. Default `true`. */
  command?: string;
}

export interface MeasureVerifyConnectionsResult {
  checks: number;
  /** One connection, one command running all N checks (what verify does). */
  oneConnectionOneCommandMs: number;
  /** One connection, N commands (one channel per check). */
  oneConnectionPerCheckCommandMs: number;
  /** N connections, one command each (what the original verify.sh did). */
  connectionPerCheckMs: number;
  /** connectionPerCheckMs / oneConnectionOneCommandMs: the P4 figure (target >= 10). */
  ratio: number;
  /** connectionPerCheckMs / oneConnectionPerCheckCommandMs. */
  ratioPerCommand: number;
}

/**
 * P4 of the bench: all checks over one SSH connection vs one connection per check. Each variant
 * includes its connection setup(s) and teardown; measured with the wall clock, nothing asserted.
 */
export async function measureVerifyConnections(
  options: MeasureVerifyConnectionsOptions,
): Promise<MeasureVerifyConnectionsResult> {
  const n = options.checks ?? 20;
  if (!Number.isInteger(n) || n < 1)
    throw new SshError('INVALID_OPTIONS', 'measureVerifyConnections: checks must be a positive integer');
  const cmd = options.command ?? 'true';
  const target: ConnectSshOptions = { ...options.target, retryUntilMs: options.target.retryUntilMs ?? 0 };
  const ensureOk = (code: number | null, what: string): void => {
    if (code !== 0)
      throw new SshError('COMMAND_FAILED', `measureVerifyConnections: ${what} exited ${String(code)}`);
  };
  // Warm-up (first connection pays for process start-up and key parsing caches).
  (await connectSsh(target)).close();

  let t = process.hrtime.bigint();
  {
    const s = await connectSsh(target);
    try {
      const script = Array.from({ length: n }, () => cmd).join('; ');
      ensureOk((await s.exec(`sh -c ${shellQuote(script)}`)).code, 'the combined check');
    } finally {
      s.close();
    }
  }
  const one = Number(process.hrtime.bigint() - t) / 1e6;

  t = process.hrtime.bigint();
  {
    const s = await connectSsh(target);
    try {
      for (let i = 0; i < n; i++) ensureOk((await s.exec(cmd)).code, `check ${i + 1}`);
    } finally {
      s.close();
    }
  }
  const perCommand = Number(process.hrtime.bigint() - t) / 1e6;

  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = await connectSsh(target);
    try {
      ensureOk((await s.exec(cmd)).code, `check ${i + 1}`);
    } finally {
      s.close();
    }
  }
  const perConnection = Number(process.hrtime.bigint() - t) / 1e6;

  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    checks: n,
    oneConnectionOneCommandMs: round(one),
    oneConnectionPerCheckCommandMs: round(perCommand),
    connectionPerCheckMs: round(perConnection),
    ratio: round(perConnection / one),
    ratioPerCommand: round(perConnection / perCommand),
  };
}
