/** ARM resource IDs and the OpenClawps naming scheme (DESIGN.md, resource model). */

export function resourceGroupId(subscriptionId: string, rg: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${rg}`;
}

export function providerId(subscriptionId: string, rg: string, provider: string, ...path: string[]): string {
  return `${resourceGroupId(subscriptionId, rg)}/providers/${provider}/${path.join('/')}`;
}

export const ids = {
  vnet: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Network', 'virtualNetworks', name),
  subnet: (sub: string, rg: string, vnet: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Network', 'virtualNetworks', vnet, 'subnets', name),
  nsg: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Network', 'networkSecurityGroups', name),
  publicIp: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Network', 'publicIPAddresses', name),
  nic: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Network', 'networkInterfaces', name),
  vm: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Compute', 'virtualMachines', name),
  disk: (sub: string, rg: string, name: string) => providerId(sub, rg, 'Microsoft.Compute', 'disks', name),
  snapshot: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Compute', 'snapshots', name),
  gallery: (sub: string, rg: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Compute', 'galleries', name),
  imageDefinition: (sub: string, rg: string, gallery: string, name: string) =>
    providerId(sub, rg, 'Microsoft.Compute', 'galleries', gallery, 'images', name),
  imageVersion: (sub: string, rg: string, gallery: string, def: string, version: string) =>
    providerId(sub, rg, 'Microsoft.Compute', 'galleries', gallery, 'images', def, 'versions', version),
};

export interface ParsedResourceId {
  subscriptionId: string;
  resourceGroup: string;
  provider: string;
  /** e.g. ['virtualMachines', 'alice'] or ['galleries','g','images','d','versions','1.0.0'] */
  path: string[];
  /** Last name segment. */
  name: string;
  /** Provider-qualified type, e.g. Microsoft.Compute/galleries/images. */
  type: string;
}

/** Parse an ARM ID (case-insensitive keywords). */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/([^/]+\.[^/]+)\/(.+)$/i.exec(id);
  if (!m) return undefined;
  const path = m[4].split('/').filter(Boolean);
  const typeParts = path.filter((_, i) => i % 2 === 0);
  return {
    subscriptionId: m[1],
    resourceGroup: m[2],
    provider: m[3],
    path,
    name: path[path.length - 1],
    type: `${m[3]}/${typeParts.join('/')}`,
  };
}

/** ARM IDs compare case-insensitively. */
export function sameId(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

/** Per-RG and per-claw resource names. */
export const names = {
  vnet: (rg: string) => `${rg}-vnet`,
  subnet: () => 'default',
  nsg: (rg: string) => `${rg}-nsg`,
  vm: (claw: string) => claw,
  nic: (claw: string) => `${claw}-nic`,
  publicIp: (claw: string) => `${claw}-pip`,
  dataDisk: (claw: string) => `${claw}-data`,
  /** OS disk name carries the image version with dashes: `<claw>-os-1-2-3`. */
  osDisk: (claw: string, version: string) => `${claw}-os-${version.replace(/\./g, '-')}`,
  /** Snapshot name `<claw>-data-<yyyymmddhhmmss>` (UTC). */
  snapshot: (claw: string, at: Date = new Date()) => `${claw}-data-${timestamp(at)}`,
  gallery: () => 'clawGallery',
  imageDefinition: () => 'claw-base',
};

export function timestamp(at: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}` +
    `${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`
  );
}
