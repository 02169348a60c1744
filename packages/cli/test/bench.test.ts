import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { criticalPath, figure, runBench } from '../src/bench';

const dist = join(__dirname, '../../../dist');

describe('bench', () => {
  test('critical path is the longest dependent chain', () => {
    const cp = criticalPath([
      { id: 'rg', dependsOn: [], ms: 1 },
      { id: 'net', dependsOn: ['rg'], ms: 8 },
      { id: 'pip', dependsOn: ['rg'], ms: 5 },
      { id: 'disk', dependsOn: ['rg'], ms: 10 },
      { id: 'nic', dependsOn: ['net', 'pip'], ms: 5 },
      { id: 'vm', dependsOn: ['nic', 'disk'], ms: 90 },
    ]);
    expect(cp).toEqual({ ms: 104, chain: ['rg', 'net', 'nic', 'vm'] });
  });

  test('a figure carries its ratio and whether it met the target', () => {
    expect(
      figure({
        id: 'P1',
        name: 'x',
        value: 11,
        unit: 's',
        bound: 10,
        target: '<= 1.10 x bound',
        direction: 'max',
        limit: 1.1,
      }),
    ).toMatchObject({ ratio: 1.1, met: true });
    expect(
      figure({
        id: 'P4',
        name: 'x',
        value: 5,
        unit: 's',
        bound: 1,
        target: '>= 10 x',
        direction: 'min',
        limit: 10,
      }).met,
    ).toBe(false);
  });

  (existsSync(join(dist, 'lib/index.js')) ? test : test.skip)(
    '--json shape of a tiny run (P5 only, one run per bundle)',
    async () => {
      const out = await runBench({
        scale: 0,
        fleetScale: 0,
        fleetSize: 1,
        fleetParallel: 1,
        fleetBatchPercent: 100,
        runs: 1,
        distDir: dist,
        only: ['P5'],
        log: () => undefined,
      });
      const parsed = JSON.parse(JSON.stringify(out)) as { figures: Array<Record<string, unknown>> };
      expect(parsed.figures.length).toBeGreaterThanOrEqual(5);
      for (const f of parsed.figures) {
        for (const k of ['id', 'name', 'value', 'unit', 'bound', 'ratio', 'target', 'met'])
          expect(f).toHaveProperty(k);
        expect(f.id).toBe('P5');
        expect(typeof f.value).toBe('number');
        expect(typeof f.met).toBe('boolean');
      }
    },
  );
});
