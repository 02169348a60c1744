import type {
  Gallery,
  GalleryImage as GalleryImageDefinition,
  GalleryImageVersion,
  TargetRegion,
} from '@azure/arm-compute';
import { compareVersions, isVersion, versionProblem } from '@openclawps/config';
import type { AzureContext } from '../context';
import { AzureOperationError, isNotFound, toAzureError } from '../errors';
import { sameId } from '../ids';
import { assertOwned, managedTags, mergeTags, type Tags } from '../tags';
import {
  armCall,
  conflict,
  requireLocation,
  sameLocation,
  tryGet,
  type EnsureResult,
  type OpOptions,
} from './common';

// ---------------------------------------------------------------------------------------------- gallery

export interface EnsureGalleryParams {
  resourceGroup: string;
  name: string;
  location?: string;
  description?: string;
  fleet?: string;
  tags?: Tags;
}

export async function ensureGallery(
  ctx: AzureContext,
  params: EnsureGalleryParams,
  opts: OpOptions = {},
): Promise<EnsureResult<Gallery>> {
  const { resourceGroup: rg, name } = params;
  const want = managedTags({ fleet: params.fleet, extra: params.tags });
  const existing = await tryGet(`galleries.get ${name}`, () =>
    ctx.compute.galleries.get(rg, name, ctx.op(opts.signal)),
  );
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `gallery '${name}'`);
    const resource = await armCall(`galleries.createOrUpdate ${name}`, () =>
      ctx.compute.galleries.createOrUpdate(
        rg,
        name,
        { location, tags: want, description: params.description ?? 'OpenClawps claw images' },
        ctx.lro(opts.signal),
      ),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'gallery', name, id: existing.id });
  const { tags, changed } = mergeTags(existing.tags, want);
  if (!changed) return { resource: existing, action: 'unchanged', changes: [] };
  const resource = await armCall(`galleries.update ${name}`, () =>
    ctx.compute.galleries.update(rg, name, { tags }, ctx.lro(opts.signal)),
  );
  return { resource, action: 'updated', changes: ['tags'] };
}

// ---------------------------------------------------------------------------------------------- definition

export interface EnsureImageDefinitionParams {
  resourceGroup: string;
  gallery: string;
  name: string;
  location?: string;
  /** Identifier triple; must be unique in the gallery. Default OpenClawps / claw / <name>. */
  publisher?: string;
  offer?: string;
  sku?: string;
  /** Default Generalized. */
  osState?: 'Generalized' | 'Specialized';
  /** Default V2 (Gen2). */
  hyperVGeneration?: 'V1' | 'V2';
  /** Default TrustedLaunch (VMs from it must be Trusted Launch, which ours are). */
  securityType?: 'TrustedLaunch' | 'TrustedLaunchSupported' | 'Standard';
  description?: string;
  fleet?: string;
  tags?: Tags;
}

