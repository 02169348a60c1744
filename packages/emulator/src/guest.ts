/**
 * Hooks the emulated world calls when something happens to a VM or a disk, so that a guest
 * backend can give the fake VMs a real inside (a sandbox directory + ssh2 server, or a
 * systemd-nspawn container). Every hook may be async; the ARM operation that triggered it only
 * reports Succeeded after the hook resolved, and reports Failed (with the thrown error's `code`, or
 * `GuestOperationFailed`) when it rejects.
 *
 * Objects passed are the emulator's wire-shaped ARM resources (`id`, `name`, `location`, `tags`,
 * `properties.*`) as a GET would return them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ArmResource = any;

export interface DiskSource {
  /** What the new disk is created from. */
  kind: 'empty' | 'disk' | 'snapshot' | 'imageVersion' | 'marketplace';
  /** ARM id of the source (disk, snapshot or gallery image version); absent for empty/marketplace. */
  id?: string;
  /** For image versions: which disk image (`os` or a data-disk LUN). */
  lun?: number | 'os';
  /** For marketplace images: publisher:offer:sku:version. */
  urn?: string;
}

/** What a guest backend may read of the emulated world (the World class satisfies it). */
export interface GuestWorld {
  get(id: string): { id: string; type: string; body: ArmResource; meta: ArmResource } | undefined;
  list(
    type: string,
    under?: string,
  ): Array<{ id: string; type: string; body: ArmResource; meta: ArmResource }>;
}

export interface SshEndpoint {
  host: string;
  port: number;
}

export interface GuestBackend {
  /** The VM resource exists and is about to be reported Succeeded + running (its disks are attached). */
  onVmCreated?(vm: ArmResource): Promise<void> | void;
  onVmStarted?(vm: ArmResource, reason: 'start' | 'restart'): Promise<void> | void;
  onVmStopped?(vm: ArmResource): Promise<void> | void;
  onVmDeallocated?(vm: ArmResource): Promise<void> | void;
  onVmGeneralized?(vm: ArmResource): Promise<void> | void;
  onVmDeleted?(vm: ArmResource): Promise<void> | void;
  /** A managed disk was created (also implicit OS disks and `Empty` data disks of a VM create). */
  onDiskCreated?(disk: ArmResource, source: DiskSource): Promise<void> | void;
  onDiskAttached?(disk: ArmResource, vm: ArmResource, lun: number | 'os'): Promise<void> | void;
  onDiskDetached?(disk: ArmResource, vm: ArmResource): Promise<void> | void;
  onDiskDeleted?(disk: ArmResource): Promise<void> | void;
  /** Copy the content of a disk into a snapshot (full or incremental). */
  onSnapshotCreated?(snapshot: ArmResource, sourceDisk: ArmResource | undefined): Promise<void> | void;
  onSnapshotDeleted?(snapshot: ArmResource): Promise<void> | void;
  /** Capture content into an image version: source is a VM, a disk or a snapshot. */
  onImageVersionCreated?(
    version: ArmResource,
    source: { kind: 'vm' | 'disk' | 'snapshot' | 'imageVersion'; id: string; resource?: ArmResource },
  ): Promise<void> | void;
  onImageVersionDeleted?(version: ArmResource): Promise<void> | void;
  /**
   * Where to SSH for the VM behind a public IP (`pipId` = the public IP's ARM id, `ipAddress` = the
   * address the emulator assigned). Undefined when the backend has no SSH server for it.
   */
  publicEndpoint?(
    pipId: string,
    ipAddress: string,
  ): SshEndpoint | undefined | Promise<SshEndpoint | undefined>;
  /**
   * Called once by startEmulator right after the world exists (before the ARM server listens): a
   * backend that needs to look resources up (public IP -> NIC -> VM) keeps the reference; it may
   * start servers here (e.g. the sandbox guest's SSH port, reported as `sshPort`).
   */
  attach?(world: GuestWorld): Promise<void> | void;
  /** The address a new public IP resource gets (e.g. 127.0.0.N for the sandbox guest); undefined = the emulator's own. */
  allocatePublicIp?(pipId: string): string | undefined;
  /** The one SSH port of the backend's VMs, when it has one (copied to `emu.sshPort`). */
  readonly sshPort?: number;
  /** Called once at emulator close. */
  close?(): Promise<void> | void;
}

/** The default backend: VMs are pure control-plane objects. */
export class NoopGuest implements GuestBackend {}
