/**
 * The stamp, verify and upgrade bundles (dist/<name>/index.js) run as the Actions runner runs them: a child
 * process with INPUT_* variables, against an emulator (+ sandbox guest) started here, trusting its CA through
 * NODE_EXTRA_CA_CERTS, auth static. Outputs and summaries are asserted, and stdout, GITHUB_OUTPUT and the
 * summary are scanned for every secret value (the runner's own ::add-mask:: commands excepted).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayToken, loadSpec } from '@openclawps/config';
import {
  bakeVersions,
  clawEnv,
  clawFacts,
  SECRETS,
  sshRun,
  startWorld,
  type TestWorld,
} from '../../packages/lifecycle/test/world';
import { repoRoot, runBundle, type BundleRun } from '../helpers/bundle';

jest.setTimeout(300_000);

const built = ['stamp', 'upgrade', 'verify'].every((n) => existsSync(join(repoRoot, 'dist', n, 'index.js')));
const d = built ? describe : describe.skip;
if (!built) console.warn('SKIP lifecycle bundles: run `npm run build` first');

let w: TestWorld;
let caFile: string;
const env = clawEnv('alice');

beforeAll(async () => {
  if (!built) return;
  w = await startWorld();
  await bakeVersions(w, ['1.0.0', '1.1.0']);
  caFile = join(mkdtempSync(join(tmpdir(), 'lc-ca-')), 'ca.pem');
  writeFileSync(caFile, w.emu.ca);
});
afterAll(() => w?.close());

const azureInputs = () => ({
  'subscription-id': w.emu.subscriptionId,
  auth: 'static',
  'arm-endpoint': w.emu.url,
});

const run = (name: string, inputs: Record<string, string>) =>
  runBundle(name, inputs, { env: { NODE_EXTRA_CA_CERTS: caFile }, timeoutMs: 240_000 });

function secretValues(): string[] {
  const spec = loadSpec(env);
  const keyLines = w.key.privateKey.split('\n').filter((l) => l.length >= 20 && !l.startsWith('-----'));
  return [...Object.values(SECRETS), gatewayToken(spec), w.key.privateKey, ...keyLines];
}

function expectNoSecrets(r: BundleRun): void {
  const stdout = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  for (const s of secretValues()) {
    expect(stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
    expect(r.outputFile).not.toContain(s);
    expect(r.summary).not.toContain(s);
  }
}

let publicIp = '';

d('lifecycle action bundles', () => {
  test('dist/stamp creates a healthy claw and sets every output', async () => {
    const r = await run('stamp', {
      'claw-name': 'alice',
      env,
      'resource-group': 'rg-claws',
      'image-version': '1.0.0',
      'ssh-private-key': w.key.privateKey,
      'ssh-port': String(w.sshPort),
      'verify-timeout-seconds': '120',
      ...azureInputs(),
    });
    expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    const facts = await clawFacts(w, 'alice');
    expect(r.outputs).toMatchObject({
      'vm-name': 'alice',
      'public-ip': facts.ip,
      'ssh-command': `ssh -p ${w.sshPort} azureuser@${facts.ip}`,
      'vnc-url': 'vnc://localhost:5900',
      'image-version': '1.0.0',
      'data-disk-id': facts.dataDiskId,
    });
    expect(r.outputs['host-key-fingerprint']).toMatch(/^SHA256:/);
    expect(r.summary).toMatch(/Stamp `alice`: HEALTHY/);
    expectNoSecrets(r);
    publicIp = facts.ip!;
    await sshRun(w, publicIp, 'echo bundle-marker > /mnt/claw-data/workspace/marker.txt');
  });

  test('dist/verify by host and by claw name (Azure lookup): outputs, summary', async () => {
    const byHost = await run('verify', {
      host: publicIp,
      port: String(w.sshPort),
      'ssh-private-key': w.key.privateKey,
      'timeout-seconds': '60',
    });
    expect(byHost.code).toBe(0);
    expect(byHost.outputs.healthy).toBe('true');
    expect(byHost.outputs['failed-checks']).toBe('');
    expect(JSON.parse(byHost.outputs.report)).toMatchObject({ claw: 'alice', healthy: true });
    expect(byHost.summary).toMatch(/Verify `alice`: HEALTHY/);
    expectNoSecrets(byHost);
    const byName = await run('verify', {
      'claw-name': 'alice',
      'resource-group': 'rg-claws',
      port: String(w.sshPort),
      'ssh-private-key': w.key.privateKey,
      'timeout-seconds': '60',
      ...azureInputs(),
    });
    expect(byName.code).toBe(0);
    expect(byName.outputs.healthy).toBe('true');
    expectNoSecrets(byName);
  });

  test('dist/upgrade moves alice to 1.1.0 keeping disk, IP and content', async () => {
    const before = await clawFacts(w, 'alice');
    const r = await run('upgrade', {
      'claw-name': 'alice',
      'resource-group': 'rg-claws',
      'image-version': '1.1.0',
      'ssh-private-key': w.key.privateKey,
      'ssh-port': String(w.sshPort),
      'verify-timeout-seconds': '120',
      ...azureInputs(),
    });
    expect({ code: r.code, stderr: r.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.outputs).toMatchObject({
      'previous-version': '1.0.0',
      version: '1.1.0',
      'rolled-back': 'false',
    });
    expect(Number(r.outputs['downtime-seconds'])).toBeGreaterThan(0);
    expect(r.summary).toMatch(/1\.0\.0 → 1\.1\.0: UPGRADED/);
    expectNoSecrets(r);
    const after = await clawFacts(w, 'alice');
    expect(after).toMatchObject({
      version: '1.1.0',
      dataDiskId: before.dataDiskId,
      nicId: before.nicId,
      ip: before.ip,
    });
    expect(await sshRun(w, publicIp, 'cat /mnt/claw-data/workspace/marker.txt')).toBe('bundle-marker\n');
  });

  test('dist/stamp with a bad .env fails before any Azure request, naming the fields', async () => {
    const from = w.emu.requests.length;
    const r = await run('stamp', {
      'claw-name': 'bob',
      env: 'TELEGRAM_BOT_TOKEN=nope\nXAI_API_KEY=\n',
      'ssh-private-key': w.key.privateKey,
      ...azureInputs(),
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/TELEGRAM_BOT_TOKEN/);
    expect(r.stdout).toMatch(/TELEGRAM_USER_ID/);
    expect(w.emu.requests.length).toBe(from);
  });
});
