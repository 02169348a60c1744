/** ARM subscription token buckets and Compute per-resource buckets: 429 + Retry-After + real body shapes. */
import { startEmulator, ARM_BUCKETS, type Emulator } from '@openclawps/emulator';
import { clients, fast, LOC, raw, stampNetwork, sub, vmParams } from './clients';

describe('throttling', () => {
  let emu: Emulator;
  afterEach(() => emu?.close());

  it('is off by default but the remaining counts follow the real buckets (reads 250, writes 200)', async () => {
    emu = await startEmulator();
    const r1 = await raw(emu, 'GET', `${sub(emu)}/resourcegroups?api-version=2025-04-01`);
    const r2 = await raw(emu, 'GET', `${sub(emu)}/resourcegroups?api-version=2025-04-01`);
    expect(Number(r1.headers['x-ms-ratelimit-remaining-subscription-reads'])).toBe(
      ARM_BUCKETS.reads.capacity - 1,
    );
    expect(Number(r2.headers['x-ms-ratelimit-remaining-subscription-reads'])).toBeLessThanOrEqual(
      ARM_BUCKETS.reads.capacity - 1,
    );
    const w = await raw(emu, 'PUT', `${sub(emu)}/resourcegroups/t?api-version=2025-04-01`, { location: LOC });
    expect(Number(w.headers['x-ms-ratelimit-remaining-subscription-writes'])).toBe(
      ARM_BUCKETS.writes.capacity - 1,
    );
    expect(w.headers['x-ms-ratelimit-remaining-subscription-global-writes']).toMatch(/^\d+$/);
  });

  it('an empty ARM write bucket answers 429 with Retry-After, retry-after-ms and the ARM body', async () => {
    emu = await startEmulator({ throttling: { writes: { capacity: 3, refillPerSec: 1 } } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof raw>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await raw(emu, 'PUT', `${sub(emu)}/resourcegroups/t${i}?api-version=2025-04-01`, {
        location: LOC,
      });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 3)).toEqual([201, 201, 201]);
    expect(statuses).toContain(429);
    const t = (
      await Promise.all(
        [0, 1, 2].map((i) =>
          raw(emu, 'PUT', `${sub(emu)}/resourcegroups/x${i}?api-version=2025-04-01`, { location: LOC }),
        ),
      )
    ).find((r) => r.status === 429)!;
    expect(t.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(t.headers['retry-after-ms'])).toBeGreaterThan(0);
    expect(t.body.error.code).toBe('TooManyRequests');
    expect(t.body.error.message).toContain("Number of 'write' requests for subscription");
    // the group of a throttled PUT was not written
    expect(emu.requests.filter((r) => r.status === 429).every((r) => r.kind === 'write')).toBe(true);
  });

  it('the SDK pipeline rides out throttling by honouring retry-after-ms', async () => {
    emu = await startEmulator({ throttling: { writes: { capacity: 2, refillPerSec: 10 } } });
    const c = clients(emu);
    await Promise.all(
      [0, 1, 2, 3].map((i) => c.resources.resourceGroups.createOrUpdate(`g${i}`, { location: LOC })),
    );
    expect(emu.requests.some((r) => r.status === 429)).toBe(true);
    const names: string[] = [];
    for await (const g of c.resources.resourceGroups.list()) names.push(g.name!);
    expect(names.sort()).toEqual(['g0', 'g1', 'g2', 'g3']);
  });

  it("Compute's per-VM LowCostGet bucket: 429 OperationNotAllowed with TooManyRequests details", async () => {
    emu = await startEmulator({ throttling: { timeScale: 1 } });
    const c = clients(emu, { maxRetries: 0 });
    const { nic } = await stampNetwork(c, 'th', 'v');
    await c.compute.virtualMachines.createOrUpdate('th', 'v', vmParams(nic.id!) as never, fast);
    const url = `${sub(emu)}/resourceGroups/th/providers/Microsoft.Compute/virtualMachines/v?api-version=2026-04-01`;
    let r = await raw(emu, 'GET', url);
    expect(r.headers['x-ms-ratelimit-remaining-resource']).toMatch(
      /Microsoft\.Compute\/LowCostGetSubscriptionMaximum;\d+,Microsoft\.Compute\/LowCostGetResource;\d+/,
    );
    for (let i = 0; i < 40 && r.status === 200; i++) r = await raw(emu, 'GET', url);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('OperationNotAllowed');
    expect(r.body.error.details[0]).toMatchObject({ code: 'TooManyRequests', target: 'LowCostGetResource' });
    expect(JSON.parse(r.body.error.details[0].message)).toHaveProperty(
      'operationGroup',
      'LowCostGetResource',
    );
    expect(r.headers['x-ms-ratelimit-remaining-resource']).toContain('LowCostGetResource;0');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // another VM has its own bucket
    const other = await raw(emu, 'GET', url.replace('/virtualMachines/v?', '/virtualMachines/w?'));
    expect(other.status).toBe(404);
  });
});
