/**
 * fleet: which claws need the target version, in what order, in which batches — the rolling-upgrade policy of
 * VM Scale Sets (max batch %, max unhealthy %, max unhealthy upgraded %, pause between batches, unhealthy
 * claws first), with a canary batch before the rest. `planFleet` only reads; `rollout` runs the plan in one
 * process, batch by batch, and halts (rolling the breaching batch back) when the policy is breached.
 */
import YAML from 'yaml';
import { isResourceGroupName, versionProblem } from '@openclawps/config';
import {
  listManagedVms,
  requireLatestImageVersion,
  type AzureContext,
  type ManagedVm,
} from '@openclawps/azure';
import { azureContextFor, mdCell } from './shared';
import type {
  FleetClawPlan,
  FleetOptions,
  FleetPlan,
  RolloutPolicy,
  UpgradeOptions,
  UpgradeResult,
} from './types';

/** One claw of the manifest (claws.yaml), after defaults are applied. */
export interface ManifestClaw {
  name: string;
  resourceGroup: string;
  location?: string;
  size?: string;
  model?: string;
  telegramUserId?: string;
  /** Name of the GitHub secret that holds this claw's .env. */
  envSecret: string;
  canary: boolean;
}

export interface Manifest {
  fleet: string;
  claws: ManifestClaw[];
}

const CLAW_KEYS = [
  'name',
  'resource-group',
  'location',
  'size',
  'model',
  'telegram-user-id',
  'env-secret',
  'canary',
];
const DEFAULT_KEYS = CLAW_KEYS.filter((k) => k !== 'name' && k !== 'canary' && k !== 'env-secret');
const CLAW_NAME = /^[a-z][a-z0-9-]{0,62}[a-z0-9]$/;
const SECRET_NAME = /^[A-Z_][A-Z0-9_]*$/;

export class ManifestError extends Error {
  constructor(
    readonly problems: string[],
    source = 'claws.yaml',
  ) {
    super(
      `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ManifestError';
  }
}

/** Parses and validates claws.yaml, reporting every problem at once. */
export function parseManifest(text: string, source = 'claws.yaml'): Manifest {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new ManifestError([`not valid YAML: ${(e as Error).message}`], source);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new ManifestError(['expected a mapping with `claws:`'], source);
  const root = doc as Record<string, unknown>;
  for (const k of Object.keys(root))
    if (!['fleet', 'defaults', 'claws'].includes(k))
      problems.push(`unknown top-level key \`${k}\` (expected fleet, defaults, claws)`);
  const defaults = (root.defaults ?? {}) as Record<string, unknown>;
  if (typeof defaults !== 'object' || Array.isArray(defaults)) problems.push('`defaults` must be a mapping');
  for (const k of Object.keys(defaults))
    if (!DEFAULT_KEYS.includes(k))
      problems.push(`defaults: unknown key \`${k}\` (expected ${DEFAULT_KEYS.join(', ')})`);
  const fleet = root.fleet === undefined ? 'default' : String(root.fleet);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(fleet))
    problems.push(`fleet: "${fleet}" must be lower-case letters, digits and dashes`);
  if (!Array.isArray(root.claws) || root.claws.length === 0)
    problems.push('`claws` must be a non-empty list');
  const claws: ManifestClaw[] = [];
  const seen = new Set<string>();
  (Array.isArray(root.claws) ? root.claws : []).forEach((raw, i) => {
    const where = `claws[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push(`${where}: expected a mapping with at least \`name\``);
      return;
    }
    const c = raw as Record<string, unknown>;
    for (const k of Object.keys(c))
      if (!CLAW_KEYS.includes(k))
        problems.push(`${where}: unknown key \`${k}\` (expected ${CLAW_KEYS.join(', ')})`);
    const get = (k: string) => (c[k] ?? defaults[k]) as unknown;
    const name = typeof c.name === 'string' ? c.name : '';
    const label = name ? `${where} (${name})` : where;
    if (!CLAW_NAME.test(name))
      problems.push(
        `${label}: name must be 2-64 lower-case letters, digits or dashes, starting with a letter`,
      );
    if (seen.has(name)) problems.push(`${label}: duplicate claw name`);
    seen.add(name);
    const resourceGroup = String(get('resource-group') ?? 'rg-linux-desktop');
    if (!isResourceGroupName(resourceGroup))
      problems.push(`${label}: resource-group "${resourceGroup}" is not a valid resource group name`);
    const userId = get('telegram-user-id');
    if (userId !== undefined && !/^\d{1,20}$/.test(String(userId)))
      problems.push(`${label}: telegram-user-id must be numeric`);
    const envSecret =
      c['env-secret'] === undefined
        ? `CLAW_ENV_${name.toUpperCase().replace(/-/g, '_')}`
        : String(c['env-secret']);
    if (!SECRET_NAME.test(envSecret))
      problems.push(`${label}: env-secret "${envSecret}" is not a GitHub secret name (A-Z, 0-9, _)`);
    if (c.canary !== undefined && typeof c.canary !== 'boolean')
      problems.push(`${label}: canary must be true or false`);
    claws.push({
      name,
      resourceGroup,
      location: get('location') === undefined ? undefined : String(get('location')),
      size: get('size') === undefined ? undefined : String(get('size')),
      model: get('model') === undefined ? undefined : String(get('model')),
      telegramUserId: userId === undefined ? undefined : String(userId),
      envSecret,
      canary: c.canary === true,
    });
  });
  if (problems.length) throw new ManifestError(problems, source);
  return { fleet, claws };
}

