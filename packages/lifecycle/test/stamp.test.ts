/** stamp end to end on the local Azure (emulator + sandbox guest) through the real SDKs and real SSH. */
import { SpecError } from '@openclawps/config';
import { STAMP_PHASES, renderStampSummary, stamp, type StampOptions } from '@openclawps/lifecycle';
import {
  RG,
  SECRETS,
  bakeVersions,
  clawEnv,
  clawFacts,
  clients,
  reporter,
  sshRun,
  startWorld,
  writesSince,
  type TestWorld,
} from './world';

jest.setTimeout(240_000);

let w: TestWorld;
beforeAll(async () => {
  w = await startWorld();
  await bakeVersions(w, ['1.0.0', '1.1.0']);
});
afterAll(() => w?.close());

const opts = (
  claw: string,
  extra: Partial<StampOptions> = {},
  env: Record<string, string> = {},
): StampOptions => ({
  envText: clawEnv(claw, env),
  overrides: {},
  source: 'gallery',
  sshPrivateKey: w.key.privateKey,
  verifyTimeoutMs: 120_000,
  sshPort: w.sshPort,
  azure: w.azure,
  reporter: reporter(),
  ...extra,
});

test('phase list comes from the code', () => {
  expect(STAMP_PHASES).toEqual(['validate', 'preflight', 'infrastructure', 'wait-boot', 'verify']);
});

test('a bad .env is refused with every problem and no Azure request at all', async () => {
  const before = w.emu.requests.length;
  const bad = 'CLAW_NAME=Bad_Name!\nOPENCLAW_MODEL=xai/grok\nTELEGRAM_BOT_TOKEN=12345\nthis is not a line\n';
  const err = await stamp({ ...opts('x'), envText: bad }).catch((e) => e);
  expect(err).toBeInstanceOf(SpecError);
  const vars = (err as SpecError).problems.map((p) => p.variable);
  expect(vars).toEqual(
    expect.arrayContaining(['CLAW_NAME', 'TELEGRAM_BOT_TOKEN', 'XAI_API_KEY', 'TELEGRAM_USER_ID']),
  );
  expect(vars.some((v) => /:4$/.test(v))).toBe(true);
  expect(w.emu.requests.length).toBe(before);
});

test('stamp from the newest gallery version: outputs, health, no secret anywhere, then a re-run writes nothing', async () => {
  const o = opts('alice');
  const r = await stamp(o);
  expect(r).toMatchObject({ vmName: 'alice', imageVersion: '1.1.0', healthy: true, changed: true });
  expect(r.publicIp).toMatch(/^127\.0\.0\.\d+$/);
  expect(r.sshCommand).toBe(`ssh -p ${w.sshPort} azureuser@${r.publicIp}`);
  expect(r.vncUrl).toBe('vnc://localhost:5900');
  expect(r.hostKeyFingerprint).toMatch(/^SHA256:/);
  const facts = await clawFacts(w, 'alice');
  expect(r.dataDiskId).toBe(facts.dataDiskId);
  expect(facts).toMatchObject({
    version: '1.1.0',
    osDisk: 'alice-os-1-1-0',
    lun0: facts.dataDiskId,
    vmNic: facts.nicId,
    ip: r.publicIp,
  });
  expect(facts.vmTags).toMatchObject({
    'openclawps-claw': 'alice',
    'openclawps-managed-by': 'openclawps',
    'openclawps-fleet': 'default',
  });
  // the claw really booted from the image with its slim cloud-init: the secrets are on the data disk, 0600
  expect(await sshRun(w, r.publicIp, 'stat -c %a /mnt/claw-data/openclaw/.env')).toBe('600\n');
  const summary = renderStampSummary(r);
  const everything = [
    JSON.stringify(r),
    summary,
    (o.reporter as ReturnType<typeof reporter>).lines.join('\n'),
  ].join('\n');
  for (const s of [...Object.values(SECRETS), w.key.privateKey]) expect(everything).not.toContain(s);
  expect(summary).toContain('HEALTHY');

  const from = w.emu.requests.length;
  const again = await stamp(opts('alice'));
  expect(again).toMatchObject({
    changed: false,
    healthy: true,
    imageVersion: '1.1.0',
    publicIp: r.publicIp,
    dataDiskId: r.dataDiskId,
  });
  expect(writesSince(w.emu, from)).toEqual([]);
});

