/**
 * The lifecycle API: what bake, stamp, upgrade, verify and fleet take and return. Action entry points
 * (actions/<name>/main.ts) and the CLI map their inputs/flags onto these options and nothing else.
 */
import type { Reporter } from '@openclawps/config';

/** How to reach Azure Resource Manager. */
export interface AzureConnection {
  subscriptionId: string;
  /** ARM endpoint; undefined = public Azure. */
  endpoint?: string;
  auth: 'oidc' | 'cli' | 'default' | 'static';
  clientId?: string;
  tenantId?: string;
  /** PEM CA for an https endpoint with a private CA (the local emulator). */
  ca?: string;
  /** Poll interval for long-running operations (ms); the SDK default is 2000. */
  pollIntervalMs?: number;
}

export interface CommonOptions {
  azure: AzureConnection;
  reporter: Reporter;
  /** Print the plan of Azure operations (no secrets) and change nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /** SSH port of the claws' VMs (22 on Azure; the emulator's sandbox guest listens elsewhere). */
  sshPort?: number;
}

export interface BakeOptions extends CommonOptions {
  version: string;
  resourceGroup: string;
  location: string;
  gallery: string;
  imageDefinition: string;
  /** Capture this existing VM instead of building a temporary builder. */
  sourceVm?: string;
  profile: 'desktop' | 'minimal';
  builderSize: string;
  targetRegions: string[];
  replicaCount: number;
  excludeFromLatest: boolean;
  /** Directory with extra NNN-name.sh migrations baked into /opt/claw/updates. */
  extraUpdatesDir?: string;
  /** Values the secret scan must not find on the image (known token shapes are always searched). */
  secretValues: string[];
  cloudInitTimeoutMs: number;
  /** With sourceVm: a private key authorised for that VM's admin user (to scrub and scan it). */
  sshPrivateKey?: string;
}

export interface BakeResult {
  imageVersionId: string;
  version: string;
  /** Phase -> seconds, in order. */
  timeline: Array<{ phase: string; seconds: number }>;
}

export interface StampOptions extends CommonOptions {
  /** The claw's .env text (secrets + settings), parsed as data. */
  envText: string;
  /** Setting overrides by .env variable name (CLAW_NAME, RESOURCE_GROUP, LOCATION, VM_SIZE, IMAGE_VERSION, ...). */
  overrides: Record<string, string>;
  /** gallery: newest (or IMAGE_VERSION) gallery version + slim cloud-init; ubuntu: stock Ubuntu 24.04 + full cloud-init. */
  source: 'gallery' | 'ubuntu';
  /** OpenSSH private key whose public half goes on the VM; undefined = generate one for this run. */
  sshPrivateKey?: string;
  verifyTimeoutMs: number;
  /** Resource group of the gallery; defaults to the claw's RESOURCE_GROUP. */
  galleryResourceGroup?: string;
}

export interface StampResult {
  vmName: string;
  publicIp: string;
  sshCommand: string;
  vncUrl: string;
  imageVersion: string;
  dataDiskId: string;
  hostKeyFingerprint: string;
  /** false when the claw already existed and was healthy (nothing changed). */
  changed: boolean;
  healthy: boolean;
  /** Phase -> seconds, in order. */
  timeline?: Array<{ phase: string; seconds: number }>;
  /** The verify section of the job summary (secrets masked). */
  verifyMarkdown?: string;
  failedChecks?: string[];
  /** true when no ssh-private-key was given and a key pair was generated for this run only. */
  ephemeralKey?: boolean;
}

export interface UpgradeOptions extends CommonOptions {
  clawName: string;
  resourceGroup: string;
  /** x.y.z or 'latest'. */
  imageVersion: string;
  gallery: string;
  imageDefinition: string;
  /** Gallery resource group; defaults to resourceGroup. */
  galleryResourceGroup?: string;
  force: boolean;
  /** New .env text to rotate secrets; undefined keeps the secrets on the data disk. */
  envText?: string;
  snapshotRetention: number;
  keepOsDisks: number;
  sshPrivateKey?: string;
  verifyTimeoutMs: number;
  /**
   * How the old VM is stopped: 'ssh' (default) stops the gateway and the sidecar over SSH, flushes
   * the disks and deletes the running VM, falling back to a deallocate when SSH fails; 'deallocate'
   * always deallocates first (a full guest shutdown, slower).
   */
  stopMethod?: 'ssh' | 'deallocate';
  /** Lease owner written into the upgrade tag; default the workflow run (GitHub) or user@host. */
  owner?: string;
  /** A lease older than this is stale and may be taken over (default 3600). */
  leaseSeconds?: number;
  /** Wait between writing the lease and reading it back (default 2000 ms, env OPENCLAWPS_LOCK_SETTLE_MS). */
  lockSettleMs?: number;
  /** Internal: set when upgrade restarts itself after clearing an incomplete lease. */
  resumed?: boolean;
}

export interface UpgradeResult {
  previousVersion: string;
  version: string;
  rolledBack: boolean;
  downtimeSeconds: number;
  healthy: boolean;
  /** false when the claw already ran the target (nothing was done). */
  changed?: boolean;
  /** Phase -> seconds, in order (phases of this run only; a resumed run starts mid-way). */
  timeline?: Array<{ phase: string; seconds: number }>;
  /** Snapshot taken of the data disk before the stop. */
  snapshot?: string;
  dataDiskId?: string;
  publicIp?: string;
  verifyMarkdown?: string;
  failedChecks?: string[];
  /** Why the upgrade rolled back (verify failure, create failure, ...). */
  rollbackReason?: string;
}

export interface VerifyOptions {
  reporter: Reporter;
  /** Host to verify; undefined = look up the claw's public IP in Azure. */
  host?: string;
  clawName?: string;
  resourceGroup?: string;
  azure?: AzureConnection;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  hostKeyFingerprint?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface VerifyCheck {
  id: string;
  group: string;
  title: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  required: boolean;
}

export interface VerifyResult {
  healthy: boolean;
  failedChecks: string[];
  report: { version: number; claw: string; healthy: boolean; checks: VerifyCheck[] };
  /** Job-summary table grouped by check group. */
  markdown: string;
  /** One per failed group. */
  annotations: Array<{ title: string; message: string }>;
}

export interface RolloutPolicy {
  maxBatchPercent: number;
  maxUnhealthyPercent: number;
  maxUnhealthyUpgradedPercent: number;
  pauseSeconds: number;
  maxParallel: number;
  /** Claw names of the canary batch; empty = the first claw of the plan. */
  canary: string[];
}

export interface FleetOptions extends CommonOptions {
  /** Manifest text (claws.yaml); undefined = discover claws from Azure tags only. */
  manifestText?: string;
  manifestPath?: string;
  targetVersion: string;
  gallery: string;
  imageDefinition: string;
  galleryResourceGroup: string;
  policy: RolloutPolicy;
  /** rollout: key for SSH to the claws (verify after each upgrade). */
  sshPrivateKey?: string;
  verifyTimeoutMs?: number;
}

export interface FleetClawPlan {
  claw: string;
  resourceGroup: string;
  currentVersion: string;
  targetVersion: string;
  health: 'healthy' | 'unhealthy' | 'unknown';
  batch: number;
  /** Names of the GitHub secrets that hold this claw's .env (from the manifest). */
  envSecret?: string;
}

export interface FleetPlan {
  targetVersion: string;
  batches: FleetClawPlan[][];
  /** Every claw of the fleet (manifest and/or Azure tags), whatever its version. */
  claws: FleetClawPlan[];
  upToDate: string[];
  drift: string[];
  markdown: string;
}
