import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  AzureOperationError,
  describePlan,
  executePlan,
  PlanError,
  planTimeline,
  retryDelay,
  validatePlan,
  type Plan,
  type PlanEvent,
  type PlanStep,
} from '@openclawps/azure';

type Ctx = { log: string[] };

function step(
  id: string,
  deps: string[],
  run: PlanStep<Ctx>['run'],
  extra: Partial<PlanStep<Ctx>> = {},
): PlanStep<Ctx> {
  return { id, title: `step ${id}`, kind: 'write', dependsOn: deps, run, ...extra };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `n` callers have arrived: proves they were running at the same time. */
function barrier(n: number) {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return async () => {
    arrived++;
    if (arrived === n) release();
    await all;
  };
}

function throttled(retryAfterMs: number): Error {
  // the shape the SDK throws for a 429 after its own retries (RestError with response headers)
  const err = new Error(
    'The server rejected the request because too many requests have been received.',
  ) as Error & {
    name: string;
    code: string;
    statusCode: number;
    response: { status: number; headers: { get(n: string): string | undefined } };
  };
  err.name = 'RestError';
  err.code = 'TooManyRequests';
  err.statusCode = 429;
  err.response = {
    status: 429,
    headers: { get: (n: string) => (n === 'retry-after-ms' ? String(retryAfterMs) : undefined) },
  };
  return err;
}

describe('executePlan', () => {
  it('runs independent steps concurrently (they meet at a barrier) and reports overlapping timings', async () => {
    const meet = barrier(3);
    const events: PlanEvent[] = [];
    const plan: Plan<Ctx> = {
      name: 'parallel',
      steps: ['a', 'b', 'c'].map((id) =>
        step(id, [], async () => {
          await meet();
          await delay(5);
          return id;
        }),
      ),
    };
    const res = await executePlan(plan, {
      context: { log: [] },
      concurrency: 3,
      onEvent: (e) => events.push(e),
    });
    expect(res.status).toBe('succeeded');
    expect(res.counts.succeeded).toBe(3);
    const ends = events.filter((e) => e.type === 'step-end') as Extract<PlanEvent, { type: 'step-end' }>[];
    expect(ends).toHaveLength(3);
    const latestStart = Math.max(...ends.map((e) => e.startT));
    const earliestEnd = Math.min(...ends.map((e) => e.endT));
    expect(latestStart).toBeLessThan(earliestEnd); // all three were in flight together
    expect(events[0].type).toBe('plan-start');
    const rows = planTimeline(res);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(rows.every((r) => r.durationMs! >= 0 && r.endT! >= r.startT!)).toBe(true);
    expect(events[events.length - 1].type).toBe('plan-end');
  });

  it('respects the concurrency limit', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const plan: Plan<Ctx> = {
      name: 'limited',
      steps: ['a', 'b', 'c', 'd'].map((id) =>
        step(id, [], async () => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await delay(5);
          inFlight--;
        }),
      ),
    };
    const res = await executePlan(plan, { context: { log: [] }, concurrency: 2 });
    expect(res.status).toBe('succeeded');
    expect(maxInFlight).toBe(2);
  });

  it('orders dependants after their dependencies and passes results along', async () => {
    const order: string[] = [];
    const plan: Plan<Ctx> = {
      name: 'chain',
      steps: [
        step('c', ['b'], async (ctx) => {
          order.push('c');
          return `${ctx.result<string>('b')}+c`;
        }),
        step('a', [], async () => {
          order.push('a');
          return 'a';
        }),
        step('b', ['a'], async (ctx) => {
          order.push('b');
          return `${ctx.result<string>('a')}+b`;
        }),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] } });
    expect(order).toEqual(['a', 'b', 'c']);
    expect(res.results.get('c')).toBe('a+b+c');
  });

  it('a failure skips its dependants (transitively) and lets running independent steps finish', async () => {
    const events: PlanEvent[] = [];
    let independentFinished = false;
    const plan: Plan<Ctx> = {
      name: 'failure',
      steps: [
        step('bad', [], async () => {
          await delay(2);
          throw new AzureOperationError({
            code: 'OperationNotAllowed',
            message: 'Disk d is attached to VM v.',
          });
        }),
        step('child', ['bad'], async () => 'never'),
        step('grandchild', ['child'], async () => 'never'),
        step('independent', [], async () => {
          await delay(30);
          independentFinished = true;
          return 'ok';
        }),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] }, onEvent: (e) => events.push(e) });
    expect(res.status).toBe('failed');
    expect(res.steps.bad.status).toBe('failed');
    expect(res.steps.bad.error?.code).toBe('OperationNotAllowed');
    expect(res.steps.bad.attempts).toBe(1); // not retryable
    expect(res.steps.child.status).toBe('skipped');
    expect(res.steps.child.reason).toMatch(/bad/);
    expect(res.steps.grandchild.status).toBe('skipped');
    expect(res.steps.independent.status).toBe('succeeded');
    expect(independentFinished).toBe(true);
    expect(res.errors.map((e) => e.code)).toEqual(['OperationNotAllowed']);
    expect(events.filter((e) => e.type === 'step-skip').map((e) => (e as { stepId: string }).stepId)).toEqual(
      ['child', 'grandchild'],
    );
  });

  it('failFast cancels pending independent steps but lets running ones finish', async () => {
    const plan: Plan<Ctx> = {
      name: 'failfast',
      steps: [
        step('bad', [], async () => {
          throw new AzureOperationError({ code: 'InvalidParameter', message: 'nope' });
        }),
        step('running', [], async () => {
          await delay(20);
          return 1;
        }),
        step('later', [], async () => 2),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] }, concurrency: 2, failFast: true });
    expect(res.steps.running.status).toBe('succeeded');
    expect(res.steps.later.status).toBe('cancelled');
    expect(res.status).toBe('failed');
  });

  it('retries 429 honouring retry-after-ms, with bounded attempts', async () => {
    let calls = 0;
    const events: PlanEvent[] = [];
    const plan: Plan<Ctx> = {
      name: 'retry',
      steps: [
        step('flaky', [], async () => {
          calls++;
          if (calls < 3) throw throttled(15);
          return 'done';
        }),
        step('always', [], async () => {
          throw throttled(1);
        }),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] }, retries: 2, onEvent: (e) => events.push(e) });
    expect(res.steps.flaky.status).toBe('succeeded');
    expect(res.steps.flaky.attempts).toBe(3);
    const retries = events.filter((e) => e.type === 'step-retry' && e.stepId === 'flaky') as Extract<
      PlanEvent,
      { type: 'step-retry' }
    >[];
    expect(retries).toHaveLength(2);
    for (const r of retries) {
      expect(r.code).toBe('TooManyRequests');
      expect(r.delayMs).toBeGreaterThanOrEqual(15);
      expect(r.delayMs).toBeLessThanOrEqual(15 + 3);
    }
    expect(res.steps.always.status).toBe('failed');
    expect(res.steps.always.attempts).toBe(3);
    expect(res.steps.always.error?.statusCode).toBe(429);
  });

  it('times a step out through its AbortSignal and skips its dependants', async () => {
    let sawAbort = false;
    const plan: Plan<Ctx> = {
      name: 'timeout',
      steps: [
        step('slow', [], (_ctx, signal) => {
          signal.addEventListener('abort', () => (sawAbort = true));
          return new Promise(() => undefined); // never settles, like a hung poll
        }),
        step('after', ['slow'], async () => 1),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] }, stepTimeoutMs: 30 });
    expect(res.steps.slow.status).toBe('failed');
    expect(res.steps.slow.error?.code).toBe('StepTimeout');
    expect(res.steps.slow.error?.hint).toMatch(/timeout/i);
    expect(sawAbort).toBe(true);
    expect(res.steps.after.status).toBe('skipped');
  });

  it('stops cleanly on abort: running steps see the signal, pending ones are cancelled', async () => {
    const controller = new AbortController();
    let runningSawAbort = false;
    const plan: Plan<Ctx> = {
      name: 'abort',
      steps: [
        step('long', [], (_c, signal) => {
          setTimeout(() => controller.abort(new Error('SIGINT')), 10);
          return new Promise((_r, reject) =>
            signal.addEventListener('abort', () => {
              runningSawAbort = true;
              reject(signal.reason);
            }),
          );
        }),
        step('next', ['long'], async () => 1),
        step('other', ['long'], async () => 2),
      ],
    };
    const res = await executePlan(plan, { context: { log: [] }, signal: controller.signal });
    expect(runningSawAbort).toBe(true);
    expect(res.status).toBe('cancelled');
    expect(res.steps.long.status).toBe('cancelled');
    expect(res.steps.long.error?.code).toBe('Aborted');
    expect(['skipped', 'cancelled']).toContain(res.steps.next.status);
    expect(res.errors).toHaveLength(0);
  });

  it('retryDelay caps Retry-After and jitters exponential back-off', () => {
    const e = new AzureOperationError({ code: 'TooManyRequests', message: 'x', retryAfterMs: 120_000 });
    expect(retryDelay(e, 1, { baseMs: 100, maxMs: 5000, random: () => 0.5 })).toBe(5000);
    const plain = new AzureOperationError({ code: 'InternalServerError', message: 'x', statusCode: 500 });
    expect(retryDelay(plain, 3, { baseMs: 100, maxMs: 5000, random: () => 0 })).toBe(200);
    expect(retryDelay(plain, 3, { baseMs: 100, maxMs: 5000, random: () => 1 })).toBe(400);
  });
});