test('a named version is used; a missing one is refused before any write', async () => {
  const from = w.emu.requests.length;
  const err = await stamp(opts('dave', { overrides: { IMAGE_VERSION: '9.9.9' } })).catch((e) => e);
  expect(String(err.message)).toMatch(/9\.9\.9 does not exist/);
  expect(writesSince(w.emu, from)).toEqual([]);
  const r = await stamp(opts('dave', { overrides: { IMAGE_VERSION: '1.0.0' } }));
  expect(r).toMatchObject({ imageVersion: '1.0.0', healthy: true });
});

test('a name that belongs to something not ours, or to another claw, is refused before any write', async () => {
  const c = clients(w);
  await c.network.publicIPAddresses.beginCreateOrUpdateAndWait(RG, 'bob-pip', {
    location: 'eastus',
    sku: { name: 'Standard' },
    publicIPAllocationMethod: 'Static',
  });
  await c.compute.disks.beginCreateOrUpdateAndWait(RG, 'erin-data', {
    location: 'eastus',
    tags: { 'openclawps-managed-by': 'openclawps', 'openclawps-claw': 'alice' },
    diskSizeGB: 32,
    creationData: { createOption: 'Empty' },
  });
  for (const [claw, why] of [
    ['bob', /public IP 'bob-pip' exists and is not managed by OpenClawps/],
    ['erin', /disk 'erin-data' belongs to claw 'alice'/],
  ] as const) {
    const from = w.emu.requests.length;
    const err = await stamp(opts(claw)).catch((e) => e);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/nothing was changed/);
    expect(writesSince(w.emu, from)).toEqual([]);
  }
});

test('a half-built claw (network and disk, no VM) is finished', async () => {
  const { ensureDataDisk, ensurePublicIp, createAzureContext, StaticTokenCredential } =
    await import('@openclawps/azure');
  const ctx = createAzureContext({
    subscriptionId: w.emu.subscriptionId,
    credential: new StaticTokenCredential(),
    endpoint: w.emu.url,
    ca: w.emu.ca,
    pollIntervalMs: 0,
    location: 'eastus',
  });
  await ensurePublicIp(ctx, { resourceGroup: RG, claw: 'carol' });
  await ensureDataDisk(ctx, { resourceGroup: RG, claw: 'carol', sizeGB: 32, sku: 'Standard_LRS' });
  const r = await stamp(opts('carol'));
  expect(r).toMatchObject({ vmName: 'carol', changed: true, healthy: true });
  const facts = await clawFacts(w, 'carol');
  expect(facts.lun0).toBe(facts.dataDiskId);
});

test('dry run prints the plan without secrets and writes nothing', async () => {
  const from = w.emu.requests.length;
  const o = opts('frank', { dryRun: true });
  const r = await stamp(o);
  expect(r.changed).toBe(false);
  const text = (o.reporter as ReturnType<typeof reporter>).lines.join('\n');
  expect(text).toMatch(/Plan stamp frank/);
  expect(text).toMatch(/customDataBytes/);
  for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
  expect(writesSince(w.emu, from)).toEqual([]);
});

test('lifecycle verify: by claw name (Azure lookup) healthy, then failing checks become annotations', async () => {
  const { verify } = await import('@openclawps/lifecycle');
  const base = {
    clawName: 'dave',
    resourceGroup: RG,
    azure: w.azure,
    port: w.sshPort,
    username: 'azureuser',
    privateKey: w.key.privateKey,
    timeoutMs: 60_000,
    reporter: reporter(),
  };
  const ok = await verify(base);
  expect(ok).toMatchObject({ healthy: true, failedChecks: [], annotations: [] });
  expect(ok.report.claw).toBe('dave');
  expect(ok.markdown).toMatch(/Verify `dave`: HEALTHY/);
  const facts = await clawFacts(w, 'dave');
  await sshRun(w, facts.ip!, 'rm -f /mnt/claw-data/.claw-initialized');
  const bad = await verify({ ...base, clawName: undefined, host: facts.ip });
  expect(bad.healthy).toBe(false);
  expect(bad.failedChecks).toContain('disk.initialized');
  expect(bad.annotations.map((a) => a.title).join('\n')).toMatch(/disk failed/);
  expect(bad.markdown).toMatch(/UNHEALTHY/);
  const err = await verify({ ...base, clawName: 'nobody' }).catch((e) => e);
  expect(err.message).toMatch(/no public IP/);
});
