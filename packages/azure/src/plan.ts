/**
 * Plans: a DAG of steps run by a small executor.
 *
 * - independent steps run concurrently (bounded by `concurrency`);
 * - a failed step's dependants are skipped (transitively) while already-running independent steps finish;
 * - retryable failures (429, 408, 5xx, transient ARM codes) are retried with bounded, jittered back-off that
 *   honours Retry-After, on top of the SDK pipeline's own retries;
 * - each step has a timeout (AbortSignal), and the whole plan stops cleanly on an abort signal (wire SIGINT /
 *   SIGTERM with `abortOnProcessSignals`);
 * - every transition is an event with wall-clock and plan-relative timings (the bench consumes them).
 */
import { AzureOperationError, isRetryable, toAzureError } from './errors';

export type StepKind = 'read' | 'write' | 'delete' | 'action' | 'wait';

export interface StepResource {
  /** ARM type, e.g. Microsoft.Compute/virtualMachines. */
  type: string;
  name: string;
  id?: string;
}

export interface StepRunContext<C> {
  /** What the caller passed as `context` (usually an AzureContext plus inputs). */
  context: C;
  /** Results of the steps that already succeeded, by step id. */
  results: ReadonlyMap<string, unknown>;
  stepId: string;
  /** 1 for the first try. */
  attempt: number;
  /** The result of a dependency (throws when it has none). */
  result<T = unknown>(stepId: string): T;
}

export interface PlanStep<C = unknown, R = unknown> {
  id: string;
  title: string;
  kind: StepKind;
  dependsOn?: string[];
  resource?: StepResource;
  /** Non-secret facts shown by describePlan (values under secret-looking keys are masked anyway). */
  details?: Record<string, unknown>;
  /** Overrides the executor's stepTimeoutMs. */
  timeoutMs?: number;
  /** Overrides the executor's retries. */
  retries?: number;
  run(ctx: StepRunContext<C>, signal: AbortSignal): Promise<R>;
}

export interface Plan<C = unknown> {
  name: string;
  steps: PlanStep<C>[];
}

