/** Resource-type handlers register here; the server routes to them. */
import type { ArmError } from './errors';
import type { Json, OpStyle, Resource, World } from './world';

export interface Ctx {
  world: World;
  method: string;
  sub: string;
  /** Resource group name as given in the URL (undefined at subscription scope). */
  rg: string;
  /** Canonical resource-group id (`/subscriptions/{sub}/resourceGroups/{rg}`), casing of the stored group. */
  rgId: string;
  /** The stored resource group. */
  group?: Resource;
  /** Canonical full type, e.g. `Microsoft.Network/virtualNetworks/subnets`. */
  type: string;
  /** Resource names along the type path. */
  names: string[];
  /** Canonical id of the addressed resource. */
  id: string;
  /** Id of the parent resource (for child types). */
  parentId?: string;
  body: Json;
  query: URLSearchParams;
  apiVersion: string;
  /** Lower-cased action name (POST …/{action}, or GET …/instanceView). */
  action?: string;
}

export interface OpRequest {
  style: OpStyle;
  location: string;
  durationMs: number;
  completion: string;
  args?: Json;
  result: 'resource' | 'empty' | 'noContent';
  /** Also send a `Location` header (DELETE, POST, disk PUT). Default: DELETE/POST yes, PUT/PATCH no. */
  locationHeader?: boolean;
  /** The literal Retry-After of the initial response, as real Azure sends (the SDK ignores it). */
  retryAfter?: number;
}

export interface Reply {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
  op?: OpRequest;
  /** Synchronous operations that take time (e.g. NIC create) answer after this delay. */
  delayMs?: number;
}

export interface ActionDef {
  method: 'POST' | 'GET';
  run(ctx: Ctx, existing: Resource): Reply | Promise<Reply>;
}

export interface TypeHandler {
  type: string;
  /** Noun for not-found messages (defaults to the type). */
  put?(ctx: Ctx, existing: Resource | undefined): Reply | Promise<Reply>;
  patch?(ctx: Ctx, existing: Resource): Reply | Promise<Reply>;
  delete?(ctx: Ctx, existing: Resource): Reply | Promise<Reply>;
  actions?: Record<string, ActionDef>;
  notFound?(ctx: Ctx): ArmError;
  /** For child types: error when the parent does not exist. */
  parentNotFound?(ctx: Ctx): ArmError;
}

const handlers = new Map<string, TypeHandler>();

export function registerType(h: TypeHandler): void {
  handlers.set(h.type.toLowerCase(), h);
}

export function handlerFor(type: string): TypeHandler | undefined {
  return handlers.get(type.toLowerCase());
}

export function knownTypes(): string[] {
  return [...handlers.values()].map((h) => h.type);
}

/** Canonical casing of a namespace + type path (or undefined). */
export function canonicalType(lower: string): string | undefined {
  return handlers.get(lower.toLowerCase())?.type;
}