export class FleetPolicyError extends Error {
  constructor(
    message: string,
    readonly plan?: FleetPlan,
  ) {
    super(message);
    this.name = 'FleetPolicyError';
  }
}

function policyProblems(p: RolloutPolicy): string[] {
  const out: string[] = [];
  const pct = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min || v > 100) out.push(`${name} must be ${min}..100, got ${v}`);
  };
  pct('max-batch-percent', p.maxBatchPercent, 1);
  pct('max-unhealthy-percent', p.maxUnhealthyPercent, 0);
  pct('max-unhealthy-upgraded-percent', p.maxUnhealthyUpgradedPercent, 0);
  if (!Number.isInteger(p.maxParallel) || p.maxParallel < 1)
    out.push(`max-parallel must be at least 1, got ${p.maxParallel}`);
  if (!Number.isInteger(p.pauseSeconds) || p.pauseSeconds < 0)
    out.push(`pause-seconds must be 0 or more, got ${p.pauseSeconds}`);
  return out;
}

/** Health as Azure shows it: running and no failed/ongoing upgrade = healthy. */
export function azureHealth(vm: ManagedVm | undefined): FleetClawPlan['health'] {
  if (!vm) return 'unknown';
  if (vm.upgradeTag) return 'unhealthy';
  if (vm.state.provisioningState === 'Failed') return 'unhealthy';
  if (vm.state.power === 'running') return 'healthy';
  if (vm.state.power === 'unknown') return 'unknown';
  return 'unhealthy';
}

interface FleetView {
  manifest?: Manifest;
  vms: ManagedVm[];
  targetVersion: string;
  claws: FleetClawPlan[];
  drift: string[];
}

