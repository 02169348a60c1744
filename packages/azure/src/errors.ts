/**
 * Typed errors for ARM operations.
 *
 * The SDKs surface failures in three shapes (arm-fidelity §0.5):
 * - a `RestError` (non-2xx initial or GET response) with `.code`, `.statusCode`, `.response.headers`;
 * - a plain `Error("The long-running operation has failed. <code>. <message>")` for a Failed LRO (no `.code`);
 * - `Error("Operation was canceled")` for a Canceled LRO, and an `AbortError` when our signal fired.
 * `toAzureError` folds all of them into one `AzureOperationError` that names the ARM code, the operation,
 * and says what to do.
 */

export interface AzureOperationErrorOptions {
  /** ARM error code, e.g. `OperationNotAllowed`; `Unknown` when none could be recovered. */
  code: string;
  message: string;
  /** HTTP status of the failing response, when there was one. */
  statusCode?: number;
  /** What we were doing, e.g. `virtualMachines.createOrUpdate claw-a`. */
  operation?: string;
  /** What the user should do about it. Defaults to the hint for `code`. */
  hint?: string;
  /** Milliseconds the server asked us to wait before retrying (Retry-After, retry-after-ms). */
  retryAfterMs?: number;
  /** Resource the error is about (ARM ID or name). */
  target?: string;
  /** The error we wrapped. */
  cause?: unknown;
}

export class AzureOperationError extends Error {
  override readonly name = 'AzureOperationError';
  readonly code: string;
  readonly statusCode?: number;
  readonly operation?: string;
  readonly hint: string;
  readonly retryAfterMs?: number;
  readonly target?: string;
  /** The raw ARM message (without operation prefix or hint). */
  readonly armMessage: string;

  constructor(options: AzureOperationErrorOptions) {
    const hint = options.hint ?? hintFor(options.code, options.message);
    const prefix = options.operation ? `${options.operation} failed: ` : '';
    const status = options.statusCode !== undefined ? ` (HTTP ${options.statusCode})` : '';
    super(`${prefix}${options.code}${status}: ${options.message}${hint ? `\n  what to do: ${hint}` : ''}`, {
      cause: options.cause,
    });
    this.code = options.code;
    this.statusCode = options.statusCode;
    this.operation = options.operation;
    this.hint = hint;
    this.retryAfterMs = options.retryAfterMs;
    this.target = options.target;
    this.armMessage = options.message;
  }

