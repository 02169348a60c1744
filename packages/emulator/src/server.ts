/** HTTP(S) front door: routing, headers, api-version, throttling, faults, LRO headers and poll endpoints. */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ArmError, badRequest, notFound } from './errors';
import { Faults, faultFromJson, defaultCode, type ActiveFault } from './faults';
import { handlerFor, type Ctx, type Reply } from './registry';
import { Throttler, type ComputePolicy, type RequestClass } from './throttle';
import { clone, type AsyncOp, type Json, type Resource, type World } from './world';

export interface RequestRecord {
  time: string;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path with the query string. */
  url: string;
  status: number;
  operation: string;
  kind: 'read' | 'write' | 'delete' | 'action';
  requestId: string;
  /** True for polls of async-operation / Location URLs. */
  poll?: boolean;
  /** Id of the fault that fired, if any. */
  fault?: string;
  /** `x-ms-client-request-id` sent by the SDK. */
  clientRequestId?: string;
}

export interface ServerOptions {
  world: World;
  faults: Faults;
  throttler: Throttler;
  requests: RequestRecord[];
  https?: { cert: string; key: string };
  pageSize: number;
  sshEndpoint(ip: string): Promise<{ host: string; port: number } | undefined>;
}

const API_VERSION_RE = /^\d{4}-\d{2}-\d{2}(-preview)?$/i;

class HttpReply {
  constructor(
    public status: number,
    public body: Json = undefined,
    public headers: Record<string, string> = {},
  ) {}
}

export function createArmServer(o: ServerOptions): http.Server {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handle(o, req, res).catch((e) => {
      try {
        res.statusCode = 500;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(
          JSON.stringify({
            error: { code: 'InternalServerError', message: `emulator bug: ${(e as Error).stack}` },
          }),
        );
      } catch {
        /* socket gone */
      }
    });
  };
  return o.https
    ? https.createServer({ cert: o.https.cert, key: o.https.key }, handler)
    : http.createServer(handler);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Route {
  operation: string;
  kind: RequestRecord['kind'];
  cls: RequestClass;
  compute?: { policy: ComputePolicy; resourceKey?: string };
  poll?: boolean;
  run: () => Promise<HttpReply>;
}

