/** Microsoft.Network: virtual networks + subnets, NSGs + rules, public IPs, NICs. */
import { ArmError, badRequest } from './errors';
import {
  checkNetworkName,
  cidrInside,
  guid,
  hex32,
  netEtag,
  parseCidr,
  requireLocation,
  sameId,
  validateTags,
} from './common';
import { markDeleting } from './generic';
import { latencyMs } from './latency';
import { nicsInSubnet, nicUsingPip, nsgUsers, vmUsingNic } from './lookups';
import { registerType, type Ctx, type Reply } from './registry';
import { clone, registerRenderer, type Json, type Resource, type World } from './world';

const VNET = 'Microsoft.Network/virtualNetworks';
const SUBNET = 'Microsoft.Network/virtualNetworks/subnets';
const NSG = 'Microsoft.Network/networkSecurityGroups';
const RULE = 'Microsoft.Network/networkSecurityGroups/securityRules';
const PIP = 'Microsoft.Network/publicIPAddresses';
const NIC = 'Microsoft.Network/networkInterfaces';

const scale = (w: World) => w.latencyScale;

function invalidRef(refId: string, by: string): ArmError {
  return badRequest(
    'InvalidResourceReference',
    `Resource ${refId} referenced by resource ${by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
  );
}

function putOp(
  ctx: Ctx,
  location: string,
  kind: Parameters<typeof latencyMs>[0],
  also: string[] = [],
): Reply['op'] {
  return {
    style: 'network',
    location,
    durationMs: latencyMs(kind, scale(ctx.world)),
    completion: 'generic.put',
    args: { also },
    result: 'resource',
    retryAfter: 3,
  };
}

/** A network PATCH: only tags change (one atomic value), and the etag moves on. */
function patchTags(ctx: Ctx, existing: Resource): Reply {
  if (ctx.body.tags !== undefined) existing.body.tags = validateTags(ctx.body.tags) ?? {};
  existing.body.etag = netEtag();
  return { status: 200, body: ctx.world.render(existing) };
}

/** Write the child resources a parent PUT carries inline (subnets, security rules); returns their ids. */
function putChildren(
  world: World,
  type: string,
  parentId: string,
  segment: string,
  items: Json[],
  bodyOf: (id: string, item: Json, prev: Resource | undefined) => Json,
): string[] {
  const also: string[] = [];
  for (const item of items) {
    const cid = `${parentId}/${segment}/${item.name}`;
    const prev = world.get(cid);
    world.set({ id: prev?.id ?? cid, type, body: bodyOf(prev?.id ?? cid, item, prev), meta: {} });
    also.push(prev?.id ?? cid);
  }
  return also;
}

/** Write a parent (VNet, NSG) whose children were written by putChildren, and answer the async PUT. */
function putParent(
  ctx: Ctx,
  existing: Resource | undefined,
  p: {
    id: string;
    name: string;
    type: string;
    location: string;
    tags: Json;
    kind: Parameters<typeof latencyMs>[0];
    also: string[];
  },
  properties: Json,
): Reply {
  const body = {
    name: existing?.body.name ?? p.name,
    id: p.id,
    etag: netEtag(),
    type: p.type,
    location: p.location,
    ...(p.tags ? { tags: p.tags } : {}),
    properties: {
      provisioningState: 'Updating',
      resourceGuid: existing?.body.properties.resourceGuid ?? guid(),
      ...properties,
    },
  };
  const res = ctx.world.set({ id: p.id, type: p.type, body, meta: {} });
  return {
    status: existing ? 200 : 201,
    body: ctx.world.render(res),
    op: putOp(ctx, p.location, p.kind, p.also),
  };
}

function deleteOp(ctx: Ctx, res: Resource, location: string, kind: Parameters<typeof latencyMs>[0]): Reply {
  markDeleting(ctx.world, res.id);
  for (const c of ctx.world.descendants(res.id)) markDeleting(ctx.world, c.id);
  return {
    status: 202,
    op: {
      style: 'network',
      location,
      durationMs: latencyMs(kind, scale(ctx.world)),
      completion: 'generic.delete',
      result: 'noContent',
      retryAfter: 10,
    },
  };
}

// ---------------------------------------------------------------- subnets
function validateSubnet(
  world: World,
  vnet: { id: string; name: string; prefixes: string[] },
  name: string,
  props: Json,
  subnetId: string,
): void {
  checkNetworkName(name);
  const prefix: string | undefined = props?.addressPrefix ?? props?.addressPrefixes?.[0];
  if (!prefix) throw badRequest('InvalidRequestFormat', `Subnet '${name}' must have an addressPrefix.`);
  if (!parseCidr(prefix))
    throw badRequest(
      'InvalidAddressPrefixFormat',
      `Address prefix ${prefix} of resource ${subnetId} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`,
    );
  if (!vnet.prefixes.some((p) => cidrInside(prefix, p))) {
    throw badRequest(
      'NetcfgSubnetRangeOutsideVnet',
      `Subnet '${name}' is not valid because its IP address range is outside the IP address range of virtual network '${vnet.name}'.`,
    );
  }
  const nsg = props?.networkSecurityGroup?.id;
  if (nsg && !world.get(nsg)) throw invalidRef(nsg, subnetId);
}

function subnetBody(id: string, name: string, props: Json, existing?: Resource): Json {
  return {
    name: existing?.body.name ?? name,
    id,
    etag: netEtag(),
    type: SUBNET,
    properties: {
      provisioningState: 'Updating',
      addressPrefix: props.addressPrefix ?? props.addressPrefixes?.[0],
      ...(props.networkSecurityGroup?.id
        ? { networkSecurityGroup: { id: props.networkSecurityGroup.id } }
        : {}),
      delegations: props.delegations ?? [],
      privateEndpointNetworkPolicies: props.privateEndpointNetworkPolicies ?? 'Disabled',
      privateLinkServiceNetworkPolicies: props.privateLinkServiceNetworkPolicies ?? 'Enabled',
      ...(props.defaultOutboundAccess !== undefined
        ? { defaultOutboundAccess: props.defaultOutboundAccess }
        : {}),
    },
  };
}

function subnetInUse(world: World, subnet: Resource): never | void {
  const users = nicsInSubnet(world, subnet.id);
  if (users.length > 0) {
    throw badRequest(
      'InUseSubnetCannotBeDeleted',
      `Subnet ${subnet.body.name} is in use by ${users[0].ipConfigId} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
    );
  }
}

