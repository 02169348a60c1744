import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AZURE_AD_TOKEN_EXCHANGE_AUDIENCE,
  AzureOperationError,
  fetchGitHubOidcToken,
  resolveCredential,
  StaticTokenCredential,
} from '@openclawps/azure';
import { describeWhen, missing } from '../../../test/helpers/skip';

/** A stand-in for the runner's OIDC token service: checks the bearer, hands out numbered JWT-ish tokens. */
async function startGitHubTokenService() {
  const seen: { audience: string | null; auth: string | undefined; apiVersion: string | null }[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    seen.push({
      audience: url.searchParams.get('audience'),
      auth: req.headers.authorization,
      apiVersion: url.searchParams.get('api-version'),
    });
    if (req.headers.authorization !== 'Bearer runtime-request-token') {
      res.statusCode = 401;
      return res.end('{}');
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ value: `gh-oidc-token-${++n}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    seen,
    env: {
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/_apis/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runtime-request-token',
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('fetchGitHubOidcToken', () => {
  it('asks the runner for a token with the Entra audience and the request bearer', async () => {
    const gh = await startGitHubTokenService();
    try {
      expect(await fetchGitHubOidcToken({ env: gh.env })).toBe('gh-oidc-token-1');
      expect(await fetchGitHubOidcToken({ env: gh.env })).toBe('gh-oidc-token-2');
      expect(gh.seen[0]).toEqual({
        audience: AZURE_AD_TOKEN_EXCHANGE_AUDIENCE,
        auth: 'Bearer runtime-request-token',
        apiVersion: '2.0',
      });
    } finally {
      await gh.close();
    }
  });

  it('says what to do when the job has no id-token permission', async () => {
    await expect(fetchGitHubOidcToken({ env: {} })).rejects.toMatchObject({
      code: 'OidcTokenRequestFailed',
      hint: expect.stringMatching(/id-token: write/),
    });
  });

  it('surfaces a refused request with its status', async () => {
    const gh = await startGitHubTokenService();
    try {
      await expect(
        fetchGitHubOidcToken({ env: { ...gh.env, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' } }),
      ).rejects.toMatchObject({ code: 'OidcTokenRequestFailed', statusCode: 401 });
    } finally {
      await gh.close();
    }
  });
});

describeWhen(missing({ commands: ['openssl'] }), 'resolveCredential oidc', () => {
  let dir: string;
  let ca: string;
  let key: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'azure-oidc-test-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'c.pem',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'c.pem'), 'utf8');
    key = readFileSync(join(dir, 'k.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exchanges a fresh GitHub token for every Entra token request (long bakes outlive one assertion)', async () => {
    const gh = await startGitHubTokenService();
    const assertions: string[] = [];
    // A minimal Entra token endpoint over TLS: metadata + client_credentials with a client assertion.
    const entra = https.createServer({ key, cert: ca }, (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        const base = `https://127.0.0.1:${(entra.address() as AddressInfo).port}/tenant-1`;
        if (req.url!.includes('openid-configuration')) {
          return res.end(
            JSON.stringify({
              token_endpoint: `${base}/oauth2/v2.0/token`,
              issuer: `${base}/v2.0`,
              authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
              jwks_uri: `${base}/keys`,
            }),
          );
        }
        const form = new URLSearchParams(body);
        assertions.push(
          `${form.get('client_assertion_type')}|${form.get('client_assertion')}|${form.get('client_id')}`,
        );
        // a token that is already "near expiry", so the next getToken must go back to Entra
        res.end(
          JSON.stringify({
            token_type: 'Bearer',
            expires_in: 60,
            access_token: `arm-token-${assertions.length}`,
          }),
        );
      });
    });
    await new Promise<void>((r) => entra.listen(0, '127.0.0.1', r));
    try {
      const credential = resolveCredential({
        kind: 'oidc',
        clientId: 'client-1',
        tenantId: 'tenant-1',
        env: gh.env,
        authorityHost: `https://127.0.0.1:${(entra.address() as AddressInfo).port}`,
        credentialOptions: { disableInstanceDiscovery: true, tlsOptions: { ca } },
      });
      const t1 = await credential.getToken('https://management.azure.com/.default');
      const t2 = await credential.getToken('https://management.azure.com/.default');
      expect(t1?.token).toBe('arm-token-1');
      expect(t2?.token).toBe('arm-token-2');
      const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
      expect(assertions).toHaveLength(2);
      const used = assertions.map((a) => a.split('|'));
      for (const [t, , client] of used) {
        expect(t).toBe(type);
        expect(client).toBe('client-1');
      }
      // each Entra request carried a GitHub token fetched for it (MSAL may fetch one ahead; never reuses)
      const nums = used.map(([, tok]) => Number(/^gh-oidc-token-(\d+)$/.exec(tok)![1]));
      expect(nums[1]).toBeGreaterThan(nums[0]);
      expect(gh.seen.length).toBeGreaterThanOrEqual(2);
      expect(gh.seen.every((s) => s.audience === AZURE_AD_TOKEN_EXCHANGE_AUDIENCE)).toBe(true);
    } finally {
      await gh.close();
      await new Promise<void>((r) => entra.close(() => r()));
    }
  });
});

describe('resolveCredential', () => {
  it('names every missing OIDC input at once', () => {
    expect(() => resolveCredential({ kind: 'oidc', clientId: '', tenantId: '' })).toThrow(
      /client-id and tenant-id/,
    );
  });

  it('builds the other kinds', async () => {
    expect(resolveCredential({ kind: 'cli' }).constructor.name).toBe('AzureCliCredential');
    expect(resolveCredential({ kind: 'default' }).constructor.name).toBe('DefaultAzureCredential');
    const s = resolveCredential({ kind: 'static', token: 'abc' });
    expect((await s.getToken('x'))?.token).toBe('abc');
    expect(String(s)).not.toMatch(/abc/);
  });

  it('StaticTokenCredential returns a future expiry', async () => {
    const c = new StaticTokenCredential('t');
    const tok = await c.getToken('scope');
    expect(tok.expiresOnTimestamp).toBeGreaterThan(Date.now());
    expect(c.calls).toBe(1);
    expect(new AzureOperationError({ code: 'X', message: 'y' })).toBeInstanceOf(Error);
  });
});
