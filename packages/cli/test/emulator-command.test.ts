/** `openclawps emulator`: flags -> a running emulator (sandbox guest or none), what it prints. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startEmulatorFromFlags, type EmulatorFlags } from '../src/commands/emulator';

const base: EmulatorFlags = {
  port: 0,
  http: false,
  latencyScale: 0,
  throttling: false,
  guest: 'sandbox',
  sshPort: 0,
};

describe('openclawps emulator', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'emu-cmd-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts https + sandbox guest and prints URL, CA path, subscription and SSH port', async () => {
    const lines: string[] = [];
    const caOut = path.join(dir, 'ca.pem');
    const state = path.join(dir, 'world.json');
    const { emu, caPath } = await startEmulatorFromFlags({ ...base, caOut, state }, (l) => lines.push(l));
    try {
      expect(caPath).toBe(caOut);
      expect(readFileSync(caOut, 'utf8')).toBe(emu.ca);
      const text = lines.join('\n');
      expect(text).toContain(`ARM emulator listening on ${emu.url}`);
      expect(emu.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(text).toContain(`subscription: ${emu.subscriptionId}`);
      expect(emu.sshPort).toBeGreaterThan(0);
      expect(text).toContain(`SSH port of the VMs: ${emu.sshPort}`);
      expect(text).toContain(`sandbox workdir: ${state}.guest`);
      expect(existsSync(`${state}.guest/bin/systemctl`)).toBe(true);
    } finally {
      await emu.close();
    }
  });

  it('--http --guest none: plain HTTP, no SSH', async () => {
    const lines: string[] = [];
    const { emu, caPath } = await startEmulatorFromFlags({ ...base, http: true, guest: 'none' }, (l) =>
      lines.push(l),
    );
    try {
      expect(emu.url).toMatch(/^http:\/\//);
      expect(caPath).toBeUndefined();
      expect(emu.sshPort).toBeUndefined();
      expect(lines.join('\n')).toContain('guest: none');
    } finally {
      await emu.close();
    }
  });

  it('refuses an unknown guest before starting anything', async () => {
    await expect(startEmulatorFromFlags({ ...base, guest: 'qemu' }, () => undefined)).rejects.toThrow(
      /--guest must be sandbox, nspawn or none, got "qemu"/,
    );
  });
});
