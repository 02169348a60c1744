/* eslint-disable @typescript-eslint/no-explicit-any */
/** ARM protocol details: headers, api-version, routing, LRO headers and polling, paging, faults, request log. */
import { startEmulator, type Emulator } from '@openclawps/emulator';
import { clients, fast, LOC, raw, stampNetwork, sub, vmParams, type Clients } from './clients';

let emu: Emulator;
let c: Clients;
beforeAll(async () => {
  emu = await startEmulator({ latencyScale: 0, pageSize: 2 });
  c = clients(emu, { maxRetries: 0 });
  await c.resources.resourceGroups.createOrUpdate('proto', { location: LOC });
});
afterAll(() => emu.close());
afterEach(() => emu.faults.clear());

const V = '?api-version=2026-03-02';

describe('front door', () => {
  it('answers over HTTPS with the generated CA; standard headers on every response', async () => {
    expect(emu.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(emu.ca).toContain('BEGIN CERTIFICATE');
    const r = await raw(emu, 'GET', `${sub(emu)}/resourcegroups/proto?api-version=2025-04-01`);
    expect(r.status).toBe(200);
    for (const h of [
      'x-ms-request-id',
      'x-ms-correlation-request-id',
      'x-ms-routing-request-id',
      'x-ms-ratelimit-remaining-subscription-reads',
    ]) {
      expect(r.headers[h]).toBeTruthy();
    }
    expect(r.headers['cache-control']).toBe('no-cache');
    const w = await raw(emu, 'PUT', `${sub(emu)}/resourcegroups/proto2?api-version=2025-04-01`, {
      location: LOC,
    });
    expect(w.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);
    const d = await raw(emu, 'DELETE', `${sub(emu)}/resourcegroups/proto2?api-version=2025-04-01`);
    expect(d.headers['x-ms-ratelimit-remaining-subscription-deletes']).toMatch(/^\d+$/);
  });

  it('requires api-version (MissingApiVersionParameter) and a valid one', async () => {
    const r = await raw(emu, 'GET', `${sub(emu)}/resourcegroups/proto`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MissingApiVersionParameter');
    const bad = await raw(emu, 'GET', `${sub(emu)}/resourcegroups/proto?api-version=latest`);
    expect(bad.body.error.code).toBe('InvalidApiVersionParameter');
  });

  it('routes and compares ids case-insensitively', async () => {
    await c.compute.disks.createOrUpdate(
      'proto',
      'Data1',
      { location: LOC, diskSizeGB: 4, creationData: { createOption: 'Empty' } },
      fast,
    );
    const r = await raw(
      emu,
      'GET',
      `/SUBSCRIPTIONS/${emu.subscriptionId.toUpperCase()}/RESOURCEGROUPS/PROTO/PROVIDERS/microsoft.compute/DISKS/data1${V}`,
    );
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(
      `/subscriptions/${emu.subscriptionId}/resourceGroups/proto/providers/Microsoft.Compute/disks/Data1`,
    );
  });

  it('unknown subscription, group, resource and type give ARM error bodies', async () => {
    const s = await raw(
      emu,
      'GET',
      `/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/x?api-version=2025-04-01`,
    );
    expect([s.status, s.body.error.code]).toEqual([404, 'SubscriptionNotFound']);
    const g = await raw(
      emu,
      'GET',
      `${sub(emu)}/resourceGroups/none/providers/Microsoft.Compute/disks/x${V}`,
    );
    expect([g.status, g.body.error.code]).toEqual([404, 'ResourceGroupNotFound']);
    const n = await raw(
      emu,
      'GET',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/none${V}`,
    );
    expect([n.status, n.body.error.code]).toEqual([404, 'ResourceNotFound']);
    expect(n.body.error.message).toContain(
      "The Resource 'Microsoft.Compute/disks/none' under resource group 'proto' was not found.",
    );
    const t = await raw(
      emu,
      'GET',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/frobs/none${V}`,
    );
    expect(t.body.error.code).toBe('InvalidResourceType');
    const del = await raw(
      emu,
      'DELETE',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/none${V}`,
    );
    expect(del.status).toBe(204);
  });

  it('the SDK surfaces 404 as RestError with code and statusCode', async () => {
    await expect(c.compute.virtualMachines.get('proto', 'nope')).rejects.toMatchObject({
      name: 'RestError',
      code: 'ResourceNotFound',
      statusCode: 404,
    });
  });

  it('HEAD on a resource group (checkExistence)', async () => {
    expect((await raw(emu, 'HEAD', `${sub(emu)}/resourcegroups/proto?api-version=2025-04-01`)).status).toBe(
      204,
    );
    expect((await raw(emu, 'HEAD', `${sub(emu)}/resourcegroups/none?api-version=2025-04-01`)).status).toBe(
      404,
    );
  });
});

describe('long-running operations', () => {
  it('disk DELETE: 202 with absolute self-hosted Azure-AsyncOperation and Location; Location keeps answering after success', async () => {
    await c.compute.disks.createOrUpdate(
      'proto',
      'gone',
      { location: LOC, diskSizeGB: 4, creationData: { createOption: 'Empty' } },
      fast,
    );
    const r = await raw(
      emu,
      'DELETE',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/gone${V}`,
    );
    expect(r.status).toBe(202);
    const ao = r.headers['azure-asyncoperation'];
    const loc = r.headers['location'];
    expect(
      ao.startsWith(
        `${emu.url}/subscriptions/${emu.subscriptionId}/providers/Microsoft.Compute/locations/eastus/DiskOperations/`,
      ),
    ).toBe(true);
    expect(loc).toContain('monitor=true');
    await emu.world.idle();
    const st = await raw(emu, 'GET', ao);
    expect(st.body).toMatchObject({ status: 'Succeeded' });
    expect(Object.keys(st.body).sort()).toEqual(['endTime', 'name', 'startTime', 'status']);
    expect((await raw(emu, 'GET', loc)).status).toBe(200);
    expect((await raw(emu, 'GET', loc)).status).toBe(200);
    expect(
      (await raw(emu, 'GET', `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/gone${V}`))
        .status,
    ).toBe(404);
  });

  it('while running: provisioningState, status InProgress, Location 202 (latency model)', async () => {
    const slow = await startEmulator({ latencyScale: 0.02 }); // disk create 10 s -> 200 ms
    try {
      await raw(slow, 'PUT', `${sub(slow)}/resourcegroups/r?api-version=2025-04-01`, { location: LOC });
      const r = await raw(
        slow,
        'PUT',
        `${sub(slow)}/resourceGroups/r/providers/Microsoft.Compute/disks/d${V}`,
        { location: LOC, properties: { diskSizeGB: 4, creationData: { createOption: 'Empty' } } },
      );
      expect(r.status).toBe(202);
      expect(r.body.properties.provisioningState).toBe('Updating');
      const running = await raw(slow, 'GET', r.headers['azure-asyncoperation']);
      expect(running.body.status).toBe('InProgress');
      expect((await raw(slow, 'GET', r.headers['location'])).status).toBe(202);
      await slow.world.idle();
      expect((await raw(slow, 'GET', r.headers['location'])).body.properties.provisioningState).toBe(
        'Succeeded',
      );
    } finally {
      await slow.close();
    }
  });

  it('VM PUT: 201 + Azure-AsyncOperation (no Location); POST action: 202 + both; generalize: plain 200', async () => {
    const { nic } = await stampNetwork(c, 'proto', 'p');
    const vmUrl = `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/virtualMachines/p?api-version=2026-04-01`;
    const p = vmParams(nic.id!) as any;
    const body = {
      location: LOC,
      properties: {
        hardwareProfile: p.hardwareProfile,
        storageProfile: p.storageProfile,
        osProfile: p.osProfile,
        networkProfile: { networkInterfaces: [{ id: nic.id, properties: { primary: true } }] },
      },
    };
    const put = await raw(emu, 'PUT', vmUrl, body);
    expect(put.status).toBe(201);
    expect(put.headers['azure-asyncoperation']).toMatch(
      /\/providers\/Microsoft\.Compute\/locations\/eastus\/operations\//,
    );
    expect(put.headers['location']).toBeUndefined();
    expect(put.body.properties.provisioningState).toBe('Creating');
    expect(put.body.properties.osProfile.adminPassword).toBeUndefined();
    const act = await raw(emu, 'POST', vmUrl.replace('?', '/powerOff?'));
    expect(act.status).toBe(202);
    expect(act.headers['azure-asyncoperation']).toBeTruthy();
    expect(act.headers['location']).toContain('monitor=true');
    await emu.world.idle();
    expect((await raw(emu, 'GET', act.headers['location'])).status).toBe(200);
    const gen = await raw(emu, 'POST', vmUrl.replace('?', '/generalize?'));
    expect(gen.status).toBe(200);
    const rec = emu.requests.filter((x) => x.path.endsWith('/powerOff'));
    expect(rec[0]).toMatchObject({
      kind: 'action',
      operation: 'Microsoft.Compute/virtualMachines/powerOff/action',
    });
  });

  it('network PUT answers 201 + Azure-AsyncOperation; NIC PUT is synchronous', async () => {
    const r = await raw(
      emu,
      'PUT',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Network/publicIPAddresses/ip2?api-version=2026-01-01`,
      { location: LOC, sku: { name: 'Standard' }, properties: { publicIPAllocationMethod: 'Static' } },
    );
    expect(r.status).toBe(201);
    expect(r.headers['azure-asyncoperation']).toMatch(/Microsoft\.Network\/locations\/eastus\/operations\//);
    await emu.world.idle();
    const st = await raw(emu, 'GET', r.headers['azure-asyncoperation']);
    expect(st.body).toEqual({ status: 'Succeeded' });
    const d = await raw(
      emu,
      'DELETE',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Network/publicIPAddresses/ip2?api-version=2026-01-01`,
    );
    expect(d.status).toBe(202);
    expect(d.headers['location']).toMatch(/\/operationResults\//);
  });

  it('resource group delete is an LRO that removes everything in it (Location only)', async () => {
    const { nic } = await stampNetwork(c, 'doomed', 'z');
    await c.compute.virtualMachines.createOrUpdate('doomed', 'z', vmParams(nic.id!) as never, fast);
    const r = await raw(emu, 'DELETE', `${sub(emu)}/resourcegroups/doomed?api-version=2025-04-01`);
    expect(r.status).toBe(202);
    expect(r.headers['location']).toMatch(/\/operationresults\//);
    let status = 202;
    while (status === 202) status = (await raw(emu, 'GET', r.headers['location'])).status;
    expect(status).toBe(200);
    await expect(c.resources.resourceGroups.get('doomed')).rejects.toMatchObject({ statusCode: 404 });
    expect(emu.world.descendants(`/subscriptions/${emu.subscriptionId}/resourceGroups/doomed`)).toHaveLength(
      0,
    );
    expect((await raw(emu, 'GET', r.headers['location'])).status).toBe(200);
    // deleting a group that is gone: 404 ResourceGroupNotFound (unlike resources, which answer 204)
    await expect(c.resources.resourceGroups.delete('doomed', fast)).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceGroupNotFound',
    });
    // and the SDK's own delete of a populated group
    const { nic: n2 } = await stampNetwork(c, 'doomed2', 'y');
    await c.compute.virtualMachines.createOrUpdate('doomed2', 'y', vmParams(n2.id!) as never, fast);
    await c.resources.resourceGroups.delete('doomed2', fast);
    await expect(c.compute.virtualMachines.get('doomed2', 'y')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('lists', () => {
  it('page with nextLink where the SDK pages', async () => {
    for (const n of ['l1', 'l2', 'l3', 'l4', 'l5'])
      await c.compute.disks.createOrUpdate(
        'proto',
        n,
        { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
        fast,
      );
    const first = await raw(
      emu,
      'GET',
      `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks${V}`,
    );
    expect(first.body.value).toHaveLength(2);
    expect(first.body.nextLink).toContain(emu.url);
    const names: string[] = [];
    for await (const d of c.compute.disks.listByResourceGroup('proto')) names.push(d.name!);
    expect(names).toEqual(expect.arrayContaining(['l1', 'l2', 'l3', 'l4', 'l5']));
    const groups: string[] = [];
    for await (const g of c.resources.resourceGroups.list()) groups.push(g.name!);
    expect(groups).toContain('proto');
    const all: string[] = [];
    for await (const d of c.compute.disks.list()) all.push(d.name!);
    expect(all.length).toBe(names.length);
  });

  it('generic resources with a tag $filter', async () => {
    await c.compute.disks.createOrUpdate(
      'proto',
      'tagged',
      {
        location: LOC,
        diskSizeGB: 1,
        tags: { 'openclawps-claw': 'alice' },
        creationData: { createOption: 'Empty' },
      },
      fast,
    );
    const got: string[] = [];
    for await (const r of c.resources.resources.list({
      filter: "tagName eq 'openclawps-claw' and tagValue eq 'alice'",
    }))
      got.push(r.name!);
    expect(got).toEqual(['tagged']);
  });
});

describe('faults', () => {
  it('lroFailed: the SDK rejects with the code in the message; the resource is Failed', async () => {
    emu.faults.add({
      match: { operation: 'Microsoft.Compute/disks/write' },
      kind: 'lroFailed',
      code: 'InternalDiskManagementError',
      message: 'boom',
    });
    const e = await c.compute.disks
      .createOrUpdate(
        'proto',
        'failing',
        { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
        fast,
      )
      .then(
        () => undefined,
        (x: Error) => x,
      );
    expect(e?.message).toBe('The long-running operation has failed. InternalDiskManagementError. boom');
    expect((await c.compute.disks.get('proto', 'failing')).provisioningState).toBe('Failed');
  });

  it('lroFailed on a synchronous write (NIC PUT) fails the request and leaves nothing behind', async () => {
    await stampNetwork(c, 'proto', 'q');
    emu.faults.add({
      match: { operation: 'Microsoft.Network/networkInterfaces/write' },
      kind: 'lroFailed',
      code: 'InternalServerError',
    });
    const sn = await c.network.subnets.get('proto', 'proto-vnet', 'default');
    await expect(
      c.network.networkInterfaces.createOrUpdate(
        'proto',
        'q2-nic',
        { location: LOC, ipConfigurations: [{ name: 'c', subnet: { id: sn.id } }] },
        fast,
      ),
    ).rejects.toMatchObject({ code: 'InternalServerError', statusCode: 400 });
    await expect(c.network.networkInterfaces.get('proto', 'q2-nic')).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('lroCanceled surfaces as "Operation was canceled"', async () => {
    emu.faults.add({ match: { operation: /virtualMachines\/deallocate\/action/ }, kind: 'lroCanceled' });
    await expect(c.compute.virtualMachines.deallocate('proto', 'p', fast)).rejects.toThrow(
      'Operation was canceled',
    );
  });

  it('a 429 with retry-after-ms is retried by the SDK pipeline', async () => {
    const retrying = clients(emu);
    emu.faults.add({
      match: { method: 'GET', path: /\/disks\/l1\?/ },
      kind: 'status',
      status: 429,
      retryAfterMs: 5,
      times: 2,
    });
    const before = emu.requests.length;
    const d = await retrying.compute.disks.get('proto', 'l1');
    expect(d.name).toBe('l1');
    const seen = emu.requests
      .slice(before)
      .filter((r) => r.path.endsWith('/disks/l1'))
      .map((r) => r.status);
    expect(seen).toEqual([429, 429, 200]);
  });

  it('nth + status: the 2nd matching call fails with the given code; nothing written by it', async () => {
    emu.faults.add({
      match: { operation: 'Microsoft.Compute/disks/write' },
      nth: 2,
      kind: 'status',
      status: 409,
      code: 'Conflict',
      message: 'no',
    });
    await c.compute.disks.createOrUpdate(
      'proto',
      'n1',
      { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
      fast,
    );
    await expect(
      c.compute.disks.createOrUpdate(
        'proto',
        'n2',
        { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
        fast,
      ),
    ).rejects.toMatchObject({ code: 'Conflict', statusCode: 409 });
    await expect(c.compute.disks.get('proto', 'n2')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('reset drops the connection; delay holds the request', async () => {
    emu.faults.add({ match: { path: '/disks/l2' }, kind: 'reset' });
    await expect(c.compute.disks.get('proto', 'l2')).rejects.toThrow();
    emu.faults.add({ match: { path: '/disks/l2' }, kind: 'delay', delayMs: 30 });
    expect((await c.compute.disks.get('proto', 'l2')).name).toBe('l2');
    expect(emu.requests.filter((r) => r.path.endsWith('/disks/l2') && r.fault).length).toBe(2);
  });

  it('resetAfter: the write happens but the response is lost; a re-run converges', async () => {
    emu.faults.add({ match: { method: 'PUT', path: '/disks/lost' }, kind: 'resetAfter' });
    const once = clients(emu, { maxRetries: 0 });
    await expect(
      once.compute.disks.createOrUpdate(
        'proto',
        'lost',
        { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
        fast,
      ),
    ).rejects.toThrow();
    expect((await c.compute.disks.get('proto', 'lost')).name).toBe('lost');
    const again = await c.compute.disks.createOrUpdate(
      'proto',
      'lost',
      { location: LOC, diskSizeGB: 1, creationData: { createOption: 'Empty' } },
      fast,
    );
    expect(again.provisioningState).toBe('Succeeded');
  });

  it('the HTTP control endpoint adds, lists and clears faults for out-of-process clients', async () => {
    const add = await raw(emu, 'POST', '/_emulator/faults', {
      match: { method: 'GET', path: { regex: '/disks/l3\\?' } },
      kind: 'status',
      status: 503,
      times: null,
    });
    expect(add.status).toBe(201);
    expect(
      (await raw(emu, 'GET', `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/l3${V}`))
        .status,
    ).toBe(503);
    expect(
      (await raw(emu, 'GET', `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/l3${V}`))
        .status,
    ).toBe(503);
    const list = await raw(emu, 'GET', '/_emulator/faults');
    expect(list.body.value[0]).toMatchObject({
      kind: 'status',
      status: 503,
      times: null,
      match: { path: { regex: new RegExp('/disks/l3\\?').source } },
    });
    expect((await raw(emu, 'DELETE', '/_emulator/faults')).status).toBe(204);
    expect(
      (await raw(emu, 'GET', `${sub(emu)}/resourceGroups/proto/providers/Microsoft.Compute/disks/l3${V}`))
        .status,
    ).toBe(200);
    const reqs = await raw(emu, 'GET', '/_emulator/requests');
    expect(reqs.body.value.length).toBeGreaterThan(10);
  });

  it('the request log classifies read/write/delete/action', async () => {
    const kinds = new Set(emu.requests.map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['action', 'delete', 'read', 'write']);
    expect(emu.requests.some((r) => r.poll && r.kind === 'read')).toBe(true);
  });
});

describe('resource group being deleted', () => {
  it('refuses writes into it with ResourceGroupBeingDeleted', async () => {
    const slow = await startEmulator({ latencyScale: 0.01 });
    try {
      await raw(slow, 'PUT', `${sub(slow)}/resourcegroups/rgd?api-version=2025-04-01`, { location: LOC });
      expect(
        (await raw(slow, 'DELETE', `${sub(slow)}/resourcegroups/rgd?api-version=2025-04-01`)).status,
      ).toBe(202);
      const r = await raw(
        slow,
        'PUT',
        `${sub(slow)}/resourceGroups/rgd/providers/Microsoft.Compute/disks/d${V}`,
        {
          location: LOC,
          properties: { diskSizeGB: 1, creationData: { createOption: 'Empty' } },
        },
      );
      expect([r.status, r.body.error.code]).toEqual([409, 'ResourceGroupBeingDeleted']);
      await slow.world.idle();
    } finally {
      await slow.close();
    }
  });
});