registerRenderer(SUBNET, (world, res) => {
  const b = clone(res.body);
  const users = nicsInSubnet(world, res.id);
  if (users.length) b.properties.ipConfigurations = users.map((u) => ({ id: u.ipConfigId }));
  return b;
});

function checkOverlap(vnetName: string, subnets: { name: string; prefix: string }[]) {
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      if (
        cidrInside(subnets[i].prefix, subnets[j].prefix) ||
        cidrInside(subnets[j].prefix, subnets[i].prefix)
      ) {
        throw badRequest(
          'NetcfgSubnetRangesOverlap',
          `Subnet '${subnets[j].name}' is not valid because its IP address range overlaps with that of an existing subnet '${subnets[i].name}' in virtual network '${vnetName}'.`,
        );
      }
    }
  }
}

registerType({
  type: SUBNET,
  parentNotFound: (ctx) =>
    new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${VNET}/${ctx.names[0]}' under resource group '${ctx.rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    ),
  put(ctx, existing) {
    const vnet = ctx.world.get(ctx.parentId!)!;
    const name = ctx.names[1];
    const props = ctx.body.properties ?? {};
    validateSubnet(
      ctx.world,
      { id: vnet.id, name: vnet.body.name, prefixes: vnet.body.properties.addressSpace.addressPrefixes },
      name,
      props,
      ctx.id,
    );
    const others = ctx.world.list(SUBNET, vnet.id).filter((s) => !sameId(s.id, ctx.id));
    checkOverlap(vnet.body.name, [
      ...others.map((s) => ({ name: s.body.name, prefix: s.body.properties.addressPrefix })),
      { name, prefix: props.addressPrefix ?? props.addressPrefixes?.[0] },
    ]);
    const body = subnetBody(ctx.id, name, props, existing);
    ctx.world.set({ id: ctx.id, type: SUBNET, body, meta: {} });
    return {
      status: existing ? 200 : 201,
      body: ctx.world.render(ctx.world.get(ctx.id)!),
      op: putOp(ctx, vnet.body.location, 'subnetCreate'),
    };
  },
  delete(ctx, existing) {
    subnetInUse(ctx.world, existing);
    const vnet = ctx.world.get(ctx.parentId!);
    return deleteOp(ctx, existing, vnet?.body.location ?? 'eastus', 'subnetDelete');
  },
});