async function handle(o: ServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const rawUrl = req.url ?? '/';
  const url = new URL(rawUrl, 'http://x');
  const requestId = randomUUID();
  const correlationId = (req.headers['x-ms-correlation-request-id'] as string) || randomUUID();
  const scheme = o.https ? 'https' : 'http';
  const base = `${scheme}://${req.headers.host ?? 'localhost'}`;
  const bodyText = await readBody(req);

  const commonHeaders: Record<string, string> = {
    'x-ms-request-id': requestId,
    'x-ms-correlation-request-id': correlationId,
    'x-ms-routing-request-id': `LOCAL:${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z:${correlationId}`,
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    expires: '-1',
    'x-content-type-options': 'nosniff',
  };

  const send = (r: HttpReply, record?: Partial<RequestRecord>) => {
    const headers = { ...commonHeaders, ...r.headers };
    let payload = '';
    if (r.body !== undefined && r.status !== 204 && method !== 'HEAD') {
      payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    headers['content-length'] = String(Buffer.byteLength(payload));
    res.writeHead(r.status, headers);
    res.end(payload);
    if (record) {
      o.requests.push({
        time: new Date().toISOString(),
        method,
        path: url.pathname,
        url: rawUrl,
        status: r.status,
        requestId,
        clientRequestId: req.headers['x-ms-client-request-id'] as string | undefined,
        operation: record.operation ?? 'unknown',
        kind: record.kind ?? 'read',
        ...record,
      });
    }
  };

  // ---- control endpoint (not ARM) ----
  if (url.pathname.toLowerCase().startsWith('/_emulator/')) {
    send(await control(o, method, url, bodyText));
    return;
  }

  let parsedBody: Json = undefined;
  if (bodyText.length > 0) {
    try {
      parsedBody = JSON.parse(bodyText);
    } catch (e) {
      send(
        new HttpReply(
          400,
          badRequest(
            'InvalidRequestContent',
            `The request content was invalid and could not be deserialized: '${(e as Error).message}'.`,
          ).body(),
        ),
        { operation: 'unknown', kind: kindOf(method) },
      );
      return;
    }
  }

  let route: Route;
  try {
    route = resolve(o, method, url, base, parsedBody);
  } catch (e) {
    const err = toArmError(e);
    send(new HttpReply(err.status, err.body(), err.headers), { operation: 'unknown', kind: kindOf(method) });
    return;
  }
  const record: Partial<RequestRecord> = { operation: route.operation, kind: route.kind, poll: route.poll };
  // a 'reset' fault: record the request with status 0 and drop the connection without an answer
  const resetConnection = (fault: string) => {
    o.requests.push({
      time: new Date().toISOString(),
      method,
      path: url.pathname,
      url: rawUrl,
      status: 0,
      requestId,
      operation: route.operation,
      kind: route.kind,
      poll: route.poll,
      fault,
    });
    req.socket.destroy();
  };

  // ---- faults ----
  const fired = o.faults.take(method, url.pathname + url.search, route.operation);
  let lroFault: ActiveFault | undefined;
  let resetAfter: ActiveFault | undefined;
  for (const f of fired) {
    record.fault = f.id;
    if (f.kind === 'delay') await sleep(f.delayMs ?? 1000);
    else if (f.kind === 'reset') {
      resetConnection(f.id);
      return;
    } else if (f.kind === 'status') {
      const status = f.status ?? 500;
      const headers: Record<string, string> = {};
      if (f.retryAfterMs !== undefined) {
        headers['retry-after'] = String(Math.ceil(f.retryAfterMs / 1000));
        headers['retry-after-ms'] = String(f.retryAfterMs);
        headers['x-ms-retry-after-ms'] = String(f.retryAfterMs);
      }
      const code = f.code ?? defaultCode(status);
      const message = f.message ?? `Injected fault ${f.id}: ${code}.`;
      send(new HttpReply(status, { error: { code, message } }, headers), record);
      return;
    } else if (f.kind === 'resetAfter') resetAfter = f;
    else lroFault = f;
  }

  // ---- throttling ----
  const verdict = o.throttler.check(route.cls, route.compute);
  if (!verdict.ok) {
    const secs = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    const headers = {
      ...verdict.headers,
      'retry-after': String(secs),
      'retry-after-ms': String(verdict.retryAfterMs),
      'x-ms-retry-after-ms': String(verdict.retryAfterMs),
    };
    const body =
      verdict.scope === 'compute'
        ? {
            error: {
              code: 'OperationNotAllowed',
              message:
                'The server rejected the request because too many requests have been received for this subscription.',
              details: [
                {
                  code: 'TooManyRequests',
                  target: verdict.policy,
                  message: JSON.stringify({
                    operationGroup: verdict.policy,
                    startTime: new Date(Date.now() - 60_000).toISOString(),
                    endTime: new Date().toISOString(),
                    allowedRequestCount: 0,
                    measuredRequestCount: 1,
                  }),
                },
              ],
            },
          }
        : {
            error: {
              code: 'TooManyRequests',
              message: `Number of '${route.cls.replace(/s$/, '')}' requests for subscription '${o.world.subscriptionId}' actor '00000000-0000-0000-0000-000000000000' exceeded. Please try again after '${secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`,
            },
          };
    send(new HttpReply(429, body, headers), record);
    return;
  }

  let reply: HttpReply;
  try {
    await o.world.tick();
    const undo = lroFault ? o.world.snapshotResources() : undefined;
    reply = await route.run();
    if (lroFault && reply.headers['x-emulator-op']) {
      const op = o.world.ops.get(reply.headers['x-emulator-op']);
      if (op) {
        op.fault = {
          kind: lroFault.kind === 'lroCanceled' ? 'canceled' : 'failed',
          code:
            lroFault.code ??
            (lroFault.kind === 'lroCanceled' ? 'OperationCanceled' : 'InternalOperationError'),
          message: lroFault.message ?? `Injected fault ${lroFault.id}: the operation failed.`,
        };
        if (lroFault.kind === 'lroCanceled') op.fault.message = lroFault.message ?? 'Operation was canceled.';
      }
    } else if (lroFault) {
      // No LRO to fail (a synchronous write): undo it and fail the request itself.
      if (undo) o.world.restoreResources(undo);
      const code = lroFault.code ?? 'OperationFailed';
      reply = new HttpReply(lroFault.status ?? 400, {
        error: { code, message: lroFault.message ?? `Injected fault ${lroFault.id}.` },
      });
    }
  } catch (e) {
    const err = toArmError(e);
    reply = new HttpReply(err.status, err.body(), err.headers);
  }
  delete reply.headers['x-emulator-op'];
  Object.assign(reply.headers, verdict.headers);
  if (resetAfter) {
    resetConnection(resetAfter.id);
    return;
  }
  send(reply, record);
}

function kindOf(method: string): RequestRecord['kind'] {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'DELETE') return 'delete';
  if (method === 'POST') return 'action';
  return 'write';
}

