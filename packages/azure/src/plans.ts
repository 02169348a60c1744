/**
 * Ready-made plans for the two shapes every action needs: stamping a claw's infrastructure and capturing a
 * VM into a gallery version. Lifecycle code can use them as they are or compose its own from the ops.
 */
import type { AzureContext } from './context';
import { ids, names } from './ids';
import { AzureOperationError } from './errors';
import {
  createSnapshot,
  deallocateVm,
  deleteVm,
  findOsDisk,
  getVm,
  ensureDataDisk,
  ensureVm,
  generalizeVm,
  type DeleteOption,
  type VmImage,
} from './ops/compute';
import {
  createImageVersion,
  ensureGallery,
  ensureImageDefinition,
  waitForReplication,
  type ReplicationProgress,
  type TargetRegionSpec,
} from './ops/gallery';
import {
  ensureNetwork,
  ensureNetworkInterface,
  ensurePublicIp,
  type NetworkResult,
  type VncExposure,
} from './ops/network';
import { ensureResourceGroup } from './ops/resourceGroup';
import type { EnsureResult } from './ops/common';
import type { Plan, PlanStep } from './plan';
import type { Tags } from './tags';

export interface StampPlanParams {
  resourceGroup: string;
  location: string;
  claw: string;
  image: VmImage;
  vmSize: string;
  dataDiskSizeGB: number;
  dataDiskSku?: string;
  adminUsername: string;
  sshPublicKeys: string[];
  adminPassword?: string;
  /** Slim (or full) cloud-init as plain text. Never printed: describePlan shows only its size. */
  customData?: string;
  sshSourceCidrs: string[];
  vncExposure?: VncExposure;
  vncSourceCidrs?: string[];
  imageVersion?: string;
  fleet?: string;
  tags?: Tags;
  osDiskDeleteOption?: DeleteOption;
  allowUnmanagedResourceGroup?: boolean;
}