export async function ensureImageDefinition(
  ctx: AzureContext,
  params: EnsureImageDefinitionParams,
  opts: OpOptions = {},
): Promise<EnsureResult<GalleryImageDefinition>> {
  const { resourceGroup: rg, gallery, name } = params;
  const osState = params.osState ?? 'Generalized';
  const hyperVGeneration = params.hyperVGeneration ?? 'V2';
  const securityType = params.securityType ?? 'TrustedLaunch';
  const identifier = {
    publisher: params.publisher ?? 'OpenClawps',
    offer: params.offer ?? 'claw',
    sku: params.sku ?? name,
  };
  const want = managedTags({ fleet: params.fleet, extra: params.tags });
  const op = `galleryImages.createOrUpdate ${gallery}/${name}`;
  const existing = await tryGet(`galleryImages.get ${gallery}/${name}`, () =>
    ctx.compute.galleryImages.get(rg, gallery, name, ctx.op(opts.signal)),
  );
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `image definition '${name}'`);
    const resource = await armCall(op, () =>
      ctx.compute.galleryImages.createOrUpdate(
        rg,
        gallery,
        name,
        {
          location,
          tags: want,
          description: params.description ?? 'OpenClawps claw base image',
          osType: 'Linux',
          osState,
          hyperVGeneration,
          identifier,
          architecture: 'x64',
          features: [{ name: 'SecurityType', value: securityType }],
        },
        ctx.lro(opts.signal),
      ),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'image definition', name: `${gallery}/${name}`, id: existing.id });
  const problems: string[] = [];
  if (existing.osType && existing.osType !== 'Linux') problems.push(`osType is ${existing.osType}`);
  if (existing.osState && existing.osState !== osState)
    problems.push(`osState is ${existing.osState}, not ${osState}`);
  if (existing.hyperVGeneration && existing.hyperVGeneration !== hyperVGeneration)
    problems.push(`hyperVGeneration is ${existing.hyperVGeneration}, not ${hyperVGeneration}`);
  const haveSecurity = existing.features?.find((f) => (f.name ?? '').toLowerCase() === 'securitytype')?.value;
  if (haveSecurity && haveSecurity !== securityType)
    problems.push(`SecurityType is ${haveSecurity}, not ${securityType}`);
  if (problems.length) {
    throw conflict(
      'image definition',
      `${gallery}/${name}`,
      `${problems.join(', ')} (these cannot change after creation)`,
      'Use another image definition name, or match its settings.',
    );
  }
  const { tags, changed } = mergeTags(existing.tags, want);
  if (!changed) return { resource: existing, action: 'unchanged', changes: [] };
  const resource = await armCall(`galleryImages.update ${gallery}/${name}`, () =>
    ctx.compute.galleryImages.update(rg, gallery, name, { tags }, ctx.lro(opts.signal)),
  );
  return { resource, action: 'updated', changes: ['tags'] };
}

// ---------------------------------------------------------------------------------------------- versions

export interface ImageVersionRef {
  resourceGroup: string;
  gallery: string;
  definition: string;
  version: string;
}

export type ImageVersionSource = { virtualMachineId: string } | { diskId: string } | { snapshotId: string };

export interface TargetRegionSpec {
  name: string;
  replicaCount?: number;
  excludeFromLatest?: boolean;
  storageAccountType?: string;
}

export interface RegionProgress {
  region: string;
  state: string;
  progress?: number;
  details?: string;
}

export interface ReplicationProgress {
  version: string;
  provisioningState?: string;
  aggregatedState?: string;
  regions: RegionProgress[];
}

export interface CreateImageVersionParams extends ImageVersionRef {
  source: ImageVersionSource;
  location?: string;
  /** Default: the source region only. The source region is always included (Azure requires it). */
  targetRegions?: TargetRegionSpec[];
  /** Default replica count per region. Default 1. */
  replicaCount?: number;
  /** Publish as a canary: not picked by "latest" until promoted. */
  excludeFromLatest?: boolean;
  /** Default Standard_LRS. */
  storageAccountType?: string;
  fleet?: string;
  tags?: Tags;
  /** Called with per-region replication progress while the version is created. */
  onProgress?: (p: ReplicationProgress) => void;
  /** How often to read progress; default the context's poll interval or 10 s. */
  progressIntervalMs?: number;
}

function validateVersionName(version: string): void {
  const problem = versionProblem(version);
  if (problem) {
    throw new AzureOperationError({
      code: 'InvalidVersion',
      message: `Image version ${problem}.`,
      target: version,
    });
  }
}

function sourceIdOf(s: ImageVersionSource): string {
  return 'virtualMachineId' in s ? s.virtualMachineId : 'diskId' in s ? s.diskId : s.snapshotId;
}

function existingSourceId(v: GalleryImageVersion): string | undefined {
  const sp = v.storageProfile;
  return sp?.source?.virtualMachineId ?? sp?.source?.id ?? sp?.osDiskImage?.source?.id;
}

function buildTargetRegions(p: CreateImageVersionParams, location: string): TargetRegion[] {
  const list = [...(p.targetRegions ?? [])];
  if (!list.some((r) => sameLocation(r.name, location))) list.unshift({ name: location });
  return list.map((r) => ({
    name: r.name,
    regionalReplicaCount: r.replicaCount ?? p.replicaCount ?? 1,
    storageAccountType: r.storageAccountType ?? p.storageAccountType ?? 'Standard_LRS',
    excludeFromLatest: r.excludeFromLatest ?? p.excludeFromLatest ?? false,
  }));
}

