/**
 * The claw spec: everything one claw needs, built from its `.env` (parsed as data) plus defaults.
 * Building never throws; validateSpec() reports every problem at once.
 */
import { Problem } from './problems';

export type Profile = 'desktop' | 'minimal';
export type VncExposure = 'localhost' | 'public';
export type DmPolicy = 'allowlist' | 'open';

/** Secret variables a claw may carry (names as in `.env`). */
export const SECRET_VARIABLES = [
  'TELEGRAM_BOT_TOKEN',
  'XAI_API_KEY',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_OAUTH_TOKEN',
  'GEMINI_API_KEY',
  'MOONSHOT_API_KEY',
  'DEEPSEEK_API_KEY',
  'OPENROUTER_API_KEY',
  'MISTRAL_API_KEY',
  'BRIGHTDATA_API_TOKEN',
  'TAILSCALE_AUTHKEY',
  'OPENCLAW_GATEWAY_TOKEN',
  'VNC_PASSWORD',
  'VM_PASSWORD',
] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** Model provider -> the variables that can hold its credential (first is the usual one). */
export const PROVIDER_KEYS: Record<string, SecretVariable[]> = {
  xai: ['XAI_API_KEY'],
  openai: ['OPENAI_API_KEY'],
  anthropic: ['ANTHROPIC_API_KEY', 'ANTHROPIC_OAUTH_TOKEN'],
  google: ['GEMINI_API_KEY'],
  moonshot: ['MOONSHOT_API_KEY'],
  deepseek: ['DEEPSEEK_API_KEY'],
  openrouter: ['OPENROUTER_API_KEY'],
  mistral: ['MISTRAL_API_KEY'],
};

export const DEFAULTS = {
  model: 'xai/grok-4.20-0309-reasoning',
  resourceGroup: 'rg-linux-desktop',
  location: 'eastus',
  vmSize: 'Standard_D2s_v3',
  adminUser: 'azureuser',
  dataDiskSizeGb: 32,
  dataDiskSku: 'Standard_LRS',
  gallery: 'clawGallery',
  imageDefinition: 'claw-base',
  vncExposure: 'localhost' as VncExposure,
  sshSourceCidrs: ['0.0.0.0/0'],
  profile: 'desktop' as Profile,
  fleet: 'default',
} as const;

export interface AzureSettings {
  resourceGroup: string;
  location: string;
  vmSize: string;
  adminUser: string;
  dataDiskSizeGb: number;
  dataDiskSku: string;
  gallery: string;
  imageDefinition: string;
  /** undefined = the latest version in the gallery (numeric order). */
  imageVersion?: string;
}

export interface ClawSpec {
  /** The claw's name; also the VM name and the Linux computer name. Required, no default. */
  claw: string;
  /** `provider/model`, e.g. `xai/grok-4.20-0309-reasoning`. */
  model: string;
  profile: Profile;
  fleet: string;
  telegram: {
    /** Numeric Telegram user ids allowed to DM the bot (TELEGRAM_USER_ID, comma separated). */
    userIds: string[];
    /** TELEGRAM_DM_POLICY exactly as given (undefined when unset); see resolveDmPolicy(). */
    dmPolicy?: string;
  };
  /** Secret values by variable name; only non-empty ones are present. */
  secrets: Partial<Record<SecretVariable, string>>;
  azure: AzureSettings;
  access: {
    vncExposure: VncExposure;
    sshSourceCidrs: string[];
    sshPublicKey?: string;
  };
  /** Other variables from `.env` that are not settings: delivered to the claw's `.env` unchanged. */
  extraEnv: Record<string, string>;
}

/** Deployment settings read from `.env` (name, aliases from the original deploy.sh). */
export const SETTING_VARIABLES = {
  CLAW_NAME: ['VM_NAME'],
  OPENCLAW_MODEL: [],
  PROFILE: [],
  FLEET: [],
  TELEGRAM_USER_ID: [],
  TELEGRAM_DM_POLICY: [],
  RESOURCE_GROUP: ['RG'],
  LOCATION: [],
  VM_SIZE: [],
  ADMIN_USER: [],
  DATA_DISK_SIZE_GB: ['DATA_DISK_SIZE'],
  DATA_DISK_SKU: [],
  GALLERY_NAME: [],
  IMAGE_DEFINITION: ['IMAGE_DEF'],
  IMAGE_VERSION: ['IMAGE_NAME'],
  VNC_EXPOSURE: [],
  SSH_SOURCE_CIDRS: [],
  SSH_PUBLIC_KEY: [],
} as const satisfies Record<string, readonly string[]>;
export type SettingVariable = keyof typeof SETTING_VARIABLES;

/** Every variable name this package understands (settings, their aliases, secrets). */
export function knownVariables(): string[] {
  const out: string[] = [...SECRET_VARIABLES];
  for (const [k, aliases] of Object.entries(SETTING_VARIABLES)) out.push(k, ...aliases);
  return out;
}

