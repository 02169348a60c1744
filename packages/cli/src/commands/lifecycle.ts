/** bake, stamp, upgrade, verify, fleet: flags mirror the actions' inputs. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { Reporter } from '@openclawps/config';
import { bake, planFleet, rollout, stamp, upgrade, verify } from '@openclawps/lifecycle';
import { addAzureFlags, azureFromFlags, type AzureFlagValues, UsageError } from '../azure-flags';
import { createCliReporter, EXIT, printResult } from '../output';
import type { Register } from './index';

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new UsageError([`${name} must be a whole number, got "${v}"`]);
  return Number(v);
};
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const readText = (path?: string) => (path ? readFileSync(path, 'utf8') : undefined);

/** What bake, stamp, upgrade and fleet share: dry-run, SSH port, the Azure connection, the log, Ctrl-C. */
function lifecycleFromFlags(o: AzureFlagValues & { sshPort: number }, reporter: Reporter) {
  return {
    dryRun: o.dryRun,
    sshPort: o.sshPort,
    azure: azureFromFlags(o),
    reporter,
    signal: interruptSignal(),
  };
}

/** Wires SIGINT/SIGTERM to an AbortSignal so long operations stop cleanly. */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}

export const registerLifecycle: Register = (program, setExit) => {
  addAzureFlags(
    program
      .command('bake')
      .description(
        'build a clean image from stock Ubuntu 24.04 (or capture --source-vm), scrub, secret-scan, publish x.y.z',
      )
      .requiredOption('--version <x.y.z>', 'image version to create')
      .option('--resource-group <name>', 'resource group of the gallery', 'rg-linux-desktop')
      .option('--location <region>', 'region of the gallery and builder', 'eastus')
      .option('--gallery <name>', 'Azure Compute Gallery', 'clawGallery')
      .option('--image-definition <name>', 'image definition', 'claw-base')
      .option('--source-vm <name>', 'capture this VM instead of building a builder')
      .option('--ssh-key <file>', 'with --source-vm: private key authorised for its admin user')
      .option('--profile <profile>', 'desktop | minimal', 'desktop')
      .option('--builder-size <size>', 'VM size of the builder', 'Standard_D2s_v3')
      .option('--target-regions <list>', 'comma-separated replication regions', list, [])
      .option('--replica-count <n>', 'replicas per region', int('--replica-count'), 1)
      .option('--exclude-from-latest', 'never picked as latest (canaries)', false)
      .option('--extra-updates <dir>', 'extra NNN-name.sh migrations to bake in')
      .option('--secret-values-file <path>', 'file with secret values (one per line) the scan must not find')
      .option(
        '--cloud-init-timeout-minutes <n>',
        'builder cloud-init timeout',
        int('--cloud-init-timeout-minutes'),
        40,
      )
      .option('--json', 'print a JSON result', false),
  ).action(async (o) => {
    const reporter = createCliReporter({ json: o.json });
    const secretValues = (readText(o.secretValuesFile) ?? '').split('\n').filter((s) => s.trim());
    secretValues.forEach((s) => reporter.setSecret(s));
    if (!['desktop', 'minimal'].includes(o.profile))
      throw new UsageError([`--profile must be desktop or minimal, got "${o.profile}"`]);
    const result = await bake({
      version: o.version,
      resourceGroup: o.resourceGroup,
      location: o.location,
      gallery: o.gallery,
      imageDefinition: o.imageDefinition,
      sourceVm: o.sourceVm,
      profile: o.profile,
      builderSize: o.builderSize,
      targetRegions: o.targetRegions,
      replicaCount: o.replicaCount,
      excludeFromLatest: o.excludeFromLatest,
      extraUpdatesDir: o.extraUpdates,
      secretValues,
      sshPrivateKey: readText(o.sshKey),
      cloudInitTimeoutMs: o.cloudInitTimeoutMinutes * 60_000,
      ...lifecycleFromFlags(o, reporter),
    });
    reporter.done();
    printResult(o.json, result, () => [`image version ${result.version}: ${result.imageVersionId}`]);
  });

  addAzureFlags(
    program
      .command('stamp')
      .description(
        'create one claw from a gallery version (or --source ubuntu) with a fresh data disk; re-running converges',
      )
      .requiredOption('--env <file>', "the claw's .env (secrets and settings, parsed as data)")
      .option('--claw <name>', 'claw name (overrides CLAW_NAME in the .env)')
      .option('--resource-group <name>', 'overrides RESOURCE_GROUP')
      .option('--location <region>', 'overrides LOCATION')
      .option('--vm-size <size>', 'overrides VM_SIZE')
      .option('--image-version <x.y.z>', 'overrides IMAGE_VERSION (default latest)')
      .option('--gallery <name>', 'overrides GALLERY_NAME')
      .option('--image-definition <name>', 'overrides IMAGE_DEFINITION')
      .option('--source <source>', 'gallery | ubuntu (stock Ubuntu 24.04 + full cloud-init)', 'gallery')
      .option(
        '--ssh-key <file>',
        'OpenSSH private key for the admin user (default: one generated for this run)',
      )
      .option('--verify-timeout-seconds <n>', 'wait for SSH and boot', int('--verify-timeout-seconds'), 600)
      .option('--json', 'print a JSON result', false),
  ).action(async (o) => {
    const reporter = createCliReporter({ json: o.json });
    const overrides: Record<string, string> = {};
    const map: Record<string, string> = {
      claw: 'CLAW_NAME',
      resourceGroup: 'RESOURCE_GROUP',
      location: 'LOCATION',
      vmSize: 'VM_SIZE',
      imageVersion: 'IMAGE_VERSION',
      gallery: 'GALLERY_NAME',
      imageDefinition: 'IMAGE_DEFINITION',
    };
    for (const [flag, variable] of Object.entries(map))
      if (o[flag] && o[flag] !== 'latest') overrides[variable] = o[flag];
    if (!['gallery', 'ubuntu'].includes(o.source))
      throw new UsageError([`--source must be gallery or ubuntu, got "${o.source}"`]);
    const result = await stamp({
      envText: readFileSync(o.env, 'utf8'),
      overrides,
      source: o.source,
      sshPrivateKey: readText(o.sshKey),
      verifyTimeoutMs: o.verifyTimeoutSeconds * 1000,
      ...lifecycleFromFlags(o, reporter),
    });
    reporter.done();
    if (o.dryRun) return;
    printResult(o.json, result, () => [
      `claw ${result.vmName} ${result.changed ? 'ready' : 'unchanged'} on ${result.imageVersion}`,
      `  ssh:  ${result.sshCommand}`,
      `  vnc:  ${result.vncUrl}`,
      `  disk: ${result.dataDiskId}`,
      `  host key: ${result.hostKeyFingerprint}`,
      `  healthy: ${result.healthy}`,
    ]);
    if (!result.healthy) setExit(EXIT.unhealthy);
  });

  addAzureFlags(
    program
      .command('upgrade')
      .description(
        'move a claw to another image version keeping its data disk, NIC and IP; rolls back on failure',
      )
      .requiredOption('--claw <name>', 'claw to upgrade')
      .option('--resource-group <name>', 'resource group of the claw', 'rg-linux-desktop')
      .option('--image-version <x.y.z|latest>', 'target version', 'latest')
      .option('--gallery <name>', 'Azure Compute Gallery', 'clawGallery')
      .option('--image-definition <name>', 'image definition', 'claw-base')
      .option('--force', 'upgrade even when already on the target', false)
      .option('--env <file>', 'new .env to rotate secrets (default: keep the disk’s)')
      .option('--snapshot-retention <n>', 'upgrade snapshots to keep', int('--snapshot-retention'), 3)
      .option('--keep-os-disks <n>', 'previous OS disks to keep', int('--keep-os-disks'), 0)
      .option('--ssh-key <file>', 'OpenSSH private key for the admin user')
      .option('--verify-timeout-seconds <n>', 'wait for SSH and boot', int('--verify-timeout-seconds'), 600)
      .addOption(
        new Option(
          '--stop-method <method>',
          'ssh: stop the services over SSH, then delete the running VM (deallocate if SSH fails); deallocate: always deallocate first',
        )
          .choices(['ssh', 'deallocate'])
          .default('ssh'),
      )
      .option('--json', 'print a JSON result', false),
  ).action(async (o) => {
    const reporter = createCliReporter({ json: o.json });
    const result = await upgrade({
      clawName: o.claw,
      resourceGroup: o.resourceGroup,
      imageVersion: o.imageVersion,
      gallery: o.gallery,
      imageDefinition: o.imageDefinition,
      force: o.force,
      envText: readText(o.env),
      snapshotRetention: o.snapshotRetention,
      keepOsDisks: o.keepOsDisks,
      sshPrivateKey: readText(o.sshKey),
      verifyTimeoutMs: o.verifyTimeoutSeconds * 1000,
      stopMethod: o.stopMethod,
      ...lifecycleFromFlags(o, reporter),
    });
    reporter.done();
    if (o.dryRun) return;
    printResult(o.json, result, () => [
      `${o.claw}: ${result.previousVersion} -> ${result.version}${result.rolledBack ? ' (ROLLED BACK)' : ''}, downtime ${result.downtimeSeconds} s`,
    ]);
    if (result.rolledBack || !result.healthy) setExit(EXIT.unhealthy);
  });

  program
    .command('verify')
    .description('run the health checks over one SSH connection')
    .option('--host <host>', 'host or IP (default: look up --claw in Azure)')
    .option('--claw <name>', 'claw to look up when --host is not given')
    .option('--resource-group <name>', 'resource group of the claw', 'rg-linux-desktop')
    .option('--port <n>', 'SSH port', int('--port'), 22)
    .option('--user <name>', 'SSH user', 'azureuser')
    .option('--ssh-key <file>', 'OpenSSH private key')
    .option('--password-env <var>', 'name of an environment variable holding the SSH password')
    .option('--host-key-fingerprint <sha256>', 'expected host key (SHA256:...)')
    .option('--timeout-seconds <n>', 'keep retrying until reachable', int('--timeout-seconds'), 300)
    .option('--subscription <id>', 'Azure subscription (only with --claw)')
    .option('--endpoint <url>', 'ARM endpoint (only with --claw)')
    .option('--auth <kind>', 'cli | default | oidc | static', 'cli')
    .option('--ca-file <path>', 'PEM CA of the ARM endpoint')
    .option('--text', 'print the checks as a table instead of a summary', false)
    .option('--json', 'print the verify report as JSON', false)
    .action(async (o) => {
      if (!o.host && !o.claw) throw new UsageError(['give --host, or --claw with Azure flags']);
      const reporter = createCliReporter({ json: o.json });
      const password = o.passwordEnv ? process.env[o.passwordEnv] : undefined;
      if (password) reporter.setSecret(password);
      const result = await verify({
        host: o.host,
        clawName: o.claw,
        resourceGroup: o.resourceGroup,
        azure: o.host ? undefined : azureFromFlags({ ...o, dryRun: false } as AzureFlagValues),
        port: o.port,
        username: o.user,
        privateKey: readText(o.sshKey),
        password,
        hostKeyFingerprint: o.hostKeyFingerprint,
        timeoutMs: o.timeoutSeconds * 1000,
        reporter,
        signal: interruptSignal(),
      });
      printResult(o.json, result.report, () =>
        o.text
          ? result.report.checks.map(
              (c) => `${c.status.toUpperCase().padEnd(5)} ${c.id.padEnd(28)} ${c.detail}`,
            )
          : [result.healthy ? 'healthy' : `UNHEALTHY: ${result.failedChecks.join(', ')}`],
      );
      if (!result.healthy) setExit(EXIT.unhealthy);
    });

  addAzureFlags(
    program
      .command('fleet')
      .description('plan (or with --rollout run) a canary-first rolling upgrade of the fleet')
      .option('--manifest <file>', 'fleet manifest', 'claws.yaml')
      .option('--target-version <x.y.z|latest>', 'version to roll out', 'latest')
      .option('--rollout', 'run the whole rollout in this process', false)
      .option('--canary <names>', 'comma-separated canary claws', list, [])
      .option('--max-batch-percent <n>', 'largest batch as % of the fleet', int('--max-batch-percent'), 20)
      .option(
        '--max-unhealthy-percent <n>',
        'halt above this % unhealthy',
        int('--max-unhealthy-percent'),
        20,
      )
      .option(
        '--max-unhealthy-upgraded-percent <n>',
        'halt above this % of upgraded unhealthy',
        int('--max-unhealthy-upgraded-percent'),
        20,
      )
      .option('--pause-seconds <n>', 'pause between batches', int('--pause-seconds'), 0)
      .option('--max-parallel <n>', 'claws at once within a batch', int('--max-parallel'), 5)
      .option('--gallery <name>', 'Azure Compute Gallery', 'clawGallery')
      .option('--image-definition <name>', 'image definition', 'claw-base')
      .option('--gallery-resource-group <name>', 'resource group of the gallery', 'rg-linux-desktop')
      .option('--json', 'print the plan as JSON', false),
  ).action(async (o) => {
    const reporter = createCliReporter({ json: o.json });
    const options = {
      manifestPath: o.manifest,
      manifestText: readText(o.manifest),
      targetVersion: o.targetVersion,
      gallery: o.gallery,
      imageDefinition: o.imageDefinition,
      galleryResourceGroup: o.galleryResourceGroup,
      policy: {
        canary: o.canary,
        maxBatchPercent: o.maxBatchPercent,
        maxUnhealthyPercent: o.maxUnhealthyPercent,
        maxUnhealthyUpgradedPercent: o.maxUnhealthyUpgradedPercent,
        pauseSeconds: o.pauseSeconds,
        maxParallel: o.maxParallel,
      },
      ...lifecycleFromFlags(o, reporter),
    };
    const plan = o.rollout ? await rollout(options) : await planFleet(options);
    printResult(o.json, plan, () => [plan.markdown]);
  });
};

export type { Command };