// ---------------------------------------------------------------- virtual networks
registerRenderer(VNET, (world, res) => {
  const b = clone(res.body);
  b.properties.subnets = world
    .list(SUBNET, res.id)
    .filter((s) => !s.meta.deleting)
    .map((s) => world.render(s));
  return b;
});

registerType({
  type: VNET,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkNetworkName(name);
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const props = ctx.body.properties ?? {};
    const prefixes: string[] = props.addressSpace?.addressPrefixes ?? [];
    if (prefixes.length === 0)
      throw badRequest(
        'InvalidRequestFormat',
        `Virtual network ${ctx.id} must have at least one address prefix in addressSpace.addressPrefixes.`,
      );
    for (const p of prefixes)
      if (!parseCidr(p))
        throw badRequest(
          'InvalidAddressPrefixFormat',
          `Address prefix ${p} of resource ${ctx.id} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/16.`,
        );
    const subnets: Json[] = props.subnets ?? [];
    const seen = new Set<string>();
    for (const s of subnets) {
      if (!s?.name) throw badRequest('InvalidRequestFormat', 'Each subnet must have a name.');
      if (seen.has(s.name.toLowerCase()))
        throw badRequest('InvalidRequestFormat', `Subnet '${s.name}' appears more than once.`);
      seen.add(s.name.toLowerCase());
      validateSubnet(
        ctx.world,
        { id: ctx.id, name, prefixes },
        s.name,
        s.properties ?? {},
        `${ctx.id}/subnets/${s.name}`,
      );
    }
    checkOverlap(
      name,
      subnets.map((s) => ({
        name: s.name,
        prefix: s.properties?.addressPrefix ?? s.properties?.addressPrefixes?.[0],
      })),
    );
    // a PUT without a subnet removes it (as on Azure) — refuse when it is in use
    const current = existing ? ctx.world.list(SUBNET, existing.id) : [];
    const removed = current.filter((c) => !seen.has(String(c.body.name).toLowerCase()));
    for (const r of removed) subnetInUse(ctx.world, r);
    // existing subnets must stay within the address space
    const id = existing?.id ?? ctx.id;
    for (const r of removed) ctx.world.remove(r.id);
    const also = putChildren(ctx.world, SUBNET, id, 'subnets', subnets, (cid, s, prev) =>
      subnetBody(cid, s.name, s.properties ?? {}, prev),
    );
    return putParent(
      ctx,
      existing,
      { id, name, type: VNET, location, tags, kind: 'vnetCreate', also },
      {
        addressSpace: { addressPrefixes: prefixes },
        virtualNetworkPeerings: [],
        enableDdosProtection: props.enableDdosProtection ?? false,
        ...(props.privateEndpointVNetPolicies
          ? { privateEndpointVNetPolicies: props.privateEndpointVNetPolicies }
          : {}),
      },
    );
  },
  patch: patchTags,
  delete(ctx, existing) {
    for (const s of ctx.world.list(SUBNET, existing.id)) subnetInUse(ctx.world, s);
    return deleteOp(ctx, existing, existing.body.location, 'vnetDelete');
  },
});

