import type {
  NetworkInterface,
  NetworkSecurityGroup,
  PublicIPAddress,
  SecurityRule,
  Subnet,
  VirtualNetwork,
} from '@azure/arm-network';
import type { AzureContext } from '../context';
import { AzureOperationError } from '../errors';
import { ids, names, sameId } from '../ids';
import { assertOwned, managedTags, mergeTags, type Tags } from '../tags';
import { armCall, conflict, requireLocation, tryGet, type EnsureResult, type OpOptions } from './common';

export const VNET_ADDRESS_SPACE = '10.0.0.0/16';
export const SUBNET_PREFIX = '10.0.0.0/24';
/** Prefix of the NSG rules OpenClawps owns; other rules in the NSG are the user's and left alone. */
export const RULE_PREFIX = 'openclawps-';

export type VncExposure = 'localhost' | 'public';

export interface NsgRuleIntent {
  /** CIDRs (or service tags) allowed to reach SSH 22. Required, non-empty: we fail closed. */
  sshSourceCidrs: string[];
  /** `public` opens 5900; `localhost` (default) keeps VNC reachable only through an SSH tunnel. */
  vncExposure?: VncExposure;
  /** Sources for 5900 when public; default sshSourceCidrs. */
  vncSourceCidrs?: string[];
}

/** The least-privilege inbound rules for the shared NSG. */
export function desiredSecurityRules(intent: NsgRuleIntent): SecurityRule[] {
  const problems: string[] = [];
  if (!intent.sshSourceCidrs?.length)
    problems.push('sshSourceCidrs must list at least one source CIDR for SSH');
  const vncPublic = intent.vncExposure === 'public';
  const vncSources = intent.vncSourceCidrs?.length ? intent.vncSourceCidrs : intent.sshSourceCidrs;
  for (const c of [...(intent.sshSourceCidrs ?? []), ...(vncPublic ? (vncSources ?? []) : [])]) {
    if (!isSourcePrefix(c)) problems.push(`'${c}' is not a CIDR, an IP address, '*' or a service tag`);
  }
  if (problems.length) {
    throw new AzureOperationError({ code: 'InvalidInput', message: `NSG rules: ${problems.join('; ')}.` });
  }
  const rule = (name: string, priority: number, port: string, sources: string[], description: string) =>
    ({
      name,
      description,
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      priority,
      sourcePortRange: '*',
      destinationPortRange: port,
      destinationAddressPrefix: '*',
      ...(sources.length === 1
        ? { sourceAddressPrefix: sources[0] }
        : { sourceAddressPrefixes: [...sources] }),
    }) satisfies SecurityRule;
  const rules = [rule(`${RULE_PREFIX}ssh`, 1000, '22', intent.sshSourceCidrs, 'SSH to claws (OpenClawps)')];
  if (vncPublic)
    rules.push(rule(`${RULE_PREFIX}vnc`, 1010, '5900', vncSources, 'VNC to claws (vncExposure=public)'));
  return rules;
}

function isSourcePrefix(s: string): boolean {
  if (s === '*') return true;
  if (/^[A-Za-z][A-Za-z0-9.]*$/.test(s)) return true; // service tag (Internet, AzureCloud, AzureCloud.westeurope)
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(s);
  if (m) return m.slice(1, 5).every((o) => Number(o) <= 255) && (m[5] === undefined || Number(m[5]) <= 32);
  return /^[0-9a-fA-F:]+(?:\/\d{1,3})?$/.test(s) && s.includes(':');
}

function ruleKey(r: SecurityRule): string {
  const sources = [
    ...(r.sourceAddressPrefixes?.length ? r.sourceAddressPrefixes : [r.sourceAddressPrefix ?? '']),
  ]
    .map((s) => s.toLowerCase())
    .sort();
  const ports = r.destinationPortRanges?.length
    ? [...r.destinationPortRanges].sort()
    : [r.destinationPortRange ?? ''];
  return JSON.stringify([
    (r.name ?? '').toLowerCase(),
    (r.protocol ?? '').toLowerCase(),
    (r.access ?? '').toLowerCase(),
    (r.direction ?? '').toLowerCase(),
    r.priority,
    r.sourcePortRange ?? '*',
    ports,
    r.destinationAddressPrefix ?? '*',
    sources,
  ]);
}

