import type {
  DataDisk,
  Disk,
  ImageReference,
  OSProfile,
  Snapshot,
  VirtualMachine,
  VirtualMachineInstanceView,
  VirtualMachineUpdate,
} from '@azure/arm-compute';
import type { NetworkInterface, PublicIPAddress } from '@azure/arm-network';
import type { AzureContext } from '../context';
import { AzureOperationError } from '../errors';
import { names, parseResourceId, sameId } from '../ids';
import { assertOwned, managedTags, mergeTags, TAGS, type Tags } from '../tags';
import { armCall, conflict, requireLocation, tryGet, type EnsureResult, type OpOptions } from './common';

export type DeleteOption = 'Delete' | 'Detach';

// ---------------------------------------------------------------------------------------------- images

export interface MarketplaceImage {
  type: 'marketplace';
  publisher: string;
  offer: string;
  sku: string;
  version?: string;
}

export interface GalleryImage {
  type: 'gallery';
  /** An image version ID (…/versions/1.2.3) or a definition ID (= its latest version). */
  id: string;
  /** The definition's OS state: Generalized (default) needs osProfile, Specialized forbids it. */
  osState?: 'Generalized' | 'Specialized';
}

export type VmImage = MarketplaceImage | GalleryImage;

export const UBUNTU_2404: MarketplaceImage = {
  type: 'marketplace',
  publisher: 'Canonical',
  offer: 'ubuntu-24_04-lts',
  sku: 'server',
  version: 'latest',
};

/** `Publisher:Offer:Sku:Version` (the az CLI URN form). */
export function parseImageUrn(urn: string): MarketplaceImage {
  const parts = urn.split(':');
  if (parts.length !== 4 || parts.some((p) => !p)) {
    throw new AzureOperationError({
      code: 'InvalidInput',
      message: `Image URN '${urn}' is not Publisher:Offer:Sku:Version (e.g. Canonical:ubuntu-24_04-lts:server:latest).`,
    });
  }
  const [publisher, offer, sku, version] = parts;
  return { type: 'marketplace', publisher, offer, sku, version };
}

function imageReferenceOf(image: VmImage): ImageReference {
  return image.type === 'gallery'
    ? { id: image.id }
    : { publisher: image.publisher, offer: image.offer, sku: image.sku, version: image.version ?? 'latest' };
}

function sameImage(have: ImageReference | undefined, want: ImageReference): boolean {
  if (!have) return false;
  if (want.id) return sameId(have.id, want.id);
  const n = (s: string | undefined) => (s ?? '').toLowerCase();
  return (
    n(have.publisher) === n(want.publisher) &&
    n(have.offer) === n(want.offer) &&
    n(have.sku) === n(want.sku) &&
    (n(want.version) === 'latest' || n(have.version) === n(want.version))
  );
}

function describeImage(ref: ImageReference | undefined): string {
  if (!ref) return '(none)';
  return ref.id ?? `${ref.publisher}:${ref.offer}:${ref.sku}:${ref.version}`;
}

// ---------------------------------------------------------------------------------------------- disks

export interface EnsureDataDiskParams {
  resourceGroup: string;
  claw: string;
  sizeGB: number;
  location?: string;
  name?: string;
  /** Default StandardSSD_LRS. */
  sku?: string;
  /** Create from a snapshot (restore) instead of empty. */
  sourceSnapshotId?: string;
  fleet?: string;
  tags?: Tags;
}

export async function getDisk(ctx: AzureContext, rg: string, name: string, opts: OpOptions = {}) {
  return tryGet(`disks.get ${name}`, () => ctx.compute.disks.get(rg, name, ctx.op(opts.signal)));
}

