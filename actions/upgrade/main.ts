import {
  ActionInputs,
  lifecycleOptions,
  runAction,
  setOutputs,
  writeSummary,
} from '@openclawps/actions-common';
import { renderUpgradeSummary, upgrade } from '@openclawps/lifecycle';

export function run(): Promise<void> {
  return runAction(async () => {
    const inputs = new ActionInputs();
    const envText = inputs.secret('env') || undefined;
    const options = {
      clawName: inputs.required('claw-name'),
      resourceGroup: inputs.string('resource-group', 'rg-linux-desktop'),
      imageVersion: inputs.string('image-version', 'latest'),
      gallery: inputs.string('gallery', 'clawGallery'),
      imageDefinition: inputs.string('image-definition', 'claw-base'),
      force: inputs.bool('force', false),
      envText,
      snapshotRetention: inputs.int('snapshot-retention', 3, { min: 0, max: 100 }),
      keepOsDisks: inputs.int('keep-os-disks', 0, { min: 0, max: 20 }),
      sshPrivateKey: inputs.secret('ssh-private-key') || undefined,
      verifyTimeoutMs: inputs.int('verify-timeout-seconds', 600, { min: 10 }) * 1000,
      stopMethod: inputs.oneOf('stop-method', ['ssh', 'deallocate'] as const, 'ssh'),
      ...lifecycleOptions(inputs),
    };
    inputs.assertValid();
    const result = await upgrade(options);
    if (options.dryRun) return;
    setOutputs(
      {
        'previous-version': result.previousVersion,
        version: result.version,
        'rolled-back': result.rolledBack,
        'downtime-seconds': result.downtimeSeconds,
      },
      [envText ?? '', options.sshPrivateKey ?? ''],
    );
    await writeSummary(renderUpgradeSummary(result));
    if (result.rolledBack)
      throw new Error(`verify failed on ${result.version}: rolled back to ${result.previousVersion}`);
  });
}