/** Strip read-only fields so a rule read from Azure can be sent back. */
function writableRule(r: SecurityRule): SecurityRule {
  const { etag: _e, provisioningState: _p, ...rest } = r as SecurityRule & { etag?: string };
  return rest;
}

export interface EnsureNsgParams extends NsgRuleIntent {
  resourceGroup: string;
  location?: string;
  name?: string;
  fleet?: string;
  tags?: Tags;
}

export async function ensureNetworkSecurityGroup(
  ctx: AzureContext,
  params: EnsureNsgParams,
  opts: OpOptions = {},
): Promise<EnsureResult<NetworkSecurityGroup>> {
  const name = params.name ?? names.nsg(params.resourceGroup);
  const rg = params.resourceGroup;
  const wantRules = desiredSecurityRules(params);
  const existing = await tryGet(`networkSecurityGroups.get ${name}`, () =>
    ctx.network.networkSecurityGroups.get(rg, name, ctx.op(opts.signal)),
  );
  const put = (nsg: NetworkSecurityGroup) =>
    armCall(`networkSecurityGroups.createOrUpdate ${name}`, () =>
      ctx.network.networkSecurityGroups.createOrUpdate(rg, name, nsg, ctx.lro(opts.signal)),
    );
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `NSG '${name}'`);
    const resource = await put({
      location,
      tags: managedTags({ fleet: params.fleet, extra: params.tags }),
      securityRules: wantRules,
    });
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'network security group', name, id: existing.id });
  const current = existing.securityRules ?? [];
  const ours = current.filter((r) => (r.name ?? '').toLowerCase().startsWith(RULE_PREFIX));
  const theirs = current.filter((r) => !(r.name ?? '').toLowerCase().startsWith(RULE_PREFIX));
  const changes: string[] = [];
  const haveKeys = new Map(ours.map((r) => [(r.name ?? '').toLowerCase(), ruleKey(r)]));
  for (const r of wantRules) {
    const have = haveKeys.get(r.name!.toLowerCase());
    if (have === undefined) changes.push(`add rule ${r.name}`);
    else if (have !== ruleKey(r)) changes.push(`reconcile drifted rule ${r.name}`);
  }
  for (const r of ours) {
    if (!wantRules.some((w) => w.name!.toLowerCase() === (r.name ?? '').toLowerCase()))
      changes.push(`remove rule ${r.name}`);
  }
  const collision = theirs.find((t) =>
    wantRules.some((w) => w.priority === t.priority && w.direction === t.direction),
  );
  if (collision) {
    throw conflict(
      'network security group',
      name,
      `its rule '${collision.name}' uses priority ${collision.priority}, which OpenClawps needs`,
      'Move that rule to another priority (1000 and 1010 are reserved for OpenClawps) and re-run.',
    );
  }
  const { tags, changed: tagsChanged } = mergeTags(
    existing.tags,
    managedTags({ fleet: params.fleet, extra: params.tags }),
  );
  if (tagsChanged) changes.push('tags');
  if (!changes.length) return { resource: existing, action: 'unchanged', changes };
  const resource = await put({
    location: existing.location,
    tags,
    securityRules: [...theirs.map(writableRule), ...wantRules],
  });
  return { resource, action: 'updated', changes };
}

export interface EnsureVnetParams {
  resourceGroup: string;
  location?: string;
  name?: string;
  subnetName?: string;
  /** NSG associated with the subnet. */
  networkSecurityGroupId: string;
  fleet?: string;
  tags?: Tags;
}

export interface VnetResult {
  vnet: VirtualNetwork;
  subnet: Subnet;
}

