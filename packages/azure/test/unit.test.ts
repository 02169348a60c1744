import {
  assertOwned,
  buildVmBody,
  cloudEndpoints,
  createAzureContext,
  desiredSecurityRules,
  encodeCustomData,
  formatUpgradeTag,
  getTag,
  managedTags,
  mergeTags,
  names,
  parseImageUrn,
  parseResourceId,
  parseUpgradeTag,
  StaticTokenCredential,
  TAGS,
  UBUNTU_2404,
} from '@openclawps/azure';

describe('tags', () => {
  it('builds, merges (null removes) and reads tags case-insensitively', () => {
    const t = managedTags({ claw: 'alice', imageVersion: '1.2.3', fleet: 'prod', extra: { team: 'x' } });
    expect(t).toEqual({
      team: 'x',
      [TAGS.managedBy]: 'openclawps',
      [TAGS.claw]: 'alice',
      [TAGS.imageVersion]: '1.2.3',
      [TAGS.fleet]: 'prod',
    });
    expect(getTag({ 'OpenClawps-Claw': 'a' }, TAGS.claw)).toBe('a');
    expect(mergeTags(t, { [TAGS.fleet]: 'prod' }).changed).toBe(false);
    const m = mergeTags(t, { [TAGS.fleet]: null, [TAGS.upgrade]: 'target=1.3.0;phase=snapshot' });
    expect(m.changed).toBe(true);
    expect(m.tags[TAGS.fleet]).toBeUndefined();
    expect(parseUpgradeTag(m.tags[TAGS.upgrade])).toEqual({ target: '1.3.0', phase: 'snapshot' });
    expect(formatUpgradeTag({ target: '1.2.0', phase: 'deleted-vm' })).toBe('target=1.2.0;phase=deleted-vm');
  });

  it('refuses foreign resources and other claws’ resources', () => {
    expect(() => assertOwned({ team: 'x' }, { kind: 'disk', name: 'd' })).toThrow(
      /not managed by OpenClawps/,
    );
    expect(() =>
      assertOwned(managedTags({ claw: 'bob' }), { kind: 'disk', name: 'd', claw: 'alice' }),
    ).toThrow(/belongs to claw 'bob'/);
    expect(() =>
      assertOwned(managedTags({ claw: 'alice' }), { kind: 'disk', name: 'd', claw: 'alice' }),
    ).not.toThrow();
  });
});

describe('names and ids', () => {
  it('follows the resource model', () => {
    expect(names.osDisk('alice', '1.2.3')).toBe('alice-os-1-2-3');
    expect(names.nic('alice')).toBe('alice-nic');
    expect(names.nsg('rg1')).toBe('rg1-nsg');
    const p = parseResourceId(
      '/Subscriptions/s/resourcegroups/RG/Providers/Microsoft.Compute/Galleries/g/Images/d/Versions/1.0.0',
    );
    expect(p).toMatchObject({
      resourceGroup: 'RG',
      name: '1.0.0',
      type: 'Microsoft.Compute/Galleries/Images/Versions',
    });
    expect(parseImageUrn('Canonical:ubuntu-24_04-lts:server:latest')).toEqual(UBUNTU_2404);
    expect(() => parseImageUrn('Canonical:ubuntu')).toThrow(/Publisher:Offer:Sku:Version/);
  });
});

describe('VM body', () => {
  const base = {
    resourceGroup: 'rg',
    claw: 'alice',
    vmSize: 'Standard_B2s',
    image: UBUNTU_2404,
    nicId: '/nic',
    dataDiskId: '/disk',
    adminUsername: 'azureuser',
    sshPublicKeys: ['ssh-ed25519 AAAA k'],
  };

  it('base64-encodes custom data and caps it at 64 KiB', () => {
    const body = buildVmBody({ ...base, customData: '#cloud-config\n' }, 'westeurope');
    expect(Buffer.from(body.osProfile!.customData!, 'base64').toString()).toBe('#cloud-config\n');
    expect(() => encodeCustomData('x'.repeat(65536))).toThrow(/65535/);
  });

  it('omits osProfile for a specialized gallery image and refuses custom data there', () => {
    const spec = { ...base, image: { type: 'gallery' as const, id: '/v', osState: 'Specialized' as const } };
    expect(buildVmBody(spec, 'westeurope').osProfile).toBeUndefined();
    expect(() => buildVmBody({ ...spec, customData: 'x' }, 'westeurope')).toThrow(/Specialized/);
  });

  it('names every missing input at once', () => {
    expect(() => buildVmBody({ ...base, sshPublicKeys: [], adminUsername: '' }, 'westeurope')).toThrow(
      /sshPublicKeys.*; adminUsername/,
    );
  });
});

describe('NSG rules and context', () => {
  it('uses prefixes for several sources', () => {
    const [ssh] = desiredSecurityRules({ sshSourceCidrs: ['192.0.2.1/32', 'AzureCloud'] });
    expect(ssh.sourceAddressPrefixes).toEqual(['192.0.2.1/32', 'AzureCloud']);
    expect(ssh.sourceAddressPrefix).toBeUndefined();
  });

  it('refuses an endpoint that is not a URL', () => {
    expect(() =>
      createAzureContext({
        subscriptionId: 's',
        credential: new StaticTokenCredential(),
        endpoint: 'not a url',
      }),
    ).toThrow(/Invalid ARM endpoint/);
    const ctx = createAzureContext({
      subscriptionId: 's',
      credential: new StaticTokenCredential(),
      pollIntervalMs: 0,
    });
    expect(ctx.endpoint).toBe('https://management.azure.com');
    expect(ctx.lro()).toEqual({ updateIntervalInMs: 0 });
    expect(cloudEndpoints('AzureChinaCloud')).toEqual({
      armEndpoint: 'https://management.chinacloudapi.cn',
      authorityHost: 'https://login.chinacloudapi.cn',
    });
    expect(() => cloudEndpoints('mars')).toThrow(/azurecloud, azurechinacloud, azureusgovernment/);
  });
});