export interface SpecFromEnvResult {
  spec: ClawSpec;
  /** Problems found while reading variables (alias conflicts); value problems come from validateSpec(). */
  problems: Problem[];
}

/** Builds a spec from parsed variables. `overrides` (e.g. a CLI `--claw`) win over the file. */
export function specFromEnv(
  vars: Record<string, string>,
  overrides: Record<string, string> = {},
): SpecFromEnvResult {
  const env: Record<string, string> = { ...vars, ...overrides };
  // an override (e.g. `--claw`) replaces the setting and its aliases from the file
  for (const [name, aliases] of Object.entries(SETTING_VARIABLES))
    if (overrides[name] !== undefined) for (const a of aliases) delete env[a];
  const problems: Problem[] = [];
  const used = new Set<string>();

  const setting = (name: SettingVariable): string | undefined => {
    const names = [name, ...SETTING_VARIABLES[name]];
    let chosen: { name: string; value: string } | undefined;
    for (const n of names) {
      used.add(n);
      const v = env[n];
      if (v === undefined || v === '') continue;
      if (chosen && chosen.value !== v) {
        problems.push({
          variable: n,
          message: `${n} (${JSON.stringify(v)}) conflicts with ${chosen.name} (${JSON.stringify(chosen.value)})`,
          fix: `set only ${name}`,
        });
      } else if (!chosen) chosen = { name: n, value: v };
    }
    return chosen?.value;
  };

  const secrets: Partial<Record<SecretVariable, string>> = {};
  for (const s of SECRET_VARIABLES) {
    used.add(s);
    if (env[s] !== undefined && env[s] !== '') secrets[s] = env[s];
  }

  const list = (v: string | undefined): string[] =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);

  const claw = setting('CLAW_NAME') ?? '';
  const diskSize = setting('DATA_DISK_SIZE_GB');
  const cidrs = setting('SSH_SOURCE_CIDRS');
  const spec: ClawSpec = {
    claw,
    model: setting('OPENCLAW_MODEL') ?? DEFAULTS.model,
    profile: (setting('PROFILE') ?? DEFAULTS.profile) as Profile,
    fleet: setting('FLEET') ?? DEFAULTS.fleet,
    telegram: { userIds: list(setting('TELEGRAM_USER_ID')), dmPolicy: setting('TELEGRAM_DM_POLICY') },
    secrets,
    azure: {
      resourceGroup: setting('RESOURCE_GROUP') ?? DEFAULTS.resourceGroup,
      location: setting('LOCATION') ?? DEFAULTS.location,
      vmSize: setting('VM_SIZE') ?? DEFAULTS.vmSize,
      adminUser: setting('ADMIN_USER') ?? DEFAULTS.adminUser,
      dataDiskSizeGb:
        diskSize === undefined ? DEFAULTS.dataDiskSizeGb : /^\d+$/.test(diskSize) ? Number(diskSize) : NaN,
      dataDiskSku: setting('DATA_DISK_SKU') ?? DEFAULTS.dataDiskSku,
      gallery: setting('GALLERY_NAME') ?? DEFAULTS.gallery,
      imageDefinition: setting('IMAGE_DEFINITION') ?? DEFAULTS.imageDefinition,
      imageVersion: setting('IMAGE_VERSION'),
    },
    access: {
      vncExposure: (setting('VNC_EXPOSURE') ?? DEFAULTS.vncExposure) as VncExposure,
      sshSourceCidrs: cidrs === undefined ? [...DEFAULTS.sshSourceCidrs] : list(cidrs),
      sshPublicKey: setting('SSH_PUBLIC_KEY'),
    },
    extraEnv: {},
  };
  for (const [k, v] of Object.entries(env)) if (!used.has(k)) spec.extraEnv[k] = v;
  return { spec, problems };
}

/** The provider part of `provider/model`. */
export function modelProvider(model: string): string {
  const i = model.indexOf('/');
  return i > 0 ? model.slice(0, i) : '';
}

/** Telegram DM access: allowlist of the given ids, or open (`*`) only when asked for explicitly. */
export function resolveDmPolicy(spec: ClawSpec): { dmPolicy: DmPolicy; allowFrom: string[] } {
  if (spec.telegram.dmPolicy === 'open') return { dmPolicy: 'open', allowFrom: ['*'] };
  return { dmPolicy: 'allowlist', allowFrom: [...spec.telegram.userIds] };
}

/** Deterministic Azure resource names for a claw (DESIGN.md). */
export function resourceNames(claw: string, resourceGroup: string) {
  return {
    vm: claw,
    computerName: claw,
    nic: `${claw}-nic`,
    publicIp: `${claw}-pip`,
    dataDisk: `${claw}-data`,
    osDisk: (version: string) => `${claw}-os-${version.replace(/\./g, '-')}`,
    snapshot: (at: Date) => `${claw}-data-${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`,
    vnet: `${resourceGroup}-vnet`,
    subnet: 'default',
    nsg: `${resourceGroup}-nsg`,
  };
}
