/**
 * ARM's per-subscription token buckets (request-limits-and-throttling.md, 2024 model) and
 * Compute's per-resource / per-subscription buckets (compute-throttling-limits.md).
 * Buckets are always tracked (the remaining counts go into the x-ms-ratelimit-* headers);
 * requests are only rejected when throttling is enabled.
 */
export interface BucketSpec {
  capacity: number;
  /** tokens per second */
  refillPerSec: number;
}

export interface ThrottlingOptions {
  reads?: BucketSpec;
  writes?: BucketSpec;
  deletes?: BucketSpec;
  /** Compute's per-resource VM buckets (PutVMResource etc.); default true. */
  compute?: boolean;
  /** Multiplies refill speed (e.g. 60 = a minute of Compute refill per second); default 1. */
  timeScale?: number;
}

export const ARM_BUCKETS = {
  reads: { capacity: 250, refillPerSec: 25 },
  writes: { capacity: 200, refillPerSec: 10 },
  deletes: { capacity: 200, refillPerSec: 10 },
} as const;

/** Compute per-resource / per-subscription policies: refill per minute and max capacity. */
export const COMPUTE_POLICIES = {
  PutVM: {
    resource: { capacity: 12, refillPerSec: 4 / 60 },
    subscription: { capacity: 1500, refillPerSec: 500 / 60 },
  },
  UpdateVM: {
    resource: { capacity: 12, refillPerSec: 4 / 60 },
    subscription: { capacity: 1500, refillPerSec: 500 / 60 },
  },
  DeleteVM: {
    resource: { capacity: 12, refillPerSec: 4 / 60 },
    subscription: { capacity: 1500, refillPerSec: 500 / 60 },
  },
  LowCostGet: {
    resource: { capacity: 36, refillPerSec: 12 / 60 },
    subscription: { capacity: 24000, refillPerSec: 8000 / 60 },
  },
  HighCostGet: { resource: undefined, subscription: { capacity: 900, refillPerSec: 300 / 60 } },
  GetOperation: {
    resource: { capacity: 45, refillPerSec: 15 / 60 },
    subscription: { capacity: 15000, refillPerSec: 5000 / 60 },
  },
} as const;

export type ComputePolicy = keyof typeof COMPUTE_POLICIES;

class Bucket {
  tokens: number;
  last: number;
  constructor(
    readonly spec: BucketSpec,
    private readonly timeScale: number,
  ) {
    this.tokens = spec.capacity;
    this.last = Date.now();
  }
  private refill(now: number) {
    const dt = ((now - this.last) / 1000) * this.timeScale;
    this.tokens = Math.min(this.spec.capacity, this.tokens + dt * this.spec.refillPerSec);
    this.last = now;
  }
  /** Remaining whole tokens after this take, or -1 with msUntilToken when empty. */
  take(now = Date.now()): { ok: boolean; remaining: number; retryAfterMs: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens), retryAfterMs: 0 };
    }
    const ms = Math.ceil(((1 - this.tokens) / this.spec.refillPerSec / this.timeScale) * 1000);
    return { ok: false, remaining: 0, retryAfterMs: Math.max(1, ms) };
  }
}

export type RequestClass = 'reads' | 'writes' | 'deletes';

export interface ThrottleVerdict {
  ok: boolean;
  headers: Record<string, string>;
  retryAfterMs: number;
  /** Which policy rejected (for the body). */
  policy?: string;
  scope?: 'arm' | 'compute';
}

export class Throttler {
  private sub: Record<RequestClass, Bucket>;
  private compute = new Map<string, Bucket>();
  private readonly timeScale: number;
  private readonly computeOn: boolean;

  constructor(
    readonly enabled: boolean,
    opts: ThrottlingOptions = {},
  ) {
    this.timeScale = opts.timeScale ?? 1;
    this.computeOn = opts.compute ?? true;
    this.sub = {
      reads: new Bucket(opts.reads ?? ARM_BUCKETS.reads, this.timeScale),
      writes: new Bucket(opts.writes ?? ARM_BUCKETS.writes, this.timeScale),
      deletes: new Bucket(opts.deletes ?? ARM_BUCKETS.deletes, this.timeScale),
    };
  }

  private bucket(key: string, spec: BucketSpec): Bucket {
    let b = this.compute.get(key);
    if (!b) {
      b = new Bucket(spec, this.timeScale);
      this.compute.set(key, b);
    }
    return b;
  }

  check(cls: RequestClass, compute?: { policy: ComputePolicy; resourceKey?: string }): ThrottleVerdict {
    const headers: Record<string, string> = {};
    const arm = this.sub[cls].take();
    const name = cls;
    headers[`x-ms-ratelimit-remaining-subscription-${name}`] = String(arm.remaining);
    headers[`x-ms-ratelimit-remaining-subscription-global-${name}`] = String(arm.remaining * 15 + 14);
    if (this.enabled && !arm.ok) {
      return {
        ok: false,
        headers,
        retryAfterMs: arm.retryAfterMs,
        policy: `subscription-${name}`,
        scope: 'arm',
      };
    }
    if (compute) {
      const p = COMPUTE_POLICIES[compute.policy];
      const parts: string[] = [];
      const subB = this.bucket(`sub:${compute.policy}`, p.subscription);
      const s = subB.take();
      parts.push(`Microsoft.Compute/${compute.policy}SubscriptionMaximum;${s.remaining}`);
      let r: { ok: boolean; remaining: number; retryAfterMs: number } | undefined;
      if (p.resource && compute.resourceKey) {
        r = this.bucket(`res:${compute.policy}:${compute.resourceKey.toLowerCase()}`, p.resource).take();
        parts.push(`Microsoft.Compute/${compute.policy}Resource;${r.remaining}`);
      }
      headers['x-ms-ratelimit-remaining-resource'] = parts.join(',');
      if (this.enabled && this.computeOn) {
        if (!s.ok)
          return {
            ok: false,
            headers,
            retryAfterMs: s.retryAfterMs,
            policy: `${compute.policy}SubscriptionMaximum`,
            scope: 'compute',
          };
        if (r && !r.ok)
          return {
            ok: false,
            headers,
            retryAfterMs: r.retryAfterMs,
            policy: `${compute.policy}Resource`,
            scope: 'compute',
          };
      }
    }
    return { ok: true, headers, retryAfterMs: 0 };
  }
}
