/** bake on the local Azure (emulator + sandbox guest): the real flow through the real SDKs and real SSH. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BakeError,
  BAKE_PHASES,
  bake,
  builderResourceGroup,
  stamp,
  type BakeOptions,
} from '@openclawps/lifecycle';
import { RG, clawEnv, clients, reporter, sshRun, startWorld, writesSince, type TestWorld } from './world';

jest.setTimeout(300_000);

let w: TestWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(() => w?.close());

const opts = (version: string, extra: Partial<BakeOptions> = {}): BakeOptions => ({
  version,
  resourceGroup: RG,
  location: 'eastus',
  gallery: 'clawGallery',
  imageDefinition: 'claw-base',
  profile: 'minimal',
  builderSize: 'Standard_D2s_v3',
  targetRegions: [],
  replicaCount: 1,
  excludeFromLatest: false,
  secretValues: [],
  cloudInitTimeoutMs: 120_000,
  sshPort: w.sshPort,
  azure: w.azure,
  reporter: reporter(),
  ...extra,
});

async function resourceGroups(): Promise<string[]> {
  const { ResourceManagementClient } = await import('@azure/arm-resources');
  const { StaticTokenCredential } = await import('@openclawps/azure');
  const rm = new ResourceManagementClient(new StaticTokenCredential(), w.emu.subscriptionId, {
    endpoint: w.emu.url,
    tlsOptions: { ca: w.emu.ca },
  });
  const out: string[] = [];
  for await (const g of rm.resourceGroups.list()) out.push(g.name ?? '');
  return out;
}

function updatesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'bake-updates-'));
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), content, { mode: 0o755 });
  return dir;
}

test('the phase list is the code’s own', () => {
  expect(BAKE_PHASES[0]).toBe('validate');
  expect(BAKE_PHASES).toEqual(
    expect.arrayContaining(['secret-scan', 'deprovision', 'generalize', 'image-version', 'cleanup']),
  );
});

test('bake from scratch publishes x.y.z, tags its migrations, deletes the builder; the image is clean and boots', async () => {
  const extra = updatesDir({ '900-team-tools.sh': '#!/usr/bin/env bash\necho team tools >/dev/null\n' });
  const r = await bake(opts('1.0.0', { extraUpdatesDir: extra }));
  expect(r.imageVersionId).toMatch(/\/galleries\/clawGallery\/images\/claw-base\/versions\/1\.0\.0$/);
  expect(r.timeline.map((t) => t.phase)).toEqual(BAKE_PHASES);
  expect(await resourceGroups()).not.toContain(builderResourceGroup('1.0.0'));
  const v = await clients(w).compute.galleryImageVersions.get(RG, 'clawGallery', 'claw-base', '1.0.0');
  expect(v.tags?.['openclawps-migrations']).toMatch(/^001,.*900$/);

  // what bake produced really boots as a claw: stamp one and look inside
  const s = await stamp({
    envText: clawEnv('imgcheck', { IMAGE_VERSION: '1.0.0', PROFILE: 'minimal' }),
    overrides: {},
    source: 'gallery',
    sshPrivateKey: w.key.privateKey,
    verifyTimeoutMs: 120_000,
    sshPort: w.sshPort,
    azure: w.azure,
    reporter: reporter(),
  });
  expect(s.healthy).toBe(true);
  const inside = await sshRun(
    w,
    s.publicIp,
    'jq -r .version,.profile $CLAW_ROOT/opt/claw/image.json; ls $CLAW_ROOT/opt/claw/updates; grep -c 900-team-tools $CLAW_ROOT/mnt/claw-data/migrations/applied',
  );
  expect(inside.split('\n')).toEqual(expect.arrayContaining(['1.0.0', 'minimal', '900-team-tools.sh', '1']));
});

test('invalid inputs are all reported before any Azure request', async () => {
  const from = w.emu.requests.length;
  const bad = updatesDir({ '1-short.sh': 'echo\n', '001-dup.sh': '#!/bin/sh\n' });
  let err: BakeError | undefined;
  await bake(
    opts('v1.2.3', { gallery: 'bad gallery!', replicaCount: 0, location: 'East US', extraUpdatesDir: bad }),
  ).catch((e) => (err = e));
  expect(err).toBeInstanceOf(BakeError);
  const text = err?.message ?? '';
  for (const word of [
    'version',
    'gallery',
    'replica-count',
    'location',
    '1-short.sh',
    '001-dup.sh reuses number 001',
  ])
    expect(text).toContain(word);
  expect(w.emu.requests.length).toBe(from);
});

test('a version that already exists is refused before any write', async () => {
  const from = w.emu.requests.length;
  await expect(bake(opts('1.0.0'))).rejects.toThrow(/already exists .*immutable/);
  expect(writesSince(w.emu, from)).toEqual([]);
});

test('the secret scan refuses to capture a disk holding a configured secret; the builder is deleted anyway', async () => {
  const secret = 'sk-live-Qm7Hx2Vt9Lp4Zr8Kb3Nw';
  const leaky = updatesDir({ '950-leak.sh': `#!/usr/bin/env bash\n# oops: API_KEY=${secret}\n` });
  const rep = reporter();
  let err: BakeError | undefined;
  await bake(opts('1.1.0', { extraUpdatesDir: leaky, secretValues: [secret], reporter: rep })).catch(
    (e) => (err = e),
  );
  expect(err?.message).toMatch(/refusing to capture: the secret scan found 1 secret/);
  expect(err?.message).toContain('/opt/claw/updates/950-leak.sh (configured-secret-value)');
  expect(err?.message).not.toContain(secret);
  expect(rep.lines.join('\n')).not.toContain(secret);
  expect(await resourceGroups()).not.toContain(builderResourceGroup('1.1.0'));
  await expect(
    clients(w).compute.galleryImageVersions.get(RG, 'clawGallery', 'claw-base', '1.1.0'),
  ).rejects.toMatchObject({
    statusCode: 404,
  });
});

test('an image version whose creation fails leaves no builder behind, and a re-run publishes it', async () => {
  w.emu.faults.add({
    match: { operation: /galleries\/images\/versions\/write/i },
    kind: 'lroFailed',
    code: 'InternalOperationError',
    message: 'replication backend unavailable',
  });
  await expect(bake(opts('1.2.0'))).rejects.toThrow(/InternalOperationError/);
  expect(await resourceGroups()).not.toContain(builderResourceGroup('1.2.0'));
  w.emu.faults.clear();
  const again = await bake(opts('1.2.0'));
  expect(again.imageVersionId).toMatch(/versions\/1\.2\.0$/);
});

test('dry run describes the bake and changes nothing', async () => {
  const rep = reporter();
  const from = w.emu.requests.length;
  const r = await bake(
    opts('2.0.0', { dryRun: true, reporter: rep, targetRegions: ['westeurope'], excludeFromLatest: true }),
  );
  expect(r.imageVersionId).toBe('');
  const text = rep.lines.join('\n');
  expect(text).toMatch(/dry run, nothing changed/);
  expect(text).toMatch(/regions eastus, westeurope, 1 replica\(s\) each, excludeFromLatest true/);
  expect(writesSince(w.emu, from)).toEqual([]);
});
