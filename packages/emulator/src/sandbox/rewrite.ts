/**
 * Path rewriting for commands that arrive over SSH at a sandbox VM.
 *
 * A command such as `sudo -n /opt/claw/verify` or `cat ~/workspace/x > /tmp/y` names paths of the
 * guest's filesystem. The sandbox has no chroot (no root needed), so before bash runs a command
 * every absolute path token in the command line is prefixed with the VM's sandbox root, except
 * paths into the host's programs and kernel interfaces (`/usr`, `/bin`, `/sbin`, `/lib*`, `/proc`,
 * `/sys`, `/dev` other than `/dev/disk`), which the sandbox shares with the host. A token is an
 * absolute path when it starts with `/` right after the start of the command, whitespace, a quote,
 * `=`, `:`, `;`, `|`, `&`, `(`, `<`, `>` or a backtick, and its first component is a plain name
 * (so `https://host/x`, `s/a/b/` and `/^re/` stay untouched). A bare `/` (e.g. `find / …`) becomes
 * the root itself. Paths already inside the root are not prefixed twice. `~` needs nothing: HOME is
 * the sandbox home. Scripts started this way read `CLAW_ROOT` for the paths they build themselves.
 */

/** First path components the sandbox shares with the host (never rewritten). */
export const HOST_DIRS = new Set([
  'usr',
  'bin',
  'sbin',
  'lib',
  'lib32',
  'lib64',
  'libx32',
  'proc',
  'sys',
  'nix',
]);

const TOKEN = /(^|[\s'"=:;|&(<>`])(\/(?:[A-Za-z0-9._@+-][^\s'"`;|&()<>]*)?)/g;

export function rewritePaths(command: string, root: string): string {
  const r = root.replace(/\/+$/, '');
  return command.replace(TOKEN, (whole, pre: string, path: string, offset: number, all: string) => {
    const start = offset + pre.length;
    if (all.startsWith(r + '/', start) || all.slice(start, start + r.length) === r) return whole;
    if (path === '/') {
      // a bare "/" only when it stands alone (followed by the end, whitespace or a quote)
      const next = all.charAt(start + 1);
      return next === '' || /[\s'"`;|&)]/.test(next) ? `${pre}${r}/` : whole;
    }
    const first = path.slice(1).split('/')[0];
    if (!first) return whole;
    if (HOST_DIRS.has(first)) return whole;
    if (first === 'dev' && !path.startsWith('/dev/disk')) return whole;
    return `${pre}${r}${path}`;
  });
}
