import {
  ActionInputs,
  lifecycleOptions,
  runAction,
  setOutputs,
  writeSummary,
} from '@openclawps/actions-common';
import { renderStampSummary, stamp } from '@openclawps/lifecycle';

/** Inputs that override the .env's deployment settings when given (empty = the .env's value or default). */
const SETTING_INPUTS: Record<string, string> = {
  'resource-group': 'RESOURCE_GROUP',
  location: 'LOCATION',
  'vm-size': 'VM_SIZE',
  'image-version': 'IMAGE_VERSION',
  gallery: 'GALLERY_NAME',
  'image-definition': 'IMAGE_DEFINITION',
  'data-disk-size-gb': 'DATA_DISK_SIZE_GB',
  'data-disk-sku': 'DATA_DISK_SKU',
  'admin-user': 'ADMIN_USER',
  'vnc-exposure': 'VNC_EXPOSURE',
  'ssh-source-cidrs': 'SSH_SOURCE_CIDRS',
  fleet: 'FLEET',
};

export function run(): Promise<void> {
  return runAction(async () => {
    const inputs = new ActionInputs();
    const envText = inputs.secret('env');
    if (!envText) inputs.required('env');
    const overrides: Record<string, string> = { CLAW_NAME: inputs.required('claw-name') };
    const given = {
      'resource-group': inputs.string('resource-group'),
      location: inputs.string('location'),
      'vm-size': inputs.string('vm-size'),
      'image-version': inputs.string('image-version'),
      gallery: inputs.string('gallery'),
      'image-definition': inputs.string('image-definition'),
      'data-disk-size-gb': inputs.string('data-disk-size-gb'),
      'data-disk-sku': inputs.string('data-disk-sku'),
      'admin-user': inputs.string('admin-user'),
      'vnc-exposure': inputs.string('vnc-exposure'),
      'ssh-source-cidrs': inputs.string('ssh-source-cidrs'),
      fleet: inputs.string('fleet'),
    };
    for (const [input, value] of Object.entries(given)) {
      if (value && !(input === 'image-version' && value === 'latest'))
        overrides[SETTING_INPUTS[input]] = value;
    }
    const options = {
      envText,
      overrides,
      source: inputs.oneOf('source', ['gallery', 'ubuntu'] as const, 'gallery'),
      sshPrivateKey: inputs.secret('ssh-private-key') || undefined,
      verifyTimeoutMs: inputs.int('verify-timeout-seconds', 600, { min: 10 }) * 1000,
      ...lifecycleOptions(inputs),
    };
    inputs.assertValid();
    const result = await stamp(options);
    if (options.dryRun) return;
    setOutputs(
      {
        'vm-name': result.vmName,
        'public-ip': result.publicIp,
        'ssh-command': result.sshCommand,
        'vnc-url': result.vncUrl,
        'image-version': result.imageVersion,
        'data-disk-id': result.dataDiskId,
        'host-key-fingerprint': result.hostKeyFingerprint,
      },
      [envText, options.sshPrivateKey ?? ''],
    );
    await writeSummary(renderStampSummary(result));
    if (!result.healthy)
      throw new Error(`claw ${result.vmName} was created but verify failed: see the summary`);
  });
}
