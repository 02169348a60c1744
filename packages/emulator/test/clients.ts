/** Real SDK clients pointed at the emulator (https with its CA, static token). */
import { ComputeManagementClient } from '@azure/arm-compute';
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

export function vmParams(nicId: string, extra: Record<string, unknown> = {}) {
  return {
    location: LOC,
    hardwareProfile: { vmSize: 'Standard_B2s' },
    storageProfile: {
      imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
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
