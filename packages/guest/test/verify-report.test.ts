import {
  parseVerifyReport,
  renderVerifyMarkdown,
  summarizeVerify,
  verifyAnnotations,
  VerifyReportError,
} from '@openclawps/guest';
import { sampleVerifyReport } from '../../../test/helpers/sshd';

const json = (o: unknown): string => JSON.stringify(o);

function problemsOf(stdout: string): string[] {
  try {
    parseVerifyReport(stdout);
  } catch (e) {
    expect(e).toBeInstanceOf(VerifyReportError);
    return (e as VerifyReportError).problems;
  }
  throw new Error('expected parseVerifyReport to throw');
}

describe('parseVerifyReport', () => {
  test('a healthy report parses; extra fields are kept; missing detail becomes ""', () => {
    const doc = sampleVerifyReport();
    const withExtra = { ...doc, image: { version: '1.2.3' } };
    delete (withExtra.checks[0] as { detail?: string }).detail;
    const r = parseVerifyReport(`\n${json(withExtra)}\n\n`);
    expect(r.healthy).toBe(true);
    expect(r.claw).toBe('alice');
    expect(r.checks).toHaveLength(doc.checks.length);
    expect(r.checks[0]!.detail).toBe('');
    expect(r.image).toEqual({ version: '1.2.3' });
  });

  test('an unhealthy report parses', () => {
    const r = parseVerifyReport(json(sampleVerifyReport({ fail: ['disk.mounted'] })));
    expect(r.healthy).toBe(false);
  });

  test.each([
    ['', /printed nothing/],
    ['   \n', /printed nothing/],
    ['Welcome to Ubuntu\n{"version":1}', /not JSON.*Welcome to Ubuntu/],
    ['sudo: a password is required', /not JSON/],
    ['[1,2,3]', /not an object/],
    ['"healthy"', /not an object/],
    ['{"version":1,"claw":"a"', /not JSON/],
  ])('garbage %j is refused with a clear error', (stdout, msg) => {
    expect(() => parseVerifyReport(stdout)).toThrow(msg);
  });

  test('every contract violation is listed at once', () => {
    const bad = {
      version: 2,
      claw: 7,
      healthy: 'yes',
      checks: [
        { id: 'a.b', group: 'a', title: 't', status: 'ok', detail: 'x', required: true },
        { id: 'a.b', group: 'a', title: 't', status: 'pass', detail: 'x', required: true },
        { group: '', title: 1, status: 'pass', detail: 3, required: 'no' },
        7,
      ],
      summary: { pass: 1, fail: 0, warn: 0, skip: 0 },
    };
    const problems = problemsOf(json(bad));
    expect(problems).toEqual(
      expect.arrayContaining([
        'version: expected 1, got 2',
        'claw: expected the claw name (a string), got 7',
        'healthy: expected true or false, got "yes"',
        'checks[0] (a.b).status: expected one of pass|fail|warn|skip, got "ok"',
        'checks[1] (a.b).id: duplicate id',
        'checks[2].id: expected a non-empty string',
        'checks[2].group: expected a non-empty string',
        'checks[2].title: expected a string',
        'checks[2].detail: expected a string',
        'checks[2].required: expected true or false, got "no"',
        'checks[3]: expected an object',
      ]),
    );
    expect(() => parseVerifyReport(json(bad))).toThrow(/does not follow the report contract:\n {2}- version/);
  });

  test('summary counts must match the checks', () => {
    const doc = sampleVerifyReport({ warn: ['disk.free'] });
    doc.summary.warn = 0;
    doc.summary.pass += 1;
    expect(problemsOf(json(doc))).toEqual([
      'summary.pass: says 14 but the checks have 13',
      'summary.warn: says 0 but the checks have 1',
    ]);
  });

  test('healthy must agree with the required checks', () => {
    const doc = sampleVerifyReport({ fail: ['gateway.readyz'] });
    doc.healthy = true;
    expect(problemsOf(json(doc))[0]).toMatch(/healthy: says true but a required check fails/);
    const ok = sampleVerifyReport({ fail: ['disk.free'] }); // optional check failing: still healthy
    expect(parseVerifyReport(json(ok)).healthy).toBe(true);
    ok.healthy = false;
    expect(problemsOf(json(ok))[0]).toMatch(/healthy: says false but no required check fails/);
  });

  test("the guest's jq-missing fallback (claw unknown) parses as unhealthy", () => {
    const fallback =
      '{"version":1,"claw":"","healthy":false,"checks":[{"id":"binaries.jq","group":"binaries","title":"jq is installed","status":"fail","detail":"jq is missing; verify needs it","required":true}],"summary":{"pass":0,"fail":1,"warn":0,"skip":0}}\n';
    const r = parseVerifyReport(fallback);
    expect(summarizeVerify(r).failedChecks).toEqual(['binaries.jq']);
    expect(renderVerifyMarkdown(r)).toMatch(/^### Verify \(claw name unknown\): UNHEALTHY/);
    expect(verifyAnnotations(r)[0]!.title).toBe('verify (unknown claw): binaries failed (1 of 1 checks)');
  });

  test('an empty check list and a missing summary are refused', () => {
    expect(problemsOf(json({ version: 1, claw: 'a', healthy: true, checks: [] }))).toEqual([
      'checks: empty (verify ran no checks)',
      'summary: expected {"pass":n,"fail":n,"warn":n,"skip":n}',
    ]);
  });
});

describe('summarizeVerify', () => {
  test('groups in report order, worst status per group, failed checks (required first)', () => {
    const r = parseVerifyReport(
      json(
        sampleVerifyReport({
          fail: ['disk.free', 'gateway.readyz', 'disk.mounted'],
          warn: ['services.failed'],
          skip: ['vnc.exposure'],
        }),
      ),
    );
    const s = summarizeVerify(r);
    expect(s.healthy).toBe(false);
    expect(s.failedRequired).toEqual(['disk.mounted', 'gateway.readyz']);
    expect(s.failedChecks).toEqual(['disk.mounted', 'gateway.readyz', 'disk.free']);
    expect(s.warnings).toEqual(['services.failed']);
    expect(s.groups.map((g) => g.group)).toEqual([
      'disk',
      'links',
      'config',
      'secrets',
      'services',
      'gateway',
      'vnc',
      'migrations',
      'boot',
    ]);
    const byName = Object.fromEntries(s.groups.map((g) => [g.group, g]));
    expect(byName.disk).toMatchObject({
      status: 'fail',
      requiredFailed: true,
      counts: { pass: 2, fail: 2, warn: 0, skip: 0 },
    });
    expect(byName.services).toMatchObject({ status: 'warn', requiredFailed: false });
    expect(byName.vnc).toMatchObject({ status: 'skip' });
    expect(byName.links).toMatchObject({ status: 'pass' });
    expect(s.counts).toEqual({ pass: 9, fail: 3, warn: 1, skip: 1 });
  });

  test('healthy report: nothing failed', () => {
    const s = summarizeVerify(parseVerifyReport(json(sampleVerifyReport())));
    expect(s).toMatchObject({ healthy: true, failedChecks: [], failedRequired: [] });
  });
});

describe('renderVerifyMarkdown', () => {
  test('verdict, group table and check rows; markdown-breaking text escaped; secrets masked', () => {
    const doc = sampleVerifyReport({ fail: ['secrets.env'] });
    const c = doc.checks.find((x) => x.id === 'secrets.env')!;
    c.detail = 'token sk-ant-SECRET123 | found\nin <b>file</b> `x`';
    const md = renderVerifyMarkdown(parseVerifyReport(json(doc)), { secrets: ['sk-ant-SECRET123'] });
    expect(md).toMatch(/^### Verify `alice`: UNHEALTHY\n/);
    expect(md).toContain('13 passed, 1 failed, 0 warnings, 0 skipped.');
    expect(md).toContain('Required checks failing: `secrets.env`.');
    expect(md).toContain('| secrets | FAIL | 0 | 1 | 0 | 0 |');
    expect(md).toContain('| disk | PASS | 4 | 0 | 0 | 0 |');
    expect(md).toContain(
      "| secrets | .env present with mode 0600 (`secrets.env`) | FAIL | yes | token *** \\| found in &lt;b&gt;file&lt;/b&gt; 'x' |",
    );
    expect(md).not.toContain('SECRET123');
    // every table row has the same number of unescaped pipes as its header
    for (const line of md
      .split('\n')
      .filter((l) => l.startsWith('| Group | Check') || /^\| \w+ \| .*\(`/.test(l))) {
      expect(line.replace(/\\\|/g, '').split('|').length).toBe(7);
    }
  });

  test('healthy', () => {
    expect(
      renderVerifyMarkdown(parseVerifyReport(json(sampleVerifyReport({ claw: 'bob' }))), { headingLevel: 2 }),
    ).toMatch(/^## Verify `bob`: HEALTHY/);
  });
});

describe('verifyAnnotations', () => {
  test('one per group with a failure; error for required, warning for optional-only', () => {
    const r = parseVerifyReport(
      json(sampleVerifyReport({ fail: ['disk.mounted', 'disk.fstab', 'vnc.exposure'] })),
    );
    const a = verifyAnnotations(r);
    expect(a).toEqual([
      {
        level: 'error',
        title: 'verify alice: disk failed (2 of 4 checks)',
        message:
          'disk.mounted: Data disk mounted at /mnt/claw-data - disk.mounted is broken\ndisk.fstab: fstab entry by label with nofail - disk.fstab is broken',
      },
      {
        level: 'warning',
        title: 'verify alice: vnc failed (1 of 1 checks)',
        message: 'vnc.exposure (optional): VNC exposure matches intent - vnc.exposure is broken',
      },
    ]);
    expect(verifyAnnotations(parseVerifyReport(json(sampleVerifyReport())))).toEqual([]);
  });
});