/** The claw's persistent data disk `<claw>-data`. Grows it when asked for more; never shrinks. */
export async function ensureDataDisk(
  ctx: AzureContext,
  params: EnsureDataDiskParams,
  opts: OpOptions = {},
): Promise<EnsureResult<Disk>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.dataDisk(params.claw);
  if (!Number.isInteger(params.sizeGB) || params.sizeGB < 1 || params.sizeGB > 32767) {
    throw new AzureOperationError({
      code: 'InvalidInput',
      message: `data disk size ${params.sizeGB} GB is not an integer between 1 and 32767.`,
    });
  }
  const want = managedTags({ claw: params.claw, fleet: params.fleet, extra: params.tags });
  const existing = await getDisk(ctx, rg, name, opts);
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `disk '${name}'`);
    const resource = await armCall(`disks.createOrUpdate ${name}`, () =>
      ctx.compute.disks.createOrUpdate(
        rg,
        name,
        {
          location,
          tags: want,
          sku: { name: params.sku ?? 'StandardSSD_LRS' },
          diskSizeGB: params.sizeGB,
          creationData: params.sourceSnapshotId
            ? { createOption: 'Copy', sourceResourceId: params.sourceSnapshotId }
            : { createOption: 'Empty' },
        },
        ctx.lro(opts.signal),
      ),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'disk', name, claw: params.claw, id: existing.id });
  const changes: string[] = [];
  const { tags, changed } = mergeTags(existing.tags, want);
  if (changed) changes.push('tags');
  const grow = (existing.diskSizeGB ?? 0) < params.sizeGB;
  if (grow) changes.push(`grow ${existing.diskSizeGB} -> ${params.sizeGB} GB`);
  if (!changes.length) return { resource: existing, action: 'unchanged', changes };
  const resource = await armCall(`disks.update ${name}`, () =>
    ctx.compute.disks.update(
      rg,
      name,
      { ...(changed ? { tags } : {}), ...(grow ? { diskSizeGB: params.sizeGB } : {}) },
      ctx.lro(opts.signal),
    ),
  );
  return { resource, action: 'updated', changes };
}

/** Delete a disk we own; missing = no-op. Azure refuses an attached disk (OperationNotAllowed). */
export async function deleteDisk(
  ctx: AzureContext,
  params: { resourceGroup: string; name: string; claw?: string },
  opts: OpOptions = {},
): Promise<{ deleted: boolean }> {
  const existing = await getDisk(ctx, params.resourceGroup, params.name, opts);
  if (!existing) return { deleted: false };
  assertOwned(existing.tags, { kind: 'disk', name: params.name, claw: params.claw, id: existing.id });
  await armCall(`disks.delete ${params.name}`, () =>
    ctx.compute.disks.delete(params.resourceGroup, params.name, ctx.lro(opts.signal)),
  );
  return { deleted: true };
}

export interface CreateSnapshotParams {
  resourceGroup: string;
  claw: string;
  /** Source disk ID (usually the data disk). */
  sourceDiskId: string;
  /** Default `<claw>-data-<yyyymmddhhmmss>`. */
  name?: string;
  location?: string;
  /** Default true (incremental snapshots are cheap and fast). */
  incremental?: boolean;
  fleet?: string;
  tags?: Tags;
}

/** Incremental snapshot of a disk. Re-running with the same name and source is a no-op. */
export async function createSnapshot(
  ctx: AzureContext,
  params: CreateSnapshotParams,
  opts: OpOptions = {},
): Promise<EnsureResult<Snapshot>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.snapshot(params.claw);
  const existing = await tryGet(`snapshots.get ${name}`, () =>
    ctx.compute.snapshots.get(rg, name, ctx.op(opts.signal)),
  );
  if (existing) {
    assertOwned(existing.tags, { kind: 'snapshot', name, claw: params.claw, id: existing.id });
    if (!sameId(existing.creationData?.sourceResourceId, params.sourceDiskId)) {
      throw conflict(
        'snapshot',
        name,
        `it was taken from ${existing.creationData?.sourceResourceId ?? '(unknown)'}`,
      );
    }
    return { resource: existing, action: 'unchanged', changes: [] };
  }
  const location = requireLocation(params.location ?? ctx.location, `snapshot '${name}'`);
  const resource = await armCall(`snapshots.createOrUpdate ${name}`, () =>
    ctx.compute.snapshots.createOrUpdate(
      rg,
      name,
      {
        location,
        tags: managedTags({ claw: params.claw, fleet: params.fleet, extra: params.tags }),
        incremental: params.incremental ?? true,
        creationData: { createOption: 'Copy', sourceResourceId: params.sourceDiskId },
      },
      ctx.lro(opts.signal),
    ),
  );
  return { resource, action: 'created', changes: ['created'] };
}