export async function getImageVersion(
  ctx: AzureContext,
  ref: ImageVersionRef,
  opts: OpOptions & { replicationStatus?: boolean } = {},
): Promise<GalleryImageVersion | undefined> {
  return tryGet(`galleryImageVersions.get ${ref.definition}/${ref.version}`, () =>
    ctx.compute.galleryImageVersions.get(ref.resourceGroup, ref.gallery, ref.definition, ref.version, {
      ...ctx.op(opts.signal),
      ...(opts.replicationStatus ? { expand: 'ReplicationStatus' } : {}),
    }),
  );
}

export function replicationProgressOf(v: GalleryImageVersion, version: string): ReplicationProgress {
  return {
    version,
    provisioningState: v.provisioningState,
    aggregatedState: v.replicationStatus?.aggregatedState,
    regions: (v.replicationStatus?.summary ?? []).map((s) => ({
      region: s.region ?? '?',
      state: s.state ?? 'Unknown',
      progress: s.progress,
      details: s.details,
    })),
  };
}

function progressKey(p: ReplicationProgress): string {
  return JSON.stringify([
    p.provisioningState,
    p.aggregatedState,
    p.regions.map((r) => [r.region, r.state, r.progress]),
  ]);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): AzureOperationError {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'aborted';
  return new AzureOperationError({ code: 'Aborted', message: `Stopped: ${reason}` });
}

/**
 * Create an image version from a VM, a disk or a snapshot. Idempotent: an existing version with the same
 * source converges its updatable fields (target regions, replica counts, excludeFromLatest); one with another
 * source is refused (versions are immutable: publish a new number).
 */
