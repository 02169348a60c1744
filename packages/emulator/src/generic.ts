/** Completions shared by most resource types. */
import { deleteResourceNow } from './cascade';
import { registerCompletion, type AsyncOp, type Resource, type World } from './world';

function setState(world: World, id: string, state: string) {
  const r = world.get(id);
  if (r?.body?.properties) r.body.properties.provisioningState = state;
}

registerCompletion(
  'generic.put',
  (world: World, op: AsyncOp) => {
    setState(world, op.resourceId, 'Succeeded');
    for (const id of (op.args?.also as string[] | undefined) ?? []) setState(world, id, 'Succeeded');
  },
  (world, op) => {
    setState(world, op.resourceId, 'Failed');
    for (const id of (op.args?.also as string[] | undefined) ?? []) setState(world, id, 'Failed');
  },
);

registerCompletion(
  'generic.delete',
  async (world: World, op: AsyncOp) => {
    const r = world.get(op.resourceId);
    if (r) await deleteResourceNow(world, r);
  },
  (world, op) => {
    const r = world.get(op.resourceId);
    if (r) {
      r.meta.deleting = false;
      if (r.body.properties) r.body.properties.provisioningState = 'Succeeded';
    }
  },
);

/** A create completion: the guest's work for the resource, then Succeeded; a failed op leaves it Failed. */
export function registerProvisioning(
  name: string,
  work: (world: World, res: Resource) => Promise<void>,
): void {
  registerCompletion(
    name,
    async (world, op) => {
      const r = world.get(op.resourceId);
      if (!r) return;
      await work(world, r);
      r.body.properties.provisioningState = 'Succeeded';
    },
    (world, op) => {
      const r = world.get(op.resourceId);
      if (r) r.body.properties.provisioningState = 'Failed';
    },
  );
}

/** Marks a resource as being deleted (GET still answers, provisioningState Deleting). */
export function markDeleting(world: World, id: string): void {
  const r = world.get(id);
  if (!r) return;
  r.meta.deleting = true;
  if (r.body.properties) r.body.properties.provisioningState = 'Deleting';
}