export async function deleteSnapshot(
  ctx: AzureContext,
  params: { resourceGroup: string; name: string; claw?: string },
  opts: OpOptions = {},
): Promise<{ deleted: boolean }> {
  const existing = await tryGet(`snapshots.get ${params.name}`, () =>
    ctx.compute.snapshots.get(params.resourceGroup, params.name, ctx.op(opts.signal)),
  );
  if (!existing) return { deleted: false };
  assertOwned(existing.tags, { kind: 'snapshot', name: params.name, claw: params.claw, id: existing.id });
  await armCall(`snapshots.delete ${params.name}`, () =>
    ctx.compute.snapshots.delete(params.resourceGroup, params.name, ctx.lro(opts.signal)),
  );
  return { deleted: true };
}

// ---------------------------------------------------------------------------------------------- VMs

export interface EnsureVmParams {
  resourceGroup: string;
  claw: string;
  vmSize: string;
  image: VmImage;
  nicId: string;
  /** The claw's data disk, attached at LUN 0. Absent for a bake's builder, which has none. */
  dataDiskId?: string;
  adminUsername: string;
  /** OpenSSH public keys (`ssh-ed25519 AAAA…`); at least one unless a password is given. */
  sshPublicKeys: string[];
  /** Optional; SSH keys are the default. Never logged or described. */
  adminPassword?: string;
  /** cloud-init user data as plain text; base64-encoded here. Max 64 KiB after decoding. */
  customData?: string;
  location?: string;
  name?: string;
  computerName?: string;
  /** Default `<claw>-os-<imageVersion>` or `<claw>-os`. */
  osDiskName?: string;
  osDiskSizeGB?: number;
  /** Default StandardSSD_LRS. */
  osDiskStorageType?: string;
  /** Default Delete; an upgrade keeps the old OS disk with Detach. */
  osDiskDeleteOption?: DeleteOption;
  /** Default Detach: the data disk survives the VM. */
  dataDiskDeleteOption?: DeleteOption;
  /** Default Detach: NIC (and its public IP) survive the VM. */
  nicDeleteOption?: DeleteOption;
  /** Default TrustedLaunch with secure boot and vTPM. */
  securityType?: 'TrustedLaunch' | 'Standard';
  imageVersion?: string;
  fleet?: string;
  tags?: Tags;
}

export function encodeCustomData(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 65535) {
    throw new AzureOperationError({
      code: 'InvalidInput',
      message: `custom data is ${bytes.length} bytes; Azure accepts at most 65535 (before base64).`,
    });
  }
  return bytes.toString('base64');
}

/** The VM body we PUT. Exported for dry-run descriptions (callers must not print osProfile). */
export function buildVmBody(params: EnsureVmParams, location: string): VirtualMachine {
  const name = params.name ?? names.vm(params.claw);
  const problems: string[] = [];
  const specialized = params.image.type === 'gallery' && params.image.osState === 'Specialized';
  if (!specialized && !params.sshPublicKeys?.length && !params.adminPassword)
    problems.push('sshPublicKeys (or adminPassword) is required for a generalized or marketplace image');
  if (!specialized && !params.adminUsername) problems.push('adminUsername is required');
  if (specialized && params.customData)
    problems.push('customData cannot be delivered to a VM from a Specialized image (no osProfile)');
  if (problems.length)
    throw new AzureOperationError({ code: 'InvalidInput', message: `VM '${name}': ${problems.join('; ')}.` });
  const tl = (params.securityType ?? 'TrustedLaunch') === 'TrustedLaunch';
  const osProfile: OSProfile | undefined = specialized
    ? undefined
    : {
        computerName: params.computerName ?? name.slice(0, 64),
        adminUsername: params.adminUsername,
        ...(params.adminPassword ? { adminPassword: params.adminPassword } : {}),
        ...(params.customData !== undefined ? { customData: encodeCustomData(params.customData) } : {}),
        linuxConfiguration: {
          disablePasswordAuthentication: !params.adminPassword,
          provisionVMAgent: true,
          ...(params.sshPublicKeys?.length
            ? {
                ssh: {
                  publicKeys: params.sshPublicKeys.map((keyData) => ({
                    path: `/home/${params.adminUsername}/.ssh/authorized_keys`,
                    keyData: keyData.trim(),
                  })),
                },
              }
            : {}),
        },
      };
  return {
    location,
    tags: managedTags({
      claw: params.claw,
      imageVersion: params.imageVersion,
      fleet: params.fleet,
      extra: params.tags,
    }),
    hardwareProfile: { vmSize: params.vmSize },
    storageProfile: {
      imageReference: imageReferenceOf(params.image),
      osDisk: {
        name:
          params.osDiskName ??
          (params.imageVersion ? names.osDisk(params.claw, params.imageVersion) : `${params.claw}-os`),
        createOption: 'FromImage',
        caching: 'ReadWrite',
        ...(params.osDiskSizeGB ? { diskSizeGB: params.osDiskSizeGB } : {}),
        managedDisk: { storageAccountType: params.osDiskStorageType ?? 'StandardSSD_LRS' },
        deleteOption: params.osDiskDeleteOption ?? 'Delete',
      },
      dataDisks: params.dataDiskId
        ? [
            {
              lun: 0,
              createOption: 'Attach',
              caching: 'ReadWrite',
              managedDisk: { id: params.dataDiskId },
              deleteOption: params.dataDiskDeleteOption ?? 'Detach',
            },
          ]
        : [],
    },
    ...(osProfile ? { osProfile } : {}),
    networkProfile: {
      networkInterfaces: [
        { id: params.nicId, primary: true, deleteOption: params.nicDeleteOption ?? 'Detach' },
      ],
    },
    securityProfile: tl
      ? { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } }
      : { securityType: 'Standard' },
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
  };
}

