/**
 * The only place that talks to the Actions runner: typed inputs, outputs, the job summary and
 * annotations. Entry points (actions/<name>/main.ts) read inputs here and call packages/*.
 */
import * as core from '@actions/core';

/** The logging surface lifecycle code receives (structurally the Reporter of @openclawps/config). */
export interface ActionReporter {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  setSecret(value: string): void;
  startGroup(name: string): void;
  endGroup(): void;
}

export function actionsReporter(): ActionReporter {
  return {
    info: (m) => core.info(m),
    warn: (m) => core.warning(m),
    error: (m) => core.error(m),
    debug: (m) => core.debug(m),
    setSecret: (v) => maskSecret(v),
    startGroup: (n) => core.startGroup(n),
    endGroup: () => core.endGroup(),
  };
}

/** Masks a value, each of its lines, and (for .env text) each KEY=VALUE value. */
export function maskSecret(value: string | undefined): void {
  if (!value) return;
  const parts = new Set<string>([value]);
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.length >= 4) parts.add(trimmed);
    const eq = trimmed.indexOf('=');
    if (eq > 0 && !trimmed.startsWith('#')) {
      const v = trimmed
        .slice(eq + 1)
        .trim()
        .replace(/^(['"])(.*)\1$/, '$2');
      if (v.length >= 4) parts.add(v);
    }
  }
  for (const p of parts) core.setSecret(p);
}

/**
 * Reads every input an action declares, collecting all problems so the user sees them at once,
 * before any Azure call. Names are literal strings so the contract test can find them.
 */
export class ActionInputs {
  private readonly problems: string[] = [];

  private raw(name: string): string {
    return core.getInput(name).trim();
  }

  string(name: string, fallback = ''): string {
    return this.raw(name) || fallback;
  }

  required(name: string): string {
    const v = this.raw(name);
    if (!v) this.problems.push(`input \`${name}\` is required`);
    return v;
  }

  /** A secret: masked in every log line before anything else can print it. */
  secret(name: string): string {
    const v = core.getInput(name);
    maskSecret(v);
    return v.trim() ? v : '';
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name).toLowerCase();
    if (!v) return fallback;
    if (['true', 'yes', '1'].includes(v)) return true;
    if (['false', 'no', '0'].includes(v)) return false;
    this.problems.push(`input \`${name}\` must be true or false, got "${v}"`);
    return fallback;
  }

  int(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
    const v = this.raw(name);
    if (!v) return fallback;
    if (!/^-?\d+$/.test(v)) {
      this.problems.push(`input \`${name}\` must be a whole number, got "${v}"`);
      return fallback;
    }
    const n = Number(v);
    if ((range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
      this.problems.push(
        `input \`${name}\` must be between ${range.min ?? '-∞'} and ${range.max ?? '∞'}, got ${n}`,
      );
    }
    return n;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (!v) return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`input \`${name}\` must be one of ${allowed.join(', ')}, got "${v}"`);
      return fallback;
    }
    return v as T;
  }

  list(name: string): string[] {
    return this.raw(name)
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** Throws one error listing every input problem found so far. */
  assertValid(): void {
    if (this.problems.length) {
      throw new InputError(this.problems);
    }
  }
}

export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid inputs:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InputError';
  }
}

/** The Azure connection inputs every action shares. */
export interface AzureInputs {
  auth: 'oidc' | 'cli' | 'default' | 'static';
  clientId: string;
  tenantId: string;
  subscriptionId: string;
  endpoint: string;
}

export function readAzureInputs(inputs: ActionInputs): AzureInputs {
  const clientId = inputs.string('client-id');
  const tenantId = inputs.string('tenant-id');
  const auth = inputs.oneOf('auth', ['oidc', 'cli', 'default', 'static'] as const, clientId ? 'oidc' : 'cli');
  const subscriptionId = inputs.required('subscription-id');
  if (auth === 'oidc' && (!clientId || !tenantId)) {
    inputs.required('client-id');
    inputs.required('tenant-id');
  }
  return { auth, clientId, tenantId, subscriptionId, endpoint: inputs.string('arm-endpoint') };
}

/** Sets outputs, refusing any value that contains a known secret (a bug, never a user error). */
export function setOutputs(outputs: Record<string, string | number | boolean>, secrets: string[] = []): void {
  for (const [name, value] of Object.entries(outputs)) {
    const text = String(value);
    for (const s of secrets) {
      if (s && s.length >= 4 && text.includes(s))
        throw new Error(`refusing to write a secret into output \`${name}\``);
    }
    core.setOutput(name, text);
  }
}

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(markdown, true).write();
}

export function annotate(level: 'error' | 'warning' | 'notice', title: string, message: string): void {
  const props = { title };
  if (level === 'error') core.error(message, props);
  else if (level === 'warning') core.warning(message, props);
  else core.notice(message, props);
}

/** Runs an action body; any error fails the step with its full message (every problem listed). */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const e = err as Error & { problems?: unknown };
    if (Array.isArray(e.problems)) {
      for (const p of e.problems) core.error(typeof p === 'string' ? p : JSON.stringify(p));
    }
    core.setFailed(e.message ?? String(err));
  }
}

export { azureConnection, lifecycleOptions } from './azure';
