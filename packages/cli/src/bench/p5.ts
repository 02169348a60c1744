/** P5: each action bundle's size and cold start to its first log line. */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { figure, median, type Figure } from './figures';

export const BUNDLES = ['bake', 'stamp', 'upgrade', 'verify', 'fleet', 'action', 'cli'];

function dirBytes(dir: string): number {
  let total = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isFile()) total += st.size;
  }
  return total;
}

/** ms from spawn until the first byte on stdout or stderr. */
function firstLine(entry: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, [entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let done = false;
    const hit = () => {
      if (done) return;
      done = true;
      resolve(Number(process.hrtime.bigint() - t) / 1e6);
      child.kill('SIGKILL');
    };
    child.stdout.once('data', hit);
    child.stderr.once('data', hit);
    child.on('error', reject);
    child.on('close', () => {
      if (!done) reject(new Error(`${entry} printed nothing`));
    });
  });
}

export async function bundleFigures(o: {
  distDir: string;
  runs: number;
  log: (l: string) => void;
}): Promise<Figure[]> {
  const figures: Figure[] = [];
  const lib = join(o.distDir, 'lib');
  if (!existsSync(lib)) throw new Error(`P5: no ${lib}; run \`npm run build\` first`);
  const libBytes = dirBytes(lib);
  const base: number[] = [];
  for (let i = 0; i < o.runs; i++)
    base.push(await firstLine('-e', ['console.log(1)'], { PATH: process.env.PATH ?? '' }));
  const baseMs = median(base);
  for (const name of BUNDLES) {
    const entry = join(o.distDir, name, 'index.js');
    if (!existsSync(entry)) continue;
    const bytes = dirBytes(join(o.distDir, name)) + libBytes;
    // an action with no inputs prints its input error first; the CLI prints its version
    const args = name === 'cli' ? ['--version'] : [];
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ...(name === 'action' ? { INPUT_COMMAND: 'verify' } : {}),
    };
    const times: number[] = [];
    for (let i = 0; i < o.runs; i++) times.push(await firstLine(entry, args, env));
    const ms = median(times);
    const mb = bytes / (1024 * 1024);
    o.log(`P5: ${name} ${mb.toFixed(2)} MiB, first line after ${ms.toFixed(0)} ms (median of ${o.runs})`);
    const f = figure({
      id: 'P5',
      name: `bundle ${name}: cold start to first log line (size ${mb.toFixed(2)} MiB)`,
      value: ms,
      unit: 'ms',
      bound: 300,
      target: '<= 300 ms cold start and <= 5 MiB (entry + the shared dist/lib bundle)',
      direction: 'max',
      limit: 1,
      detail: `size = dist/${name}/ + dist/lib/ (the shared bundle every entry loads, counted in full for each) = ${bytes} bytes; runs ${times.map((t) => t.toFixed(0)).join(', ')} ms; a bare \`node -e console.log(1)\` takes ${baseMs.toFixed(0)} ms on this machine now`,
    });
    f.met = f.met && mb <= 5;
    figures.push({ ...f, sizeMiB: Math.round(mb * 1000) / 1000, sizeBoundMiB: 5 } as Figure);
  }
  return figures;
}