export async function getVm(
  ctx: AzureContext,
  rg: string,
  name: string,
  opts: OpOptions & { instanceView?: boolean } = {},
): Promise<VirtualMachine | undefined> {
  return tryGet(`virtualMachines.get ${name}`, () =>
    ctx.compute.virtualMachines.get(rg, name, {
      ...ctx.op(opts.signal),
      ...(opts.instanceView ? { expand: 'instanceView' } : {}),
    }),
  );
}

/**
 * Create the claw VM, or converge an existing one: tags and delete options are reconciled; a different
 * image, NIC or data disk is refused (that is an upgrade, not a stamp).
 */
export async function ensureVm(
  ctx: AzureContext,
  params: EnsureVmParams,
  opts: OpOptions = {},
): Promise<EnsureResult<VirtualMachine>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.vm(params.claw);
  const existing = await getVm(ctx, rg, name, opts);
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `VM '${name}'`);
    const body = buildVmBody(params, location);
    const resource = await armCall(`virtualMachines.createOrUpdate ${name}`, () =>
      ctx.compute.virtualMachines.createOrUpdate(rg, name, body, ctx.lro(opts.signal)),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'virtual machine', name, claw: params.claw, id: existing.id });
  const wantImage = imageReferenceOf(params.image);
  if (!sameImage(existing.storageProfile?.imageReference, wantImage)) {
    throw new AzureOperationError({
      code: 'VmImageMismatch',
      message: `VM '${name}' exists from image ${describeImage(existing.storageProfile?.imageReference)}, not ${describeImage(wantImage)}.`,
      target: existing.id,
    });
  }
  const nic =
    existing.networkProfile?.networkInterfaces?.find((n) => n.primary) ??
    existing.networkProfile?.networkInterfaces?.[0];
  if (!sameId(nic?.id, params.nicId))
    throw conflict('virtual machine', name, `it uses NIC ${nic?.id ?? '(none)'}`);
  const lun0 = findDataDiskAtLun0(existing);
  if (params.dataDiskId && !sameId(lun0?.managedDisk?.id, params.dataDiskId)) {
    throw conflict(
      'virtual machine',
      name,
      `its LUN 0 is ${lun0?.managedDisk?.id ?? '(empty)'}, not ${params.dataDiskId}`,
    );
  }
  if (existing.provisioningState === 'Failed') {
    throw conflict(
      'virtual machine',
      name,
      'is in provisioning state Failed',
      'Delete the VM (data disk and NIC are kept) and re-run.',
    );
  }
  const wantTags = managedTags({
    claw: params.claw,
    imageVersion: params.imageVersion,
    fleet: params.fleet,
    extra: params.tags,
  });
  return updateVm(
    ctx,
    {
      resourceGroup: rg,
      name,
      claw: params.claw,
      tags: wantTags,
      osDiskDeleteOption: params.osDiskDeleteOption ?? 'Delete',
      dataDiskDeleteOption: params.dataDiskDeleteOption ?? 'Detach',
      nicDeleteOption: params.nicDeleteOption ?? 'Detach',
    },
    opts,
    existing,
  );
}

