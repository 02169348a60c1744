import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEnv, formatEnvValue, parseEnv } from '@openclawps/config';

describe('parseEnv (data, never executed)', () => {
  it('reads bare, quoted, export-prefixed values and skips comments', () => {
    const r = parseEnv(
      [
        '# comment',
        '',
        'A=plain',
        'export B=exported',
        "C='single # not a comment $(x)'",
        'D="double \\"q\\" \\n \\$HOME"',
        'E=value # trailing comment',
        'F=',
        '  G = spaced  ',
        "H='x' # comment after quote",
        'I=a#b',
      ].join('\n'),
    );
    expect(r.problems).toEqual([]);
    expect(r.values).toEqual({
      A: 'plain',
      B: 'exported',
      C: 'single # not a comment $(x)',
      D: 'double "q" \n $HOME',
      E: 'value',
      F: '',
      G: 'spaced',
      H: 'x',
      I: 'a#b',
    });
    expect(r.entries.find((e) => e.key === 'C')?.line).toBe(5);
  });

  it('handles CRLF and a BOM', () => {
    expect(parseEnv('\uFEFFA=1\r\nB=2\r\n').values).toEqual({ A: '1', B: '2' });
  });

  it('reports malformed lines with line numbers, all at once', () => {
    const r = parseEnv(
      [
        'OK=1',
        'no equals sign',
        '1BAD=x',
        "Q='unterminated",
        'R="also',
        "S='a' junk",
        'T=`whoami`',
        'OK=2',
      ].join('\n'),
    );
    expect(r.problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(r.problems[0].message).toMatch(/expected KEY=VALUE/);
    expect(r.problems[1].message).toMatch(/invalid variable name/);
    expect(r.problems[2].message).toMatch(/unterminated single quote/);
    expect(r.problems[3].message).toMatch(/unterminated double quote/);
    expect(r.problems[4].message).toMatch(/after the closing single quote/);
    expect(r.problems[5].message).toMatch(/backticks/);
    expect(r.problems[6].message).toMatch(/defined twice \(lines 1 and 8\)/);
  });

  it('never executes anything: $(...) in quotes stays literal', () => {
    const r = parseEnv('X=\'$(touch /tmp/pwned-by-env)\'\nY="`id`"');
    expect(r.values.X).toBe('$(touch /tmp/pwned-by-env)');
    expect(r.values.Y).toBe('`id`');
  });

  it('does not echo a whole secret in a malformed-line message', () => {
    const r = parseEnv('sk-ant-verysecretvalue1234567890');
    expect(r.problems[0].message).not.toContain('verysecretvalue');
  });
});

describe('formatEnv round trip', () => {
  const values = [
    'plain',
    '',
    'with space',
    "it's",
    'double "quoted"',
    '$(rm -rf /) `id` ${HOME} $HOME',
    'both \' and " and \\ backslash',
    '#hash',
    'a # b',
    'ünïcödé ✓ 🦀',
    'x=y:z,w',
  ];
  it.each(values)('parseEnv(formatEnv(%j)) is exact', (v) => {
    expect(parseEnv(formatEnv([['K', v]])).values.K).toBe(v);
  });
  it.each(values)('a POSIX shell reading %j gets the same value', (v) => {
    const file = formatEnv([['K', v]]);
    const out = execFileSync('bash', ['-c', `${file}\nprintf %s "$K"`], { encoding: 'utf8' });
    expect(out).toBe(v);
  });
  it('rejects multi-line values', () => {
    expect(() => formatEnvValue('a\nb')).toThrow(/single line/);
  });
});

describe("the guest's claw_env_get reads what formatEnv writes", () => {
  const lib = join(__dirname, '../../../cloud-init/claw/lib/common.sh');
  const run = existsSync(lib) ? it : it.skip;
  run.each(["it's", 'plain', 'a b', '$(id) `id`', "x'y'z", 'ünï ✓'])('%j', (v) => {
    const dir = mkdtempSync(join(tmpdir(), 'envget-'));
    const file = join(dir, 'claw.env');
    writeFileSync(file, formatEnv([['K', v]]));
    const out = execFileSync('bash', ['-c', 'source "$1"; claw_env_get "$2" K', 'x', lib, file], {
      encoding: 'utf8',
      env: { ...process.env, CLAW_ROOT: dir },
    });
    expect(out).toBe(v);
  });
});