  /** A JSON-safe view for logs and job summaries (no secrets are ever put in these errors). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      statusCode: this.statusCode,
      operation: this.operation,
      message: this.armMessage,
      hint: this.hint,
      target: this.target,
    };
  }
}

/** Codes whose hint is well known. Keys are lower-case. */
const HINTS: Record<string, string> = {
  operationnotallowed:
    'The resource is in a state that forbids this operation (running/generalized VM, attached disk, quota, …). ' +
    'Read the message, bring the resource into the required state (e.g. deallocate the VM, detach the disk) and re-run.',
  resourcenotfound:
    'Check the subscription, resource group and name; create the missing resource first (re-running the plan creates it).',
  notfound: 'Check the subscription, resource group and name; create the missing resource first.',
  resourcegroupnotfound: 'Create the resource group first or fix `resource-group`.',
  parentresourcenotfound: 'Create the parent resource (gallery, image definition, VNet) first.',
  galleryimagenotfound:
    'The gallery image or version does not exist: check the gallery, definition and version names.',
  conflict:
    'Another operation is in progress on this resource, or it exists in a conflicting state. Wait for it to finish and re-run (every step is idempotent).',
  anotheroperationinprogress:
    'Another operation is running on this resource. Wait for it to finish and re-run.',
  retryableerrorduetoanotheroperation:
    'Another operation is running on this resource. Wait a minute and re-run.',
  quotaexceeded:
    'The subscription quota for this VM family/region is exhausted. Request a quota increase (Portal → Quotas), pick a smaller size, or another region.',
  operationnotallowedquota: 'Request a quota increase or pick a smaller size or another region.',
  skunotavailable:
    'This VM size is not available in the region (or for the subscription). Choose another size or region.',
  allocationfailed:
    'Azure could not allocate this VM size right now. Retry later, or choose another size or zone.',
  zonalallocationfailed:
    'Azure could not allocate this VM size in the zone. Retry later or choose another zone/size.',
  authorizationfailed:
    "The identity lacks an RBAC permission. Grant it 'Contributor' (or the listed action) on the resource group, and for galleries on the gallery's group too.",
  linkedauthorizationfailed:
    'The identity lacks permission on a linked resource (subnet, image, disk in another group). Grant it there as well.',
  invalidauthenticationtoken:
    'The access token is invalid for this cloud. Check the ARM endpoint and the credential.',
  expiredauthenticationtoken:
    'The access token expired. Use OIDC (client-id/tenant-id) so a fresh GitHub token is fetched, rather than a one-shot azure/login session.',
  invalidauthenticationtokentenant: 'The token is for another tenant. Fix `tenant-id` or the subscription.',
  subscriptionnotfound: 'Check `subscription-id` and that the identity has access to it.',
  diskattached: 'The disk is attached to a VM. Delete or update the VM (or detach the disk) first.',
  conflictinguserinput: 'The disk is owned by another VM. Detach it there first, or use another disk.',
  nicinuse: 'The network interface is attached to a VM. Delete the VM (NIC delete option Detach) first.',
  inusesubnetcannotbedeleted: 'The subnet still has NICs. Delete the claws in this resource group first.',
  standardskupublicipaddressesmuststatic: 'Standard public IPs must use Static allocation.',
  standardskupublicipaddressesmustbestatic: 'Standard public IPs must use Static allocation.',
  propertychangenotallowed:
    'This property cannot change after creation. Create a new resource (e.g. a new image version number) instead.',
  invalidparameter: 'A request parameter is invalid. The message names it; fix the input and re-run.',
  badrequest: 'Azure rejected the request. The message says which field; fix the input and re-run.',
  toomanyrequests:
    'Azure throttled the request. Wait for the Retry-After interval and re-run; reduce concurrency.',
  throttled: 'Azure throttled the request. Wait and re-run; reduce concurrency.',
  internalservererror: 'A transient Azure error. Re-run; every step is idempotent.',
  internalexecutionerror: 'A transient Azure error. Re-run; every step is idempotent.',
  serviceunavailable: 'Azure is temporarily unavailable. Re-run later.',
  canceled: 'The operation was canceled (by Azure or by a newer operation). Re-run to converge.',
  aborted: 'We stopped the operation (signal or timeout). Re-run to converge; Azure may still finish it.',
  steptimeout:
    'The step took longer than its timeout. Raise the timeout or check the resource in the portal, then re-run.',
  notmanagedbyopenclawps:
    "The resource exists but was not created by OpenClawps (no 'openclawps-managed-by' tag). Pick another name, or delete/tag it yourself if it is really yours.",
  ownedbyanotherclaw: 'The resource belongs to another claw. Use another claw name or resource group.',
  conflictingresource:
    'A resource with this name exists with settings we cannot change. Rename or delete it.',
  vmimagemismatch: 'The VM runs another image. Use `upgrade` to move it to a new version instead of `stamp`.',
  invalidversion: 'Image version names must be Major.Minor.Patch of 32-bit integers (e.g. 1.2.3).',
  replicationfailed:
    'Replication of the image version failed in a region. Delete the version and publish it again.',
  noimageversion:
    'No usable image version: bake one, or wait until replication finishes, or pass an explicit version.',
  invalidinput: 'An input is missing or invalid; the message names the field.',
  oidctokenrequestfailed:
    "Could not get a GitHub OIDC token. Add 'permissions: id-token: write' to the job (fork and Dependabot PRs cannot get one).",
};

export function hintFor(code: string, message = ''): string {
  const key = code.toLowerCase();
  if (key === 'operationnotallowed' && /quota/i.test(message)) return HINTS.operationnotallowedquota;
  if (key === 'operationnotallowed' && /too many requests/i.test(message)) return HINTS.toomanyrequests;
  if (key === 'operationnotallowed' && /is attached to/i.test(message)) return HINTS.diskattached;
  if (/quota/.test(key)) return HINTS.quotaexceeded;
  return HINTS[key] ?? '';
}

const LRO_FAILED = /^The long-running operation has failed\.?\s*(?:([A-Za-z][\w.]*)\.\s*)?([\s\S]*)$/;

/** Recover `{code, message}` from a failed-LRO Error message; undefined when it is not one. */
export function parseLroFailure(message: string): { code: string; message: string } | undefined {
  const m = LRO_FAILED.exec(message.trim());
  if (!m) return undefined;
  return {
    code: m[1] ?? 'OperationFailed',
    message: (m[2] ?? '').trim() || 'The long-running operation has failed',
  };
}

interface HeaderBag {
  get?(name: string): string | undefined;
  [k: string]: unknown;
}

function header(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
  const v = headers[name] ?? headers[name.toLowerCase()];
  return typeof v === 'string' ? v : undefined;
}

/** Retry-After in ms from a response header bag: retry-after-ms, x-ms-retry-after-ms, Retry-After (s or date). */
export function retryAfterFromHeaders(headers: HeaderBag | undefined): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = header(headers, name);
    if (v !== undefined && v !== '' && Number.isFinite(Number(v))) return Math.max(0, Number(v));
  }
  const ra = header(headers, 'retry-after');
  if (ra === undefined || ra === '') return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' ||
      /operation was aborted|The operation was aborted|aborted/i.test(err.message)) &&
    !/long-running operation has failed/.test(err.message)
  );
}

