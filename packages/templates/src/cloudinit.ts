/**
 * Rendering the two cloud-init documents and the per-claw files.
 *   slim: per-claw files only (the image already has /opt/claw and an enabled claw-boot.service);
 *   full: the builder / scratch install (payload + pinned install.sh run), optionally with a claw's files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ClawSpec,
  SpecError,
  clawEnvFile,
  validateSpec,
  Profile,
  formatEnv,
  isLinuxUserName,
  parseVersion,
} from '@openclawps/config';
import { cloudInitDir, payloadDir } from './assets';
import { render } from './engine';
import { Distro, defaultSoul, generateExecApprovals, generateOpenClawConfig } from './openclaw';

/** Azure's custom-data limit (bytes of the decoded document). */
export const CUSTOM_DATA_LIMIT = 65535;

/** Pinned versions the full install uses (install.sh reads them from the environment and /opt/claw/versions.env). */
export const PINNED = {
  openclaw: '2026.9.6',
  claudeCode: '2.1.332',
  node: '24.21.0',
} as const;

export interface ClawFile {
  path: string;
  permissions: string;
  content: string;
}

/** The files a claw VM gets under /etc/claw (guest contract). */
export function clawFiles(spec: ClawSpec, opts: { distro?: Distro; soul?: string } = {}): ClawFile[] {
  const claw = {
    claw: spec.claw,
    adminUser: spec.azure.adminUser,
    vncExposure: spec.access.vncExposure,
    profile: spec.profile,
  };
  return [
    { path: '/etc/claw/claw.env', permissions: '0600', content: clawEnvFile(spec) },
    { path: '/etc/claw/claw.json', permissions: '0644', content: `${JSON.stringify(claw, null, 2)}\n` },
    {
      path: '/etc/claw/seed/openclaw.json',
      permissions: '0600',
      content: `${JSON.stringify(generateOpenClawConfig(spec, { distro: opts.distro }), null, 2)}\n`,
    },
    {
      path: '/etc/claw/seed/exec-approvals.json',
      permissions: '0644',
      content: `${JSON.stringify(generateExecApprovals(), null, 2)}\n`,
    },
    { path: '/etc/claw/seed/SOUL.md', permissions: '0644', content: opts.soul ?? defaultSoul(spec) },
  ];
}

function assertValid(spec: ClawSpec): void {
  const problems = validateSpec(spec);
  if (problems.length) throw new SpecError(problems);
}

function template(name: string): string {
  return fs.readFileSync(path.resolve(cloudInitDir(), name), 'utf8');
}

export class CustomDataTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly largest: Array<{ path: string; bytes: number }>,
    which: string,
  ) {
    super(
      `${which} cloud-init is ${bytes} bytes; Azure custom data is limited to ${CUSTOM_DATA_LIMIT} bytes. ` +
        `Largest parts: ${largest.map((l) => `${l.path} (${l.bytes} B)`).join(', ')}. ` +
        'Move large files out of the payload or shrink them.',
    );
    this.name = 'CustomDataTooLargeError';
  }
}

function checkSize(text: string, parts: Array<{ path: string; bytes: number }>, which: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > CUSTOM_DATA_LIMIT)
    throw new CustomDataTooLargeError(bytes, [...parts].sort((a, b) => b.bytes - a.bytes).slice(0, 5), which);
}

export interface SlimExtras {
  distro?: Distro;
  /** A SOUL.md to seed instead of the default. */
  soul?: string;
}

/** Per-claw custom data: /etc/claw/claw.env (0600), claw.json, seed/{openclaw.json, exec-approvals.json, SOUL.md}. */
export function renderSlimCloudInit(spec: ClawSpec, extras: SlimExtras = {}): string {
  assertValid(spec);
  const files = clawFiles(spec, extras);
  const by = (p: string) => files.find((f) => f.path === p)!.content;
  const out = render(
    template('cloud-init-slim.yaml.hbs'),
    {
      files: {
        clawEnv: by('/etc/claw/claw.env'),
        clawJson: by('/etc/claw/claw.json'),
        openclawJson: by('/etc/claw/seed/openclaw.json'),
        execApprovals: by('/etc/claw/seed/exec-approvals.json'),
        soul: by('/etc/claw/seed/SOUL.md'),
      },
    },
    'cloud-init-slim.yaml.hbs',
  );
  checkSize(
    out,
    files.map((f) => ({ path: f.path, bytes: Buffer.byteLength(f.content) })),
    'slim',
  );
  return out;
}

export interface PayloadFile {
  /** Absolute path on the guest, e.g. /opt/claw/boot.sh. */
  path: string;
  permissions: string;
  bytes: number;
  content: Buffer;
}

