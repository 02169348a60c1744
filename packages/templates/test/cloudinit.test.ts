import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';
import { SpecError, parseEnv, secretValues, specFromEnv } from '@openclawps/config';
import {
  CUSTOM_DATA_LIMIT,
  CustomDataTooLargeError,
  PINNED,
  execApprovalsProblems,
  findAssetRoot,
  generateExecApprovals,
  generateOpenClawConfig,
  readPayload,
  renderClawFiles,
  renderFullCloudInit,
  renderSlimCloudInit,
} from '@openclawps/templates';
import { describeWhen, missing } from '../../../test/helpers/skip';
import { SAMPLE_ENVS, sampleSpec } from './fixtures/specs';
import { ADVERSARIAL } from './fixtures/adversarial';

const TOP_LEVEL_ALLOWED = new Set(['manage_etc_hosts', 'write_files', 'runcmd']);

interface WriteFile {
  path: string;
  permissions: string;
  owner?: string;
  encoding?: string;
  content: string;
}

function decode(f: WriteFile): string {
  const raw = Buffer.from(f.content, 'base64');
  if (f.encoding === 'gz+b64') return gunzipSync(raw).toString('utf8');
  if (f.encoding === 'b64') return raw.toString('utf8');
  return f.content;
}

function files(doc: string): Map<string, WriteFile & { text: string }> {
  const parsed = YAML.parse(doc) as { write_files: WriteFile[] };
  return new Map(parsed.write_files.map((f) => [f.path, { ...f, text: decode(f) }]));
}