export async function ensureVirtualNetwork(
  ctx: AzureContext,
  params: EnsureVnetParams,
  opts: OpOptions = {},
): Promise<EnsureResult<VnetResult>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.vnet(rg);
  const subnetName = params.subnetName ?? names.subnet();
  const wantSubnet: Subnet = {
    name: subnetName,
    addressPrefix: SUBNET_PREFIX,
    networkSecurityGroup: { id: params.networkSecurityGroupId },
  };
  const existing = await tryGet(`virtualNetworks.get ${name}`, () =>
    ctx.network.virtualNetworks.get(rg, name, ctx.op(opts.signal)),
  );
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `VNet '${name}'`);
    const vnet = await armCall(`virtualNetworks.createOrUpdate ${name}`, () =>
      ctx.network.virtualNetworks.createOrUpdate(
        rg,
        name,
        {
          location,
          tags: managedTags({ fleet: params.fleet, extra: params.tags }),
          addressSpace: { addressPrefixes: [VNET_ADDRESS_SPACE] },
          subnets: [wantSubnet],
        },
        ctx.lro(opts.signal),
      ),
    );
    const subnet = await getSubnetOf(ctx, vnet, rg, name, subnetName, opts);
    return { resource: { vnet, subnet }, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'virtual network', name, id: existing.id });
  const prefixes = existing.addressSpace?.addressPrefixes ?? [];
  if (!prefixes.includes(VNET_ADDRESS_SPACE)) {
    throw conflict(
      'virtual network',
      name,
      `its address space is ${prefixes.join(', ') || '(none)'}, not ${VNET_ADDRESS_SPACE}`,
      'Delete the VNet (no claws may use it) or use another resource group.',
    );
  }
  const changes: string[] = [];
  const current = await getSubnetOf(ctx, existing, rg, name, subnetName, opts, true);
  let subnet = current;
  const currentPrefix = current?.addressPrefix ?? current?.addressPrefixes?.[0];
  if (current && currentPrefix !== SUBNET_PREFIX) {
    throw conflict(
      'subnet',
      `${name}/${subnetName}`,
      `its prefix is ${currentPrefix}, not ${SUBNET_PREFIX}`,
      'A subnet prefix cannot change while NICs use it; use another resource group.',
    );
  }
  if (!current || !sameId(current.networkSecurityGroup?.id, params.networkSecurityGroupId)) {
    changes.push(current ? 'associate NSG with subnet' : 'create subnet');
    subnet = await armCall(`subnets.createOrUpdate ${name}/${subnetName}`, () =>
      ctx.network.subnets.createOrUpdate(
        rg,
        name,
        subnetName,
        { ...(current ? stripSubnet(current) : {}), ...wantSubnet },
        ctx.lro(opts.signal),
      ),
    );
  }
  return {
    resource: { vnet: existing, subnet: subnet! },
    action: changes.length ? 'updated' : 'unchanged',
    changes,
  };
}

function stripSubnet(s: Subnet): Subnet {
  // Keep writable fields the user may have set (service endpoints, delegations…); drop read-only ones.
  const { name, addressPrefix, addressPrefixes, routeTable, natGateway, serviceEndpoints, delegations } = s;
  return {
    name,
    ...(addressPrefix ? { addressPrefix } : {}),
    ...(addressPrefixes ? { addressPrefixes } : {}),
    ...(routeTable ? { routeTable: { id: routeTable.id } } : {}),
    ...(natGateway ? { natGateway } : {}),
    ...(serviceEndpoints ? { serviceEndpoints } : {}),
    ...(delegations ? { delegations } : {}),
  };
}

async function getSubnetOf(
  ctx: AzureContext,
  vnet: VirtualNetwork,
  rg: string,
  vnetName: string,
  subnetName: string,
  opts: OpOptions,
  allowMissing = false,
): Promise<Subnet> {
  const inline = vnet.subnets?.find((s) => (s.name ?? '').toLowerCase() === subnetName.toLowerCase());
  if (inline?.id) return inline;
  const got = await tryGet(`subnets.get ${vnetName}/${subnetName}`, () =>
    ctx.network.subnets.get(rg, vnetName, subnetName, ctx.op(opts.signal)),
  );
  if (!got && !allowMissing) {
    throw new AzureOperationError({
      code: 'ResourceNotFound',
      message: `Subnet '${subnetName}' of VNet '${vnetName}' was not found after creating it.`,
    });
  }
  return got as Subnet;
}

