import { runSync } from './proc';

/** Why this host cannot boot nspawn guests (null when it can): root and the tools it needs. */
export function nspawnUnavailable(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root';
  for (const [cmd, pkg] of [
    ['systemd-nspawn', 'systemd-container'],
    ['debootstrap', 'debootstrap'],
    ['losetup', 'mount'],
    ['partx', 'util-linux'],
    ['nsenter', 'util-linux'],
    ['unshare', 'util-linux'],
    ['ip', 'iproute2'],
  ])
    if (runSync('sh', ['-c', `command -v ${cmd}`]).code !== 0) return `needs \`${cmd}\` (apt package ${pkg})`;
  if (runSync('grep', ['-qw', 'overlay', '/proc/filesystems']).code !== 0)
    return 'needs overlayfs in the kernel';
  return null;
}
