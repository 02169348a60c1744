/** Helpers shared by the resource providers. */
import { randomUUID } from 'node:crypto';
import { ArmError, badRequest } from './errors';
import type { Ctx } from './registry';
import { clone, type Json, type Resource } from './world';

export const normLocation = (l: unknown): string =>
  String(l ?? '')
    .toLowerCase()
    .replace(/\s+/g, '');

export function requireLocation(ctx: Ctx, existing?: Resource): string {
  const l = ctx.body?.location;
  if (!l) {
    if (existing) return existing.body.location;
    throw badRequest('LocationRequired', 'The location property is required for this definition.');
  }
  const loc = normLocation(l);
  if (existing && normLocation(existing.body.location) !== loc) {
    throw new ArmError(
      409,
      'InvalidResourceLocation',
      `The resource '${existing.body.name}' already exists in location '${existing.body.location}' in resource group '${ctx.rg}'. A resource with the same name cannot be created in location '${loc}'. Please select a new resource name.`,
    );
  }
  return loc;
}

export function validateTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags))
    throw badRequest('InvalidTag', 'Tags must be an object of string values.');
  const t = tags as Record<string, unknown>;
  const keys = Object.keys(t);
  if (keys.length > 50)
    throw badRequest('InvalidTag', `The number of tags (${keys.length}) exceeds the limit of 50.`);
  for (const k of keys) {
    if (k.length > 512)
      throw badRequest(
        'InvalidTagNameLength',
        `The tag name '${k.slice(0, 40)}…' exceeds the maximum length of 512 characters.`,
      );
    if (/[<>%&\\?/]/.test(k))
      throw badRequest(
        'InvalidTagNameCharacters',
        `The tag names '${k}' have reserved characters '<,>,%,&,\\,?,/' or control characters.`,
      );
    const v = t[k];
    if (typeof v !== 'string') throw badRequest('InvalidTag', `The value of tag '${k}' must be a string.`);
    if (v.length > 256)
      throw badRequest(
        'InvalidTagValueLength',
        `The tag value of '${k}' exceeds the maximum length of 256 characters.`,
      );
  }
  return t as Record<string, string>;
}

/** Deep merge for PATCH: objects merge, arrays and scalars replace; null deletes. */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out = target && typeof target === 'object' && !Array.isArray(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (typeof v === 'object' && !Array.isArray(v)) out[k] = mergePatch(out[k], v);
    else out[k] = clone(v);
  }
  return out;
}

export const guid = () => randomUUID();
export const hex32 = () => randomUUID().replace(/-/g, '');
export const netEtag = () => `W/"${randomUUID()}"`;
export const nowIso = () => new Date().toISOString();

/** Splits an ARM id into its parts (case preserved). */
export function parseId(
  id: string,
): { sub: string; rg: string; ns: string; types: string[]; names: string[] } | undefined {
  const p = id.split('/').filter((s) => s.length > 0);
  if (p.length < 4 || p[0].toLowerCase() !== 'subscriptions' || p[2].toLowerCase() !== 'resourcegroups')
    return undefined;
  if (p.length === 4)
    return { sub: p[1], rg: p[3], ns: 'Microsoft.Resources', types: ['resourceGroups'], names: [p[3]] };
  if (p[4].toLowerCase() !== 'providers' || p.length < 8) return undefined;
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 6; i + 1 < p.length; i += 2) {
    types.push(p[i]);
    names.push(p[i + 1]);
  }
  if ((p.length - 6) % 2 !== 0) return undefined;
  return { sub: p[1], rg: p[3], ns: p[5], types, names };
}

export function typeOfId(id: string): string | undefined {
  const x = parseId(id);
  return x ? `${x.ns}/${x.types.join('/')}`.toLowerCase() : undefined;
}

export const lastName = (id: string) => id.split('/').filter(Boolean).pop() ?? '';

export function sameId(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

export function rgOfId(id: string): string {
  return parseId(id)?.rg ?? '';
}

/** Compute's generic resource-name rule (1-80 chars, letters/digits/_/./-, starts alnum, ends alnum or _). */
export function checkComputeName(name: string, kind: string, max = 80): void {
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${max - 1}}$`).test(name) || /[.-]$/.test(name)) {
    throw badRequest(
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to ${max} characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
      kind,
    );
  }
}

/** Network resource names: 1-80, start alnum, end alnum or _, contain alnum . - _ */
export function checkNetworkName(name: string): void {
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/.test(name)) {
    throw badRequest(
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    );
  }
}

export function parseCidr(c: string): { base: number; bits: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c);
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (o.some((x) => x > 255) || bits > 32) return undefined;
  const ip = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, bits };
}

export function cidrInside(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  if (!a || !b || a.bits < b.bits) return false;
  const mask = b.bits === 0 ? 0 : (0xffffffff << (32 - b.bits)) >>> 0;
  return (a.base & mask) >>> 0 === b.base;
}