/**
 * Convert anything thrown by the SDKs (or by us) into an AzureOperationError.
 * `operation` names what we were doing; it becomes part of the message.
 */
export function toAzureError(err: unknown, operation?: string, target?: string): AzureOperationError {
  if (err instanceof AzureOperationError) {
    if (err.operation || !operation) return err;
    return new AzureOperationError({
      code: err.code,
      message: err.armMessage,
      statusCode: err.statusCode,
      operation,
      hint: err.hint,
      retryAfterMs: err.retryAfterMs,
      target: err.target ?? target,
      cause: err.cause ?? err,
    });
  }
  if (err && typeof err === 'object') {
    const e = err as {
      name?: string;
      code?: unknown;
      statusCode?: unknown;
      message?: unknown;
      response?: { status?: number; headers?: HeaderBag; bodyAsText?: string };
      details?: unknown;
    };
    const message = typeof e.message === 'string' ? e.message : String(err);
    // RestError (either @azure/core-rest-pipeline or @typespec/ts-http-runtime flavour).
    if (e.name === 'RestError' || typeof e.statusCode === 'number') {
      const statusCode = typeof e.statusCode === 'number' ? e.statusCode : e.response?.status;
      let code = typeof e.code === 'string' && e.code ? e.code : undefined;
      let armMessage = message;
      const body = parseBody(e.response?.bodyAsText);
      if (body) {
        code = code ?? body.code;
        armMessage = body.message ?? armMessage;
      }
      if (!code) code = statusCode === 404 ? 'NotFound' : statusCode === 429 ? 'TooManyRequests' : 'Unknown';
      if (code === 'REQUEST_SEND_ERROR') code = 'RequestSendError';
      return new AzureOperationError({
        code,
        message: armMessage,
        statusCode,
        operation,
        target,
        retryAfterMs: retryAfterFromHeaders(e.response?.headers),
        cause: err,
      });
    }
    const lro = parseLroFailure(message);
    if (lro) return new AzureOperationError({ ...lro, operation, target, cause: err });
    if (/^Operation was cancell?ed/i.test(message)) {
      return new AzureOperationError({ code: 'Canceled', message, operation, target, cause: err });
    }
    if (isAbortError(err))
      return new AzureOperationError({ code: 'Aborted', message, operation, target, cause: err });
    const code = typeof e.code === 'string' && e.code ? e.code : 'Unknown';
    return new AzureOperationError({ code, message, operation, target, cause: err });
  }
  return new AzureOperationError({ code: 'Unknown', message: String(err), operation, target, cause: err });
}

function parseBody(text: string | undefined): { code?: string; message?: string } | undefined {
  if (!text) return undefined;
  try {
    const j = JSON.parse(text) as {
      error?: { code?: string; message?: string };
      code?: string;
      message?: string;
    };
    const inner = j.error ?? j;
    return { code: inner.code, message: inner.message };
  } catch {
    return undefined;
  }
}

/** True for 404 / ResourceNotFound-like errors. */
export function isNotFound(err: unknown): boolean {
  const e = toAzureError(err);
  return (
    e.statusCode === 404 ||
    ['resourcenotfound', 'notfound', 'resourcegroupnotfound', 'parentresourcenotfound'].includes(
      e.code.toLowerCase(),
    )
  );
}

const RETRYABLE_CODES = new Set(
  [
    'TooManyRequests',
    'RetryableErrorDueToAnotherOperation',
    'AnotherOperationInProgress',
    'InternalServerError',
    'InternalExecutionError',
    'ServerBusy',
    'ServiceUnavailable',
    'GatewayTimeout',
    'RequestSendError',
    'ECONNRESET',
  ].map((c) => c.toLowerCase()),
);

/** Whether a retry may help: 429, 408, 5xx, or a known transient code. */
export function isRetryable(err: unknown): boolean {
  const e = toAzureError(err);
  if (e.code === 'Aborted' || e.code === 'StepTimeout') return false;
  if (e.statusCode !== undefined && (e.statusCode === 429 || e.statusCode === 408 || e.statusCode >= 500))
    return true;
  if (e.code === 'OperationNotAllowed' && /too many requests/i.test(e.armMessage)) return true;
  return RETRYABLE_CODES.has(e.code.toLowerCase());
}
