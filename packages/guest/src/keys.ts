/**
 * SSH key material: ed25519 key pairs that both ssh2 and OpenSSH accept, and SHA256 fingerprints
 * exactly as `ssh-keygen -l` prints them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { utils } from 'ssh2';

export interface Ed25519KeyPair {
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted. A secret: never log it. */
  privateKey: string;
  /** One authorized_keys line: `ssh-ed25519 AAAA… [comment]`. */
  publicKey: string;
  /** `SHA256:<base64 without padding>`, like `ssh-keygen -lf`. */
  fingerprint: string;
}

const ED25519_BLOB_LENGTH = 4 + 'ssh-ed25519'.length + 4 + 32;

/** Why a generated pair is unusable, or null when it is fine. */
export function ed25519PairProblem(privateKey: string, publicKey: string): string | null {
  const priv = utils.parseKey(privateKey);
  if (priv instanceof Error) return `private key does not parse: ${priv.message}`;
  const pub = utils.parseKey(publicKey);
  if (pub instanceof Error) return `public key does not parse: ${pub.message}`;
  if (Array.isArray(priv) || Array.isArray(pub)) return 'expected exactly one key';
  if (priv.type !== 'ssh-ed25519' || pub.type !== 'ssh-ed25519')
    return `unexpected key type ${priv.type}/${pub.type}`;
  const blob = pub.getPublicSSH();
  if (blob.length !== ED25519_BLOB_LENGTH)
    return `public key blob has ${blob.length} bytes, expected ${ED25519_BLOB_LENGTH}`;
  if (!priv.getPublicSSH().equals(blob)) return 'private and public halves do not match';
  const data = randomBytes(32);
  const sig = priv.sign(data);
  if (sig instanceof Error) return `signing fails: ${sig.message}`;
  if (pub.verify(data, sig) !== true) return 'signature does not verify';
  return null;
}

/**
 * A fresh ed25519 key pair. ssh2's generator sometimes (about 1 in 256: a public key whose first byte
 * is 0 gets truncated, mscdex/ssh2#1513) yields a pair it cannot parse itself; such pairs are
 * discarded and regenerated, so what is returned always parses and signs/verifies.
 */
export function generateEd25519KeyPair(options: { comment?: string } = {}): Ed25519KeyPair {
  const comment = options.comment ?? '';
  if (/[\r\n]/.test(comment)) throw new Error('generateEd25519KeyPair: comment must be a single line');
  let lastProblem = '';
  for (let attempt = 0; attempt < 64; attempt++) {
    const pair = utils.generateKeyPairSync('ed25519', comment ? { comment } : undefined);
    const problem = ed25519PairProblem(pair.private, pair.public);
    if (problem) {
      lastProblem = problem;
      continue;
    }
    const publicKey = pair.public.trim();
    return { privateKey: pair.private, publicKey, fingerprint: fingerprintOfPublicKey(publicKey) };
  }
  throw new Error(`generateEd25519KeyPair: 64 generated pairs in a row were unusable (last: ${lastProblem})`);
}

/** `SHA256:…` of a raw SSH public key blob (what the server sends during key exchange). */
export function hostKeyFingerprintOf(publicKeyBlob: Buffer | Uint8Array | string): string {
  if (typeof publicKeyBlob === 'string') return fingerprintOfPublicKey(publicKeyBlob);
  const digest = createHash('sha256').update(publicKeyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** `SHA256:…` of an authorized_keys / known_hosts style line (`ssh-ed25519 AAAA… comment`). */
export function fingerprintOfPublicKey(line: string): string {
  const fields = line.trim().split(/\s+/);
  const b64 = fields.find((f, i) => i > 0 && /^AAAA[A-Za-z0-9+/]+=*$/.test(f)) ?? fields[0];
  if (!b64 || !/^AAAA[A-Za-z0-9+/]+=*$/.test(b64)) {
    throw new Error('not an OpenSSH public key line (expected "<type> AAAA… [comment]")');
  }
  return hostKeyFingerprintOf(Buffer.from(b64, 'base64'));
}

/**
 * Normalizes a pinned fingerprint for comparison: accepts `SHA256:abc…`, `abc…`, with or without `=`
 * padding. Returns null for something that cannot be a SHA256 fingerprint.
 */
export function normalizeSha256Fingerprint(value: string): string | null {
  const v = value
    .trim()
    .replace(/^SHA256:/i, '')
    .replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]{43}$/.test(v)) return null;
  return `SHA256:${v}`;
}