export async function createImageVersion(
  ctx: AzureContext,
  params: CreateImageVersionParams,
  opts: OpOptions = {},
): Promise<EnsureResult<GalleryImageVersion>> {
  validateVersionName(params.version);
  const problems: string[] = [];
  for (const r of params.targetRegions ?? []) {
    const n = r.replicaCount ?? params.replicaCount ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > 100)
      problems.push(`replica count for ${r.name} must be 1..100 (got ${n})`);
  }
  if (
    params.replicaCount !== undefined &&
    (!Number.isInteger(params.replicaCount) || params.replicaCount < 1 || params.replicaCount > 100)
  )
    problems.push(`replicaCount must be 1..100 (got ${params.replicaCount})`);
  if (problems.length)
    throw new AzureOperationError({ code: 'InvalidInput', message: `${problems.join('; ')}.` });

  const { resourceGroup: rg, gallery, definition, version } = params;
  const label = `${gallery}/${definition}/${version}`;
  const sourceId = sourceIdOf(params.source);
  const existing = await getImageVersion(ctx, params, opts);
  if (existing) {
    assertOwned(existing.tags, { kind: 'image version', name: label, id: existing.id });
    if (!sameId(existingSourceId(existing), sourceId)) {
      throw new AzureOperationError({
        code: 'PropertyChangeNotAllowed',
        message: `Image version ${label} exists from source ${existingSourceId(existing) ?? '(unknown)'}; versions are immutable.`,
        hint: 'Publish under a new version number (or delete this version first).',
        target: existing.id,
      });
    }
    if (existing.provisioningState === 'Failed') {
      throw new AzureOperationError({
        code: 'ReplicationFailed',
        message: `Image version ${label} is in state Failed.`,
        hint: 'Delete the failed version (deleteImageVersion) and publish it again.',
        target: existing.id,
      });
    }
    const location = existing.location;
    const wantRegions = buildTargetRegions(params, location);
    const haveRegions = existing.publishingProfile?.targetRegions ?? [];
    const changes: string[] = [];
    const norm = (rs: TargetRegion[]) =>
      JSON.stringify(
        rs
          .map((r) => [
            r.name.toLowerCase().replace(/\s+/g, ''),
            r.regionalReplicaCount ?? 1,
            !!r.excludeFromLatest,
          ])
          .sort(),
      );
    if (norm(haveRegions) !== norm(wantRegions)) changes.push('targetRegions');
    const wantExclude = params.excludeFromLatest ?? false;
    if (!!existing.publishingProfile?.excludeFromLatest !== wantExclude)
      changes.push(`excludeFromLatest -> ${wantExclude}`);
    let resource = existing;
    if (changes.length) {
      resource = await armCall(`galleryImageVersions.update ${label}`, () =>
        ctx.compute.galleryImageVersions.update(
          rg,
          gallery,
          definition,
          version,
          { publishingProfile: { targetRegions: wantRegions, excludeFromLatest: wantExclude } },
          ctx.lro(opts.signal),
        ),
      );
    }
    if (params.onProgress || !['Succeeded'].includes(resource.provisioningState ?? 'Succeeded')) {
      resource = await waitForReplication(ctx, params, {
        onProgress: params.onProgress,
        intervalMs: params.progressIntervalMs,
        signal: opts.signal,
      });
    }
    return { resource, action: changes.length ? 'updated' : 'unchanged', changes };
  }

  const location = requireLocation(params.location ?? ctx.location, `image version '${label}'`);
  const body: GalleryImageVersion = {
    location,
    tags: managedTags({ imageVersion: version, fleet: params.fleet, extra: params.tags }),
    publishingProfile: {
      targetRegions: buildTargetRegions(params, location),
      replicaCount: params.replicaCount ?? 1,
      excludeFromLatest: params.excludeFromLatest ?? false,
      storageAccountType: params.storageAccountType ?? 'Standard_LRS',
    },
    storageProfile:
      'virtualMachineId' in params.source
        ? { source: { virtualMachineId: params.source.virtualMachineId } }
        : { osDiskImage: { hostCaching: 'ReadWrite', source: { id: sourceId } } },
  };
  const poller = ctx.compute.galleryImageVersions.createOrUpdate(
    rg,
    gallery,
    definition,
    version,
    body,
    ctx.lro(opts.signal),
  );
  let done = false;
  const watcher = params.onProgress
    ? (async () => {
        let last = '';
        const interval = params.progressIntervalMs ?? ctx.pollIntervalMs ?? 10_000;
        while (!done) {
          try {
            const v = await getImageVersion(ctx, params, { replicationStatus: true, signal: opts.signal });
            if (v && !done) {
              const p = replicationProgressOf(v, version);
              const key = progressKey(p);
              if (key !== last) {
                last = key;
                params.onProgress!(p);
              }
            }
          } catch {
            // progress is best-effort; the poller reports the real outcome
          }
          if (done) break;
          await sleep(Math.max(interval, 5), opts.signal).catch(() => undefined);
        }
      })()
    : undefined;
  let resource: GalleryImageVersion;
  try {
    resource = await poller;
  } catch (err) {
    throw toAzureError(err, `galleryImageVersions.createOrUpdate ${label}`, label);
  } finally {
    done = true;
    await watcher;
  }
  if (params.onProgress) {
    resource = await waitForReplication(ctx, params, {
      onProgress: params.onProgress,
      intervalMs: params.progressIntervalMs,
      signal: opts.signal,
    });
  }
  return { resource, action: 'created', changes: ['created'] };
}

export interface WaitForReplicationOptions extends OpOptions {
  onProgress?: (p: ReplicationProgress) => void;
  intervalMs?: number;
  /** Give up after this long (AzureOperationError StepTimeout). Default: no limit (use the signal). */
  timeoutMs?: number;
  /** Only these regions need to be Completed; default all target regions. */
  regions?: string[];
}

