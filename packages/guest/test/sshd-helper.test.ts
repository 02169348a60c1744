/**
 * The sshd helper itself: both variants start, clean up after themselves, and the non-root variant
 * (sshd as the current user, keys in a temp dir) works for verify without sudo.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connectSsh, verifyClaw } from '@openclawps/guest';
import { describeWhen } from '../../../test/helpers/skip';
import { sampleVerifyReport, sshdMissing, startSshd } from '../../../test/helpers/sshd';

function userExists(name: string): boolean {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A killed process can show as defunct until its parent (PID 1 here) reaps it. */
function goneOrZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

describeWhen(sshdMissing(), 'test/helpers/sshd', () => {
  test('non-root variant: logs in as the current user by key; verify runs without sudo', async () => {
    const sshd = await startSshd({
      mode: 'user',
      verifyReport: sampleVerifyReport({ claw: 'carol', fail: ['boot.service'] }),
    });
    try {
      expect(sshd.mode).toBe('user');
      expect(sshd.sudo).toBe(false);
      const res = await verifyClaw({
        ...sshd.connectOptions(),
        hostKeySha256: sshd.hostKeyFingerprint,
        command: sshd.verifyCommand,
        sudo: false,
        timeoutMs: 30_000,
      });
      expect(res.summary).toMatchObject({ claw: 'carol', healthy: false, failedChecks: ['boot.service'] });
      expect(sshd.verifyCalls()).toEqual([process.getuid!()]);
      expect(sshd.log()).toMatch(/Accepted publickey for /);
    } finally {
      await sshd.stop();
    }
    expect(existsSync(sshd.dir)).toBe(false);
  });

  const rootOnly = process.getuid?.() === 0 ? test : test.skip;
  rootOnly(
    'root variant: throwaway user with sudo, removed again by stop(), together with sshd and its sessions',
    async () => {
      const sshd = await startSshd({ password: 'Helper-Pw-2a7c' });
      const sudoers = `/etc/sudoers.d/oclw-${sshd.username}`;
      expect(sshd.username).toMatch(/^oclw[0-9a-f]{8}$/);
      expect(userExists(sshd.username)).toBe(true);
      expect(existsSync(sudoers)).toBe(true);
      const s = await connectSsh(sshd.connectOptions());
      expect((await s.exec('sudo -n id -u')).stdout).toBe('0\n');
      const sessions = sshd.sessionPids();
      expect(sessions.length).toBeGreaterThan(0);
      const listener = Number(execFileSync('cat', [`${sshd.dir}/sshd.pid`], { encoding: 'utf8' }).trim());
      await sshd.stop();
      s.close();
      expect(userExists(sshd.username)).toBe(false);
      expect(existsSync(sudoers)).toBe(false);
      expect(existsSync(sshd.dir)).toBe(false);
      for (const pid of [listener, ...sessions]) {
        const end = Date.now() + 5000;
        while (!goneOrZombie(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        expect([pid, goneOrZombie(pid)]).toEqual([pid, true]);
      }
      await sshd.stop(); // idempotent
    },
  );

  test('two instances side by side get different ports and users', async () => {
    const [a, b] = await Promise.all([startSshd(), startSshd()]);
    try {
      expect(a.port).not.toBe(b.port);
      if (a.mode === 'root') expect(a.username).not.toBe(b.username);
      expect(a.hostKeyFingerprint).not.toBe(b.hostKeyFingerprint);
      // b's key does not open a (different user / authorized_keys)
      if (a.mode === 'root')
        await expect(connectSsh(a.connectOptions({ privateKey: b.privateKey }))).rejects.toThrow(
          /authentication/,
        );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
