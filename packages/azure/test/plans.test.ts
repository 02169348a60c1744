/**
 * Stamp- and capture-shaped plans end to end through the real SDKs against the emulator, with
 * concurrency, 429 storms, failures and an http endpoint.
 */
import {
  capturePlan,
  createAzureContext,
  createImageVersion,
  createSnapshot,
  deleteVm,
  ensureGallery,
  ensureImageDefinition,
  getImageVersion,
  updateImageVersion,
  updateVm,
  waitForReplication,
  describePlan,
  ensureResourceGroup,
  executePlan,
  getVm,
  ids,
  resolveLatestImageVersion,
  stampInfrastructurePlan,
  StaticTokenCredential,
  UBUNTU_2404,
  type PlanEvent,
  type StampPlanParams,
} from '@openclawps/azure';
import { LOCATION, SSH_KEY, startHarness, type Harness } from './helpers/emu';

function stampParams(rg: string, claw: string, extra: Partial<StampPlanParams> = {}): StampPlanParams {
  return {
    resourceGroup: rg,
    location: LOCATION,
    claw,
    image: UBUNTU_2404,
    vmSize: 'Standard_B2s',
    dataDiskSizeGB: 16,
    adminUsername: 'azureuser',
    sshPublicKeys: [SSH_KEY],
    adminPassword: 'Sup3r-secret-pw!',
    customData:
      '#cloud-config\nwrite_files: [{path: /etc/claw/claw.env, content: "TELEGRAM_BOT_TOKEN=123:abc"}]\n',
    sshSourceCidrs: ['203.0.113.0/24'],
    imageVersion: '1.0.0',
    ...extra,
  };
}

type StepEnd = Extract<PlanEvent, { type: 'step-end' }>;
const ends = (events: PlanEvent[]) =>
  Object.fromEntries(events.filter((e): e is StepEnd => e.type === 'step-end').map((e) => [e.stepId, e]));
const overlap = (a: StepEnd, b: StepEnd) => a.startT < b.endT && b.startT < a.endT;