function classOf(method: string): RequestClass {
  if (method === 'GET' || method === 'HEAD') return 'reads';
  if (method === 'DELETE') return 'deletes';
  return 'writes';
}

function toArmError(e: unknown): ArmError {
  if (e instanceof ArmError) return e;
  return new ArmError(500, 'InternalServerError', `emulator bug: ${(e as Error)?.stack ?? String(e)}`);
}

// ---------------------------------------------------------------------------------------------
// routing

function resolve(o: ServerOptions, method: string, url: URL, base: string, body: Json): Route {
  const world = o.world;
  const segs = url.pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  const lower = segs.map((s) => s.toLowerCase());
  const q = url.searchParams;
  const apiVersion = getParam(q, 'api-version');
  const kind = kindOf(method);
  const cls = classOf(method);
  // a GET of a collection of one type; listing VMs counts against the HighCostGet compute policy
  const listRoute = (type: string, run: Route['run']): Route => ({
    operation: `${type}/read`,
    kind,
    cls,
    compute: type === 'Microsoft.Compute/virtualMachines' ? { policy: 'HighCostGet' } : undefined,
    run,
  });

  if (lower[0] !== 'subscriptions' || segs.length < 2) {
    throw notFound(
      'NotFound',
      `The requested path '${url.pathname}' is not an ARM resource path this emulator serves.`,
    );
  }
  if (!apiVersion) {
    throw badRequest(
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  if (!API_VERSION_RE.test(apiVersion)) {
    throw badRequest(
      'InvalidApiVersionParameter',
      `The api-version '${apiVersion}' is invalid. The supported versions are in the format 'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.`,
    );
  }
  const sub = segs[1];
  if (sub.toLowerCase() !== world.subscriptionId.toLowerCase()) {
    throw notFound('SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
  }
  const subId = `/subscriptions/${world.subscriptionId}`;
  const r = lower.slice(2);
  const s = segs.slice(2);

  // GET /subscriptions/{sub}
  if (r.length === 0) {
    return {
      operation: 'Microsoft.Resources/subscriptions/read',
      kind,
      cls,
      run: async () =>
        new HttpReply(200, {
          id: subId,
          subscriptionId: world.subscriptionId,
          displayName: 'OpenClawps Emulator',
          state: 'Enabled',
          tenantId: '00000000-0000-0000-0000-000000000000',
          subscriptionPolicies: {
            locationPlacementId: 'Public_2014-09-01',
            quotaId: 'PayAsYouGo_2014-09-01',
            spendingLimit: 'Off',
          },
        }),
    };
  }

  // RG delete monitor: /subscriptions/{sub}/operationresults/{id}
  if (r[0] === 'operationresults' && r.length === 2) {
    return {
      operation: 'Microsoft.Resources/operationResults/read',
      kind,
      cls,
      poll: true,
      run: async () => pollReply(o, s[1], 'monitor', url),
    };
  }

  // /subscriptions/{sub}/providers/{ns}/locations/{loc}/{operations|diskoperations|capsoperations|operationresults}/{id}
  if (r[0] === 'providers' && r[2] === 'locations' && r.length === 6) {
    const opKind = r[4];
    const ns = r[1] === 'microsoft.network' ? 'Microsoft.Network' : 'Microsoft.Compute';
    const op = world.ops.get(s[5]);
    const monitor = opKind === 'operationresults' || (getParam(q, 'monitor') ?? '').toLowerCase() === 'true';
    const operation = `${ns}/locations/${opKind === 'diskoperations' ? 'DiskOperations' : opKind === 'capsoperations' ? 'capsOperations' : opKind === 'operationresults' ? 'operationResults' : 'operations'}/read`;
    return {
      operation,
      kind,
      cls,
      poll: true,
      compute:
        ns === 'Microsoft.Compute' ? { policy: 'GetOperation', resourceKey: op?.resourceId } : undefined,
      run: async () => pollReply(o, s[5], monitor ? 'monitor' : 'status', url),
    };
  }

  // subscription-level lists: /subscriptions/{sub}/providers/{ns}/{type}
  if (r[0] === 'providers' && r.length === 3) {
    const type = `${s[1]}/${s[2]}`;
    const h = handlerFor(type);
    if (!h) throw unknownType(s[1], s[2], apiVersion);
    if (method !== 'GET') throw methodNotAllowed(method);
    return listRoute(h.type, async () => listReply(o, world.list(h.type, subId), url, base));
  }

  // /subscriptions/{sub}/resources ($filter)
  if (r[0] === 'resources' && r.length === 1) {
    if (method !== 'GET') throw methodNotAllowed(method);
    return {
      operation: 'Microsoft.Resources/resources/read',
      kind,
      cls,
      run: async () =>
        listReply(
          o,
          filterResources(
            [...world.resources.values()].filter((x) => !x.type.startsWith('Microsoft.Resources/')),
            getParam(q, '$filter'),
          ),
          url,
          base,
          true,
        ),
    };
  }

  if (r[0] !== 'resourcegroups') throw notFound('NotFound', `No route for '${url.pathname}'.`);

  // /subscriptions/{sub}/resourcegroups
  if (r.length === 1) {
    if (method !== 'GET') throw methodNotAllowed(method);
    return {
      operation: 'Microsoft.Resources/subscriptions/resourceGroups/read',
      kind,
      cls,
      run: async () =>
        listReply(
          o,
          filterResources(world.list('Microsoft.Resources/resourceGroups', subId), getParam(q, '$filter')),
          url,
          base,
        ),
    };
  }

  const rgName = s[1];
  const rgKey = `${subId}/resourceGroups/${rgName}`;
  // /subscriptions/{sub}/resourcegroups/{rg}
  if (r.length === 2) {
    const h = handlerFor('Microsoft.Resources/resourceGroups')!;
    const op = method === 'DELETE' ? 'delete' : method === 'GET' || method === 'HEAD' ? 'read' : 'write';
    return {
      operation: `Microsoft.Resources/subscriptions/resourceGroups/${op}`,
      kind,
      cls,
      run: async () => {
        const existing = world.get(rgKey);
        if (!existing && method === 'DELETE') throw rgNotFound(rgName);
        const ctx: Ctx = {
          world,
          method,
          sub,
          rg: rgName,
          rgId: existing?.id ?? rgKey,
          group: existing,
          type: h.type,
          names: [rgName],
          id: existing?.id ?? rgKey,
          body,
          query: q,
          apiVersion,
        };
        return dispatchItem(o, ctx, h, existing, base);
      },
    };
  }

  // /subscriptions/{sub}/resourcegroups/{rg}/resources
  if (r.length === 3 && r[2] === 'resources') {
    return {
      operation: 'Microsoft.Resources/subscriptions/resourceGroups/resources/read',
      kind,
      cls,
      run: async () => {
        const group = world.get(rgKey);
        if (!group) throw rgNotFound(rgName);
        return listReply(
          o,
          filterResources(
            world.descendants(group.id).filter((x) => x.id.split('/').length === 9),
            getParam(q, '$filter'),
          ),
          url,
          base,
          true,
        );
      },
    };
  }

  if (r[2] !== 'providers' || r.length < 5) throw notFound('NotFound', `No route for '${url.pathname}'.`);
  const ns = s[3];
  const rest = s.slice(4);
  // type path: t1/n1/t2/n2/...; an odd tail is a collection (known child type) or an action.
  const pairs: { t: string; n: string }[] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) pairs.push({ t: rest[i], n: rest[i + 1] });
  let tail = rest.length % 2 === 1 ? rest[rest.length - 1] : undefined;
  let collectionType: string | undefined;
  if (tail !== undefined) {
    const candidate = [ns, ...pairs.map((p) => p.t), tail].join('/');
    if (handlerFor(candidate)) {
      collectionType = candidate;
      tail = undefined;
    }
  }
  const itemTypeRaw = [ns, ...pairs.map((p) => p.t)].join('/');

  if (collectionType) {
    const h = handlerFor(collectionType)!;
    const parentPath = pairs.map((p) => `${p.t}/${p.n}`).join('/');
    if (method !== 'GET') throw methodNotAllowed(method);
    return listRoute(h.type, async () => {
      const group = world.get(rgKey);
      if (!group) throw rgNotFound(rgName);
      let under = `${group.id}/providers/${ns}`;
      if (pairs.length > 0) {
        const parentType = handlerFor(itemTypeRaw);
        const parent = world.get(`${group.id}/providers/${ns}/${parentPath}`);
        if (!parent)
          throw resourceNotFound(parentType?.type ?? itemTypeRaw, pairs[pairs.length - 1].n, rgName);
        under = parent.id;
      }
      return listReply(
        o,
        world
          .list(h.type, under)
          .filter((x) => x.id.toLowerCase().split('/').length === under.split('/').length + 2),
        url,
        base,
      );
    });
  }

  const h = handlerFor(itemTypeRaw);
  if (!h) throw unknownType(ns, pairs.map((p) => p.t).join('/'), apiVersion);
  const type = h.type;
  const typeParts = type.split('/').slice(1);
  const idPath = pairs.map((p, i) => `${typeParts[i]}/${p.n}`).join('/');
  const action = tail?.toLowerCase();
  const verb = action
    ? `${action === 'instanceview' ? 'instanceView/read' : `${tail}/action`}`
    : method === 'DELETE'
      ? 'delete'
      : method === 'GET' || method === 'HEAD'
        ? 'read'
        : 'write';
  const operation = `${type}/${verb}`;

  let compute: Route['compute'];
  const vmKey = `${rgKey}/providers/${ns}/${idPath}`;
  if (type === 'Microsoft.Compute/virtualMachines') {
    if (action === 'instanceview' || (!action && kind === 'read'))
      compute = { policy: 'LowCostGet', resourceKey: vmKey };
    else if (action === 'deallocate' || method === 'DELETE')
      compute = { policy: 'DeleteVM', resourceKey: vmKey };
    else if (method === 'PUT')
      compute = { policy: world.has(vmKey) ? 'UpdateVM' : 'PutVM', resourceKey: vmKey };
    else compute = { policy: 'UpdateVM', resourceKey: vmKey };
  }

  return {
    operation,
    kind: action && method === 'GET' ? 'read' : kind,
    cls,
    compute,
    run: async () => {
      const group = world.get(rgKey);
      if (!group) {
        if (method === 'DELETE') return new HttpReply(204);
        throw rgNotFound(rgName);
      }
      if (group.meta?.deleting && (method === 'PUT' || method === 'PATCH' || method === 'POST')) {
        throw new ArmError(
          409,
          'ResourceGroupBeingDeleted',
          `The resource group '${group.body.name}' is in deprovisioning state and cannot perform this operation.`,
        );
      }
      const id = `${group.id}/providers/${ns}/${idPath}`;
      const existingRaw = world.get(id);
      const existing = existingRaw;
      const parentId = pairs.length > 1 ? id.split('/').slice(0, -2).join('/') : undefined;
      const ctx: Ctx = {
        world,
        method,
        sub,
        rg: rgName,
        rgId: group.id,
        group,
        type,
        names: pairs.map((p) => p.n),
        id: existing?.id ?? canonicalChildId(world, id),
        parentId: parentId ? (world.get(parentId)?.id ?? parentId) : undefined,
        body,
        query: q,
        apiVersion,
        action,
      };
      if (action) {
        const a = h.actions?.[action];
        if (!a || a.method !== method)
          throw notFound(
            'NotFound',
            `The action '${tail}' is not supported on resource type '${type}' by this emulator.`,
          );
        if (existing?.meta?.deleting && type === 'Microsoft.Compute/virtualMachines' && method === 'POST') {
          throw markedForDeletion(tail!, existing.body.name);
        }
        if (!existing || existing.meta?.deleting)
          throw h.notFound?.(ctx) ?? resourceNotFound(type, ctx.names[ctx.names.length - 1], rgName);
        return toHttp(o, ctx, await a.run(ctx, existing), base);
      }
      return dispatchItem(o, ctx, h, existing, base);
    },
  };
}

/** For child resources: keep the parent's stored casing in the id. */
function canonicalChildId(world: World, id: string): string {
  const parts = id.split('/');
  if (parts.length <= 9) return id;
  const parent = world.get(parts.slice(0, -2).join('/'));
  return parent ? `${parent.id}/${parts.slice(-2).join('/')}` : id;
}

async function dispatchItem(
  o: ServerOptions,
  ctx: Ctx,
  h: ReturnType<typeof handlerFor> & object,
  existing: Resource | undefined,
  base: string,
): Promise<HttpReply> {
  const { method, world } = ctx;
  const gone = !existing || existing.meta?.deleting;
  if (ctx.parentId && !world.get(ctx.parentId) && method !== 'DELETE') {
    throw (
      h.parentNotFound?.(ctx) ??
      notFound(
        'ParentResourceNotFound',
        `Can not perform requested operation on nested resource. Parent resource '${ctx.parentId.split('/').pop()}' not found.`,
      )
    );
  }
  switch (method) {
    case 'GET':
    case 'HEAD': {
      // a resource being deleted still answers GET (provisioningState Deleting) until the delete finishes
      if (!existing) {
        if (method === 'HEAD') return new HttpReply(404);
        throw h.notFound?.(ctx) ?? resourceNotFound(h.type, ctx.names[ctx.names.length - 1], ctx.rg);
      }
      if (method === 'HEAD') return new HttpReply(204);
      return new HttpReply(200, world.render(existing!, ctx.query), etagHeader(world.render(existing!)));
    }
    case 'PUT': {
      if (!h.put) throw methodNotAllowed(method);
      if (ctx.body === undefined || ctx.body === null || typeof ctx.body !== 'object') {
        throw badRequest(
          'InvalidRequestContent',
          'The request content was invalid and could not be deserialized: the body must be a JSON object.',
        );
      }
      if (existing?.meta?.deleting)
        throw existing.type === 'Microsoft.Compute/virtualMachines'
          ? markedForDeletion('Update VM', existing.body.name)
          : new ArmError(409, 'Conflict', `The resource '${existing.id}' is being deleted.`);
      return toHttp(o, ctx, await h.put(ctx, gone ? undefined : existing), base);
    }
    case 'PATCH': {
      if (!h.patch) throw methodNotAllowed(method);
      if (!existing)
        throw h.notFound?.(ctx) ?? resourceNotFound(h.type, ctx.names[ctx.names.length - 1], ctx.rg);
      if (existing.meta?.deleting)
        throw existing.type === 'Microsoft.Compute/virtualMachines'
          ? markedForDeletion('Update VM', existing.body.name)
          : new ArmError(409, 'Conflict', `The resource '${existing.id}' is being deleted.`);
      return toHttp(o, ctx, await h.patch(ctx, existing), base);
    }
    case 'DELETE': {
      if (!h.delete) throw methodNotAllowed(method);
      if (!existing) return new HttpReply(204);
      if (existing.meta?.deleting) {
        const pending = world.pendingOps(existing.id)[0];
        if (pending) return toHttp(o, ctx, { status: 202, op: undefined }, base, pending);
        return new HttpReply(204);
      }
      return toHttp(o, ctx, await h.delete(ctx, existing), base);
    }
    default:
      throw methodNotAllowed(method);
  }
}

function etagHeader(body: Json): Record<string, string> {
  return body && typeof body.etag === 'string' ? { etag: body.etag } : {};
}

function opUrls(o: ServerOptions, base: string, op: AsyncOp): { status: string; monitor: string } {
  const sub = `/subscriptions/${o.world.subscriptionId}`;
  const v = op.apiVersion;
  const loc = op.location || 'eastus';
  switch (op.style) {
    case 'compute': {
      const u = `${base}${sub}/providers/Microsoft.Compute/locations/${loc}/operations/${op.id}?p=${op.args?.p ?? op.id}&api-version=${v}`;
      return { status: u, monitor: `${u}&monitor=true` };
    }
    case 'disk': {
      const u = `${base}${sub}/providers/Microsoft.Compute/locations/${loc}/DiskOperations/${op.id}?p=${op.args?.p ?? op.id}&api-version=${v}`;
      return { status: u, monitor: `${u}&monitor=true` };
    }
    case 'gallery': {
      const u = `${base}${sub}/providers/Microsoft.Compute/locations/${loc}/capsOperations/${op.id}?api-version=${v}`;
      return { status: u, monitor: `${u}&monitor=true` };
    }
    case 'network': {
      const t = Date.parse(op.startTime) * 10_000 + 621_355_968_000_000_000;
      return {
        status: `${base}${sub}/providers/Microsoft.Network/locations/${loc}/operations/${op.id}?api-version=${v}&t=${t}`,
        monitor: `${base}${sub}/providers/Microsoft.Network/locations/${loc}/operationResults/${op.id}?api-version=${v}&t=${t}`,
      };
    }
    case 'arm':
    default: {
      const u = `${base}${sub}/operationresults/${op.id}?api-version=${v}`;
      return { status: u, monitor: u };
    }
  }
}

/** Turn a handler reply into HTTP, starting the async operation it asks for. */
function toHttp(
  o: ServerOptions,
  ctx: Ctx,
  r: Reply,
  base: string,
  existingOp?: AsyncOp,
): Promise<HttpReply> | HttpReply {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let op = existingOp;
  if (r.op && !op) {
    op = o.world.startOp({
      style: r.op.style,
      location: (r.op.location || 'eastus').toLowerCase().replace(/\s+/g, ''),
      method: ctx.method,
      resourceId: ctx.id,
      completion: r.op.completion,
      args: { ...(r.op.args ?? {}), p: randomUUID() },
      result: r.op.result,
      apiVersion: ctx.apiVersion,
      durationMs: r.op.durationMs,
    });
  }
  if (op) {
    const urls = opUrls(o, base, op);
    const wantLocation = r.op?.locationHeader ?? (ctx.method === 'DELETE' || ctx.method === 'POST');
    if (op.style !== 'arm') {
      headers['azure-asyncoperation'] = urls.status;
      headers['azure-asyncnotification'] = 'Enabled';
    }
    if (wantLocation || op.style === 'arm') headers['location'] = urls.monitor;
    if (r.op?.retryAfter !== undefined) headers['retry-after'] = String(r.op.retryAfter);
    headers['x-emulator-op'] = op.id;
  }
  const reply = new HttpReply(r.status, r.body, headers);
  if (r.body && typeof r.body.etag === 'string') reply.headers.etag = r.body.etag;
  o.world.changed();
  if (r.delayMs && r.delayMs > 0) return sleep(r.delayMs).then(() => reply);
  return reply;
}

function pollRetryAfter(o: ServerOptions, op: AsyncOp): Record<string, string> {
  // real polls say 10-50 s; scaled with the latency model so fast runs are not slowed by whole seconds
  const baseSecs = (op.style === 'disk' ? 0 : op.style === 'arm' ? 15 : 10) * o.world.latencyScale;
  const remaining = Math.max(0, op.finishAt - Date.now()) / 1000;
  const secs = Math.min(Math.round(baseSecs), Math.ceil(remaining));
  return secs >= 1 ? { 'retry-after': String(secs) } : {};
}

async function pollReply(
  o: ServerOptions,
  opId: string,
  mode: 'status' | 'monitor',
  url: URL,
): Promise<HttpReply> {
  const op = o.world.ops.get(opId);
  if (!op) throw notFound('NotFound', `The operation '${opId}' was not found.`);
  if (mode === 'status') {
    if (op.style === 'network') {
      const b: Json = { status: op.status };
      if (op.error) b.error = op.error;
      return new HttpReply(200, b, op.status === 'InProgress' ? pollRetryAfter(o, op) : {});
    }
    const b: Json = { startTime: op.startTime };
    if (op.endTime) b.endTime = op.endTime;
    b.status = op.status;
    if (op.error) b.error = op.error;
    b.name = op.id;
    return new HttpReply(200, b, op.status === 'InProgress' ? pollRetryAfter(o, op) : {});
  }
  // monitor / Location
  if (op.status === 'InProgress') {
    return new HttpReply(202, undefined, {
      location: url.toString().replace(/^http:\/\/x/, ''),
      ...pollRetryAfter(o, op),
    });
  }
  if (op.status !== 'Succeeded') {
    return new HttpReply(op.status === 'Canceled' ? 409 : 400, {
      error: op.error ?? { code: 'OperationFailed', message: 'The operation failed.' },
    });
  }
  if (op.result === 'noContent') return new HttpReply(204);
  if (op.result === 'empty') return new HttpReply(200);
  const res = o.world.get(op.resourceId);
  return res ? new HttpReply(200, o.world.render(res)) : new HttpReply(204);
}

function listReply(o: ServerOptions, items: Resource[], url: URL, base: string, generic = false): HttpReply {
  const q = url.searchParams;
  const skip = Number(getParam(q, '$skiptoken') ?? '0') || 0;
  const top = Number(getParam(q, '$top') ?? '0') || 0;
  const size = top > 0 ? Math.min(top, o.pageSize) : o.pageSize;
  const live = items;
  const sorted = live.sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()));
  const page = sorted.slice(skip, skip + size);
  const value = page.map((x) => {
    const b = o.world.render(x, q);
    if (!generic) return b;
    const g: Json = { id: b.id, name: b.name, type: b.type, location: b.location };
    if (b.sku) g.sku = b.sku;
    if (b.kind) g.kind = b.kind;
    if (b.managedBy) g.managedBy = b.managedBy;
    if (b.tags) g.tags = b.tags;
    return g;
  });
  const body: Json = { value };
  if (skip + size < sorted.length && top === 0) {
    const next = new URL(url.toString());
    next.searchParams.set('$skiptoken', String(skip + size));
    body.nextLink = `${base}${next.pathname}${next.search}`;
  }
  return new HttpReply(200, body);
}

