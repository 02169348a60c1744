/**
 * The emulated world: resources keyed by lower-cased ARM id, in-flight async operations, guest
 * hooks, and optional JSON persistence (written after each mutation, loaded at start).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ArmError } from './errors';
import type { GuestBackend } from './guest';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Resource {
  /** Canonical id (casing as first created). */
  id: string;
  /** Canonical type, e.g. `Microsoft.Compute/virtualMachines`. */
  type: string;
  /** Wire-shaped body (id, name, type, location, tags, properties, …). */
  body: Json;
  /** Emulator-internal state (power state, generalized, reservations …). */
  meta: Json;
}

export type OpStyle = 'compute' | 'disk' | 'gallery' | 'network' | 'arm';
export type OpStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';

export interface AsyncOp {
  id: string;
  style: OpStyle;
  location: string;
  method: string;
  resourceId: string;
  status: OpStatus;
  startTime: string;
  endTime?: string;
  finishAt: number;
  completion: string;
  args: Json;
  /** What the Location (monitor) URL returns after success: the resource, an empty 200, or 204. */
  result: 'resource' | 'empty' | 'noContent';
  error?: { code: string; message: string };
  /** Injected outcome. */
  fault?: { kind: 'failed' | 'canceled'; code: string; message: string };
  apiVersion: string;
}

export type Completion = (world: World, op: AsyncOp) => Promise<void> | void;
export type Rollback = (world: World, op: AsyncOp) => void;

const completions = new Map<string, { run: Completion; rollback?: Rollback }>();

export function registerCompletion(name: string, run: Completion, rollback?: Rollback): void {
  completions.set(name, { run, rollback });
}

export type Renderer = (world: World, res: Resource, query?: URLSearchParams) => Json;
const renderers = new Map<string, Renderer>();
export function registerRenderer(type: string, fn: Renderer): void {
  renderers.set(type.toLowerCase(), fn);
}

export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

export interface WorldOptions {
  subscriptionId: string;
  latencyScale: number;
  guest: GuestBackend;
  statePath?: string;
}

export class World {
  readonly resources = new Map<string, Resource>();
  readonly ops = new Map<string, AsyncOp>();
  subscriptionId: string;
  latencyScale: number;
  guest: GuestBackend;
  private readonly statePath?: string;
  private timers = new Set<NodeJS.Timeout>();
  private running = new Map<string, Promise<void>>();
  private ipCounter = 4;
  /** Guest work started when an operation began (content copies), awaited by its completion. */
  private hookPromises = new Map<string, Promise<void>>();
  private closed = false;

  constructor(opts: WorldOptions) {
    this.subscriptionId = opts.subscriptionId;
    this.latencyScale = opts.latencyScale;
    this.guest = opts.guest;
    this.statePath = opts.statePath;
    if (this.statePath && existsSync(this.statePath)) this.load(this.statePath);
  }

  // ---------- resources ----------
  get(id: string): Resource | undefined {
    return this.resources.get(id.toLowerCase());
  }

  has(id: string): boolean {
    return this.resources.has(id.toLowerCase());
  }

  set(res: Resource): Resource {
    this.resources.set(res.id.toLowerCase(), res);
    return res;
  }

  remove(id: string): void {
    this.resources.delete(id.toLowerCase());
  }

  /** Resources of a type (case-insensitive), optionally under an id prefix (a resource group or parent). */
  list(type: string, under?: string): Resource[] {
    const t = type.toLowerCase();
    const p = under ? under.toLowerCase() + '/' : undefined;
    return [...this.resources.values()].filter(
      (r) => r.type.toLowerCase() === t && (!p || r.id.toLowerCase().startsWith(p)),
    );
  }

  /** Every resource whose id starts with prefix + '/'. */
  descendants(prefix: string): Resource[] {
    const p = prefix.toLowerCase() + '/';
    return [...this.resources.values()].filter((r) => r.id.toLowerCase().startsWith(p));
  }

  render(res: Resource, query?: URLSearchParams): Json {
    const fn = renderers.get(res.type.toLowerCase());
    return fn ? fn(this, res, query) : clone(res.body);
  }

