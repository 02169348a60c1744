import {
  VersionError,
  compareVersions,
  isVersion,
  latestVersion,
  parseVersion,
  sortVersions,
  versionProblem,
  versionSlug,
} from '@openclawps/config';

describe('image versions', () => {
  it.each(['0.0.0', '1.2.3', '10.0.0', '4294967295.4294967295.4294967295'])('%s is valid', (v) => {
    expect(isVersion(v)).toBe(true);
    expect(parseVersion(v).text).toBe(v);
  });

  it.each([
    ['v1.2.3', /"v" prefix/],
    ['1.2', /not MAJOR.MINOR.PATCH/],
    ['1.2.3-rc1', /suffix/],
    ['1.2.3+build', /suffix/],
    ['4294967296.0.0', /32-bit/],
    ['1.02.3', /leading zero/],
    ['1.2.3.4', /not MAJOR/],
    ['', /empty/],
    [' 1.2.3', /not MAJOR/],
    ['claw-base-v20260101', /not MAJOR/],
  ])('%j is rejected', (v, re) => {
    expect(isVersion(v)).toBe(false);
    expect(versionProblem(v)).toMatch(re);
    expect(() => parseVersion(v)).toThrow(VersionError);
  });

  it('compares numerically, not as strings', () => {
    expect(compareVersions('10.0.0', '9.0.0')).toBeGreaterThan(0);
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.2.10', '1.2.9')).toBeGreaterThan(0);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('0.9.9', '1.0.0')).toBeLessThan(0);
  });

  it('latestVersion picks the numeric maximum', () => {
    expect(latestVersion(['9.0.0', '10.0.0', '2.5.1'])).toBe('10.0.0');
    expect(latestVersion([])).toBeUndefined();
    expect(() => latestVersion(['1.0.0', 'v2.0.0'])).toThrow(VersionError);
    expect(sortVersions(['10.0.0', '9.0.0', '9.10.0', '9.2.0'])).toEqual([
      '9.0.0',
      '9.2.0',
      '9.10.0',
      '10.0.0',
    ]);
  });

  it('slugs versions for resource names', () => {
    expect(versionSlug('1.2.3')).toBe('1-2-3');
  });
});
