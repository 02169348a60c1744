import {
  ActionInputs,
  actionsReporter,
  annotate,
  azureConnection,
  runAction,
  setOutputs,
  writeSummary,
} from '@openclawps/actions-common';
import { verify } from '@openclawps/lifecycle';

export function run(): Promise<void> {
  return runAction(async () => {
    const inputs = new ActionInputs();
    const host = inputs.string('host');
    const clawName = inputs.string('claw-name');
    if (!host && !clawName) inputs.required('host');
    const password = inputs.secret('password') || undefined;
    const privateKey = inputs.secret('ssh-private-key') || undefined;
    const options = {
      host: host || undefined,
      clawName: clawName || undefined,
      resourceGroup: inputs.string('resource-group', 'rg-linux-desktop'),
      port: inputs.int('port', 22, { min: 1, max: 65535 }),
      username: inputs.string('username', 'azureuser'),
      privateKey,
      password,
      hostKeyFingerprint: inputs.string('host-key-fingerprint') || undefined,
      timeoutMs: inputs.int('timeout-seconds', 300, { min: 1 }) * 1000,
      azure: host ? undefined : azureConnection(inputs),
      reporter: actionsReporter(),
    };
    if (!privateKey && !password) inputs.required('ssh-private-key');
    inputs.assertValid();
    const result = await verify(options);
    setOutputs(
      {
        healthy: result.healthy,
        'failed-checks': result.failedChecks.join(','),
        report: JSON.stringify(result.report),
      },
      [password ?? '', privateKey ?? ''],
    );
    await writeSummary(result.markdown);
    for (const a of result.annotations) annotate('error', a.title, a.message);
    if (!result.healthy) throw new Error(`verify failed: ${result.failedChecks.join(', ')}`);
  });
}