export interface EnsureNetworkParams extends NsgRuleIntent {
  resourceGroup: string;
  location?: string;
  fleet?: string;
  tags?: Tags;
}

export interface NetworkResult {
  nsg: NetworkSecurityGroup;
  vnet: VirtualNetwork;
  subnet: Subnet;
  subnetId: string;
}

/** NSG (least-privilege rules, reconciled) then VNet + subnet associated with it. */
export async function ensureNetwork(
  ctx: AzureContext,
  params: EnsureNetworkParams,
  opts: OpOptions = {},
): Promise<EnsureResult<NetworkResult>> {
  const nsg = await ensureNetworkSecurityGroup(ctx, params, opts);
  const nsgId =
    nsg.resource.id ?? ids.nsg(ctx.subscriptionId, params.resourceGroup, names.nsg(params.resourceGroup));
  const vnet = await ensureVirtualNetwork(ctx, { ...params, networkSecurityGroupId: nsgId }, opts);
  const changes = [...nsg.changes.map((c) => `nsg: ${c}`), ...vnet.changes.map((c) => `vnet: ${c}`)];
  const action =
    nsg.action === 'created' && vnet.action === 'created'
      ? 'created'
      : changes.length
        ? 'updated'
        : 'unchanged';
  const subnetId =
    vnet.resource.subnet.id ??
    ids.subnet(ctx.subscriptionId, params.resourceGroup, names.vnet(params.resourceGroup), names.subnet());
  return { resource: { nsg: nsg.resource, ...vnet.resource, subnetId }, action, changes };
}

export interface EnsurePublicIpParams {
  resourceGroup: string;
  claw: string;
  location?: string;
  name?: string;
  fleet?: string;
  tags?: Tags;
}

/** Static Standard IPv4 public IP `<claw>-pip`. */
export async function ensurePublicIp(
  ctx: AzureContext,
  params: EnsurePublicIpParams,
  opts: OpOptions = {},
): Promise<EnsureResult<PublicIPAddress>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.publicIp(params.claw);
  const want = managedTags({ claw: params.claw, fleet: params.fleet, extra: params.tags });
  const existing = await tryGet(`publicIPAddresses.get ${name}`, () =>
    ctx.network.publicIPAddresses.get(rg, name, ctx.op(opts.signal)),
  );
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `public IP '${name}'`);
    const resource = await armCall(`publicIPAddresses.createOrUpdate ${name}`, () =>
      ctx.network.publicIPAddresses.createOrUpdate(
        rg,
        name,
        {
          location,
          tags: want,
          sku: { name: 'Standard', tier: 'Regional' },
          publicIPAllocationMethod: 'Static',
          publicIPAddressVersion: 'IPv4',
        },
        ctx.lro(opts.signal),
      ),
    );
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'public IP', name, claw: params.claw, id: existing.id });
  if (
    (existing.sku?.name ?? '').toLowerCase() !== 'standard' ||
    existing.publicIPAllocationMethod !== 'Static'
  ) {
    throw conflict(
      'public IP',
      name,
      `it is ${existing.sku?.name ?? '?'}/${existing.publicIPAllocationMethod ?? '?'}, not Standard/Static`,
      'Delete it (its address will change) and re-run.',
    );
  }
  const { tags, changed } = mergeTags(existing.tags, want);
  if (!changed) return { resource: existing, action: 'unchanged', changes: [] };
  const resource = await armCall(`publicIPAddresses.updateTags ${name}`, () =>
    ctx.network.publicIPAddresses.updateTags(rg, name, { tags }, ctx.op(opts.signal)),
  );
  return { resource, action: 'updated', changes: ['tags'] };
}

export interface EnsureNicParams {
  resourceGroup: string;
  claw: string;
  subnetId: string;
  publicIpId: string;
  location?: string;
  name?: string;
  fleet?: string;
  tags?: Tags;
}