export class PlanError extends Error {
  override readonly name = 'PlanError';
  constructor(readonly problems: string[]) {
    super(`Invalid plan:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Every structural problem at once: duplicate ids, unknown dependencies, cycles. */
export function validatePlan(plan: Plan<unknown>): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const s of plan.steps) {
    if (!s.id) problems.push(`a step has no id (title: ${s.title ?? '?'})`);
    if (ids.has(s.id)) problems.push(`duplicate step id '${s.id}'`);
    ids.add(s.id);
  }
  for (const s of plan.steps) {
    for (const d of s.dependsOn ?? []) {
      if (!ids.has(d)) problems.push(`step '${s.id}' depends on unknown step '${d}'`);
      if (d === s.id) problems.push(`step '${s.id}' depends on itself`);
    }
  }
  if (!problems.length) {
    const cycle = findCycle(plan);
    if (cycle) problems.push(`dependency cycle: ${cycle.join(' -> ')}`);
  }
  if (problems.length) throw new PlanError(problems);
}

function findCycle(plan: Plan<unknown>): string[] | undefined {
  const deps = new Map(plan.steps.map((s) => [s.id, s.dependsOn ?? []]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 2) return undefined;
    if (state.get(id) === 1) return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 1);
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const s of plan.steps) {
    const c = visit(s.id);
    if (c) return c;
  }
  return undefined;
}

/** Steps grouped by depth: level 0 has no dependencies; steps in one level can run together. */
export function planLevels(plan: Plan<unknown>): string[][] {
  validatePlan(plan);
  const level = new Map<string, number>();
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const depth = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(byId.get(id)!.dependsOn ?? []).map(depth)) + 1;
    level.set(id, d);
    return d;
  };
  const levels: string[][] = [];
  for (const s of plan.steps) (levels[depth(s.id)] ??= []).push(s.id);
  return levels;
}

const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|private|customdata|credential|authorization/i;

/** Deep copy with values under secret-looking keys masked (strings, objects) and long strings shortened. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '…';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // numbers and booleans under a secret-looking key are facts about a secret (a size, a flag), kept
      const masked =
        SECRET_KEY.test(k) &&
        v !== undefined &&
        v !== null &&
        v !== '' &&
        typeof v !== 'number' &&
        typeof v !== 'boolean';
      out[k] = masked ? '***' : redact(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 300)
    return `${value.slice(0, 60)}… (${value.length} chars)`;
  return value;
}

export interface PlanDescription {
  name: string;
  steps: Array<{
    id: string;
    title: string;
    kind: StepKind;
    dependsOn: string[];
    level: number;
    resource?: StepResource;
    details?: unknown;
  }>;
  levels: string[][];
  counts: Record<StepKind, number>;
}

/** The plan for --dry-run: text for humans, JSON for machines. No secrets. */
export function describePlan(plan: Plan<unknown>): { text: string; json: PlanDescription } {
  const levels = planLevels(plan);
  const levelOf = new Map<string, number>();
  levels.forEach((ids, i) => ids.forEach((id) => levelOf.set(id, i)));
  const counts: Record<StepKind, number> = { read: 0, write: 0, delete: 0, action: 0, wait: 0 };
  const steps = plan.steps.map((s) => {
    counts[s.kind]++;
    return {
      id: s.id,
      title: s.title,
      kind: s.kind,
      dependsOn: [...(s.dependsOn ?? [])],
      level: levelOf.get(s.id)!,
      ...(s.resource ? { resource: { ...s.resource } } : {}),
      ...(s.details ? { details: redact(s.details) } : {}),
    };
  });
  const lines = [`Plan ${plan.name}: ${plan.steps.length} steps in ${levels.length} stages`];
  let n = 1;
  for (const [i, ids] of levels.entries()) {
    lines.push(`  stage ${i + 1}${ids.length > 1 ? ' (in parallel)' : ''}:`);
    for (const id of ids) {
      const s = steps.find((x) => x.id === id)!;
      const res = s.resource ? ` [${s.resource.type.split('/').pop()} ${s.resource.name}]` : '';
      const after = s.dependsOn.length ? ` (after ${s.dependsOn.join(', ')})` : '';
      lines.push(`    ${n++}. ${s.kind.padEnd(6)} ${s.title}${res}${after}`);
      if (s.details) {
        for (const [k, v] of Object.entries(s.details as Record<string, unknown>)) {
          lines.push(`         ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
        }
      }
    }
  }
  const summary = (Object.entries(counts) as [StepKind, number][])
    .filter(([, c]) => c)
    .map(([k, c]) => `${c} ${k}`)
    .join(', ');
  lines.push(`  totals: ${summary || 'nothing to do'}`);
  return { text: lines.join('\n'), json: { name: plan.name, steps, levels, counts } };
}

// ---------------------------------------------------------------------------------------------- execution

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

interface Timing {
  /** Wall-clock ms since the epoch. */
  at: number;
  /** ms since the plan started. */
  t: number;
}

export type PlanEvent =
  | ({ type: 'plan-start'; plan: string; steps: number } & Timing)
  | ({ type: 'step-start'; stepId: string; title: string; kind: StepKind; attempt: number } & Timing)
  | ({
      type: 'step-retry';
      stepId: string;
      attempt: number;
      delayMs: number;
      code: string;
      message: string;
    } & Timing)
  | ({
      type: 'step-end';
      stepId: string;
      title: string;
      kind: StepKind;
      status: 'succeeded' | 'failed' | 'cancelled';
      attempts: number;
      startedAt: number;
      endedAt: number;
      /** plan-relative start/end */
      startT: number;
      endT: number;
      durationMs: number;
      error?: { code: string; message: string; hint?: string; statusCode?: number };
    } & Timing)
  | ({
      type: 'step-skip';
      stepId: string;
      title: string;
      status: 'skipped' | 'cancelled';
      reason: string;
    } & Timing)
  | ({
      type: 'plan-end';
      plan: string;
      status: PlanStatus;
      durationMs: number;
      counts: Record<StepStatus, number>;
    } & Timing);

