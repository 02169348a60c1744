/**
 * Secret-leak scan: every action run with distinctive secret values; stdout, stderr, GITHUB_OUTPUT, the step
 * summary, the dry-run plan and the baked image content must not contain any of them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assert, assertEqual, group, test } from './lib/runner';
import {
  azureInputs,
  bakeVersion,
  clawEnv,
  distDir,
  envText,
  runAction,
  startWorld,
  type ActionRun,
  type World,
} from './lib/world';

let w: World;

const SECRETS = {
  XAI_API_KEY: 'xai-LeakCanaryQ7w9Zr2LmWp8TcYbFd6Js',
  TELEGRAM_BOT_TOKEN: '7999999999:AAleakCanaryTok3nQv9xZr2LmWp8TcYbFd',
  OPENAI_API_KEY: 'sk-leakCanaryOpenAi0000Zr2LmWp8TcYbFd6J',
  VNC_PASSWORD: 'vncLeakCanary77',
};
const ROTATED = { ...SECRETS, XAI_API_KEY: 'xai-RotatedCanary5x8Zr2LmWp8TcYbFd6Js' };

function needles(): string[] {
  const keyBody = w.key.privateKey
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .map((l) => l.trim())
    .filter((l) => l.length >= 20);
  return [...Object.values(SECRETS), ROTATED.XAI_API_KEY, ...keyBody];
}

function hits(where: string, text: string): string[] {
  return needles()
    .filter((n) => text.includes(n))
    .map((n) => `${where} contains ${n.slice(0, 6)}…`);
}

/** `::add-mask::` lines are the mask commands the runner consumes (never displayed); everything else is scanned. */
const shown = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

function scanRun(label: string, r: ActionRun): string[] {
  return [
    ...hits(`${label} stdout`, shown(r.stdout)),
    ...hits(`${label} stderr`, r.stderr),
    ...hits(`${label} GITHUB_OUTPUT`, r.outputFile),
    ...hits(`${label} summary`, r.summary),
  ];
}

function scanTree(dir: string): string[] {
  const found: string[] = [];
  if (!existsSync(dir)) return found;
  const list = needles();
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (!st.isFile() || st.size > 5_000_000) continue;
    const text = readFileSync(p, 'latin1');
    for (const n of list) if (text.includes(n)) found.push(`${f} contains ${n.slice(0, 6)}…`);
  }
  return found;
}

const stampInputs = (claw: string, secrets = SECRETS) => ({
  ...azureInputs(w),
  'claw-name': claw,
  'resource-group': 'rg-rel',
  env: envText(clawEnv(claw, secrets)),
  'ssh-private-key': w.key.privateKey,
  'verify-timeout-seconds': '120',
});

group('secret-leak scan (every action, distinctive secrets)', (g) => {
  g.setup(async () => {
    w = await startWorld({ latencyScale: 0 });
    await bakeVersion(w, '1.0.0');
    await bakeVersion(w, '1.1.0');
  });
  g.teardown(async () => w?.close());
  if (!existsSync(join(distDir(), 'lib/index.js')))
    g.skip(`no built bundles in ${distDir()} (npm run build)`);

  test('stamp --dry-run: the printed plan holds no secret', async () => {
    const r = await runAction('stamp', { ...stampInputs('leaky'), 'dry-run': 'true' }, w);
    assertEqual(r.code, 0, `dry run exits 0: ${r.stderr.slice(-300)}`);
    assert(/plan|stage/i.test(r.stdout), 'the plan was printed');
    assertEqual(scanRun('stamp dry-run', r), [], 'leaks');
  });

  test('stamp: outputs, logs and summary hold no secret', async () => {
    const r = await runAction('stamp', stampInputs('leaky'), w);
    assertEqual(r.code, 0, `stamp exits 0: ${(r.stdout + r.stderr).slice(-500)}`);
    assertEqual(scanRun('stamp', r), [], 'leaks');
  });

  test('verify: outputs, logs and summary hold no secret', async () => {
    const r = await runAction(
      'verify',
      {
        ...azureInputs(w),
        'claw-name': 'leaky',
        'resource-group': 'rg-rel',
        port: String(w.sshPort),
        'ssh-private-key': w.key.privateKey,
      },
      w,
    );
    assertEqual(r.code, 0, `verify exits 0: ${(r.stdout + r.stderr).slice(-500)}`);
    assertEqual(scanRun('verify', r), [], 'leaks');
  });

  test('upgrade with secret rotation: outputs, logs and summary hold no secret', async () => {
    const r = await runAction(
      'upgrade',
      {
        ...azureInputs(w),
        'claw-name': 'leaky',
        'resource-group': 'rg-rel',
        'image-version': '1.1.0',
        env: envText(clawEnv('leaky', ROTATED)),
        'ssh-private-key': w.key.privateKey,
        'verify-timeout-seconds': '120',
      },
      w,
    );
    assertEqual(r.code, 0, `upgrade exits 0: ${(r.stdout + r.stderr).slice(-500)}`);
    assertEqual(scanRun('upgrade', r), [], 'leaks');
  });

  test('bake capturing the claw (source-vm): logs clean, and the image content holds no secret', async () => {
    const r = await runAction(
      'bake',
      {
        ...azureInputs(w),
        version: '1.2.0',
        'resource-group': 'rg-rel',
        location: 'eastus',
        'source-vm': 'leaky',
        'ssh-private-key': w.key.privateKey,
        'secret-values': Object.values(ROTATED).join('\n'),
      },
      w,
    );
    const leaks = scanRun('bake', r);
    if (r.code === 0) leaks.push(...scanTree(join(w.guest.workdir, 'images')).map((l) => `image ${l}`));
    else
      assert(
        /secret|scan|refus/i.test(r.stdout + r.stderr),
        `bake either captures a clean image or refuses on the scan: ${(r.stdout + r.stderr).slice(-500)}`,
      );
    assertEqual(leaks, [], 'leaks');
  });

  test('bake from scratch: the image content holds no secret', async () => {
    const r = await runAction(
      'bake',
      {
        ...azureInputs(w),
        version: '1.3.0',
        'resource-group': 'rg-rel',
        location: 'eastus',
        profile: 'minimal',
        'secret-values': Object.values(SECRETS).join('\n'),
      },
      w,
    );
    assertEqual(r.code, 0, `bake exits 0: ${(r.stdout + r.stderr).slice(-500)}`);
    assertEqual(
      [...scanRun('bake', r), ...scanTree(join(w.guest.workdir, 'images')).map((l) => `image ${l}`)],
      [],
      'leaks',
    );
  });
});
