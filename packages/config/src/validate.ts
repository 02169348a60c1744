/**
 * validateSpec(): every rule, every problem at once, each naming the variable and the fix.
 */
import { Problem } from './problems';
import {
  ClawSpec,
  PROVIDER_KEYS,
  SECRET_VARIABLES,
  SecretVariable,
  knownVariables,
  modelProvider,
  resourceNames,
} from './spec';
import { versionProblem } from './versions';
import { createHmac } from 'node:crypto';

export const TELEGRAM_TOKEN_RE = /^\d{5,}:[A-Za-z0-9_-]{30,}$/;
const TELEGRAM_ID_RE = /^[1-9]\d{4,19}$/;
const MODEL_RE = /^[a-z0-9][a-z0-9-]*\/[A-Za-z0-9][A-Za-z0-9._:@-]*$/;

/** Sample values from templates and docs that must never reach a VM. */
const PLACEHOLDER_PATTERNS: RegExp[] = [
  /your[-_ ].*[-_ ]here/i,
  /^<.*>$/,
  /^\$\{.*\}$/,
  /[…]|\.\.\./,
  /^(changeme|change-me|placeholder|todo|tbd|xxx+|x+|example|dummy|secret|none|null|undefined|replace-?me)$/i,
  /^123456789?:/, // the original template's sample bot token 123456789:ABC…
  /^123456:ABC-DEF1234ghIkl/, // Telegram's documentation sample token
  /ABCdefGHI/i,
  /^(sk|xai|sk-ant)-(x+|\.+|your.*|\*+)$/i,
];
const PLACEHOLDER_USER_IDS = new Set(['123456789', '1234567890', '12345', '0']);

function hasControlChars(s: string): boolean {
  return [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER_PATTERNS.some((re) => re.test(value.trim()));
}

const ADMIN_RESERVED = new Set(
  (
    'administrator admin user user1 test user2 test1 user3 admin1 1 123 a actuser adm admin2 aspnet backup console ' +
    'david guest john owner root server sql support support_388945a0 sys test2 test3 user4 user5 daemon bin nobody'
  ).split(' '),
);
const PASSWORD_RESERVED = new Set([
  'abc@123',
  'iloveyou!',
  'p@$$w0rd',
  'p@ssw0rd',
  'p@ssword123',
  'pa$$word',
  'pass@word1',
  'password!',
  'password1',
  'password22',
]);
export const DATA_DISK_SKUS = [
  'Standard_LRS',
  'StandardSSD_LRS',
  'StandardSSD_ZRS',
  'Premium_LRS',
  'Premium_ZRS',
  'PremiumV2_LRS',
  'UltraSSD_LRS',
];

/** Azure's admin password rules (Linux VM): 12–123 characters, 3 of 4 character classes, not a banned value. */
export function passwordProblems(pw: string): string[] {
  const out: string[] = [];
  if (pw.length < 12 || pw.length > 123) out.push(`must be 12 to 123 characters long (it has ${pw.length})`);
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(pw)).length;
  if (classes < 3)
    out.push(
      `must contain 3 of: lowercase, uppercase, digit, special character (it has ${classes} of these classes)`,
    );
  if (PASSWORD_RESERVED.has(pw.toLowerCase())) out.push('is on Azure’s list of disallowed passwords');
  if (hasControlChars(pw)) out.push('contains control characters');
  return out;
}

/**
 * A resource group name as the lifecycle inputs take it: 1-90 ASCII letters, digits and . _ ( ) -,
 * not ending in a period. (A spec's RESOURCE_GROUP also accepts Unicode letters, as Azure does.)
 */
export function isResourceGroupName(s: string): boolean {
  return /^[A-Za-z0-9._()-]{1,90}$/.test(s) && !s.endsWith('.');
}

/** A claw name input: lowercase letters, digits and inner hyphens, at most 60 (snapshot names fit in 80). */
export function isClawName(s: string): boolean {
  return /^[a-z0-9]([a-z0-9-]{0,58}[a-z0-9])?$/.test(s);
}

/** A Linux user name: 1-32 lowercase letters, digits, _ or -, starting with a letter or _. */
export function isLinuxUserName(s: string): boolean {
  return /^[a-z_][a-z0-9_-]{0,31}$/.test(s);
}

/** IPv4 address/prefix (or a bare address), or an IPv6 prefix. */
export function isCidr(s: string): boolean {
  const m4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s);
  if (m4) {
    const octets = m4.slice(1, 5).map(Number);
    if (m4.slice(1, 5).some((o) => o.length > 1 && o.startsWith('0'))) return false;
    if (octets.some((o) => o > 255)) return false;
    return m4[5] === undefined || Number(m4[5]) <= 32;
  }
  const m6 = /^([0-9a-fA-F:]+)(?:\/(\d{1,3}))?$/.exec(s);
  if (m6 && m6[1].includes(':') && (m6[1].match(/::/g) ?? []).length <= 1) {
    const groups = m6[1].split(':');
    if (groups.length > 8 || groups.some((g) => g.length > 4)) return false;
    return m6[2] === undefined || Number(m6[2]) <= 128;
  }
  return false;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