describe('validatePlan / describePlan', () => {
  it('reports every structural problem at once', () => {
    const noop = async () => undefined;
    const plan: Plan<Ctx> = {
      name: 'broken',
      steps: [step('a', ['missing'], noop), step('a', [], noop), step('b', ['ghost'], noop)],
    };
    expect(() => validatePlan(plan)).toThrow(PlanError);
    try {
      validatePlan(plan);
    } catch (e) {
      expect((e as PlanError).problems).toEqual([
        "duplicate step id 'a'",
        "step 'a' depends on unknown step 'missing'",
        "step 'b' depends on unknown step 'ghost'",
      ]);
    }
    const cyclic: Plan<Ctx> = { name: 'cycle', steps: [step('x', ['y'], noop), step('y', ['x'], noop)] };
    expect(() => validatePlan(cyclic)).toThrow(/cycle: x -> y -> x/);
  });

  it('prints stages in dependency order, as text and JSON, with secrets masked', () => {
    const noop = async () => undefined;
    const plan: Plan<Ctx> = {
      name: 'demo',
      steps: [
        step('rg', [], noop, { resource: { type: 'Microsoft.Resources/resourceGroups', name: 'rg1' } }),
        step('ip', ['rg'], noop),
        step('net', ['rg'], noop),
        step('vm', ['ip', 'net'], noop, {
          details: {
            adminUsername: 'azureuser',
            adminPassword: 'hunter2',
            customData: 'c2VjcmV0',
            customDataBytes: 8,
            passwordAuth: true,
            size: 'B2s',
          },
        }),
      ],
    };
    const { text, json } = describePlan(plan);
    expect(json.levels).toEqual([['rg'], ['ip', 'net'], ['vm']]);
    expect(json.counts.write).toBe(4);
    expect(text).toMatch(/stage 2 \(in parallel\)/);
    expect(text).toMatch(/resourceGroups rg1/);
    expect(text).not.toMatch(/hunter2/);
    expect(JSON.stringify(json)).not.toMatch(/hunter2|c2VjcmV0/);
    expect(json.steps.find((s) => s.id === 'vm')?.details).toEqual({
      adminUsername: 'azureuser',
      adminPassword: '***',
      customData: '***',
      customDataBytes: 8,
      passwordAuth: true,
      size: 'B2s',
    });
  });
});

