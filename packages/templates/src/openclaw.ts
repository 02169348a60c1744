/**
 * The claw's OpenClaw 2026.9 configuration, generated from the spec (never by splicing text):
 * `openclaw.json`, the exec-approvals document for `openclaw approvals set --file`, and the default SOUL.md.
 * Secrets are never inlined: the bot token and gateway token are env SecretRefs, provider keys are read by
 * OpenClaw from `~/.openclaw/.env` (the claw's `.env`).
 */
import { ClawSpec, modelProvider, resolveDmPolicy } from '@openclawps/config';

export const GATEWAY_PORT = 18789;
export const CDP_PORT = 18800;
export const DATA_MOUNT = '/mnt/claw-data';
export const WORKSPACE = `${DATA_MOUNT}/workspace`;

export type Distro = 'ubuntu' | 'debian';

/** The browser each image installs (install.sh): Google Chrome on Ubuntu, Chromium on Debian. */
export const BROWSER_EXECUTABLE: Record<Distro, string> = {
  ubuntu: '/usr/bin/google-chrome-stable',
  debian: '/usr/bin/chromium',
};

/** Web search providers bundled with OpenClaw 2026.9.6 by model provider (unset = the model's native search). */
const SEARCH_PROVIDER: Record<string, string | undefined> = { xai: 'grok', google: 'gemini' };

/** Plugins to enable per model provider (bundled ones). */
const PROVIDER_PLUGIN: Record<string, string | undefined> = {
  xai: 'xai',
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'google',
  moonshot: 'moonshot',
  deepseek: 'deepseek',
  openrouter: 'openrouter',
  mistral: 'mistral',
};

export interface OpenClawOptions {
  distro?: Distro;
}

const envRef = (id: string) => ({ source: 'env', provider: 'default', id });

export type JsonObject = { [k: string]: unknown };

export function generateOpenClawConfig(spec: ClawSpec, opts: OpenClawOptions = {}): JsonObject {
  const distro = opts.distro ?? 'ubuntu';
  const provider = modelProvider(spec.model);
  const { dmPolicy, allowFrom } = resolveDmPolicy(spec);
  const ids = spec.telegram.userIds;
  const search: JsonObject = { enabled: true };
  if (SEARCH_PROVIDER[provider]) search.provider = SEARCH_PROVIDER[provider];
  const plugins: JsonObject = { browser: { enabled: true } };
  const plugin = PROVIDER_PLUGIN[provider];
  if (plugin) plugins[plugin] = { enabled: true };

  const tools: JsonObject = {
    profile: 'full',
    exec: { host: 'gateway', mode: 'full' },
    elevated: ids.length ? { enabled: true, allowFrom: { telegram: [...ids] } } : { enabled: true },
    web: { search, fetch: { enabled: true } },
  };
  const config: JsonObject = {
    gateway: {
      mode: 'local',
      port: GATEWAY_PORT,
      bind: 'loopback',
      auth: { mode: 'token', token: envRef('OPENCLAW_GATEWAY_TOKEN') },
    },
    agents: {
      defaults: {
        model: { primary: spec.model },
        workspace: WORKSPACE,
        maxConcurrent: 4,
        sandbox: { mode: 'off' },
        elevatedDefault: 'full',
      },
      entries: {
        main: {
          name: 'main',
          model: spec.model,
          workspace: WORKSPACE,
          sandbox: { mode: 'off' },
          tools: { elevated: { enabled: true } },
        },
      },
    },
    tools,
    browser: {
      enabled: true,
      executablePath: BROWSER_EXECUTABLE[distro],
      headless: spec.profile === 'minimal',
      noSandbox: true,
      defaultProfile: 'openclaw',
      profiles: { openclaw: { cdpPort: CDP_PORT } },
    },
    channels: {
      telegram: {
        enabled: true,
        botToken: envRef('TELEGRAM_BOT_TOKEN'),
        dmPolicy,
        allowFrom,
        groupPolicy: 'disabled',
      },
    },
    plugins: { entries: plugins },
    update: { checkOnStart: false },
    discovery: { mdns: { mode: 'off' } },
  };
  if (ids.length) config.commands = { ownerAllowFrom: ids.map((id) => `telegram:${id}`) };
  return config;
}

/** The document for `openclaw approvals set --file` (never left as exec-approvals.json in the state dir). */
export function generateExecApprovals(): JsonObject {
  const policy = { security: 'full', ask: 'off', askFallback: 'full', autoAllowSkills: true };
  return { version: 1, defaults: { ...policy }, agents: { main: { ...policy } } };
}

export const EXEC_APPROVAL_VALUES = {
  security: ['deny', 'allowlist', 'full'],
  ask: ['off', 'on-miss', 'always'],
  askFallback: ['deny', 'allowlist', 'full'],
} as const;

/** `approvals set` silently drops bad values (openclaw-2026.9.md §7), so check the document ourselves. */
export function execApprovalsProblems(doc: unknown): string[] {
  const out: string[] = [];
  const d = doc as {
    version?: unknown;
    defaults?: Record<string, unknown>;
    agents?: Record<string, Record<string, unknown>>;
  };
  if (!d || typeof d !== 'object') return ['not an object'];
  if (d.version !== 1) out.push('version must be 1');
  const check = (where: string, p: Record<string, unknown> | undefined) => {
    if (!p || typeof p !== 'object') return out.push(`${where} must be an object`);
    for (const [k, allowed] of Object.entries(EXEC_APPROVAL_VALUES))
      if (p[k] !== undefined && !(allowed as readonly string[]).includes(p[k] as string))
        out.push(`${where}.${k}: ${JSON.stringify(p[k])} is not one of ${allowed.join(', ')}`);
  };
  check('defaults', d.defaults);
  for (const [id, p] of Object.entries(d.agents ?? {})) check(`agents.${id}`, p);
  return out;
}

export function defaultSoul(spec: Pick<ClawSpec, 'claw'>): string {
  return `# SOUL

You are **${spec.claw.replace(/[^A-Za-z0-9-]/g, '')}**, a long-lived, autonomous agent running on your own Linux machine.

## How you work
- Keep a task list in your workspace and a clear definition of done for every task; finish what you start.
- Your state lives on a durable disk (\`${WORKSPACE}\`): notes, memory and this file survive upgrades.
  You may evolve this file as you learn who you are; tell your human when you change something material.
- Plan with care, act quickly; split large work into steps and check results before reporting success.
- Escalate only when blocked, when stakes are high or irreversible, when something is ethically unclear,
  or at a milestone worth reporting.

## Boundaries
- Never reveal credentials, tokens or keys, in chat or in files others can read.
- Never speak for your human to anyone else without their prior approval; never impersonate them.
- Keep messages short and useful; no chatter.

## Vibe
A calm colleague at 3 a.m.: competent, direct, unflappable.
`;
}