export type PlanStatus = 'succeeded' | 'failed' | 'cancelled';

export interface StepOutcome {
  id: string;
  title: string;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  startT?: number;
  endT?: number;
  durationMs?: number;
  error?: AzureOperationError;
  reason?: string;
  result?: unknown;
}

export interface PlanResult {
  plan: string;
  status: PlanStatus;
  durationMs: number;
  steps: Record<string, StepOutcome>;
  results: Map<string, unknown>;
  /** Errors of the failed steps, in the order they failed. */
  errors: AzureOperationError[];
  counts: Record<StepStatus, number>;
}

export interface ExecutePlanOptions<C> {
  context: C;
  /** Max steps running at once. Default 4. */
  concurrency?: number;
  /** Per-step timeout (whole step including retries). Default none. */
  stepTimeoutMs?: number;
  /** Extra attempts for retryable failures. Default 3. */
  retries?: number;
  /** Back-off base for failures without Retry-After. Default 1000 ms. */
  retryBaseDelayMs?: number;
  /** Cap for any single retry wait (Retry-After included). Default 60 s. */
  maxRetryDelayMs?: number;
  /** Abort the whole plan (running steps get the signal; pending steps are cancelled). */
  signal?: AbortSignal;
  onEvent?: (e: PlanEvent) => void;
  /** When a step fails, do not start independent pending steps either (running ones still finish). */
  failFast?: boolean;
  /** Randomness for jitter (tests). Default Math.random. */
  random?: () => number;
}

class StepTimeoutSignal extends Error {
  override readonly name = 'StepTimeout';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolve/reject with `p`, or reject as soon as `signal` aborts (even if `p` ignores the signal). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Compute the wait before retry `attempt` (1-based retry number). */
export function retryDelay(
  err: AzureOperationError,
  retryNumber: number,
  o: { baseMs: number; maxMs: number; random: () => number },
): number {
  if (err.retryAfterMs !== undefined) {
    // honour the server, add up to 20% (max 1 s) jitter so parallel steps do not stampede
    const jitter = o.random() * Math.min(err.retryAfterMs * 0.2, 1000);
    return Math.min(o.maxMs, err.retryAfterMs + jitter);
  }
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** (retryNumber - 1));
  return Math.round(ceiling / 2 + (o.random() * ceiling) / 2); // "equal jitter": never 0, never above the ceiling
}

