/** Type-specific side effects of removing a resource (used by deletes and resource-group delete). */
import type { Resource, World } from './world';

export interface DeleteOpts {
  forGroupDelete?: boolean;
}
type Deleter = (world: World, res: Resource, opts: DeleteOpts) => Promise<void> | void;
const deleters = new Map<string, Deleter>();

export function registerDeleter(type: string, fn: Deleter): void {
  deleters.set(type.toLowerCase(), fn);
}

export async function deleteResourceNow(world: World, res: Resource, opts: DeleteOpts = {}): Promise<void> {
  if (!world.get(res.id)) return;
  const fn = deleters.get(res.type.toLowerCase());
  if (fn) await fn(world, res, opts);
  for (const child of world.descendants(res.id)) world.remove(child.id);
  world.remove(res.id);
}
