/** Microsoft.Resources/resourceGroups: synchronous create, LRO delete of the group and everything in it. */
import { ArmError, badRequest } from './errors';
import { normLocation, validateTags } from './common';
import { latencyMs } from './latency';
import { registerType, type Ctx } from './registry';
import { clone, registerCompletion, type Resource, type World } from './world';
import { deleteResourceNow } from './cascade';

registerType({
  type: 'Microsoft.Resources/resourceGroups',
  notFound: (ctx: Ctx) =>
    new ArmError(404, 'ResourceGroupNotFound', `Resource group '${ctx.rg}' could not be found.`),
  put(ctx, existing) {
    const name = ctx.rg;
    if (!/^[-\w.()]{1,90}$/.test(name) || name.endsWith('.')) {
      const bad = [...new Set(name.replace(/[-\w.()]/g, ''))].join('');
      throw badRequest(
        'InvalidResourceGroup',
        `The provided resource group name '${name}' has these invalid characters: '${bad}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.`,
      );
    }
    if (!ctx.body.location)
      throw badRequest('LocationRequired', 'The location property is required for this definition.');
    const location = normLocation(ctx.body.location);
    const tags = validateTags(ctx.body.tags);
    if (existing && normLocation(existing.body.location) !== location) {
      throw new ArmError(
        409,
        'InvalidResourceGroupLocation',
        `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.body.location}'.`,
      );
    }
    const id = existing?.id ?? `/subscriptions/${ctx.world.subscriptionId}/resourceGroups/${name}`;
    const body = {
      id,
      name: existing?.body.name ?? name,
      type: 'Microsoft.Resources/resourceGroups',
      location,
      ...(tags ? { tags } : {}),
      ...(ctx.body.managedBy ? { managedBy: ctx.body.managedBy } : {}),
      properties: { provisioningState: 'Succeeded' },
    };
    ctx.world.set({ id, type: 'Microsoft.Resources/resourceGroups', body, meta: {} });
    return {
      status: existing ? 200 : 201,
      body: clone(body),
      delayMs: latencyMs('resourceGroupCreate', ctx.world.latencyScale),
    };
  },
  patch(ctx, existing) {
    if (ctx.body.location && normLocation(ctx.body.location) !== normLocation(existing.body.location)) {
      throw new ArmError(
        409,
        'InvalidResourceGroupLocation',
        `Invalid resource group location '${ctx.body.location}'. The Resource group already exists in location '${existing.body.location}'.`,
      );
    }
    if (ctx.body.tags !== undefined) {
      const tags = validateTags(ctx.body.tags);
      if (tags) existing.body.tags = tags;
      else delete existing.body.tags;
    }
    return { status: 200, body: clone(existing.body) };
  },
  delete(ctx, existing) {
    existing.meta.deleting = true;
    existing.body.properties.provisioningState = 'Deleting';
    return {
      status: 202,
      op: {
        style: 'arm',
        location: existing.body.location,
        durationMs: latencyMs('resourceGroupDelete', ctx.world.latencyScale),
        completion: 'rg.delete',
        result: 'empty',
        retryAfter: 15,
      },
    };
  },
});

registerCompletion(
  'rg.delete',
  async (world: World, op) => {
    const rg = world.get(op.resourceId);
    if (!rg) return;
    await deleteGroupContents(world, rg);
    world.remove(rg.id);
  },
  (world, op) => {
    const rg = world.get(op.resourceId);
    if (rg) {
      rg.meta.deleting = false;
      rg.body.properties.provisioningState = 'Succeeded';
    }
  },
);

/** Deletes in dependency order (VMs, then NICs, IPs, disks, snapshots, images, galleries, networks). */
async function deleteGroupContents(world: World, rg: Resource): Promise<void> {
  const order = [
    'Microsoft.Compute/virtualMachines',
    'Microsoft.Network/networkInterfaces',
    'Microsoft.Network/publicIPAddresses',
    'Microsoft.Compute/galleries/images/versions',
    'Microsoft.Compute/galleries/images',
    'Microsoft.Compute/galleries',
    'Microsoft.Compute/snapshots',
    'Microsoft.Compute/disks',
    'Microsoft.Network/virtualNetworks',
    'Microsoft.Network/networkSecurityGroups',
  ];
  for (const t of order) {
    for (const r of world.list(t, rg.id)) await deleteResourceNow(world, r, { forGroupDelete: true });
  }
  for (const r of world.descendants(rg.id)) world.remove(r.id);
}