/** Poll the version (expand=ReplicationStatus) until replicated everywhere; report per-region progress. */
export async function waitForReplication(
  ctx: AzureContext,
  ref: ImageVersionRef,
  opts: WaitForReplicationOptions = {},
): Promise<GalleryImageVersion> {
  const label = `${ref.gallery}/${ref.definition}/${ref.version}`;
  const interval = opts.intervalMs ?? ctx.pollIntervalMs ?? 10_000;
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
  let last = '';
  while (true) {
    const v = await getImageVersion(ctx, ref, { replicationStatus: true, signal: opts.signal });
    if (!v) {
      throw new AzureOperationError({
        code: 'ResourceNotFound',
        message: `Image version ${label} does not exist.`,
        operation: 'waitForReplication',
      });
    }
    const p = replicationProgressOf(v, ref.version);
    const key = progressKey(p);
    if (key !== last) {
      last = key;
      opts.onProgress?.(p);
    }
    const failed = p.regions.filter((r) => r.state === 'Failed');
    if (v.provisioningState === 'Failed' || p.aggregatedState === 'Failed' || failed.length) {
      throw new AzureOperationError({
        code: 'ReplicationFailed',
        message: `Replication of ${label} failed${failed.length ? ` in ${failed.map((r) => `${r.region}${r.details ? ` (${r.details})` : ''}`).join(', ')}` : ''}.`,
        operation: 'waitForReplication',
        target: v.id,
      });
    }
    const needed = opts.regions;
    const regionsDone = needed
      ? needed.every((n) => p.regions.some((r) => sameLocation(r.region, n) && r.state === 'Completed'))
      : p.aggregatedState === 'Completed' ||
        (p.regions.length > 0 && p.regions.every((r) => r.state === 'Completed'));
    if (v.provisioningState === 'Succeeded' && (regionsDone || (!needed && !v.replicationStatus))) return v;
    if (deadline !== undefined && Date.now() > deadline) {
      throw new AzureOperationError({
        code: 'StepTimeout',
        message: `Replication of ${label} did not finish within ${opts.timeoutMs} ms (last: ${p.regions.map((r) => `${r.region}=${r.state}${r.progress !== undefined ? ` ${r.progress}%` : ''}`).join(', ') || p.aggregatedState || v.provisioningState}).`,
        operation: 'waitForReplication',
      });
    }
    await sleep(Math.max(interval, 5), opts.signal);
  }
}

/** Change updatable fields of a version, e.g. promote a canary (excludeFromLatest=false). */
export async function updateImageVersion(
  ctx: AzureContext,
  ref: ImageVersionRef,
  changes: { excludeFromLatest?: boolean; targetRegions?: TargetRegionSpec[]; replicaCount?: number },
  opts: OpOptions = {},
): Promise<EnsureResult<GalleryImageVersion>> {
  validateVersionName(ref.version);
  const label = `${ref.gallery}/${ref.definition}/${ref.version}`;
  const existing = await getImageVersion(ctx, ref, opts);
  if (!existing) {
    throw new AzureOperationError({
      code: 'ResourceNotFound',
      message: `Image version ${label} does not exist.`,
      operation: `galleryImageVersions.update ${label}`,
    });
  }
  assertOwned(existing.tags, { kind: 'image version', name: label, id: existing.id });
  const pp = existing.publishingProfile ?? {};
  const diffs: string[] = [];
  let targetRegions = pp.targetRegions;
  if (changes.targetRegions) {
    targetRegions = buildTargetRegions(
      {
        ...ref,
        source: { diskId: '' },
        targetRegions: changes.targetRegions,
        replicaCount: changes.replicaCount,
        excludeFromLatest: changes.excludeFromLatest ?? pp.excludeFromLatest,
      },
      existing.location,
    );
    diffs.push('targetRegions');
  } else if (changes.replicaCount !== undefined && targetRegions) {
    targetRegions = targetRegions.map((r) => ({ ...r, regionalReplicaCount: changes.replicaCount }));
    if (pp.targetRegions?.some((r) => r.regionalReplicaCount !== changes.replicaCount))
      diffs.push('replicaCount');
  }
  if (changes.excludeFromLatest !== undefined) {
    if (!!pp.excludeFromLatest !== changes.excludeFromLatest)
      diffs.push(`excludeFromLatest -> ${changes.excludeFromLatest}`);
    targetRegions = targetRegions?.map((r) => ({ ...r, excludeFromLatest: changes.excludeFromLatest }));
    if (pp.targetRegions?.some((r) => !!r.excludeFromLatest !== changes.excludeFromLatest) && !diffs.length)
      diffs.push('regional excludeFromLatest');
  }
  if (!diffs.length) return { resource: existing, action: 'unchanged', changes: [] };
  const resource = await armCall(`galleryImageVersions.update ${label}`, () =>
    ctx.compute.galleryImageVersions.update(
      ref.resourceGroup,
      ref.gallery,
      ref.definition,
      ref.version,
      {
        publishingProfile: {
          ...(targetRegions ? { targetRegions } : {}),
          ...(changes.excludeFromLatest !== undefined
            ? { excludeFromLatest: changes.excludeFromLatest }
            : {}),
          ...(changes.replicaCount !== undefined ? { replicaCount: changes.replicaCount } : {}),
        },
      },
      ctx.lro(opts.signal),
    ),
  );
  return { resource, action: 'updated', changes: diffs };
}

