/** `openclawps render`: valid specs write the four files; invalid ones exit 2, list every problem, write nothing. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { main } from '../src/main';

const GOOD = [
  'CLAW_NAME=alice',
  'OPENCLAW_MODEL=anthropic/claude-sonnet-4-5',
  "ANTHROPIC_API_KEY='sk-ant-api03-Qw8Zr2Lm9Xv4Tp7Kc1Hd5Jf3Gs6Ae0Bn'",
  'TELEGRAM_BOT_TOKEN=7012345678:AAHk3nQv9xZr2LmWp8TcYbFd6JsGe1UoRiA',
  'TELEGRAM_USER_ID=5551234567',
].join('\n');

function capture(): { out: string[]; restore(): void } {
  const out: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((c) => (out.push(String(c)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((c) => (out.push(String(c)), true));
  return { out, restore: () => (o.mockRestore(), e.mockRestore()) };
}

test('writes cloud-init (owner-only), slim cloud-init, openclaw.json and exec-approvals.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'render-'));
  writeFileSync(join(dir, 'alice.env'), GOOD);
  const out = join(dir, 'out');
  const c = capture();
  const code = await main(['render', '--env', join(dir, 'alice.env'), '--out', out]).finally(c.restore);
  expect(code).toBe(0);
  expect(readdirSync(out).sort()).toEqual([
    'cloud-init-slim.yaml',
    'cloud-init.yaml',
    'exec-approvals.json',
    'openclaw.json',
  ]);
  expect(statSync(join(out, 'cloud-init-slim.yaml')).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(out, 'cloud-init-slim.yaml'), 'utf8').startsWith('#cloud-config')).toBe(true);
  const slim = YAML.parse(readFileSync(join(out, 'cloud-init-slim.yaml'), 'utf8'));
  expect(slim.write_files.map((f: { path: string }) => f.path)).toContain('/etc/claw/claw.env');
  const config = JSON.parse(readFileSync(join(out, 'openclaw.json'), 'utf8'));
  expect(config.gateway).toMatchObject({ mode: 'local', bind: 'loopback', port: 18789 });
  expect(JSON.stringify(config)).not.toContain('sk-ant-api03');
});

test('an invalid .env exits 2 with every problem and writes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'render-'));
  writeFileSync(
    join(dir, 'bad.env'),
    [
      'CLAW_NAME=Bad_Name!',
      'OPENCLAW_MODEL=openai/gpt-5',
      'TELEGRAM_BOT_TOKEN=123456789:ABCdefGHIjklMNOpqrsTUVwxyz0123456789',
      'this line is not an assignment',
    ].join('\n'),
  );
  const out = join(dir, 'out');
  const c = capture();
  const code = await main(['render', '--env', join(dir, 'bad.env'), '--out', out]).finally(c.restore);
  expect(code).toBe(2);
  const text = c.out.join('');
  for (const v of ['CLAW_NAME', 'OPENAI_API_KEY', 'TELEGRAM_BOT_TOKEN', 'TELEGRAM_USER_ID', 'bad.env:4'])
    expect(text).toContain(v);
  expect(existsSync(out)).toBe(false);
});