// ---------------------------------------------------------------- NSGs
const DEFAULT_RULES = [
  [
    'AllowVnetInBound',
    'Allow inbound traffic from all VMs in VNET',
    'VirtualNetwork',
    'VirtualNetwork',
    'Allow',
    65000,
    'Inbound',
  ],
  [
    'AllowAzureLoadBalancerInBound',
    'Allow inbound traffic from azure load balancer',
    'AzureLoadBalancer',
    '*',
    'Allow',
    65001,
    'Inbound',
  ],
  ['DenyAllInBound', 'Deny all inbound traffic', '*', '*', 'Deny', 65500, 'Inbound'],
  [
    'AllowVnetOutBound',
    'Allow outbound traffic from all VMs to all VMs in VNET',
    'VirtualNetwork',
    'VirtualNetwork',
    'Allow',
    65000,
    'Outbound',
  ],
  [
    'AllowInternetOutBound',
    'Allow outbound traffic from all VMs to Internet',
    '*',
    'Internet',
    'Allow',
    65001,
    'Outbound',
  ],
  ['DenyAllOutBound', 'Deny all outbound traffic', '*', '*', 'Deny', 65500, 'Outbound'],
] as const;

const PROTOCOLS = ['tcp', 'udp', 'icmp', 'esp', 'ah', '*'];

function validateRule(name: string, p: Json, ruleId: string): void {
  checkNetworkName(name);
  const problems: string[] = [];
  if (typeof p.priority !== 'number' || p.priority < 100 || p.priority > 4096) {
    throw badRequest(
      'SecurityRuleInvalidPriority',
      `Security rule has invalid Priority. Value provided: ${p.priority}. Allowed range 100-4096.`,
      ruleId,
    );
  }
  if (!PROTOCOLS.includes(String(p.protocol ?? '').toLowerCase())) problems.push(`protocol '${p.protocol}'`);
  if (!['allow', 'deny'].includes(String(p.access ?? '').toLowerCase()))
    problems.push(`access '${p.access}'`);
  if (!['inbound', 'outbound'].includes(String(p.direction ?? '').toLowerCase()))
    problems.push(`direction '${p.direction}'`);
  const hasSrc =
    p.sourceAddressPrefix !== undefined ||
    (p.sourceAddressPrefixes ?? []).length > 0 ||
    (p.sourceApplicationSecurityGroups ?? []).length > 0;
  const hasDst =
    p.destinationAddressPrefix !== undefined ||
    (p.destinationAddressPrefixes ?? []).length > 0 ||
    (p.destinationApplicationSecurityGroups ?? []).length > 0;
  const hasDstPort = p.destinationPortRange !== undefined || (p.destinationPortRanges ?? []).length > 0;
  if (!hasSrc) problems.push('sourceAddressPrefix(es)');
  if (!hasDst) problems.push('destinationAddressPrefix(es)');
  if (!hasDstPort) problems.push('destinationPortRange(s)');
  if (p.sourceAddressPrefix !== undefined && (p.sourceAddressPrefixes ?? []).length > 0) {
    throw badRequest(
      'SecurityRuleParameterContainsUnsupportedValue',
      `Security rule ${ruleId} has both sourceAddressPrefix and sourceAddressPrefixes.`,
      ruleId,
    );
  }
  if (problems.length)
    throw badRequest(
      'SecurityRuleParameterContainsUnsupportedValue',
      `Security rule ${ruleId} has invalid or missing ${problems.join(', ')}.`,
      ruleId,
    );
}