async function readFleet(o: FleetOptions, ctx: AzureContext): Promise<FleetView> {
  const manifest =
    o.manifestText !== undefined ? parseManifest(o.manifestText, o.manifestPath ?? 'claws.yaml') : undefined;
  const problems = policyProblems(o.policy);
  if (o.targetVersion !== 'latest') {
    const vp = versionProblem(o.targetVersion);
    if (vp) problems.push(`target-version: ${vp} (or use latest)`);
  }
  if (manifest) {
    for (const c of o.policy.canary)
      if (!manifest.claws.some((m) => m.name === c))
        problems.push(`canary: ${c} is not in ${o.manifestPath ?? 'claws.yaml'}`);
  }
  if (problems.length) throw new ManifestError(problems, 'fleet inputs');

  const targetVersion =
    o.targetVersion === 'latest'
      ? (
          await requireLatestImageVersion(
            ctx,
            { resourceGroup: o.galleryResourceGroup, gallery: o.gallery, definition: o.imageDefinition },
            { signal: o.signal },
          )
        ).version
      : o.targetVersion;
  const vms = (await listManagedVms(ctx, { signal: o.signal })).filter(
    (v) =>
      !manifest || !v.fleet || v.fleet === manifest.fleet || manifest.claws.some((c) => c.name === v.claw),
  );
  const drift: string[] = [];
  const byName = new Map(vms.map((v) => [v.claw, v]));
  const entries: Array<{ name: string; resourceGroup: string; envSecret?: string; canary: boolean }> =
    manifest
      ? manifest.claws.map((c) => ({
          name: c.name,
          resourceGroup: c.resourceGroup,
          envSecret: c.envSecret,
          canary: c.canary,
        }))
      : vms.map((v) => ({ name: v.claw, resourceGroup: v.resourceGroup, canary: false }));
  if (manifest) {
    for (const c of manifest.claws) {
      const vm = byName.get(c.name);
      if (!vm) drift.push(`${c.name}: in the manifest but no VM in Azure (stamp it)`);
      else {
        if (vm.resourceGroup.toLowerCase() !== c.resourceGroup.toLowerCase())
          drift.push(
            `${c.name}: manifest says resource group ${c.resourceGroup}, Azure has ${vm.resourceGroup}`,
          );
        if (c.location && vm.location.toLowerCase() !== c.location.toLowerCase())
          drift.push(`${c.name}: manifest says location ${c.location}, Azure has ${vm.location}`);
        if (c.size && vm.vm.hardwareProfile?.vmSize && vm.vm.hardwareProfile.vmSize !== c.size)
          drift.push(`${c.name}: manifest says size ${c.size}, Azure has ${vm.vm.hardwareProfile.vmSize}`);
      }
    }
    for (const v of vms)
      if (!manifest.claws.some((c) => c.name === v.claw))
        drift.push(`${v.claw}: managed VM in Azure (${v.resourceGroup}) but not in the manifest`);
  }
  const claws: FleetClawPlan[] = entries.map((e) => {
    const vm = byName.get(e.name);
    return {
      claw: e.name,
      resourceGroup: vm?.resourceGroup ?? e.resourceGroup,
      currentVersion: vm?.imageVersion ?? (vm ? 'unknown' : 'missing'),
      targetVersion,
      health: azureHealth(vm),
      batch: -1,
      ...(e.envSecret ? { envSecret: e.envSecret } : {}),
    };
  });
  return { manifest, vms, targetVersion, claws, drift };
}

/**
 * Orders and batches the claws that need the target: the canary batch first (named canaries, manifest
 * `canary: true`, else the first claw in order), then batches of at most max-batch-percent of the fleet,
 * unhealthy claws first within the order (they are the ones an upgrade is most likely to fix).
 */
export function batchClaws(
  claws: FleetClawPlan[],
  policy: RolloutPolicy,
  manifestCanaries: string[] = [],
): FleetClawPlan[][] {
  const pending = claws.filter((c) => c.currentVersion !== 'missing' && c.currentVersion !== c.targetVersion);
  const rank = (c: FleetClawPlan) => (c.health === 'unhealthy' ? 0 : c.health === 'unknown' ? 1 : 2);
  pending.sort((a, b) => rank(a) - rank(b) || (a.claw < b.claw ? -1 : a.claw > b.claw ? 1 : 0));
  if (!pending.length) return [];
  const named = new Set([...policy.canary, ...manifestCanaries]);
  let canary = pending.filter((c) => named.has(c.claw));
  if (!canary.length) canary = [pending[0]];
  const rest = pending.filter((c) => !canary.includes(c));
  const size = Math.max(1, Math.floor((claws.length * policy.maxBatchPercent) / 100));
  const batches: FleetClawPlan[][] = [canary];
  for (let i = 0; i < rest.length; i += size) batches.push(rest.slice(i, i + size));
  return batches.map((b, i) => b.map((c) => ({ ...c, batch: i })));
}

function unhealthyPercent(claws: FleetClawPlan[]): number {
  return claws.length ? (100 * claws.filter((c) => c.health === 'unhealthy').length) / claws.length : 0;
}

export async function planFleet(o: FleetOptions): Promise<FleetPlan> {
  const ctx = azureContextFor(o.azure);
  const view = await readFleet(o, ctx);
  return buildPlan(view, o.policy);
}

