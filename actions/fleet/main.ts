import { readFileSync, existsSync } from 'node:fs';
import {
  ActionInputs,
  lifecycleOptions,
  runAction,
  setOutputs,
  writeSummary,
} from '@openclawps/actions-common';
import { fleetMatrices, planFleet, rollout } from '@openclawps/lifecycle';

export function run(): Promise<void> {
  return runAction(async () => {
    const inputs = new ActionInputs();
    const manifestPath = inputs.string('manifest', 'claws.yaml');
    const mode = inputs.oneOf('mode', ['plan', 'rollout'] as const, 'plan');
    const options = {
      manifestPath,
      manifestText: existsSync(manifestPath) ? readFileSync(manifestPath, 'utf8') : undefined,
      targetVersion: inputs.string('target-version', 'latest'),
      gallery: inputs.string('gallery', 'clawGallery'),
      imageDefinition: inputs.string('image-definition', 'claw-base'),
      galleryResourceGroup: inputs.string('gallery-resource-group', 'rg-linux-desktop'),
      policy: {
        canary: inputs.list('canary'),
        maxBatchPercent: inputs.int('max-batch-percent', 20, { min: 1, max: 100 }),
        maxUnhealthyPercent: inputs.int('max-unhealthy-percent', 20, { min: 0, max: 100 }),
        maxUnhealthyUpgradedPercent: inputs.int('max-unhealthy-upgraded-percent', 20, { min: 0, max: 100 }),
        pauseSeconds: inputs.int('pause-seconds', 0, { min: 0 }),
        maxParallel: inputs.int('max-parallel', 5, { min: 1, max: 100 }),
      },
      sshPrivateKey: inputs.secret('ssh-private-key') || undefined,
      verifyTimeoutMs: inputs.int('verify-timeout-seconds', 600, { min: 10 }) * 1000,
      ...lifecycleOptions(inputs),
    };
    inputs.assertValid();
    const plan = mode === 'rollout' ? await rollout(options) : await planFleet(options);
    const { matrix, canaryMatrix, allMatrix } = fleetMatrices(plan);
    const claws = plan.batches.reduce((n, b) => n + b.length, 0);
    setOutputs({
      matrix: JSON.stringify(matrix),
      'canary-matrix': JSON.stringify(canaryMatrix),
      'all-matrix': JSON.stringify(allMatrix),
      plan: JSON.stringify(plan),
      count: claws,
    });
    await writeSummary(plan.markdown);
  });
}