export async function deleteImageVersion(
  ctx: AzureContext,
  ref: ImageVersionRef,
  opts: OpOptions = {},
): Promise<{ deleted: boolean }> {
  const label = `${ref.gallery}/${ref.definition}/${ref.version}`;
  const existing = await getImageVersion(ctx, ref, opts);
  if (!existing) return { deleted: false };
  assertOwned(existing.tags, { kind: 'image version', name: label, id: existing.id });
  await armCall(`galleryImageVersions.delete ${label}`, () =>
    ctx.compute.galleryImageVersions.delete(
      ref.resourceGroup,
      ref.gallery,
      ref.definition,
      ref.version,
      ctx.lro(opts.signal),
    ),
  );
  return { deleted: true };
}

export async function listImageVersions(
  ctx: AzureContext,
  ref: Omit<ImageVersionRef, 'version'>,
  opts: OpOptions = {},
): Promise<GalleryImageVersion[]> {
  const out: GalleryImageVersion[] = [];
  try {
    for await (const v of ctx.compute.galleryImageVersions.listByGalleryImage(
      ref.resourceGroup,
      ref.gallery,
      ref.definition,
      ctx.op(opts.signal),
    )) {
      out.push(v);
    }
  } catch (err) {
    if (isNotFound(err)) return [];
    throw toAzureError(err, `galleryImageVersions.listByGalleryImage ${ref.gallery}/${ref.definition}`);
  }
  return out;
}

export interface LatestVersion {
  version: string;
  id: string;
  resource: GalleryImageVersion;
}

export interface ResolveLatestOptions extends OpOptions {
  /** Region the VM will run in: the version must be replicated (Completed) there and not excluded there. */
  region?: string;
}

/**
 * "latest" as Azure means it, resolved numerically by us: the highest x.y.z version that is Succeeded, not
 * excludeFromLatest (globally or for the region), and replicated to the region. Undefined when none.
 */
export async function resolveLatestImageVersion(
  ctx: AzureContext,
  ref: Omit<ImageVersionRef, 'version'>,
  opts: ResolveLatestOptions = {},
): Promise<LatestVersion | undefined> {
  const all = await listImageVersions(ctx, ref, opts);
  const candidates = all
    .filter((v) => v.name && isVersion(v.name))
    // Creating/Failed/Deleting versions are not usable; an Updating one (e.g. a region being added) still is
    // where it is already replicated, which the replication check below decides.
    .filter((v) => ['Succeeded', 'Updating'].includes(v.provisioningState ?? 'Succeeded'))
    .filter((v) => !v.publishingProfile?.excludeFromLatest)
    .filter((v) => {
      if (!opts.region) return true;
      const tr = v.publishingProfile?.targetRegions?.find((r) => sameLocation(r.name, opts.region));
      return !!tr && !tr.excludeFromLatest;
    })
    .sort((a, b) => compareVersions(b.name!, a.name!));
  for (const c of candidates) {
    const full = await getImageVersion(
      ctx,
      { ...ref, version: c.name! },
      { ...opts, replicationStatus: true },
    );
    if (!full) continue;
    const summary = full.replicationStatus?.summary;
    const replicated = opts.region
      ? (summary ?? []).some((s) => sameLocation(s.region, opts.region) && s.state === 'Completed')
      : !summary ||
        full.replicationStatus?.aggregatedState === 'Completed' ||
        summary.every((s) => s.state === 'Completed');
    if (replicated) return { version: c.name!, id: full.id ?? c.id!, resource: full };
  }
  return undefined;
}

export async function requireLatestImageVersion(
  ctx: AzureContext,
  ref: Omit<ImageVersionRef, 'version'>,
  opts: ResolveLatestOptions = {},
): Promise<LatestVersion> {
  const latest = await resolveLatestImageVersion(ctx, ref, opts);
  if (!latest) {
    throw new AzureOperationError({
      code: 'NoImageVersion',
      message: `No replicated, non-excluded x.y.z version of ${ref.gallery}/${ref.definition}${opts.region ? ` in ${opts.region}` : ''}.`,
    });
  }
  return latest;
}