  nextPrivateIp(): string {
    const n = this.ipCounter++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  nextPublicIp(): string {
    const n = this.ipCounter++;
    return `20.${100 + Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
  }

  // ---------- async operations ----------
  startOp(spec: Omit<AsyncOp, 'id' | 'status' | 'startTime' | 'finishAt'> & { durationMs: number }): AsyncOp {
    const { durationMs, ...rest } = spec;
    const op: AsyncOp = {
      ...rest,
      id: randomUUID(),
      status: 'InProgress',
      startTime: new Date().toISOString(),
      finishAt: Date.now() + Math.max(0, durationMs),
    };
    this.ops.set(op.id, op);
    this.arm(op);
    return op;
  }

  private arm(op: AsyncOp): void {
    if (this.closed) return;
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        void this.tick();
      },
      Math.max(0, op.finishAt - Date.now()),
    );
    t.unref();
    this.timers.add(t);
  }

  /** Completes every due operation; waits (briefly) for their guest hooks. */
  async tick(waitMs = 50): Promise<void> {
    const now = Date.now();
    const started: Promise<void>[] = [];
    for (const op of this.ops.values()) {
      if (op.status !== 'InProgress' || op.finishAt > now) continue;
      let p = this.running.get(op.id);
      if (!p) {
        p = this.complete(op).finally(() => this.running.delete(op.id));
        this.running.set(op.id, p);
      }
      started.push(p);
    }
    if (started.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(started),
      new Promise<void>((r) => {
        timer = setTimeout(r, waitMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
  }

  private async complete(op: AsyncOp): Promise<void> {
    const c = completions.get(op.completion);
    if (op.fault) {
      try {
        c?.rollback?.(this, op);
      } finally {
        op.status = op.fault.kind === 'canceled' ? 'Canceled' : 'Failed';
        op.error = { code: op.fault.code, message: op.fault.message };
        op.endTime = new Date().toISOString();
        this.changed();
      }
      return;
    }
    try {
      if (!c) throw new Error(`no completion registered for ${op.completion}`);
      await c.run(this, op);
      op.status = 'Succeeded';
    } catch (e) {
      const err = e as Error & { code?: string };
      op.status = 'Failed';
      op.error = {
        code:
          e instanceof ArmError ? e.code : typeof err.code === 'string' ? err.code : 'GuestOperationFailed',
        message: err.message,
      };
      try {
        c?.rollback?.(this, op);
      } catch {
        /* keep the first error */
      }
    }
    op.endTime = new Date().toISOString();
    this.changed();
  }

  /** Ops that are in progress on a resource (for "another operation is in progress" rules). */
  pendingOps(resourceId: string): AsyncOp[] {
    const id = resourceId.toLowerCase();
    return [...this.ops.values()].filter(
      (o) => o.status === 'InProgress' && o.resourceId.toLowerCase() === id,
    );
  }

  /** Waits until no operation is in progress (tests). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ([...this.ops.values()].some((o) => o.status === 'InProgress')) {
      if (Date.now() > end) throw new Error('emulator: operations still in progress');
      await this.tick();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** A deep copy of every resource (to undo a request, e.g. an lroFailed fault on a synchronous write). */
  snapshotResources(): Resource[] {
    return [...this.resources.values()].map((r) => clone(r));
  }

  restoreResources(snap: Resource[]): void {
    this.resources.clear();
    for (const r of snap) this.set(r);
    this.changed();
  }

  /** Starts guest work now (e.g. copy a disk's content at snapshot time); `awaitHook` waits for it. */
  startHook(key: string, fn: () => Promise<void> | void): void {
    const p = Promise.resolve().then(fn);
    p.catch(() => undefined);
    this.hookPromises.set(key.toLowerCase(), p);
  }

  async awaitHook(key: string): Promise<void> {
    const p = this.hookPromises.get(key.toLowerCase());
    this.hookPromises.delete(key.toLowerCase());
    if (p) await p;
  }

  // ---------- persistence ----------
  changed(): void {
    if (!this.statePath || this.closed) return;
    const data = {
      version: 1,
      subscriptionId: this.subscriptionId,
      ipCounter: this.ipCounter,
      // secrets (admin passwords) stay in memory only
      resources: [...this.resources.values()].map((r) =>
        r.meta?.adminPassword === undefined ? r : { ...r, meta: { ...r.meta, adminPassword: undefined } },
      ),
      ops: [...this.ops.values()],
    };
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 1));
    renameSync(tmp, this.statePath);
  }

  private load(path: string): void {
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      subscriptionId?: string;
      ipCounter?: number;
      resources?: Resource[];
      ops?: AsyncOp[];
    };
    if (data.subscriptionId) this.subscriptionId = data.subscriptionId;
    this.ipCounter = data.ipCounter ?? this.ipCounter;
    for (const r of data.resources ?? []) this.set(r);
    for (const o of data.ops ?? []) {
      this.ops.set(o.id, o);
      if (o.status === 'InProgress') this.arm(o);
    }
  }

  dump(): { resources: Json[]; ops: AsyncOp[] } {
    return {
      resources: [...this.resources.values()].map((r) => this.render(r)),
      ops: [...this.ops.values()],
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running.values()]);
  }
}