describe('slim cloud-init', () => {
  const spec = sampleSpec('xai-allowlist');
  const doc = renderSlimCloudInit(spec);

  it('starts with #cloud-config and uses only allowed top-level keys', () => {
    expect(doc.startsWith('#cloud-config\n')).toBe(true);
    for (const k of Object.keys(YAML.parse(doc))) expect(TOP_LEVEL_ALLOWED).toContain(k);
    // the VM's own name resolves (sudo warns on every call otherwise: no Azure DNS in every network)
    expect(YAML.parse(doc).manage_etc_hosts).toBe(true);
  });

  it('delivers exactly the guest-contract files with the right modes', () => {
    const f = files(doc);
    expect([...f.keys()]).toEqual([
      '/etc/claw/claw.env',
      '/etc/claw/claw.json',
      '/etc/claw/seed/openclaw.json',
      '/etc/claw/seed/exec-approvals.json',
      '/etc/claw/seed/SOUL.md',
    ]);
    expect(f.get('/etc/claw/claw.env')!.permissions).toBe('0600');
    expect(f.get('/etc/claw/claw.json')!.permissions).toBe('0644');
    expect(JSON.parse(f.get('/etc/claw/claw.json')!.text)).toEqual({
      claw: 'alice',
      adminUser: 'azureuser',
      vncExposure: 'localhost',
      profile: 'desktop',
    });
    const env = parseEnv(f.get('/etc/claw/claw.env')!.text);
    expect(env.problems).toEqual([]);
    expect(env.values.TELEGRAM_BOT_TOKEN).toBe(SAMPLE_ENVS['xai-allowlist'].TELEGRAM_BOT_TOKEN);
    expect(env.values.XAI_API_KEY).toBe(SAMPLE_ENVS['xai-allowlist'].XAI_API_KEY);
    expect(JSON.parse(f.get('/etc/claw/seed/openclaw.json')!.text)).toEqual(generateOpenClawConfig(spec));
    expect(JSON.parse(f.get('/etc/claw/seed/exec-approvals.json')!.text)).toEqual(generateExecApprovals());
    expect(f.get('/etc/claw/seed/SOUL.md')!.text).toMatch(/^# SOUL/);
  });

  it('installs nothing and only (re)starts claw-boot.service', () => {
    expect(YAML.parse(doc).runcmd).toEqual([['systemctl', 'start', '--no-block', 'claw-boot.service']]);
    expect(doc).not.toMatch(/packages:|apt|npm|curl/);
  });

  it('is far below the 64 KB custom-data limit', () => {
    expect(Buffer.byteLength(doc)).toBeLessThan(CUSTOM_DATA_LIMIT / 4);
  });

  it('holds no secret in clear text (everything file-shaped is base64)', () => {
    for (const s of secretValues(spec)) expect(doc).not.toContain(s);
  });

  it('throws SpecError with every problem for an invalid spec, before rendering', () => {
    const { spec: bad } = specFromEnv({ CLAW_NAME: 'Bad Name', TELEGRAM_BOT_TOKEN: 'x' });
    expect(() => renderSlimCloudInit(bad)).toThrow(SpecError);
    try {
      renderClawFiles(bad);
    } catch (e) {
      expect((e as SpecError).problems.map((p) => p.variable)).toEqual(
        expect.arrayContaining(['CLAW_NAME', 'TELEGRAM_BOT_TOKEN', 'XAI_API_KEY', 'TELEGRAM_USER_ID']),
      );
    }
  });
});

describe('adversarial values survive the whole pipeline', () => {
  const singleLine = ADVERSARIAL.filter(
    // eslint-disable-next-line no-control-regex
    (v) => !/[\r\n\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(v) && v !== '',
  );
  it.each(singleLine.map((v) => [v]))('%j in an extra variable and in SOUL.md', (v) => {
    const spec = sampleSpec('xai-allowlist', { NOTE: v });
    const soul = `# SOUL\n${v}\n{{yaml x}}\n`;
    const doc = renderSlimCloudInit(spec, { soul });
    const f = files(doc);
    expect(Object.keys(YAML.parse(doc))).toEqual(['manage_etc_hosts', 'write_files', 'runcmd']);
    expect(f.size).toBe(5);
    expect(parseEnv(f.get('/etc/claw/claw.env')!.text).values.NOTE).toBe(v);
    expect(f.get('/etc/claw/seed/SOUL.md')!.text).toBe(soul);
  });
});

describe('full cloud-init (builder / scratch)', () => {
  it('delivers every payload file gz+b64 under /opt/claw with its mode, then runs install.sh pinned', () => {
    const doc = renderFullCloudInit({ profile: 'minimal' });
    const parsed = YAML.parse(doc);
    for (const k of Object.keys(parsed)) expect(TOP_LEVEL_ALLOWED).toContain(k);
    const f = files(doc);
    const payload = readPayload();
    expect(payload.length).toBeGreaterThan(0);
    for (const p of payload) {
      const got = f.get(p.path);
      expect(got).toBeDefined();
      expect(got!.encoding).toBe('gz+b64');
      expect(got!.permissions).toBe(p.permissions);
      expect(got!.text).toBe(p.content.toString('utf8'));
    }
    expect(f.get('/opt/claw/boot.sh')?.permissions).toBe('0755');
    const versions = parseEnv(f.get('/opt/claw/versions.env')!.text).values;
    expect(versions).toMatchObject({
      OPENCLAW_VERSION: '2026.9.6',
      NODE_VERSION: PINNED.node,
      CLAUDE_CODE_VERSION: PINNED.claudeCode,
    });
    expect(PINNED.node).toMatch(/^24\./);
    expect(parsed.runcmd).toEqual([
      [
        'env',
        'OPENCLAW_VERSION=2026.9.6',
        `CLAUDE_CODE_VERSION=${PINNED.claudeCode}`,
        `NODE_VERSION=${PINNED.node}`,
        'CLAW_ADMIN_USER=azureuser',
        'CLAW_PROFILE=minimal',
        '/opt/claw/install.sh',
        '--profile',
        'minimal',
      ],
    ]);
    // a builder carries no per-claw files and no secrets
    expect([...f.keys()].some((p) => p.startsWith('/etc/claw/'))).toBe(false);
    expect(doc).not.toMatch(/curl[^\n]*\|\s*(ba)?sh/);
    expect(Buffer.byteLength(doc)).toBeLessThanOrEqual(CUSTOM_DATA_LIMIT);
  });

  it('a scratch claw also gets its /etc/claw files and starts claw-boot after the install', () => {
    const spec = sampleSpec('anthropic-allowlist-minimal');
    const doc = renderFullCloudInit(spec);
    const f = files(doc);
    expect(f.get('/etc/claw/claw.env')?.permissions).toBe('0600');
    expect(f.get('/etc/claw/claw.env')?.encoding).toBe('gz+b64');
    expect(parseEnv(f.get('/etc/claw/claw.env')!.text).values.CLAW_NAME).toBe('alice');
    for (const sv of secretValues(spec)) expect(doc).not.toContain(sv);
    const run = YAML.parse(doc).runcmd;
    expect(run).toHaveLength(1);
    expect(run[0].slice(-3)).toEqual(['--profile', 'minimal', '--start']);
  });

  it('passes the image version being baked to install.sh', () => {
    const run = YAML.parse(renderFullCloudInit({ imageVersion: '1.2.3' })).runcmd[0];
    expect(run).toContain('CLAW_IMAGE_VERSION=1.2.3');
    expect(run.slice(-4)).toEqual(['--profile', 'desktop', '--image-version', '1.2.3']);
    expect(() => renderFullCloudInit({ imageVersion: 'v1.2.3' })).toThrow(/"v" prefix/);
  });

  it('the pins match the ones install.sh verifies', () => {
    const installSh = join(findAssetRoot(), 'cloud-init', 'claw', 'install.sh');
    if (!existsSync(installSh)) return;
    const text = readFileSync(installSh, 'utf8');
    const pin = (name: string) =>
      new RegExp(`^${name}="?\\$?\\{?[A-Z_]*:?-?([0-9][0-9A-Za-z.+-]*)`, 'm').exec(text)?.[1];
    expect(pin('OPENCLAW_VERSION')).toBe(PINNED.openclaw);
    expect(pin('CLAUDE_CODE_VERSION')).toBe(PINNED.claudeCode);
    expect(pin('NODE_VERSION')).toBe(PINNED.node);
  });

  it('adds extra payload files (fleet migrations) and rejects paths outside /opt/claw', () => {
    const content = Buffer.from('#!/usr/bin/env bash\necho extra\n');
    const extra = {
      path: '/opt/claw/updates/900-extra.sh',
      permissions: '0755',
      bytes: content.length,
      content,
    };
    const f = files(renderFullCloudInit({ extraPayload: [extra] }));
    expect(f.get('/opt/claw/updates/900-extra.sh')).toMatchObject({
      permissions: '0755',
      text: content.toString(),
    });
    expect(() => renderFullCloudInit({ extraPayload: [{ ...extra, path: '/etc/shadow' }] })).toThrow(
      /under \/opt\/claw/,
    );
    expect(() => renderFullCloudInit({ extraPayload: [{ ...extra, path: '/opt/claw/../etc/x' }] })).toThrow(
      /under/,
    );
  });

  it('rejects unpinned or odd versions', () => {
    expect(() => renderFullCloudInit({ versions: { openclaw: 'latest; rm -rf /' } })).toThrow(
      /not a pinned version/,
    );
  });

  it('fails clearly when the payload exceeds the 64 KB limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'payload-'));
    cpSync(join(findAssetRoot(), 'cloud-init', 'claw'), dir, { recursive: true });
    // incompressible data
    writeFileSync(join(dir, 'big.bin'), randomBytes(60000));
    let err: unknown;
    try {
      renderFullCloudInit({ payloadDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CustomDataTooLargeError);
    expect((err as Error).message).toMatch(/limited to 65535 bytes.*\/opt\/claw\/big\.bin/);
  });
});

describeWhen(missing({ commands: ['cloud-init'] }), 'cloud-init schema -c', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ci-schema-'));
  const docs: Array<[string, string]> = [
    ['slim-xai', renderSlimCloudInit(sampleSpec('xai-allowlist'))],
    ['slim-open', renderSlimCloudInit(sampleSpec('xai-open'))],
    [
      'slim-adversarial',
      renderSlimCloudInit(sampleSpec('xai-allowlist', { NOTE: ADVERSARIAL[9] + ADVERSARIAL[10] })),
    ],
    ['full-builder-desktop', renderFullCloudInit({ profile: 'desktop' })],
    ['full-builder-minimal', renderFullCloudInit({ profile: 'minimal' })],
    ['full-scratch', renderFullCloudInit(sampleSpec('openai-allowlist'))],
  ];
  it.each(docs)('%s is valid cloud-config', (name, doc) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, doc);
    const r = spawnSync('cloud-init', ['schema', '-c', file], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toMatch(/Valid cloud-config/);
    expect(r.status).toBe(0);
  });
  it('the schema check can fail (an invalid document is rejected)', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, '#cloud-config\nwrite_files: 5\nruncmd: {a: 1}\n');
    const r = spawnSync('cloud-init', ['schema', '-c', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});

describe('renderClawFiles (for `openclawps render`)', () => {
  it('returns the four files', () => {
    const r = renderClawFiles(sampleSpec('openai-allowlist'));
    expect(Object.keys(r.files).sort()).toEqual(
      ['cloud-init-slim.yaml', 'cloud-init.yaml', 'exec-approvals.json', 'openclaw.json'].sort(),
    );
    expect(JSON.parse(r.files['openclaw.json']).agents.defaults.model.primary).toBe('openai/gpt-5.5');
    expect(execApprovalsProblems(JSON.parse(r.files['exec-approvals.json']))).toEqual([]);
  });
});

describe('asset location', () => {
  it('finds the repository root from src and from a bundled dist/<name>/ directory', () => {
    const root = findAssetRoot();
    expect(findAssetRoot(join(root, 'packages', 'templates', 'src'))).toBe(root);
    const fakeDist = join(root, 'dist', 'somebundle');
    expect(findAssetRoot(fakeDist)).toBe(root);
  });
  it('fails with a clear message outside a checkout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'noassets-'));
    mkdirSync(join(dir, 'a'));
    expect(() => findAssetRoot(join(dir, 'a'))).toThrow(/cannot find cloud-init\/cloud-init.yaml.hbs/);
  });
  it('no static path.join(__dirname, literal) the ncc asset relocator would rewrite', () => {
    const dir = join(findAssetRoot(), 'packages', 'templates', 'src');
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text).not.toMatch(/path\.(join|resolve)\(\s*__dirname\s*,\s*['"`]/);
    }
  });
});
