import type { AzureConnection } from '@openclawps/lifecycle';
import { ActionInputs, readAzureInputs } from './index';

/** The Azure connection from the shared inputs (auth, client-id, tenant-id, subscription-id, arm-endpoint). */
export function azureConnection(inputs: ActionInputs): AzureConnection {
  const a = readAzureInputs(inputs);
  return {
    subscriptionId: a.subscriptionId,
    endpoint: a.endpoint || undefined,
    auth: a.auth,
    clientId: a.clientId || undefined,
    tenantId: a.tenantId || undefined,
  };
}