describe('plans against the emulator (latency on)', () => {
  let h: Harness;
  beforeAll(async () => {
    // a small latency scale so that operations take real time and overlap is observable
    h = await startHarness({ latencyScale: 0.002 });
  });
  afterAll(async () => h?.close());

  it('stamp plan: RG → network ‖ IP ‖ disk → NIC → VM, concurrently, then a re-run writes nothing', async () => {
    const plan = stampInfrastructurePlan(stampParams('rg-stamp', 'alice'));
    const { text, json } = describePlan(plan);
    expect(json.levels).toEqual([['resource-group'], ['network', 'public-ip', 'data-disk'], ['nic'], ['vm']]);
    expect(text).not.toMatch(/Sup3r-secret-pw|TELEGRAM_BOT_TOKEN|123:abc/);
    expect(JSON.stringify(json)).not.toMatch(/Sup3r-secret-pw|TELEGRAM_BOT_TOKEN/);
    expect(json.steps.find((s) => s.id === 'vm')?.details).toMatchObject({
      passwordAuth: true,
      customDataBytes: Buffer.byteLength(stampParams('rg-stamp', 'alice').customData!),
    });

    const events: PlanEvent[] = [];
    const res = await executePlan(plan, { context: h.ctx, concurrency: 4, onEvent: (e) => events.push(e) });
    expect(res.errors).toEqual([]);
    expect(res.status).toBe('succeeded');
    const e = ends(events);
    expect(overlap(e['network'], e['public-ip'])).toBe(true);
    expect(overlap(e['public-ip'], e['data-disk'])).toBe(true);
    expect(e['nic'].startT).toBeGreaterThanOrEqual(Math.max(e['network'].endT, e['public-ip'].endT));
    expect(e['vm'].startT).toBeGreaterThanOrEqual(Math.max(e['nic'].endT, e['data-disk'].endT));
    const vm = await getVm(h.ctx, 'rg-stamp', 'alice');
    expect(vm?.provisioningState).toBe('Succeeded');
    expect(vm?.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(false);

    h.resetRequests();
    const again = await executePlan(plan, { context: h.ctx, concurrency: 4 });
    expect(again.status).toBe('succeeded');
    expect(h.writes()).toEqual([]);
    for (const id of ['resource-group', 'network', 'public-ip', 'data-disk', 'nic', 'vm'])
      expect((again.results.get(id) as { action: string }).action).toBe('unchanged');
  });

  it('a failing step cancels its dependants cleanly while independent steps finish', async () => {
    await ensureResourceGroup(h.ctx, { name: 'rg-fail', location: LOCATION });
    h.emu.faults.add({
      kind: 'status',
      status: 400,
      code: 'InvalidParameter',
      message: 'The public IP address name is not allowed.',
      match: { method: 'PUT', path: 'publicIPAddresses/bob-pip' },
      times: -1,
    });
    const events: PlanEvent[] = [];
    const res = await executePlan(stampInfrastructurePlan(stampParams('rg-fail', 'bob')), {
      context: h.ctx,
      onEvent: (e) => events.push(e),
    });
    h.emu.faults.clear();
    expect(res.status).toBe('failed');
    expect(res.steps['public-ip'].status).toBe('failed');
    expect(res.steps['public-ip'].error?.code).toBe('InvalidParameter');
    expect(res.steps['public-ip'].error?.statusCode).toBe(400);
    expect(res.steps['nic'].status).toBe('skipped');
    expect(res.steps['vm'].status).toBe('skipped');
    expect(res.steps['network'].status).toBe('succeeded');
    expect(res.steps['data-disk'].status).toBe('succeeded');
    expect(await getVm(h.ctx, 'rg-fail', 'bob')).toBeUndefined();
    // a fixed world converges on re-run
    const rerun = await executePlan(stampInfrastructurePlan(stampParams('rg-fail', 'bob')), {
      context: h.ctx,
    });
    expect(rerun.status).toBe('succeeded');
  });

  it('a step timeout aborts the SDK poller; a re-run converges', async () => {
    // infrastructure first (without a step timeout), then the VM alone again under a 20 ms timeout;
    // the VM create takes ~180 ms at this latency scale
    await executePlan(stampInfrastructurePlan(stampParams('rg-slow', 'ian')), { context: h.ctx });
    await deleteVm(h.ctx, { resourceGroup: 'rg-slow', name: 'ian' });
    const plan = stampInfrastructurePlan(stampParams('rg-slow', 'ian'));
    const vmStep = plan.steps.find((s) => s.id === 'vm')!;
    vmStep.timeoutMs = 20;
    const res = await executePlan(plan, { context: h.ctx });
    expect(res.steps.vm.status).toBe('failed');
    expect(res.steps.vm.error?.code).toBe('StepTimeout');
    const again = await executePlan(stampInfrastructurePlan(stampParams('rg-slow', 'ian')), {
      context: h.ctx,
    });
    expect(again.errors).toEqual([]);
    expect(again.status).toBe('succeeded');
  });

  it('capture plan: (deallocate → generalize) ‖ (gallery → definition) → version → replication, then stamp from it', async () => {
    await executePlan(
      stampInfrastructurePlan(stampParams('rg-bake', 'builder', { imageVersion: undefined })),
      {
        context: h.ctx,
      },
    );
    const progress: string[] = [];
    const plan = capturePlan({
      resourceGroup: 'rg-bake',
      vmName: 'builder',
      claw: 'builder',
      location: LOCATION,
      version: '2.0.0',
      targetRegions: [{ name: LOCATION }, { name: 'swedencentral', replicaCount: 2 }],
      excludeFromLatest: false,
      deleteSourceVm: true,
      onProgress: (p) => progress.push(p.regions.map((r) => `${r.region}:${r.state}`).join(',')),
    });
    expect(describePlan(plan).json.levels).toEqual([
      ['deallocate', 'gallery'],
      ['generalize', 'image-definition'],
      ['image-version'],
      ['replication'],
      ['delete-source'],
    ]);
    const events: PlanEvent[] = [];
    const res = await executePlan(plan, { context: h.ctx, onEvent: (e) => events.push(e) });
    expect(res.errors).toEqual([]);
    expect(res.status).toBe('succeeded');
    const e = ends(events);
    expect(overlap(e['deallocate'], e['gallery'])).toBe(true);
    expect(progress[progress.length - 1]).toMatch(/Completed.*Completed/);
    expect(await getVm(h.ctx, 'rg-bake', 'builder')).toBeUndefined();
    const latest = await resolveLatestImageVersion(h.ctx, {
      resourceGroup: 'rg-bake',
      gallery: 'clawGallery',
      definition: 'claw-base',
    });
    expect(latest?.version).toBe('2.0.0');

    const stamp = await executePlan(
      stampInfrastructurePlan(
        stampParams('rg-bake', 'carol', {
          image: { type: 'gallery', id: latest!.id },
          imageVersion: '2.0.0',
        }),
      ),
      { context: h.ctx },
    );
    expect(stamp.status).toBe('succeeded');
    const vm = await getVm(h.ctx, 'rg-bake', 'carol');
    expect(vm?.storageProfile?.imageReference?.id?.toLowerCase()).toBe(
      ids.imageVersion(h.ctx.subscriptionId, 'rg-bake', 'clawGallery', 'claw-base', '2.0.0').toLowerCase(),
    );
  });
});

describe('latest while a version is still being created or replicated', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ latencyScale: 0.0005 });
  });
  afterAll(async () => h?.close());

  it('skips a version that is not yet created, and one not yet replicated to the region', async () => {
    const rg = 'rg-latest';
    const ref = { resourceGroup: rg, gallery: 'clawGallery', definition: 'claw-base' };
    await executePlan(stampInfrastructurePlan(stampParams(rg, 'src', { imageVersion: undefined })), {
      context: h.ctx,
    });
    const osDiskId = (await getVm(h.ctx, rg, 'src'))!.storageProfile!.osDisk!.managedDisk!.id!;
    const snap = await createSnapshot(h.ctx, {
      resourceGroup: rg,
      claw: 'src',
      sourceDiskId: osDiskId,
      name: 'src-os',
      incremental: false,
    });
    await ensureGallery(h.ctx, { resourceGroup: rg, name: ref.gallery });
    await ensureImageDefinition(h.ctx, { resourceGroup: rg, gallery: ref.gallery, name: ref.definition });
    const source = { snapshotId: snap.resource.id! };
    await createImageVersion(h.ctx, { ...ref, version: '3.0.0', source });

    // 3.1.0 is being created (two regions, one after the other): not "latest" yet anywhere
    const creating = createImageVersion(h.ctx, {
      ...ref,
      version: '3.1.0',
      source,
      targetRegions: [{ name: LOCATION }, { name: 'swedencentral' }],
    });
    let seen: string | undefined;
    for (let i = 0; i < 200 && !seen; i++) {
      seen = (await getImageVersion(h.ctx, { ...ref, version: '3.1.0' }))?.provisioningState;
      if (!seen) await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toBe('Creating');
    expect((await resolveLatestImageVersion(h.ctx, ref, { region: LOCATION }))?.version).toBe('3.0.0');
    await creating;
    expect((await resolveLatestImageVersion(h.ctx, ref, { region: LOCATION }))?.version).toBe('3.1.0');

    // adding a region: usable where replicated, not (yet) in the new region
    const adding = updateImageVersion(
      h.ctx,
      { ...ref, version: '3.1.0' },
      {
        targetRegions: [{ name: LOCATION }, { name: 'swedencentral' }, { name: 'norwayeast' }],
      },
    );
    let state: string | undefined;
    for (let i = 0; i < 200 && state !== 'Updating'; i++) {
      state = (await getImageVersion(h.ctx, { ...ref, version: '3.1.0' }))?.provisioningState;
      if (state !== 'Updating') await new Promise((r) => setTimeout(r, 5));
    }
    expect(state).toBe('Updating');
    expect((await resolveLatestImageVersion(h.ctx, ref, { region: 'norwayeast' }))?.version).toBeUndefined();
    expect((await resolveLatestImageVersion(h.ctx, ref, { region: LOCATION }))?.version).toBe('3.1.0');
    await adding;
    const progress: string[] = [];
    await waitForReplication(
      h.ctx,
      { ...ref, version: '3.1.0' },
      { onProgress: (p) => progress.push(p.aggregatedState ?? '') },
    );
    expect(progress[progress.length - 1]).toBe('Completed');
    expect((await resolveLatestImageVersion(h.ctx, ref, { region: 'norwayeast' }))?.version).toBe('3.1.0');
  });

  it('capture from the OS disk only keeps a claw’s data disk out of the image', async () => {
    const rg = 'rg-osdisk';
    await executePlan(stampInfrastructurePlan(stampParams(rg, 'dora')), { context: h.ctx });
    const plan = capturePlan({
      resourceGroup: rg,
      vmName: 'dora',
      claw: 'dora',
      location: LOCATION,
      version: '4.0.0',
      captureFrom: 'os-disk',
    });
    expect(describePlan(plan).json.levels).toEqual([
      ['deallocate', 'gallery'],
      ['generalize', 'image-definition'],
      ['snapshot-os'],
      ['image-version'],
      ['replication'],
    ]);
    const res = await executePlan(plan, { context: h.ctx });
    expect(res.errors).toEqual([]);
    const v = (await getImageVersion(h.ctx, {
      resourceGroup: rg,
      gallery: 'clawGallery',
      definition: 'claw-base',
      version: '4.0.0',
    }))!;
    expect(v.storageProfile?.osDiskImage?.source?.id).toMatch(/snapshots\/dora-os-capture-4-0-0$/i);
    expect(v.storageProfile?.dataDiskImages ?? []).toEqual([]);
    expect(v.storageProfile?.source?.virtualMachineId).toBeUndefined();
  });
});

