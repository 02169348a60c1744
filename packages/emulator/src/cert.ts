/**
 * Self-signed CA + server certificate for the HTTPS emulator.
 *
 * Node 20 has no X.509 generation API, so we shell out to the `openssl` binary (OpenSSL 3 on the
 * dev machine, present on every GitHub runner). EC P-256 keys keep generation to a few ms.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GeneratedCert {
  /** PEM of the CA that signed the server certificate (what clients pass as `tlsOptions.ca`). */
  ca: string;
  cert: string;
  key: string;
}

const cache = new Map<string, GeneratedCert>();

/** One CA + server certificate per process and host set (generation shells out to openssl). */
export function certificateFor(hosts: string[]): GeneratedCert {
  const key = [...new Set(hosts)].sort().join(',');
  let c = cache.get(key);
  if (!c) {
    c = generateCertificate(hosts);
    cache.set(key, c);
  }
  return c;
}

export function generateCertificate(hosts: string[] = ['localhost', '127.0.0.1', '::1']): GeneratedCert {
  const dir = mkdtempSync(join(tmpdir(), 'openclawps-emu-cert-'));
  const run = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const serial = () =>
      '0x' + Buffer.from(Array.from({ length: 8 }, () => Math.floor(Math.random() * 256))).toString('hex');
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
    run([
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '3650',
      '-subj',
      '/CN=OpenClawps ARM Emulator CA',
      '-set_serial',
      serial(),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.pem',
    ]);
    run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key']);
    run(['req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr']);
    const san = [...new Set(hosts)]
      .map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`))
      .join(',');
    writeFileSync(
      join(dir, 'ext.cnf'),
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
    );
    run([
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial(),
      '-days',
      '825',
      '-sha256',
      '-extfile',
      'ext.cnf',
      '-out',
      'server.pem',
    ]);
    return {
      ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
      key: readFileSync(join(dir, 'server.key'), 'utf8'),
    };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(
      `emulator: generating the TLS certificate with openssl failed: ${err.stderr?.toString() || err.message}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
