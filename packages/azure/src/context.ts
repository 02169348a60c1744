import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/identity';

export const AZURE_PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';

/** ARM endpoints of the sovereign clouds (the SDK's `cloudSetting` values, spelled out). */
export const ARM_ENDPOINTS = {
  AzureCloud: 'https://management.azure.com',
  AzureChinaCloud: 'https://management.chinacloudapi.cn',
  AzureUSGovernment: 'https://management.usgovcloudapi.net',
} as const;

export interface CloudEndpoints {
  armEndpoint: string;
  /** Entra authority host for @azure/identity credentials (`authorityHost`). */
  authorityHost: string;
}

const CLOUDS: Record<string, CloudEndpoints> = {
  azurecloud: { armEndpoint: ARM_ENDPOINTS.AzureCloud, authorityHost: 'https://login.microsoftonline.com' },
  azurechinacloud: {
    armEndpoint: ARM_ENDPOINTS.AzureChinaCloud,
    authorityHost: 'https://login.chinacloudapi.cn',
  },
  azureusgovernment: {
    armEndpoint: ARM_ENDPOINTS.AzureUSGovernment,
    authorityHost: 'https://login.microsoftonline.us',
  },
};

/**
 * Endpoints for an `azure/login`-style environment name (azurecloud, azurechinacloud, azureusgovernment;
 * case-insensitive). Throws with the accepted names otherwise (Azure Stack: pass `endpoint` directly).
 */
export function cloudEndpoints(environment = 'azurecloud'): CloudEndpoints {
  const c = CLOUDS[environment.toLowerCase().replace(/[\s_-]/g, '')];
  if (!c) {
    throw new Error(
      `Unknown Azure environment '${environment}': use one of ${Object.keys(CLOUDS).join(', ')}, or pass the ARM endpoint URL.`,
    );
  }
  return { ...c };
}

export interface RetryOptions {
  /** SDK pipeline retries per request (429/503 with Retry-After, 5xx/408 exponential). Default 3. */
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
}

export interface AzureContextOptions {
  subscriptionId: string;
  credential: TokenCredential;
  /** ARM endpoint: sovereign cloud or the emulator. Default https://management.azure.com. */
  endpoint?: string;
  /** PEM CA certificate(s) to trust for an https endpoint with a private CA (the emulator). */
  ca?: string | string[];
  /** Delay between LRO polls. Default: the SDK's (2 s, or the server's Retry-After). 0 = as fast as allowed. */
  pollIntervalMs?: number;
  retry?: RetryOptions;
  /**
   * Token scopes. Default `<endpoint>/.default` (management.azure.com for the public cloud), which is what
   * each sovereign cloud's ARM expects.
   */
  scopes?: string[];
  /** Default location for operations that need one and were given none. */
  location?: string;
  /** Extra user-agent prefix, e.g. `openclawps/0.1.0 stamp`. */
  userAgentPrefix?: string;
}

export interface AzureContext {
  readonly subscriptionId: string;
  readonly endpoint: string;
  readonly location?: string;
  readonly pollIntervalMs?: number;
  readonly compute: ComputeManagementClient;
  readonly network: NetworkManagementClient;
  readonly resources: ResourceManagementClient;
  /** Options to pass to every LRO call: poll interval and abort signal. */
  lro(signal?: AbortSignal): { updateIntervalInMs?: number; abortSignal?: AbortSignal };
  /** Options for plain (non-LRO) calls. */
  op(signal?: AbortSignal): { abortSignal?: AbortSignal };
}

function normalizeEndpoint(endpoint: string | undefined): string {
  const e = (endpoint ?? AZURE_PUBLIC_ARM_ENDPOINT).trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(e);
  } catch {
    throw new Error(
      `Invalid ARM endpoint '${endpoint}': expected an absolute URL such as ${AZURE_PUBLIC_ARM_ENDPOINT}`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(
      `Invalid ARM endpoint '${endpoint}': only https (or http for a local emulator) is supported`,
    );
  }
  return e;
}

/**
 * Build the three ARM clients pointed at one endpoint. Uses the SDKs' `endpoint` option (`$host` does not
 * redirect requests, arm-fidelity §1.2). An `http:` endpoint is allowed for a local emulator only: the
 * bearer policy refuses non-TLS URLs, so it is replaced by one that sends the token anyway (§1.3 b).
 */
export function createAzureContext(options: AzureContextOptions): AzureContext {
  if (!options.subscriptionId) throw new Error('createAzureContext: subscriptionId is required');
  if (!options.credential) throw new Error('createAzureContext: credential is required');
  const endpoint = normalizeEndpoint(options.endpoint);
  const insecure = endpoint.startsWith('http:');
  const scopes = options.scopes ?? [
    `${endpoint === AZURE_PUBLIC_ARM_ENDPOINT ? AZURE_PUBLIC_ARM_ENDPOINT : endpoint}/.default`,
  ];
  const clientOptions = {
    endpoint,
    credentials: { scopes },
    ...(options.retry ? { retryOptions: { ...options.retry } } : {}),
    ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    ...(insecure ? { allowInsecureConnection: true } : {}),
    ...(options.userAgentPrefix ? { userAgentOptions: { userAgentPrefix: options.userAgentPrefix } } : {}),
  };
  const compute = new ComputeManagementClient(options.credential, options.subscriptionId, clientOptions);
  const network = new NetworkManagementClient(options.credential, options.subscriptionId, clientOptions);
  const resources = new ResourceManagementClient(options.credential, options.subscriptionId, clientOptions);
  if (insecure) {
    for (const client of [compute, network, resources]) {
      client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
      client.pipeline.addPolicy(
        {
          name: 'openclawpsInsecureBearerPolicy',
          async sendRequest(request, next) {
            const token = await options.credential.getToken(scopes, { abortSignal: request.abortSignal });
            if (token) request.headers.set('authorization', `Bearer ${token.token}`);
            return next(request);
          },
        },
        { phase: 'Sign' },
      );
    }
  }
  const pollIntervalMs = options.pollIntervalMs;
  return {
    subscriptionId: options.subscriptionId,
    endpoint,
    location: options.location,
    pollIntervalMs,
    compute,
    network,
    resources,
    lro(signal?: AbortSignal) {
      return {
        ...(pollIntervalMs !== undefined ? { updateIntervalInMs: pollIntervalMs } : {}),
        ...(signal ? { abortSignal: signal } : {}),
      };
    },
    op(signal?: AbortSignal) {
      return signal ? { abortSignal: signal } : {};
    },
  };
}
