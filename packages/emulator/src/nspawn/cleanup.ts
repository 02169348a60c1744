/**
 * Every host resource the nspawn backend makes (container process, loop device, netns, veth,
 * mount, lock) registers an undo step here. Steps run last-in-first-out and synchronously, so they
 * also run from a signal handler or on process exit. Steps that carry a `record` are also written
 * to a journal under /run/openclawps/nspawn, so `reapStale()` can undo what a SIGKILLed process left.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, killRunningCommands, runSync } from './proc';

export const RUN_DIR = process.env.OPENCLAWPS_NSPAWN_RUN ?? '/run/openclawps/nspawn';

/** What a journal entry describes, enough to undo it without the process that made it. */
export type StaleRecord =
  | { kind: 'process'; pid: number; match: string }
  /** A container's PID 1 (identified by its start time, so a reused pid is never hit). */
  | { kind: 'init'; pid: number; startTime: string }
  | { kind: 'mount'; target: string }
  | { kind: 'loop'; device: string; image: string }
  | { kind: 'netns'; name: string }
  | { kind: 'link'; name: string };

interface Step {
  label: string;
  undo: () => void;
  record?: StaleRecord;
}

const steps: Step[] = [];
let handlersInstalled = false;
const journal = join(RUN_DIR, `owner-${process.pid}.json`);

function writeJournal(): void {
  const records = steps.filter((s) => s.record).map((s) => ({ label: s.label, ...s.record! }));
  try {
    if (!records.length) {
      rmSync(journal, { force: true });
      return;
    }
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(journal, JSON.stringify(records));
  } catch {
    // the journal is a best-effort safety net; in-process cleanup does not depend on it
  }
}

/** Registers an undo step; returns a function that runs it now (once) and unregisters it. */
export function track(label: string, undo: () => void, record?: StaleRecord): () => void {
  const step: Step = { label, undo, record };
  steps.push(step);
  if (record) writeJournal();
  return () => {
    const i = steps.indexOf(step);
    if (i < 0) return;
    steps.splice(i, 1);
    try {
      undo();
    } finally {
      if (record) writeJournal();
    }
  };
}

/** Runs every registered undo step (newest first). Errors are collected, never stop the others. */
export function cleanupAll(log: (msg: string) => void = () => undefined): string[] {
  const errors: string[] = [];
  // in-flight helpers first (an `nsenter` into a container keeps its PID 1 from exiting)
  if (steps.length) killRunningCommands();
  while (steps.length) {
    const step = steps.pop()!;
    try {
      log(`cleanup: ${step.label}`);
      step.undo();
    } catch (err) {
      errors.push(`${step.label}: ${(err as Error).message}`);
    }
  }
  writeJournal();
  return errors;
}

export function pendingCleanups(): string[] {
  return steps.map((s) => s.label);
}

/** On SIGINT/SIGTERM/SIGHUP and on exit, undo everything still registered. Idempotent. */
export function installCleanupHandlers(
  log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`),
): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      log(`${sig}: cleaning up ${steps.length} resource(s)`);
      for (const e of cleanupAll(log)) log(`cleanup error: ${e}`);
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  process.once('exit', () => {
    if (steps.length) for (const e of cleanupAll(log)) log(`cleanup error: ${e}`);
  });
}

/** Sleeps synchronously (for cleanup paths that cannot await). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), '' when gone. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/** Stops a process: SIGTERM, up to `graceMs`, then SIGKILL. `match` must occur in its cmdline (pid reuse). */
export function stopProcessSync(pid: number, match: string, graceMs = 10_000): void {
  const matches = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(match);
    } catch {
      return false;
    }
  };
  if (!alive(pid) || !matches()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) sleepSync(100);
  if (alive(pid)) {
    // children first: for systemd-nspawn that is the container's PID 1, whose death ends the container
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    } catch {
      // exited meanwhile
    }
    for (const c of [...children.map(Number), pid]) {
      try {
        process.kill(c, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

function undoRecord(r: StaleRecord): void {
  switch (r.kind) {
    case 'process':
      stopProcessSync(r.pid, r.match, 5000);
      return;
    case 'init':
      if (processStartTime(r.pid) === r.startTime) {
        // `nsenter -t <init>` helpers of the dead owner: a leftover child of theirs (even a zombie)
        // keeps the namespace's PID 1 from exiting
        for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
          try {
            const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            if (argv[0].endsWith('nsenter') && argv[1] === '-t' && argv[2] === String(r.pid))
              process.kill(Number(p), 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        try {
          process.kill(r.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      return;
    case 'mount':
      if (runSync('findmnt', ['-rn', r.target]).code === 0) runSync('umount', ['-l', r.target]);
      return;
    case 'loop': {
      const back = runSync('losetup', ['-n', '-O', 'BACK-FILE', r.device]).output.trim();
      if (back && back.replace(/ \(deleted\)$/, '') === r.image) {
        runSync('partx', ['-d', r.device]);
        runSync('losetup', ['-d', r.device]);
      }
      return;
    }
    case 'netns':
      runSync('ip', ['netns', 'del', r.name]);
      return;
    case 'link':
      runSync('ip', ['link', 'del', r.name]);
      return;
  }
}

/**
 * Undoes what dead owners left behind (their journals in RUN_DIR), newest resource first.
 * Returns the labels it cleaned. Safe to call while other live processes use the backend.
 */
export function reapStale(log: (msg: string) => void = () => undefined): string[] {
  if (!existsSync(RUN_DIR)) return [];
  const done: string[] = [];
  for (const f of readdirSync(RUN_DIR)) {
    const m = f.match(/^owner-(\d+)\.json$/);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    let records: (StaleRecord & { label: string })[] = [];
    try {
      records = JSON.parse(readFileSync(join(RUN_DIR, f), 'utf8'));
    } catch {
      // unreadable journal: nothing we can safely undo
    }
    for (const r of records.reverse()) {
      log(`reap (owner ${m[1]} is gone): ${r.label}`);
      try {
        undoRecord(r);
        done.push(r.label);
      } catch (err) {
        log(`reap failed: ${r.label}: ${(err as Error).message}`);
      }
    }
    rmSync(join(RUN_DIR, f), { force: true });
  }
  return done;
}