export interface UpdateVmParams {
  resourceGroup: string;
  name: string;
  /** When given, the VM must belong to this claw. */
  claw?: string;
  /** Tags to set (merged); `null` removes a tag. */
  tags?: Record<string, string | null | undefined>;
  osDiskDeleteOption?: DeleteOption;
  /** Applied to every data disk (LUN 0 in practice). */
  dataDiskDeleteOption?: DeleteOption;
  nicDeleteOption?: DeleteOption;
}

/** PATCH only what differs (tags, delete options). No difference = no request. */
export async function updateVm(
  ctx: AzureContext,
  params: UpdateVmParams,
  opts: OpOptions = {},
  current?: VirtualMachine,
): Promise<EnsureResult<VirtualMachine>> {
  const rg = params.resourceGroup;
  const vm = current ?? (await getVm(ctx, rg, params.name, opts));
  if (!vm) {
    throw new AzureOperationError({
      code: 'ResourceNotFound',
      message: `VM '${params.name}' was not found in resource group '${rg}'.`,
      operation: `virtualMachines.update ${params.name}`,
    });
  }
  assertOwned(vm.tags, { kind: 'virtual machine', name: params.name, claw: params.claw, id: vm.id });
  const changes: string[] = [];
  const patch: VirtualMachineUpdate = {};
  if (params.tags) {
    const { tags, changed } = mergeTags(vm.tags, params.tags);
    if (changed) {
      patch.tags = tags;
      changes.push('tags');
    }
  }
  const sp = vm.storageProfile;
  const osDisk = sp?.osDisk;
  const osChange =
    params.osDiskDeleteOption && osDisk && (osDisk.deleteOption ?? 'Detach') !== params.osDiskDeleteOption;
  const dataDisks = sp?.dataDisks ?? [];
  const dataChange =
    params.dataDiskDeleteOption &&
    dataDisks.some((d) => (d.deleteOption ?? 'Detach') !== params.dataDiskDeleteOption);
  if (osChange || dataChange) {
    patch.storageProfile = {
      ...(osChange && osDisk
        ? {
            osDisk: {
              createOption: osDisk.createOption,
              ...(osDisk.name ? { name: osDisk.name } : {}),
              ...(osDisk.managedDisk?.id ? { managedDisk: { id: osDisk.managedDisk.id } } : {}),
              deleteOption: params.osDiskDeleteOption,
            },
          }
        : {}),
      ...(dataChange
        ? {
            dataDisks: dataDisks.map((d): DataDisk => ({
              lun: d.lun,
              createOption: 'Attach',
              ...(d.name ? { name: d.name } : {}),
              ...(d.caching ? { caching: d.caching } : {}),
              managedDisk: { id: d.managedDisk?.id },
              deleteOption: params.dataDiskDeleteOption,
            })),
          }
        : {}),
    };
    if (osChange) changes.push(`osDisk.deleteOption -> ${params.osDiskDeleteOption}`);
    if (dataChange) changes.push(`dataDisks.deleteOption -> ${params.dataDiskDeleteOption}`);
  }
  const nics = vm.networkProfile?.networkInterfaces ?? [];
  if (params.nicDeleteOption && nics.some((n) => (n.deleteOption ?? 'Detach') !== params.nicDeleteOption)) {
    patch.networkProfile = {
      networkInterfaces: nics.map((n) => ({
        id: n.id,
        primary: n.primary,
        deleteOption: params.nicDeleteOption,
      })),
    };
    changes.push(`nic.deleteOption -> ${params.nicDeleteOption}`);
  }
  if (!changes.length) return { resource: vm, action: 'unchanged', changes };
  const resource = await armCall(`virtualMachines.update ${params.name}`, () =>
    ctx.compute.virtualMachines.update(rg, params.name, patch, ctx.lro(opts.signal)),
  );
  return { resource, action: 'updated', changes };
}

export type PowerState =
  'running' | 'starting' | 'stopped' | 'stopping' | 'deallocated' | 'deallocating' | 'unknown';

export interface VmState {
  power: PowerState;
  generalized: boolean;
  provisioningState?: string;
}

