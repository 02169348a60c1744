/** Microsoft.Compute: managed disks, snapshots, virtual machines. */
import { ArmError, badRequest, conflict, notFound } from './errors';
import { registerDeleter } from './cascade';
import {
  checkComputeName,
  guid,
  hex32,
  mergePatch,
  normLocation,
  nowIso,
  requireLocation,
  sameId,
  typeOfId,
  validateTags,
} from './common';
import { markDeleting, registerProvisioning } from './generic';
import type { DiskSource } from './guest';
import { resolveGallery, resolveImage, sameImage, type ResolvedImage } from './images';
import { latencyMs } from './latency';
import { vmUsingNic, vmsReferencingDisk } from './lookups';
import { registerType, type Ctx, type Reply } from './registry';
import { clone, registerCompletion, registerRenderer, type Json, type Resource, type World } from './world';

export const DISK = 'Microsoft.Compute/disks';
export const SNAPSHOT = 'Microsoft.Compute/snapshots';
export const VM = 'Microsoft.Compute/virtualMachines';

const scale = (w: World) => w.latencyScale;

// ================================================================ disks
/** The VM whose update is still detaching this disk (the disk counts as attached until it finishes). */
function detachingFrom(world: World, diskId: string): Resource | undefined {
  for (const op of world.ops.values()) {
    if (op.status !== 'InProgress' || op.completion !== 'vm.update') continue;
    if (((op.args?.detached as string[] | undefined) ?? []).some((d) => sameId(d, diskId)))
      return world.get(op.resourceId);
  }
  return undefined;
}

function diskOwner(world: World, diskId: string): Resource | undefined {
  return vmsReferencingDisk(world, diskId)[0] ?? detachingFrom(world, diskId);
}

registerRenderer(DISK, (world, res) => {
  const b = clone(res.body);
  const vm = diskOwner(world, res.id);
  if (vm) {
    b.managedBy = vm.id;
    b.properties.diskState = vm.meta.power === 'deallocated' ? 'Reserved' : 'Attached';
  } else {
    delete b.managedBy;
    b.properties.diskState = 'Unattached';
  }
  return b;
});

const SKUS = [
  'Standard_LRS',
  'Premium_LRS',
  'StandardSSD_LRS',
  'UltraSSD_LRS',
  'Premium_ZRS',
  'StandardSSD_ZRS',
  'PremiumV2_LRS',
];
function skuOf(name: string | undefined): { name: string; tier: string } {
  const n = name ?? 'Standard_LRS';
  const canonical = SKUS.find((s) => s.toLowerCase() === n.toLowerCase());
  if (!canonical)
    throw badRequest(
      'InvalidParameter',
      `The value '${n}' of parameter 'sku.name' is invalid. Allowed values: ${SKUS.join(', ')}.`,
      'sku.name',
    );
  return { name: canonical, tier: canonical.startsWith('Premium') ? 'Premium' : 'Standard' };
}

function diskTier(size: number): string {
  const tiers = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767];
  const i = tiers.findIndex((t) => size <= t);
  return `P${[1, 2, 3, 4, 6, 10, 15, 20, 30, 40, 50, 60, 70, 80][i < 0 ? 13 : i]}`;
}

interface NewDisk {
  id: string;
  name: string;
  location: string;
  tags?: Json;
  sku: { name: string; tier: string };
  sizeGB: number;
  creationData: Json;
  osType?: string;
  hyperVGeneration?: string;
  securityProfile?: Json;
  zones?: string[];
  source: DiskSource;
}

function makeDisk(world: World, d: NewDisk, state = 'Updating'): Resource {
  const body: Json = {
    name: d.name,
    id: d.id,
    type: DISK,
    location: d.location,
    ...(d.tags ? { tags: d.tags } : {}),
    ...(d.zones ? { zones: d.zones } : {}),
    sku: d.sku,
    properties: {
      ...(d.osType ? { osType: d.osType } : {}),
      ...(d.hyperVGeneration ? { hyperVGeneration: d.hyperVGeneration } : {}),
      ...(d.osType
        ? {
            supportedCapabilities: {
              diskControllerTypes: 'SCSI, NVMe',
              acceleratedNetwork: true,
              architecture: 'x64',
            },
          }
        : {}),
      creationData: d.creationData,
      diskSizeGB: d.sizeGB,
      diskIOPSReadWrite: 500,
      diskMBpsReadWrite: 60,
      encryption: { type: 'EncryptionAtRestWithPlatformKey' },
      networkAccessPolicy: 'AllowAll',
      publicNetworkAccess: 'Enabled',
      ...(d.securityProfile ? { securityProfile: d.securityProfile } : {}),
      timeCreated: nowIso(),
      provisioningState: state,
      diskState: 'Unattached',
      diskSizeBytes: d.sizeGB * 1024 * 1024 * 1024,
      uniqueId: guid(),
      ...(d.sku.tier === 'Premium' ? { tier: diskTier(d.sizeGB) } : {}),
    },
  };
  return world.set({ id: d.id, type: DISK, body, meta: { source: d.source } });
}

function diskSourceFromCreationData(
  world: World,
  cd: Json,
  location: string,
  lunHint?: number,
): { size: number; source: DiskSource; osType?: string; hyperV?: string; cd: Json } {
  const opt = String(cd?.createOption ?? '');
  switch (opt.toLowerCase()) {
    case 'empty':
      return { size: 0, source: { kind: 'empty' }, cd: { createOption: 'Empty' } };
    case 'copy': {
      const srcId: string | undefined = cd.sourceResourceId;
      if (!srcId)
        throw badRequest(
          'InvalidParameter',
          "Required parameter 'creationData.sourceResourceId' is missing (null).",
          'creationData.sourceResourceId',
        );
      const src = world.get(srcId);
      const t = typeOfId(srcId);
      if (!src || src.meta.deleting || (t !== DISK.toLowerCase() && t !== SNAPSHOT.toLowerCase())) {
        throw notFound(
          'NotFound',
          `Source resource '${srcId}' was not found. The source of a copy must be an existing disk or snapshot.`,
        );
      }
      if (normLocation(src.body.location) !== location) {
        throw badRequest(
          'InvalidParameter',
          `The source '${srcId}' is in region '${src.body.location}', which differs from the disk's region '${location}'.`,
          'creationData.sourceResourceId',
        );
      }
      if (src.type === SNAPSHOT && src.body.properties.provisioningState !== 'Succeeded') {
        throw conflict(
          'OperationNotAllowed',
          `Snapshot '${src.body.name}' is not ready yet (provisioningState ${src.body.properties.provisioningState}).`,
        );
      }
      return {
        size: src.body.properties.diskSizeGB,
        source: { kind: src.type === SNAPSHOT ? 'snapshot' : 'disk', id: src.id },
        osType: src.body.properties.osType,
        hyperV: src.body.properties.hyperVGeneration,
        cd: { createOption: 'Copy', sourceResourceId: src.id, sourceUniqueId: src.body.properties.uniqueId },
      };
    }
    case 'fromimage': {
      const ref = cd.galleryImageReference ?? cd.imageReference;
      if (!ref?.id)
        throw badRequest(
          'InvalidParameter',
          "Required parameter 'creationData.galleryImageReference' is missing (null).",
          'creationData.galleryImageReference',
        );
      const img = resolveGallery(world, ref.id, location);
      const lun = ref.lun ?? lunHint;
      let size = img.osDiskSizeGB;
      if (lun !== undefined) {
        const dd = img.dataDiskImages.find((x) => x.lun === lun);
        if (!dd)
          throw badRequest(
            'InvalidParameter',
            `The image ${ref.id} has no data disk image at LUN ${lun}.`,
            'creationData.galleryImageReference.lun',
          );
        size = dd.sizeInGB;
      }
      return {
        size,
        source: { kind: 'imageVersion', id: img.version!.id, lun: lun ?? 'os' },
        osType: lun === undefined ? img.osType : undefined,
        hyperV: lun === undefined ? img.hyperVGeneration : undefined,
        cd: {
          createOption: 'FromImage',
          galleryImageReference: { id: img.version!.id, ...(lun !== undefined ? { lun } : {}) },
        },
      };
    }
    default:
      throw badRequest(
        'InvalidParameter',
        `The value '${opt}' of parameter 'creationData.createOption' is not supported by this emulator (Empty, Copy, FromImage).`,
        'creationData.createOption',
      );
  }
}

