/* eslint-disable @typescript-eslint/no-explicit-any */
/** Real SDK clients pointed at the emulator (https with its CA, static token). */
import { ComputeManagementClient, type Disk, type GalleryImage } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';
import type { Emulator } from '@openclawps/emulator';

export const credential: TokenCredential = {
  getToken: async () => ({ token: 'emulator-test-token', expiresOnTimestamp: Date.now() + 3600_000 }),
};

export interface Clients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
}

export function clients(emu: Emulator, retryOptions?: { maxRetries?: number }): Clients {
  const opts = {
    endpoint: emu.url,
    tlsOptions: { ca: emu.ca },
    ...(retryOptions ? { retryOptions } : {}),
  };
  return {
    compute: new ComputeManagementClient(credential, emu.subscriptionId, opts),
    network: new NetworkManagementClient(credential, emu.subscriptionId, opts),
    resources: new ResourceManagementClient(credential, emu.subscriptionId, opts),
  };
}

/** Poll fast. */
export const fast = { updateIntervalInMs: 0 };

export const LOC = 'eastus';
export const SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl openclawps-test';

/** The stamp-shaped network for one claw: vnet+subnet, NSG, static Standard PIP, NIC. */
export async function stampNetwork(c: Clients, rg: string, claw: string) {
  await c.resources.resourceGroups.createOrUpdate(rg, {
    location: LOC,
    tags: { 'openclawps-managed-by': 'openclawps' },
  });
  const nsg = await c.network.networkSecurityGroups.createOrUpdate(
    rg,
    `${rg}-nsg`,
    {
      location: LOC,
      securityRules: [
        {
          name: 'ssh',
          protocol: 'Tcp',
          access: 'Allow',
          direction: 'Inbound',
          priority: 1000,
          sourceAddressPrefix: '203.0.113.0/24',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRange: '22',
        },
      ],
    },
    fast,
  );
  const vnet = await c.network.virtualNetworks.createOrUpdate(
    rg,
    `${rg}-vnet`,
    {
      location: LOC,
      addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
      subnets: [{ name: 'default', addressPrefix: '10.0.0.0/24', networkSecurityGroup: { id: nsg.id } }],
    },
    fast,
  );
  const pip = await c.network.publicIPAddresses.createOrUpdate(
    rg,
    `${claw}-pip`,
    {
      location: LOC,
      sku: { name: 'Standard' },
      publicIPAllocationMethod: 'Static',
    },
    fast,
  );
  const nic = await c.network.networkInterfaces.createOrUpdate(
    rg,
    `${claw}-nic`,
    {
      location: LOC,
      ipConfigurations: [
        { name: 'ipconfig1', subnet: { id: vnet.subnets![0].id }, publicIPAddress: { id: pip.id } },
      ],
    },
    fast,
  );
  return { nsg, vnet, pip, nic };
}

/** The marketplace image the tests boot (Ubuntu 24.04 LTS). */
export const UBUNTU = { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' };

/** An empty 30 GB Linux (Hyper-V V2) OS disk. */
export const EMPTY_OS_DISK: Disk = {
  location: LOC,
  diskSizeGB: 30,
  osType: 'Linux',
  hyperVGeneration: 'V2',
  creationData: { createOption: 'Empty' },
};

/** A Linux (Hyper-V V2) gallery image definition. */
export function imageDefinition(
  osState: 'Generalized' | 'Specialized',
  identifier: { publisher: string; offer: string; sku: string },
  features?: { name: string; value: string }[],
): GalleryImage {
  return {
    location: LOC,
    osType: 'Linux',
    osState,
    hyperVGeneration: 'V2',
    identifier,
    ...(features ? { features } : {}),
  };
}

export function vmParams(nicId: string, extra: Record<string, unknown> = {}) {
  return {
    location: LOC,
    hardwareProfile: { vmSize: 'Standard_B2s' },
    storageProfile: {
      imageReference: UBUNTU,
      osDisk: {
        createOption: 'FromImage',
        managedDisk: { storageAccountType: 'Premium_LRS' },
        deleteOption: 'Delete',
      },
    },
    osProfile: {
      computerName: 'alice',
      adminUsername: 'azureuser',
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: { publicKeys: [{ path: '/home/azureuser/.ssh/authorized_keys', keyData: SSH_KEY }] },
      },
    },
    networkProfile: { networkInterfaces: [{ id: nicId, primary: true, deleteOption: 'Detach' }] },
    ...extra,
  };
}

/** A raw HTTP(S) request to the emulator (for protocol-level assertions). */
export async function raw(
  emu: Emulator,
  method: string,
  pathOrUrl: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string>; body: any; text: string }> {
  const https = await import('node:https');
  const http = await import('node:http');
  const url = new URL(pathOrUrl, emu.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method,
        ca: emu.ca || undefined,
        headers: {
          authorization: 'Bearer x',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string>,
            body: parsed,
            text,
          });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export const sub = (emu: Emulator) => `/subscriptions/${emu.subscriptionId}`;