export function vmStateFromInstanceView(
  view: VirtualMachineInstanceView | undefined,
  provisioningState?: string,
): VmState {
  const codes = (view?.statuses ?? []).map((s) => (s.code ?? '').toLowerCase());
  const power = codes.find((c) => c.startsWith('powerstate/'))?.slice('powerstate/'.length) as
    PowerState | undefined;
  return {
    power: power ?? 'unknown',
    generalized: codes.includes('osstate/generalized'),
    provisioningState,
  };
}

export async function getVmState(
  ctx: AzureContext,
  rg: string,
  name: string,
  opts: OpOptions = {},
): Promise<VmState> {
  const view = await armCall(`virtualMachines.instanceView ${name}`, () =>
    ctx.compute.virtualMachines.instanceView(rg, name, ctx.op(opts.signal)),
  );
  return vmStateFromInstanceView(view);
}

async function ownedVm(
  ctx: AzureContext,
  rg: string,
  name: string,
  claw: string | undefined,
  op: string,
  opts: OpOptions,
) {
  const vm = await getVm(ctx, rg, name, opts);
  if (!vm) {
    throw new AzureOperationError({
      code: 'ResourceNotFound',
      message: `VM '${name}' was not found in resource group '${rg}'.`,
      operation: `virtualMachines.${op} ${name}`,
    });
  }
  assertOwned(vm.tags, { kind: 'virtual machine', name, claw, id: vm.id });
  return vm;
}

export interface VmActionParams {
  resourceGroup: string;
  name: string;
  claw?: string;
}

export type ActionResult = { action: 'done' | 'unchanged'; state: VmState };

/** Deallocate (stops billing for compute). Already deallocated = no request. */
export async function deallocateVm(
  ctx: AzureContext,
  p: VmActionParams,
  opts: OpOptions = {},
): Promise<ActionResult> {
  await ownedVm(ctx, p.resourceGroup, p.name, p.claw, 'deallocate', opts);
  const state = await getVmState(ctx, p.resourceGroup, p.name, opts);
  if (state.power === 'deallocated') return { action: 'unchanged', state };
  await armCall(`virtualMachines.deallocate ${p.name}`, () =>
    ctx.compute.virtualMachines.deallocate(p.resourceGroup, p.name, ctx.lro(opts.signal)),
  );
  return { action: 'done', state: { ...state, power: 'deallocated' } };
}

export async function startVm(
  ctx: AzureContext,
  p: VmActionParams,
  opts: OpOptions = {},
): Promise<ActionResult> {
  await ownedVm(ctx, p.resourceGroup, p.name, p.claw, 'start', opts);
  const state = await getVmState(ctx, p.resourceGroup, p.name, opts);
  if (state.power === 'running') return { action: 'unchanged', state };
  await armCall(`virtualMachines.start ${p.name}`, () =>
    ctx.compute.virtualMachines.start(p.resourceGroup, p.name, ctx.lro(opts.signal)),
  );
  return { action: 'done', state: { ...state, power: 'running' } };
}

export async function powerOffVm(
  ctx: AzureContext,
  p: VmActionParams,
  opts: OpOptions = {},
): Promise<ActionResult> {
  await ownedVm(ctx, p.resourceGroup, p.name, p.claw, 'powerOff', opts);
  const state = await getVmState(ctx, p.resourceGroup, p.name, opts);
  if (state.power === 'stopped' || state.power === 'deallocated') return { action: 'unchanged', state };
  await armCall(`virtualMachines.powerOff ${p.name}`, () =>
    ctx.compute.virtualMachines.powerOff(p.resourceGroup, p.name, ctx.lro(opts.signal)),
  );
  return { action: 'done', state: { ...state, power: 'stopped' } };
}

/** Mark the VM generalized (irreversible; Azure requires it stopped). Already generalized = no request. */
export async function generalizeVm(
  ctx: AzureContext,
  p: VmActionParams,
  opts: OpOptions = {},
): Promise<ActionResult> {
  await ownedVm(ctx, p.resourceGroup, p.name, p.claw, 'generalize', opts);
  const state = await getVmState(ctx, p.resourceGroup, p.name, opts);
  if (state.generalized) return { action: 'unchanged', state };
  await armCall(`virtualMachines.generalize ${p.name}`, () =>
    ctx.compute.virtualMachines.generalize(p.resourceGroup, p.name, ctx.op(opts.signal)),
  );
  return { action: 'done', state: { ...state, generalized: true } };
}

