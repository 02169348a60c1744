/** Microsoft.Compute galleries, image definitions and image versions (with per-region replication). */
import { ArmError, badRequest, conflict } from './errors';
import { registerDeleter } from './cascade';
import { normLocation, nowIso, requireLocation, sameId, typeOfId, validateTags } from './common';
import { markDeleting, registerProvisioning } from './generic';
import { DEFINITION_TYPE, VERSION_TYPE, regionState } from './images';
import { LATENCY_MS, latencyMs } from './latency';
import { registerType, type Ctx, type Reply } from './registry';
import { clone, registerRenderer, type Json, type Resource, type World } from './world';

const GALLERY = 'Microsoft.Compute/galleries';
const scale = (w: World) => w.latencyScale;

function capsOp(
  ctx: Ctx,
  location: string,
  durationMs: number,
  completion: string,
  result: 'resource' | 'empty' | 'noContent',
  args: Json = {},
): Reply['op'] {
  return { style: 'gallery', location, durationMs, completion, args, result };
}

/** The answer to a gallery/definition PUT or PATCH: the body now, provisioning finishes later. */
function putReply(
  ctx: Ctx,
  status: number,
  body: Json,
  location: string,
  kind: Parameters<typeof latencyMs>[0],
): Reply {
  return {
    status,
    body: clone(body),
    op: capsOp(ctx, location, latencyMs(kind, scale(ctx.world)), 'generic.put', 'resource'),
  };
}

/** Mark a gallery resource deleting and answer 202 with the async delete. */
function deleteReply(ctx: Ctx, existing: Resource, kind: Parameters<typeof latencyMs>[0]): Reply {
  markDeleting(ctx.world, existing.id);
  return {
    status: 202,
    op: capsOp(ctx, existing.body.location, latencyMs(kind, scale(ctx.world)), 'generic.delete', 'noContent'),
  };
}

function nested(world: World, id: string): boolean {
  return world.descendants(id).length > 0;
}

function cannotDeleteNested(): ArmError {
  return conflict('CannotDeleteResource', 'Can not delete resource before nested resources are deleted.');
}

// ---------------------------------------------------------------- galleries
registerType({
  type: GALLERY,
  put(ctx, existing) {
    const name = ctx.names[0];
    if (!/^[A-Za-z0-9][A-Za-z0-9._]{0,79}$/.test(name) || name.endsWith('.')) {
      throw badRequest(
        'InvalidParameter',
        `The gallery name '${name}' is invalid. A gallery name can contain only letters, digits, underscores and periods, up to 80 characters, and cannot begin or end with a period.`,
        'galleryName',
      );
    }
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    const body: Json = {
      name: existing?.body.name ?? name,
      id: existing?.id ?? ctx.id,
      type: GALLERY,
      location,
      ...(tags ? { tags } : {}),
      properties: {
        ...(p.description !== undefined ? { description: p.description } : {}),
        identifier: { uniqueName: `${ctx.world.subscriptionId}-${name.toUpperCase()}` },
        ...(p.sharingProfile ? { sharingProfile: p.sharingProfile } : {}),
        provisioningState: existing ? 'Updating' : 'Creating',
      },
    };
    const res = ctx.world.set({ id: body.id, type: GALLERY, body, meta: {} });
    return putReply(ctx, existing ? 200 : 201, res.body, location, 'galleryCreate');
  },
  patch(ctx, existing) {
    if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
    if (ctx.body.properties?.description !== undefined)
      existing.body.properties.description = ctx.body.properties.description;
    existing.body.properties.provisioningState = 'Updating';
    return putReply(ctx, 200, existing.body, existing.body.location, 'galleryCreate');
  },
  delete(ctx, existing) {
    if (nested(ctx.world, existing.id)) throw cannotDeleteNested();
    return deleteReply(ctx, existing, 'galleryDelete');
  },
});

// ---------------------------------------------------------------- image definitions
const IMMUTABLE_DEF = ['osType', 'osState', 'hyperVGeneration', 'architecture'];