describe('retries under 429 storms', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ retry: { maxRetries: 3 } });
  });
  afterAll(async () => h?.close());

  it('the SDK rides out a short storm (retry-after-ms honoured)', async () => {
    h.emu.faults.add({
      kind: 'status',
      status: 429,
      retryAfterMs: 5,
      match: { method: 'PUT', path: 'resourcegroups/rg-storm1' },
      times: 3,
    });
    const r = await ensureResourceGroup(h.ctx, { name: 'rg-storm1', location: LOCATION });
    expect(r.action).toBe('created');
    const hits = h.emu.requests.filter((q) => q.method === 'PUT' && /rg-storm1$/i.test(q.path));
    expect(hits.map((q) => q.status)).toEqual([429, 429, 429, 201]);
  });

  it('the executor retries when the SDK gives up, and reports each retry', async () => {
    h.emu.faults.add({
      kind: 'status',
      status: 429,
      retryAfterMs: 5,
      match: { method: 'PUT', path: 'resourcegroups/rg-storm2' },
      times: 6,
    });
    const events: PlanEvent[] = [];
    const res = await executePlan(
      {
        name: 'storm',
        steps: [
          {
            id: 'rg',
            title: 'ensure rg-storm2',
            kind: 'write',
            run: ({ context }, signal) =>
              ensureResourceGroup(context, { name: 'rg-storm2', location: LOCATION }, { signal }),
          },
        ],
      },
      { context: h.ctx, retries: 3, onEvent: (e) => events.push(e) },
    );
    expect(res.status).toBe('succeeded');
    const retries = events.filter((e) => e.type === 'step-retry');
    expect(retries).toHaveLength(1); // SDK: 4 tries (3 retries) -> 429; executor retry -> 2 more 429s then 201
    expect(retries[0]).toMatchObject({ code: 'TooManyRequests' });
    const statuses = h.emu.requests
      .filter((q) => q.method === 'PUT' && /rg-storm2$/i.test(q.path))
      .map((q) => q.status);
    expect(statuses).toEqual([429, 429, 429, 429, 429, 429, 201]);
  });

  it('a storm that never clears fails with TooManyRequests and a hint, after bounded attempts', async () => {
    h.emu.faults.add({
      kind: 'status',
      status: 429,
      retryAfterMs: 1,
      match: { method: 'PUT', path: 'resourcegroups/rg-storm3' },
      times: -1,
    });
    const res = await executePlan(
      {
        name: 'storm-forever',
        steps: [
          {
            id: 'rg',
            title: 'ensure rg-storm3',
            kind: 'write',
            run: ({ context }, signal) =>
              ensureResourceGroup(context, { name: 'rg-storm3', location: LOCATION }, { signal }),
          },
        ],
      },
      { context: h.ctx, retries: 2 },
    );
    h.emu.faults.clear();
    expect(res.status).toBe('failed');
    expect(res.steps.rg.attempts).toBe(3);
    expect(res.steps.rg.error?.code).toBe('TooManyRequests');
    expect(res.steps.rg.error?.hint).toMatch(/throttled/i);
    const storm = h.emu.requests.filter((q) => /rg-storm3$/i.test(q.path));
    // 3 executor attempts, each: GET (404) + PUT tried 4 times by the SDK (1 + maxRetries 3)
    expect(storm.filter((q) => q.method === 'PUT')).toHaveLength(3 * 4);
    expect(storm.filter((q) => q.method === 'GET')).toHaveLength(3);
  });
});