export function validateSpec(spec: ClawSpec): Problem[] {
  const problems: Problem[] = [];
  const add = (variable: string, message: string, fix: string) => problems.push({ variable, message, fix });

  // --- claw / VM / computer name -------------------------------------------------------------
  const claw = spec.claw;
  if (!claw) {
    add(
      'CLAW_NAME',
      'is required (it names the VM, its disks and its NIC)',
      'set CLAW_NAME=alice (or pass --claw)',
    );
  } else {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(claw) || /[.-]$/.test(claw))
      add(
        'CLAW_NAME',
        `${JSON.stringify(claw)} is not a valid Azure VM name (letters, digits, hyphens, underscores and periods; not starting with _ or ending with . or -)`,
        'use lowercase letters, digits and hyphens, e.g. alice or claw-01',
      );
    else if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(claw))
      add(
        'CLAW_NAME',
        `${JSON.stringify(claw)} is not a valid Linux computer name (host names allow only letters, digits and hyphens; Azure names are case-insensitive)`,
        'use lowercase letters, digits and hyphens',
      );
    if (claw.length > 64)
      add(
        'CLAW_NAME',
        `is ${claw.length} characters; a Linux computer name (and VM name) is at most 64`,
        'use a shorter name',
      );
    else if (resourceNames(claw, spec.azure.resourceGroup).snapshot(new Date(0)).length > 80)
      add(
        'CLAW_NAME',
        `is ${claw.length} characters; the upgrade snapshot name <claw>-data-<yyyymmddhhmmss> would exceed Azure's 80`,
        'use a name of at most 60 characters',
      );
    if (/^\d+$/.test(claw))
      add('CLAW_NAME', 'a Linux computer name cannot be entirely numeric', 'add a letter, e.g. claw-' + claw);
  }

  // --- model and its provider key -------------------------------------------------------------
  const provider = modelProvider(spec.model);
  if (!MODEL_RE.test(spec.model)) {
    add(
      'OPENCLAW_MODEL',
      `${JSON.stringify(spec.model)} is not provider/model`,
      'e.g. xai/grok-4.20-0309-reasoning, openai/gpt-5.5, anthropic/claude-sonnet-5',
    );
  } else if (!PROVIDER_KEYS[provider]) {
    add(
      'OPENCLAW_MODEL',
      `unknown provider ${JSON.stringify(provider)}`,
      `use one of: ${Object.keys(PROVIDER_KEYS).join(', ')}`,
    );
  } else {
    const keys = PROVIDER_KEYS[provider];
    if (!keys.some((k) => spec.secrets[k]))
      add(
        keys[0],
        `is required because OPENCLAW_MODEL=${spec.model} uses the ${provider} provider`,
        `set ${keys.join(' or ')} to your ${provider} API key, or choose a model whose key you have`,
      );
  }

  // --- Telegram -------------------------------------------------------------------------------
  const token = spec.secrets.TELEGRAM_BOT_TOKEN;
  if (!token) {
    add(
      'TELEGRAM_BOT_TOKEN',
      'is required (one bot per claw)',
      'create a bot with @BotFather and paste its token',
    );
  } else if (!isPlaceholder(token) && !TELEGRAM_TOKEN_RE.test(token)) {
    add(
      'TELEGRAM_BOT_TOKEN',
      'does not look like a bot token (digits, a colon, then 30+ letters, digits, _ or -)',
      'copy the full token from @BotFather, e.g. 7012345678:AAH…',
    );
  }
  const ids = spec.telegram.userIds;
  for (const id of ids) {
    if (PLACEHOLDER_USER_IDS.has(id))
      add(
        'TELEGRAM_USER_ID',
        `${id} is the template's sample value`,
        'use your numeric user id (ask @userinfobot)',
      );
    else if (!TELEGRAM_ID_RE.test(id))
      add(
        'TELEGRAM_USER_ID',
        `${JSON.stringify(id)} is not a numeric Telegram user id`,
        'use the number @userinfobot shows you (not your @username); separate several with commas',
      );
  }
  const policy = spec.telegram.dmPolicy;
  if (policy !== undefined && policy !== 'allowlist' && policy !== 'open') {
    add(
      'TELEGRAM_DM_POLICY',
      `${JSON.stringify(policy)} is not allowlist or open`,
      'leave it unset (allowlist of TELEGRAM_USER_ID) or set open to let anyone DM the bot',
    );
  } else if (policy !== 'open' && ids.length === 0) {
    add(
      'TELEGRAM_USER_ID',
      'is required: without it anyone who finds the bot could command an agent with full shell access',
      'set TELEGRAM_USER_ID to your numeric user id, or set TELEGRAM_DM_POLICY=open if you really want an open bot',
    );
  }

  // --- secrets: placeholders and shape --------------------------------------------------------
  for (const name of SECRET_VARIABLES) {
    const v = spec.secrets[name];
    if (v === undefined) continue;
    if (isPlaceholder(v)) {
      add(
        name,
        "still holds the template's placeholder value",
        `replace it with the real value or remove the line`,
      );
      continue;
    }
    if (hasControlChars(v)) {
      add(name, 'contains control characters (newline, tab, …)', 'put the value on one line without tabs');
      continue;
    }
    if (name !== 'VM_PASSWORD' && /\s/.test(v))
      add(name, 'contains whitespace', 'paste the value without spaces (quote nothing inside it)');
  }
  const gw = spec.secrets.OPENCLAW_GATEWAY_TOKEN;
  if (gw && !isPlaceholder(gw) && gw.length < 32)
    add(
      'OPENCLAW_GATEWAY_TOKEN',
      `is ${gw.length} characters; it must be at least 32`,
      'use a long random value (openssl rand -hex 32) or remove it to derive one',
    );
  const vnc = spec.secrets.VNC_PASSWORD;
  if (vnc && !isPlaceholder(vnc) && vnc.length < 8)
    add(
      'VNC_PASSWORD',
      `is ${vnc.length} characters; VNC uses the first 8, so use at least 8`,
      'use 8+ random characters, or remove it to generate one on the VM',
    );
  const pw = spec.secrets.VM_PASSWORD;
  if (pw !== undefined && !isPlaceholder(pw)) {
    for (const p of passwordProblems(pw))
      add(
        'VM_PASSWORD',
        p,
        'use 12+ characters mixing upper and lower case, digits and symbols, or remove it (SSH keys are used)',
      );
    if (pw.toLowerCase().includes(spec.azure.adminUser.toLowerCase()))
      add('VM_PASSWORD', 'must not contain the admin user name', 'choose another password');
  }
  for (const [k, v] of Object.entries(spec.extraEnv)) {
    if (/[\0\r\n]/.test(v)) add(k, 'contains a newline or NUL', 'put the value on one line');
  }

  // --- Azure names and settings --------------------------------------------------------------
  const az = spec.azure;
  const rg = az.resourceGroup;
  if (!/^[\p{L}\p{N}_().-]{1,90}$/u.test(rg) || rg.endsWith('.'))
    add(
      'RESOURCE_GROUP',
      `${JSON.stringify(rg)} is not a valid resource group name (1–90 letters, digits, _ ( ) - . ; not ending with .)`,
      'e.g. rg-claws',
    );
  if (!/^[a-z][a-z0-9]*$/.test(az.location))
    add(
      'LOCATION',
      `${JSON.stringify(az.location)} is not an Azure region name`,
      'e.g. eastus, westeurope (lowercase, no spaces)',
    );
  if (!/^(Standard|Basic)_[A-Za-z0-9_-]+$/.test(az.vmSize))
    add('VM_SIZE', `${JSON.stringify(az.vmSize)} is not an Azure VM size`, 'e.g. Standard_D2s_v3');
  if (!isLinuxUserName(az.adminUser))
    add(
      'ADMIN_USER',
      `${JSON.stringify(az.adminUser)} is not a valid Linux user name (1–32 lowercase letters, digits, _ or -, starting with a letter or _)`,
      'e.g. azureuser',
    );
  else if (ADMIN_RESERVED.has(az.adminUser))
    add('ADMIN_USER', `${JSON.stringify(az.adminUser)} is reserved by Azure or the OS`, 'e.g. azureuser');
  if (!Number.isInteger(az.dataDiskSizeGb) || az.dataDiskSizeGb < 4 || az.dataDiskSizeGb > 32767)
    add('DATA_DISK_SIZE_GB', 'must be a whole number of GiB from 4 to 32767', 'e.g. DATA_DISK_SIZE_GB=32');
  if (!DATA_DISK_SKUS.includes(az.dataDiskSku))
    add(
      'DATA_DISK_SKU',
      `${JSON.stringify(az.dataDiskSku)} is not a disk SKU`,
      `use one of: ${DATA_DISK_SKUS.join(', ')}`,
    );
  if (!/^[A-Za-z0-9]([A-Za-z0-9_.]{0,78}[A-Za-z0-9])?$/.test(az.gallery))
    add(
      'GALLERY_NAME',
      `${JSON.stringify(az.gallery)} is not a valid gallery name (1–80 letters, digits, _ and . inside; no hyphens)`,
      'e.g. clawGallery',
    );
  if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9])?$/.test(az.imageDefinition))
    add(
      'IMAGE_DEFINITION',
      `${JSON.stringify(az.imageDefinition)} is not a valid image definition name (1–80 letters, digits, _ - . inside)`,
      'e.g. claw-base',
    );
  if (az.imageVersion !== undefined) {
    const vp = versionProblem(az.imageVersion);
    if (vp) add('IMAGE_VERSION', vp, 'use MAJOR.MINOR.PATCH such as 1.2.0, or leave it empty for the latest');
  }

  // --- access ---------------------------------------------------------------------------------
  const acc = spec.access;
  if (acc.vncExposure !== 'localhost' && acc.vncExposure !== 'public')
    add(
      'VNC_EXPOSURE',
      `${JSON.stringify(acc.vncExposure)} is not localhost or public`,
      'use localhost (SSH tunnel) or public',
    );
  if (spec.profile !== 'desktop' && spec.profile !== 'minimal')
    add('PROFILE', `${JSON.stringify(spec.profile)} is not desktop or minimal`, 'use desktop or minimal');
  else if (spec.profile === 'minimal' && acc.vncExposure === 'public')
    add(
      'VNC_EXPOSURE',
      'is public but PROFILE=minimal has no desktop or VNC server',
      'use VNC_EXPOSURE=localhost or PROFILE=desktop',
    );
  if (acc.vncExposure === 'public' && acc.sshSourceCidrs.some((c) => /\/0$/.test(c) || c === '0.0.0.0'))
    add(
      'VNC_EXPOSURE',
      'is public while SSH_SOURCE_CIDRS includes the whole internet: VNC passwords are truncated to 8 characters',
      'narrow SSH_SOURCE_CIDRS to your addresses, or keep VNC_EXPOSURE=localhost and use an SSH tunnel',
    );
  if (acc.sshSourceCidrs.length === 0)
    add(
      'SSH_SOURCE_CIDRS',
      'is empty',
      'list the CIDRs allowed to reach SSH, e.g. 203.0.113.0/24,198.51.100.7/32',
    );
  for (const c of acc.sshSourceCidrs)
    if (!isCidr(c))
      add(
        'SSH_SOURCE_CIDRS',
        `${JSON.stringify(c)} is not an IP address or CIDR`,
        'e.g. 203.0.113.0/24 (comma separated)',
      );
  if (
    acc.sshPublicKey !== undefined &&
    !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/.test(
      acc.sshPublicKey,
    )
  )
    add('SSH_PUBLIC_KEY', 'is not an OpenSSH public key line', 'paste the contents of ~/.ssh/id_ed25519.pub');
  if (!/^[^<>%&\\?/]{1,256}$/.test(spec.fleet))
    add(
      'FLEET',
      `${JSON.stringify(spec.fleet)} is not a valid tag value (1–256 characters, none of < > % & \\ ? /)`,
      'e.g. FLEET=prod',
    );

  // --- probable typos among unknown variables -------------------------------------------------
  const known = knownVariables();
  for (const k of Object.keys(spec.extraEnv)) {
    const near = known.find((n) => levenshtein(k, n) <= 2 && Math.abs(k.length - n.length) <= 2);
    if (near) add(k, `is not a known variable (did you mean ${near}?)`, `rename it to ${near}, or remove it`);
  }
  return problems;
}