registerType({
  type: DEFINITION_TYPE,
  put(ctx, existing) {
    const name = ctx.names[1];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/.test(name) || /[.-]$/.test(name)) {
      throw badRequest(
        'InvalidParameter',
        `The gallery image name '${name}' is invalid. It must match ^[^_\\W][\\w-._]{0,79}(?<![-.])$.`,
        'galleryImageName',
      );
    }
    const gallery = ctx.world.get(ctx.parentId!)!;
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    const missing = ['osType', 'osState']
      .filter((k) => !p[k])
      .concat(['publisher', 'offer', 'sku'].filter((k) => !p.identifier?.[k]).map((k) => `identifier.${k}`));
    if (missing.length)
      throw badRequest(
        'InvalidParameter',
        `Required parameter '${missing[0]}' is missing (null).`,
        missing[0],
      );
    if (!['Linux', 'Windows'].includes(p.osType))
      throw badRequest(
        'InvalidParameter',
        `The value '${p.osType}' of parameter 'osType' is invalid (Linux or Windows).`,
        'osType',
      );
    if (!['Generalized', 'Specialized'].includes(p.osState))
      throw badRequest(
        'InvalidParameter',
        `The value '${p.osState}' of parameter 'osState' is invalid (Generalized or Specialized).`,
        'osState',
      );
    const hyperV = p.hyperVGeneration ?? 'V1';
    if (!['V1', 'V2'].includes(hyperV))
      throw badRequest(
        'InvalidParameter',
        `The value '${hyperV}' of parameter 'hyperVGeneration' is invalid (V1 or V2).`,
        'hyperVGeneration',
      );
    const features: Json[] = p.features ?? [];
    const sec = features.find((f) => String(f.name).toLowerCase() === 'securitytype')?.value;
    if (sec && String(sec).startsWith('TrustedLaunch') && hyperV !== 'V2') {
      throw badRequest(
        'InvalidParameter',
        `The feature SecurityType '${sec}' requires hyperVGeneration 'V2'.`,
        'features',
      );
    }
    if (existing) {
      const cur = existing.body.properties;
      for (const k of IMMUTABLE_DEF) {
        const want = k === 'hyperVGeneration' ? hyperV : p[k];
        if (want !== undefined && cur[k] !== undefined && want !== cur[k]) {
          throw conflict(
            'PropertyChangeNotAllowed',
            `Changing property 'galleryImage.properties.${k}' is not allowed.`,
            k,
          );
        }
      }
      for (const k of ['publisher', 'offer', 'sku']) {
        if (p.identifier[k] !== cur.identifier[k])
          throw conflict(
            'PropertyChangeNotAllowed',
            `Changing property 'galleryImage.properties.identifier.${k}' is not allowed.`,
            `identifier.${k}`,
          );
      }
    }
    for (const other of ctx.world.list(DEFINITION_TYPE, gallery.id)) {
      if (sameId(other.id, ctx.id)) continue;
      const oi = other.body.properties.identifier;
      if (
        ['publisher', 'offer', 'sku'].every(
          (k) => String(oi[k]).toLowerCase() === String(p.identifier[k]).toLowerCase(),
        )
      ) {
        throw conflict(
          'Conflict',
          `Gallery image: ${ctx.names[1]} identified by (publisher:${p.identifier.publisher}, offer:${p.identifier.offer}, sku:${p.identifier.sku}) already exists as ${other.body.name}. Choose a different publisher, offer, sku combination.`,
        );
      }
    }
    const body: Json = {
      name: existing?.body.name ?? name,
      id: existing?.id ?? ctx.id,
      type: DEFINITION_TYPE,
      location,
      ...(tags ? { tags } : {}),
      properties: {
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.eula !== undefined ? { eula: p.eula } : {}),
        hyperVGeneration: hyperV,
        architecture: p.architecture ?? 'x64',
        osType: p.osType,
        osState: p.osState,
        identifier: { publisher: p.identifier.publisher, offer: p.identifier.offer, sku: p.identifier.sku },
        ...(features.length ? { features } : {}),
        ...(p.recommended ? { recommended: p.recommended } : {}),
        ...(p.endOfLifeDate ? { endOfLifeDate: p.endOfLifeDate } : {}),
        provisioningState: existing ? 'Updating' : 'Creating',
      },
    };
    const res = ctx.world.set({ id: body.id, type: DEFINITION_TYPE, body, meta: {} });
    return putReply(ctx, existing ? 200 : 201, res.body, location, 'galleryImageCreate');
  },
  patch(ctx, existing) {
    if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
    const p = ctx.body.properties ?? {};
    for (const k of IMMUTABLE_DEF) {
      if (p[k] !== undefined && p[k] !== existing.body.properties[k])
        throw conflict(
          'PropertyChangeNotAllowed',
          `Changing property 'galleryImage.properties.${k}' is not allowed.`,
          k,
        );
    }
    if (p.description !== undefined) existing.body.properties.description = p.description;
    existing.body.properties.provisioningState = 'Updating';
    return putReply(ctx, 200, existing.body, existing.body.location, 'galleryImageCreate');
  },
  delete(ctx, existing) {
    if (nested(ctx.world, existing.id)) throw cannotDeleteNested();
    return deleteReply(ctx, existing, 'galleryImageDelete');
  },
});

