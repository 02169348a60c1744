import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import {
  ed25519PairProblem,
  fingerprintOfPublicKey,
  generateEd25519KeyPair,
  hostKeyFingerprintOf,
  normalizeSha256Fingerprint,
} from '@openclawps/guest';
import { hasCommand } from '../../../test/helpers/skip';

describe('generateEd25519KeyPair', () => {
  test('3000 pairs: every one parses with ssh2 and signs/verifies', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const pair = generateEd25519KeyPair();
      const priv = utils.parseKey(pair.privateKey);
      const pub = utils.parseKey(pair.publicKey);
      if (priv instanceof Error || Array.isArray(priv))
        throw new Error(`pair ${i}: private key does not parse`);
      if (pub instanceof Error || Array.isArray(pub)) throw new Error(`pair ${i}: public key does not parse`);
      expect(priv.isPrivateKey()).toBe(true);
      expect(pub.getPublicSSH().length).toBe(51);
      const data = Buffer.from(`message ${i}`);
      const sig = priv.sign(data);
      if (sig instanceof Error) throw sig;
      expect(pub.verify(data, sig)).toBe(true);
      expect(pair.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=*$/);
      expect(pair.fingerprint).toBe(hostKeyFingerprintOf(pub.getPublicSSH()));
      seen.add(pair.publicKey);
    }
    expect(seen.size).toBe(3000);
  });

  test('the validator rejects the broken pairs ssh2 sometimes generates (mscdex/ssh2#1513)', () => {
    // Keep generating raw pairs until one is broken (about 1 in 256), and check the validator catches it.
    let broken: { private: string; public: string } | null = null;
    for (let i = 0; i < 20000 && !broken; i++) {
      const raw = utils.generateKeyPairSync('ed25519');
      const p = utils.parseKey(raw.private);
      if (p instanceof Error) broken = raw;
    }
    expect(broken).not.toBeNull();
    expect(ed25519PairProblem(broken!.private, broken!.public)).toMatch(/does not parse|bytes|match/);
    const good = generateEd25519KeyPair();
    expect(ed25519PairProblem(good.privateKey, good.publicKey)).toBeNull();
  });

  test('comment is kept on the public line; multi-line comments refused', () => {
    expect(generateEd25519KeyPair({ comment: 'alice@claw' }).publicKey).toMatch(/ alice@claw$/);
    expect(() => generateEd25519KeyPair({ comment: 'a\nb' })).toThrow(/single line/);
  });
});

describe('fingerprints', () => {
  const maybe = hasCommand('ssh-keygen') ? test : test.skip;
  maybe('match ssh-keygen -lf for generated keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oclw-fp-'));
    try {
      for (let i = 0; i < 5; i++) {
        const pair = generateEd25519KeyPair({ comment: 'x' });
        writeFileSync(join(dir, 'k.pub'), `${pair.publicKey}\n`);
        const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'k.pub')], {
          encoding: 'utf8',
        });
        expect(out.split(/\s+/)[1]).toBe(pair.fingerprint);
        expect(fingerprintOfPublicKey(pair.publicKey)).toBe(pair.fingerprint);
        expect(hostKeyFingerprintOf(pair.publicKey)).toBe(pair.fingerprint);
      }
      // ssh-keygen's own keys, and a private key it reads back
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
      const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host.pub')], {
        encoding: 'utf8',
      }).split(/\s+/)[1];
      const line = execFileSync('cat', [join(dir, 'host.pub')], { encoding: 'utf8' });
      expect(fingerprintOfPublicKey(line)).toBe(expected);
      const ours = generateEd25519KeyPair();
      writeFileSync(join(dir, 'ours'), ours.privateKey, { mode: 0o600 });
      const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'ours')], {
        encoding: 'utf8',
      }).trim();
      expect(derived.split(' ').slice(0, 2).join(' ')).toBe(ours.publicKey.split(' ').slice(0, 2).join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('normalizeSha256Fingerprint accepts the usual spellings and rejects others', () => {
    const fp = generateEd25519KeyPair().fingerprint;
    const bare = fp.slice('SHA256:'.length);
    expect(normalizeSha256Fingerprint(fp)).toBe(fp);
    expect(normalizeSha256Fingerprint(bare)).toBe(fp);
    expect(normalizeSha256Fingerprint(`${bare}=`)).toBe(fp);
    expect(normalizeSha256Fingerprint(` sha256:${bare} `)).toBe(fp);
    expect(normalizeSha256Fingerprint('MD5:aa:bb')).toBeNull();
    expect(normalizeSha256Fingerprint('SHA256:short')).toBeNull();
  });

  test('fingerprintOfPublicKey refuses non-key text', () => {
    expect(() => fingerprintOfPublicKey('hello world')).toThrow(/not an OpenSSH public key/);
  });
});
