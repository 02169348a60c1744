/**
 * The part of cloud-init the sandbox can honour without root, applied once per instance (first
 * boot of a VM whose instance id differs from the one recorded in `<root>/var/lib/cloud/instance-id`):
 *
 * - `write_files`: path (inside the root), content with `encoding` text / `b64` / `base64` /
 *   `gz+b64` / `gzip+base64` / `gz+base64`, `permissions` (octal), `append`; `owner` is ignored.
 * - `users`: `default` is the Azure admin user; other entries get a home and their
 *   `ssh_authorized_keys` in `~/.ssh/authorized_keys`.
 * - `runcmd` (string or argv entries, `env K=V … cmd` unwrapped), mapped as follows:
 *     `/opt/claw/install.sh ARGS` -> the REAL `<root>/opt/claw/install.sh --payload-only ARGS`
 *        (no packages, no network: payload, units enabled through the service recorder, image.json)
 *        with CLAW_ROOT=<root>; when write_files did not deliver it (or it fails), the sandbox
 *        install: the repository payload (`cloud-init/claw`) copied into `<root>/opt/claw`,
 *        `image.json` written when absent, units enabled, the admin home created. `--start` then
 *        starts claw-boot.service (which runs boot.sh);
 *     `systemctl …`, `cloud-init …`, `mkdir`, `chmod`, `chown`, `chgrp`, `ln`, `touch`, `echo`,
 *        `printf`, `true`, `cp`, `mv` -> run with bash, paths rewritten into the root (rewrite.ts);
 *     anything else (apt-get, curl, reboot, …) -> not run, logged to /var/log/cloud-init-output.log.
 * Other modules are ignored (logged). Non-`#cloud-config` user data (shell scripts) is logged, not run.
 */
import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { rewritePaths } from './rewrite';

export interface CloudInitContext {
  root: string;
  adminUser: string;
  /** Environment for commands (sandbox PATH with the shims, CLAW_ROOT, CLAW_SANDBOX=1 …). */
  env: NodeJS.ProcessEnv;
  /** Where the repository's `cloud-init/claw` payload is. */
  payloadDir: string;
}

const SAFE = new Set([
  'systemctl',
  'cloud-init',
  'mkdir',
  'chmod',
  'chown',
  'chgrp',
  'ln',
  'touch',
  'echo',
  'printf',
  'true',
  'cp',
  'mv',
]);

export function rootPath(root: string, p: string): string {
  return path.join(root, path.posix.normalize('/' + p));
}

function log(root: string, line: string): void {
  mkdirSync(path.join(root, 'var/log'), { recursive: true });
  appendFileSync(path.join(root, 'var/log/cloud-init-output.log'), `${new Date().toISOString()} ${line}\n`);
}

function decode(content: unknown, encoding: unknown): Buffer {
  const text = content === undefined || content === null ? '' : String(content);
  const enc = String(encoding ?? 'text/plain').toLowerCase();
  if (['b64', 'base64'].includes(enc)) return Buffer.from(text, 'base64');
  if (['gz+b64', 'gzip+base64', 'gz+base64', 'gzip+b64'].includes(enc))
    return gunzipSync(Buffer.from(text, 'base64'));
  if (['gz', 'gzip'].includes(enc)) return gunzipSync(Buffer.from(text, 'binary'));
  return Buffer.from(text, 'utf8');
}

