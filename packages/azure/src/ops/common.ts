import { AzureOperationError, isNotFound, toAzureError } from '../errors';

export interface OpOptions {
  /** Abort the operation (and its LRO polling). */
  signal?: AbortSignal;
}

export type EnsureAction = 'created' | 'updated' | 'unchanged';

export interface EnsureResult<T> {
  resource: T;
  action: EnsureAction;
  /** What differed and was reconciled (human readable, no secrets). */
  changes: string[];
}

/** Run one SDK call; failures become AzureOperationError naming the operation. */
export async function armCall<T>(operation: string, fn: () => PromiseLike<T>, target?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toAzureError(err, operation, target);
  }
}

/** GET that maps 404 to undefined. */
export async function tryGet<T>(
  operation: string,
  fn: () => PromiseLike<T>,
  target?: string,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw toAzureError(err, operation, target);
  }
}

export function requireLocation(location: string | undefined, what: string): string {
  if (!location) {
    throw new AzureOperationError({
      code: 'InvalidInput',
      message: `${what}: location is required (pass it or set 'location' on the Azure context).`,
    });
  }
  return location;
}

export function conflict(kind: string, name: string, message: string, hint?: string): AzureOperationError {
  return new AzureOperationError({
    code: 'ConflictingResource',
    message: `The ${kind} '${name}' exists but ${message}.`,
    hint,
    target: name,
  });
}

export function sameLocation(a: string | undefined, b: string | undefined): boolean {
  const n = (s: string | undefined) => (s ?? '').toLowerCase().replace(/\s+/g, '');
  return n(a) === n(b);
}