function ruleBody(id: string, name: string, p: Json): Json {
  const props: Json = {
    provisioningState: 'Updating',
    protocol: p.protocol,
    sourcePortRange: p.sourcePortRange ?? ((p.sourcePortRanges ?? []).length ? undefined : '*'),
    destinationPortRange: p.destinationPortRange,
    sourceAddressPrefix: p.sourceAddressPrefix,
    destinationAddressPrefix: p.destinationAddressPrefix,
    access: p.access,
    priority: p.priority,
    direction: p.direction,
    sourcePortRanges: p.sourcePortRanges ?? [],
    destinationPortRanges: p.destinationPortRanges ?? [],
    sourceAddressPrefixes: p.sourceAddressPrefixes ?? [],
    destinationAddressPrefixes: p.destinationAddressPrefixes ?? [],
  };
  if (p.description !== undefined) props.description = p.description;
  for (const k of Object.keys(props)) if (props[k] === undefined) delete props[k];
  return { name, id, etag: netEtag(), type: RULE, properties: props };
}

function checkRuleConflicts(rules: { name: string; priority: number; direction: string }[]) {
  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      if (
        rules[i].priority === rules[j].priority &&
        rules[i].direction.toLowerCase() === rules[j].direction.toLowerCase()
      ) {
        throw badRequest(
          'SecurityRuleConflict',
          `Security rule ${rules[j].name} conflicts with rule ${rules[i].name}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.`,
        );
      }
    }
  }
}

registerRenderer(NSG, (world, res) => {
  const b = clone(res.body);
  b.properties.securityRules = world
    .list(RULE, res.id)
    .filter((r) => !r.meta.deleting)
    .map((r) => clone(r.body));
  b.properties.defaultSecurityRules = DEFAULT_RULES.map(
    ([n, description, src, dst, access, priority, direction]) => ({
      name: n,
      id: `${res.id}/defaultSecurityRules/${n}`,
      etag: res.body.etag,
      type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
      properties: {
        provisioningState: 'Succeeded',
        description,
        protocol: '*',
        sourcePortRange: '*',
        destinationPortRange: '*',
        sourceAddressPrefix: src,
        destinationAddressPrefix: dst,
        access,
        priority,
        direction,
        sourcePortRanges: [],
        destinationPortRanges: [],
        sourceAddressPrefixes: [],
        destinationAddressPrefixes: [],
      },
    }),
  );
  const users = nsgUsers(world, res.id);
  const nics = users.filter((u) => u.toLowerCase().includes('/networkinterfaces/'));
  const subnets = users.filter((u) => u.toLowerCase().includes('/subnets/'));
  if (nics.length) b.properties.networkInterfaces = nics.map((id) => ({ id }));
  if (subnets.length) b.properties.subnets = subnets.map((id) => ({ id }));
  return b;
});

registerType({
  type: NSG,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkNetworkName(name);
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const rules: Json[] = ctx.body.properties?.securityRules ?? [];
    const id = existing?.id ?? ctx.id;
    const seen = new Set<string>();
    for (const r of rules) {
      if (!r?.name) throw badRequest('InvalidRequestFormat', 'Each security rule must have a name.');
      if (seen.has(r.name.toLowerCase()))
        throw badRequest('InvalidRequestFormat', `Security rule '${r.name}' appears more than once.`);
      seen.add(r.name.toLowerCase());
      validateRule(r.name, r.properties ?? {}, `${id}/securityRules/${r.name}`);
    }
    checkRuleConflicts(
      rules.map((r) => ({
        name: r.name,
        priority: r.properties.priority,
        direction: r.properties.direction,
      })),
    );
    for (const old of ctx.world.list(RULE, id))
      if (!seen.has(String(old.body.name).toLowerCase())) ctx.world.remove(old.id);
    const also = putChildren(ctx.world, RULE, id, 'securityRules', rules, (cid, r, prev) =>
      ruleBody(cid, prev?.body.name ?? r.name, r.properties),
    );
    return putParent(ctx, existing, { id, name, type: NSG, location, tags, kind: 'nsgCreate', also }, {});
  },
  patch: patchTags,
  delete(ctx, existing) {
    const users = nsgUsers(ctx.world, existing.id);
    if (users.length) {
      throw badRequest(
        'InUseNetworkSecurityGroupCannotBeDeleted',
        `Network security group ${existing.id} cannot be deleted because it is in use by the following resources: ${users.join(', ')}. In order to delete the Network security group, remove the association with the resource(s). To learn how to do this, see https://aka.ms/deletensg.`,
      );
    }
    return deleteOp(ctx, existing, existing.body.location, 'nsgDelete');
  },
});

