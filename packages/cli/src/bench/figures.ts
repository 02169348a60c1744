/** Bench figures and the critical-path arithmetic the bounds are made of. */
import { LATENCY_MS, type AsyncOp, type Emulator, type RequestRecord } from '@openclawps/emulator';

export interface Figure {
  id: string;
  name: string;
  value: number;
  unit: string;
  bound: number;
  ratio: number;
  /** Human-readable target, e.g. "<= 1.10 x bound". */
  target: string;
  met: boolean;
  /** How the value and the bound were obtained (not part of the contract). */
  detail?: string;
}

export const round = (x: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export function figure(
  f: Omit<Figure, 'ratio' | 'met'> & { ratio?: number; direction: 'max' | 'min'; limit: number },
): Figure {
  const ratio = f.ratio ?? (f.bound > 0 ? f.value / f.bound : Number.POSITIVE_INFINITY);
  const met = f.direction === 'max' ? ratio <= f.limit : ratio >= f.limit;
  return {
    id: f.id,
    name: f.name,
    value: round(f.value),
    unit: f.unit,
    bound: round(f.bound),
    ratio: round(ratio),
    target: f.target,
    met,
    ...(f.detail ? { detail: f.detail } : {}),
  };
}

/** One ARM operation as the emulator charged it: latency-table part and guest-hook part (ms). */
export interface ChargedOp {
  resourceId: string;
  /** e.g. Microsoft.Compute/virtualMachines */
  type: string;
  method: string;
  start: number;
  latencyMs: number;
  guestMs: number;
}

/** The async operations the emulator ran between two instants (inclusive of start). */
export function chargedOps(emu: Emulator, from: number, to = Number.POSITIVE_INFINITY): ChargedOp[] {
  const out: ChargedOp[] = [];
  for (const op of emu.world.ops.values() as IterableIterator<AsyncOp>) {
    const start = Date.parse(op.startTime);
    if (start < from || start > to) continue;
    const end = op.endTime ? Date.parse(op.endTime) : op.finishAt;
    out.push({
      resourceId: op.resourceId,
      type: armType(op.resourceId),
      method: op.method,
      start,
      latencyMs: Math.max(0, op.finishAt - start),
      guestMs: Math.max(0, end - op.finishAt),
    });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Synchronous (non-LRO) operations that still carry a latency in the emulator (delayMs), by request. */
export function syncCharges(
  requests: RequestRecord[],
  from: number,
  scale: number,
): Array<{ type: string; ms: number; path: string }> {
  const out: Array<{ type: string; ms: number; path: string }> = [];
  for (const r of requests) {
    if (r.poll || Date.parse(r.time) < from || r.status >= 300) continue;
    const op = r.operation;
    if (/resourceGroups\/write$/i.test(op))
      out.push({
        type: 'Microsoft.Resources/resourceGroups',
        ms: LATENCY_MS.resourceGroupCreate * scale,
        path: r.path,
      });
    else if (/networkInterfaces\/write$/i.test(op) && r.method === 'PUT')
      out.push({
        type: 'Microsoft.Network/networkInterfaces',
        ms: LATENCY_MS.nicCreate * scale,
        path: r.path,
      });
    else if (/generalize\/action$/i.test(op))
      out.push({
        type: 'Microsoft.Compute/virtualMachines',
        ms: LATENCY_MS.vmGeneralize * scale,
        path: r.path,
      });
  }
  return out;
}

export function armType(id: string): string {
  const parts = id.split('/').filter(Boolean);
  const i = parts.findIndex((p) => p.toLowerCase() === 'providers');
  if (i < 0) return parts.length <= 4 ? 'Microsoft.Resources/resourceGroups' : 'unknown';
  const ns = parts[i + 1];
  const types = [];
  for (let j = i + 2; j < parts.length; j += 2) types.push(parts[j]);
  return `${ns}/${types.join('/')}`;
}

/** Longest dependent chain through a DAG of steps with durations. */
export function criticalPath(steps: Array<{ id: string; dependsOn: string[]; ms: number }>): {
  ms: number;
  chain: string[];
} {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const memo = new Map<string, { ms: number; chain: string[] }>();
  const visit = (id: string): { ms: number; chain: string[] } => {
    const hit = memo.get(id);
    if (hit) return hit;
    const s = byId.get(id)!;
    let best = { ms: 0, chain: [] as string[] };
    for (const d of s.dependsOn) {
      const r = visit(d);
      if (r.ms > best.ms) best = r;
    }
    const r = { ms: best.ms + s.ms, chain: [...best.chain, id] };
    memo.set(id, r);
    return r;
  };
  let best = { ms: 0, chain: [] as string[] };
  for (const s of steps) {
    const r = visit(s.id);
    if (r.ms > best.ms) best = r;
  }
  return best;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
