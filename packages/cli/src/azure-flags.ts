import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { AzureConnection } from '@openclawps/lifecycle';

/** Flags every Azure-touching command shares; they mirror the actions' inputs. */
export function addAzureFlags(cmd: Command): Command {
  return cmd
    .option('--subscription <id>', 'Azure subscription ID (env AZURE_SUBSCRIPTION_ID)')
    .option('--endpoint <url>', 'ARM endpoint: a sovereign cloud or a local emulator (default public Azure)')
    .option(
      '--auth <kind>',
      'cli | default | oidc | static (static: any token, for the local emulator)',
      'cli',
    )
    .option('--client-id <id>', 'client ID for GitHub OIDC')
    .option('--tenant-id <id>', 'tenant ID for GitHub OIDC')
    .option('--ca-file <path>', 'PEM CA of an https endpoint with a private CA (the emulator prints it)')
    .option('--ssh-port <n>', 'SSH port of the claw VMs (22 on Azure)', (v) => Number(v), 22)
    .option('--dry-run', 'print the plan of Azure operations and change nothing', false);
}

export interface AzureFlagValues {
  subscription?: string;
  endpoint?: string;
  auth: string;
  clientId?: string;
  tenantId?: string;
  caFile?: string;
  dryRun: boolean;
}

export function azureFromFlags(f: AzureFlagValues): AzureConnection {
  const subscriptionId = f.subscription ?? process.env.AZURE_SUBSCRIPTION_ID ?? '';
  const problems: string[] = [];
  if (!subscriptionId) problems.push('--subscription (or AZURE_SUBSCRIPTION_ID) is required');
  if (!['cli', 'default', 'oidc', 'static'].includes(f.auth))
    problems.push(`--auth must be cli, default, oidc or static, got "${f.auth}"`);
  if (f.auth === 'oidc' && (!f.clientId || !f.tenantId))
    problems.push('--auth oidc needs --client-id and --tenant-id');
  if (problems.length) throw new UsageError(problems);
  return {
    subscriptionId,
    endpoint: f.endpoint,
    auth: f.auth as AzureConnection['auth'],
    clientId: f.clientId,
    tenantId: f.tenantId,
    ca: f.caFile ? readFileSync(f.caFile, 'utf8') : undefined,
  };
}

export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.map((p) => `  - ${p}`).join('\n'));
    this.name = 'UsageError';
  }
}