registerType({
  type: RULE,
  put(ctx, existing) {
    const nsg = ctx.world.get(ctx.parentId!)!;
    const name = ctx.names[1];
    const p = ctx.body.properties ?? {};
    validateRule(name, p, ctx.id);
    const others = ctx.world.list(RULE, nsg.id).filter((r) => !sameId(r.id, ctx.id));
    checkRuleConflicts([
      ...others.map((r) => ({
        name: r.body.name,
        priority: r.body.properties.priority,
        direction: r.body.properties.direction,
      })),
      { name, priority: p.priority, direction: p.direction },
    ]);
    const body = ruleBody(ctx.id, existing?.body.name ?? name, p);
    ctx.world.set({ id: ctx.id, type: RULE, body, meta: {} });
    nsg.body.etag = netEtag();
    return {
      status: existing ? 200 : 201,
      body: clone(body),
      op: putOp(ctx, nsg.body.location, 'nsgRuleCreate'),
    };
  },
  delete(ctx, existing) {
    const nsg = ctx.world.get(ctx.parentId!);
    return deleteOp(ctx, existing, nsg?.body.location ?? 'eastus', 'nsgRuleDelete');
  },
});

// ---------------------------------------------------------------- public IPs
registerRenderer(PIP, (world, res) => {
  const b = clone(res.body);
  const user = nicUsingPip(world, res.id);
  if (user) b.properties.ipConfiguration = { id: user.ipConfigId };
  if (b.properties.provisioningState !== 'Succeeded' && b.properties.publicIPAllocationMethod === 'Static') {
    /* Azure assigns the static address up front */
  }
  return b;
});

registerType({
  type: PIP,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkNetworkName(name);
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const p = ctx.body.properties ?? {};
    const skuName: string = ctx.body.sku?.name ?? existing?.body.sku?.name ?? 'Standard';
    const method: string =
      p.publicIPAllocationMethod ?? (skuName.toLowerCase() === 'standard' ? 'Static' : 'Dynamic');
    const id = existing?.id ?? ctx.id;
    if (skuName.toLowerCase() === 'standard' && method.toLowerCase() !== 'static') {
      throw badRequest(
        'StandardSkuPublicIPAddressesMustBeStatic',
        `Standard sku publicIp ${id} must have AllocationMethod set to Static.`,
      );
    }
    if (
      existing &&
      existing.body.sku?.name &&
      existing.body.sku.name.toLowerCase() !== skuName.toLowerCase()
    ) {
      throw badRequest(
        'PublicIPSkuUpdateNotSupported',
        `Sku of public IP ${id} cannot be changed from ${existing.body.sku.name} to ${skuName}.`,
      );
    }
    const version = p.publicIPAddressVersion ?? 'IPv4';
    const ip =
      existing?.body.properties.ipAddress ??
      ctx.world.guest.allocatePublicIp?.(id) ??
      ctx.world.nextPublicIp();
    const body: Json = {
      name: existing?.body.name ?? name,
      id,
      etag: netEtag(),
      location,
      ...(tags ? { tags } : {}),
      ...(ctx.body.zones ? { zones: ctx.body.zones } : {}),
      properties: {
        provisioningState: 'Updating',
        resourceGuid: existing?.body.properties.resourceGuid ?? guid(),
        ipAddress: ip,
        publicIPAddressVersion: version,
        publicIPAllocationMethod: method.charAt(0).toUpperCase() + method.slice(1).toLowerCase(),
        idleTimeoutInMinutes: p.idleTimeoutInMinutes ?? 4,
        ipTags: p.ipTags ?? [],
        ...(p.dnsSettings
          ? {
              dnsSettings: {
                ...p.dnsSettings,
                fqdn: `${p.dnsSettings.domainNameLabel}.${location}.cloudapp.azure.com`,
              },
            }
          : {}),
        ddosSettings: { protectionMode: 'VirtualNetworkInherited' },
      },
      type: PIP,
      sku: { name: skuName, tier: ctx.body.sku?.tier ?? 'Regional' },
    };
    const res = ctx.world.set({ id, type: PIP, body, meta: {} });
    return {
      status: existing ? 200 : 201,
      body: ctx.world.render(res),
      op: putOp(ctx, location, 'publicIpCreate'),
    };
  },
  patch: patchTags,
  delete(ctx, existing) {
    const user = nicUsingPip(ctx.world, existing.id);
    if (user) {
      throw badRequest(
        'PublicIPAddressInUse',
        `Public IP address ${existing.id} can not be deleted since it is still allocated to resource ${user.ipConfigId}. In order to delete the public IP, disassociate/detach the Public IP address from the resource. To learn how to do this, see aka.ms/deletepublicip.`,
      );
    }
    return deleteOp(ctx, existing, existing.body.location, 'publicIpDelete');
  },
});