/** RG → (network ‖ public IP ‖ data disk) → NIC → VM. */
export function stampInfrastructurePlan(p: StampPlanParams): Plan<AzureContext> {
  const rg = p.resourceGroup;
  const common = { resourceGroup: rg, location: p.location, fleet: p.fleet, tags: p.tags };
  const res = (type: string, name: string) => ({ type, name });
  const steps: PlanStep<AzureContext>[] = [
    {
      id: 'resource-group',
      title: `ensure resource group ${rg}`,
      kind: 'write',
      resource: res('Microsoft.Resources/resourceGroups', rg),
      details: { location: p.location },
      run: ({ context }, signal) =>
        ensureResourceGroup(
          context,
          {
            name: rg,
            location: p.location,
            fleet: p.fleet,
            tags: p.tags,
            allowUnmanaged: p.allowUnmanagedResourceGroup,
          },
          { signal },
        ),
    },
    {
      id: 'network',
      title: `ensure VNet ${names.vnet(rg)}, subnet and NSG ${names.nsg(rg)}`,
      kind: 'write',
      dependsOn: ['resource-group'],
      resource: res('Microsoft.Network/virtualNetworks', names.vnet(rg)),
      details: {
        sshSourceCidrs: p.sshSourceCidrs,
        vncExposure: p.vncExposure ?? 'localhost',
        ...(p.vncExposure === 'public' ? { vncSourceCidrs: p.vncSourceCidrs ?? p.sshSourceCidrs } : {}),
      },
      run: ({ context }, signal) =>
        ensureNetwork(
          context,
          {
            ...common,
            sshSourceCidrs: p.sshSourceCidrs,
            vncExposure: p.vncExposure,
            vncSourceCidrs: p.vncSourceCidrs,
          },
          { signal },
        ),
    },
    {
      id: 'public-ip',
      title: `ensure public IP ${names.publicIp(p.claw)} (Standard, Static)`,
      kind: 'write',
      dependsOn: ['resource-group'],
      resource: res('Microsoft.Network/publicIPAddresses', names.publicIp(p.claw)),
      run: ({ context }, signal) => ensurePublicIp(context, { ...common, claw: p.claw }, { signal }),
    },
    {
      id: 'data-disk',
      title: `ensure data disk ${names.dataDisk(p.claw)} (${p.dataDiskSizeGB} GB)`,
      kind: 'write',
      dependsOn: ['resource-group'],
      resource: res('Microsoft.Compute/disks', names.dataDisk(p.claw)),
      details: { sizeGB: p.dataDiskSizeGB, sku: p.dataDiskSku ?? 'StandardSSD_LRS' },
      run: ({ context }, signal) =>
        ensureDataDisk(
          context,
          { ...common, claw: p.claw, sizeGB: p.dataDiskSizeGB, sku: p.dataDiskSku },
          { signal },
        ),
    },
    {
      id: 'nic',
      title: `ensure NIC ${names.nic(p.claw)}`,
      kind: 'write',
      dependsOn: ['network', 'public-ip'],
      resource: res('Microsoft.Network/networkInterfaces', names.nic(p.claw)),
      run: (ctx, signal) => {
        const net = ctx.result<EnsureResult<NetworkResult>>('network').resource;
        const pip = ctx.result<EnsureResult<{ id?: string }>>('public-ip').resource;
        return ensureNetworkInterface(
          ctx.context,
          {
            ...common,
            claw: p.claw,
            subnetId: net.subnetId,
            publicIpId: pip.id ?? ids.publicIp(ctx.context.subscriptionId, rg, names.publicIp(p.claw)),
          },
          { signal },
        );
      },
    },
    {
      id: 'vm',
      title: `ensure VM ${names.vm(p.claw)} (${p.vmSize})`,
      kind: 'write',
      dependsOn: ['nic', 'data-disk'],
      resource: res('Microsoft.Compute/virtualMachines', names.vm(p.claw)),
      details: {
        image:
          p.image.type === 'gallery'
            ? p.image.id
            : `${p.image.publisher}:${p.image.offer}:${p.image.sku}:${p.image.version ?? 'latest'}`,
        adminUsername: p.adminUsername,
        sshKeys: p.sshPublicKeys.length,
        passwordAuth: !!p.adminPassword,
        customDataBytes: p.customData !== undefined ? Buffer.byteLength(p.customData) : 0,
        securityType: 'TrustedLaunch',
        deleteOptions: { osDisk: p.osDiskDeleteOption ?? 'Delete', dataDisk: 'Detach', nic: 'Detach' },
      },
      run: (ctx, signal) => {
        const nic = ctx.result<EnsureResult<{ id?: string }>>('nic').resource;
        const disk = ctx.result<EnsureResult<{ id?: string }>>('data-disk').resource;
        return ensureVm(
          ctx.context,
          {
            ...common,
            claw: p.claw,
            vmSize: p.vmSize,
            image: p.image,
            nicId: nic.id ?? ids.nic(ctx.context.subscriptionId, rg, names.nic(p.claw)),
            dataDiskId: disk.id ?? ids.disk(ctx.context.subscriptionId, rg, names.dataDisk(p.claw)),
            adminUsername: p.adminUsername,
            sshPublicKeys: p.sshPublicKeys,
            adminPassword: p.adminPassword,
            customData: p.customData,
            imageVersion: p.imageVersion,
            osDiskDeleteOption: p.osDiskDeleteOption,
          },
          { signal },
        );
      },
    },
  ];
  return { name: `stamp ${p.claw}`, steps };
}

export interface CapturePlanParams {
  /** Resource group of the source VM. */
  resourceGroup: string;
  vmName: string;
  /** The source VM's claw tag (ownership check). */
  claw?: string;
  location: string;
  galleryResourceGroup?: string;
  gallery?: string;
  definition?: string;
  version: string;
  targetRegions?: TargetRegionSpec[];
  replicaCount?: number;
  excludeFromLatest?: boolean;
  /**
   * `vm` (default) captures the VM itself (OS disk and every data disk: right for a builder without one);
   * `os-disk` snapshots the OS disk after generalize and captures that, so a claw's data disk never ends up
   * in the image.
   */
  captureFrom?: 'vm' | 'os-disk';
  /** Delete the source VM after the version is replicated (a bake's builder). */
  deleteSourceVm?: boolean;
  fleet?: string;
  onProgress?: (p: ReplicationProgress) => void;
}

