/** Fault injection: fail, delay or reset matching requests, or make the LRO they start end Failed/Canceled. */
/**
 * - `status`: answer with an HTTP error (ARM body) before anything is written;
 * - `lroFailed` / `lroCanceled`: the async operation the request starts ends Failed / Canceled
 *   (a synchronous write is undone and answered with an error instead);
 * - `delay`: hold the request `delayMs`, then handle it normally;
 * - `reset`: drop the connection before handling (nothing written);
 * - `resetAfter`: handle the request (the write happens), then drop the connection instead of answering
 *   (a lost response: the client must converge on re-run).
 */
export type FaultKind = 'status' | 'lroFailed' | 'lroCanceled' | 'delay' | 'reset' | 'resetAfter';

export interface FaultMatch {
  method?: string;
  /** RegExp (tested against the path + query) or a case-insensitive substring of the path. */
  path?: RegExp | string;
  /** ARM operation name, e.g. `Microsoft.Compute/virtualMachines/write`, `Microsoft.Compute/virtualMachines/deallocate/action`. */
  operation?: RegExp | string;
}

export interface FaultSpec {
  match?: FaultMatch;
  /** Start at the nth matching request (1-based, default 1). */
  nth?: number;
  /** How many matching requests to hit (default 1; Infinity or -1 = every one). */
  times?: number;
  kind: FaultKind;
  /** HTTP status for `status` (default 500). */
  status?: number;
  code?: string;
  message?: string;
  /** Adds `Retry-After` (seconds, rounded up) and `retry-after-ms` headers to a `status` fault. */
  retryAfterMs?: number;
  /** For `delay`: how long to hold the request before handling it. */
  delayMs?: number;
}

export interface ActiveFault extends FaultSpec {
  id: string;
  seen: number;
  hits: number;
}

const defaultCodes: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  408: 'RequestTimeout',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export function defaultCode(status: number): string {
  return defaultCodes[status] ?? 'InternalServerError';
}

export class Faults {
  private list: ActiveFault[] = [];
  private next = 1;

  add(spec: FaultSpec): string {
    const id = `fault-${this.next++}`;
    this.list.push({ ...spec, id, seen: 0, hits: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.list.length;
    this.list = this.list.filter((f) => f.id !== id);
    return this.list.length !== before;
  }

  clear(): void {
    this.list = [];
  }

  active(): ActiveFault[] {
    return this.list.map((f) => ({ ...f }));
  }

  /** The faults that fire for this request, in the order they were added (consumes them). */
  take(method: string, pathAndQuery: string, operation: string): ActiveFault[] {
    const fired: ActiveFault[] = [];
    for (const f of this.list) {
      if (!matches(f.match, method, pathAndQuery, operation)) continue;
      f.seen++;
      const nth = f.nth ?? 1;
      const times = f.times === undefined ? 1 : f.times < 0 ? Infinity : f.times;
      if (f.seen >= nth && f.hits < times) {
        f.hits++;
        fired.push(f);
      }
    }
    return fired;
  }
}

function matches(
  m: FaultMatch | undefined,
  method: string,
  pathAndQuery: string,
  operation: string,
): boolean {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.path !== undefined) {
    if (m.path instanceof RegExp) {
      if (!m.path.test(pathAndQuery)) return false;
    } else if (!pathAndQuery.toLowerCase().includes(m.path.toLowerCase())) return false;
  }
  if (m.operation !== undefined) {
    if (m.operation instanceof RegExp) {
      if (!m.operation.test(operation)) return false;
    } else if (m.operation.toLowerCase() !== operation.toLowerCase()) return false;
  }
  return true;
}

/** Fault specs arriving as JSON over the control endpoint: `path`/`operation` as `{ regex, flags? }` or a string. */
export function faultFromJson(j: Record<string, unknown>): FaultSpec {
  const m = (j.match ?? {}) as Record<string, unknown>;
  const re = (v: unknown): RegExp | string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    const o = v as { regex?: string; flags?: string };
    if (typeof o.regex === 'string') return new RegExp(o.regex, o.flags ?? 'i');
    throw new Error('match.path/operation must be a string or {regex, flags?}');
  };
  const kinds: FaultKind[] = ['status', 'lroFailed', 'lroCanceled', 'delay', 'reset', 'resetAfter'];
  if (!kinds.includes(j.kind as FaultKind)) throw new Error(`kind must be one of ${kinds.join(', ')}`);
  return {
    match: { method: m.method as string | undefined, path: re(m.path), operation: re(m.operation) },
    nth: j.nth as number | undefined,
    times: j.times === null ? Infinity : (j.times as number | undefined),
    kind: j.kind as FaultKind,
    status: j.status as number | undefined,
    code: j.code as string | undefined,
    message: j.message as string | undefined,
    retryAfterMs: j.retryAfterMs as number | undefined,
    delayMs: j.delayMs as number | undefined,
  };
}
