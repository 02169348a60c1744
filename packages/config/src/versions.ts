/**
 * Gallery image versions: strictly `MAJOR.MINOR.PATCH`, each a 32-bit unsigned integer in plain decimal
 * (no `v` prefix, no suffix, no leading zeros), ordered numerically (10.0.0 > 9.0.0).
 */

export interface ImageVersion {
  major: number;
  minor: number;
  patch: number;
  /** The canonical text, e.g. "1.2.3". */
  text: string;
}

const MAX_U32 = 4294967295;
const PART = '(0|[1-9][0-9]{0,9})';
const VERSION_RE = new RegExp(`^${PART}\\.${PART}\\.${PART}$`);

export class VersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionError';
  }
}

/** Why `text` is not a valid version, or null when it is. */
export function versionProblem(text: string): string | null {
  if (typeof text !== 'string' || text === '') return 'empty version';
  const m = VERSION_RE.exec(text);
  if (!m) {
    if (/^v\d/i.test(text)) return `${JSON.stringify(text)} has a "v" prefix; use ${text.slice(1)}`;
    if (/^\d+\.\d+\.\d+[-+]/.test(text))
      return `${JSON.stringify(text)} has a suffix; gallery versions are only MAJOR.MINOR.PATCH`;
    if (/(^|\.)0\d/.test(text)) return `${JSON.stringify(text)} has a leading zero`;
    return `${JSON.stringify(text)} is not MAJOR.MINOR.PATCH (three integers separated by dots)`;
  }
  for (const p of m.slice(1, 4)) {
    if (Number(p) > MAX_U32) return `${JSON.stringify(text)}: ${p} is larger than ${MAX_U32} (32-bit)`;
  }
  return null;
}

export function isVersion(text: string): boolean {
  return versionProblem(text) === null;
}

/** Parses a version; throws VersionError with the reason when it is not valid. */
export function parseVersion(text: string): ImageVersion {
  const problem = versionProblem(text);
  if (problem) throw new VersionError(`invalid image version: ${problem}`);
  const [major, minor, patch] = text.split('.').map(Number);
  return { major, minor, patch, text };
}

/** Numeric comparison: negative when a < b, 0 when equal, positive when a > b. Throws on invalid input. */
export function compareVersions(a: string | ImageVersion, b: string | ImageVersion): number {
  const x = typeof a === 'string' ? parseVersion(a) : a;
  const y = typeof b === 'string' ? parseVersion(b) : b;
  return Math.sign(x.major - y.major || x.minor - y.minor || x.patch - y.patch);
}

/** The highest version, or undefined for an empty list. Throws VersionError on any invalid name. */
export function latestVersion(versions: Iterable<string>): string | undefined {
  let best: ImageVersion | undefined;
  for (const v of versions) {
    const p = parseVersion(v);
    if (!best || compareVersions(p, best) > 0) best = p;
  }
  return best?.text;
}

/** Versions sorted ascending (numerically). */
export function sortVersions(versions: Iterable<string>): string[] {
  return [...versions]
    .map(parseVersion)
    .sort(compareVersions)
    .map((v) => v.text);
}

/** `1.2.3` -> `1-2-3` (for resource names such as `<claw>-os-1-2-3`). */
export function versionSlug(version: string): string {
  return parseVersion(version).text.replace(/\./g, '-');
}
