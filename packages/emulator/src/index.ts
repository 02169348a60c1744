/**
 * A local Azure Resource Manager emulator for the real Azure SDK clients (tests, demo, benchmarks).
 *
 *   const emu = await startEmulator({ latencyScale: 0 });
 *   new ComputeManagementClient(cred, emu.subscriptionId, { endpoint: emu.url, tlsOptions: { ca: emu.ca } });
 *
 * - HTTPS by default with a CA + server certificate made by the `openssl` binary at start (cached per
 *   process); `https: false` serves plain HTTP (clients set allowInsecureConnection and remove the
 *   bearer policy). Any bearer token is accepted.
 * - Request records (`emu.requests`) and fault matching use ARM operation names:
 *   `<Namespace>/<type path>/{read|write|delete}` and `<...>/<action>/action`, e.g.
 *   `Microsoft.Compute/virtualMachines/write`, `Microsoft.Compute/virtualMachines/deallocate/action`,
 *   `Microsoft.Compute/virtualMachines/instanceView/read`, `Microsoft.Resources/subscriptions/resourceGroups/delete`,
 *   polls: `Microsoft.Compute/locations/operations/read` (also `DiskOperations`, `capsOperations`),
 *   `Microsoft.Network/locations/operations/read`, `Microsoft.Resources/operationResults/read`.
 * - Control endpoint for out-of-process clients (not ARM, no api-version):
 *   `POST /_emulator/faults` (a fault spec or an array; `match.path`/`match.operation` as a string or
 *   `{regex, flags}`, `times: null` = always) → `{ids}`; `GET|DELETE /_emulator/faults`,
 *   `DELETE /_emulator/faults/{id}`; `GET|DELETE /_emulator/requests`; `GET /_emulator/state`;
 *   `GET /_emulator/health`; `GET /_emulator/ssh-endpoint?ip=<public ip>`.
 */
import './generic';
import './resources';
import './network';
import './compute';
import './gallery';
import { randomUUID } from 'node:crypto';
import { certificateFor } from './cert';
import { Faults } from './faults';
import { NoopGuest, type GuestBackend, type SshEndpoint } from './guest';
import { createArmServer, listen, type RequestRecord } from './server';
import { Throttler, type ThrottlingOptions } from './throttle';
import { World } from './world';

export { ArmError } from './errors';
export { Faults, type FaultSpec, type FaultMatch, type FaultKind, type ActiveFault } from './faults';
export { NoopGuest, type GuestBackend, type DiskSource, type SshEndpoint, type ArmResource } from './guest';
export {
  LATENCY_MS,
  LATENCY_BY_OPERATION,
  latencyMs,
  imageVersionDurationMs,
  type LatencyKind,
} from './latency';
export { ARM_BUCKETS, COMPUTE_POLICIES, type ThrottlingOptions, type BucketSpec } from './throttle';
export { World, type Resource, type AsyncOp } from './world';
export type { RequestRecord } from './server';
export { compareVersions } from './images';
export { runEmulatorCli, type CliOptions } from './cli';
export { SandboxGuest, rewritePaths, type SandboxGuestOptions } from './sandbox';
export { NspawnGuest, nspawnGuestProblems, type NspawnGuestOptions } from './nspawn-guest';
/** Host-side library for booted Linux guests (systemd-nspawn): roots, containers, disks, networks. */
export * as nspawn from './nspawn';

export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-00000000c1a0';

export interface EmulatorOptions {
  /** Serve HTTPS with a generated CA (default true). */
  https?: boolean;
  /** 0 (default) = any free port. */
  port?: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Multiplies the realistic durations of LATENCY_MS (default 0 = instant). */
  latencyScale?: number;
  /** Enforce ARM + Compute throttling (429). `true` = real bucket sizes. */
  throttling?: boolean | ThrottlingOptions;
  /** JSON file holding the world; loaded at start, rewritten after each mutation. */
  statePath?: string;
  guest?: GuestBackend;
  subscriptionId?: string;
  /** Items per list page before `nextLink` (default 50). */
  pageSize?: number;
}

export interface Emulator {
  /** Base URL for the SDK `endpoint` option, e.g. `https://127.0.0.1:41234`. */
  url: string;
  /** PEM of the CA that signed the server certificate (https only; '' for http). */
  ca: string;
  subscriptionId: string;
  port: number;
  faults: Faults;
  /** Every request served, in order (polls included, flagged `poll: true`). */
  requests: RequestRecord[];
  world: World;
  /** The guest backend's one SSH port (sandbox guest), undefined when it has none. */
  sshPort?: number;
  /** Where to SSH for a VM's public IP address (asks the guest backend). */
  sshEndpoint(ipAddress: string): Promise<SshEndpoint | undefined>;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const useHttps = opts.https ?? true;
  const host = opts.host ?? '127.0.0.1';
  const guest: GuestBackend = opts.guest ?? new NoopGuest();
  const world = new World({
    subscriptionId: opts.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID,
    latencyScale: opts.latencyScale ?? 0,
    guest,
    statePath: opts.statePath,
  });
  await guest.attach?.(world);
  const faults = new Faults();
  const requests: RequestRecord[] = [];
  const throttler = new Throttler(
    !!opts.throttling,
    typeof opts.throttling === 'object' ? opts.throttling : {},
  );
  const tls = useHttps ? certificateFor(['localhost', '127.0.0.1', '::1', host]) : undefined;
  const sshEndpoint = async (ip: string): Promise<SshEndpoint | undefined> => {
    const pip = world
      .list('Microsoft.Network/publicIPAddresses')
      .find((p) => p.body.properties?.ipAddress === ip);
    if (!pip || !guest.publicEndpoint) return undefined;
    return (await guest.publicEndpoint(pip.id, ip)) ?? undefined;
  };
  const server = createArmServer({
    world,
    faults,
    throttler,
    requests,
    pageSize: opts.pageSize ?? 50,
    sshEndpoint,
    https: tls ? { cert: tls.cert, key: tls.key } : undefined,
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server, opts.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closed = false;
  return {
    url: `${useHttps ? 'https' : 'http'}://${urlHost}:${port}`,
    ca: tls?.ca ?? '',
    subscriptionId: world.subscriptionId,
    port,
    faults,
    requests,
    world,
    sshPort: guest.sshPort,
    sshEndpoint,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await world.close();
      await guest.close?.();
    },
  };
}

/** A `TokenCredential` that hands out a fixed token (the emulator accepts any bearer token). */
export const emulatorCredential = {
  getToken: async () => ({ token: `emulator-${randomUUID()}`, expiresOnTimestamp: Date.now() + 3600_000 }),
};
