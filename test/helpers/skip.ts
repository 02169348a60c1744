/**
 * Tests that need root or a Debian package skip with the reason printed, never silently.
 * CI installs everything, so there every suite runs.
 */
import { execFileSync } from 'node:child_process';

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** The first missing requirement, or null when everything is there. */
export function missing(requirements: { root?: boolean; commands?: string[] }): string | null {
  if (requirements.root && !isRoot()) return 'needs root';
  for (const cmd of requirements.commands ?? [])
    if (!hasCommand(cmd)) return `needs \`${cmd}\` (apt package)`;
  return null;
}

/** describe() that skips, printing why, when a requirement is missing. */
export function describeWhen(reason: string | null, name: string, fn: () => void): void {
  if (reason) {
    console.warn(`SKIP ${name}: ${reason}`);
    describe.skip(`${name} [skipped: ${reason}]`, fn);
  } else {
    describe(name, fn);
  }
}
