/** A tiny sequential test runner for the reliability suite (its own process, not jest). */
export type TestFn = () => Promise<void> | void;

interface Case {
  name: string;
  fn?: TestFn;
  skip?: string;
}

interface Group {
  name: string;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  cases: Case[];
  skip?: string;
}

const groups: Group[] = [];
/** A hung case fails instead of hanging the suite. */
const TEST_TIMEOUT_MS = Number(process.env.OPENCLAWPS_REL_TEST_TIMEOUT_MS ?? 300_000);
let current: Group | undefined;

export function group(
  name: string,
  body: (g: {
    setup(fn: () => Promise<void>): void;
    teardown(fn: () => Promise<void>): void;
    skip(reason: string): void;
  }) => void,
): void {
  const g: Group = { name, cases: [] };
  groups.push(g);
  current = g;
  body({
    setup: (fn) => (g.setup = fn),
    teardown: (fn) => (g.teardown = fn),
    skip: (reason) => (g.skip = reason),
  });
  current = undefined;
}

export function test(name: string, fn: TestFn): void {
  if (!current) throw new Error('test() outside group()');
  current.cases.push({ name, fn });
}

export function skipTest(name: string, reason: string): void {
  if (!current) throw new Error('skipTest() outside group()');
  current.cases.push({ name, skip: reason });
}

export class AssertionError extends Error {}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    throw new AssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

export async function runAll(filter?: RegExp): Promise<{ passed: number; failed: number; skipped: number }> {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const t0 = Date.now();
  for (const g of groups) {
    const cases = g.cases.filter((c) => !filter || filter.test(`${g.name} ${c.name}`));
    if (!cases.length) continue;
    console.log(`\n# ${g.name}`);
    if (g.skip) {
      for (const c of cases) console.log(`  - skip ${c.name}: ${g.skip}`);
      counts.skipped += cases.length;
      continue;
    }
    let setupError: unknown;
    const tg = Date.now();
    try {
      await g.setup?.();
    } catch (e) {
      setupError = e;
    }
    for (const c of cases) {
      if (c.skip) {
        console.log(`  - skip ${c.name}: ${c.skip}`);
        counts.skipped++;
        continue;
      }
      if (setupError) {
        console.log(`  x ${c.name}: setup failed: ${(setupError as Error).stack ?? setupError}`);
        counts.failed++;
        continue;
      }
      const t = Date.now();
      try {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.resolve().then(() => c.fn!()),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new AssertionError(`no result after ${TEST_TIMEOUT_MS / 1000} s`)),
              TEST_TIMEOUT_MS,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        console.log(`  ok ${c.name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        counts.passed++;
      } catch (e) {
        console.log(
          `  x ${c.name}: ${e instanceof AssertionError ? e.message : ((e as Error).stack ?? String(e))}`,
        );
        counts.failed++;
      }
    }
    try {
      await g.teardown?.();
    } catch (e) {
      console.log(`  (teardown of ${g.name} failed: ${(e as Error).message})`);
    }
    console.log(`  (${g.name}: ${((Date.now() - tg) / 1000).toFixed(1)} s)`);
  }
  console.log(`\nreliability wall time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return counts;
}