// ---------------------------------------------------------------- image versions
const MAX32 = 2147483647;

function checkVersionName(name: string) {
  const ok =
    /^\d+\.\d+\.\d+$/.test(name) &&
    name.split('.').every((x) => Number(x) <= MAX32 && String(Number(x)) === x.replace(/^0+(?=\d)/, ''));
  if (!ok) {
    throw badRequest(
      'InvalidParameter',
      'The image version name is invalid. The image version name should follow Major(int).Minor(int).Patch(int) format, for e.g: 1.0.0, 2018.12.1 etc',
      'galleryImageVersionName',
    );
  }
}

interface VersionSource {
  kind: 'vm' | 'disk' | 'snapshot' | 'imageVersion';
  id: string;
  resource: Resource;
  osState?: 'Generalized' | 'Specialized';
  osType?: string;
  hyperV?: string;
  osDiskSizeGB: number;
  dataDiskImages: { lun: number; sizeInGB: number; hostCaching: string }[];
}

function sourceNotFound(id: string): ArmError {
  return badRequest(
    'InvalidParameter',
    `Source ${id} is not found. Please check source exists, and is in the same region as gallery image version being created`,
    'storageProfile.source',
  );
}

function resolveVersionSource(world: World, p: Json, location: string): VersionSource {
  const sp = p.storageProfile ?? {};
  const id: string | undefined = sp.source?.virtualMachineId ?? sp.source?.id ?? sp.osDiskImage?.source?.id;
  if (!id)
    throw badRequest(
      'InvalidParameter',
      "Required parameter 'storageProfile.source' is missing (null).",
      'storageProfile.source',
    );
  const t = typeOfId(id);
  const r = world.get(id);
  if (t === 'microsoft.compute/virtualmachines') {
    if (!r || r.meta.deleting || normLocation(r.body.location) !== location) throw sourceNotFound(id);
    const st = r.body.properties.storageProfile;
    const os = world.get(st.osDisk.managedDisk.id);
    return {
      kind: 'vm',
      id: r.id,
      resource: r,
      osState: r.meta.generalized ? 'Generalized' : 'Specialized',
      osType: st.osDisk.osType,
      hyperV: r.meta.hyperVGeneration ?? os?.body.properties.hyperVGeneration,
      osDiskSizeGB: st.osDisk.diskSizeGB ?? os?.body.properties.diskSizeGB ?? 30,
      dataDiskImages: (st.dataDisks ?? []).map((d: Json) => ({
        lun: d.lun,
        sizeInGB: d.diskSizeGB,
        hostCaching: d.caching ?? 'None',
      })),
    };
  }
  if (t === 'microsoft.compute/disks' || t === 'microsoft.compute/snapshots') {
    if (!r || r.meta.deleting || normLocation(r.body.location) !== location) throw sourceNotFound(id);
    const data: Json[] = sp.dataDiskImages ?? [];
    const ddi = data.map((d: Json) => {
      const dr = d.source?.id ? world.get(d.source.id) : undefined;
      if (!dr) throw sourceNotFound(d.source?.id ?? '(missing)');
      return { lun: d.lun, sizeInGB: dr.body.properties.diskSizeGB, hostCaching: d.hostCaching ?? 'None' };
    });
    return {
      kind: t.endsWith('disks') ? 'disk' : 'snapshot',
      id: r.id,
      resource: r,
      osType: r.body.properties.osType,
      hyperV: r.body.properties.hyperVGeneration,
      osDiskSizeGB: r.body.properties.diskSizeGB,
      dataDiskImages: ddi,
    };
  }
  if (t === VERSION_TYPE.toLowerCase()) {
    if (!r || r.meta.deleting || regionState(r, location) !== 'Completed') throw sourceNotFound(id);
    const def = world.get(r.id.split('/').slice(0, -2).join('/'))!;
    return {
      kind: 'imageVersion',
      id: r.id,
      resource: r,
      osState: def.body.properties.osState,
      osType: def.body.properties.osType,
      hyperV: def.body.properties.hyperVGeneration,
      osDiskSizeGB: r.meta.osDiskSizeGB,
      dataDiskImages: r.meta.dataDiskImages,
    };
  }
  throw badRequest(
    'InvalidParameter',
    `The source id: ${id} must either be a managed image, virtual machine or another gallery image version`,
    'storageProfile.source.id',
  );
}

