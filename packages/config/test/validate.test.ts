import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULTS,
  SpecError,
  clawEnvEntries,
  clawEnvFile,
  createMemoryReporter,
  gatewayToken,
  isCidr,
  isClawName,
  isLinuxUserName,
  isResourceGroupName,
  loadSpec,
  parseEnv,
  readSpec,
  resolveDmPolicy,
  resourceNames,
  secretValues,
} from '@openclawps/config';
import { VALID_ENV, envText } from './helpers';

const read = (vars: Record<string, string | undefined>) => readSpec(envText(vars));
const withEnv = (patch: Record<string, string | undefined>) => read({ ...VALID_ENV, ...patch });

describe('a valid spec', () => {
  it('has no problems and gets the original defaults', () => {
    const { spec, problems } = read(VALID_ENV);
    expect(problems).toEqual([]);
    expect(spec.claw).toBe('alice');
    expect(spec.azure).toEqual({
      resourceGroup: 'rg-linux-desktop',
      location: 'eastus',
      vmSize: 'Standard_D2s_v3',
      adminUser: 'azureuser',
      dataDiskSizeGb: 32,
      dataDiskSku: 'Standard_LRS',
      gallery: 'clawGallery',
      imageDefinition: 'claw-base',
      imageVersion: undefined,
    });
    expect(spec.access.vncExposure).toBe('localhost');
    expect(spec.profile).toBe('desktop');
    expect(resolveDmPolicy(spec)).toEqual({ dmPolicy: 'allowlist', allowFrom: ['5551234567'] });
  });

  it('defaults the model to the original one', () => {
    const { spec } = withEnv({ OPENCLAW_MODEL: undefined });
    expect(spec.model).toBe(DEFAULTS.model);
  });

  it('accepts the original deploy.sh variable names as aliases', () => {
    const { spec, problems } = read({
      ...VALID_ENV,
      CLAW_NAME: undefined,
      VM_NAME: 'bob',
      RG: 'rg-x',
      DATA_DISK_SIZE: '64',
      IMAGE_NAME: '1.2.3',
      IMAGE_DEF: 'claw-desk',
    });
    expect(problems).toEqual([]);
    expect(spec.claw).toBe('bob');
    expect(spec.azure).toMatchObject({
      resourceGroup: 'rg-x',
      dataDiskSizeGb: 64,
      imageVersion: '1.2.3',
      imageDefinition: 'claw-desk',
    });
  });

  it('lets an override (CLI --claw) supply the name', () => {
    const spec = loadSpec(envText({ ...VALID_ENV, CLAW_NAME: undefined }), {
      overrides: { CLAW_NAME: 'carol' },
    });
    expect(spec.claw).toBe('carol');
    const aliased = loadSpec(envText({ ...VALID_ENV, CLAW_NAME: undefined, VM_NAME: 'bob' }), {
      overrides: { CLAW_NAME: 'carol' },
    });
    expect(aliased.claw).toBe('carol');
  });

  it('explicit open policy allows everyone', () => {
    const { spec, problems } = withEnv({ TELEGRAM_USER_ID: undefined, TELEGRAM_DM_POLICY: 'open' });
    expect(problems).toEqual([]);
    expect(resolveDmPolicy(spec)).toEqual({ dmPolicy: 'open', allowFrom: ['*'] });
  });

  it('public VNC with narrowed CIDRs is fine', () => {
    expect(withEnv({ VNC_EXPOSURE: 'public', SSH_SOURCE_CIDRS: '203.0.113.0/24' }).problems).toEqual([]);
  });

  it('several user ids', () => {
    const { spec, problems } = withEnv({ TELEGRAM_USER_ID: '5551234567, 7778889990' });
    expect(problems).toEqual([]);
    expect(resolveDmPolicy(spec).allowFrom).toEqual(['5551234567', '7778889990']);
  });

  it.each([
    ['openai/gpt-5.5', 'OPENAI_API_KEY', 'sk-proj-Zq3v9LrT0pWk2sYbN8cHdJf6gAeUm1Xo'],
    ['anthropic/claude-sonnet-5', 'ANTHROPIC_API_KEY', 'sk-ant-api03-Zq3v9LrT0pWk2sYbN8cHdJf6g'],
    ['anthropic/claude-sonnet-5', 'ANTHROPIC_OAUTH_TOKEN', 'sk-ant-oat01-Zq3v9LrT0pWk2sYbN8cHdJf6g'],
  ])('%s with %s is valid', (model, key, value) => {
    expect(
      read({ ...VALID_ENV, XAI_API_KEY: undefined, OPENCLAW_MODEL: model, [key]: value }).problems,
    ).toEqual([]);
  });
});