function buildPlan(view: FleetView, policy: RolloutPolicy): FleetPlan {
  const canaries = view.manifest?.claws.filter((c) => c.canary).map((c) => c.name) ?? [];
  const batches = batchClaws(view.claws, policy, canaries);
  const inBatch = new Map(batches.flat().map((c) => [c.claw, c.batch]));
  const claws = view.claws.map((c) => ({ ...c, batch: inBatch.get(c.claw) ?? -1 }));
  const plan: FleetPlan = {
    targetVersion: view.targetVersion,
    batches,
    claws,
    upToDate: claws.filter((c) => c.currentVersion === c.targetVersion).map((c) => c.claw),
    drift: view.drift,
    markdown: '',
  };
  plan.markdown = renderFleetMarkdown(plan, policy);
  const unhealthy = unhealthyPercent(claws);
  if (batches.length && unhealthy > policy.maxUnhealthyPercent) {
    throw new FleetPolicyError(
      `fleet: ${unhealthy.toFixed(0)}% of the fleet is unhealthy before the rollout, above max-unhealthy-percent ${policy.maxUnhealthyPercent}%; fix or remove the unhealthy claws first`,
      plan,
    );
  }
  return plan;
}

export function renderFleetMarkdown(
  plan: FleetPlan,
  policy: RolloutPolicy,
  results: Map<string, string> = new Map(),
): string {
  const lines = [
    `### Fleet rollout to ${plan.targetVersion}`,
    '',
    `${plan.batches.reduce((n, b) => n + b.length, 0)} claw(s) to upgrade in ${plan.batches.length} batch(es) (canary first, at most ${policy.maxBatchPercent}% per batch); ${plan.upToDate.length} up to date.`,
    '',
    '| claw | resource group | current version | target | health | batch |' +
      (results.size ? ' result |' : ''),
    '|---|---|---|---|---|---|' + (results.size ? '---|' : ''),
    ...plan.claws.map(
      (c) =>
        `| ${mdCell(c.claw)} | ${mdCell(c.resourceGroup)} | ${mdCell(c.currentVersion)} | ${c.targetVersion} | ${c.health} | ${c.batch < 0 ? '–' : c.batch === 0 ? 'canary' : c.batch} |` +
        (results.size ? ` ${mdCell(results.get(c.claw) ?? '')} |` : ''),
    ),
  ];
  if (plan.drift.length)
    lines.push(
      '',
      '**Drift between the manifest and Azure**',
      '',
      ...plan.drift.map((d) => `- ${mdCell(d)}`),
    );
  return `${lines.join('\n')}\n`;
}

/** strategy.matrix documents: the canary batch, the rest in batch order, and every claw (nightly verify). */
export function fleetMatrices(plan: FleetPlan): {
  matrix: { include: Array<Record<string, string | number>> };
  canaryMatrix: { include: Array<Record<string, string | number>> };
  allMatrix: { include: Array<Record<string, string | number>> };
} {
  const entry = (c: FleetClawPlan) => ({
    claw: c.claw,
    'resource-group': c.resourceGroup,
    'current-version': c.currentVersion,
    'target-version': c.targetVersion,
    batch: c.batch,
    ...(c.envSecret ? { 'env-secret': c.envSecret } : {}),
  });
  return {
    canaryMatrix: { include: (plan.batches[0] ?? []).map(entry) },
    matrix: { include: plan.batches.slice(1).flat().map(entry) },
    allMatrix: { include: plan.claws.filter((c) => c.currentVersion !== 'missing').map(entry) },
  };
}

/** How rollout upgrades one claw; the default is this package's upgrade(). Injected for the benchmark. */
export type ClawUpgrader = (options: UpgradeOptions) => Promise<UpgradeResult>;

export interface RolloutResult extends FleetPlan {
  halted: boolean;
  results: Array<{
    claw: string;
    batch: number;
    ok: boolean;
    rolledBack: boolean;
    version: string;
    error?: string;
  }>;
}

/**
 * Runs the plan: batches in order, claws of a batch in parallel up to max-parallel. After each batch the
 * upgraded claws' health is compared with max-unhealthy-upgraded-percent; a breach rolls the batch's
 * successful upgrades back to their previous version and halts. Throws FleetPolicyError on a halt.
 */
