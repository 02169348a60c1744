/**
 * Contract: the guest's real /opt/claw/verify (cloud-init/claw/verify, in the CLAW_SANDBOX root the
 * guest bats suites use) run over a real OpenSSH sshd through sudo, parsed by parseVerifyReport.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyClaw } from '@openclawps/guest';
import { describeWhen, missing } from '../../../test/helpers/skip';
import { sshdMissing, startSshd, type TestSshd } from '../../../test/helpers/sshd';

const repo = join(__dirname, '../../..');
const helpers = join(repo, 'test/guest/helpers.bash');
const skip =
  sshdMissing() ??
  missing({ commands: ['bash', 'jq'] }) ??
  (existsSync(helpers) ? null : 'needs test/guest/helpers.bash');

describeWhen(skip, "the guest's real verify over a real sshd", () => {
  let sshd: TestSshd;
  let env: Record<string, string>;
  let wrapper: string;

  beforeAll(async () => {
    // A booted sandbox claw, exactly as test/guest/*.bats make it.
    const out = execFileSync(
      'bash',
      [
        '-c',
        `source ${JSON.stringify(helpers)}; make_sandbox desktop; "$R/opt/claw/boot.sh" >/dev/null 2>&1 || exit 3; env | grep -E '^(CLAW_|FAKE_SYSTEMD_DIR=)'`,
      ],
      { encoding: 'utf8', env: { ...process.env, CLAW_DISK_WAIT: '1' } },
    );
    env = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.CLAW_ROOT).toMatch(/claw-root/);
    sshd = await startSshd();
    // sudo resets the environment, so the sandbox settings travel in a wrapper.
    wrapper = join(sshd.dir, 'sandbox-verify');
    const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
    writeFileSync(
      wrapper,
      ['#!/bin/bash', ...exports, `exec "$CLAW_ROOT/opt/claw/verify" "$@"`, ''].join('\n'),
      { mode: 0o755 },
    );
  }, 60_000);

  afterAll(async () => {
    await sshd?.stop();
    if (env?.CLAW_ROOT?.includes('claw-root')) rmSync(env.CLAW_ROOT, { recursive: true, force: true });
  });

  test('healthy sandbox claw: the report parses and is healthy', async () => {
    const res = await verifyClaw({
      ...sshd.connectOptions(),
      hostKeySha256: sshd.hostKeyFingerprint,
      command: wrapper,
      sudo: sshd.sudo,
      timeoutMs: 60_000,
    });
    expect(res.summary.failedChecks).toEqual([]);
    expect(res.summary.healthy).toBe(true);
    expect(res.report.claw).toBe('alice');
    expect(res.report.checks.length).toBeGreaterThanOrEqual(30);
    expect(res.summary.groups.map((g) => g.group)).toEqual(
      expect.arrayContaining(['disk', 'links', 'config', 'secrets', 'services', 'gateway', 'boot']),
    );
    expect(res.markdown).toMatch(/^### Verify `alice`: HEALTHY/);
    // sandbox-impossible checks are skips with a reason, which the table shows
    expect(res.markdown).toMatch(/\| SKIP \| (yes|no) \| .*sandbox/);
    // the provider key from claw.env never reaches the summary
    expect(res.markdown).not.toContain('sk-ant-test-0000000000000000');
  });

  test('broken claw (seed marker gone): unhealthy, disk.initialized failing, exit 1 tolerated', async () => {
    rmSync(join(env.CLAW_ROOT!, 'mnt/claw-data/.claw-initialized'), { force: true });
    const res = await verifyClaw({
      ...sshd.connectOptions(),
      command: wrapper,
      sudo: sshd.sudo,
      timeoutMs: 60_000,
    });
    expect(res.summary.healthy).toBe(false);
    expect(res.summary.failedRequired).toContain('disk.initialized');
    expect(res.annotations.find((a) => a.title.startsWith('verify alice: disk failed'))?.level).toBe('error');
  });
});
