/**
 * Bad-input corpus (>= 40 cases), run through the action bundles with INPUT_* env against the emulator:
 * each fails before the first Azure write (the emulator saw no write/delete/action) with a message naming
 * the field.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assert, group, test } from './lib/runner';
import { azureInputs, clawEnv, distDir, envText, runAction, startWorld, type World } from './lib/world';

let w: World;

interface Case {
  name: string;
  action: 'stamp' | 'upgrade' | 'bake' | 'verify';
  /** Input overrides ('' removes the input). */
  inputs?: Record<string, string>;
  /** .env variable overrides for stamp ('' removes the variable). */
  env?: Record<string, string>;
  /** Raw text appended to the .env. */
  envAppend?: string;
  /** What the message must name. */
  field: RegExp;
}

const V = (name: string, field: RegExp, action: Case['action'], key: string, value: string): Case => ({
  name,
  action,
  inputs: { [key]: value },
  field,
});
const BAD_VERSIONS = ['v1.2.3', '1.2', '1.2.3-rc1', '4294967296.0.0'];
const LONG = 'a'.repeat(80);

export const CASES: Case[] = [
  // malformed .env lines
  {
    name: '.env line without =',
    action: 'stamp',
    envAppend: 'THIS IS NOT AN ENV LINE',
    field: /\.env:\d+|line \d+/,
  },
  {
    name: '.env unterminated quote',
    action: 'stamp',
    envAppend: "OPENAI_API_KEY='sk-abc",
    field: /OPENAI_API_KEY|line \d+/,
  },
  { name: '.env key starting with a digit', action: 'stamp', envAppend: '1BAD=x', field: /1BAD|line \d+/ },
  {
    name: '.env command substitution as a line',
    action: 'stamp',
    envAppend: '$(touch /tmp/pwned)',
    field: /\.env:\d+|line \d+/,
  },
  {
    name: '.env typo of a known variable',
    action: 'stamp',
    envAppend: 'TELEGRAM_BOT_TOKN=1',
    field: /TELEGRAM_BOT_TOKN/,
  },
  // placeholders
  {
    name: 'placeholder API key (your-..-here)',
    action: 'stamp',
    env: { XAI_API_KEY: 'your-xai-key-here' },
    field: /XAI_API_KEY/,
  },
  {
    name: 'placeholder bot token (<...>)',
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '<your-bot-token>' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  {
    name: 'placeholder API key (changeme)',
    action: 'stamp',
    env: { XAI_API_KEY: 'changeme' },
    field: /XAI_API_KEY/,
  },
  {
    name: 'placeholder user id 123456789',
    action: 'stamp',
    env: { TELEGRAM_USER_ID: '123456789' },
    field: /TELEGRAM_USER_ID/,
  },
  {
    name: "template's sample bot token",
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '123456789:ABCdefGHIjklMNOpqrSTUvwxYZ' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  // wrong token formats
  {
    name: 'bot token without colon',
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '7012345678AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  {
    name: 'bot token too short',
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '12:ab' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  {
    name: 'user id not numeric',
    action: 'stamp',
    env: { TELEGRAM_USER_ID: 'alice' },
    field: /TELEGRAM_USER_ID/,
  },
  {
    name: 'bot token with a space inside',
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '7012345678:AAHk3nQv9xZr2 LmWp8TcYbFd6JsGe1UoRiA' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  // missing provider keys
  {
    name: 'anthropic model without its key',
    action: 'stamp',
    env: { OPENCLAW_MODEL: 'anthropic/claude-sonnet-4-5', XAI_API_KEY: '' },
    field: /ANTHROPIC_API_KEY/,
  },
  {
    name: 'openai model without its key',
    action: 'stamp',
    env: { OPENCLAW_MODEL: 'openai/gpt-5', XAI_API_KEY: '' },
    field: /OPENAI_API_KEY/,
  },
  {
    name: 'unknown model provider',
    action: 'stamp',
    env: { OPENCLAW_MODEL: 'acme/rocket-1' },
    field: /OPENCLAW_MODEL/,
  },
  {
    name: 'missing bot token',
    action: 'stamp',
    env: { TELEGRAM_BOT_TOKEN: '' },
    field: /TELEGRAM_BOT_TOKEN/,
  },
  { name: 'missing env input', action: 'stamp', inputs: { env: '' }, field: /env/ },
  // injection attempts in every field
  V('claw-name with ; rm', /claw-name|CLAW_NAME/, 'stamp', 'claw-name', 'alice; rm -rf /'),
  V('claw-name with $(id)', /claw-name|CLAW_NAME/, 'stamp', 'claw-name', '$(id)'),
  V('resource-group with $(id)', /resource-group|RESOURCE_GROUP/, 'stamp', 'resource-group', 'rg$(id)'),
  V('location with a newline', /location|LOCATION/, 'stamp', 'location', 'eastus\nwestus'),
  V('vm-size with &&', /vm-size|VM_SIZE/, 'stamp', 'vm-size', 'Standard_D2s_v3 && id'),
  V('admin-user with ;', /admin-user|ADMIN_USER/, 'stamp', 'admin-user', 'adm;in'),
  V('gallery with ../', /gallery|GALLERY_NAME/, 'stamp', 'gallery', 'gal/../x'),
  V('image-definition with $()', /image-definition|IMAGE_DEFINITION/, 'stamp', 'image-definition', 'def$(x)'),
  V(
    'ssh-source-cidrs with ;',
    /ssh-source-cidrs|SSH_SOURCE_CIDRS/,
    'stamp',
    'ssh-source-cidrs',
    '10.0.0.0/8; id',
  ),
  V('vnc-exposure with ;', /vnc-exposure|VNC_EXPOSURE/, 'stamp', 'vnc-exposure', 'public; id'),
  V(
    'data-disk-size-gb with ;',
    /data-disk-size-gb|DATA_DISK_SIZE_GB/,
    'stamp',
    'data-disk-size-gb',
    '64; id',
  ),
  V('data-disk-sku with $()', /data-disk-sku|DATA_DISK_SKU/, 'stamp', 'data-disk-sku', 'Premium_LRS$(id)'),
  V('fleet with a quote and /', /fleet|FLEET/, 'stamp', 'fleet', "prod'/x"),
  {
    name: 'TELEGRAM_USER_ID with ;',
    action: 'stamp',
    env: { TELEGRAM_USER_ID: '5551234567;id' },
    field: /TELEGRAM_USER_ID/,
  },
  {
    name: 'OPENCLAW_MODEL with $()',
    action: 'stamp',
    env: { OPENCLAW_MODEL: 'xai/grok$(id)' },
    field: /OPENCLAW_MODEL/,
  },
  V('upgrade claw-name with backticks', /claw-name|CLAW_NAME/, 'upgrade', 'claw-name', 'a`id`'),
  V(
    'upgrade resource-group with space',
    /resource-group|RESOURCE_GROUP/,
    'upgrade',
    'resource-group',
    'rg x',
  ),
  V('verify host with ;', /host/, 'verify', 'host', '127.0.0.1; id'),
  // bad versions
  ...BAD_VERSIONS.map((v) =>
    V(`stamp image-version ${v}`, /image-version|IMAGE_VERSION/, 'stamp', 'image-version', v),
  ),
  ...BAD_VERSIONS.map((v) => V(`bake version ${v}`, /version/, 'bake', 'version', v)),
  ...BAD_VERSIONS.map((v) => V(`upgrade image-version ${v}`, /image-version/, 'upgrade', 'image-version', v)),
  // names too long
  V('claw-name of 80 characters', /claw-name|CLAW_NAME/, 'stamp', 'claw-name', LONG),
  V(
    'resource-group of 100 characters',
    /resource-group|RESOURCE_GROUP/,
    'stamp',
    'resource-group',
    'r'.repeat(100),
  ),
  V('upgrade claw-name of 80 characters', /claw-name|CLAW_NAME/, 'upgrade', 'claw-name', LONG),
  // unknown / out-of-range inputs
  V('source windows', /source/, 'stamp', 'source', 'windows'),
  V('auth password', /auth/, 'stamp', 'auth', 'password'),
  V('ssh-port 0', /ssh-port/, 'stamp', 'ssh-port', '0'),
  V('ssh-port abc', /ssh-port/, 'stamp', 'ssh-port', 'abc'),
  V('verify-timeout-seconds -5', /verify-timeout-seconds/, 'stamp', 'verify-timeout-seconds', '-5'),
  V('bake profile huge', /profile/, 'bake', 'profile', 'huge'),
  V('upgrade snapshot-retention x', /snapshot-retention/, 'upgrade', 'snapshot-retention', 'x'),
  V('dry-run maybe', /dry-run/, 'stamp', 'dry-run', 'maybe'),
];

function baseInputs(action: Case['action']): Record<string, string> {
  const azure = azureInputs(w);
  switch (action) {
    case 'stamp':
      return {
        ...azure,
        'claw-name': 'bad-input',
        'resource-group': 'rg-rel',
        env: envText(clawEnv('bad-input')),
      };
    case 'upgrade':
      return {
        ...azure,
        'claw-name': 'bad-input',
        'resource-group': 'rg-rel',
        'image-version': '1.1.0',
        'ssh-private-key': w.key.privateKey,
      };
    case 'bake':
      return { ...azure, version: '3.0.0', 'resource-group': 'rg-rel', location: 'eastus' };
    case 'verify': {
      const { 'ssh-port': port, ...rest } = azure;
      return {
        ...rest,
        port,
        host: '127.0.0.1',
        'ssh-private-key': w.key.privateKey,
        'timeout-seconds': '10',
      };
    }
  }
}

group(`bad-input corpus (${CASES.length} cases through the action bundles)`, (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
  });
  g.teardown(async () => w?.close());
  if (!existsSync(join(distDir(), 'lib/index.js')))
    g.skip(`no built bundles in ${distDir()} (npm run build)`);
  for (const c of CASES) {
    test(c.name, async () => {
      const inputs = { ...baseInputs(c.action), ...(c.inputs ?? {}) };
      if (c.action === 'stamp' && (c.env || c.envAppend) && inputs.env) {
        const vars = clawEnv('bad-input', {});
        for (const [k, v] of Object.entries(c.env ?? {})) {
          if (v === '') delete vars[k];
          else vars[k] = v;
        }
        inputs.env = envText(vars) + (c.envAppend ? `${c.envAppend}\n` : '');
      }
      for (const [k, v] of Object.entries(inputs)) if (v === '') delete inputs[k];
      const n = w.emu.requests.length;
      const run = await runAction(c.action, inputs, w);
      const text = `${run.stdout}\n${run.stderr}`;
      const mutations = w.emu.requests.slice(n).filter((r) => r.kind !== 'read');
      assert(run.code !== 0, `exit code ${run.code} (must fail): ${text.slice(-300)}`);
      assert(
        mutations.length === 0,
        `Azure writes before failing: ${mutations.map((m) => `${m.method} ${m.path}`).join(', ')}`,
      );
      const errorLines = text
        .split('\n')
        .filter((l) => /error|problem|invalid|must|not /i.test(l))
        .join('\n');
      assert(
        c.field.test(errorLines),
        `message names the field ${c.field}: ${errorLines.slice(-500) || text.slice(-500)}`,
      );
    });
  }
});
