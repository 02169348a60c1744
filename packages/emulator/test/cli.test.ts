/** runEmulatorCli: the entry the `openclawps emulator` command calls. */
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputeManagementClient } from '@azure/arm-compute';
import { runEmulatorCli } from '@openclawps/emulator';
import { parseCliArgs } from '../src/cli';
import { credential } from './clients';

describe('runEmulatorCli', () => {
  it('parses the documented flags and reports every problem at once', () => {
    expect(
      parseCliArgs([
        '--port',
        '8441',
        '--http',
        '--state',
        's.json',
        '--latency-scale',
        '0.5',
        '--throttling',
      ]),
    ).toMatchObject({
      port: 8441,
      http: true,
      state: 's.json',
      latencyScale: 0.5,
      throttling: true,
    });
    expect(() => parseCliArgs(['--port', 'x', '--latency-scale', '-1', '--bogus'])).toThrow(
      /--port must be an integer.*--latency-scale must be a number.*unknown option --bogus/s,
    );
  });

  it('starts an https emulator, prints its URL and CA path, and serves the SDK', async () => {
    const lines: string[] = [];
    const state = join(tmpdir(), `emu-cli-${process.pid}.json`);
    const run = await runEmulatorCli(['--port', '0', '--state', state], (l) => lines.push(l));
    try {
      expect(lines[0]).toBe(`ARM emulator listening on ${run.url}`);
      expect(run.caPath && existsSync(run.caPath)).toBe(true);
      expect(lines.join('\n')).toContain(`CA certificate: ${run.caPath}`);
      const sub = lines.find((l) => l.startsWith('subscription: '))!.slice('subscription: '.length);
      const c = new ComputeManagementClient(credential, sub, {
        endpoint: run.url,
        tlsOptions: { ca: readFileSync(run.caPath!, 'utf8') },
      });
      await expect(c.disks.get('none', 'x')).rejects.toMatchObject({ code: 'ResourceGroupNotFound' });
    } finally {
      await run.close();
      rmSync(state, { force: true });
    }
  });

  it('--http serves plain HTTP (clients then remove the bearer policy)', async () => {
    const run = await runEmulatorCli(['--http'], () => undefined);
    try {
      expect(run.url).toMatch(/^http:\/\//);
      expect(run.caPath).toBeUndefined();
      const res = await fetch(`${run.url}/_emulator/health`);
      expect(res.status).toBe(200);
    } finally {
      await run.close();
    }
  });
});