function sourceIdOf(p: Json): string | undefined {
  const sp = p?.storageProfile ?? {};
  return sp.source?.virtualMachineId ?? sp.source?.id ?? sp.osDiskImage?.source?.id;
}

interface RegionPlan {
  name: string;
  regionalReplicaCount: number;
  storageAccountType: string;
  excludeFromLatest?: boolean;
  doneAt: number;
}

function planRegions(ctx: Ctx, location: string, pp: Json, previous: RegionPlan[] = []): RegionPlan[] {
  const replicaCount = pp.replicaCount ?? 1;
  const storage = pp.storageAccountType ?? 'Standard_LRS';
  const targets: Json[] = pp.targetRegions?.length ? pp.targetRegions : [{ name: location }];
  const names = targets.map((t) => normLocation(t.name));
  if (!names.includes(location)) {
    throw badRequest(
      'InvalidParameter',
      `Gallery image version publishing profile regions {${targets.map((t) => t.name).join(', ')}} must contain the location of image version {${location}}.`,
      'publishingProfile.targetRegions',
    );
  }
  if (!Number.isInteger(replicaCount) || replicaCount < 1 || replicaCount > 100) {
    throw badRequest(
      'InvalidParameter',
      `The value ${replicaCount} of parameter 'publishingProfile.replicaCount' is out of range (1-100).`,
      'publishingProfile.replicaCount',
    );
  }
  // the source region first, then the others in the order given; each takes imageVersionPerRegion
  const ordered = [...targets].sort((a, b) =>
    normLocation(a.name) === location ? -1 : normLocation(b.name) === location ? 1 : 0,
  );
  const per = LATENCY_MS.imageVersionPerRegion * scale(ctx.world);
  let t = Date.now();
  return ordered.map((tr) => {
    const prev = previous.find((x) => normLocation(x.name) === normLocation(tr.name));
    const rc = tr.regionalReplicaCount ?? replicaCount;
    if (!Number.isInteger(rc) || rc < 1 || rc > 100)
      throw badRequest(
        'InvalidParameter',
        `The value ${rc} of parameter 'regionalReplicaCount' is out of range (1-100).`,
        'targetRegions.regionalReplicaCount',
      );
    let doneAt: number;
    if (prev) doneAt = prev.doneAt;
    else {
      t += per;
      doneAt = Math.round(t);
    }
    return {
      name: tr.name,
      regionalReplicaCount: rc,
      storageAccountType: tr.storageAccountType ?? storage,
      ...(tr.excludeFromLatest !== undefined ? { excludeFromLatest: !!tr.excludeFromLatest } : {}),
      doneAt,
    };
  });
}

registerRenderer(VERSION_TYPE, (_world, res, query) => {
  const b = clone(res.body);
  const regions: RegionPlan[] = res.meta.regions ?? [];
  b.properties.publishingProfile.targetRegions = regions.map((r) => ({
    name: r.name,
    regionalReplicaCount: r.regionalReplicaCount,
    storageAccountType: r.storageAccountType,
    ...(r.excludeFromLatest !== undefined ? { excludeFromLatest: r.excludeFromLatest } : {}),
  }));
  const expand = (query?.get('$expand') ?? '').toLowerCase();
  if (expand.includes('replicationstatus')) {
    const now = Date.now();
    const start = Date.parse(res.meta.startedAt ?? b.properties.publishingProfile.publishedDate);
    const failed = b.properties.provisioningState === 'Failed';
    let prevDone = start;
    const summary = regions.map((r) => {
      const done = now >= r.doneAt && !failed;
      const begin = Math.min(prevDone, r.doneAt);
      prevDone = r.doneAt;
      const progress = done
        ? 100
        : failed
          ? 0
          : Math.max(0, Math.min(99, Math.floor(((now - begin) / Math.max(1, r.doneAt - begin)) * 100)));
      return {
        region: r.name,
        state: failed ? 'Failed' : done ? 'Completed' : 'Replicating',
        details: '',
        progress,
      };
    });
    b.properties.replicationStatus = {
      aggregatedState: failed
        ? 'Failed'
        : summary.every((s) => s.state === 'Completed')
          ? 'Completed'
          : 'InProgress',
      summary,
    };
  }
  return b;
});