function writeAuthorizedKeys(root: string, user: string, keys: string[]): void {
  const home = user === 'root' ? path.join(root, 'root') : path.join(root, 'home', user);
  const ssh = path.join(home, '.ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o700 });
  const f = path.join(ssh, 'authorized_keys');
  appendFileSync(
    f,
    keys
      .map((k) => k.trim())
      .filter(Boolean)
      .map((k) => `${k}\n`)
      .join(''),
  );
  chmodSync(f, 0o600);
}

export { writeAuthorizedKeys };

function run(
  cmd: string,
  args: string[],
  ctx: CloudInitContext,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: ctx.root, env: { ...ctx.env, ...extraEnv }, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** The sandbox's meaning of `/opt/claw/install.sh` (see the header). */
export function sandboxInstall(args: string[], env: Record<string, string>, ctx: CloudInitContext): void {
  const opt = path.join(ctx.root, 'opt/claw');
  mkdirSync(opt, { recursive: true });
  if (existsSync(ctx.payloadDir)) {
    cpSync(ctx.payloadDir, opt, {
      recursive: true,
      force: false,
      errorOnExist: false,
      preserveTimestamps: true,
    });
  }
  const pi = args.indexOf('--profile');
  const profile = pi >= 0 && args[pi + 1] ? args[pi + 1] : (env.CLAW_PROFILE ?? 'desktop');
  const imageJson = path.join(opt, 'image.json');
  if (!existsSync(imageJson)) {
    writeFileSync(
      imageJson,
      JSON.stringify({ version: env.CLAW_IMAGE_VERSION ?? '0.0.0', profile, distro: 'ubuntu:24.04' }) + '\n',
    );
  }
  for (const s of ['boot.sh', 'run-updates.sh', 'verify', 'install.sh', 'start-claude.sh']) {
    const p = path.join(opt, s);
    if (existsSync(p)) chmodSync(p, 0o755);
  }
  const upd = path.join(opt, 'updates');
  if (existsSync(upd))
    for (const f of readdirSync(upd)) if (f.endsWith('.sh')) chmodSync(path.join(upd, f), 0o755);
  const en = path.join(ctx.root, 'etc/sandbox-systemd');
  mkdirSync(en, { recursive: true });
  for (const u of [
    'claw-boot.service',
    'openclaw-gateway.service',
    'claude-sidecar.service',
    ...(profile === 'desktop' ? ['lightdm.service', 'x11vnc.service'] : []),
  ]) {
    writeFileSync(path.join(en, `${u}.enabled`), '');
  }
  const admin = env.CLAW_ADMIN_USER ?? ctx.adminUser;
  if (/^[a-z_][a-z0-9_-]*$/.test(admin)) mkdirSync(path.join(ctx.root, 'home', admin), { recursive: true });
  mkdirSync(path.join(ctx.root, 'var/lib/claw'), { recursive: true });
  writeFileSync(
    path.join(ctx.root, 'var/lib/claw/sandbox-install'),
    JSON.stringify({ at: new Date().toISOString(), profile, args }) + '\n',
  );
}

export interface ParsedUserData {
  config: Record<string, unknown> | null;
  kind: 'cloud-config' | 'script' | 'none' | 'unknown';
}

export function parseUserData(customDataB64: string | undefined): ParsedUserData {
  if (!customDataB64) return { config: null, kind: 'none' };
  let text = Buffer.from(customDataB64, 'base64');
  if (text[0] === 0x1f && text[1] === 0x8b) text = gunzipSync(text);
  const s = text.toString('utf8');
  if (s.startsWith('#cloud-config')) {
    const c = parseYaml(s) as Record<string, unknown> | null;
    return { config: c ?? {}, kind: 'cloud-config' };
  }
  return { config: null, kind: s.startsWith('#!') ? 'script' : 'unknown' };
}

/** cloud-init's init stage: write_files and users. */
export function applyInitStage(cfg: Record<string, unknown>, ctx: CloudInitContext): void {
  const files = Array.isArray(cfg.write_files) ? (cfg.write_files as Record<string, unknown>[]) : [];
  for (const f of files) {
    if (!f || typeof f.path !== 'string') continue;
    const dest = rootPath(ctx.root, f.path);
    mkdirSync(path.dirname(dest), { recursive: true });
    const data = decode(f.content, f.encoding);
    if (f.append === true && existsSync(dest)) appendFileSync(dest, data);
    else writeFileSync(dest, data);
    const perm = f.permissions !== undefined ? parseInt(String(f.permissions), 8) : 0o644;
    if (!Number.isNaN(perm)) chmodSync(dest, perm);
    log(ctx.root, `write_files: ${f.path} (${data.length} bytes, mode ${(perm & 0o7777).toString(8)})`);
  }
  const users = Array.isArray(cfg.users) ? cfg.users : [];
  for (const u of users) {
    if (u === 'default') continue;
    if (!u || typeof u !== 'object') continue;
    const name = String((u as Record<string, unknown>).name ?? '');
    if (!/^[a-z_][a-z0-9_-]*$/.test(name)) continue;
    const keys = ((u as Record<string, unknown>).ssh_authorized_keys ??
      (u as Record<string, unknown>)['ssh-authorized-keys'] ??
      []) as string[];
    mkdirSync(name === 'root' ? path.join(ctx.root, 'root') : path.join(ctx.root, 'home', name), {
      recursive: true,
    });
    if (Array.isArray(keys) && keys.length) writeAuthorizedKeys(ctx.root, name, keys.map(String));
    log(ctx.root, `users: ${name} (${Array.isArray(keys) ? keys.length : 0} key(s))`);
  }
  const handled = new Set(['write_files', 'users', 'runcmd']);
  for (const k of Object.keys(cfg))
    if (!handled.has(k)) log(ctx.root, `module ${k}: not modelled in the sandbox, ignored`);
}

/** cloud-init's final stage: runcmd through the mapping in the header. */
export async function applyFinalStage(cfg: Record<string, unknown>, ctx: CloudInitContext): Promise<void> {
  const cmds = Array.isArray(cfg.runcmd) ? cfg.runcmd : [];
  for (const entry of cmds) {
    let argv: string[] | null = null;
    let text: string | null = null;
    if (Array.isArray(entry)) argv = entry.map(String);
    else if (typeof entry === 'string') text = entry;
    else continue;
    if (text !== null) {
      const words = text.trim().split(/\s+/);
      if (!/[;&|`$<>()]/.test(text)) argv = words;
    }
    const env: Record<string, string> = {};
    if (argv) {
      if (argv[0] === 'env' || argv[0] === '/usr/bin/env') {
        argv = argv.slice(1);
        while (argv.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0])) {
          const [k, ...v] = argv.shift()!.split('=');
          env[k] = v.join('=');
        }
      }
      const prog = argv[0] ?? '';
      if (prog === '/opt/claw/install.sh' || prog.endsWith('/opt/claw/install.sh')) {
        const args = argv.slice(1);
        const start = args.includes('--start');
        const rest = args.filter((a) => a !== '--start' && a !== '--payload-only');
        const real = path.join(ctx.root, 'opt/claw/install.sh');
        if (existsSync(real)) {
          const r = await run('bash', [real, '--payload-only', ...rest], ctx, env);
          log(
            ctx.root,
            `runcmd: ${argv.join(' ')} -> ${real.slice(ctx.root.length)} --payload-only ${rest.join(' ')}: exit ${r.code}`,
          );
          appendFileSync(path.join(ctx.root, 'var/log/cloud-init-output.log'), r.out);
          if (r.code !== 0) sandboxInstall(rest, env, ctx);
        } else {
          sandboxInstall(rest, env, ctx);
          log(
            ctx.root,
            `runcmd: ${argv.join(' ')} -> sandbox install (payload copied from the repository, image.json, units enabled)`,
          );
        }
        if (start) {
          const r = await run('systemctl', ['start', 'claw-boot.service'], ctx);
          log(ctx.root, `runcmd: --start -> systemctl start claw-boot.service: exit ${r.code}`);
        }
        continue;
      }
      const base = path.posix.basename(prog);
      if (SAFE.has(base)) {
        const args = argv.slice(1).map((a) => rewritePaths(a, ctx.root));
        const r = await run(base, args, ctx, env);
        log(
          ctx.root,
          `runcmd: ${argv.join(' ')} -> exit ${r.code}${r.out.trim() ? `: ${r.out.trim().slice(0, 500)}` : ''}`,
        );
        continue;
      }
      log(ctx.root, `runcmd: ${argv.join(' ')} -> not run in the sandbox`);
      continue;
    }
    const first = (text ?? '').trim().split(/\s+/)[0] ?? '';
    if (SAFE.has(path.posix.basename(first))) {
      const r = await run('bash', ['-c', rewritePaths(text!, ctx.root)], ctx);
      log(ctx.root, `runcmd: ${text} -> exit ${r.code}`);
    } else {
      log(ctx.root, `runcmd: ${text} -> not run in the sandbox`);
    }
  }
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
