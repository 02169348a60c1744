/** P3: rolling upgrade of a fleet under ARM + Compute throttling (token buckets on). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nullReporter } from '@openclawps/config';
import { ARM_BUCKETS, SandboxGuest, startEmulator, type Emulator } from '@openclawps/emulator';
import { generateEd25519KeyPair } from '@openclawps/guest';
import {
  bake,
  rollout,
  stamp,
  upgrade,
  type AzureConnection,
  type RolloutPolicy,
} from '@openclawps/lifecycle';
import { chargedOps, figure, median, type Figure } from './figures';
import { bakeOptions, benchEnv, BENCH_RG } from './sandbox';
import { ControlPlaneGuest } from './stub-guest';

export interface FleetBenchOptions {
  scale: number;
  size: number;
  parallel: number;
  batchPercent: number;
  log: (line: string) => void;
}

const conn = (emu: Emulator, scale: number): AzureConnection => ({
  subscriptionId: emu.subscriptionId,
  endpoint: emu.url,
  auth: 'static',
  ca: emu.ca,
  pollIntervalMs: Math.max(20, Math.round(2000 * scale)),
});

async function mapLimit<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export async function fleetFigure(o: FleetBenchOptions): Promise<Figure> {
  const dir = mkdtempSync(join(tmpdir(), 'openclawps-bench-fleet-'));
  const statePath = join(dir, 'world.json');
  const key = generateEd25519KeyPair({ comment: 'bench-fleet' });
  try {
    o.log('P3 setup: bake 1.0.0 and 1.1.0 (sandbox guest, latency off)');
    {
      const guest = new SandboxGuest({ workdir: join(dir, 'sandbox') });
      const emu = await startEmulator({ statePath, guest });
      await bake(bakeOptions(conn(emu, 0), '1.0.0', emu.sshPort!));
      await bake(bakeOptions(conn(emu, 0), '1.1.0', emu.sshPort!));
      await emu.close();
    }
    o.log(`P3 setup: stamp ${o.size} claws on 1.0.0 (control-plane guest, latency and throttling off)`);
    {
      const emu = await startEmulator({ statePath, guest: new ControlPlaneGuest() });
      const names = Array.from({ length: o.size }, (_, i) => `claw-${String(i + 1).padStart(3, '0')}`);
      await mapLimit(names, 8, async (claw) => {
        await stamp({
          envText: benchEnv(claw),
          overrides: { IMAGE_VERSION: '1.0.0' },
          source: 'gallery',
          sshPrivateKey: key.privateKey,
          verifyTimeoutMs: 120_000,
          sshPort: emu.sshPort,
          azure: conn(emu, 0),
          reporter: nullReporter,
        });
      });
      await emu.close();
    }
    const timeScale = 1 / o.scale;
    o.log(
      `P3: rollout to 1.1.0 at latency scale ${o.scale}, throttling on (real bucket sizes, refill x${timeScale.toFixed(0)} to match the scaled clock)`,
    );
    const emu = await startEmulator({
      statePath,
      guest: new ControlPlaneGuest(),
      latencyScale: o.scale,
      throttling: { timeScale },
    });
    try {
      const azure = conn(emu, o.scale);
      const policy: RolloutPolicy = {
        maxBatchPercent: o.batchPercent,
        maxUnhealthyPercent: 100,
        maxUnhealthyUpgradedPercent: 0,
        pauseSeconds: 0,
        maxParallel: o.parallel,
        canary: [],
      };
      const settle = Math.round(2000 * o.scale);
      const walls: Array<{ start: number; ms: number }> = [];
      const phaseTimes: Record<string, number[]> = {};
      const t0 = Date.now();
      const result = await rollout({
        targetVersion: '1.1.0',
        gallery: 'clawGallery',
        imageDefinition: 'claw-base',
        galleryResourceGroup: BENCH_RG,
        policy,
        sshPrivateKey: key.privateKey,
        verifyTimeoutMs: 120_000,
        sshPort: emu.sshPort,
        azure,
        reporter: nullReporter,
        upgrader: async (u) => {
          const start = Date.now();
          try {
            const r = await upgrade({ ...u, lockSettleMs: settle });
            for (const t of r.timeline ?? []) (phaseTimes[t.phase] ??= []).push(t.seconds);
            return r;
          } finally {
            walls.push({ start, ms: Date.now() - start });
          }
        },
      });
      const wallMs = Date.now() - t0;
      const reqs = emu.requests.filter((r) => Date.parse(r.time) >= t0);
      const throttled = reqs.filter((r) => r.status === 429 && !r.fault).length;
      const failed = result.results.filter((r) => !r.ok);
      const byThrottle = failed.filter((r) => /429|TooManyRequests|throttl/i.test(r.error ?? '')).length;
      // per-claw chain: every charged op of that claw, one after another (upgrade is sequential per claw)
      const ops = chargedOps(emu, t0);
      const perClaw = new Map<string, number>();
      for (const op of ops) {
        const m = /\/(?:virtualMachines|disks|snapshots)\/(claw-\d{3})/i.exec(op.resourceId);
        if (m) perClaw.set(m[1], (perClaw.get(m[1]) ?? 0) + op.latencyMs + op.guestMs);
      }
      const chainMs = median([...perClaw.values()]) + settle;
      const batches = result.batches.map((b) => b.length);
      const parallelMs = batches.reduce((a, n) => a + Math.ceil(n / o.parallel) * chainMs, 0);
      const cls = { reads: 0, writes: 0, deletes: 0 };
      for (const r of reqs) {
        if (r.kind === 'read') cls.reads++;
        else if (r.kind === 'delete') cls.deletes++;
        else cls.writes++;
      }
      const bucketMs = (Object.keys(cls) as Array<keyof typeof cls>).map((k) => {
        const b = ARM_BUCKETS[k];
        return { k, ms: (Math.max(0, cls[k] - b.capacity) / (b.refillPerSec * timeScale)) * 1000 };
      });
      const boundMs = Math.max(parallelMs, ...bucketMs.map((b) => b.ms));
      const f = figure({
        id: 'P3',
        name: `rolling upgrade of ${o.size} claws under ARM + Compute throttling vs the bound of buckets and parallelism`,
        value: wallMs / 1000,
        unit: 's',
        bound: boundMs / 1000,
        target: '<= 1.25 x bound, 0 claws failed by throttling',
        direction: 'max',
        limit: 1.25,
        detail:
          `fleet rollout (lifecycle rollout), batches ${batches.join('+')} at max-parallel ${o.parallel}; per-claw chain ${(chainMs / 1000).toFixed(2)} s ` +
          `(median of the claws' ops by the latency table x ${o.scale}, plus the ${settle} ms lease settle); parallelism bound ${(parallelMs / 1000).toFixed(2)} s; ` +
          `bucket bounds ${bucketMs.map((b) => `${b.k} ${cls[b.k]} req -> ${(b.ms / 1000).toFixed(2)} s`).join(', ')}; ` +
          `fleet read before the first upgrade ${((Math.min(...walls.map((x) => x.start)) - t0) / 1000).toFixed(2)} s; per-claw upgrade wall time median ${(median(walls.map((x) => x.ms)) / 1000).toFixed(2)} s, max ${(Math.max(...walls.map((x) => x.ms)) / 1000).toFixed(2)} s (median per phase: ${Object.entries(
            phaseTimes,
          )
            .map(([k, v]) => `${k} ${median(v).toFixed(2)}`)
            .join(', ')}); ` +
          `429s served ${throttled}; claws ok ${result.results.length - failed.length}/${result.results.length}, failed ${failed.length} (by throttling ${byThrottle})` +
          (failed[0]?.error ? `; first failure: ${failed[0].error.slice(0, 200)}` : ''),
      });
      f.met = f.met && byThrottle === 0 && failed.length === 0;
      return f;
    } finally {
      await emu.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
