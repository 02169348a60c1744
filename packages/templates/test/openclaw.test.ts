import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { secretValues } from '@openclawps/config';
import {
  BROWSER_EXECUTABLE,
  execApprovalsProblems,
  generateExecApprovals,
  generateOpenClawConfig,
  defaultSoul,
} from '@openclawps/templates';
import { SAMPLE_ENVS, sampleSpec } from './fixtures/specs';
import { validateJsonSchema } from './jsonschema';

const SCHEMA = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'openclaw-2026.9.6.schema.json'), 'utf8'));

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('openclaw.json against the committed schema snapshot (openclaw config schema, pruned)', () => {
  it.each(Object.keys(SAMPLE_ENVS).flatMap((n) => [[n, 'ubuntu'] as const, [n, 'debian'] as const]))(
    '%s on %s validates',
    (name, distro) => {
      const cfg = generateOpenClawConfig(sampleSpec(name), { distro });
      expect(validateJsonSchema(SCHEMA, cfg)).toEqual([]);
    },
  );

  const base = () => generateOpenClawConfig(sampleSpec('xai-allowlist')) as J;
  const mutations: Array<[string, (c: J) => void, RegExp]> = [
    ['agents.list (pre-2026.8 shape)', (c) => (c.agents.list = [{ id: 'main' }]), /unrecognized key/],
    ['bind as an IP', (c) => (c.gateway.bind = '127.0.0.1'), /must be one of|matches none/],
    ['port as a string', (c) => (c.gateway.port = '18789'), /expected integer/],
    ['dmPolicy whitelist', (c) => (c.channels.telegram.dmPolicy = 'whitelist'), /must be one of/],
    ['maxConcurrent typo', (c) => (c.agents.defaults.maxConcurent = 4), /unrecognized key/],
    ['maxConcurrent 0', (c) => (c.agents.defaults.maxConcurrent = 0), /must be > 0/],
    ['per-agent maxConcurrent', (c) => (c.agents.entries.main.maxConcurrent = 4), /unrecognized key/],
    ['sandbox none', (c) => (c.agents.defaults.sandbox.mode = 'none'), /must be one of|matches none/],
    ['unknown top-level key', (c) => (c.bogus = true), /unrecognized key/],
  ];
  it.each(mutations)('rejects %s (the check can fail)', (_n, mutate, re) => {
    const cfg = base();
    mutate(cfg);
    const errors = validateJsonSchema(SCHEMA, cfg);
    expect(errors.map((e) => `${e.path}: ${e.message}`).join('\n')).toMatch(re);
  });
});

describe('generateOpenClawConfig', () => {
  it('has the 2026.9 shape and the seed defaults', () => {
    const c = generateOpenClawConfig(sampleSpec('xai-allowlist')) as J;
    expect(c.gateway).toEqual({
      mode: 'local',
      port: 18789,
      bind: 'loopback',
      auth: { mode: 'token', token: { source: 'env', provider: 'default', id: 'OPENCLAW_GATEWAY_TOKEN' } },
    });
    expect(c.agents.defaults).toEqual({
      model: { primary: 'xai/grok-4.20-0309-reasoning' },
      workspace: '/mnt/claw-data/workspace',
      maxConcurrent: 4,
      sandbox: { mode: 'off' },
      elevatedDefault: 'full',
    });
    expect(Object.keys(c.agents.entries)).toEqual(['main']);
    expect(c.agents.list).toBeUndefined();
    expect(c.channels.telegram).toEqual({
      enabled: true,
      botToken: { source: 'env', provider: 'default', id: 'TELEGRAM_BOT_TOKEN' },
      dmPolicy: 'allowlist',
      allowFrom: ['5551234567'],
      groupPolicy: 'disabled',
    });
    expect(c.commands).toEqual({ ownerAllowFrom: ['telegram:5551234567'] });
    expect(c.tools.web).toEqual({ search: { enabled: true, provider: 'grok' }, fetch: { enabled: true } });
    expect(c.tools.exec).toEqual({ host: 'gateway', mode: 'full' });
    expect(c.browser).toMatchObject({
      enabled: true,
      executablePath: '/usr/bin/google-chrome-stable',
      headless: false,
    });
    expect(c.browser.profiles.openclaw.cdpPort).toBe(18800);
  });

  it('never inlines a secret', () => {
    for (const name of Object.keys(SAMPLE_ENVS)) {
      const spec = sampleSpec(name);
      const text = JSON.stringify(generateOpenClawConfig(spec));
      for (const s of secretValues(spec)) expect(text).not.toContain(s);
    }
  });

  it('open only when asked: allowFrom ["*"], no owner without ids', () => {
    const c = generateOpenClawConfig(sampleSpec('xai-open')) as J;
    expect(c.channels.telegram.dmPolicy).toBe('open');
    expect(c.channels.telegram.allowFrom).toEqual(['*']);
    expect(c.commands).toBeUndefined();
    const m = generateOpenClawConfig(sampleSpec('anthropic-open-multi')) as J;
    expect(m.channels.telegram.allowFrom).toEqual(['*']);
    expect(m.commands.ownerAllowFrom).toEqual(['telegram:5551234567', 'telegram:7778889990']);
  });

  it('search provider per model provider: OpenAI/Anthropic use the native search (provider unset)', () => {
    expect((generateOpenClawConfig(sampleSpec('openai-allowlist')) as J).tools.web.search).toEqual({
      enabled: true,
    });
    expect((generateOpenClawConfig(sampleSpec('anthropic-allowlist-minimal')) as J).tools.web.search).toEqual(
      {
        enabled: true,
      },
    );
  });

  it('browser executable per distro; headless on the minimal profile', () => {
    expect(
      (generateOpenClawConfig(sampleSpec('xai-allowlist'), { distro: 'debian' }) as J).browser.executablePath,
    ).toBe(BROWSER_EXECUTABLE.debian);
    expect((generateOpenClawConfig(sampleSpec('anthropic-allowlist-minimal')) as J).browser.headless).toBe(
      true,
    );
  });
});

describe('exec approvals and SOUL.md', () => {
  it('full autonomy in the version-1 document approvals set accepts', () => {
    const d = generateExecApprovals() as J;
    expect(d.version).toBe(1);
    expect(d.defaults).toEqual({ security: 'full', ask: 'off', askFallback: 'full', autoAllowSkills: true });
    expect(d.agents.main.security).toBe('full');
    expect(execApprovalsProblems(d)).toEqual([]);
  });
  it('our own check catches values approvals set would silently drop', () => {
    expect(execApprovalsProblems({ version: 1, defaults: { security: 'yolo' } })).toEqual([
      'defaults.security: "yolo" is not one of deny, allowlist, full',
    ]);
    expect(execApprovalsProblems({ version: 2, defaults: {} })).toContain('version must be 1');
  });
  it('SOUL.md names the claw and keeps the boundaries', () => {
    const soul = defaultSoul({ claw: 'alice' });
    expect(soul).toMatch(/\*\*alice\*\*/);
    expect(soul).toMatch(/Never reveal credentials/);
  });
});