/** Every rule: a failing input, the variable it must name, and what the message says. */
const FAILING: Array<[string, Record<string, string | undefined>, string, RegExp]> = [
  ['claw name missing', { CLAW_NAME: undefined }, 'CLAW_NAME', /required/],
  ['claw name with bad characters', { CLAW_NAME: 'al ice!' }, 'CLAW_NAME', /not a valid Azure VM name/],
  ['claw name ending in a hyphen', { CLAW_NAME: 'alice-' }, 'CLAW_NAME', /not a valid Azure VM name/],
  ['claw name starting with _', { CLAW_NAME: '_alice' }, 'CLAW_NAME', /not a valid Azure VM name/],
  ['claw name with underscore (computer name)', { CLAW_NAME: 'al_ice' }, 'CLAW_NAME', /Linux computer name/],
  ['claw name upper case', { CLAW_NAME: 'Alice' }, 'CLAW_NAME', /Linux computer name/],
  ['claw name over 64', { CLAW_NAME: 'a'.repeat(65) }, 'CLAW_NAME', /at most 64/],
  ['claw name too long for snapshots', { CLAW_NAME: 'a'.repeat(61) }, 'CLAW_NAME', /exceed Azure's 80/],
  ['claw name all digits', { CLAW_NAME: '12345' }, 'CLAW_NAME', /entirely numeric/],
  ['VM_NAME conflicting with CLAW_NAME', { VM_NAME: 'bob' }, 'VM_NAME', /conflicts with CLAW_NAME/],
  ['model without provider', { OPENCLAW_MODEL: 'grok-4' }, 'OPENCLAW_MODEL', /not provider\/model/],
  ['unknown provider', { OPENCLAW_MODEL: 'bogus/model-1' }, 'OPENCLAW_MODEL', /unknown provider "bogus"/],
  ['xai model without XAI key', { XAI_API_KEY: undefined }, 'XAI_API_KEY', /xai provider/],
  ['openai model without key', { OPENCLAW_MODEL: 'openai/gpt-5.5' }, 'OPENAI_API_KEY', /openai provider/],
  [
    'anthropic model without key',
    { OPENCLAW_MODEL: 'anthropic/claude-opus-5' },
    'ANTHROPIC_API_KEY',
    /anthropic/,
  ],
  ['bot token missing', { TELEGRAM_BOT_TOKEN: undefined }, 'TELEGRAM_BOT_TOKEN', /required/],
  [
    'bot token malformed',
    { TELEGRAM_BOT_TOKEN: '7012345678-AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA' },
    'TELEGRAM_BOT_TOKEN',
    /does not look like a bot token/,
  ],
  [
    'bot token too short',
    { TELEGRAM_BOT_TOKEN: '7012345678:AAHk3n' },
    'TELEGRAM_BOT_TOKEN',
    /does not look like/,
  ],
  [
    'bot token sample value',
    { TELEGRAM_BOT_TOKEN: '123456789:ABCdefGHIjklMNOpqrsTUVwxyz0123456789' },
    'TELEGRAM_BOT_TOKEN',
    /placeholder/,
  ],
  [
    'bot token Telegram docs sample',
    { TELEGRAM_BOT_TOKEN: '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11' },
    'TELEGRAM_BOT_TOKEN',
    /placeholder/,
  ],
  [
    'bot token your-…-here',
    { TELEGRAM_BOT_TOKEN: 'your-telegram-bot-token-here' },
    'TELEGRAM_BOT_TOKEN',
    /placeholder/,
  ],
  ['xai key placeholder', { XAI_API_KEY: 'your-xai-api-key-here' }, 'XAI_API_KEY', /placeholder/],
  [
    'brightdata placeholder',
    { BRIGHTDATA_API_TOKEN: 'your-brightdata-token-here' },
    'BRIGHTDATA_API_TOKEN',
    /placeholder/,
  ],
  ['ellipsis placeholder', { XAI_API_KEY: 'xai-...' }, 'XAI_API_KEY', /placeholder/],
  ['angle-bracket placeholder', { TAILSCALE_AUTHKEY: '<tailscale-key>' }, 'TAILSCALE_AUTHKEY', /placeholder/],
  ['secret with whitespace', { XAI_API_KEY: 'xai-abc def' }, 'XAI_API_KEY', /whitespace/],
  [
    'user id not numeric',
    { TELEGRAM_USER_ID: '@alice' },
    'TELEGRAM_USER_ID',
    /not a numeric Telegram user id/,
  ],
  ['user id sample value', { TELEGRAM_USER_ID: '123456789' }, 'TELEGRAM_USER_ID', /sample value/],
  [
    'no user id and no explicit open',
    { TELEGRAM_USER_ID: undefined },
    'TELEGRAM_USER_ID',
    /anyone who finds the bot/,
  ],
  [
    'allowlist without user id',
    { TELEGRAM_USER_ID: undefined, TELEGRAM_DM_POLICY: 'allowlist' },
    'TELEGRAM_USER_ID',
    /required/,
  ],
  ['unknown DM policy', { TELEGRAM_DM_POLICY: 'whitelist' }, 'TELEGRAM_DM_POLICY', /not allowlist or open/],
  [
    'resource group bad chars',
    { RESOURCE_GROUP: 'rg/claws' },
    'RESOURCE_GROUP',
    /not a valid resource group/,
  ],
  [
    'resource group ending in .',
    { RESOURCE_GROUP: 'rg-claws.' },
    'RESOURCE_GROUP',
    /not a valid resource group/,
  ],
  [
    'resource group too long',
    { RESOURCE_GROUP: 'r'.repeat(91) },
    'RESOURCE_GROUP',
    /not a valid resource group/,
  ],
  ['location', { LOCATION: 'East US' }, 'LOCATION', /not an Azure region/],
  ['vm size', { VM_SIZE: 'D2s_v3' }, 'VM_SIZE', /not an Azure VM size/],
  ['admin user invalid', { ADMIN_USER: 'Azure User' }, 'ADMIN_USER', /not a valid Linux user name/],
  ['admin user reserved', { ADMIN_USER: 'admin' }, 'ADMIN_USER', /reserved/],
  ['disk size not a number', { DATA_DISK_SIZE_GB: '32GB' }, 'DATA_DISK_SIZE_GB', /whole number/],
  ['disk size too big', { DATA_DISK_SIZE_GB: '40000' }, 'DATA_DISK_SIZE_GB', /4 to 32767/],
  ['disk sku', { DATA_DISK_SKU: 'Standard_SSD' }, 'DATA_DISK_SKU', /not a disk SKU/],
  ['gallery with hyphen', { GALLERY_NAME: 'claw-gallery' }, 'GALLERY_NAME', /no hyphens/],
  ['image definition', { IMAGE_DEFINITION: '-claw' }, 'IMAGE_DEFINITION', /not a valid image definition/],
  ['image version v-prefix', { IMAGE_VERSION: 'v1.2.3' }, 'IMAGE_VERSION', /"v" prefix/],
  ['image version two parts', { IMAGE_VERSION: '1.2' }, 'IMAGE_VERSION', /MAJOR.MINOR.PATCH/],
  ['image version suffix', { IMAGE_VERSION: '1.2.3-rc1' }, 'IMAGE_VERSION', /suffix/],
  ['image version overflow', { IMAGE_VERSION: '4294967296.0.0' }, 'IMAGE_VERSION', /32-bit/],
  ['password too short', { VM_PASSWORD: 'Ab1!short' }, 'VM_PASSWORD', /12 to 123/],
  ['password too long', { VM_PASSWORD: 'Ab1!' + 'x'.repeat(120) }, 'VM_PASSWORD', /12 to 123/],
  ['password classes', { VM_PASSWORD: 'alllowercaseletters' }, 'VM_PASSWORD', /3 of/],
  ['password banned', { VM_PASSWORD: 'P@ssword123' }, 'VM_PASSWORD', /disallowed/],
  ['password contains user', { VM_PASSWORD: 'Xazureuser-1234' }, 'VM_PASSWORD', /admin user name/],
  ['vnc exposure', { VNC_EXPOSURE: 'internet' }, 'VNC_EXPOSURE', /not localhost or public/],
  ['vnc public on minimal', { VNC_EXPOSURE: 'public', PROFILE: 'minimal' }, 'VNC_EXPOSURE', /no desktop/],
  ['public VNC open to the internet', { VNC_EXPOSURE: 'public' }, 'VNC_EXPOSURE', /whole internet/],
  ['profile', { PROFILE: 'gpu' }, 'PROFILE', /not desktop or minimal/],
  ['cidr invalid', { SSH_SOURCE_CIDRS: '10.0.0.0/33' }, 'SSH_SOURCE_CIDRS', /not an IP address or CIDR/],
  ['cidr empty', { SSH_SOURCE_CIDRS: ' , ' }, 'SSH_SOURCE_CIDRS', /empty/],
  ['ssh key', { SSH_PUBLIC_KEY: 'not-a-key' }, 'SSH_PUBLIC_KEY', /OpenSSH public key/],
  ['gateway token short', { OPENCLAW_GATEWAY_TOKEN: 'short-token' }, 'OPENCLAW_GATEWAY_TOKEN', /at least 32/],
  ['fleet tag value', { FLEET: 'a/b' }, 'FLEET', /tag value/],
  [
    'typo of a known variable',
    { TELEGRAM_USERID: '5551234567' },
    'TELEGRAM_USERID',
    /did you mean TELEGRAM_USER_ID/,
  ],
];

describe('every rule has a failing input', () => {
  it.each(FAILING)('%s', (_name, patch, variable, re) => {
    const { problems } = withEnv(patch);
    const hit = problems.find((p) => p.variable === variable && re.test(p.message));
    if (!hit)
      throw new Error(
        `expected a ${variable} problem matching ${re}, got ${JSON.stringify(problems, null, 2)}`,
      );
    expect(hit.fix.length).toBeGreaterThan(3);
  });

  it('malformed lines are reported with file and line number', () => {
    const { problems } = readSpec(`${envText(VALID_ENV)}garbage line\n`, { file: 'alice.env' });
    expect(problems).toEqual([expect.objectContaining({ variable: 'alice.env:6', line: 6 })]);
  });
});

describe('all problems at once', () => {
  it('reports every problem of a bad file, and loadSpec throws SpecError carrying them', () => {
    const text = envText({
      CLAW_NAME: 'Bad_Name',
      OPENCLAW_MODEL: 'openai/gpt-5.5',
      TELEGRAM_BOT_TOKEN: 'nope',
      IMAGE_VERSION: 'v1',
      VM_PASSWORD: 'short',
    });
    const { problems } = readSpec(text);
    const vars = problems.map((p) => p.variable);
    for (const v of [
      'CLAW_NAME',
      'OPENAI_API_KEY',
      'TELEGRAM_BOT_TOKEN',
      'TELEGRAM_USER_ID',
      'IMAGE_VERSION',
      'VM_PASSWORD',
    ])
      expect(vars).toContain(v);
    let err: unknown;
    try {
      loadSpec(text, { file: 'bad.env' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    const se = err as SpecError;
    expect(se.problems).toEqual(problems);
    expect(se.message).toMatch(/^bad\.env: \d+ problems in the claw spec/);
    expect(se.message).toContain('IMAGE_VERSION');
  });

  it('the committed .env.template is rejected until filled in (placeholders and required values)', () => {
    const text = readFileSync(join(__dirname, '../../../.env.template'), 'utf8');
    expect(parseEnv(text).problems).toEqual([]);
    const vars = readSpec(text).problems.map((p) => `${p.variable}: ${p.message}`);
    expect(vars).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^CLAW_NAME: is required/),
        expect.stringMatching(/^XAI_API_KEY: still holds/),
        expect.stringMatching(/^TELEGRAM_BOT_TOKEN: still holds/),
        expect.stringMatching(/^TELEGRAM_USER_ID: 123456789 is the template's sample/),
      ]),
    );
  });

  it('error messages never contain secret values', () => {
    const secret = 'xai-Zq3v9LrT0pWk2sYbN8cHdJf6gAeUm1Xo';
    const { problems } = withEnv({
      XAI_API_KEY: `${secret} x`,
      TELEGRAM_BOT_TOKEN: 'abc:def-secretish-token-value',
    });
    const text = JSON.stringify(problems);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('secretish');
  });
});

describe('secrets', () => {
  it('secretValues lists every secret, including secret-looking extra variables', () => {
    const { spec } = withEnv({
      VM_PASSWORD: 'Str0ng!Passw0rd#',
      GITHUB_PAT: 'ghp_abcdefghijklmnop',
      NOTE: 'hello',
    });
    const values = secretValues(spec);
    expect(values).toEqual(
      expect.arrayContaining([
        VALID_ENV.XAI_API_KEY,
        VALID_ENV.TELEGRAM_BOT_TOKEN,
        'Str0ng!Passw0rd#',
        'ghp_abcdefghijklmnop',
      ]),
    );
    expect(values).toContain(gatewayToken(spec));
    expect(values).not.toContain('hello');
    expect(values).not.toContain('alice');
  });

  it('the claw .env carries secrets and extras, never the Azure password, and round-trips', () => {
    const { spec } = withEnv({ VM_PASSWORD: 'Str0ng!Passw0rd#', NOTE: "it's $(fine)" });
    const entries = Object.fromEntries(clawEnvEntries(spec));
    expect(entries.VM_PASSWORD).toBeUndefined();
    expect(entries.TELEGRAM_DM_POLICY).toBe('allowlist');
    expect(entries.OPENCLAW_GATEWAY_TOKEN).toMatch(/^[0-9a-f]{64}$/);
    expect(parseEnv(clawEnvFile(spec)).values).toEqual(entries);
    expect(parseEnv(clawEnvFile(spec)).values.NOTE).toBe("it's $(fine)");
  });

  it('the derived gateway token is deterministic, per claw, and rotates with the bot token', () => {
    const a = withEnv({}).spec;
    const b = withEnv({ CLAW_NAME: 'bob' }).spec;
    const c = withEnv({ TELEGRAM_BOT_TOKEN: '7012345678:BBHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA' }).spec;
    expect(gatewayToken(a)).toBe(gatewayToken(withEnv({}).spec));
    expect(gatewayToken(a)).not.toBe(gatewayToken(b));
    expect(gatewayToken(a)).not.toBe(gatewayToken(c));
    expect(gatewayToken(withEnv({ OPENCLAW_GATEWAY_TOKEN: 'g'.repeat(40) }).spec)).toBe('g'.repeat(40));
  });

  it('the memory reporter masks secrets', () => {
    const r = createMemoryReporter();
    r.setSecret('hunter2-secret');
    r.info('token is hunter2-secret!');
    r.startGroup?.('group hunter2-secret');
    r.warn('w');
    r.endGroup?.();
    expect(r.lines.join('\n')).not.toContain('hunter2-secret');
    expect(r.lines[0]).toBe('token is ***!');
  });
});

describe('helpers', () => {
  it('isCidr', () => {
    for (const ok of ['0.0.0.0/0', '203.0.113.7', '10.0.0.0/8', '2001:db8::/32', '::1'])
      expect(isCidr(ok)).toBe(true);
    for (const bad of ['256.0.0.0/8', '10.0.0/8', '10.0.0.0/33', 'any', '01.2.3.4', '2001:db8::/129'])
      expect(isCidr(bad)).toBe(false);
  });
  it('resourceNames', () => {
    const n = resourceNames('alice', 'rg');
    expect(n.nic).toBe('alice-nic');
    expect(n.osDisk('1.2.3')).toBe('alice-os-1-2-3');
    expect(n.snapshot(new Date('2026-12-01T20:15:09Z'))).toBe('alice-data-20261201201509');
    expect(n.nsg).toBe('rg-nsg');
  });
});

test('the name predicates the lifecycle inputs share', () => {
  for (const ok of ['rg-claws', 'RG_1.(x)', 'a'.repeat(90)]) expect(isResourceGroupName(ok)).toBe(true);
  for (const bad of ['', 'rg.', 'a'.repeat(91), 'rg claws', 'rg;x', 'grüne'])
    expect(isResourceGroupName(bad)).toBe(false);
  for (const ok of ['alice', 'claw-01', 'a', 'a'.repeat(60)]) expect(isClawName(ok)).toBe(true);
  for (const bad of ['', 'Alice', '-a', 'a-', 'a_b', 'a'.repeat(61)]) expect(isClawName(bad)).toBe(false);
  for (const ok of ['azureuser', '_svc', 'a'.repeat(32)]) expect(isLinuxUserName(ok)).toBe(true);
  for (const bad of ['', 'Root', '1user', 'a'.repeat(33), 'a b']) expect(isLinuxUserName(bad)).toBe(false);
});