/** Delete the VM; each disk and the NIC follow their deleteOption. Missing = no-op. */
export async function deleteVm(
  ctx: AzureContext,
  p: VmActionParams & { forceDeletion?: boolean },
  opts: OpOptions = {},
): Promise<{ deleted: boolean }> {
  const vm = await getVm(ctx, p.resourceGroup, p.name, opts);
  if (!vm) return { deleted: false };
  assertOwned(vm.tags, { kind: 'virtual machine', name: p.name, claw: p.claw, id: vm.id });
  await armCall(`virtualMachines.delete ${p.name}`, () =>
    ctx.compute.virtualMachines.delete(p.resourceGroup, p.name, {
      ...ctx.lro(opts.signal),
      ...(p.forceDeletion ? { forceDeletion: true } : {}),
    }),
  );
  return { deleted: true };
}

// ---------------------------------------------------------------------------------------------- finders

export function findDataDiskAtLun0(vm: VirtualMachine): DataDisk | undefined {
  return vm.storageProfile?.dataDisks?.find((d) => d.lun === 0);
}

export interface OsDiskInfo {
  name?: string;
  id?: string;
  deleteOption?: string;
}

export function findOsDisk(vm: VirtualMachine): OsDiskInfo | undefined {
  const os = vm.storageProfile?.osDisk;
  if (!os) return undefined;
  return { name: os.name, id: os.managedDisk?.id, deleteOption: os.deleteOption };
}

function rgOf(id: string | undefined, fallback: string): string {
  return (id && parseResourceId(id)?.resourceGroup) || fallback;
}

/** The VM's primary NIC resource. */
export async function findVmNic(
  ctx: AzureContext,
  vm: VirtualMachine,
  rg: string,
  opts: OpOptions = {},
): Promise<NetworkInterface | undefined> {
  const ref =
    vm.networkProfile?.networkInterfaces?.find((n) => n.primary) ?? vm.networkProfile?.networkInterfaces?.[0];
  const parsed = ref?.id ? parseResourceId(ref.id) : undefined;
  if (!parsed) return undefined;
  return tryGet(`networkInterfaces.get ${parsed.name}`, () =>
    ctx.network.networkInterfaces.get(rgOf(ref!.id, rg), parsed.name, ctx.op(opts.signal)),
  );
}

/** The public IP (resource and address) on the VM's primary NIC. */
export async function findVmPublicIp(
  ctx: AzureContext,
  vm: VirtualMachine,
  rg: string,
  opts: OpOptions = {},
): Promise<{ publicIp: PublicIPAddress; address?: string } | undefined> {
  const nic = await findVmNic(ctx, vm, rg, opts);
  const cfg = nic?.ipConfigurations?.find((c) => c.primary) ?? nic?.ipConfigurations?.[0];
  const pipId = cfg?.publicIPAddress?.id;
  const parsed = pipId ? parseResourceId(pipId) : undefined;
  if (!parsed) return undefined;
  const publicIp = await tryGet(`publicIPAddresses.get ${parsed.name}`, () =>
    ctx.network.publicIPAddresses.get(rgOf(pipId, rg), parsed.name, ctx.op(opts.signal)),
  );
  return publicIp ? { publicIp, address: publicIp.ipAddress } : undefined;
}

/** The managed disk resource at LUN 0. */
export async function findVmDataDisk(
  ctx: AzureContext,
  vm: VirtualMachine,
  rg: string,
  opts: OpOptions = {},
): Promise<Disk | undefined> {
  const id = findDataDiskAtLun0(vm)?.managedDisk?.id;
  const parsed = id ? parseResourceId(id) : undefined;
  if (!parsed) return undefined;
  return getDisk(ctx, rgOf(id, rg), parsed.name, opts);
}

/** Image version a VM was stamped from: its tag, else the version segment of its image reference. */
export function vmImageVersion(vm: VirtualMachine): string | undefined {
  const tag = vm.tags?.[TAGS.imageVersion];
  if (tag) return tag;
  const id = vm.storageProfile?.imageReference?.id;
  const m = id ? /\/versions\/([^/]+)$/i.exec(id) : null;
  return m?.[1];
}