// ---------------------------------------------------------------- NICs
registerRenderer(NIC, (world, res) => {
  const b = clone(res.body);
  const vm = vmUsingNic(world, res.id);
  if (vm) {
    b.properties.virtualMachine = { id: vm.id };
    b.properties.macAddress = res.meta.mac ?? '00-0D-3A-00-00-01';
    b.properties.primary = true;
  }
  if (res.meta.reservedUntil && res.meta.reservedUntil > Date.now() && !vm) {
    /* reserved for 180 s after its VM was deleted */
  }
  return b;
});

function nicBody(
  ctx: Ctx,
  id: string,
  name: string,
  location: string,
  p: Json,
  tags: Json,
  existing?: Resource,
): Json {
  const configs: Json[] = p.ipConfigurations ?? [];
  if (configs.length === 0)
    throw badRequest(
      'InvalidRequestFormat',
      `Network interface ${id} must have at least one IP configuration.`,
    );
  const seen = new Set<string>();
  let subnetVnet: string | undefined;
  const out = configs.map((c: Json, i: number) => {
    const cname: string = c.name ?? `ipconfig${i + 1}`;
    if (seen.has(cname.toLowerCase()))
      throw badRequest('InvalidRequestFormat', `IP configuration '${cname}' appears more than once.`);
    seen.add(cname.toLowerCase());
    const cp = c.properties ?? {};
    const subnetId: string | undefined = cp.subnet?.id;
    if (!subnetId)
      throw badRequest(
        'InvalidRequestFormat',
        `IP configuration ${id}/ipConfigurations/${cname} must reference a subnet.`,
      );
    const subnet = ctx.world.get(subnetId);
    if (!subnet || subnet.meta.deleting) throw invalidRef(subnetId, id);
    const vnet = ctx.world.get(subnet.id.split('/').slice(0, -2).join('/'));
    if (vnet && vnet.body.location !== location) throw invalidRef(subnetId, id);
    const vnetId = subnet.id.split('/').slice(0, -2).join('/').toLowerCase();
    if (subnetVnet && subnetVnet !== vnetId)
      throw badRequest(
        'IpConfigurationsOnSameNicCannotUseDifferentVnets',
        `IP configurations on the network interface ${id} reference different virtual networks.`,
      );
    subnetVnet = vnetId;
    const pipId: string | undefined = cp.publicIPAddress?.id;
    if (pipId) {
      const pip = ctx.world.get(pipId);
      if (!pip || pip.meta.deleting) throw invalidRef(pipId, id);
      if (pip.body.location !== location) throw invalidRef(pipId, id);
      const user = nicUsingPip(ctx.world, pipId);
      if (user && !sameId(user.nic.id, id)) {
        throw badRequest(
          'PublicIPAddressInUse',
          `Public IP address ${pip.id} is already allocated to resource ${user.ipConfigId}.`,
        );
      }
    }
    const prevCfg = (existing?.body.properties.ipConfigurations ?? []).find(
      (x: Json) => String(x.name).toLowerCase() === cname.toLowerCase(),
    );
    const privateIp =
      cp.privateIPAllocationMethod === 'Static' && cp.privateIPAddress
        ? cp.privateIPAddress
        : (prevCfg?.properties?.privateIPAddress ?? ctx.world.nextPrivateIp());
    return {
      name: cname,
      id: `${id}/ipConfigurations/${cname}`,
      etag: '',
      type: 'Microsoft.Network/networkInterfaces/ipConfigurations',
      properties: {
        provisioningState: 'Succeeded',
        privateIPAddress: privateIp,
        privateIPAllocationMethod: cp.privateIPAllocationMethod ?? 'Dynamic',
        ...(pipId ? { publicIPAddress: { id: ctx.world.get(pipId)!.id } } : {}),
        subnet: { id: subnet.id },
        primary: cp.primary ?? i === 0,
        privateIPAddressVersion: cp.privateIPAddressVersion ?? 'IPv4',
      },
    };
  });
  const nsgId: string | undefined = p.networkSecurityGroup?.id;
  if (nsgId && !ctx.world.get(nsgId)) throw invalidRef(nsgId, id);
  const etag = netEtag();
  for (const c of out) c.etag = etag;
  return {
    name,
    id,
    etag,
    properties: {
      provisioningState: 'Succeeded',
      resourceGuid: existing?.body.properties.resourceGuid ?? guid(),
      ipConfigurations: out,
      dnsSettings: {
        dnsServers: p.dnsSettings?.dnsServers ?? [],
        appliedDnsServers: [],
        internalDomainNameSuffix:
          existing?.body.properties.dnsSettings?.internalDomainNameSuffix ??
          `${hex32().slice(0, 26)}.bx.internal.cloudapp.net`,
      },
      ...(nsgId ? { networkSecurityGroup: { id: ctx.world.get(nsgId)!.id } } : {}),
      enableAcceleratedNetworking: p.enableAcceleratedNetworking ?? false,
      vnetEncryptionSupported: false,
      enableIPForwarding: p.enableIPForwarding ?? false,
      disableTcpStateTracking: false,
      hostedWorkloads: [],
      tapConfigurations: [],
      nicType: 'Standard',
      allowPort25Out: true,
      auxiliaryMode: 'None',
      auxiliarySku: 'None',
    },
    type: NIC,
    location,
    ...(tags ? { tags } : {}),
    kind: 'Regular',
  };
}

