/**
 * The phase tables of stamp and upgrade. The flows only ever enter a phase through `PhaseRunner.enter`,
 * with an id typed from these tables, so the exported lists (used by the crash matrix) are the code's own
 * and cannot drift from it.
 *
 * Test hook: `OPENCLAWPS_CRASH_AT=<phase>` kills the process with SIGKILL right after that phase starts;
 * `OPENCLAWPS_CRASH_AT=<phase>+<ms>` kills it <ms> after the phase started (mid-operation, e.g. while an
 * LRO is in flight). Several comma-separated entries are allowed; the first phase entered that matches fires.
 */
import type { Reporter } from '@openclawps/config';

export interface PhaseInfo {
  id: string;
  title: string;
  /** Which path of the flow enters it. */
  path: 'forward' | 'rollback' | 'any';
  /** The claw is down while this phase runs (upgrade). */
  downtime?: boolean;
}

export const STAMP_PHASE_TABLE = [
  { id: 'validate', title: 'validate the spec (no Azure call)', path: 'any' },
  { id: 'preflight', title: 'read Azure: image version, ownership of every name (no write)', path: 'any' },
  { id: 'infrastructure', title: 'resource group, network, public IP, data disk, NIC, VM', path: 'any' },
  { id: 'wait-boot', title: 'wait for SSH and claw-boot', path: 'any' },
  { id: 'verify', title: 'verify the claw', path: 'any' },
] as const satisfies readonly PhaseInfo[];

export const UPGRADE_PHASE_TABLE = [
  {
    id: 'preflight',
    title: 'read-only checks: target, replication, generation, security type, ownership, LUN 0',
    path: 'any',
  },
  { id: 'lock', title: 'take the upgrade lease (data disk tag, read back)', path: 'forward' },
  { id: 'snapshot', title: 'incremental snapshot of the data disk', path: 'forward' },
  {
    id: 'mark',
    title: 'mark the VM (upgrade tag) and set delete options: OS disk, NIC and data disk Detach',
    path: 'forward',
  },
  {
    id: 'quiesce',
    title: 'stop the gateway and the sidecar over SSH and flush the disks (downtime starts)',
    path: 'forward',
    downtime: true,
  },
  {
    id: 'deallocate',
    title: 'deallocate the VM (stop-method deallocate, or SSH failed; downtime starts)',
    path: 'forward',
    downtime: true,
  },
  {
    id: 'delete-vm',
    title: 'delete the VM (OS disk, NIC and data disk are kept)',
    path: 'forward',
    downtime: true,
  },
  {
    id: 'create-vm',
    title: 'create the VM from the target version with the same NIC and data disk',
    path: 'forward',
    downtime: true,
  },
  {
    id: 'wait-boot',
    title: 'wait for SSH and claw-boot on the new OS disk',
    path: 'forward',
    downtime: true,
  },
  { id: 'verify', title: 'verify the upgraded claw', path: 'forward', downtime: true },
  {
    id: 'cleanup',
    title: 'delete old OS disks beyond keep, prune snapshots, clear the upgrade tags',
    path: 'forward',
  },
  { id: 'rollback-mark', title: 'record the rollback in the upgrade tag', path: 'rollback' },
  {
    id: 'rollback-delete-vm',
    title: 'delete the failed VM (its new OS disk goes with it)',
    path: 'rollback',
  },
  {
    id: 'rollback-create-vm',
    title: 'recreate the VM on the kept OS disk (specialized attach)',
    path: 'rollback',
  },
  { id: 'rollback-verify', title: 'wait for boot and verify the rolled-back claw', path: 'rollback' },
  { id: 'rollback-cleanup', title: 'clear the upgrade tags', path: 'rollback' },
] as const satisfies readonly PhaseInfo[];

export type StampPhase = (typeof STAMP_PHASE_TABLE)[number]['id'];
export type UpgradePhase = (typeof UPGRADE_PHASE_TABLE)[number]['id'];

/** Ordered phase ids (the crash matrix iterates these). */
export const STAMP_PHASES: readonly StampPhase[] = STAMP_PHASE_TABLE.map((p) => p.id);
export const UPGRADE_PHASES: readonly UpgradePhase[] = UPGRADE_PHASE_TABLE.map((p) => p.id);

export const CRASH_ENV = 'OPENCLAWPS_CRASH_AT';

interface CrashSpec {
  phase: string;
  afterMs?: number;
}

export function parseCrashSpec(value: string | undefined): CrashSpec[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^([a-z-]+)(?:\+(\d+))?$/.exec(s);
      return m ? { phase: m[1], afterMs: m[2] !== undefined ? Number(m[2]) : undefined } : { phase: s };
    });
}

export interface PhaseTiming {
  phase: string;
  seconds: number;
}

/** Enters phases in order, logs them, records a timeline, and honours the crash hook. */
export class PhaseRunner<P extends string> {
  readonly timeline: PhaseTiming[] = [];
  private current?: { phase: P; start: number };
  private readonly crash: CrashSpec[];
  private readonly known: Set<string>;

  constructor(
    private readonly flow: string,
    table: readonly PhaseInfo[],
    private readonly reporter: Reporter,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.known = new Set(table.map((p) => p.id));
    this.crash = parseCrashSpec(env[CRASH_ENV]);
  }

  enter(phase: P, detail = ''): void {
    if (!this.known.has(phase)) throw new Error(`${this.flow}: unknown phase ${phase}`);
    this.close();
    this.current = { phase, start: Date.now() };
    this.reporter.info(`[${this.flow}] phase ${phase}${detail ? `: ${detail}` : ''}`);
    const hit = this.crash.find((c) => c.phase === phase);
    if (hit) {
      if (hit.afterMs === undefined || hit.afterMs === 0) killSelf();
      else setTimeout(killSelf, hit.afterMs).unref?.();
    }
  }

  /** Ends the current phase (also called by the next enter). */
  close(): void {
    if (this.current) {
      this.timeline.push({
        phase: this.current.phase,
        seconds: Math.round((Date.now() - this.current.start) / 10) / 100,
      });
      this.current = undefined;
    }
  }

  has(phase: P): boolean {
    return this.timeline.some((t) => t.phase === phase) || this.current?.phase === phase;
  }
}

function killSelf(): void {
  // a real SIGKILL: no finally blocks, no exit handlers, exactly like the runner killing the job
  process.kill(process.pid, 'SIGKILL');
}
