import { startEmulator, type ThrottlingOptions } from '@openclawps/emulator';
import {
  createAzureContext,
  StaticTokenCredential,
  type AzureContext,
  type RetryOptions,
} from '@openclawps/azure';

export type Emulator = Awaited<ReturnType<typeof startEmulator>>;

export const LOCATION = 'westeurope';
export const SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9n0wC3Yk1c0B1mW9sZ6y0T6Zp8b1x0C0Qy7m0aOpX test@openclawps';

export interface Harness {
  emu: Emulator;
  ctx: AzureContext;
  credential: StaticTokenCredential;
  /** Requests that change something (no reads, no polls). */
  writes(): { method: string; path: string; operation: string; kind: string; status: number }[];
  /** Forget recorded requests. */
  resetRequests(): void;
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    latencyScale?: number;
    https?: boolean;
    retry?: RetryOptions;
    throttling?: boolean | ThrottlingOptions;
  } = {},
): Promise<Harness> {
  const emu = await startEmulator({
    https: options.https ?? true,
    latencyScale: options.latencyScale ?? 0,
    throttling: options.throttling ?? false,
  });
  const credential = new StaticTokenCredential('emulator-token');
  const ctx = createAzureContext({
    subscriptionId: emu.subscriptionId,
    endpoint: emu.url,
    ca: emu.ca,
    credential,
    pollIntervalMs: 0,
    location: LOCATION,
    retry: options.retry ?? { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 50 },
  });
  return {
    emu,
    ctx,
    credential,
    writes: () =>
      emu.requests
        .filter((r) => r.kind !== 'read' && !(r as { poll?: boolean }).poll && r.status < 400)
        .map((r) => ({
          method: r.method,
          path: r.path,
          operation: r.operation,
          kind: r.kind,
          status: r.status,
        })),
    resetRequests: () => {
      emu.requests.length = 0;
    },
    close: () => emu.close(),
  };
}