/** (deallocate → generalize) ‖ (gallery → definition) → image version → wait for replication [→ delete VM]. */
export function capturePlan(p: CapturePlanParams): Plan<AzureContext> {
  const grg = p.galleryResourceGroup ?? p.resourceGroup;
  const gallery = p.gallery ?? names.gallery();
  const definition = p.definition ?? names.imageDefinition();
  const vm = { resourceGroup: p.resourceGroup, name: p.vmName, claw: p.claw };
  const ref = { resourceGroup: grg, gallery, definition, version: p.version };
  const fromDisk = p.captureFrom === 'os-disk';
  const snapshotName = `${p.vmName}-os-capture-${p.version.replace(/\./g, '-')}`;
  const steps: PlanStep<AzureContext>[] = [
    {
      id: 'deallocate',
      title: `deallocate VM ${p.vmName}`,
      kind: 'action',
      resource: { type: 'Microsoft.Compute/virtualMachines', name: p.vmName },
      run: ({ context }, signal) => deallocateVm(context, vm, { signal }),
    },
    {
      id: 'generalize',
      title: `generalize VM ${p.vmName}`,
      kind: 'action',
      dependsOn: ['deallocate'],
      resource: { type: 'Microsoft.Compute/virtualMachines', name: p.vmName },
      run: ({ context }, signal) => generalizeVm(context, vm, { signal }),
    },
    {
      id: 'gallery',
      title: `ensure gallery ${gallery}`,
      kind: 'write',
      resource: { type: 'Microsoft.Compute/galleries', name: gallery },
      run: ({ context }, signal) =>
        ensureGallery(
          context,
          { resourceGroup: grg, name: gallery, location: p.location, fleet: p.fleet },
          { signal },
        ),
    },
    {
      id: 'image-definition',
      title: `ensure image definition ${gallery}/${definition} (Linux, Generalized, V2, TrustedLaunch)`,
      kind: 'write',
      dependsOn: ['gallery'],
      resource: { type: 'Microsoft.Compute/galleries/images', name: definition },
      run: ({ context }, signal) =>
        ensureImageDefinition(
          context,
          { resourceGroup: grg, gallery, name: definition, location: p.location, fleet: p.fleet },
          { signal },
        ),
    },
    ...(fromDisk
      ? [
          {
            id: 'snapshot-os',
            title: `snapshot the OS disk of ${p.vmName} (${snapshotName})`,
            kind: 'write' as const,
            dependsOn: ['generalize'],
            resource: { type: 'Microsoft.Compute/snapshots', name: snapshotName },
            run: async ({ context }: { context: AzureContext }, signal: AbortSignal) => {
              const vmRes = await getVm(context, p.resourceGroup, p.vmName, { signal });
              const osId = vmRes ? findOsDisk(vmRes)?.id : undefined;
              if (!osId) {
                throw new AzureOperationError({
                  code: 'ResourceNotFound',
                  message: `VM '${p.vmName}' has no managed OS disk to capture.`,
                });
              }
              return createSnapshot(
                context,
                {
                  resourceGroup: p.resourceGroup,
                  claw: p.claw ?? p.vmName,
                  sourceDiskId: osId,
                  name: snapshotName,
                  location: p.location,
                  incremental: false,
                  fleet: p.fleet,
                },
                { signal },
              );
            },
          } satisfies PlanStep<AzureContext>,
        ]
      : []),
    {
      id: 'image-version',
      title: `create image version ${gallery}/${definition}/${p.version} from ${fromDisk ? `the OS disk of ${p.vmName}` : `VM ${p.vmName}`}`,
      kind: 'write',
      dependsOn: [fromDisk ? 'snapshot-os' : 'generalize', 'image-definition'],
      resource: { type: 'Microsoft.Compute/galleries/images/versions', name: p.version },
      details: {
        source: fromDisk ? 'os-disk snapshot' : 'vm',
        targetRegions: (p.targetRegions ?? [{ name: p.location }]).map((r) => r.name),
        replicaCount: p.replicaCount ?? 1,
        excludeFromLatest: p.excludeFromLatest ?? false,
      },
      run: (c, signal) =>
        createImageVersion(
          c.context,
          {
            ...ref,
            location: p.location,
            source: fromDisk
              ? { snapshotId: c.result<EnsureResult<{ id?: string }>>('snapshot-os').resource.id! }
              : { virtualMachineId: ids.vm(c.context.subscriptionId, p.resourceGroup, p.vmName) },
            targetRegions: p.targetRegions,
            replicaCount: p.replicaCount,
            excludeFromLatest: p.excludeFromLatest,
            fleet: p.fleet,
          },
          { signal },
        ),
    },
    {
      id: 'replication',
      title: `wait for replication of ${p.version}`,
      kind: 'wait',
      dependsOn: ['image-version'],
      resource: { type: 'Microsoft.Compute/galleries/images/versions', name: p.version },
      run: ({ context }, signal) => waitForReplication(context, ref, { onProgress: p.onProgress, signal }),
    },
  ];
  if (p.deleteSourceVm) {
    steps.push({
      id: 'delete-source',
      title: `delete source VM ${p.vmName}`,
      kind: 'delete',
      dependsOn: ['replication'],
      resource: { type: 'Microsoft.Compute/virtualMachines', name: p.vmName },
      run: ({ context }, signal) => deleteVm(context, vm, { signal }),
    });
  }
  return { name: `capture ${p.vmName} -> ${p.version}`, steps };
}