function diskOp(
  ctx: Ctx,
  location: string,
  kind: Parameters<typeof latencyMs>[0],
  completion: string,
  result: 'resource' | 'empty' | 'noContent',
  args: Json = {},
): Reply['op'] {
  return {
    style: 'disk',
    location,
    durationMs: latencyMs(kind, scale(ctx.world)),
    completion,
    args,
    result,
    locationHeader: true,
  };
}

function resizeCheck(world: World, disk: Resource, newSize: number | undefined) {
  if (newSize === undefined || newSize === disk.body.properties.diskSizeGB) return;
  if (newSize < disk.body.properties.diskSizeGB) {
    throw badRequest(
      'BadRequest',
      `Disk size reduction is not supported. Current size is ${disk.body.properties.diskSizeGB} GB, requested size is ${newSize} GB.`,
    );
  }
  const vm = diskOwner(world, disk.id);
  if (vm && vm.meta.power !== 'deallocated') {
    throw conflict(
      'Conflict',
      'Disk resizing is allowed only when creating a VM or when the VM is deallocated.',
    );
  }
}

/** An accepted disk/snapshot update: Updating now, Succeeded when the async op completes. */
function updatingReply(ctx: Ctx, existing: Resource, location: string): Reply {
  existing.body.properties.provisioningState = 'Updating';
  return {
    status: 202,
    body: ctx.world.render(existing),
    op: diskOp(ctx, location, 'diskUpdate', 'generic.put', 'resource'),
  };
}

/** What a disk PUT (of an existing disk) and PATCH both apply: the new size and SKU, then the async update. */
function updateDisk(ctx: Ctx, existing: Resource, location: string): Reply {
  const p = ctx.body.properties ?? {};
  if (p.diskSizeGB) {
    existing.body.properties.diskSizeGB = p.diskSizeGB;
    existing.body.properties.diskSizeBytes = p.diskSizeGB * 1024 ** 3;
  }
  if (ctx.body.sku?.name) existing.body.sku = skuOf(ctx.body.sku.name);
  return updatingReply(ctx, existing, location);
}

registerType({
  type: DISK,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkComputeName(name, 'disk');
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    if (existing) {
      const cd = p.creationData;
      if (
        cd &&
        String(cd.createOption ?? '').toLowerCase() !==
          String(existing.body.properties.creationData.createOption).toLowerCase()
      ) {
        throw conflict(
          'PropertyChangeNotAllowed',
          "Changing property 'creationData.createOption' is not allowed.",
          'creationData.createOption',
        );
      }
      resizeCheck(ctx.world, existing, p.diskSizeGB);
      if (
        ctx.body.sku?.name &&
        diskOwner(ctx.world, existing.id) &&
        skuOf(ctx.body.sku.name).name !== existing.body.sku.name
      ) {
        const vm = diskOwner(ctx.world, existing.id)!;
        if (vm.meta.power !== 'deallocated')
          throw conflict(
            'OperationNotAllowed',
            `Disk ${existing.body.name} is attached to VM ${vm.id}. The SKU can only be changed while the VM is deallocated.`,
          );
      }
      if (tags) existing.body.tags = tags;
      else delete existing.body.tags;
      return updateDisk(ctx, existing, location);
    }
    if (!p.creationData?.createOption)
      throw badRequest(
        'InvalidParameter',
        "Required parameter 'creationData.createOption' is missing (null).",
        'creationData.createOption',
      );
    const src = diskSourceFromCreationData(ctx.world, p.creationData, location);
    let size: number | undefined = p.diskSizeGB;
    if (src.source.kind === 'empty' && !size)
      throw badRequest(
        'InvalidParameter',
        "Required parameter 'diskSizeGB' is missing (null).",
        'diskSizeGB',
      );
    if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 32767)) {
      throw badRequest(
        'InvalidParameter',
        `The value ${size} of parameter 'diskSizeGB' is out of range. The value must be between 1 and 32767, inclusive.`,
        'diskSizeGB',
      );
    }
    if (size !== undefined && src.size && size < src.size) {
      throw badRequest(
        'InvalidParameter',
        `The specified disk size ${size} GB is smaller than the size of the corresponding source ${src.size} GB.`,
        'diskSizeGB',
      );
    }
    size = size ?? src.size;
    const res = makeDisk(ctx.world, {
      id: ctx.id,
      name,
      location,
      tags,
      sku: skuOf(ctx.body.sku?.name),
      sizeGB: size,
      creationData: src.cd,
      osType: p.osType ?? src.osType,
      hyperVGeneration: p.hyperVGeneration ?? src.hyperV,
      securityProfile: p.securityProfile,
      zones: ctx.body.zones,
      source: src.source,
    });
    return {
      status: 202,
      body: ctx.world.render(res),
      op: diskOp(ctx, location, 'diskCreate', 'disk.create', 'resource'),
    };
  },
  patch(ctx, existing) {
    const p = ctx.body.properties ?? {};
    resizeCheck(ctx.world, existing, p.diskSizeGB);
    if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
    return updateDisk(ctx, existing, existing.body.location);
  },
  delete(ctx, existing) {
    const vm = diskOwner(ctx.world, existing.id);
    if (vm) throw conflict('OperationNotAllowed', `Disk ${existing.body.name} is attached to VM ${vm.id}.`);
    markDeleting(ctx.world, existing.id);
    return { status: 202, op: diskOp(ctx, existing.body.location, 'diskDelete', 'generic.delete', 'empty') };
  },
  actions: {
    begingetaccess: {
      method: 'POST',
      run(ctx, existing) {
        return {
          status: 202,
          op: { ...diskOp(ctx, existing.body.location, 'diskUpdate', 'noop', 'empty')! },
        };
      },
    },
  },
});

registerCompletion('noop', () => undefined);

registerProvisioning('disk.create', async (world, d) => {
  await world.guest.onDiskCreated?.(world.render(d), d.meta.source ?? { kind: 'empty' });
});

registerDeleter(DISK, async (world, res) => {
  await world.guest.onDiskDeleted?.(world.render(res));
});

// ================================================================ snapshots
registerRenderer(SNAPSHOT, (_world, res) => {
  const b = clone(res.body);
  if (b.properties.incremental)
    b.properties.completionPercent = b.properties.provisioningState === 'Succeeded' ? 100 : 0;
  return b;
});

registerType({
  type: SNAPSHOT,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkComputeName(name, 'snapshot');
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    if (existing) {
      if (p.incremental !== undefined && !!p.incremental !== !!existing.body.properties.incremental) {
        throw conflict(
          'PropertyChangeNotAllowed',
          "Changing property 'incremental' is not allowed.",
          'incremental',
        );
      }
      if (tags) existing.body.tags = tags;
      else delete existing.body.tags;
      return updatingReply(ctx, existing, location);
    }
    const cd = p.creationData ?? {};
    const opt = String(cd.createOption ?? '').toLowerCase();
    if (opt !== 'copy' && opt !== 'copystart') {
      throw badRequest(
        'InvalidParameter',
        `The value '${cd.createOption}' of parameter 'creationData.createOption' is not supported by this emulator for snapshots (Copy).`,
        'creationData.createOption',
      );
    }
    const src = diskSourceFromCreationData(ctx.world, { ...cd, createOption: 'Copy' }, location);
    const srcDisk = ctx.world.get(src.source.id!)!;
    if (p.incremental && srcDisk.type === SNAPSHOT && !srcDisk.body.properties.incremental) {
      throw badRequest(
        'InvalidParameter',
        'An incremental snapshot can only be created from a disk or another incremental snapshot.',
        'creationData.sourceResourceId',
      );
    }
    const body: Json = {
      name,
      id: ctx.id,
      type: SNAPSHOT,
      location,
      ...(tags ? { tags } : {}),
      sku: p.incremental
        ? { name: 'Standard_LRS', tier: 'Standard' }
        : ctx.body.sku?.name
          ? skuOf(ctx.body.sku.name)
          : { name: 'Standard_LRS', tier: 'Standard' },
      properties: {
        ...(src.osType ? { osType: src.osType } : {}),
        ...(src.hyperV ? { hyperVGeneration: src.hyperV } : {}),
        creationData: {
          createOption: 'Copy',
          sourceResourceId: srcDisk.id,
          sourceUniqueId: srcDisk.body.properties.uniqueId,
        },
        diskSizeGB: srcDisk.body.properties.diskSizeGB,
        encryption: { type: 'EncryptionAtRestWithPlatformKey' },
        incremental: !!p.incremental,
        ...(p.incremental
          ? {
              incrementalSnapshotFamilyId:
                srcDisk.meta.snapshotFamily ?? (srcDisk.meta.snapshotFamily = guid()),
            }
          : {}),
        networkAccessPolicy: 'AllowAll',
        publicNetworkAccess: 'Enabled',
        timeCreated: nowIso(),
        provisioningState: 'Updating',
        diskState: 'Unattached',
        diskSizeBytes: srcDisk.body.properties.diskSizeGB * 1024 ** 3,
        uniqueId: guid(),
      },
    };
    const res = ctx.world.set({ id: ctx.id, type: SNAPSHOT, body, meta: { sourceDiskId: srcDisk.id } });
    // the content is taken at the moment of the request, as on Azure
    const snapView = ctx.world.render(res);
    const srcView = ctx.world.render(srcDisk);
    ctx.world.startHook(res.id, () => ctx.world.guest.onSnapshotCreated?.(snapView, srcView));
    return {
      status: 202,
      body: ctx.world.render(res),
      op: diskOp(ctx, location, 'snapshotCreate', 'snapshot.create', 'resource'),
    };
  },
  patch(ctx, existing) {
    if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
    return {
      status: 202,
      body: ctx.world.render(existing),
      op: diskOp(ctx, existing.body.location, 'diskUpdate', 'generic.put', 'resource'),
    };
  },
  delete(ctx, existing) {
    markDeleting(ctx.world, existing.id);
    return {
      status: 202,
      op: diskOp(ctx, existing.body.location, 'snapshotDelete', 'generic.delete', 'empty'),
    };
  },
});

