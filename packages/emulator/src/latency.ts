/**
 * Realistic durations (milliseconds at latencyScale 1) of ARM operations, measured roughly from
 * real Azure (recordings: VM create ~67 s, VM delete ~30-60 s, disk delete ~20 s) and public
 * guidance. The emulator multiplies them by `latencyScale` (0 = instant). Benchmarks read this
 * table to compute critical-path bounds of a plan.
 *
 * Gallery image versions replicate region by region: the version is Succeeded after
 * `imageVersionPerRegion` × number of target regions (see `imageVersionDurationMs`).
 */
export const LATENCY_MS = {
  resourceGroupCreate: 500,
  resourceGroupDelete: 60_000,
  vnetCreate: 5_000,
  vnetDelete: 10_000,
  subnetCreate: 3_000,
  subnetDelete: 3_000,
  nsgCreate: 3_000,
  nsgDelete: 5_000,
  nsgRuleCreate: 2_000,
  nsgRuleDelete: 2_000,
  publicIpCreate: 5_000,
  publicIpDelete: 5_000,
  nicCreate: 5_000,
  nicDelete: 5_000,
  diskCreate: 10_000,
  diskUpdate: 5_000,
  diskDelete: 10_000,
  snapshotCreate: 15_000,
  snapshotDelete: 5_000,
  vmCreate: 90_000,
  vmUpdate: 20_000,
  vmDelete: 60_000,
  vmDeallocate: 45_000,
  vmPowerOff: 20_000,
  vmStart: 30_000,
  vmRestart: 30_000,
  vmGeneralize: 2_000,
  galleryCreate: 10_000,
  galleryDelete: 10_000,
  galleryImageCreate: 10_000,
  galleryImageDelete: 10_000,
  imageVersionPerRegion: 20 * 60_000,
  imageVersionUpdate: 60_000,
  imageVersionDelete: 60_000,
  /** After a VM holding a NIC is deleted, Azure reserves the NIC for 180 s (NicReservedForAnotherVm). */
  nicReservationAfterVmDelete: 180_000,
} as const;

export type LatencyKind = keyof typeof LATENCY_MS;

export function latencyMs(kind: LatencyKind, scale: number): number {
  return Math.round(LATENCY_MS[kind] * scale);
}

export function imageVersionDurationMs(regionCount: number, scale: number): number {
  return Math.round(LATENCY_MS.imageVersionPerRegion * Math.max(1, regionCount) * scale);
}

/**
 * Which latency applies to an ARM operation (the `operation` of a request record), for benchmarks
 * that turn a plan's operations into a critical-path bound. Image versions: see imageVersionDurationMs.
 */
export const LATENCY_BY_OPERATION: Record<string, LatencyKind> = {
  'Microsoft.Resources/subscriptions/resourceGroups/write': 'resourceGroupCreate',
  'Microsoft.Resources/subscriptions/resourceGroups/delete': 'resourceGroupDelete',
  'Microsoft.Network/virtualNetworks/write': 'vnetCreate',
  'Microsoft.Network/virtualNetworks/delete': 'vnetDelete',
  'Microsoft.Network/virtualNetworks/subnets/write': 'subnetCreate',
  'Microsoft.Network/virtualNetworks/subnets/delete': 'subnetDelete',
  'Microsoft.Network/networkSecurityGroups/write': 'nsgCreate',
  'Microsoft.Network/networkSecurityGroups/delete': 'nsgDelete',
  'Microsoft.Network/networkSecurityGroups/securityRules/write': 'nsgRuleCreate',
  'Microsoft.Network/networkSecurityGroups/securityRules/delete': 'nsgRuleDelete',
  'Microsoft.Network/publicIPAddresses/write': 'publicIpCreate',
  'Microsoft.Network/publicIPAddresses/delete': 'publicIpDelete',
  'Microsoft.Network/networkInterfaces/write': 'nicCreate',
  'Microsoft.Network/networkInterfaces/delete': 'nicDelete',
  'Microsoft.Compute/disks/write': 'diskCreate',
  'Microsoft.Compute/disks/delete': 'diskDelete',
  'Microsoft.Compute/snapshots/write': 'snapshotCreate',
  'Microsoft.Compute/snapshots/delete': 'snapshotDelete',
  'Microsoft.Compute/virtualMachines/write': 'vmCreate',
  'Microsoft.Compute/virtualMachines/delete': 'vmDelete',
  'Microsoft.Compute/virtualMachines/deallocate/action': 'vmDeallocate',
  'Microsoft.Compute/virtualMachines/powerOff/action': 'vmPowerOff',
  'Microsoft.Compute/virtualMachines/start/action': 'vmStart',
  'Microsoft.Compute/virtualMachines/restart/action': 'vmRestart',
  'Microsoft.Compute/virtualMachines/generalize/action': 'vmGeneralize',
  'Microsoft.Compute/galleries/write': 'galleryCreate',
  'Microsoft.Compute/galleries/delete': 'galleryDelete',
  'Microsoft.Compute/galleries/images/write': 'galleryImageCreate',
  'Microsoft.Compute/galleries/images/delete': 'galleryImageDelete',
  'Microsoft.Compute/galleries/images/versions/write': 'imageVersionPerRegion',
  'Microsoft.Compute/galleries/images/versions/delete': 'imageVersionDelete',
};