export async function ensureNetworkInterface(
  ctx: AzureContext,
  params: EnsureNicParams,
  opts: OpOptions = {},
): Promise<EnsureResult<NetworkInterface>> {
  const rg = params.resourceGroup;
  const name = params.name ?? names.nic(params.claw);
  const want = managedTags({ claw: params.claw, fleet: params.fleet, extra: params.tags });
  const existing = await tryGet(`networkInterfaces.get ${name}`, () =>
    ctx.network.networkInterfaces.get(rg, name, ctx.op(opts.signal)),
  );
  const put = (nic: NetworkInterface) =>
    armCall(`networkInterfaces.createOrUpdate ${name}`, () =>
      ctx.network.networkInterfaces.createOrUpdate(rg, name, nic, ctx.lro(opts.signal)),
    );
  const ipConfig = (ipName: string) => ({
    name: ipName,
    primary: true,
    privateIPAllocationMethod: 'Dynamic',
    subnet: { id: params.subnetId },
    publicIPAddress: { id: params.publicIpId },
  });
  if (!existing) {
    const location = requireLocation(params.location ?? ctx.location, `NIC '${name}'`);
    const resource = await put({ location, tags: want, ipConfigurations: [ipConfig('ipconfig1')] });
    return { resource, action: 'created', changes: ['created'] };
  }
  assertOwned(existing.tags, { kind: 'network interface', name, claw: params.claw, id: existing.id });
  const changes: string[] = [];
  const primary = existing.ipConfigurations?.find((c) => c.primary) ?? existing.ipConfigurations?.[0];
  if (!sameId(primary?.subnet?.id, params.subnetId)) changes.push('subnet');
  if (!sameId(primary?.publicIPAddress?.id, params.publicIpId)) changes.push('public IP');
  const { tags, changed } = mergeTags(existing.tags, want);
  if (changed) changes.push('tags');
  if (!changes.length) return { resource: existing, action: 'unchanged', changes };
  const resource = await put({
    location: existing.location,
    tags,
    ...(existing.networkSecurityGroup?.id
      ? { networkSecurityGroup: { id: existing.networkSecurityGroup.id } }
      : {}),
    ipConfigurations: [ipConfig(primary?.name ?? 'ipconfig1')],
  });
  return { resource, action: 'updated', changes };
}

export async function getPublicIp(ctx: AzureContext, rg: string, name: string, opts: OpOptions = {}) {
  return tryGet(`publicIPAddresses.get ${name}`, () =>
    ctx.network.publicIPAddresses.get(rg, name, ctx.op(opts.signal)),
  );
}

export async function getNetworkInterface(ctx: AzureContext, rg: string, name: string, opts: OpOptions = {}) {
  return tryGet(`networkInterfaces.get ${name}`, () =>
    ctx.network.networkInterfaces.get(rg, name, ctx.op(opts.signal)),
  );
}

/** Delete a claw's NIC/PIP (ours only); missing = no-op. NIC first (it references the PIP). */
export async function deleteClawNetwork(
  ctx: AzureContext,
  params: { resourceGroup: string; claw: string },
  opts: OpOptions = {},
): Promise<{ deleted: string[] }> {
  const rg = params.resourceGroup;
  const deleted: string[] = [];
  const nicName = names.nic(params.claw);
  const nic = await getNetworkInterface(ctx, rg, nicName, opts);
  if (nic) {
    assertOwned(nic.tags, { kind: 'network interface', name: nicName, claw: params.claw, id: nic.id });
    await armCall(`networkInterfaces.delete ${nicName}`, () =>
      ctx.network.networkInterfaces.delete(rg, nicName, ctx.lro(opts.signal)),
    );
    deleted.push(nicName);
  }
  const pipName = names.publicIp(params.claw);
  const pip = await getPublicIp(ctx, rg, pipName, opts);
  if (pip) {
    assertOwned(pip.tags, { kind: 'public IP', name: pipName, claw: params.claw, id: pip.id });
    await armCall(`publicIPAddresses.delete ${pipName}`, () =>
      ctx.network.publicIPAddresses.delete(rg, pipName, ctx.lro(opts.signal)),
    );
    deleted.push(pipName);
  }
  return { deleted };
}
