/** `openclawps bench [--json]`: the P1-P5 figures (see packages/cli/src/bench). */
import { Command } from 'commander';
import { DEFAULT_BENCH, defaultDistDir, renderFigures, runBench } from '../bench';
import type { Register } from './index';

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected a non-negative number, got "${v}"`);
  return n;
};

export const registerBench: Register = (program: Command) => {
  program
    .command('bench')
    .description(
      'measure P1-P5 (stamp, upgrade downtime, fleet rollout under throttling, verify, bundles) on the local emulator',
    )
    .option('--json', 'print {"figures":[...]} only', false)
    .option('--only <ids>', 'comma-separated figure ids (P1,P2,P3,P4,P5)')
    .option('--scale <x>', 'latency scale for P1/P2 (1 = real Azure durations)', num, DEFAULT_BENCH.scale)
    .option('--fleet-scale <x>', 'latency scale for P3', num, DEFAULT_BENCH.fleetScale)
    .option('--fleet-size <n>', 'claws in the P3 fleet', num, DEFAULT_BENCH.fleetSize)
    .option('--fleet-parallel <n>', 'P3 max parallel upgrades', num, DEFAULT_BENCH.fleetParallel)
    .option('--fleet-batch-percent <n>', 'P3 max batch %', num, DEFAULT_BENCH.fleetBatchPercent)
    .option('--runs <n>', 'P5 cold-start runs per bundle (median)', num, DEFAULT_BENCH.runs)
    .option('--dist <dir>', 'the built bundles (default: the repo dist/)')
    .action(async (o) => {
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const result = await runBench({
        scale: o.scale,
        fleetScale: o.fleetScale,
        fleetSize: o.fleetSize,
        fleetParallel: o.fleetParallel,
        fleetBatchPercent: o.fleetBatchPercent,
        runs: o.runs,
        distDir: o.dist ?? defaultDistDir(),
        only: o.only
          ? String(o.only)
              .split(',')
              .map((s: string) => s.trim().toUpperCase())
          : undefined,
        log,
      });
      if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`${renderFigures(result.figures)}\n`);
    });
};