registerType({
  type: VERSION_TYPE,
  put(ctx, existing) {
    const name = ctx.names[2];
    checkVersionName(name);
    const def = ctx.world.get(ctx.parentId!)!;
    const location = requireLocation(ctx, existing);
    if (normLocation(def.body.location) !== location) {
      throw badRequest(
        'InvalidParameter',
        `The gallery image version location '${location}' must be the location of its gallery image '${def.body.location}'.`,
        'location',
      );
    }
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    const pp = p.publishingProfile ?? {};
    if (existing) {
      const newSrc = sourceIdOf(p);
      if (newSrc && !sameId(newSrc, existing.meta.sourceId)) {
        const which = p.storageProfile?.source?.virtualMachineId
          ? 'source.virtualMachineId'
          : p.storageProfile?.source?.id
            ? 'source.id'
            : 'osDiskImage.source.id';
        throw conflict(
          'PropertyChangeNotAllowed',
          `Changing property 'galleryImageVersion.properties.storageProfile.${which}' is not allowed.`,
          `storageProfile.${which}`,
        );
      }
      busyVersion(ctx.world, existing);
      const regions = planRegions(
        ctx,
        location,
        {
          ...existing.body.properties.publishingProfile,
          ...pp,
          targetRegions: pp.targetRegions ?? existing.meta.regions,
        },
        existing.meta.regions,
      );
      existing.meta.regions = regions;
      if (pp.excludeFromLatest !== undefined)
        existing.body.properties.publishingProfile.excludeFromLatest = !!pp.excludeFromLatest;
      if (pp.endOfLifeDate !== undefined)
        existing.body.properties.publishingProfile.endOfLifeDate = pp.endOfLifeDate;
      if (tags) existing.body.tags = tags;
      else delete existing.body.tags;
      existing.body.properties.provisioningState = 'Updating';
      const last = Math.max(
        Date.now() + latencyMs('imageVersionUpdate', scale(ctx.world)),
        ...regions.map((r) => r.doneAt),
      );
      return {
        status: 200,
        body: ctx.world.render(existing),
        op: capsOp(ctx, location, last - Date.now(), 'iv.create', 'resource'),
      };
    }
    const regions = planRegions(ctx, location, pp);
    const src = resolveVersionSource(ctx.world, p, location);
    const d = def.body.properties;
    if (src.osState && src.osState !== d.osState) {
      throw badRequest(
        'BadRequest',
        `The resource with id '${src.id}' has a different OS state ['${src.osState}'] than the parent gallery image OS state ['${d.osState}'].`,
      );
    }
    if (src.osType && src.osType !== d.osType) {
      throw badRequest(
        'BadRequest',
        `The resource with id '${src.id}' has a different OS type ['${src.osType}'] than the parent gallery image OS type ['${d.osType}'].`,
      );
    }
    if (src.hyperV && src.hyperV !== (d.hyperVGeneration ?? 'V1')) {
      throw badRequest(
        'BadRequest',
        `The resource with id '${src.id}' has a different Hypervisor generation ['${src.hyperV}'] than the parent gallery image Hypervisor generation ['${d.hyperVGeneration ?? 'V1'}']`,
      );
    }
    const defSec = (d.features ?? []).find(
      (f: Json) => String(f.name).toLowerCase() === 'securitytype',
    )?.value;
    const srcSec = src.resource.body.properties?.securityProfile?.securityType;
    if (srcSec === 'TrustedLaunch' && !String(defSec ?? '').startsWith('TrustedLaunch')) {
      throw badRequest(
        'BadRequest',
        `The source '${src.id}' uses security type 'TrustedLaunch', but the gallery image '${def.body.name}' does not have the feature SecurityType set to 'TrustedLaunch' or 'TrustedLaunchSupported'.`,
      );
    }
    for (const dd of src.dataDiskImages) {
      if (dd.sizeInGB > 1024)
        throw badRequest(
          'InvalidParameter',
          `The data disk at LUN ${dd.lun} is ${dd.sizeInGB} GB; data disks in an image version can be at most 1 TB.`,
          'storageProfile.dataDiskImages',
        );
    }
    const published = nowIso();
    const sourceKey = src.kind === 'vm' ? { virtualMachineId: src.id } : { id: src.id };
    const body: Json = {
      name,
      id: ctx.id,
      type: VERSION_TYPE,
      location,
      ...(tags ? { tags } : {}),
      properties: {
        publishingProfile: {
          targetRegions: [],
          replicaCount: pp.replicaCount ?? 1,
          excludeFromLatest: !!pp.excludeFromLatest,
          publishedDate: published,
          ...(pp.endOfLifeDate ? { endOfLifeDate: pp.endOfLifeDate } : {}),
          storageAccountType: pp.storageAccountType ?? 'Standard_LRS',
          replicationMode: pp.replicationMode ?? 'Full',
        },
        storageProfile: {
          source: sourceKey,
          osDiskImage: {
            sizeInGB: src.osDiskSizeGB,
            hostCaching: 'ReadWrite',
            ...(src.kind === 'disk' || src.kind === 'snapshot' ? { source: { id: src.id } } : {}),
          },
          dataDiskImages: src.dataDiskImages,
        },
        ...(p.safetyProfile
          ? { safetyProfile: p.safetyProfile }
          : {
              safetyProfile: { allowDeletionOfReplicatedLocations: true, reportedForPolicyViolation: false },
            }),
        provisioningState: 'Creating',
      },
    };
    const res = ctx.world.set({
      id: ctx.id,
      type: VERSION_TYPE,
      body,
      meta: {
        regions,
        sourceId: src.id,
        sourceKind: src.kind,
        osDiskSizeGB: src.osDiskSizeGB,
        dataDiskImages: src.dataDiskImages.map((x) => ({ lun: x.lun, sizeInGB: x.sizeInGB })),
        startedAt: published,
      },
    });
    const view = ctx.world.render(res);
    const srcView = ctx.world.render(src.resource);
    ctx.world.startHook(res.id, () =>
      ctx.world.guest.onImageVersionCreated?.(view, { kind: src.kind, id: src.id, resource: srcView }),
    );
    const last = Math.max(...regions.map((r) => r.doneAt));
    return {
      status: 201,
      body: ctx.world.render(res),
      op: capsOp(ctx, location, last - Date.now(), 'iv.create', 'resource'),
    };
  },
  patch(ctx, existing) {
    const p = ctx.body.properties ?? {};
    const newSrc = sourceIdOf(p);
    if (newSrc && !sameId(newSrc, existing.meta.sourceId)) {
      throw conflict(
        'PropertyChangeNotAllowed',
        "Changing property 'galleryImageVersion.properties.storageProfile.source.id' is not allowed.",
        'storageProfile.source.id',
      );
    }
    busyVersion(ctx.world, existing);
    const pp = p.publishingProfile ?? {};
    const regions = planRegions(
      ctx,
      normLocation(existing.body.location),
      {
        ...existing.body.properties.publishingProfile,
        ...pp,
        targetRegions: pp.targetRegions ?? existing.meta.regions,
      },
      existing.meta.regions,
    );
    existing.meta.regions = regions;
    if (pp.excludeFromLatest !== undefined)
      existing.body.properties.publishingProfile.excludeFromLatest = !!pp.excludeFromLatest;
    if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
    existing.body.properties.provisioningState = 'Updating';
    const last = Math.max(
      Date.now() + latencyMs('imageVersionUpdate', scale(ctx.world)),
      ...regions.map((r) => r.doneAt),
    );
    return {
      status: 200,
      body: ctx.world.render(existing),
      op: capsOp(ctx, existing.body.location, last - Date.now(), 'iv.create', 'resource'),
    };
  },
  delete(ctx, existing) {
    return deleteReply(ctx, existing, 'imageVersionDelete');
  },
});

function busyVersion(world: World, v: Resource) {
  if (world.pendingOps(v.id).length > 0) {
    throw conflict(
      'OperationNotAllowed',
      `Gallery image version '${v.body.name}' has another operation in progress; retry when it completes.`,
    );
  }
}

registerProvisioning('iv.create', async (world, v) => {
  await world.awaitHook(v.id);
});

registerDeleter(VERSION_TYPE, async (world, res) => {
  await world.guest.onImageVersionDeleted?.(world.render(res));
});