/** Reads cloud-init/claw at render time (another engineer may be changing it): every file, with its mode. */
export function readPayload(dir: string = payloadDir(), prefix = '/opt/claw'): PayloadFile[] {
  const out: PayloadFile[] = [];
  const walk = (rel: string) => {
    const abs = path.resolve(dir, rel);
    for (const ent of fs
      .readdirSync(abs, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      // .keep files are delivered too: they make cloud-init create otherwise empty directories.
      if (ent.name === '.DS_Store') continue;
      if (ent.isDirectory()) walk(r);
      else if (ent.isFile()) {
        const content = fs.readFileSync(path.resolve(dir, r));
        const st = fs.statSync(path.resolve(dir, r));
        const exec = (st.mode & 0o111) !== 0 || content.subarray(0, 2).toString() === '#!';
        out.push({
          path: `${prefix}/${r}`,
          permissions: exec ? '0755' : '0644',
          bytes: content.length,
          content,
        });
      }
    }
  };
  walk('');
  return out;
}

export interface FullOptions {
  profile?: Profile;
  adminUser?: string;
  /** A scratch claw: also deliver its /etc/claw files and start claw-boot after the install. */
  spec?: ClawSpec;
  distro?: Distro;
  versions?: Partial<{ openclaw: string; claudeCode: string; node: string }>;
  /** The image version being baked (install.sh writes it to /opt/claw/image.json). */
  imageVersion?: string;
  /** Override the payload directory (tests). */
  payloadDir?: string;
  /** Files added to the payload, e.g. a team's own migrations (/opt/claw/updates/NNN-name.sh). */
  extraPayload?: PayloadFile[];
}

function isSpec(x: unknown): x is ClawSpec {
  return !!x && typeof x === 'object' && 'claw' in x && 'secrets' in x && 'azure' in x;
}

const VERSION_TEXT = /^[0-9A-Za-z][0-9A-Za-z.+-]*$/;

/** The builder / scratch install (from stock Ubuntu 24.04): payload as gz+b64, then install.sh --profile. */
export function renderFullCloudInit(specOrOptions: ClawSpec | FullOptions = {}): string {
  const opts: FullOptions = isSpec(specOrOptions) ? { spec: specOrOptions } : specOrOptions;
  const spec = opts.spec;
  if (spec) assertValid(spec);
  const profile: Profile = opts.profile ?? spec?.profile ?? 'desktop';
  if (profile !== 'desktop' && profile !== 'minimal')
    throw new Error(`profile must be desktop or minimal, got ${profile}`);
  const adminUser = opts.adminUser ?? spec?.azure.adminUser ?? 'azureuser';
  if (!isLinuxUserName(adminUser)) throw new Error(`invalid admin user ${JSON.stringify(adminUser)}`);
  const versions = { ...PINNED, ...opts.versions };
  for (const [k, v] of Object.entries(versions))
    if (!VERSION_TEXT.test(v)) throw new Error(`versions.${k}: ${JSON.stringify(v)} is not a pinned version`);

  const byPath = new Map(readPayload(opts.payloadDir).map((f) => [f.path, f]));
  for (const f of opts.extraPayload ?? []) {
    if (!/^\/opt\/claw\/[A-Za-z0-9._/-]+$/.test(f.path) || f.path.split('/').includes('..'))
      throw new Error(`extra payload path ${JSON.stringify(f.path)} must be a plain path under /opt/claw/`);
    if (!/^0[0-7]{3}$/.test(f.permissions))
      throw new Error(`extra payload ${f.path}: bad permissions ${f.permissions}`);
    byPath.set(f.path, f);
  }
  const payload = [...byPath.values()].map((f) => ({
    path: f.path,
    permissions: f.permissions,
    gz: gzipSync(f.content, { level: 9 }),
    bytes: f.bytes,
  }));
  if (opts.imageVersion !== undefined) parseVersion(opts.imageVersion);
  const installEnv: Array<[string, string]> = [
    ['OPENCLAW_VERSION', versions.openclaw],
    ['CLAUDE_CODE_VERSION', versions.claudeCode],
    ['NODE_VERSION', versions.node],
    ['CLAW_ADMIN_USER', adminUser],
    ['CLAW_PROFILE', profile],
  ];
  const args = ['--profile', profile];
  if (opts.imageVersion !== undefined) {
    installEnv.push(['CLAW_IMAGE_VERSION', opts.imageVersion]);
    args.push('--image-version', opts.imageVersion);
  }
  // a scratch claw starts claw-boot.service at the end of the install; a builder (bake) does not
  if (spec) args.push('--start');
  const claw = spec ? clawFiles(spec, { distro: opts.distro }) : [];
  const out = render(
    template('cloud-init.yaml.hbs'),
    {
      payload,
      versionsEnv: formatEnv(installEnv, 'pinned versions for /opt/claw/install.sh (written by openclawps)'),
      clawFiles: claw.map((c) => ({ ...c, gz: gzipSync(Buffer.from(c.content, 'utf8'), { level: 9 }) })),
      install: { env: installEnv.map(([k, v]) => `${k}=${v}`), args },
    },
    'cloud-init.yaml.hbs',
  );
  checkSize(
    out,
    [
      ...payload.map((p) => ({ path: p.path, bytes: Math.ceil((p.gz.length * 4) / 3) })),
      ...claw.map((c) => ({ path: c.path, bytes: Math.ceil((Buffer.byteLength(c.content) * 4) / 3) })),
    ],
    'full',
  );
  return out;
}

export interface RenderedClawFiles {
  files: {
    'cloud-init.yaml': string;
    'cloud-init-slim.yaml': string;
    'openclaw.json': string;
    'exec-approvals.json': string;
  };
}

/** What `openclawps render --env FILE --out DIR` writes. Throws SpecError with every problem before rendering. */
export function renderClawFiles(spec: ClawSpec, opts: { distro?: Distro } = {}): RenderedClawFiles {
  assertValid(spec);
  return {
    files: {
      'cloud-init.yaml': renderFullCloudInit({ spec, distro: opts.distro }),
      'cloud-init-slim.yaml': renderSlimCloudInit(spec, { distro: opts.distro }),
      'openclaw.json': `${JSON.stringify(generateOpenClawConfig(spec, opts), null, 2)}\n`,
      'exec-approvals.json': `${JSON.stringify(generateExecApprovals(), null, 2)}\n`,
    },
  };
}
