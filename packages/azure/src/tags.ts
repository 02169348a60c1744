import { AzureOperationError } from './errors';

/** Tag names every OpenClawps resource carries (DESIGN.md, resource model). */
export const TAGS = {
  claw: 'openclawps-claw',
  imageVersion: 'openclawps-image-version',
  fleet: 'openclawps-fleet',
  managedBy: 'openclawps-managed-by',
  upgrade: 'openclawps-upgrade',
} as const;

export const MANAGED_BY_VALUE = 'openclawps';

export type Tags = Record<string, string>;

export interface ManagedTagsInput {
  claw?: string;
  imageVersion?: string;
  fleet?: string;
  /** Any other tags (user tags); ours win on conflict. */
  extra?: Tags;
}

/** The tag set for a resource we create. */
export function managedTags(input: ManagedTagsInput = {}): Tags {
  const tags: Tags = { ...(input.extra ?? {}) };
  tags[TAGS.managedBy] = MANAGED_BY_VALUE;
  if (input.claw) tags[TAGS.claw] = input.claw;
  if (input.imageVersion) tags[TAGS.imageVersion] = input.imageVersion;
  if (input.fleet) tags[TAGS.fleet] = input.fleet;
  return tags;
}

/** Lookup that tolerates tag-name case differences (ARM tag names are case-insensitive). */
export function getTag(tags: Tags | undefined, name: string): string | undefined {
  if (!tags) return undefined;
  if (name in tags) return tags[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(tags)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function isManaged(tags: Tags | undefined): boolean {
  return getTag(tags, TAGS.managedBy) === MANAGED_BY_VALUE;
}

/**
 * Merge `changes` into `current`; a value of `null` removes the tag. Returns the merged set and whether
 * anything changed.
 */
export function mergeTags(
  current: Tags | undefined,
  changes: Record<string, string | null | undefined>,
): { tags: Tags; changed: boolean } {
  const tags: Tags = { ...(current ?? {}) };
  let changed = false;
  for (const [k, v] of Object.entries(changes)) {
    const existingKey = Object.keys(tags).find((t) => t.toLowerCase() === k.toLowerCase());
    if (v === null) {
      if (existingKey !== undefined) {
        delete tags[existingKey];
        changed = true;
      }
    } else if (v !== undefined) {
      if (existingKey !== undefined && existingKey !== k) delete tags[existingKey];
      if (tags[k] !== v) changed = true;
      tags[k] = v;
    }
  }
  return { tags, changed };
}

/** True when every tag in `want` is present in `have` with the same value. */
export function tagsContain(have: Tags | undefined, want: Tags): boolean {
  return Object.entries(want).every(([k, v]) => getTag(have, k) === v);
}

/** Encode the upgrade tag (`target=1.2.0;phase=deleted-vm`). */
export function formatUpgradeTag(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

export function parseUpgradeTag(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  const out: Record<string, string> = {};
  for (const part of value.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export interface OwnershipExpectation {
  /** Human kind, e.g. "public IP". */
  kind: string;
  name: string;
  /** When set, the resource must also carry `openclawps-claw` = claw. */
  claw?: string;
  id?: string;
}

/**
 * Refuse to touch a resource that is not ours: missing managed-by tag, or another claw's.
 * Throws AzureOperationError with code NotManagedByOpenClawps / OwnedByAnotherClaw.
 */
export function assertOwned(tags: Tags | undefined, expect: OwnershipExpectation): void {
  if (!isManaged(tags)) {
    throw new AzureOperationError({
      code: 'NotManagedByOpenClawps',
      message: `The ${expect.kind} '${expect.name}' already exists and is not managed by OpenClawps (tag '${TAGS.managedBy}' is missing); refusing to modify it.`,
      target: expect.id ?? expect.name,
    });
  }
  if (expect.claw !== undefined) {
    const owner = getTag(tags, TAGS.claw);
    if (owner !== expect.claw) {
      throw new AzureOperationError({
        code: 'OwnedByAnotherClaw',
        message: `The ${expect.kind} '${expect.name}' belongs to claw '${owner ?? '(none)'}', not '${expect.claw}'; refusing to modify it.`,
        target: expect.id ?? expect.name,
      });
    }
  }
}