/** Minimal OData `$filter` for ARM lists: tagName/tagValue, resourceType, name, location (eq, and). */
function filterResources(items: Resource[], filter: string | undefined): Resource[] {
  if (!filter) return items;
  const clauses = filter.split(/\s+and\s+/i);
  let out = items;
  for (const c of clauses) {
    const m = /^\s*(tagName|tagValue|resourceType|name|location)\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(c);
    if (!m)
      throw badRequest(
        'InvalidFilterInQueryString',
        `Invalid $filter '${filter}' (the emulator supports eq on tagName, tagValue, resourceType, name, location).`,
      );
    const field = m[1].toLowerCase();
    const v = m[2].replace(/''/g, "'");
    if (field === 'tagname') {
      out = out.filter((x) =>
        Object.keys(x.body.tags ?? {}).some((k) => k.toLowerCase() === v.toLowerCase()),
      );
      const tagValue = clauses
        .map((cc) => /^\s*tagValue\s+eq\s+'((?:[^']|'')*)'\s*$/i.exec(cc))
        .find(Boolean);
      if (tagValue) {
        const tv = tagValue[1].replace(/''/g, "'");
        out = out.filter((x) =>
          Object.entries(x.body.tags ?? {}).some(
            ([k, val]) => k.toLowerCase() === v.toLowerCase() && val === tv,
          ),
        );
      }
    } else if (field === 'resourcetype') out = out.filter((x) => x.type.toLowerCase() === v.toLowerCase());
    else if (field === 'name') out = out.filter((x) => String(x.body.name).toLowerCase() === v.toLowerCase());
    else if (field === 'location')
      out = out.filter((x) => String(x.body.location).toLowerCase() === v.toLowerCase());
  }
  return out;
}