export async function executePlan<C>(plan: Plan<C>, options: ExecutePlanOptions<C>): Promise<PlanResult> {
  validatePlan(plan as Plan<unknown>);
  const t0 = performance.now();
  const now = () => ({ at: Date.now(), t: Math.round((performance.now() - t0) * 1000) / 1000 });
  const emit = (e: PlanEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      // a broken listener must not break the plan
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const random = options.random ?? Math.random;
  const results = new Map<string, unknown>();
  const outcomes: Record<string, StepOutcome> = {};
  const errors: AzureOperationError[] = [];
  for (const s of plan.steps)
    outcomes[s.id] = { id: s.id, title: s.title, kind: s.kind, status: 'pending', attempts: 0 };
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const running = new Map<string, Promise<void>>();
  let failed = false;

  emit({ type: 'plan-start', plan: plan.name, steps: plan.steps.length, ...now() });

  const skip = (id: string, status: 'skipped' | 'cancelled', reason: string) => {
    const o = outcomes[id];
    o.status = status;
    o.reason = reason;
    emit({ type: 'step-skip', stepId: id, title: o.title, status, reason, ...now() });
  };

  const runStep = async (step: PlanStep<C>): Promise<void> => {
    const o = outcomes[step.id];
    o.status = 'running';
    const controller = new AbortController();
    const onPlanAbort = () => controller.abort(options.signal!.reason ?? new Error('plan aborted'));
    if (options.signal) {
      if (options.signal.aborted) onPlanAbort();
      else options.signal.addEventListener('abort', onPlanAbort, { once: true });
    }
    const timeoutMs = step.timeoutMs ?? options.stepTimeoutMs;
    const timer =
      timeoutMs !== undefined
        ? setTimeout(
            () =>
              controller.abort(new StepTimeoutSignal(`step '${step.id}' timed out after ${timeoutMs} ms`)),
            timeoutMs,
          )
        : undefined;
    const retries = step.retries ?? options.retries ?? 3;
    const start = now();
    o.startT = start.t;
    let attempt = 0;
    const finish = (status: 'succeeded' | 'failed' | 'cancelled', error?: AzureOperationError) => {
      const end = now();
      o.status = status;
      o.attempts = attempt;
      o.endT = end.t;
      o.durationMs = Math.round((end.t - start.t) * 1000) / 1000;
      if (error) o.error = error;
      emit({
        type: 'step-end',
        stepId: step.id,
        title: step.title,
        kind: step.kind,
        status,
        attempts: attempt,
        startedAt: start.at,
        endedAt: end.at,
        startT: start.t,
        endT: end.t,
        durationMs: o.durationMs,
        ...(error
          ? {
              error: {
                code: error.code,
                message: error.armMessage,
                hint: error.hint,
                statusCode: error.statusCode,
              },
            }
          : {}),
        ...end,
      });
    };
    const abortOutcome = (): ['failed' | 'cancelled', AzureOperationError] => {
      const reason = controller.signal.reason;
      if (reason instanceof StepTimeoutSignal) {
        return [
          'failed',
          new AzureOperationError({
            code: 'StepTimeout',
            message: reason.message,
            operation: step.title,
            cause: reason,
          }),
        ];
      }
      const why = reason instanceof Error ? reason.message : String(reason ?? 'aborted');
      return [
        'cancelled',
        new AzureOperationError({ code: 'Aborted', message: why, operation: step.title, cause: reason }),
      ];
    };
    try {
      while (true) {
        attempt++;
        emit({ type: 'step-start', stepId: step.id, title: step.title, kind: step.kind, attempt, ...now() });
        try {
          const ctx: StepRunContext<C> = {
            context: options.context,
            results,
            stepId: step.id,
            attempt,
            result<T>(id: string): T {
              if (!results.has(id))
                throw new Error(`step '${step.id}' asked for the result of '${id}', which has none`);
              return results.get(id) as T;
            },
          };
          const value = await raceAbort(
            Promise.resolve().then(() => step.run(ctx, controller.signal)),
            controller.signal,
          );
          results.set(step.id, value);
          o.result = value;
          finish('succeeded');
          return;
        } catch (err) {
          if (controller.signal.aborted) {
            const [status, e] = abortOutcome();
            if (status === 'failed') {
              failed = true;
              errors.push(e);
            }
            finish(status, e);
            return;
          }
          const e = toAzureError(err, step.title);
          if (attempt <= retries && isRetryable(e)) {
            const delayMs = retryDelay(e, attempt, {
              baseMs: options.retryBaseDelayMs ?? 1000,
              maxMs: options.maxRetryDelayMs ?? 60_000,
              random,
            });
            emit({
              type: 'step-retry',
              stepId: step.id,
              attempt,
              delayMs,
              code: e.code,
              message: e.armMessage,
              ...now(),
            });
            try {
              await sleep(delayMs, controller.signal);
            } catch {
              const [status, ae] = abortOutcome();
              if (status === 'failed') {
                failed = true;
                errors.push(ae);
              }
              finish(status, ae);
              return;
            }
            continue;
          }
          failed = true;
          errors.push(e);
          finish('failed', e);
          return;
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onPlanAbort);
    }
  };

  const order = plan.steps.map((s) => s.id);
  while (true) {
    // propagate failures to dependants
    let changed = true;
    while (changed) {
      changed = false;
      for (const id of order) {
        if (outcomes[id].status !== 'pending') continue;
        const bad = (byId.get(id)!.dependsOn ?? []).find((d) =>
          ['failed', 'skipped', 'cancelled'].includes(outcomes[d].status),
        );
        if (bad) {
          const st = outcomes[bad].status;
          skip(id, 'skipped', `dependency '${bad}' ${st === 'failed' ? 'failed' : `was ${st}`}`);
          changed = true;
        }
      }
    }
    if (options.signal?.aborted) {
      for (const id of order)
        if (outcomes[id].status === 'pending') skip(id, 'cancelled', 'plan was stopped');
    } else if (failed && options.failFast) {
      for (const id of order)
        if (outcomes[id].status === 'pending') skip(id, 'cancelled', 'an earlier step failed (failFast)');
    } else {
      for (const id of order) {
        if (running.size >= concurrency) break;
        const o = outcomes[id];
        if (o.status !== 'pending') continue;
        const ready = (byId.get(id)!.dependsOn ?? []).every((d) => outcomes[d].status === 'succeeded');
        if (!ready) continue;
        const p = runStep(byId.get(id)!).finally(() => running.delete(id));
        running.set(id, p);
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }
  for (const id of order) if (outcomes[id].status === 'pending') skip(id, 'skipped', 'never became ready');

  const counts: Record<StepStatus, number> = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    cancelled: 0,
  };
  for (const o of Object.values(outcomes)) counts[o.status]++;
  const status: PlanStatus = counts.failed
    ? 'failed'
    : counts.cancelled || options.signal?.aborted
      ? 'cancelled'
      : 'succeeded';
  const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
  emit({ type: 'plan-end', plan: plan.name, status, durationMs, counts, ...now() });
  return { plan: plan.name, status, durationMs, steps: outcomes, results, errors, counts };
}

export interface TimelineRow {
  id: string;
  title: string;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  /** ms since the plan started; undefined for steps that never ran */
  startT?: number;
  endT?: number;
  durationMs?: number;
  code?: string;
}

/** One row per step, in start order (steps that never ran last): what the bench and summaries print. */
export function planTimeline(result: PlanResult): TimelineRow[] {
  return Object.values(result.steps)
    .map((o) => ({
      id: o.id,
      title: o.title,
      kind: o.kind,
      status: o.status,
      attempts: o.attempts,
      ...(o.startT !== undefined ? { startT: o.startT, endT: o.endT, durationMs: o.durationMs } : {}),
      ...(o.error ? { code: o.error.code } : {}),
    }))
    .sort((a, b) => (a.startT ?? Infinity) - (b.startT ?? Infinity));
}

// ---------------------------------------------------------------------------------------------- signals

export interface ProcessSignalHandle {
  signal: AbortSignal;
  controller: AbortController;
  /** Remove the listeners (call when the work is done). */
  dispose(): void;
}

/**
 * Wire SIGINT/SIGTERM (GitHub sends SIGINT on cancel, then SIGTERM) to an AbortController: the first signal
 * aborts, so running steps stop polling and pending ones are cancelled; a second one exits (130/143) unless
 * `exitOnSecond` is false.
 */
export function abortOnProcessSignals(
  options: {
    signals?: NodeJS.Signals[];
    controller?: AbortController;
    onSignal?: (signal: NodeJS.Signals, count: number) => void;
    exitOnSecond?: boolean;
  } = {},
): ProcessSignalHandle {
  const controller = options.controller ?? new AbortController();
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    options.onSignal?.(sig, count);
    if (count === 1) {
      controller.abort(
        new AzureOperationError({ code: 'Aborted', message: `received ${sig}; stopping cleanly` }),
      );
    } else if (options.exitOnSecond !== false) {
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    controller,
    dispose() {
      for (const s of signals) process.off(s, handler);
    },
  };
}
