import {
  AzureOperationError,
  hintFor,
  isNotFound,
  isRetryable,
  parseLroFailure,
  retryAfterFromHeaders,
  toAzureError,
} from '@openclawps/azure';

describe('errors', () => {
  it('recovers the ARM code from a failed-LRO message', () => {
    expect(
      parseLroFailure(
        "The long-running operation has failed. OperationNotAllowed. Operation 'generalize' is not allowed on VM 'b' since the VM is running.",
      ),
    ).toEqual({
      code: 'OperationNotAllowed',
      message: "Operation 'generalize' is not allowed on VM 'b' since the VM is running.",
    });
    expect(parseLroFailure('The long-running operation has failed')).toEqual({
      code: 'OperationFailed',
      message: 'The long-running operation has failed',
    });
    expect(parseLroFailure('something else')).toBeUndefined();
  });

  it('folds SDK error shapes into AzureOperationError with a hint', () => {
    const lro = toAzureError(
      new Error(
        'The long-running operation has failed. QuotaExceeded. Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota.',
      ),
      'virtualMachines.createOrUpdate a',
    );
    expect(lro).toBeInstanceOf(AzureOperationError);
    expect(lro.code).toBe('QuotaExceeded');
    expect(lro.hint).toMatch(/quota increase/);
    expect(lro.message).toMatch(/^virtualMachines.createOrUpdate a failed: QuotaExceeded/);
    expect(lro.message).toMatch(/what to do:/);

    const rest = Object.assign(new Error('Disk d is attached to VM /x/vm.'), {
      name: 'RestError',
      code: 'OperationNotAllowed',
      statusCode: 409,
      response: { status: 409, headers: { get: () => undefined } },
    });
    const e = toAzureError(rest, 'disks.delete d');
    expect(e).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409, operation: 'disks.delete d' });
    expect(e.hint).toMatch(/Delete or update the VM/);

    expect(toAzureError(new Error('Operation was canceled')).code).toBe('Canceled');
    const abort = new Error('The operation was aborted.');
    abort.name = 'AbortError';
    expect(toAzureError(abort).code).toBe('Aborted');
    expect(toAzureError('weird').code).toBe('Unknown');
  });

  it('maps common codes to hints', () => {
    for (const code of [
      'ResourceNotFound',
      'Conflict',
      'QuotaExceeded',
      'AuthorizationFailed',
      'DiskAttached',
      'NicInUse',
    ]) {
      expect(hintFor(code)).not.toBe('');
    }
    expect(hintFor('AuthorizationFailed')).toMatch(/RBAC/);
    expect(hintFor('SomethingNew')).toBe('');
  });

  it('reads Retry-After in all its forms', () => {
    const h = (o: Record<string, string>) => ({ get: (n: string) => o[n] });
    expect(retryAfterFromHeaders(h({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterFromHeaders(h({ 'x-ms-retry-after-ms': '40' }))).toBe(40);
    expect(retryAfterFromHeaders(h({ 'retry-after': '3' }))).toBe(3000);
    const date = new Date(Date.now() + 60_000).toUTCString();
    expect(retryAfterFromHeaders(h({ 'retry-after': date }))).toBeGreaterThan(50_000);
    expect(retryAfterFromHeaders(h({}))).toBeUndefined();
  });

  it('classifies retryable and not-found errors', () => {
    expect(
      isRetryable(new AzureOperationError({ code: 'TooManyRequests', message: '', statusCode: 429 })),
    ).toBe(true);
    expect(
      isRetryable(new AzureOperationError({ code: 'InternalServerError', message: '', statusCode: 500 })),
    ).toBe(true);
    expect(
      isRetryable(new AzureOperationError({ code: 'OperationNotAllowed', message: 'x', statusCode: 409 })),
    ).toBe(false);
    expect(isRetryable(new AzureOperationError({ code: 'Aborted', message: '' }))).toBe(false);
    expect(
      isNotFound(new AzureOperationError({ code: 'ResourceNotFound', message: '', statusCode: 404 })),
    ).toBe(true);
    expect(isNotFound(new AzureOperationError({ code: 'Conflict', message: '', statusCode: 409 }))).toBe(
      false,
    );
  });
});
