/** Resolving `imageReference` / `galleryImageReference` to what a VM or disk gets from it. */
import { ArmError, badRequest, notFound } from './errors';
import { normLocation, parseId, sameId } from './common';
import type { Json, Resource, World } from './world';

export interface ResolvedImage {
  kind: 'gallery' | 'marketplace';
  version?: Resource;
  definition?: Resource;
  osType: 'Linux' | 'Windows';
  osState: 'Generalized' | 'Specialized';
  hyperVGeneration: 'V1' | 'V2';
  /** SecurityType feature of the definition (TrustedLaunch, TrustedLaunchSupported, …). */
  securityType?: string;
  osDiskSizeGB: number;
  dataDiskImages: { lun: number; sizeInGB: number }[];
  exactVersion: string;
  urn?: string;
}

export const VERSION_TYPE = 'Microsoft.Compute/galleries/images/versions';
export const DEFINITION_TYPE = 'Microsoft.Compute/galleries/images';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function regionState(version: Resource, location: string): 'Completed' | 'Replicating' | 'Missing' {
  if (version.body.properties.provisioningState === 'Failed') return 'Missing';
  const regions: Json[] = version.meta.regions ?? [];
  const r = regions.find((x) => normLocation(x.name) === normLocation(location));
  if (!r) return 'Missing';
  return Date.now() >= r.doneAt ? 'Completed' : 'Replicating';
}

function excludedFromLatest(v: Resource, location: string): boolean {
  const pp = v.body.properties.publishingProfile ?? {};
  const tr = (pp.targetRegions ?? []).find((x: Json) => normLocation(x.name) === normLocation(location));
  if (tr && tr.excludeFromLatest !== undefined) return !!tr.excludeFromLatest;
  return !!pp.excludeFromLatest;
}

function fromDefinition(
  def: Resource,
  version: Resource | undefined,
): Omit<ResolvedImage, 'kind' | 'exactVersion'> {
  const p = def.body.properties;
  const st = (p.features ?? []).find((f: Json) => String(f.name).toLowerCase() === 'securitytype')?.value;
  return {
    definition: def,
    version,
    osType: p.osType,
    osState: p.osState,
    hyperVGeneration: p.hyperVGeneration ?? 'V1',
    securityType: st,
    osDiskSizeGB: version?.meta.osDiskSizeGB ?? 30,
    dataDiskImages: version?.meta.dataDiskImages ?? [],
  };
}

/** Resolves a gallery version id or definition id (latest) for use in `location`. */
export function resolveGallery(world: World, id: string, location: string): ResolvedImage {
  const parsed = parseId(id);
  const t = parsed ? `${parsed.ns}/${parsed.types.join('/')}`.toLowerCase() : '';
  if (t === VERSION_TYPE.toLowerCase()) {
    const v = world.get(id);
    if (!v || v.meta.deleting) throw notFound('NotFound', `The gallery image version '${id}' was not found.`);
    const def = world.get(v.id.split('/').slice(0, -2).join('/'))!;
    if (regionState(v, location) !== 'Completed') {
      throw badRequest(
        'GalleryImageNotAvailableInRegion',
        `The gallery image ${id} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
        'imageReference',
      );
    }
    return { kind: 'gallery', exactVersion: v.body.name, ...fromDefinition(def, v) };
  }
  if (t === DEFINITION_TYPE.toLowerCase()) {
    const def = world.get(id);
    if (!def || def.meta.deleting) throw notFound('NotFound', `The gallery image '${id}' was not found.`);
    const candidates = world
      .list(VERSION_TYPE, def.id)
      .filter(
        (v) =>
          !v.meta.deleting && regionState(v, location) === 'Completed' && !excludedFromLatest(v, location),
      )
      .sort((a, b) => compareVersions(b.body.name, a.body.name));
    if (candidates.length === 0) {
      throw badRequest(
        'InvalidParameter',
        `There is no latest image version exists for "${def.id}"`,
        'imageReference',
      );
    }
    return { kind: 'gallery', exactVersion: candidates[0].body.name, ...fromDefinition(def, candidates[0]) };
  }
  throw badRequest(
    'InvalidParameter',
    `The value of parameter imageReference.id '${id}' is invalid: it must be a gallery image version or gallery image (definition) id.`,
    'imageReference.id',
  );
}

export function resolveImage(world: World, ref: Json, location: string): ResolvedImage {
  if (!ref)
    throw badRequest(
      'InvalidParameter',
      "Required parameter 'imageReference' is missing (null).",
      'imageReference',
    );
  if (ref.id) return resolveGallery(world, ref.id, location);
  if (ref.sharedGalleryImageId || ref.communityGalleryImageId) {
    throw badRequest(
      'InvalidParameter',
      'Shared and community gallery images are not supported by this emulator.',
      'imageReference',
    );
  }
  const missing = ['publisher', 'offer', 'sku'].filter((k) => !ref[k]);
  if (missing.length) {
    throw badRequest(
      'InvalidParameter',
      `Required parameter 'imageReference.${missing[0]}' is missing (null).`,
      `imageReference.${missing[0]}`,
    );
  }
  const version = ref.version ?? 'latest';
  if (version !== 'latest' && !/^\d+\.\d+\.\d+$/.test(version)) {
    throw badRequest(
      'InvalidParameter',
      `The value of parameter imageReference.version is invalid.`,
      'imageReference.version',
    );
  }
  const windows = /windows/i.test(`${ref.publisher} ${ref.offer}`);
  // Canonical's 22.04+ offers (ubuntu-24_04-lts) publish Gen2 under the plain sku (`server`) and Gen1 as `server-gen1`.
  const gen1Sku = /gen1$/i.test(ref.sku);
  const gen2 =
    !gen1Sku &&
    (/gen2|-g2$|g2$/i.test(ref.sku) ||
      /^2[2-9]_04|^24_04/i.test(String(ref.sku).replace('-', '_')) ||
      /^ubuntu-2[2-9]_04(-lts)?$/i.test(String(ref.offer)));
  return {
    kind: 'marketplace',
    osType: windows ? 'Windows' : 'Linux',
    osState: 'Generalized',
    hyperVGeneration: gen2 ? 'V2' : 'V1',
    securityType: gen2 ? 'TrustedLaunchSupported' : undefined,
    osDiskSizeGB: windows ? 127 : 30,
    dataDiskImages: [],
    exactVersion: version === 'latest' ? '24.04.202611010' : version,
    urn: `${ref.publisher}:${ref.offer}:${ref.sku}:${version}`,
  };
}

export function sameImage(a: Json, b: Json): boolean {
  if (!a && !b) return true;
  if (!a || !b) return false;
  if (a.id || b.id) return sameId(a.id, b.id);
  return ['publisher', 'offer', 'sku'].every(
    (k) => String(a[k] ?? '').toLowerCase() === String(b[k] ?? '').toLowerCase(),
  );
}

export function notGeneralizedError(vmName: string): ArmError {
  return new ArmError(
    409,
    'OperationNotAllowed',
    `The operation 'Capture' requires the Virtual Machine '${vmName}' to be Generalized.`,
  );
}