registerType({
  type: NIC,
  put(ctx, existing) {
    const name = ctx.names[0];
    checkNetworkName(name);
    const location = requireLocation(ctx, existing);
    const tags = validateTags(ctx.body.tags);
    const id = existing?.id ?? ctx.id;
    const body = nicBody(
      ctx,
      id,
      existing?.body.name ?? name,
      location,
      ctx.body.properties ?? {},
      tags,
      existing,
    );
    const mac = existing?.meta.mac ?? `00-0D-3A-${hex32().slice(0, 6).toUpperCase().match(/../g)!.join('-')}`;
    const res = ctx.world.set({ id, type: NIC, body, meta: { ...(existing?.meta ?? {}), mac } });
    // Network answers NIC PUTs synchronously (recordings: 201, Succeeded, no async header).
    return {
      status: existing ? 200 : 201,
      body: ctx.world.render(res),
      delayMs: latencyMs('nicCreate', scale(ctx.world)),
    };
  },
  patch: patchTags,
  delete(ctx, existing) {
    const vm = vmUsingNic(ctx.world, existing.id);
    if (vm) {
      throw badRequest(
        'NicInUse',
        `Network Interface ${existing.id} is used by existing resource ${vm.id}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
      );
    }
    return deleteOp(ctx, existing, existing.body.location, 'nicDelete');
  },
});

export const NETWORK_TYPES = { VNET, SUBNET, NSG, RULE, PIP, NIC };
