/**
 * A claw's `.env` is data, never shell: this parser reads KEY=VALUE lines without executing anything.
 *
 * Accepted per line (dotenv conventions):
 *   - blank lines and lines starting with `#` (after optional whitespace) are ignored;
 *   - an optional `export ` prefix;
 *   - `KEY=value` (unquoted: surrounding whitespace trimmed, a ` #` starts a trailing comment);
 *   - `KEY='value'` (literal, no escapes);
 *   - `KEY="value"` (escapes `\n \r \t \" \\ \$ \``); after the closing quote only whitespace and a comment.
 * Multi-line values are not supported (an unterminated quote is reported).
 */

export interface EnvEntry {
  key: string;
  value: string;
  line: number;
}

export interface EnvParseProblem {
  line: number;
  message: string;
}

export interface ParsedEnv {
  /** Last value wins for duplicates (duplicates are also reported as problems). */
  values: Record<string, string>;
  entries: EnvEntry[];
  problems: EnvParseProblem[];
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnv(text: string): ParsedEnv {
  const values: Record<string, string> = {};
  const entries: EnvEntry[] = [];
  const problems: EnvParseProblem[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);

  lines.forEach((raw, i) => {
    const line = i + 1;
    let rest = raw.replace(/^\s+/, '');
    if (rest === '' || rest.startsWith('#')) return;
    if (/^export\s+/.test(rest)) rest = rest.replace(/^export\s+/, '');
    const eq = rest.indexOf('=');
    if (eq < 0) {
      problems.push({ line, message: `expected KEY=VALUE, got ${describe(rest)}` });
      return;
    }
    const key = rest.slice(0, eq).trim();
    if (!KEY_RE.test(key)) {
      problems.push({
        line,
        message: `invalid variable name ${JSON.stringify(key)} (letters, digits and _ only, not starting with a digit)`,
      });
      return;
    }
    const parsed = parseValue(rest.slice(eq + 1));
    if ('error' in parsed) {
      problems.push({ line, message: `${key}: ${parsed.error}` });
      return;
    }
    const seen = firstLine.get(key);
    if (seen !== undefined) {
      problems.push({ line, message: `${key} is defined twice (lines ${seen} and ${line}); keep one` });
    } else {
      firstLine.set(key, line);
    }
    values[key] = parsed.value;
    entries.push({ key, value: parsed.value, line });
  });
  return { values, entries, problems };
}

function describe(s: string): string {
  const short = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  // Never echo what might be a secret in full; the first few characters identify the line well enough.
  return JSON.stringify(short.replace(/^(.{6}).+$/, '$1…'));
}

function parseValue(input: string): { value: string } | { error: string } {
  const s = input.replace(/^[ \t]+/, '');
  if (s.startsWith("'")) {
    // 'literal', with the POSIX idiom '\'' for an embedded single quote ('it'\''s' is it's).
    let out = '';
    let i = 1;
    for (;;) {
      const end = s.indexOf("'", i);
      if (end < 0) return { error: 'unterminated single quote (multi-line values are not supported)' };
      out += s.slice(i, end);
      if (s.startsWith("\\''", end + 1)) {
        out += "'";
        i = end + 4;
        continue;
      }
      const tail = s.slice(end + 1);
      if (!/^\s*(#.*)?$/.test(tail)) return { error: 'unexpected text after the closing single quote' };
      return { value: out };
    }
  }
  if (s.startsWith('"')) {
    let out = '';
    for (let i = 1; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') {
        const n = s[i + 1];
        if (n === undefined) break;
        const map: Record<string, string> = {
          n: '\n',
          r: '\r',
          t: '\t',
          '"': '"',
          '\\': '\\',
          $: '$',
          '`': '`',
        };
        out += map[n] ?? `\\${n}`;
        i++;
      } else if (c === '"') {
        const tail = s.slice(i + 1);
        if (!/^\s*(#.*)?$/.test(tail)) return { error: 'unexpected text after the closing double quote' };
        return { value: out };
      } else {
        out += c;
      }
    }
    return { error: 'unterminated double quote (multi-line values are not supported)' };
  }
  // Unquoted: a '#' preceded by whitespace (or at the start) begins a comment.
  const hash = s.search(/(^|\s)#/);
  const bare = (hash >= 0 ? s.slice(0, hash) : s).trim();
  if (/["'`]/.test(bare) || /\$\(/.test(bare)) {
    return { error: 'quotes, backticks or $( in an unquoted value; wrap the whole value in single quotes' };
  }
  return { value: bare };
}

const SAFE_BARE = /^[A-Za-z0-9_./:@%+,=-]*$/;

/** Serialise one value so that parseEnv() (and a POSIX shell, if someone sources it anyway) reads it back exactly. */
export function formatEnvValue(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error('env values must be a single line without NUL');
  if (SAFE_BARE.test(value)) return value;
  // Single quotes, with '\'' for an embedded quote: read back identically by parseEnv, by a POSIX shell and by
  // the guest's claw_env_get (cloud-init/claw/lib/common.sh).
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** KEY=VALUE lines (sorted as given), newline terminated. */
export function formatEnv(entries: Array<[string, string]>, header?: string): string {
  const lines: string[] = [];
  if (header) for (const h of header.split('\n')) lines.push(`# ${h}`.trimEnd());
  for (const [k, v] of entries) {
    if (!KEY_RE.test(k)) throw new Error(`invalid variable name ${JSON.stringify(k)}`);
    lines.push(`${k}=${formatEnvValue(v)}`);
  }
  return `${lines.join('\n')}\n`;
}
