/**
 * A tiny sequential test harness for the booted-container suites: named steps with wall time,
 * steps that depend on earlier ones are skipped (with the reason) when those failed, and a closing
 * line `<suite>: N passed, M failed, K skipped` that scripts/test-all.mjs sums.
 */
export type StepResult = 'pass' | 'fail' | 'skip';

export class SkipStep extends Error {}

/** Throw from a step to mark it skipped (with the reason shown). */
export function skip(reason: string): never {
  throw new SkipStep(reason);
}

export class Suite {
  readonly started = Date.now();
  private results = new Map<string, StepResult>();
  private rows: string[] = [];
  counts = { pass: 0, fail: 0, skip: 0 };

  constructor(readonly name: string) {}

  elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)}s`;
  }

  log = (msg: string): void => {
    for (const line of msg.split('\n')) console.log(`[${this.elapsed().padStart(7)}] ${line}`);
  };

  /** Runs a step unless one of `needs` did not pass. Returns the step's value, or undefined. */
  async step<T>(name: string, fn: () => Promise<T>, opts: { needs?: string[] } = {}): Promise<T | undefined> {
    const blocked = (opts.needs ?? []).filter((n) => this.results.get(n) !== 'pass');
    if (blocked.length) {
      this.record(name, 'skip', 0, `needs ${blocked.map((b) => `"${b}"`).join(', ')}`);
      return undefined;
    }
    this.log(`── ${name}`);
    const t0 = Date.now();
    try {
      const value = await fn();
      this.record(name, 'pass', Date.now() - t0);
      return value;
    } catch (err) {
      if (err instanceof SkipStep) {
        this.record(name, 'skip', Date.now() - t0, err.message);
      } else {
        this.record(name, 'fail', Date.now() - t0, (err as Error).stack ?? String(err));
      }
      return undefined;
    }
  }

  passed(name: string): boolean {
    return this.results.get(name) === 'pass';
  }

  private record(name: string, result: StepResult, ms: number, detail = ''): void {
    this.results.set(name, result);
    this.counts[result]++;
    const secs = `${(ms / 1000).toFixed(1)} s`;
    const mark = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' }[result];
    this.log(`${mark} ${name} (${secs})${detail ? `: ${detail.split('\n')[0]}` : ''}`);
    if (result === 'fail' && detail.includes('\n')) this.log(detail.split('\n').slice(1).join('\n'));
    this.rows.push(`${mark}  ${secs.padStart(8)}  ${name}${result === 'skip' ? ` — ${detail}` : ''}`);
  }

  /** Prints the table and the closing line; returns the exit code. */
  finish(): number {
    console.log(
      `\n${this.name} steps (wall time ${this.elapsed()}):\n${this.rows.map((r) => `  ${r}`).join('\n')}`,
    );
    console.log(
      `${this.name}: ${this.counts.pass} passed, ${this.counts.fail} failed, ${this.counts.skip} skipped`,
    );
    return this.counts.fail ? 1 : 0;
  }
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/**
 * Runs a suite's main and exits with its code. A crash outside any step still ends with the closing
 * line (counted as one more failure), after `onCrash` has cleaned up.
 */
export function runSuite(suite: Suite, main: () => Promise<number>, onCrash: () => void): void {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      onCrash();
      console.log(
        `${suite.name}: ${suite.counts.pass} passed, ${suite.counts.fail + 1} failed, ${suite.counts.skip} skipped`,
      );
      process.exit(1);
    },
  );
}