function getParam(q: URLSearchParams, name: string): string | undefined {
  for (const [k, v] of q) if (k.toLowerCase() === name.toLowerCase()) return v;
  return undefined;
}

export function resourceNotFound(type: string, name: string, rg: string): ArmError {
  return notFound(
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

function markedForDeletion(op: string, vm: string): ArmError {
  return new ArmError(
    409,
    'OperationNotAllowed',
    `Operation '${op}' is not allowed on VM '${vm}' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).`,
  );
}

export function rgNotFound(rg: string): ArmError {
  return notFound('ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
}

function unknownType(ns: string, type: string, apiVersion: string): ArmError {
  return badRequest(
    'InvalidResourceType',
    `The resource type '${type}' could not be found in the namespace '${ns}' for api version '${apiVersion}'.`,
  );
}

function methodNotAllowed(method: string): ArmError {
  return new ArmError(
    405,
    'MethodNotAllowed',
    `The requested method '${method}' is not allowed for this resource.`,
  );
}

// ---------------------------------------------------------------------------------------------
// control endpoint

async function control(o: ServerOptions, method: string, url: URL, bodyText: string): Promise<HttpReply> {
  const p = url.pathname.toLowerCase().replace(/\/+$/, '');
  try {
    if (p === '/_emulator/faults') {
      if (method === 'GET') return new HttpReply(200, { value: o.faults.active().map(serializableFault) });
      if (method === 'DELETE') {
        o.faults.clear();
        return new HttpReply(204);
      }
      if (method === 'POST') {
        const j = JSON.parse(bodyText || '{}');
        const specs = Array.isArray(j) ? j : [j];
        const ids = specs.map((s) => o.faults.add(faultFromJson(s)));
        return new HttpReply(201, { ids });
      }
    }
    if (p.startsWith('/_emulator/faults/') && method === 'DELETE') {
      return new HttpReply(o.faults.remove(url.pathname.split('/').pop()!) ? 204 : 404);
    }
    if (p === '/_emulator/requests') {
      if (method === 'DELETE') {
        o.requests.length = 0;
        return new HttpReply(204);
      }
      return new HttpReply(200, { value: o.requests });
    }
    if (p === '/_emulator/state' && method === 'GET') return new HttpReply(200, o.world.dump());
    if (p === '/_emulator/health')
      return new HttpReply(200, { ok: true, subscriptionId: o.world.subscriptionId });
    if (p === '/_emulator/ssh-endpoint' && method === 'GET') {
      const ip = url.searchParams.get('ip') ?? '';
      const ep = await o.sshEndpoint(ip);
      return ep
        ? new HttpReply(200, ep)
        : new HttpReply(404, { error: { code: 'NotFound', message: `No SSH endpoint for ${ip}.` } });
    }
  } catch (e) {
    return new HttpReply(400, { error: { code: 'BadRequest', message: (e as Error).message } });
  }
  return new HttpReply(404, {
    error: { code: 'NotFound', message: `Unknown control endpoint ${url.pathname}` },
  });
}

function serializableFault(f: ActiveFault): Json {
  const c: Json = clone({ ...f, match: undefined });
  const m = f.match ?? {};
  c.match = {
    method: m.method,
    path: m.path instanceof RegExp ? { regex: m.path.source, flags: m.path.flags } : m.path,
    operation:
      m.operation instanceof RegExp ? { regex: m.operation.source, flags: m.operation.flags } : m.operation,
  };
  if (f.times === Infinity) c.times = null;
  return c;
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
