/** Cross-resource lookups (derived state: who uses what). */
import { sameId } from './common';
import type { Resource, World } from './world';

export function vmsReferencingDisk(world: World, diskId: string): Resource[] {
  return world.list('Microsoft.Compute/virtualMachines').filter((vm) => {
    const sp = vm.body.properties?.storageProfile ?? {};
    if (sameId(sp.osDisk?.managedDisk?.id, diskId)) return true;
    return (sp.dataDisks ?? []).some((d: { managedDisk?: { id?: string } }) =>
      sameId(d.managedDisk?.id, diskId),
    );
  });
}

export function vmUsingNic(world: World, nicId: string): Resource | undefined {
  return world
    .list('Microsoft.Compute/virtualMachines')
    .find((vm) =>
      (vm.body.properties?.networkProfile?.networkInterfaces ?? []).some((n: { id?: string }) =>
        sameId(n.id, nicId),
      ),
    );
}

export function nicsInSubnet(world: World, subnetId: string): { nic: Resource; ipConfigId: string }[] {
  const out: { nic: Resource; ipConfigId: string }[] = [];
  for (const nic of world.list('Microsoft.Network/networkInterfaces')) {
    for (const ipc of nic.body.properties?.ipConfigurations ?? []) {
      if (sameId(ipc.properties?.subnet?.id, subnetId))
        out.push({ nic, ipConfigId: `${nic.id}/ipConfigurations/${ipc.name}` });
    }
  }
  return out;
}

export function nicUsingPip(world: World, pipId: string): { nic: Resource; ipConfigId: string } | undefined {
  for (const nic of world.list('Microsoft.Network/networkInterfaces')) {
    for (const ipc of nic.body.properties?.ipConfigurations ?? []) {
      if (sameId(ipc.properties?.publicIPAddress?.id, pipId))
        return { nic, ipConfigId: `${nic.id}/ipConfigurations/${ipc.name}` };
    }
  }
  return undefined;
}

export function nsgUsers(world: World, nsgId: string): string[] {
  const users: string[] = [];
  for (const nic of world.list('Microsoft.Network/networkInterfaces')) {
    if (sameId(nic.body.properties?.networkSecurityGroup?.id, nsgId)) users.push(nic.id);
  }
  for (const sn of world.list('Microsoft.Network/virtualNetworks/subnets')) {
    if (sameId(sn.body.properties?.networkSecurityGroup?.id, nsgId)) users.push(sn.id);
  }
  return users;
}
