import {
  AzureCliCredential,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  DefaultAzureCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import { AzureOperationError } from './errors';

export type { TokenCredential, AccessToken, GetTokenOptions };

/**
 * A credential that always returns the same bearer token. For tests and the demo against the emulator
 * (which accepts any token); never for Azure. The token is opaque to logs: `toString()` hides it.
 */
export class StaticTokenCredential implements TokenCredential {
  readonly #token: string;
  readonly #lifetimeMs: number;
  /** How many times getToken was called (tests assert the bearer path really runs). */
  calls = 0;

  constructor(token = 'openclawps-static-token', options: { lifetimeMs?: number } = {}) {
    this.#token = token;
    this.#lifetimeMs = options.lifetimeMs ?? 60 * 60 * 1000;
  }

  async getToken(_scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.calls++;
    return { token: this.#token, expiresOnTimestamp: Date.now() + this.#lifetimeMs, tokenType: 'Bearer' };
  }

  toString(): string {
    return 'StaticTokenCredential(***)';
  }
}

/** GitHub's audience for Entra workload identity federation. */
export const AZURE_AD_TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

export interface GitHubOidcTokenOptions {
  audience?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Injected fetch (tests); defaults to the global fetch. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/**
 * Fetch a fresh GitHub Actions OIDC ID token (what `core.getIDToken` does, without @actions/*):
 * GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=… with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
 * answer `{"value": "<jwt>"}`.
 */
export async function fetchGitHubOidcToken(options: GitHubOidcTokenOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) {
    throw new AzureOperationError({
      code: 'OidcTokenRequestFailed',
      message:
        'ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: this job cannot request a GitHub OIDC token.',
    });
  }
  const target = new URL(url);
  target.searchParams.set('audience', options.audience ?? AZURE_AD_TOKEN_EXCHANGE_AUDIENCE);
  const doFetch = options.fetch ?? fetch;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const res = await doFetch(target, {
        headers: { Authorization: `Bearer ${requestToken}`, Accept: 'application/json; api-version=2.0' },
        signal: options.signal,
      });
      if (!res.ok) {
        lastError = new AzureOperationError({
          code: 'OidcTokenRequestFailed',
          statusCode: res.status,
          message: `GitHub OIDC token request answered HTTP ${res.status}.`,
        });
        if (res.status < 500 && res.status !== 429) break;
      } else {
        const body = (await res.json()) as { value?: unknown };
        if (typeof body.value !== 'string' || !body.value) {
          throw new AzureOperationError({
            code: 'OidcTokenRequestFailed',
            message: 'GitHub OIDC token response has no "value".',
          });
        }
        return body.value;
      }
    } catch (err) {
      if (err instanceof AzureOperationError) throw err;
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
  }
  if (lastError instanceof AzureOperationError) throw lastError;
  throw new AzureOperationError({
    code: 'OidcTokenRequestFailed',
    message: `GitHub OIDC token request failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    cause: lastError,
  });
}

export type CredentialSpec =
  | { kind: 'default'; tenantId?: string; managedIdentityClientId?: string; authorityHost?: string }
  | { kind: 'cli'; tenantId?: string; subscription?: string; processTimeoutInMs?: number }
  | {
      kind: 'oidc';
      clientId: string;
      tenantId: string;
      audience?: string;
      authorityHost?: string;
      env?: NodeJS.ProcessEnv;
      fetch?: typeof fetch;
      /** Passed to ClientAssertionCredential (proxy, tlsOptions, disableInstanceDiscovery, …). */
      credentialOptions?: ClientAssertionCredentialOptions;
    }
  | { kind: 'static'; token?: string };

/**
 * Build a TokenCredential:
 * - `default`: DefaultAzureCredential (env vars, workload identity, managed identity, az CLI, …);
 * - `cli`: AzureCliCredential, i.e. the session `azure/login` left behind (inherits its ~1 h token lifetime);
 * - `oidc`: GitHub OIDC directly: a ClientAssertionCredential whose callback fetches a *fresh* GitHub ID
 *   token every time Entra needs an assertion, so long bakes survive the 10-minute assertion lifetime;
 * - `static`: StaticTokenCredential (emulator, tests).
 */
export function resolveCredential(spec: CredentialSpec): TokenCredential {
  switch (spec.kind) {
    case 'default':
      return new DefaultAzureCredential({
        ...(spec.tenantId ? { tenantId: spec.tenantId } : {}),
        ...(spec.managedIdentityClientId ? { managedIdentityClientId: spec.managedIdentityClientId } : {}),
        ...(spec.authorityHost ? { authorityHost: spec.authorityHost } : {}),
      });
    case 'cli':
      return new AzureCliCredential({
        ...(spec.tenantId ? { tenantId: spec.tenantId } : {}),
        ...(spec.subscription ? { subscription: spec.subscription } : {}),
        ...(spec.processTimeoutInMs ? { processTimeoutInMs: spec.processTimeoutInMs } : {}),
      });
    case 'oidc': {
      const missing = [!spec.clientId && 'client-id', !spec.tenantId && 'tenant-id'].filter(Boolean);
      if (missing.length) {
        throw new AzureOperationError({
          code: 'InvalidInput',
          message: `OIDC login needs ${missing.join(' and ')} (the app registration or managed identity with a federated credential for this repository).`,
        });
      }
      return new ClientAssertionCredential(
        spec.tenantId,
        spec.clientId,
        () => fetchGitHubOidcToken({ audience: spec.audience, env: spec.env, fetch: spec.fetch }),
        {
          ...(spec.credentialOptions ?? {}),
          ...(spec.authorityHost ? { authorityHost: spec.authorityHost } : {}),
        },
      );
    }
    case 'static':
      return new StaticTokenCredential(spec.token);
    default: {
      const never: never = spec;
      throw new Error(`unknown credential kind ${(never as { kind: string }).kind}`);
    }
  }
}
