/**
 * The claw image for booted tests, built the way a bake builds it: the payload's own install.sh
 * run as root in the (chrooted) Debian 12 base. Two cached layers, so a payload edit does not
 * reinstall 700 MB of Node/OpenClaw/Claude Code:
 *   runtime  base + `install.sh --profile minimal` (apt packages, Node 24, openclaw, claude-code),
 *            keyed by the hash of install.sh and lib/common.sh;
 *   payload  runtime + a fresh /opt/claw via `install.sh --payload-only` (units enabled),
 *            keyed by the hash of the whole payload.
 * Both are overlay layers (ensureLayer): only what the install changed is stored, nothing is copied.
 * The host's npm cache is bind-mounted into the chroot, so a machine downloads the tarballs once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  chrootRun,
  ensureLayer,
  pruneRoots,
  type EnsureRootOptions,
} from '../../packages/emulator/src/nspawn';

export const REPO = join(__dirname, '../..');
export const PAYLOAD = join(REPO, 'cloud-init/claw');
export const IMAGE_VERSION = '1.0.0';

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** A short hash of payload files (path, mode, content); all of them by default. */
export function payloadHash(files: string[] = walk(PAYLOAD)): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${relative(PAYLOAD, f)}\0${statSync(f).mode & 0o777}\0`);
    h.update(readFileSync(f));
  }
  return h.digest('hex').slice(0, 12);
}

export interface ClawRoot {
  path: string;
  runtime: string;
  profile: string;
}

function npmCacheBind(): [string, string] {
  const cache = process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm');
  mkdirSync(cache, { recursive: true });
  return [cache, '/root/.npm'];
}

export async function ensureClawRoot(
  base: string,
  opts: EnsureRootOptions & { profile?: 'minimal' | 'desktop' } = {},
): Promise<ClawRoot> {
  const profile = opts.profile ?? 'minimal';
  const log = opts.log ?? (() => undefined);
  if (!existsSync(join(PAYLOAD, 'install.sh'))) throw new Error(`${PAYLOAD}/install.sh is missing`);
  const binds: [string, string][] = [npmCacheBind(), [PAYLOAD, '/tmp/claw-payload']];

  const runtimeName = `debian12-claw-runtime-${profile}-${payloadHash([join(PAYLOAD, 'install.sh'), join(PAYLOAD, 'lib/common.sh')])}`;
  const runtime = await ensureLayer(
    runtimeName,
    base,
    async (dir, l) => {
      l(`install.sh --profile ${profile} in a chroot (apt, Node 24, openclaw, claude-code)`);
      await chrootRun(
        dir,
        ['bash', '/tmp/claw-payload/install.sh', '--profile', profile, '--image-version', '0.0.0'],
        {
          log: l,
          timeoutMs: 30 * 60_000,
          binds,
        },
      );
    },
    opts,
  );

  const name = `debian12-claw-${profile}-${payloadHash()}`;
  const path = await ensureLayer(
    name,
    runtime,
    async (dir, l) => {
      rmSync(join(dir, 'opt/claw'), { recursive: true, force: true });
      l(`install.sh --payload-only --profile ${profile} --image-version ${IMAGE_VERSION}`);
      await chrootRun(
        dir,
        [
          'bash',
          '/tmp/claw-payload/install.sh',
          '--payload-only',
          '--profile',
          profile,
          '--image-version',
          IMAGE_VERSION,
        ],
        { log: l, timeoutMs: 10 * 60_000, binds },
      );
    },
    opts,
  );
  pruneRoots(`debian12-claw-runtime-${profile}-`, [runtimeName], { cacheDir: opts.cacheDir, log });
  pruneRoots(`debian12-claw-${profile}-`, [name], { cacheDir: opts.cacheDir, log });
  return { path, runtime, profile };
}