registerProvisioning('snapshot.create', async (world, s) => {
  await world.awaitHook(s.id);
});

registerDeleter(SNAPSHOT, async (world, res) => {
  await world.guest.onSnapshotDeleted?.(world.render(res));
});

// ================================================================ virtual machines
type Power = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

const FORBIDDEN_NAME = /[\\/"'[\]:|<>+=;,?*@&~!#$%^(){}\s]/;
const RESERVED_USERS = new Set([
  'administrator',
  'admin',
  'user',
  'user1',
  'test',
  'user2',
  'test1',
  'user3',
  'admin1',
  '1',
  '123',
  'a',
  'actuser',
  'adm',
  'admin2',
  'aspnet',
  'backup',
  'console',
  'david',
  'guest',
  'john',
  'owner',
  'root',
  'server',
  'sql',
  'support',
  'support_388945a0',
  'sys',
  'test2',
  'test3',
  'user4',
  'user5',
]);

function checkVmName(name: string) {
  if (
    name.length > 64 ||
    name.length < 1 ||
    FORBIDDEN_NAME.test(name) ||
    name.startsWith('_') ||
    /[.-]$/.test(name)
  ) {
    throw badRequest(
      'InvalidResourceName',
      `The resource name '${name}' is invalid. A virtual machine name can be up to 64 characters, cannot contain \\/"'[]:|<>+=;,?*@&, whitespace or other special characters, cannot begin with '_' and cannot end with '.' or '-'.`,
      'name',
    );
  }
}

const b64 = (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;

function validateOsProfile(os: Json, osType: string, vmName: string): void {
  const computerName: string = os.computerName ?? vmName;
  if (osType === 'Windows') {
    if (
      computerName.length > 15 ||
      /^\d+$/.test(computerName) ||
      /[`~!@#$%^&*()=+_[\]{}\\|;:.'",<>/?]/.test(computerName)
    ) {
      throw badRequest(
        'InvalidParameter',
        'Windows computer name cannot be more than 15 characters long, be entirely numeric, or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . \' " , < > / ?.',
        'computerName',
      );
    }
  } else if (
    computerName.length > 64 ||
    /[`~!@#$%^&*()=+_[\]{}\\|;:'",<>/?]/.test(computerName) ||
    computerName.startsWith('-') ||
    computerName.endsWith('.')
  ) {
    throw badRequest(
      'InvalidParameter',
      'Linux host name cannot exceed 64 characters in length or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : \' " , < > / ?.',
      'computerName',
    );
  }
  const user: string | undefined = os.adminUsername;
  if (!user)
    throw badRequest(
      'InvalidParameter',
      "Required parameter 'osProfile.adminUsername' is missing (null).",
      'osProfile.adminUsername',
    );
  if (
    RESERVED_USERS.has(user.toLowerCase()) ||
    user.length > (osType === 'Windows' ? 20 : 64) ||
    /[\\/"[\]:|<>+=;,?*@&\s]/.test(user) ||
    user.endsWith('.')
  ) {
    throw badRequest('InvalidParameter', 'The Admin Username specified is not allowed.', 'adminUsername');
  }
  const pw: string | undefined = os.adminPassword;
  if (pw !== undefined) {
    const classes = [/[A-Z]/, /[a-z]/, /\d/, /[^A-Za-z0-9]/].filter((r) => r.test(pw)).length;
    const max = osType === 'Windows' ? 123 : 72;
    if (
      pw.length < (osType === 'Windows' ? 8 : 6) ||
      pw.length > max ||
      classes < 3 ||
      [...pw].some((ch) => ch.charCodeAt(0) < 32)
    ) {
      throw badRequest(
        'InvalidParameter',
        `The supplied password must be between ${osType === 'Windows' ? 8 : 6}-${max} characters long and must satisfy at least 3 of password complexity requirements from the following: 1) Contains an uppercase character 2) Contains a lowercase character 3) Contains a numeric digit 4) Contains a special character 5) Control characters are not allowed`,
        'adminPassword',
      );
    }
  }
  if (osType === 'Linux') {
    const lc = os.linuxConfiguration ?? {};
    const keys: Json[] = lc.ssh?.publicKeys ?? [];
    if (lc.disablePasswordAuthentication && keys.length === 0) {
      throw badRequest(
        'InvalidParameter',
        'Authentication using either SSH or by user name and password must be enabled in Linux profile.',
        'linuxConfiguration',
      );
    }
    if (!pw && keys.length === 0) {
      throw badRequest(
        'InvalidParameter',
        'Authentication using either SSH or by user name and password must be enabled in Linux profile.',
        'linuxConfiguration',
      );
    }
    for (const k of keys) {
      if (k.path && k.path !== `/home/${user}/.ssh/authorized_keys`) {
        throw badRequest(
          'InvalidParameter',
          `Destination path for SSH public keys is currently limited to its default value /home/${user}/.ssh/authorized_keys due to a known issue in Linux provisioning agent.`,
          'linuxConfiguration.ssh.publicKeys.path',
        );
      }
      if (
        !/^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+/.test(
          String(k.keyData ?? '').trim(),
        )
      ) {
        throw badRequest(
          'InvalidParameter',
          'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.',
          'linuxConfiguration.ssh.publicKeys.keyData',
        );
      }
    }
  }
  if (os.customData !== undefined && (!b64(os.customData) || os.customData.length > 87380)) {
    throw badRequest(
      'InvalidParameter',
      'Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.',
      'customData',
    );
  }
}

function vmOpNotAllowed(opName: string, vmName: string, why: string): ArmError {
  return conflict(
    'OperationNotAllowed',
    `Operation '${opName}' is not allowed on VM '${vmName}' since ${why}.`,
  );
}

function busy(world: World, vm: Resource, opName: string) {
  if (world.pendingOps(vm.id).length > 0)
    throw vmOpNotAllowed(opName, vm.body.name, 'another operation is in progress');
}

interface Attachment {
  diskId: string;
  lun: number | 'os';
}

interface PreparedStorage {
  storageProfile: Json;
  created: { disk: NewDisk }[];
  attachments: Attachment[];
  image?: ResolvedImage;
  osType: string;
}

function checkAttachable(world: World, diskId: string, vmId: string, location: string): Resource {
  const disk = world.get(diskId);
  if (!disk || disk.meta.deleting || disk.type !== DISK)
    throw notFound('NotFound', `Disk '${diskId}' was not found.`);
  if (normLocation(disk.body.location) !== location) {
    throw badRequest(
      'InvalidParameter',
      `Disk '${diskId}' is in region '${disk.body.location}', which is different from the VM's region '${location}'.`,
      'managedDisk.id',
    );
  }
  const detaching = detachingFrom(world, disk.id);
  if (detaching && !sameId(detaching.id, vmId)) {
    throw new ArmError(
      409,
      'AttachDiskWhileBeingDetached',
      `Cannot attach data disk '${disk.body.name}' to VM '${vmId.split('/').pop()}' because the disk is currently being detached or the last detach operation failed. Please wait until the disk is completely detached and then try again or delete/detach the disk explicitly again.`,
    );
  }
  const owner = diskOwner(world, disk.id);
  if (owner && !sameId(owner.id, vmId)) {
    throw new ArmError(
      409,
      'ConflictingUserInput',
      `Disk '${disk.id}' cannot be attached as the disk is already owned by VM '${owner.id}'.`,
      disk.id,
    );
  }
  if (
    disk.body.properties.provisioningState !== 'Succeeded' &&
    disk.body.properties.provisioningState !== 'Updating'
  ) {
    throw conflict(
      'OperationNotAllowed',
      `Disk '${disk.id}' is in provisioning state '${disk.body.properties.provisioningState}' and cannot be attached.`,
    );
  }
  return disk;
}

function prepareDataDisks(
  world: World,
  ctx: Ctx,
  vmId: string,
  vmName: string,
  location: string,
  dataDisks: Json[],
  previous: Json[],
  image?: ResolvedImage,
): { disks: Json[]; created: { disk: NewDisk }[]; attachments: Attachment[] } {
  const luns = new Set<number>();
  const ids = new Set<string>();
  const created: { disk: NewDisk }[] = [];
  const attachments: Attachment[] = [];
  const out: Json[] = [];
  dataDisks.forEach((d: Json, idx: number) => {
    const lun = d.lun;
    if (!Number.isInteger(lun) || lun < 0 || lun > 63)
      throw badRequest(
        'InvalidParameter',
        `The value ${lun} of parameter 'lun' is out of range. The value must be between 0 and 63, inclusive.`,
        'dataDisks.lun',
      );
    if (luns.has(lun))
      throw badRequest('InvalidParameter', `A disk at LUN ${lun} already exists.`, 'dataDisks');
    luns.add(lun);
    const prev = previous.find((x) => x.lun === lun && !x.toBeDetached);
    const opt = String(d.createOption ?? prev?.createOption ?? '').toLowerCase();
    const deleteOption = d.deleteOption ?? prev?.deleteOption ?? 'Detach';
    if (!['delete', 'detach'].includes(String(deleteOption).toLowerCase()))
      throw badRequest(
        'InvalidParameter',
        `The value '${deleteOption}' of parameter 'deleteOption' is invalid (Delete or Detach).`,
        'dataDisks.deleteOption',
      );
    const caching = d.caching ?? prev?.caching ?? 'None';
    if (d.toBeDetached) {
      if (prev) out.push({ ...clone(prev), toBeDetached: true });
      return;
    }
    if (prev && (!d.managedDisk?.id || sameId(d.managedDisk.id, prev.managedDisk?.id))) {
      out.push({ ...clone(prev), caching, deleteOption, toBeDetached: false });
      if (prev.managedDisk?.id) ids.add(prev.managedDisk.id.toLowerCase());
      return;
    }
    if (opt === 'attach') {
      const diskId: string | undefined = d.managedDisk?.id;
      if (!diskId)
        throw badRequest(
          'InvalidParameter',
          "Required parameter 'dataDisks.managedDisk.id' is missing (null).",
          'dataDisks.managedDisk.id',
        );
      if (ids.has(diskId.toLowerCase()))
        throw badRequest(
          'InvalidParameter',
          `Disk '${diskId}' is listed more than once in dataDisks.`,
          'dataDisks',
        );
      ids.add(diskId.toLowerCase());
      const disk = checkAttachable(world, diskId, vmId, location);
      attachments.push({ diskId: disk.id, lun });
      out.push({
        lun,
        name: disk.body.name,
        createOption: 'Attach',
        caching,
        managedDisk: { storageAccountType: disk.body.sku.name, id: disk.id },
        deleteOption,
        diskSizeGB: disk.body.properties.diskSizeGB,
        toBeDetached: false,
      });
    } else if (opt === 'empty' || opt === 'fromimage') {
      let size: number | undefined = d.diskSizeGB;
      let source: DiskSource = { kind: 'empty' };
      let cd: Json = { createOption: 'Empty' };
      if (opt === 'fromimage') {
        const img = image?.dataDiskImages.find((x) => x.lun === lun);
        if (!img || !image?.version)
          throw badRequest(
            'InvalidParameter',
            `The image has no data disk image at LUN ${lun}.`,
            'dataDisks.createOption',
          );
        size = size ?? img.sizeInGB;
        source = { kind: 'imageVersion', id: image.version.id, lun };
        cd = { createOption: 'FromImage', galleryImageReference: { id: image.version.id, lun } };
      }
      if (!size)
        throw badRequest(
          'InvalidParameter',
          "Required parameter 'dataDisks.diskSizeGB' is missing (null).",
          'dataDisks.diskSizeGB',
        );
      const name: string = d.name ?? `${vmName}_disk${idx + 2}_${hex32()}`;
      const id = `${ctx.rgId}/providers/Microsoft.Compute/disks/${name}`;
      if (world.get(id))
        throw new ArmError(
          409,
          'ConflictingUserInput',
          `Disk ${name} already exists in resource group ${ctx.rg.toUpperCase()}. Only CreateOption.Attach is supported.`,
          'dataDisks',
        );
      const sku = skuOf(d.managedDisk?.storageAccountType);
      created.push({ disk: { id, name, location, sku, sizeGB: size, creationData: cd, source } });
      attachments.push({ diskId: id, lun });
      out.push({
        lun,
        name,
        createOption: opt === 'empty' ? 'Empty' : 'FromImage',
        caching,
        managedDisk: { storageAccountType: sku.name, id },
        deleteOption,
        diskSizeGB: size,
        toBeDetached: false,
      });
    } else {
      throw badRequest(
        'InvalidParameter',
        `The value '${d.createOption}' of parameter 'dataDisks.createOption' is invalid (Attach, Empty, FromImage).`,
        'dataDisks.createOption',
      );
    }
  });
  return { disks: out, created, attachments };
}

function prepareCreateStorage(
  world: World,
  ctx: Ctx,
  vmId: string,
  vmName: string,
  location: string,
  sp: Json,
  osProfile: Json,
  securityProfile: Json,
): PreparedStorage {
  const osDisk = sp.osDisk ?? {};
  const osOpt = String(osDisk.createOption ?? 'FromImage').toLowerCase();
  const created: { disk: NewDisk }[] = [];
  const attachments: Attachment[] = [];
  let osType: string;
  let image: ResolvedImage | undefined;
  let osDiskOut: Json;
  const deleteOption = osDisk.deleteOption ?? 'Detach';
  if (!['delete', 'detach'].includes(String(deleteOption).toLowerCase()))
    throw badRequest(
      'InvalidParameter',
      `The value '${deleteOption}' of parameter 'osDisk.deleteOption' is invalid (Delete or Detach).`,
      'osDisk.deleteOption',
    );
  const sec = securityProfile?.securityType;
  if (osOpt === 'attach') {
    if (sp.imageReference)
      throw badRequest(
        'InvalidParameter',
        'Cannot attach an existing OS disk if the VM is created from a platform or user image.',
        'osDisk',
      );
    if (osProfile) throw badRequest('InvalidParameter', "Parameter 'osProfile' is not allowed.", 'osProfile');
    const diskId: string | undefined = osDisk.managedDisk?.id;
    if (!diskId)
      throw badRequest(
        'InvalidParameter',
        "Required parameter 'osDisk.managedDisk.id' is missing (null).",
        'osDisk.managedDisk.id',
      );
    const disk = checkAttachable(world, diskId, vmId, location);
    osType = osDisk.osType ?? disk.body.properties.osType;
    if (!osType)
      throw badRequest(
        'InvalidParameter',
        "Required parameter 'osDisk.osType' is missing (null).",
        'osDisk.osType',
      );
    if (sec === 'TrustedLaunch' && disk.body.properties.hyperVGeneration === 'V1') {
      throw badRequest(
        'BadRequest',
        `Security type 'TrustedLaunch' requires a Hyper-V generation 2 OS disk; disk '${disk.id}' is generation 1.`,
      );
    }
    attachments.push({ diskId: disk.id, lun: 'os' });
    osDiskOut = {
      osType,
      name: disk.body.name,
      createOption: 'Attach',
      caching: osDisk.caching ?? 'ReadWrite',
      managedDisk: { storageAccountType: disk.body.sku.name, id: disk.id },
      deleteOption,
      diskSizeGB: disk.body.properties.diskSizeGB,
    };
  } else if (osOpt === 'fromimage') {
    image = resolveImage(world, sp.imageReference, location);
    osType = image.osType;
    if (image.osState === 'Specialized' && osProfile)
      throw badRequest('InvalidParameter', "Parameter 'osProfile' is not allowed.", 'osProfile');
    if (image.osState === 'Generalized' && !osProfile)
      throw badRequest('InvalidParameter', "Required parameter 'osProfile' is missing (null).", 'osProfile');
    if (image.securityType === 'TrustedLaunch' && sec !== 'TrustedLaunch') {
      throw badRequest(
        'BadRequest',
        `The provided gallery image only supports creation of VMs and VM scale sets with 'TrustedLaunch' security type.`,
      );
    }
    if (sec === 'TrustedLaunch' && image.hyperVGeneration === 'V1') {
      throw badRequest(
        'BadRequest',
        `Security type 'TrustedLaunch' is not supported for the Hyper-V generation 1 image '${image.urn ?? image.version?.id}'. Use a generation 2 image.`,
      );
    }
    const name: string = osDisk.name ?? `${vmName}_OsDisk_1_${hex32()}`;
    const id = `${ctx.rgId}/providers/Microsoft.Compute/disks/${name}`;
    if (world.get(id))
      throw new ArmError(
        409,
        'ConflictingUserInput',
        `Disk ${name} already exists in resource group ${ctx.rg.toUpperCase()}. Only CreateOption.Attach is supported.`,
        'osDisk.name',
      );
    const size: number = osDisk.diskSizeGB ?? image.osDiskSizeGB;
    if (size < image.osDiskSizeGB)
      throw badRequest(
        'ResizeDiskError',
        `Disk size ${size} GB is smaller than the image's OS disk size ${image.osDiskSizeGB} GB.`,
        'osDisk.diskSizeGB',
      );
    const sku = skuOf(osDisk.managedDisk?.storageAccountType);
    const cd =
      image.kind === 'gallery'
        ? { createOption: 'FromImage', galleryImageReference: { id: image.version!.id } }
        : {
            createOption: 'FromImage',
            imageReference: {
              id: `/Subscriptions/${world.subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${sp.imageReference.publisher}/ArtifactTypes/VMImage/Offers/${sp.imageReference.offer}/Skus/${sp.imageReference.sku}/Versions/${image.exactVersion}`,
            },
          };
    created.push({
      disk: {
        id,
        name,
        location,
        sku,
        sizeGB: size,
        creationData: cd,
        osType,
        hyperVGeneration: image.hyperVGeneration,
        securityProfile: sec ? { securityType: sec } : undefined,
        source:
          image.kind === 'gallery'
            ? { kind: 'imageVersion', id: image.version!.id, lun: 'os' }
            : { kind: 'marketplace', urn: image.urn },
      },
    });
    attachments.push({ diskId: id, lun: 'os' });
    osDiskOut = {
      osType,
      name,
      createOption: 'FromImage',
      caching: osDisk.caching ?? 'ReadWrite',
      managedDisk: { storageAccountType: sku.name, id },
      deleteOption,
      diskSizeGB: size,
    };
  } else {
    throw badRequest(
      'InvalidParameter',
      `The value '${osDisk.createOption}' of parameter 'osDisk.createOption' is invalid (FromImage or Attach).`,
      'osDisk.createOption',
    );
  }
  // data disks the image brings along, unless the request places its own disk at that LUN
  const requested: Json[] = clone(sp.dataDisks ?? []);
  for (const ddi of image?.dataDiskImages ?? []) {
    if (!requested.some((d) => d.lun === ddi.lun))
      requested.push({ lun: ddi.lun, createOption: 'FromImage' });
  }
  const dd = prepareDataDisks(world, ctx, vmId, vmName, location, requested, [], image);
  checkDataDiskCount(ctx.body.properties?.hardwareProfile?.vmSize ?? '', dd.disks);
  const imageReference = sp.imageReference
    ? sp.imageReference.id
      ? { id: sp.imageReference.id, ...(image?.exactVersion ? { exactVersion: image.exactVersion } : {}) }
      : {
          publisher: sp.imageReference.publisher,
          offer: sp.imageReference.offer,
          sku: sp.imageReference.sku,
          version: sp.imageReference.version ?? 'latest',
          exactVersion: image?.exactVersion,
        }
    : undefined;
  return {
    storageProfile: {
      ...(imageReference ? { imageReference } : {}),
      osDisk: osDiskOut,
      dataDisks: dd.disks,
      ...(sp.diskControllerType ? { diskControllerType: sp.diskControllerType } : {}),
    },
    created: [...created, ...dd.created],
    attachments: [...attachments, ...dd.attachments],
    image,
    osType,
  };
}

/** Max data disks of a size: 2 per vCPU (the vCPU count is the number in the size name), at least 2, at most 64. */
export function maxDataDisks(vmSize: string): number {
  const m = /^(?:Standard|Basic)_[A-Za-z]+?(\d+)/i.exec(vmSize);
  const vcpu = m ? Number(m[1]) : 2;
  return Math.max(2, Math.min(64, vcpu * 2));
}

function checkDataDiskCount(vmSize: string, disks: Json[]) {
  const n = disks.filter((d) => !d.toBeDetached).length;
  const max = maxDataDisks(vmSize);
  if (n > max) {
    throw conflict(
      'OperationNotAllowed',
      `The maximum number of data disks allowed to be attached to a VM of this size is ${max}.`,
      'dataDisks',
    );
  }
}

function prepareNics(world: World, vmId: string, location: string, np: Json): Json {
  const nics: Json[] = np?.networkInterfaces ?? [];
  if (nics.length === 0)
    throw badRequest(
      'InvalidParameter',
      'At least one network interface is required to create a virtual machine (networkProfile.networkInterfaces).',
      'networkProfile',
    );
  if (nics.length > 1 && nics.filter((n) => n.properties?.primary).length !== 1) {
    throw badRequest(
      'InvalidParameter',
      'Virtual machine has multiple network interfaces; exactly one must be marked primary.',
      'networkProfile.networkInterfaces',
    );
  }
  return {
    networkInterfaces: nics.map((n: Json) => {
      const nic = n.id ? world.get(n.id) : undefined;
      if (!nic || nic.meta.deleting) {
        throw badRequest(
          'InvalidResourceReference',
          `Resource ${n.id} referenced by resource ${vmId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
          'networkProfile.networkInterfaces',
        );
      }
      if (normLocation(nic.body.location) !== location) {
        throw badRequest(
          'InvalidResourceReference',
          `Resource ${nic.id} referenced by resource ${vmId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
          'networkProfile.networkInterfaces',
        );
      }
      const owner = vmUsingNic(world, nic.id);
      if (owner && !sameId(owner.id, vmId)) {
        throw badRequest(
          'NicInUse',
          `Network interface ${nic.id} is used by existing VM ${owner.id}.`,
          'networkProfile.networkInterfaces',
        );
      }
      const deleteOption = n.properties?.deleteOption ?? 'Detach';
      if (!['delete', 'detach'].includes(String(deleteOption).toLowerCase()))
        throw badRequest(
          'InvalidParameter',
          `The value '${deleteOption}' of parameter 'deleteOption' is invalid (Delete or Detach).`,
          'networkInterfaces.deleteOption',
        );
      return {
        id: nic.id,
        properties: {
          ...(n.properties?.primary !== undefined || nics.length === 1
            ? { primary: n.properties?.primary ?? true }
            : {}),
          deleteOption,
        },
      };
    }),
  };
}

function renderOsProfile(os: Json, osType: string, vmName: string): Json {
  const out: Json = { computerName: os.computerName ?? vmName, adminUsername: os.adminUsername };
  if (osType === 'Linux') {
    const lc = os.linuxConfiguration ?? {};
    out.linuxConfiguration = {
      disablePasswordAuthentication: lc.disablePasswordAuthentication ?? !os.adminPassword,
      ...(lc.ssh
        ? {
            ssh: {
              publicKeys: (lc.ssh.publicKeys ?? []).map((k: Json) => ({
                path: k.path ?? `/home/${os.adminUsername}/.ssh/authorized_keys`,
                keyData: k.keyData,
              })),
            },
          }
        : {}),
      provisionVMAgent: lc.provisionVMAgent ?? true,
      patchSettings: lc.patchSettings ?? { patchMode: 'ImageDefault', assessmentMode: 'ImageDefault' },
      enableVMAgentPlatformUpdates: false,
    };
  } else {
    const wc = os.windowsConfiguration ?? {};
    out.windowsConfiguration = {
      provisionVMAgent: wc.provisionVMAgent ?? true,
      enableAutomaticUpdates: wc.enableAutomaticUpdates ?? true,
      patchSettings: wc.patchSettings ?? { patchMode: 'AutomaticByOS', assessmentMode: 'ImageDefault' },
      enableVMAgentPlatformUpdates: false,
    };
  }
  out.secrets = os.secrets ?? [];
  out.allowExtensionOperations = os.allowExtensionOperations ?? true;
  out.requireGuestProvisionSignal = true;
  return out;
}

function powerStatus(p: Power): Json {
  const display: Record<Power, string> = {
    starting: 'VM starting',
    running: 'VM running',
    stopping: 'VM stopping',
    stopped: 'VM stopped',
    deallocating: 'VM deallocating',
    deallocated: 'VM deallocated',
  };
  return { code: `PowerState/${p}`, level: 'Info', displayStatus: display[p] };
}

export function instanceView(world: World, vm: Resource): Json {
  const ps: string = vm.body.properties.provisioningState;
  const statuses: Json[] = [];
  const time = vm.meta.lastChange ?? vm.body.properties.timeCreated;
  const pending = world.pendingOps(vm.id)[0];
  if (ps === 'Failed') {
    const code = vm.meta.failCode ?? 'InternalOperationError';
    statuses.push({
      code: `ProvisioningState/failed/${code}`,
      level: 'Error',
      displayStatus: 'Provisioning failed',
      message: vm.meta.failMessage ?? '',
      time,
    });
  } else if (pending || ps !== 'Succeeded') {
    statuses.push({ code: `ProvisioningState/${ps.toLowerCase()}`, level: 'Info', displayStatus: ps });
  } else {
    statuses.push({
      code: 'ProvisioningState/succeeded',
      level: 'Info',
      displayStatus: 'Provisioning succeeded',
      time,
    });
  }
  if (vm.meta.generalized)
    statuses.push({ code: 'OSState/generalized', level: 'Info', displayStatus: 'VM generalized' });
  statuses.push(powerStatus(vm.meta.power as Power));
  const sp = vm.body.properties.storageProfile ?? {};
  const disks = [sp.osDisk, ...(sp.dataDisks ?? [])].filter(Boolean).map((d: Json) => ({
    name: d.name,
    statuses: [
      { code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time },
    ],
  }));
  const running = vm.meta.power === 'running';
  const iv: Json = {
    ...(vm.body.properties.osProfile?.computerName && running
      ? { computerName: vm.body.properties.osProfile.computerName }
      : {}),
    ...(running && sp.osDisk?.osType === 'Linux' ? { osName: 'ubuntu', osVersion: '24.04' } : {}),
    ...(running
      ? {
          vmAgent: {
            vmAgentVersion: '2.13.1.1',
            statuses: [
              {
                code: 'ProvisioningState/succeeded',
                level: 'Info',
                displayStatus: 'Ready',
                message: 'Guest Agent is running',
                time: nowIso(),
              },
            ],
            extensionHandlers: [],
          },
        }
      : {}),
    disks,
    hyperVGeneration: vm.meta.hyperVGeneration ?? 'V2',
    statuses,
  };
  return iv;
}

registerRenderer(VM, (world, res, query) => {
  const b = clone(res.body);
  const expand = (query?.get('$expand') ?? query?.get('$Expand') ?? '').toLowerCase();
  const statusOnly = (query?.get('statusOnly') ?? '').toLowerCase() === 'true';
  if (expand.includes('instanceview') || statusOnly) b.properties.instanceView = instanceView(world, res);
  if (expand.includes('userdata') && res.meta.userData !== undefined)
    b.properties.userData = res.meta.userData;
  return b;
});

function vmEtag(res: Resource): string {
  res.meta.etagN = (res.meta.etagN ?? 0) + 1;
  return `"${res.meta.etagN}"`;
}

function vmCompute(
  ctx: Ctx,
  location: string,
  kind: Parameters<typeof latencyMs>[0],
  completion: string,
  args: Json,
  result: 'resource' | 'empty' | 'noContent',
  retryAfter = 10,
): Reply['op'] {
  return {
    style: 'compute',
    location,
    durationMs: latencyMs(kind, scale(ctx.world)),
    completion,
    args,
    result,
    retryAfter,
  };
}

function createVm(ctx: Ctx): Reply {
  const world = ctx.world;
  const name = ctx.names[0];
  checkVmName(name);
  const location = requireLocation(ctx);
  const tags = validateTags(ctx.body.tags);
  const p = ctx.body.properties ?? {};
  if (!p.hardwareProfile?.vmSize)
    throw badRequest(
      'InvalidParameter',
      "Required parameter 'hardwareProfile.vmSize' is missing (null).",
      'hardwareProfile.vmSize',
    );
  const storage = prepareCreateStorage(
    world,
    ctx,
    ctx.id,
    name,
    location,
    p.storageProfile ?? {},
    p.osProfile,
    p.securityProfile,
  );
  if (p.osProfile) validateOsProfile(p.osProfile, storage.osType, name);
  const networkProfile = prepareNics(world, ctx.id, location, p.networkProfile);
  if (p.userData !== undefined && (!b64(p.userData) || p.userData.length > 87380)) {
    throw badRequest(
      'InvalidParameter',
      'UserData must be base64 encoded and no more than 64 KB in size.',
      'userData',
    );
  }
  const sec = p.securityProfile;
  if (sec?.securityType && !['TrustedLaunch', 'ConfidentialVM', 'Standard'].includes(sec.securityType)) {
    throw badRequest(
      'InvalidParameter',
      `The value '${sec.securityType}' of parameter 'securityProfile.securityType' is invalid.`,
      'securityProfile.securityType',
    );
  }
  // all checks passed: create implicit disks and the VM
  for (const c of storage.created) makeDisk(world, c.disk, 'Succeeded');
  const vmId = guid();
  const body: Json = {
    name,
    id: ctx.id,
    type: VM,
    location,
    ...(tags ? { tags } : {}),
    ...(ctx.body.zones ? { zones: ctx.body.zones } : {}),
    ...(ctx.body.identity
      ? {
          identity: {
            ...ctx.body.identity,
            principalId: guid(),
            tenantId: '00000000-0000-0000-0000-000000000000',
          },
        }
      : {}),
    ...(ctx.body.plan ? { plan: ctx.body.plan } : {}),
    properties: {
      hardwareProfile: { vmSize: p.hardwareProfile.vmSize },
      provisioningState: 'Creating',
      vmId,
      storageProfile: storage.storageProfile,
      ...(p.osProfile ? { osProfile: renderOsProfile(p.osProfile, storage.osType, name) } : {}),
      networkProfile,
      ...(sec ? { securityProfile: clone(sec) } : {}),
      ...(p.diagnosticsProfile ? { diagnosticsProfile: p.diagnosticsProfile } : {}),
      ...(p.priority ? { priority: p.priority } : {}),
      ...(p.licenseType ? { licenseType: p.licenseType } : {}),
      timeCreated: nowIso(),
    },
  };
  const hyperV =
    storage.image?.hyperVGeneration ??
    world.get(storage.storageProfile.osDisk.managedDisk.id)?.body.properties.hyperVGeneration ??
    'V2';
  const res = world.set({
    id: ctx.id,
    type: VM,
    body,
    meta: {
      power: 'starting',
      generalized: false,
      userData: p.userData,
      hyperVGeneration: hyperV,
      hasCustomData: p.osProfile?.customData !== undefined,
      customData: p.osProfile?.customData,
      // kept for guest backends (sandbox password hash); never rendered, never written to the state file
      adminPassword: p.osProfile?.adminPassword,
      specialized: !p.osProfile,
    },
  });
  body.etag = vmEtag(res);
  return {
    status: 201,
    body: world.render(res),
    op: vmCompute(
      ctx,
      location,
      'vmCreate',
      'vm.create',
      { created: storage.created.map((c) => c.disk.id), attachments: storage.attachments },
      'resource',
    ),
  };
}

/** Shared by PUT-on-existing and PATCH: `next` is the merged desired state (wire shape). */
function updateVm(ctx: Ctx, vm: Resource, next: Json, isPatch: boolean): Reply {
  const world = ctx.world;
  const cur = vm.body.properties;
  const p = next.properties ?? {};
  const tags = validateTags(next.tags);
  if (p.osProfile && !cur.osProfile)
    throw conflict('PropertyChangeNotAllowed', "Changing property 'osProfile' is not allowed.", 'osProfile');
  if (cur.osProfile && p.osProfile) {
    if ((p.osProfile.computerName ?? cur.osProfile.computerName) !== cur.osProfile.computerName) {
      throw conflict(
        'PropertyChangeNotAllowed',
        "Changing property 'osProfile.computerName' is not allowed.",
        'osProfile.computerName',
      );
    }
    if ((p.osProfile.adminUsername ?? cur.osProfile.adminUsername) !== cur.osProfile.adminUsername) {
      throw conflict(
        'PropertyChangeNotAllowed',
        "Changing property 'osProfile.adminUsername' is not allowed.",
        'osProfile.adminUsername',
      );
    }
    if (p.osProfile.customData !== undefined && p.osProfile.customData !== vm.meta.customData) {
      throw conflict(
        'PropertyChangeNotAllowed',
        "Changing property 'osProfile.customData' is not allowed.",
        'osProfile.customData',
      );
    }
  }
  const sp = p.storageProfile ?? {};
  if (
    sp.imageReference &&
    cur.storageProfile.imageReference &&
    !sameImage(sp.imageReference, cur.storageProfile.imageReference)
  ) {
    throw conflict(
      'PropertyChangeNotAllowed',
      "Changing property 'imageReference' is not allowed.",
      'imageReference',
    );
  }
  if (
    p.securityProfile?.securityType &&
    p.securityProfile.securityType !== cur.securityProfile?.securityType
  ) {
    throw conflict(
      'PropertyChangeNotAllowed',
      "Changing property 'securityProfile.securityType' is not allowed.",
      'securityProfile.securityType',
    );
  }
  const attachments: Attachment[] = [];
  const detached: string[] = [];
  // OS disk swap
  const newOs = sp.osDisk ?? {};
  const curOs = cur.storageProfile.osDisk;
  const osOut = { ...clone(curOs) };
  if (newOs.deleteOption) osOut.deleteOption = newOs.deleteOption;
  if (newOs.caching) osOut.caching = newOs.caching;
  if (newOs.managedDisk?.id && !sameId(newOs.managedDisk.id, curOs.managedDisk.id)) {
    const disk = checkAttachable(world, newOs.managedDisk.id, vm.id, normLocation(vm.body.location));
    if (disk.body.properties.osType && disk.body.properties.osType !== curOs.osType) {
      throw badRequest(
        'InvalidParameter',
        `The OS disk '${disk.id}' has OS type '${disk.body.properties.osType}', the VM's OS disk is '${curOs.osType}'.`,
        'osDisk.managedDisk.id',
      );
    }
    osOut.name = disk.body.name;
    osOut.managedDisk = { storageAccountType: disk.body.sku.name, id: disk.id };
    osOut.diskSizeGB = disk.body.properties.diskSizeGB;
    detached.push(curOs.managedDisk.id);
    attachments.push({ diskId: disk.id, lun: 'os' });
  }
  const prevData: Json[] = cur.storageProfile.dataDisks ?? [];
  const dd = prepareDataDisks(
    world,
    ctx,
    vm.id,
    vm.body.name,
    normLocation(vm.body.location),
    sp.dataDisks ?? prevData,
    prevData,
  );
  checkDataDiskCount(p.hardwareProfile?.vmSize ?? cur.hardwareProfile?.vmSize ?? '', dd.disks);
  const keptIds = new Set(
    dd.disks.filter((d) => !d.toBeDetached).map((d) => String(d.managedDisk?.id).toLowerCase()),
  );
  for (const d of prevData)
    if (d.managedDisk?.id && !keptIds.has(d.managedDisk.id.toLowerCase())) detached.push(d.managedDisk.id);
  const networkProfile = p.networkProfile
    ? prepareNics(world, vm.id, normLocation(vm.body.location), p.networkProfile)
    : cur.networkProfile;
  if (p.userData !== undefined && p.userData !== null && !b64(p.userData))
    throw badRequest(
      'InvalidParameter',
      'UserData must be base64 encoded and no more than 64 KB in size.',
      'userData',
    );
  // what would change (a no-op update answers 200 at once, like Azure)
  const after = {
    ...clone(cur),
    storageProfile: {
      ...clone(cur.storageProfile),
      osDisk: osOut,
      dataDisks: dd.disks.filter((d) => !d.toBeDetached),
    },
    networkProfile,
    hardwareProfile: p.hardwareProfile?.vmSize
      ? { ...cur.hardwareProfile, vmSize: p.hardwareProfile.vmSize }
      : cur.hardwareProfile,
    ...(p.diagnosticsProfile ? { diagnosticsProfile: p.diagnosticsProfile } : {}),
  };
  const keysChanged =
    !!p.osProfile?.linuxConfiguration?.ssh?.publicKeys &&
    JSON.stringify(p.osProfile.linuxConfiguration.ssh.publicKeys.map((k: Json) => k.keyData)) !==
      JSON.stringify((cur.osProfile?.linuxConfiguration?.ssh?.publicKeys ?? []).map((k: Json) => k.keyData));
  const onlyTags =
    JSON.stringify(stripVolatile(after)) === JSON.stringify(stripVolatile(cur)) &&
    (p.userData === undefined || p.userData === vm.meta.userData) &&
    !keysChanged;
  if (!onlyTags) {
    busy(world, vm, 'Update VM');
    if (vm.meta.generalized) throw vmOpNotAllowed('Update VM', vm.body.name, 'the VM is generalized');
  }
  // commit
  for (const c of dd.created) makeDisk(world, c.disk, 'Succeeded');
  if (tags) vm.body.tags = tags;
  else if (!isPatch || next.tags === null) delete vm.body.tags;
  cur.storageProfile.osDisk = osOut;
  cur.storageProfile.dataDisks = dd.disks.filter((d) => !d.toBeDetached);
  cur.networkProfile = networkProfile;
  if (p.hardwareProfile?.vmSize)
    cur.hardwareProfile = { ...cur.hardwareProfile, vmSize: p.hardwareProfile.vmSize };
  if (p.diagnosticsProfile) cur.diagnosticsProfile = p.diagnosticsProfile;
  if (p.userData !== undefined) vm.meta.userData = p.userData ?? undefined;
  if (p.osProfile && cur.osProfile) {
    const lc = p.osProfile.linuxConfiguration?.ssh?.publicKeys;
    if (lc)
      cur.osProfile.linuxConfiguration = { ...cur.osProfile.linuxConfiguration, ssh: { publicKeys: lc } };
  }
  vm.body.etag = vmEtag(vm);
  if (onlyTags && attachments.length === 0 && detached.length === 0 && dd.created.length === 0) {
    // as recorded: a no-op PATCH answers 200 at once, no async header, the body saying Updating
    const body = world.render(vm);
    body.properties.provisioningState = 'Updating';
    return { status: 200, body };
  }
  cur.provisioningState = 'Updating';
  return {
    status: 200,
    body: world.render(vm),
    op: vmCompute(
      ctx,
      vm.body.location,
      'vmUpdate',
      'vm.update',
      {
        created: dd.created.map((c) => c.disk.id),
        attachments: [...attachments, ...dd.attachments],
        detached,
      },
      'resource',
    ),
  };
}

function stripVolatile(p: Json): Json {
  const c = clone(p ?? {});
  delete c.provisioningState;
  delete c.timeCreated;
  delete c.vmId;
  delete c.instanceView;
  if (c.osProfile) {
    delete c.osProfile.adminPassword;
    delete c.osProfile.customData;
  }
  return sortKeys(c);
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o: Json = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined && v[k] !== null) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

/** A power action's common tail: mark the transient state and queue the async power change. */
function powerChange(
  ctx: Ctx,
  vm: Resource,
  transient: string,
  kind: Parameters<typeof latencyMs>[0],
  to: string,
  hook: string,
): Reply {
  const from = vm.meta.power;
  vm.meta.power = transient;
  return {
    status: 202,
    op: vmCompute(ctx, vm.body.location, kind, 'vm.power', { to, from, hook }, 'empty'),
  };
}

registerType({
  type: VM,
  put(ctx, existing) {
    if (!existing) return createVm(ctx);
    requireLocation(ctx, existing);
    const next = clone(ctx.body);
    // a PUT carries the full model; keep read-only bits we own
    next.properties = next.properties ?? {};
    return updateVm(ctx, existing, next, false);
  },
  patch(ctx, existing) {
    const next = mergePatch({ tags: existing.body.tags, properties: existing.body.properties }, ctx.body);
    if (ctx.body.properties?.storageProfile?.dataDisks)
      next.properties.storageProfile.dataDisks = ctx.body.properties.storageProfile.dataDisks;
    // tags are one atomic value in an ARM PATCH (as the disk/gallery PATCH handlers here do): replaced, not merged
    if (ctx.body.tags !== undefined) next.tags = ctx.body.tags === null ? undefined : clone(ctx.body.tags);
    return updateVm(ctx, existing, next, true);
  },
  delete(ctx, existing) {
    // a delete preempts whatever the VM was doing (create, update, power change)
    for (const op of ctx.world.pendingOps(existing.id)) {
      op.fault = {
        kind: 'canceled',
        code: 'OperationPreempted',
        message: 'Operation execution has been preempted by a more recent operation.',
      };
    }
    markDeleting(ctx.world, existing.id);
    return {
      status: 202,
      op: vmCompute(
        ctx,
        existing.body.location,
        'vmDelete',
        'vm.delete',
        { force: (ctx.query.get('forceDeletion') ?? '').toLowerCase() === 'true' },
        'noContent',
      ),
    };
  },
  actions: {
    instanceview: { method: 'GET', run: (ctx, vm) => ({ status: 200, body: instanceView(ctx.world, vm) }) },
    deallocate: {
      method: 'POST',
      run(ctx, vm) {
        busy(ctx.world, vm, 'deallocate');
        return powerChange(ctx, vm, 'deallocating', 'vmDeallocate', 'deallocated', 'deallocate');
      },
    },
    poweroff: {
      method: 'POST',
      run(ctx, vm) {
        busy(ctx.world, vm, 'powerOff');
        if (vm.meta.power === 'deallocated' || vm.meta.power === 'deallocating')
          throw vmOpNotAllowed(
            'powerOff',
            vm.body.name,
            'the VM is either deallocated or marked to be deallocated',
          );
        return powerChange(ctx, vm, 'stopping', 'vmPowerOff', 'stopped', 'stop');
      },
    },
    start: {
      method: 'POST',
      run(ctx, vm) {
        busy(ctx.world, vm, 'Start VM');
        if (vm.meta.generalized) throw vmOpNotAllowed('Start VM', vm.body.name, 'the VM is generalized');
        return powerChange(ctx, vm, 'starting', 'vmStart', 'running', 'start');
      },
    },
    restart: {
      method: 'POST',
      run(ctx, vm) {
        busy(ctx.world, vm, 'restart');
        if (vm.meta.generalized) throw vmOpNotAllowed('Restart VM', vm.body.name, 'the VM is generalized');
        if (vm.meta.power === 'deallocated')
          throw vmOpNotAllowed(
            'restart',
            vm.body.name,
            'the VM is either deallocated or marked to be deallocated',
          );
        return powerChange(ctx, vm, 'starting', 'vmRestart', 'running', 'restart');
      },
    },
    generalize: {
      method: 'POST',
      async run(ctx, vm) {
        busy(ctx.world, vm, 'generalize');
        if (vm.meta.power === 'running' || vm.meta.power === 'starting') {
          throw vmOpNotAllowed(
            'generalize',
            vm.body.name,
            'the VM is running. Please power off explicitly in case you shut down the VM from inside the guest operating system',
          );
        }
        if (vm.meta.power === 'stopping' || vm.meta.power === 'deallocating')
          throw vmOpNotAllowed('generalize', vm.body.name, 'another operation is in progress');
        if (!vm.meta.generalized) {
          await ctx.world.guest.onVmGeneralized?.(ctx.world.render(vm));
          vm.meta.generalized = true;
          vm.meta.lastChange = nowIso();
        }
        return { status: 200, body: {}, delayMs: latencyMs('vmGeneralize', scale(ctx.world)) };
      },
    },
    capture: {
      method: 'POST',
      run() {
        throw conflict(
          'OperationNotAllowed',
          "The Capture action is only supported on a Virtual Machine with blob based disks. Please use the 'Image' resource APIs to create an Image from a managed Virtual Machine.",
        );
      },
    },
  },
});

async function attachHooks(world: World, vm: Resource, attachments: Attachment[], created: string[]) {
  const vmView = world.render(vm);
  for (const id of created) {
    const d = world.get(id);
    if (d) await world.guest.onDiskCreated?.(world.render(d), d.meta.source ?? { kind: 'empty' });
  }
  for (const a of attachments) {
    const d = world.get(a.diskId);
    if (d) await world.guest.onDiskAttached?.(world.render(d), vmView, a.lun);
  }
}

registerCompletion(
  'vm.create',
  async (world, op) => {
    const vm = world.get(op.resourceId);
    if (!vm) return;
    await attachHooks(world, vm, op.args.attachments ?? [], op.args.created ?? []);
    await world.guest.onVmCreated?.(world.render(vm));
    vm.meta.power = 'running';
    vm.meta.lastChange = nowIso();
    vm.body.properties.provisioningState = 'Succeeded';
  },
  (world, op) => {
    const vm = world.get(op.resourceId);
    if (!vm) return;
    vm.body.properties.provisioningState = 'Failed';
    vm.meta.power = 'running';
    vm.meta.failCode = op.error?.code ?? op.fault?.code;
    vm.meta.failMessage = op.error?.message ?? op.fault?.message;
  },
);

registerCompletion(
  'vm.update',
  async (world, op) => {
    const vm = world.get(op.resourceId);
    if (!vm) return;
    const vmView = world.render(vm);
    for (const id of op.args.detached ?? []) {
      const d = world.get(id);
      if (d) await world.guest.onDiskDetached?.(world.render(d), vmView);
    }
    await attachHooks(world, vm, op.args.attachments ?? [], op.args.created ?? []);
    vm.body.properties.provisioningState = 'Succeeded';
    vm.meta.lastChange = nowIso();
  },
  (world, op) => {
    const vm = world.get(op.resourceId);
    if (vm) vm.body.properties.provisioningState = 'Failed';
  },
);

registerCompletion(
  'vm.power',
  async (world, op) => {
    const vm = world.get(op.resourceId);
    if (!vm) return;
    const view = world.render(vm);
    const hook = op.args.hook as string;
    if (hook === 'deallocate') await world.guest.onVmDeallocated?.(view);
    else if (hook === 'stop') await world.guest.onVmStopped?.(view);
    else if (hook === 'start' && op.args.from !== 'running') await world.guest.onVmStarted?.(view, 'start');
    else if (hook === 'restart') await world.guest.onVmStarted?.(view, 'restart');
    vm.meta.power = op.args.to;
    vm.meta.lastChange = nowIso();
  },
  (world, op) => {
    const vm = world.get(op.resourceId);
    if (vm) vm.meta.power = op.args.from;
  },
);

registerCompletion(
  'vm.delete',
  async (world, op) => {
    const vm = world.get(op.resourceId);
    if (vm) await deleteVm(world, vm, false);
  },
  (world, op) => {
    const vm = world.get(op.resourceId);
    if (vm) {
      vm.meta.deleting = false;
      vm.body.properties.provisioningState = 'Failed';
    }
  },
);

/** Removes a VM, applying each disk's and NIC's deleteOption (everything goes in a group delete). */
async function deleteVm(world: World, vm: Resource, all: boolean): Promise<void> {
  const sp = vm.body.properties.storageProfile ?? {};
  const view = world.render(vm);
  await world.guest.onVmDeleted?.(view);
  world.remove(vm.id);
  const disks = [sp.osDisk, ...(sp.dataDisks ?? [])].filter((d: Json) => d?.managedDisk?.id);
  for (const d of disks) {
    const disk = world.get(d.managedDisk.id);
    if (!disk) continue;
    if (all || String(d.deleteOption).toLowerCase() === 'delete') {
      await world.guest.onDiskDeleted?.(world.render(disk));
      world.remove(disk.id);
    } else {
      await world.guest.onDiskDetached?.(world.render(disk), view);
    }
  }
  for (const n of vm.body.properties.networkProfile?.networkInterfaces ?? []) {
    if (!all && String(n.properties?.deleteOption).toLowerCase() === 'delete') {
      world.remove(n.id);
    }
  }
}

registerDeleter(VM, async (world, res) => {
  await deleteVm(world, res, false);
});
