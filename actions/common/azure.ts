import type { AzureConnection, CommonOptions } from '@openclawps/lifecycle';
import { ActionInputs, actionsReporter, readAzureInputs } from './index';

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

/** What every Azure-touching action passes to the lifecycle: dry-run, ssh-port, the Azure inputs, the runner's log. */
export function lifecycleOptions(inputs: ActionInputs): Omit<CommonOptions, 'signal'> & { dryRun: boolean } {
  return {
    dryRun: inputs.bool('dry-run', false),
    sshPort: inputs.int('ssh-port', 22, { min: 1, max: 65535 }),
    azure: azureConnection(inputs),
    reporter: actionsReporter(),
  };
}
