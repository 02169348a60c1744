/** Managed disks as sparse image files attached through loop devices. */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { track } from './cleanup';
import { must, runSync } from './proc';

/** Creates a sparse image file of `sizeBytes` (an existing file is kept as it is: it is a disk with data). */
export function createDiskImage(path: string, sizeBytes: number): string {
  const abs = resolve(path);
  if (existsSync(abs)) return abs;
  mkdirSync(dirname(abs), { recursive: true });
  const fd = openSync(abs, 'wx');
  try {
    ftruncateSync(fd, sizeBytes);
  } finally {
    closeSync(fd);
  }
  return abs;
}

export interface LoopDevice {
  /** e.g. /dev/loop3 */
  device: string;
  image: string;
  /** MAJ:MIN of the whole device. */
  majmin: string;
  /** Partitions the kernel knows of (after partx -a), e.g. [{ name: 'loop3p1', number: 1, majmin: '259:0' }]. */
  partitions(): { name: string; number: number; majmin: string }[];
  /** Removes the partitions from the kernel (partx -d) and detaches the loop device. Idempotent. */
  detach(): void;
}

function sysPartitions(dev: string): { name: string; number: number; majmin: string }[] {
  const name = basename(dev);
  const dir = `/sys/class/block/${name}`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(`${name}p`) && existsSync(`${dir}/${n}/partition`))
    .map((n) => ({
      name: n,
      number: Number(readFileSync(`${dir}/${n}/partition`, 'utf8').trim()),
      majmin: readFileSync(`${dir}/${n}/dev`, 'utf8').trim(),
    }))
    .sort((a, b) => a.number - b.number);
}

/**
 * Attaches an image file to a free loop device and registers any partition table it already has
 * (`partx -a`: this kernel has no partition parsers, so `losetup -P` would create nothing).
 */
export async function attachLoop(image: string, opts: { readOnly?: boolean } = {}): Promise<LoopDevice> {
  const abs = resolve(image);
  if (!existsSync(abs)) throw new Error(`attachLoop: ${abs} does not exist`);
  const r = await must('losetup', ['-f', '--show', ...(opts.readOnly ? ['-r'] : []), abs]);
  const device = r.stdout.trim();
  let attached = true;
  const undo = () => {
    if (!attached) return;
    runSync('partx', ['-d', device]);
    const d = runSync('losetup', ['-d', device]);
    if (d.code !== 0) throw new Error(`losetup -d ${device}: ${d.output.trim()}`);
    attached = false;
  };
  const untrack = track(`loop ${device} (${abs})`, undo, { kind: 'loop', device, image: abs });
  runSync('partx', ['-a', device]); // fails harmlessly on a disk without a partition table
  const majmin = readFileSync(`/sys/class/block/${basename(device)}/dev`, 'utf8').trim();
  return { device, image: abs, majmin, partitions: () => sysPartitions(device), detach: untrack };
}

/** Loop devices currently backed by `image` (e.g. to find leftovers). */
export function loopsFor(image: string): string[] {
  const out = runSync('losetup', ['-n', '-O', 'NAME,BACK-FILE', '-l']).output;
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, back]) => back === resolve(image))
    .map(([name]) => name);
}
