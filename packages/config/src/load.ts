/** Reading a claw spec from a `.env` file: parse (data only), build, validate, report everything. */
import { readFileSync } from 'node:fs';
import { formatEnv, parseEnv } from './dotenv';
import { Problem, SpecError } from './problems';
import { ClawSpec, SECRET_VARIABLES, resolveDmPolicy, specFromEnv } from './spec';
import { deriveGatewayToken, validateSpec } from './validate';

export interface LoadOptions {
  /** Used in messages ("alice.env:3"). */
  file?: string;
  overrides?: Record<string, string>;
}

export interface ReadSpecResult {
  spec: ClawSpec;
  problems: Problem[];
}

/** Parses `.env` text, builds the spec and validates it; returns every problem (parse + values). */
export function readSpec(text: string, opts: LoadOptions = {}): ReadSpecResult {
  const parsed = parseEnv(text);
  const where = opts.file ?? '.env';
  const problems: Problem[] = parsed.problems.map((p) => ({
    variable: `${where}:${p.line}`,
    line: p.line,
    message: p.message,
    fix: 'write the line as KEY=VALUE (single-quote values with spaces or special characters), or comment it out with #',
  }));
  const built = specFromEnv(parsed.values, opts.overrides);
  problems.push(...built.problems, ...validateSpec(built.spec));
  return { spec: built.spec, problems };
}

/** Like readSpec, but throws SpecError (with all problems) when anything is wrong. */
export function loadSpec(text: string, opts: LoadOptions = {}): ClawSpec {
  const { spec, problems } = readSpec(text, opts);
  if (problems.length) throw new SpecError(problems, opts.file);
  return spec;
}

export function loadSpecFile(path: string, overrides?: Record<string, string>): ClawSpec {
  return loadSpec(readFileSync(path, 'utf8'), { file: path, overrides });
}

/** The gateway's auth token (OPENCLAW_GATEWAY_TOKEN, or derived from the bot token and claw name). */
export const gatewayToken = deriveGatewayToken;

/**
 * The claw's `.env` as delivered to `/etc/claw/claw.env` (and synced to `/mnt/claw-data/openclaw/.env`):
 * model, Telegram settings, every secret except the Azure admin password, and pass-through variables.
 */
export function clawEnvEntries(spec: ClawSpec): Array<[string, string]> {
  const { dmPolicy } = resolveDmPolicy(spec);
  const out: Array<[string, string]> = [
    ['CLAW_NAME', spec.claw],
    ['OPENCLAW_MODEL', spec.model],
    ['TELEGRAM_USER_ID', spec.telegram.userIds.join(',')],
    ['TELEGRAM_DM_POLICY', dmPolicy],
  ];
  for (const name of SECRET_VARIABLES) {
    if (name === 'VM_PASSWORD' || name === 'OPENCLAW_GATEWAY_TOKEN') continue;
    const v = spec.secrets[name];
    if (v) out.push([name, v]);
  }
  out.push(['OPENCLAW_GATEWAY_TOKEN', gatewayToken(spec)]);
  for (const [k, v] of Object.entries(spec.extraEnv).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    out.push([k, v]);
  return out;
}

export function clawEnvFile(spec: ClawSpec): string {
  return formatEnv(
    clawEnvEntries(spec),
    `claw ${spec.claw}: written by openclawps; parsed as data, never executed`,
  );
}