describe('real token-bucket throttling', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('a burst of parallel writes over the ARM write bucket converges (SDK + executor retries)', async () => {
    // a write bucket of 3 refilling 2/s instead of 200 / 10/s, so a burst of 8 PUTs certainly drains it
    h = await startHarness({
      throttling: { writes: { capacity: 3, refillPerSec: 2 }, compute: false },
      retry: { maxRetries: 1 },
    });
    const events: PlanEvent[] = [];
    const names8 = Array.from({ length: 8 }, (_, i) => `rg-burst-${i}`);
    const res = await executePlan(
      {
        name: 'burst',
        steps: names8.map((name) => ({
          id: name,
          title: `ensure ${name}`,
          kind: 'write' as const,
          run: ({ context }: { context: typeof h.ctx }, signal: AbortSignal) =>
            ensureResourceGroup(context, { name, location: LOCATION }, { signal }),
        })),
      },
      { context: h.ctx, concurrency: 8, retries: 10, onEvent: (e) => events.push(e) },
    );
    expect(res.errors).toEqual([]);
    expect(res.counts.succeeded).toBe(8);
    const throttled = h.emu.requests.filter((q) => q.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    for (const name of names8) {
      expect(
        h.emu.requests.filter((q) => q.method === 'PUT' && q.path.endsWith(name) && q.status === 201),
      ).toHaveLength(1);
    }
  });

  it('Compute’s per-VM update bucket answers 429 OperationNotAllowed; updates still converge', async () => {
    // real Compute bucket sizes (12 per VM), refill sped up 30x: 2 tokens/s instead of 4/min, so 18 chained
    // updates drain it unless each one took more than ~160 ms
    h = await startHarness({ throttling: { timeScale: 30 }, retry: { maxRetries: 0 } });
    await executePlan(stampInfrastructurePlan(stampParams('rg-cthr', 'gina')), { context: h.ctx });
    h.resetRequests();
    const steps = Array.from({ length: 18 }, (_, i) => ({
      id: `u${i}`,
      title: `tag ${i}`,
      kind: 'write' as const,
      // chained: each update must see the previous one's tags
      dependsOn: i ? [`u${i - 1}`] : [],
      run: ({ context }: { context: typeof h.ctx }, signal: AbortSignal) =>
        updateVm(
          context,
          { resourceGroup: 'rg-cthr', name: 'gina', tags: { counter: String(i) } },
          { signal },
        ),
    }));
    const events: PlanEvent[] = [];
    const res = await executePlan(
      { name: 'updates', steps },
      { context: h.ctx, retries: 5, onEvent: (e) => events.push(e) },
    );
    expect(res.errors).toEqual([]);
    const rejected = h.emu.requests.filter((q) => q.status === 429);
    expect(rejected.length).toBeGreaterThan(0);
    const retry = events.find((e) => e.type === 'step-retry') as Extract<PlanEvent, { type: 'step-retry' }>;
    expect(retry.code).toBe('OperationNotAllowed');
    expect(retry.message).toMatch(/too many requests/);
    expect((await getVm(h.ctx, 'rg-cthr', 'gina'))?.tags?.counter).toBe('17');
  });
});

describe('http endpoint', () => {
  it('works over plain http for a local emulator (bearer token still sent)', async () => {
    const h = await startHarness({ https: false });
    try {
      const credential = new StaticTokenCredential('http-token');
      const ctx = createAzureContext({
        subscriptionId: h.emu.subscriptionId,
        endpoint: h.emu.url,
        credential,
        pollIntervalMs: 0,
      });
      const r = await ensureResourceGroup(ctx, { name: 'rg-http', location: LOCATION });
      expect(r.action).toBe('created');
      expect(credential.calls).toBeGreaterThan(0);
    } finally {
      await h.close();
    }
  });
});
