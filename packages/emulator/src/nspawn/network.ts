/**
 * A guest's "NIC": its own network namespace and a veth pair; the host end gets x.x.x.1/30 and the
 * guest end (named eth0) x.x.x.2/30 from the benchmark range 198.18.0.0/15 (RFC 2544, never routed
 * on the internet), so the host reaches the guest at a real address and nothing else does.
 * The namespace outlives container restarts, so a guest keeps its address like a NIC with a static IP.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { track } from './cleanup';
import { must, runSync } from './proc';

export interface GuestNetwork {
  netns: string;
  /** /run/netns/<netns>, for systemd-nspawn --network-namespace-path. */
  nsPath: string;
  hostIf: string;
  guestIf: string;
  hostAddress: string;
  guestAddress: string;
  prefixLength: number;
  /** Deletes the veth pair and the namespace. Idempotent. */
  dispose(): void;
}

const BASE = (198 << 24) | (18 << 16); // 198.18.0.0
const SLOTS = (1 << 17) / 4; // /30s in 198.18.0.0/15

function ip4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The /30 of slot i: host .1, guest .2. */
export function slotAddresses(i: number): {
  hostAddress: string;
  guestAddress: string;
  prefixLength: number;
} {
  if (!Number.isInteger(i) || i < 0 || i >= SLOTS) throw new Error(`slot ${i} is outside 198.18.0.0/15`);
  const net = (BASE + i * 4) >>> 0;
  return { hostAddress: ip4(net + 1), guestAddress: ip4(net + 2), prefixLength: 30 };
}

function usedAddresses(): Set<string> {
  const out = runSync('ip', ['-4', '-o', 'addr', 'show']).output;
  return new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]));
}

export function netnsName(name: string): string {
  return `ocps-${name.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 60);
}

/** Creates the namespace, veth pair and addresses. `slot` pins the /30; otherwise the first free one from a hash of the name. */
export async function createNetwork(opts: { name: string; slot?: number }): Promise<GuestNetwork> {
  const netns = netnsName(opts.name);
  if (existsSync(`/run/netns/${netns}`))
    throw new Error(`network namespace ${netns} already exists (a container named ${opts.name} is running?)`);
  const h = createHash('sha256').update(opts.name).digest('hex');
  const hostIf = `ocps${h.slice(0, 8)}`; // <= 15 chars
  const tmpIf = `ocpg${h.slice(0, 8)}`;
  let slot = opts.slot;
  if (slot === undefined) {
    const used = usedAddresses();
    const start = parseInt(h.slice(0, 6), 16) % SLOTS;
    for (let k = 0; k < SLOTS; k++) {
      const s = (start + k) % SLOTS;
      const a = slotAddresses(s);
      if (!used.has(a.hostAddress) && !used.has(a.guestAddress)) {
        slot = s;
        break;
      }
    }
    if (slot === undefined) throw new Error('no free /30 in 198.18.0.0/15');
  }
  const { hostAddress, guestAddress, prefixLength } = slotAddresses(slot);

  await must('ip', ['netns', 'add', netns]);
  const dropNs = track(`netns ${netns}`, () => void runSync('ip', ['netns', 'del', netns]), {
    kind: 'netns',
    name: netns,
  });
  let dropLink: () => void = () => undefined;
  try {
    await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', tmpIf]);
    dropLink = track(`veth ${hostIf}`, () => void runSync('ip', ['link', 'del', hostIf]), {
      kind: 'link',
      name: hostIf,
    });
    await must('ip', ['link', 'set', tmpIf, 'netns', netns]);
    await must('ip', ['-n', netns, 'link', 'set', tmpIf, 'name', 'eth0']);
    await must('ip', ['-n', netns, 'addr', 'add', `${guestAddress}/${prefixLength}`, 'dev', 'eth0']);
    await must('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await must('ip', ['addr', 'add', `${hostAddress}/${prefixLength}`, 'dev', hostIf]);
    await must('ip', ['link', 'set', hostIf, 'up']);
  } catch (err) {
    dropLink();
    dropNs();
    throw err;
  }
  return {
    netns,
    nsPath: `/run/netns/${netns}`,
    hostIf,
    guestIf: 'eth0',
    hostAddress,
    guestAddress,
    prefixLength,
    dispose() {
      dropLink();
      dropNs();
    },
  };
}
