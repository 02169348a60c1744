import type { VirtualMachine } from '@azure/arm-compute';
import type { AzureContext } from '../context';
import { parseResourceId } from '../ids';
import { getTag, isManaged, TAGS } from '../tags';
import { toAzureError } from '../errors';
import { getVmState, vmStateFromInstanceView, type VmState } from './compute';
import type { OpOptions } from './common';

export interface ManagedVm {
  claw: string;
  resourceGroup: string;
  location: string;
  imageVersion?: string;
  fleet?: string;
  /** The raw `openclawps-upgrade` tag when an upgrade is in progress or failed. */
  upgradeTag?: string;
  state: VmState;
  vm: VirtualMachine;
}

/** Every VM in the subscription that we manage (tag openclawps-managed-by), with its power state. */
export async function listManagedVms(ctx: AzureContext, opts: OpOptions = {}): Promise<ManagedVm[]> {
  const out: ManagedVm[] = [];
  try {
    for await (const vm of ctx.compute.virtualMachines.listAll({
      ...ctx.op(opts.signal),
      statusOnly: 'true',
    })) {
      if (!isManaged(vm.tags)) continue;
      const claw = getTag(vm.tags, TAGS.claw);
      const rg = vm.id ? parseResourceId(vm.id)?.resourceGroup : undefined;
      if (!claw || !rg) continue;
      out.push({
        claw,
        resourceGroup: rg,
        location: vm.location,
        imageVersion: getTag(vm.tags, TAGS.imageVersion),
        fleet: getTag(vm.tags, TAGS.fleet),
        upgradeTag: getTag(vm.tags, TAGS.upgrade),
        state: vmStateFromInstanceView(vm.instanceView, vm.provisioningState),
        vm,
      });
    }
  } catch (err) {
    throw toAzureError(err, 'virtualMachines.listAll');
  }
  // statusOnly is an optimisation; where the list carries no instance view, read it per VM
  for (const m of out) {
    if (m.state.power === 'unknown')
      m.state = await getVmState(ctx, m.resourceGroup, m.vm.name ?? m.claw, opts);
  }
  return out.sort((a, b) => (a.claw < b.claw ? -1 : a.claw > b.claw ? 1 : 0));
}
