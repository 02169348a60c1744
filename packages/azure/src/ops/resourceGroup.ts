import type { ResourceGroup } from '@azure/arm-resources';
import type { AzureContext } from '../context';
import { assertOwned, isManaged, managedTags, mergeTags, type Tags } from '../tags';
import { armCall, requireLocation, tryGet, type EnsureResult, type OpOptions } from './common';

export interface EnsureResourceGroupParams {
  name: string;
  location?: string;
  /** Tags to set on a group we create (managed-by is always added). */
  tags?: Tags;
  fleet?: string;
  /**
   * Use an existing group that OpenClawps did not create (common when the identity's RBAC is scoped to a
   * group an admin made). It is used as is: never retagged or modified. Default false: refuse.
   */
  allowUnmanaged?: boolean;
}

export async function getResourceGroup(ctx: AzureContext, name: string, opts: OpOptions = {}) {
  return tryGet(`resourceGroups.get ${name}`, () =>
    ctx.resources.resourceGroups.get(name, ctx.op(opts.signal)),
  );
}

/** Read; create when missing; add our tags when they drifted. A foreign group is refused (or used as is). */
export async function ensureResourceGroup(
  ctx: AzureContext,
  params: EnsureResourceGroupParams,
  opts: OpOptions = {},
): Promise<EnsureResult<ResourceGroup>> {
  const existing = await getResourceGroup(ctx, params.name, opts);
  const want = managedTags({ fleet: params.fleet, extra: params.tags });
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `resource group '${params.name}'`);
    const resource = await armCall(`resourceGroups.createOrUpdate ${params.name}`, () =>
      ctx.resources.resourceGroups.createOrUpdate(params.name, { location, tags: want }, ctx.op(opts.signal)),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  if (!isManaged(existing.tags) && params.allowUnmanaged) {
    return { resource: existing, action: 'unchanged', changes: [] };
  }
  assertOwned(existing.tags, { kind: 'resource group', name: params.name, id: existing.id });
  const { tags, changed } = mergeTags(existing.tags, want);
  if (!changed) return { resource: existing, action: 'unchanged', changes: [] };
  const resource = await armCall(`resourceGroups.update ${params.name}`, () =>
    ctx.resources.resourceGroups.update(params.name, { tags }, ctx.op(opts.signal)),
  );
  return { resource, action: 'updated', changes: ['tags'] };
}

/** Delete a group we manage (all its resources go with it). Missing = no-op. */
export async function deleteResourceGroup(
  ctx: AzureContext,
  name: string,
  opts: OpOptions = {},
): Promise<{ deleted: boolean }> {
  const existing = await getResourceGroup(ctx, name, opts);
  if (!existing) return { deleted: false };
  assertOwned(existing.tags, { kind: 'resource group', name, id: existing.id });
  await armCall(`resourceGroups.delete ${name}`, () =>
    ctx.resources.resourceGroups.delete(name, ctx.lro(opts.signal)),
  );
  return { deleted: true };
}
