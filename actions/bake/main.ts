import {
  ActionInputs,
  lifecycleOptions,
  runAction,
  setOutputs,
  writeSummary,
} from '@openclawps/actions-common';
import { bake, renderBakeSummary } from '@openclawps/lifecycle';

export function run(): Promise<void> {
  return runAction(async () => {
    const inputs = new ActionInputs();
    const secretValues = inputs
      .secret('secret-values')
      .split('\n')
      .filter((s) => s.trim());
    const options = {
      version: inputs.required('version'),
      resourceGroup: inputs.string('resource-group', 'rg-linux-desktop'),
      location: inputs.string('location', 'eastus'),
      gallery: inputs.string('gallery', 'clawGallery'),
      imageDefinition: inputs.string('image-definition', 'claw-base'),
      sourceVm: inputs.string('source-vm') || undefined,
      profile: inputs.oneOf('profile', ['desktop', 'minimal'] as const, 'desktop'),
      builderSize: inputs.string('builder-size', 'Standard_D2s_v3'),
      targetRegions: inputs.list('target-regions'),
      replicaCount: inputs.int('replica-count', 1, { min: 1, max: 100 }),
      excludeFromLatest: inputs.bool('exclude-from-latest', false),
      extraUpdatesDir: inputs.string('extra-updates') || undefined,
      secretValues,
      sshPrivateKey: inputs.secret('ssh-private-key') || undefined,
      cloudInitTimeoutMs: inputs.int('cloud-init-timeout-minutes', 40, { min: 1, max: 240 }) * 60_000,
      ...lifecycleOptions(inputs),
    };
    inputs.assertValid();
    const result = await bake(options);
    if (options.dryRun) return;
    setOutputs({ 'image-version-id': result.imageVersionId, version: result.version }, secretValues);
    await writeSummary(renderBakeSummary(result));
  });
}