describe('abortOnProcessSignals', () => {
  it('turns a real SIGINT into an abort in a child process, and a plan there stops cleanly', async () => {
    // A real process receiving a real signal: the child registers a .ts loader (swc), runs a plan whose step
    // waits on its signal, and prints the outcome when SIGINT arrives.
    const planPath = path.resolve(__dirname, '../src/plan.ts');
    const child = `
      const swc = require('@swc/core');
      const fs = require('fs');
      require.extensions['.ts'] = (m, f) => m._compile(swc.transformSync(fs.readFileSync(f, 'utf8'),
        { filename: f, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code, f);
      const { abortOnProcessSignals, executePlan } = require(${JSON.stringify(planPath)});
      const h = abortOnProcessSignals({ exitOnSecond: false });
      const keep = setInterval(() => {}, 1000); // stands in for the SDK's pending poll
      executePlan({ name: 'sig', steps: [
        { id: 'wait', title: 'wait', kind: 'wait', run: (_c, s) => new Promise((_r, j) => { process.stdout.write('ready\\n'); s.addEventListener('abort', () => j(s.reason)); }) },
        { id: 'after', title: 'after', kind: 'write', dependsOn: ['wait'], run: async () => 1 },
      ] }, { context: {}, signal: h.signal }).then((r) => {
        h.dispose();
        clearInterval(keep);
        process.stdout.write(JSON.stringify({ status: r.status, wait: r.steps.wait.status, code: r.steps.wait.error && r.steps.wait.error.code, after: r.steps.after.status }) + '\\n');
      });
    `;
    const proc = spawn(process.execPath, ['-e', child], { cwd: path.resolve(__dirname, '../../..') });
    let out = '';
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d) => {
        out += d;
        if (out.includes('ready')) resolve();
      });
      proc.on('exit', () => reject(new Error(`child exited early: ${err}`)));
    });
    proc.kill('SIGINT');
    expect(await exit).toBe(0);
    const result = JSON.parse(out.trim().split('\n').pop()!);
    expect(result).toEqual({ status: 'cancelled', wait: 'cancelled', code: 'Aborted', after: 'skipped' });
  });
});
