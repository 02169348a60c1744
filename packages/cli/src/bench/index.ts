/**
 * `openclawps bench`: P1-P5 measured side by side in one run on the emulator's latency model (scaled so a
 * run takes a minute or two). Nothing here asserts timings; the figures are printed (and kept in CI logs).
 */
import { join } from 'node:path';
import { bundleFigures } from './p5';
import { fleetFigure } from './fleet';
import { sandboxFigures } from './sandbox';
import type { Figure } from './figures';

export type { Figure } from './figures';
export { criticalPath, figure } from './figures';

export interface BenchOptions {
  /** Latency scale for P1/P2 (1 = real Azure durations). */
  scale: number;
  /** Latency scale for P3. */
  fleetScale: number;
  fleetSize: number;
  fleetParallel: number;
  fleetBatchPercent: number;
  /** Cold-start runs per bundle (median). */
  runs: number;
  distDir: string;
  only?: string[];
  log: (line: string) => void;
}

export const DEFAULT_BENCH: Omit<BenchOptions, 'log' | 'distDir'> = {
  scale: 0.2,
  fleetScale: 0.05,
  fleetSize: 100,
  fleetParallel: 25,
  fleetBatchPercent: 25,
  runs: 5,
};

export function defaultDistDir(): string {
  // dist/lib/index.js (bundled) or packages/cli/src/bench (source): the repo's dist/ either way
  const env = process.env.OPENCLAWPS_ASSET_ROOT;
  if (env) return join(env, 'dist');
  return join(__dirname, __dirname.includes(`${'dist'}`) ? '..' : '../../../../dist');
}

export async function runBench(o: BenchOptions): Promise<{ figures: Figure[] }> {
  const want = (id: string) => !o.only?.length || o.only.includes(id);
  const figures: Figure[] = [];
  const safe = async (ids: string[], fn: () => Promise<Figure[]>) => {
    if (!ids.some(want)) return;
    try {
      figures.push(...(await fn()).filter((f) => want(f.id)));
    } catch (e) {
      o.log(`${ids.join('/')} failed: ${(e as Error).stack ?? e}`);
      for (const id of ids.filter(want))
        figures.push({
          id,
          name: `${id} could not be measured`,
          value: NaN,
          unit: '',
          bound: NaN,
          ratio: NaN,
          target: '',
          met: false,
          detail: (e as Error).message,
        });
    }
  };
  await safe(['P1', 'P2', 'P4'], () => sandboxFigures({ scale: o.scale, log: o.log }));
  await safe(['P3'], async () => [
    await fleetFigure({
      scale: o.fleetScale,
      size: o.fleetSize,
      parallel: o.fleetParallel,
      batchPercent: o.fleetBatchPercent,
      log: o.log,
    }),
  ]);
  await safe(['P5'], () => bundleFigures({ distDir: o.distDir, runs: o.runs, log: o.log }));
  const order = ['P1', 'P2', 'P3', 'P4', 'P5'];
  figures.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  return { figures };
}

export function renderFigures(figures: Figure[]): string {
  const lines = figures.map(
    (f) =>
      `${f.met ? 'MET ' : 'MISS'} ${f.id} ${f.name}\n      value ${f.value} ${f.unit}, bound ${f.bound} ${f.unit}, ratio ${f.ratio} (target ${f.target})` +
      (f.detail ? `\n      ${f.detail}` : ''),
  );
  const met = figures.filter((f) => f.met).length;
  return `${lines.join('\n')}\nbench: ${met} of ${figures.length} figures met their targets`;
}