/** True for variables whose value must be masked (known secrets, and extra variables named like secrets). */
export function isSecretVariable(name: string): boolean {
  return (
    (SECRET_VARIABLES as readonly string[]).includes(name) ||
    /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|PAT|CREDENTIAL|AUTH|COOKIE|PRIVATE)/i.test(name)
  );
}

/** Every secret value in the spec (non-empty, de-duplicated), for log masking and image scanning. */
export function secretValues(spec: ClawSpec): string[] {
  const out = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const v = spec.secrets[name as SecretVariable];
    if (v) out.add(v);
  }
  for (const [k, v] of Object.entries(spec.extraEnv)) if (v && isSecretVariable(k)) out.add(v);
  // the gateway token delivered in claw.env, derived when not given (see gatewayToken())
  if (spec.claw || spec.secrets.TELEGRAM_BOT_TOKEN) out.add(deriveGatewayToken(spec));
  return [...out];
}

/**
 * The gateway's auth token: OPENCLAW_GATEWAY_TOKEN when given, otherwise derived (HMAC-SHA256) from the claw's
 * bot token and name, so re-rendering is deterministic and the token rotates with the bot token.
 */
export function deriveGatewayToken(spec: ClawSpec): string {
  const given = spec.secrets.OPENCLAW_GATEWAY_TOKEN;
  if (given) return given;
  return createHmac('sha256', spec.secrets.TELEGRAM_BOT_TOKEN ?? '')
    .update(`openclawps-gateway:${spec.claw}`)
    .digest('hex');
}
