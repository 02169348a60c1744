/**
 * The real ssh2 client against a real OpenSSH sshd on 127.0.0.1 (test/helpers/sshd.ts).
 */
import { createServer, type Socket } from 'node:net';
import {
  connectSsh,
  generateEd25519KeyPair,
  HostKeyMismatchError,
  measureVerifyConnections,
  runVerify,
  SshError,
  verifyClaw,
  VerifyReportError,
  type SshSession,
} from '@openclawps/guest';
import { describeWhen } from '../../../test/helpers/skip';
import {
  cmdlineOf,
  prepareSshd,
  sampleVerifyReport,
  sshdMissing,
  startSshd,
  type TestSshd,
} from '../../../test/helpers/sshd';

function memoryReporter(): { info: (m: string) => void; warn: (m: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWhen(sshdMissing(), 'guest SSH against a real OpenSSH sshd', () => {
  const PASSWORD = 'Pw-oclw-Test-9f83a1';
  let sshd: TestSshd;

  beforeAll(async () => {
    sshd = await startSshd({ password: process.getuid?.() === 0 ? PASSWORD : undefined });
  });
  afterAll(async () => {
    await sshd?.stop();
  });
  beforeEach(() => sshd.setVerify(sampleVerifyReport()));

  describe('verify', () => {
    test('healthy host: verify over one connection, through sudo, all pass -> healthy', async () => {
      const reporter = memoryReporter();
      const before = sshd.verifyCalls().length;
      const res = await verifyClaw({
        ...sshd.connectOptions(),
        hostKeySha256: sshd.hostKeyFingerprint,
        timeoutMs: 30_000,
        command: sshd.verifyCommand,
        sudo: sshd.sudo,
        reporter,
      });
      expect(res.summary.healthy).toBe(true);
      expect(res.summary.failedChecks).toEqual([]);
      expect(res.report.claw).toBe('alice');
      expect(res.markdown).toMatch(/^### Verify `alice`: HEALTHY/);
      expect(res.annotations).toEqual([]);
      expect(res.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      const calls = sshd.verifyCalls().slice(before);
      expect(calls).toEqual([sshd.sudo ? 0 : process.getuid!()]);
      expect(reporter.lines.join('\n')).toMatch(/alice is healthy \(14 pass, 0 fail, 0 warn, 0 skip\)/);
      expect(reporter.lines.join('\n')).not.toContain(sshd.privateKey.split('\n')[1]!);
    });

    test('failing host: a required check fails -> unhealthy, failed checks listed, exit 1 tolerated', async () => {
      sshd.setVerify(sampleVerifyReport({ fail: ['gateway.readyz', 'disk.free'] }), 1);
      const res = await verifyClaw({
        ...sshd.connectOptions(),
        timeoutMs: 30_000,
        command: sshd.verifyCommand,
        sudo: sshd.sudo,
      });
      expect(res.summary.healthy).toBe(false);
      expect(res.summary.failedChecks).toEqual(['gateway.readyz', 'disk.free']);
      expect(res.summary.failedRequired).toEqual(['gateway.readyz']);
      expect(res.markdown).toContain('UNHEALTHY');
      expect(res.annotations.map((a) => [a.level, a.title])).toEqual([
        ['warning', 'verify alice: disk failed (1 of 4 checks)'],
        ['error', 'verify alice: gateway failed (1 of 1 checks)'],
      ]);
    });

    test('garbage on stdout is a clear error, with the stderr tail', async () => {
      sshd.setVerify('Traceback: something broke\n', 1, { stderr: 'verify: jq: command not found\n' });
      const err = await rejection(
        verifyClaw({
          ...sshd.connectOptions(),
          timeoutMs: 30_000,
          command: sshd.verifyCommand,
          sudo: sshd.sudo,
        }),
      );
      expect(err).toBeInstanceOf(VerifyReportError);
      expect(err.message).toMatch(
        /not JSON.*Traceback: something broke.*stderr: verify: jq: command not found/s,
      );
    });

    test('an unexpected exit status is an error even with JSON', async () => {
      sshd.setVerify(sampleVerifyReport(), 2);
      await expect(
        verifyClaw({
          ...sshd.connectOptions(),
          timeoutMs: 30_000,
          command: sshd.verifyCommand,
          sudo: sshd.sudo,
        }),
      ).rejects.toThrow(/exited 2; expected exit 0 \(healthy\) or 1/);
      sshd.setVerify(sampleVerifyReport(), 1);
      await expect(
        verifyClaw({
          ...sshd.connectOptions(),
          timeoutMs: 30_000,
          command: sshd.verifyCommand,
          sudo: sshd.sudo,
        }),
      ).rejects.toThrow(/exited 1 but its report says healthy=true/);
    });

    test('a missing verify command says so', async () => {
      await expect(
        verifyClaw({
          ...sshd.connectOptions(),
          timeoutMs: 30_000,
          command: `${sshd.dir}/no-such-verify`,
          sudo: false,
        }),
      ).rejects.toThrow(
        /no-such-verify is missing on 127\.0\.0\.1:\d+ \(exit 127\): is this VM built from a claw image\?/,
      );
    });

    test('runVerify over an existing session runs verify as root with sudo -n', async () => {
      const s = await connectSsh(sshd.connectOptions());
      try {
        const before = sshd.verifyCalls().length;
        const r1 = await runVerify(s, { command: sshd.verifyCommand, sudo: sshd.sudo, timeoutMs: 10_000 });
        sshd.setVerify(sampleVerifyReport({ fail: ['disk.mounted'] }));
        const r2 = await runVerify(s, { command: sshd.verifyCommand, sudo: sshd.sudo, timeoutMs: 10_000 });
        expect([r1.healthy, r2.healthy]).toEqual([true, false]);
        expect(sshd.verifyCalls().slice(before)).toEqual(
          sshd.sudo ? [0, 0] : [process.getuid!(), process.getuid!()],
        );
      } finally {
        s.close();
      }
    });
  });

  describe('authentication and host keys', () => {
    test('pinned host key (as ssh-keygen prints it) is accepted and reported', async () => {
      const s = await connectSsh(sshd.connectOptions({ hostKeySha256: sshd.hostKeyFingerprint }));
      expect(s.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      s.close();
      const s2 = await connectSsh(
        sshd.connectOptions({
          hostKeySha256: ['SHA256:' + 'A'.repeat(43), sshd.hostKeyFingerprint.slice(7)],
        }),
      );
      s2.close();
    });

    test('a wrong pinned host key fails at once with a clear error, even with retries allowed', async () => {
      const other = generateEd25519KeyPair().fingerprint;
      const reporter = memoryReporter();
      const err = await rejection(
        connectSsh(sshd.connectOptions({ hostKeySha256: other, retryUntilMs: 60_000, reporter })),
      );
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect((err as SshError).code).toBe('HOST_KEY_MISMATCH');
      expect(err.message).toContain(`expected ${other}, the server presented ${sshd.hostKeyFingerprint}`);
      expect(reporter.lines).toEqual([]); // not retried
    });

    test('a key that is not authorized is rejected (not retried), and the key is not in the message', async () => {
      const wrong = generateEd25519KeyPair();
      const err = await rejection(
        connectSsh(sshd.connectOptions({ privateKey: wrong.privateKey, retryUntilMs: 60_000 })),
      );
      expect(err).toBeInstanceOf(SshError);
      expect((err as SshError).code).toBe('AUTH_FAILED');
      expect(err.message).toMatch(/authentication as "\w+" on 127\.0\.0\.1:\d+ failed \(tried: publickey\)/);
      for (const line of wrong.privateKey.split('\n').slice(1, -2))
        expect(err.message + JSON.stringify(err)).not.toContain(line);
    });

    test('invalid options are all reported before connecting', async () => {
      const err = await rejection(
        connectSsh({
          host: '',
          port: 70000,
          username: 'bad user',
          privateKey: 'not a key',
          hostKeySha256: 'MD5:xx',
        }),
      );
      expect((err as SshError).code).toBe('INVALID_OPTIONS');
      expect(err.message).toMatch(/host: required/);
      expect(err.message).toMatch(/port: 70000 is not a TCP port/);
      expect(err.message).toMatch(/username: required/);
      expect(err.message).toMatch(/privateKey: not a usable private key/);
      expect(err.message).toMatch(/hostKeySha256: "MD5:xx" is not a SHA256 fingerprint/);
      expect(err.message).not.toContain('not a key');
      await expect(connectSsh({ host: 'h', username: 'u' })).rejects.toThrow(
        /privateKey or password: at least one is required/,
      );
    });

    const rootOnly = process.getuid?.() === 0 ? test : test.skip;
    rootOnly('password authentication works; a wrong password is rejected and never shown', async () => {
      const s = await connectSsh({
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        password: PASSWORD,
      });
      expect((await s.exec('id -un')).stdout.trim()).toBe(sshd.username);
      s.close();
      const err = await rejection(
        connectSsh({
          host: sshd.host,
          port: sshd.port,
          username: sshd.username,
          password: 'Wrong-Pw-123456',
        }),
      );
      expect((err as SshError).code).toBe('AUTH_FAILED');
      expect(err.message).toContain('(tried: password)');
      expect(err.message).not.toContain('Wrong-Pw-123456');
    });
  });

  describe('exec and upload over one session', () => {
    let s: SshSession;
    beforeAll(async () => {
      s = await connectSsh(sshd.connectOptions());
    });
    afterAll(() => s?.close());

    test('exit status, stdout, stderr, stdin, env', async () => {
      expect(await s.exec('echo out; echo err >&2; exit 7')).toEqual({
        code: 7,
        signal: null,
        stdout: 'out\n',
        stderr: 'err\n',
      });
      expect((await s.exec('wc -c', { stdin: 'x'.repeat(100_000) })).stdout.trim()).toBe('100000');
      expect((await s.exec('cat')).stdout).toBe(''); // no stdin -> EOF at once
      const env = await s.exec('printf "%s|%s" "$A" "$B"', { env: { A: "it's $HOME `x`", B: 'two words' } });
      expect(env.stdout).toBe("it's $HOME `x`|two words");
      await expect(s.exec('true', { env: { 'BAD-NAME': 'x' } })).rejects.toThrow(/not a valid variable name/);
    });

    test('a signal death is reported as such', async () => {
      const r = await s.exec('kill -TERM $$');
      expect(r.code).toBeNull();
      expect(r.signal).toBe('SIGTERM');
    });

    test('a command timeout rejects clearly and leaves the session usable', async () => {
      const err = await rejection(s.exec('sleep 30', { timeoutMs: 300 }));
      expect((err as SshError).code).toBe('COMMAND_TIMEOUT');
      expect(err.message).toMatch(/`sleep 30` on 127\.0\.0\.1:\d+ did not finish within 0\.3 s/);
      expect((await s.exec('echo still-here')).stdout).toBe('still-here\n');
    });

    test('an aborted command rejects', async () => {
      const ac = new AbortController();
      const p = s.exec('sleep 30', { signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      await expect(p).rejects.toThrow(/was cancelled/);
    });

    test('upload writes atomically with the mode; with sudo as root', async () => {
      const path = `${sshd.dir}/upload-${Date.now()}.txt`;
      await s.exec(`mkdir -p ${sshd.dir}/up && chmod 777 ${sshd.dir}/up`); // may fail when not root: dir owned by us then
      const target = sshd.sudo ? path : `${sshd.dir}/up/u.txt`;
      await s.upload(target, 'line1\nsecret=x\n', 0o600, { sudo: sshd.sudo });
      const r = await s.exec(
        `${sshd.sudo ? 'sudo -n ' : ''}stat -c '%a %U' ${target}; ${sshd.sudo ? 'sudo -n ' : ''}cat ${target}`,
      );
      expect(r.stdout).toBe(`600 ${sshd.sudo ? 'root' : sshd.username}\nline1\nsecret=x\n`);
      await expect(s.upload('relative/path', 'x', 0o644)).rejects.toThrow(/must be an absolute path/);
      await expect(s.upload('/tmp/x', 'x', '999')).rejects.toThrow(/not an octal file mode/);
      await expect(s.upload('/proc/definitely/not/here', 'x', 0o644)).rejects.toThrow(
        /upload of \/proc\/definitely\/not\/here .* failed/,
      );
    });

    test('many commands over one connection', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.exec(`echo ${i}`)));
      expect(results.map((r) => r.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    });
  });

  describe('connection failures', () => {
    test('retry until reachable: the client starts before sshd does', async () => {
      const late = await prepareSshd();
      try {
        const reporter = memoryReporter();
        const connecting = connectSsh(
          late.connectOptions({ retryUntilMs: 30_000, readyTimeoutMs: 5000, reporter }),
        );
        await until(
          'two refused attempts',
          () => reporter.lines.filter((l) => /ECONNREFUSED/.test(l)).length >= 2,
        );
        await late.start();
        const s = await connecting;
        expect((await s.exec('echo up')).stdout).toBe('up\n');
        s.close();
        expect(reporter.lines.at(-1)).toMatch(/reachable after \d+ attempts/);
        expect(reporter.lines.join('\n')).not.toContain(late.privateKey.split('\n')[1]!);
      } finally {
        await late.stop();
      }
    });

    test('retry through banner errors: a port that accepts and hangs up, then a real sshd', async () => {
      const late = await prepareSshd();
      const sockets = new Set<Socket>();
      const liar = createServer((sock) => {
        sockets.add(sock);
        sock.destroy();
      });
      await new Promise<void>((r) => liar.listen(late.port, '127.0.0.1', () => r()));
      try {
        const reporter = memoryReporter();
        const connecting = connectSsh(
          late.connectOptions({ retryUntilMs: 30_000, readyTimeoutMs: 5000, reporter }),
        );
        await until('two hang-ups', () => reporter.lines.filter((l) => /not ready/.test(l)).length >= 2);
        await new Promise<void>((r) => liar.close(() => r()));
        await late.start();
        const s = await connecting;
        expect(s.hostKeyFingerprint).toBe(late.hostKeyFingerprint);
        s.close();
        expect(
          reporter.lines.some((l) => /Connection lost before handshake|ECONNRESET|closed before/i.test(l)),
        ).toBe(true);
      } finally {
        liar.close();
        await late.stop();
      }
    });

    test('a port that accepts but never sends a banner: handshake timeouts are retried, then reported', async () => {
      const silent = createServer(() => undefined);
      const held: Socket[] = [];
      silent.on('connection', (c) => held.push(c));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      const port = (silent.address() as { port: number }).port;
      try {
        const reporter = memoryReporter();
        const err = await rejection(
          connectSsh({ ...sshd.connectOptions(), port, readyTimeoutMs: 400, retryUntilMs: 2500, reporter }),
        );
        expect((err as SshError).code).toBe('UNREACHABLE');
        expect(err.message).toMatch(/after \d+ attempts .*Timed out while waiting for handshake/);
        expect(
          reporter.lines.filter((l) => /Timed out while waiting for handshake/.test(l)).length,
        ).toBeGreaterThan(0);
      } finally {
        for (const c of held) c.destroy();
        silent.close();
      }
    });

    test('retryAuthFailures: a key authorized late (admin user still provisioning) gets in', async () => {
      const late = generateEd25519KeyPair();
      const reporter = memoryReporter();
      const connecting = connectSsh(
        sshd.connectOptions({
          privateKey: late.privateKey,
          retryUntilMs: 30_000,
          retryAuthFailures: true,
          reporter,
        }),
      );
      connecting.catch(() => undefined); // asserted below; no unhandled rejection if `until` throws
      await until('an auth failure', () => reporter.lines.some((l) => /not ready/.test(l)));
      sshd.authorizeKey(late.publicKey);
      const s = await connecting;
      expect((await s.exec('echo in')).stdout).toBe('in\n');
      s.close();
    });

    test('unreachable until the deadline: a clear error naming the attempts', async () => {
      const never = await prepareSshd();
      try {
        const err = await rejection(connectSsh(never.connectOptions({ retryUntilMs: Date.now() + 1500 })));
        expect((err as SshError).code).toBe('UNREACHABLE');
        expect(err.message).toMatch(
          /cannot open an SSH connection to 127\.0\.0\.1:\d+ after \d+ attempts over \d+ s \(last error: connect ECONNREFUSED/,
        );
        expect((err as SshError).details.attempts).toBeGreaterThan(1);
      } finally {
        await never.stop();
      }
    });

    test('an abort signal stops the retry loop', async () => {
      const never = await prepareSshd();
      try {
        const ac = new AbortController();
        const p = connectSsh(never.connectOptions({ retryUntilMs: 60_000, signal: ac.signal }));
        setTimeout(() => ac.abort(), 600);
        await expect(p).rejects.toThrow(/SSH connect was cancelled/);
      } finally {
        await never.stop();
      }
    });

    test('the connection dropping mid-command (sshd session killed) surfaces a clear error', async () => {
      const s = await connectSsh(sshd.connectOptions());
      const running = s.exec('echo started; sleep 60');
      const settled = running.then(
        () => null,
        (e: Error) => e,
      );
      await until('the remote sleep', () => sshd.sessionPids().some((p) => /^sleep 60/.test(cmdlineOf(p))));
      expect(sshd.killSessions()).toBeGreaterThan(0);
      const err = await settled;
      expect(err).toBeInstanceOf(SshError);
      expect((err as SshError).code).toBe('CONNECTION_LOST');
      expect(err!.message).toMatch(
        /SSH connection to 127\.0\.0\.1:\d+ was lost while running `echo started; sleep 60` \(its exit status is unknown\)/,
      );
      expect(s.closed).toBe(true);
      await expect(s.exec('true')).rejects.toThrow(/was lost|is closed/);
    });

    test('verify while the connection drops: the error is clear, not a parse error', async () => {
      sshd.setVerify(sampleVerifyReport(), 0, { sleepSeconds: 30 });
      const s = await connectSsh(sshd.connectOptions());
      const p = runVerify(s, { command: sshd.verifyCommand, sudo: sshd.sudo }).then(
        () => null,
        (e: Error) => e,
      );
      await until('verify running', () => sshd.sessionPids().some((pid) => /^sleep 30/.test(cmdlineOf(pid))));
      sshd.killSessions();
      const err = await p;
      expect((err as SshError).code).toBe('CONNECTION_LOST');
      expect(err!.message).toContain(`while running \`${sshd.sudo ? 'sudo -n ' : ''}${sshd.verifyCommand}\``);
    });
  });

  describe('bench helper', () => {
    test('measureVerifyConnections returns the three timings (no timing assertions)', async () => {
      const m = await measureVerifyConnections({ target: sshd.connectOptions(), checks: 5 });
      expect(m.checks).toBe(5);
      for (const v of [
        m.oneConnectionOneCommandMs,
        m.oneConnectionPerCheckCommandMs,
        m.connectionPerCheckMs,
        m.ratio,
        m.ratioPerCommand,
      ]) {
        expect(Number.isFinite(v) && v > 0).toBe(true);
      }
      await expect(measureVerifyConnections({ target: sshd.connectOptions(), checks: 0 })).rejects.toThrow(
        /positive integer/,
      );
      await expect(
        measureVerifyConnections({ target: sshd.connectOptions(), checks: 2, command: 'false' }),
      ).rejects.toThrow(/exited 1/);
    });
  });
});