export async function rollout(o: FleetOptions & { upgrader?: ClawUpgrader }): Promise<RolloutResult> {
  const ctx = azureContextFor(o.azure);
  const view = await readFleet(o, ctx);
  const plan = buildPlan(view, o.policy);
  const results: RolloutResult['results'] = [];
  const upgradeClaw =
    o.upgrader ??
    (async (u: UpgradeOptions) => {
      const { upgrade } = await import('./upgrade');
      return upgrade(u);
    });
  const base = (c: FleetClawPlan, version: string, force = false): UpgradeOptions => ({
    azure: o.azure,
    reporter: o.reporter,
    signal: o.signal,
    sshPort: o.sshPort,
    clawName: c.claw,
    resourceGroup: c.resourceGroup,
    imageVersion: version,
    gallery: o.gallery,
    imageDefinition: o.imageDefinition,
    galleryResourceGroup: o.galleryResourceGroup,
    force,
    snapshotRetention: 3,
    keepOsDisks: 0,
    sshPrivateKey: o.sshPrivateKey,
    verifyTimeoutMs: o.verifyTimeoutMs ?? 600_000,
  });
  if (o.dryRun) return { ...plan, halted: false, results };

  let halted = false;
  let upgraded = 0;
  let unhealthyUpgraded = 0;
  for (const batch of plan.batches) {
    if (o.signal?.aborted) throw new Error('rollout interrupted');
    const label = batch[0]?.batch === 0 ? 'canary batch' : `batch ${batch[0]?.batch}`;
    o.reporter.info(`${label}: ${batch.map((c) => c.claw).join(', ')}`);
    const outcomes = await mapLimit(batch, o.policy.maxParallel, async (c) => {
      try {
        const r = await upgradeClaw(base(c, plan.targetVersion));
        const ok = r.healthy && !r.rolledBack;
        return {
          claw: c.claw,
          batch: c.batch,
          ok,
          rolledBack: r.rolledBack,
          version: r.version,
          previous: r.previousVersion,
        };
      } catch (e) {
        return {
          claw: c.claw,
          batch: c.batch,
          ok: false,
          rolledBack: false,
          version: c.currentVersion,
          previous: c.currentVersion,
          error: (e as Error).message,
        };
      }
    });
    upgraded += outcomes.length;
    unhealthyUpgraded += outcomes.filter((r) => !r.ok).length;
    const pct = (100 * unhealthyUpgraded) / upgraded;
    for (const r of outcomes) {
      results.push({
        claw: r.claw,
        batch: r.batch,
        ok: r.ok,
        rolledBack: r.rolledBack,
        version: r.version,
        ...(r.error ? { error: r.error } : {}),
      });
      o.reporter.info(
        `  ${r.claw}: ${r.ok ? `upgraded to ${r.version}` : r.rolledBack ? 'verify failed, rolled back' : `failed: ${r.error ?? 'unhealthy'}`}`,
      );
    }
    if (pct > o.policy.maxUnhealthyUpgradedPercent) {
      halted = true;
      o.reporter.error(
        `${label}: ${pct.toFixed(0)}% of upgraded claws are unhealthy, above max-unhealthy-upgraded-percent ${o.policy.maxUnhealthyUpgradedPercent}%: rolling the batch back and halting`,
      );
      for (const r of outcomes.filter((x) => x.ok && x.previous && x.previous !== 'unknown')) {
        const c = batch.find((x) => x.claw === r.claw);
        if (!c) continue;
        try {
          await upgradeClaw(base(c, r.previous, true));
          const entry = results.find((x) => x.claw === r.claw);
          if (entry) Object.assign(entry, { ok: false, rolledBack: true, version: r.previous });
          o.reporter.info(`  ${r.claw}: rolled back to ${r.previous}`);
        } catch (e) {
          o.reporter.error(`  ${r.claw}: rollback to ${r.previous} failed: ${(e as Error).message}`);
        }
      }
      break;
    }
    if (o.policy.pauseSeconds && batch !== plan.batches[plan.batches.length - 1]) {
      await new Promise((res) => setTimeout(res, o.policy.pauseSeconds * 1000));
    }
  }
  const resultText = new Map(
    results.map((r) => [
      r.claw,
      r.ok ? `upgraded to ${r.version}` : r.rolledBack ? `rolled back (${r.version})` : 'failed',
    ]),
  );
  const done: RolloutResult = {
    ...plan,
    halted,
    results,
    markdown: renderFleetMarkdown(plan, o.policy, resultText),
  };
  if (halted) throw new FleetPolicyError(`fleet rollout halted: policy breached (see the summary)`, done);
  return done;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}
